// MPI Data Format (MDF) v2 files (REFERENCE 5): a plain model of a file, a writer that can stream frames
// into a file, a reader for files written by other MPI software, a system-matrix reader and a conformance
// check.
//
// On disk (MDF v2): every field is an HDF5 dataset, little-endian, dimensions slowest first; booleans Int8,
// integers Int64, reals Float64, strings variable-length, complex numbers a compound {r, i}; fields of
// dimension 1 are scalars; index arrays (framePermutation, frequencySelection) are 1-based.
//
// In memory (this header): indices are 0-based; the measurement is held in one canonical layout,
//   frames x periods x channels x samples   (time domain, real)   or
//   frames x periods x channels x K         (frequency domain, complex; K = V/2+1, or the selected count)
// in acquisition order (frame permutation undone, frame axis first), in physical units (the receiver's
// dataConversionFactor applied: a_c r + b_c; for complex data only the scale a_c).
//
// Every error is an MdfError whose message reads "FILE: /group/field: reason".
#pragma once

#include "mpi/recon/system_matrix.hpp"

#include <Eigen/Core>

#include <complex>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon::mdf {

class MdfError : public std::runtime_error {
 public:
  MdfError(std::string file, std::string field, const std::string& reason);
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] const std::string& field() const noexcept { return field_; }

 private:
  std::string file_;
  std::string field_;
};

// A dense array in C order (last index fastest), as stored in the file.
template <class T>
struct Array {
  std::vector<std::size_t> shape;
  std::vector<T> values;

  Array() = default;
  Array(std::vector<std::size_t> s, std::vector<T> v) : shape(std::move(s)), values(std::move(v)) {}
  explicit Array(std::vector<std::size_t> s) : shape(std::move(s)), values(element_count(shape)) {}
  static std::size_t element_count(const std::vector<std::size_t>& s) {
    std::size_t n = 1;
    for (auto d : s) n *= d;
    return n;
  }
  [[nodiscard]] bool empty() const noexcept { return shape.empty(); }
  bool operator==(const Array&) const = default;
};
using ArrayD = Array<double>;
using ArrayI = Array<std::int64_t>;
using ArrayC = Array<std::complex<double>>;

struct Study {
  std::string name;
  std::int64_t number = 0;
  std::string uuid;
  std::string description;
  std::string time;  // optional in the file ("" = absent)
  bool operator==(const Study&) const = default;
};

struct Experiment {
  std::string name;
  std::int64_t number = 0;
  std::string uuid;
  std::string description;
  std::string subject;
  bool is_simulation = false;
  bool operator==(const Experiment&) const = default;
};

struct Scanner {
  std::string facility;
  std::string manufacturer;
  std::string name;
  std::string operator_name;  // /scanner/operator
  std::string topology;       // FFP, FFL, MPS
  std::optional<double> bore_size_m;
  bool operator==(const Scanner&) const = default;
};

struct TracerMaterial {
  std::string name;
  std::string batch;
  std::string vendor;
  double volume_l = 0.0;
  double concentration_mol_per_l = 0.0;  // of the solute (iron: mol(Fe)/L)
  std::string solute = "Fe";
  std::string injection_time;  // optional ("" = absent for every material)
  bool operator==(const TracerMaterial&) const = default;
};

struct Drivefield {
  double base_frequency_hz = 0.0;
  std::int64_t num_channels = 0;  // D
  double cycle_s = 0.0;           // lcm(divider) / baseFrequency
  ArrayI divider;                 // D x F
  Array<std::string> waveform;    // D x F: sine, triangle, custom...
  ArrayD phase_rad;               // J x D x F
  ArrayD strength;                // J x D x F, T/mu0
  bool operator==(const Drivefield&) const = default;
};

struct Receiver {
  double bandwidth_hz = 0.0;  // fs / 2
  std::int64_t num_channels = 0;         // C
  std::int64_t num_sampling_points = 0;  // V
  std::string unit = "V";
  ArrayD data_conversion_factor;  // C x 2 (a_c, b_c); empty = absent
  ArrayC transfer_function;       // C x K; empty = absent
  bool operator==(const Receiver&) const = default;
};

