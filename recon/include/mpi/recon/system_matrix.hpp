// The system matrix of f-space reconstruction (REFERENCE 3.3): S c = u, one row per (receive channel,
// frequency bin of a frame's rFFT), one column per voxel of a grid. Column j is the spectrum of the frame's
// receive voltage produced by a delta sample of unit iron mass at voxel j.
//
// Two sources: the forward model (ParticleSignalModel with one delta source per voxel, driven along the
// frame's DriveTrajectory) and a calibration scan (a robot moves a delta sample over the grid; one measured
// spectrum per position, background subtracted).
//
// Row layout of a whole frame ("frame rows"): row = channel * bins + bin, bins = frame_samples / 2 + 1, bin
// k at k * sample_rate / frame_samples Hz. Spectra follow FrameSpectrum (frame_spectrum.hpp): a matrix of
// bins x channels, scaled to complex amplitudes (2 X_k / N of the plain DFT, X_k / N at DC and Nyquist). A SystemMatrix may hold a subset of the frame rows; it keeps each
// row's frame-row index, channel, bin and frequency.
#pragma once

#include "mpi/recon/lissajous.hpp"
#include "mpi/recon/tracer_model.hpp"

#include <Eigen/Core>

#include <array>
#include <complex>
#include <cstddef>
#include <span>
#include <vector>

namespace mpi::recon {

// A regular voxel grid: shape[a] voxels along axis a over fov_m[a], centred on centre_m; voxel centres at
// centre - fov/2 + (i + 1/2) * fov/shape. Index = ix + nx * (iy + ny * iz) (x fastest).
struct VoxelGrid {
  std::array<std::size_t, 3> shape{1, 1, 1};
  Eigen::Vector3d fov_m = Eigen::Vector3d::Zero();
  Eigen::Vector3d centre_m = Eigen::Vector3d::Zero();

  [[nodiscard]] std::size_t voxels() const noexcept { return shape[0] * shape[1] * shape[2]; }
  [[nodiscard]] Eigen::Vector3d pitch_m() const noexcept;
  [[nodiscard]] std::size_t index(std::size_t ix, std::size_t iy, std::size_t iz) const noexcept {
    return ix + shape[0] * (iy + shape[1] * iz);
  }
  // Centre of voxel `index` (index < voxels()).
  [[nodiscard]] Eigen::Vector3d position_m(std::size_t index) const noexcept;
};

// Throws std::invalid_argument naming `where` for a zero dimension, a non-finite or non-positive extent.
void validate(const VoxelGrid& grid, const char* where);

// A receive coil: sensitivity p (T/A) along the unit vector `direction`, followed by a gain (V/V).
// Its voltage is u = -gain * p * direction . d(mu)/dt (REFERENCE 2).
struct ReceiveChannel {
  Eigen::Vector3d direction = Eigen::Vector3d::UnitX();
  double sensitivity_t_per_a = 1.0;
  double gain = 1.0;
};

struct SystemMatrix {
  Eigen::MatrixXcd matrix;                 // rows() x voxels(), complex amplitude (V) per kg of iron
  std::vector<std::size_t> frame_rows;     // per row: index among the frame rows
  std::vector<std::size_t> channels;       // per row: receive channel
  std::vector<std::size_t> bins;           // per row: rFFT bin
  std::vector<double> frequencies_hz;      // per row
  VoxelGrid grid;
  std::size_t frame_samples = 0;
  std::size_t channel_count = 0;
  double sample_rate_hz = 0.0;

  [[nodiscard]] std::size_t rows() const noexcept { return static_cast<std::size_t>(matrix.rows()); }
  [[nodiscard]] std::size_t voxels() const noexcept { return static_cast<std::size_t>(matrix.cols()); }
  [[nodiscard]] std::size_t frame_bins() const noexcept { return frame_samples / 2 + 1; }
  // The rows `rows` (indices into this matrix, in the order given). Throws for an index out of range.
  [[nodiscard]] SystemMatrix subset(std::span<const std::size_t> rows) const;
  // u (rows()) from a frame's spectrum: spectrum(bin, channel), frame_bins() x channel_count. Throws on a
  // size mismatch; `out` is resized only when its size differs.
  void gather(const Eigen::MatrixXcd& spectrum, Eigen::VectorXcd& out) const;
};

// Model-based system matrix: everything the forward model needs for one frame.
struct ModelSystemMatrixSpec {
  TracerModel tracer;
  Eigen::Matrix3d gradient_t_per_m = Eigen::Matrix3d::Zero();
  DriveTrajectory drive{{}};
  double sample_rate_hz = 2.5e6;
  std::size_t frame_samples = 0;           // one whole period of the trajectory
  double frame_start_s = 0.0;              // time of sample 0
  std::vector<ReceiveChannel> channels;
  VoxelGrid grid;
  double voxel_iron_kg = 1.0;              // the delta sample's iron; S is returned per kg
  bool relaxation = true;                  // apply each tracer mode's Debye tau (periodic steady state)
  unsigned threads = 2;                    // columns are split over this many threads
};

// The frame rows' channel and frequency (all channels, all bins), for row selection before a build.
struct FrameRows {
  std::vector<std::size_t> channels;
  std::vector<std::size_t> bins;
  std::vector<double> frequencies_hz;
};
FrameRows frame_rows(std::size_t channel_count, std::size_t frame_samples, double sample_rate_hz);

// Builds S from the forward model. The receive voltage is sampled as the mean of d(mu)/dt over each sample
// interval centred on t_n = frame_start + n / sample_rate, i.e. u_n = -g p e . (mu(t_n + h/2) - mu(t_n - h/2)) / h
// (an integrating ADC; exact for the moment's samples), with the moment in its periodic steady state.
// `rows`: frame rows to keep (ascending or not; empty keeps all). Throws std::invalid_argument for a bad spec
// (no channels, no drive component, a frame of fewer than 2 samples, a bad grid, tracer or row index).
SystemMatrix model_system_matrix(const ModelSystemMatrixSpec& spec, std::span<const std::size_t> rows = {});

// The mean over voxels of |S_ij|^2 of every frame row, from every `voxel_stride`-th voxel only (a cheap
// survey for row selection before a build that keeps only the selected rows).
Eigen::VectorXd model_row_energies(const ModelSystemMatrixSpec& spec, std::size_t voxel_stride = 1);

// A system matrix from a calibration scan: the robot's delta sample visits each voxel; each visit gives one
// frame spectrum (bin x channel, as FrameSpectrum gives it). Backgrounds (frames without sample) are averaged; their spread gives a
// per-row noise estimate for SNR-based row selection. Column j = (spectrum_j - background_j) / iron.
class CalibrationSystemMatrixBuilder {
 public:
  // `rows`: frame rows to keep (empty keeps all). Throws for a bad grid, zero channels, fewer than 2 frame
  // samples, a non-positive rate or a row index out of range.
  CalibrationSystemMatrixBuilder(const VoxelGrid& grid, std::size_t channel_count, std::size_t frame_samples,
                                 double sample_rate_hz, std::vector<std::size_t> rows = {});

  // One background frame spectrum (frame bins x channel_count); the mean of all added ones is subtracted.
  void add_background(const Eigen::MatrixXcd& spectrum);
  // The spectrum with the sample at `voxel` holding `iron_kg`, minus the mean background so far.
  void add_position(std::size_t voxel, const Eigen::MatrixXcd& spectrum, double iron_kg);
  // The same with an explicit background (e.g. interpolated between background blocks before and after).
  void add_position(std::size_t voxel, const Eigen::MatrixXcd& spectrum, const Eigen::MatrixXcd& background,
                    double iron_kg);

  [[nodiscard]] std::size_t background_frames() const noexcept { return background_frames_; }
  // Per kept row: the standard deviation of the background frames' complex value (RMS of |b - mean b|),
  // divided by the iron mass of the last position added (noise in the units of S). Needs 2 backgrounds.
  [[nodiscard]] Eigen::VectorXd row_noise() const;
  [[nodiscard]] bool complete() const noexcept;
  // The matrix; throws std::logic_error while a voxel has no spectrum.
  [[nodiscard]] SystemMatrix finish() const;

 private:
  void check_spectrum(const Eigen::MatrixXcd& spectrum, const char* what) const;

  SystemMatrix s_;
  std::vector<bool> filled_;
  Eigen::VectorXcd background_mean_;
  Eigen::VectorXd background_m2_;  // Welford sum of squared deviations per row
  std::size_t background_frames_ = 0;
  double last_iron_kg_ = 1.0;
};

}  // namespace mpi::recon