struct Acquisition {
  std::int64_t num_averages = 1;
  std::int64_t num_frames = 0;             // N
  std::int64_t num_periods_per_frame = 1;  // J
  std::string start_time;
  ArrayD gradient;      // J x Y x 3 x 3, T/m/mu0; empty = absent
  ArrayD offset_field;  // J x Y x 3, T/mu0; empty = absent
  Drivefield drivefield;
  Receiver receiver;
  // Custom (_-prefixed) fields, empty = absent: per frame and drive channel, complex amplitude of the
  // fundamental (T/mu0), N x D.
  ArrayC applied_field;   // /acquisition/_appliedField
  ArrayC measured_field;  // /acquisition/_measuredField
  bool operator==(const Acquisition&) const = default;
};

// The element type of /measurement/data (the writer writes int16, int32, float32 or float64).
enum class StorageType { int8, int16, int32, int64, float32, float64 };

struct Measurement {
  bool is_fourier_transformed = false;
  ArrayD data;      // N x J x C x V (time domain), physical units
  ArrayC data_fd;   // N x J x C x K (frequency domain)
  std::vector<bool> is_background_frame;      // N, acquisition order
  std::vector<std::size_t> frame_permutation;  // N, 0-based; stored frame s is acquisition frame perm[s]
  std::vector<std::size_t> frequency_selection;  // K, 0-based bins of the V/2+1 spectrum
  bool is_frame_permutation = false;
  bool is_frequency_selection = false;
  bool is_fast_frame_axis = false;
  bool is_background_corrected = false;
  bool is_transfer_function_corrected = false;
  bool is_spectral_leakage_corrected = false;
  bool is_sparsity_transformed = false;
  StorageType storage = StorageType::float32;  // reader: what the file held; writer: what to write
  bool operator==(const Measurement&) const = default;
};

struct Calibration {
  std::string method;  // robot, hybrid, simulation
  std::vector<std::int64_t> size;  // 3: x, y, z; product = foreground frames
  std::vector<double> field_of_view_m;         // 3
  std::vector<double> field_of_view_center_m;  // 3
  ArrayD snr;        // J x C x K
  std::string order = "xyz";
  ArrayD positions;  // O x 3; empty = absent
  std::vector<double> delta_sample_size_m;  // 3; empty = absent
  bool operator==(const Calibration&) const = default;
};

struct Reconstruction {
  ArrayD data;  // Q x P x S
  std::vector<std::int64_t> size;
  std::vector<double> field_of_view_m;
  std::vector<double> field_of_view_center_m;
  std::string order = "xyz";
  bool operator==(const Reconstruction&) const = default;
};

// /_faults: one row per event.
struct FaultEvent {
  std::int64_t sample_index = 0;
  std::string kind;
  std::int64_t channel = -1;  // -1: not tied to a channel
  std::string message;
  bool operator==(const FaultEvent&) const = default;
};

struct File {
  std::string version = "2.1.0";
  std::string uuid;
  std::string time;
  Study study;
  Experiment experiment;
  Scanner scanner;
  std::vector<TracerMaterial> tracer;  // empty = no /tracer (no particles in the scanner)
  Acquisition acquisition;
  std::optional<Measurement> measurement;
  std::optional<Calibration> calibration;
  std::optional<Reconstruction> reconstruction;
  std::vector<FaultEvent> faults;  // /_faults
  ArrayD temperatures;             // /_temperatures: N x sensors (degC); empty = absent
  bool operator==(const File&) const = default;
};

// A random RFC 4122 version-4 UUID (std::random_device), lower-case 8-4-4-4-12.
std::string make_uuid_v4();
// Current UTC time as yyyy-mm-ddThh:mm:ss.sss.
std::string time_now();
bool is_valid_uuid(const std::string& s);
bool is_valid_time(const std::string& s);  // yyyy-mm-ddThh:mm:ss with 0-3 fractional digits, no zone

// Shape of the measurement on disk and how to write it.
struct MeasurementSpec {
  std::size_t frames = 0;    // N
  std::size_t periods = 1;   // J
  std::size_t channels = 1;  // C
  std::size_t points = 0;    // V (time) or K (frequency)
  bool fourier_transformed = false;
  bool fast_frame_axis = false;  // store J x C x V x N
  StorageType storage = StorageType::float32;  // int16/int32 only for time-domain data
  // Empty or N, 0-based: stored frame s holds acquisition frame perm[s]; write_frames takes stored order.
  std::vector<std::size_t> frame_permutation;
  std::vector<std::size_t> frequency_selection;  // empty or K, 0-based
  bool background_corrected = false;
  bool transfer_function_corrected = false;
  bool spectral_leakage_corrected = false;
};

// Writes one MDF file. create() writes every metadata field of `meta` (the measurement, if present in
// `meta`, is ignored: write it with begin_measurement/write_frames/finish or use write_mdf).
// /measurement/data is CONTIGUOUS and unfiltered, allocated at begin_measurement, so frames can be
// written in any order; acquisition/numFrames is set to spec.frames.
// A writer that is destroyed without finish() closes the file as it is (the frames not written read zero).
class Writer {
 public:
  static Writer create(const std::string& path, const File& meta);
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  ~Writer();

  void begin_measurement(const MeasurementSpec& spec);
  // Frames [first_frame, first_frame + n) in stored order, each J x C x points values. The span's type must
  // match the storage: int16 codes for int16, int32 for int32, float/double for float32/float64 (either),
  // complex<float>/complex<double> for frequency-domain data.
  void write_frames(std::size_t first_frame, std::span<const std::int16_t> values);
  void write_frames(std::size_t first_frame, std::span<const std::int32_t> values);
  void write_frames(std::size_t first_frame, std::span<const float> values);
  void write_frames(std::size_t first_frame, std::span<const double> values);
  void write_frames(std::size_t first_frame, std::span<const std::complex<float>> values);
  void write_frames(std::size_t first_frame, std::span<const std::complex<double>> values);
  // Marks stored frames as background (default: none).
  void set_background_frames(std::size_t first_frame, const std::vector<bool>& flags);
  // Checks every frame was written and closes the file. Throws MdfError naming the first missing frame.
  void finish();
  [[nodiscard]] const std::string& path() const noexcept;

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes `file` (metadata and measurement in the canonical layout; spec flags from file.measurement:
// storage, fast frame axis, frame permutation and frequency selection applied on the way out).
// An int16/int32 storage needs receiver.data_conversion_factor; values are rounded to codes (r - b) / a.
void write_mdf(const std::string& path, const File& file);

// For a recorder whose frame count is only known at the end: writes `meta` and a measurement of
// `spec.frames` frames, asking `read_frames(first, count, out)` for blocks of stored frames (out holds
// count x J x C x points values of the spec's storage type: int16, int32, float or double; complex as
// interleaved r, i of float/double). Writes to `path + ".part"` and renames on success.
using FrameSource = std::function<void(std::size_t first, std::size_t count, std::span<std::byte> out)>;
void write_measurement_from(const std::string& path, const File& meta, const MeasurementSpec& spec,
                            const FrameSource& read_frames, const std::vector<bool>& background = {});

// Reads a whole MDF v2 file (metadata, measurement in the canonical layout, calibration, reconstruction,
// the custom fields above). Purely descriptive strings (study/experiment description, subject, scanner
// name) read as "" when absent; every other mandatory field missing is an MdfError (check_mdf lists all).
File read_mdf(const std::string& path);

// A calibration file as a system matrix. Rows: row = (period * C + channel) * K + k (frequency fastest);
// columns: foreground frames in stored order (= voxels of calibration/size, x fastest); background frames
// (in stored order) in `background`. Time-domain files are transformed (rFFT, FrameSpectrum's scaling:
// 2 X_k / V, X_k / V at DC and Nyquist).
struct MdfSystemMatrix {
  Eigen::MatrixXcd matrix;      // rows x voxels
  Eigen::MatrixXcd background;  // rows x background frames
  std::vector<std::size_t> frequency_indices;  // K, 0-based bins of the V/2+1 spectrum
  std::vector<std::size_t> row_period, row_channel, row_bin;  // per row
  Eigen::VectorXd snr;          // per row (empty when the file has none)
  VoxelGrid grid;
  std::size_t periods = 1, channels = 1, sampling_points = 0;
  double sample_rate_hz = 0.0;  // 2 * bandwidth
};
MdfSystemMatrix read_system_matrix(const std::string& path);

// Conformance findings for `mpi inspect`.
struct Finding {
  enum class Severity { error, warning };
  Severity severity = Severity::error;
  std::string field;  // /group/field
  std::string message;
};
std::vector<Finding> check_mdf(const std::string& path);

}  // namespace mpi::recon::mdf
