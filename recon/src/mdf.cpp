#include "mpi/recon/mdf.hpp"

#include "mdf_h5.hpp"
#include "mpi/recon/real_fft.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>

namespace mpi::recon::mdf {
namespace {

std::string shape_text(const std::vector<std::size_t>& s) {
  if (s.empty()) return "scalar";
  std::string t;
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? " x " : "") + std::to_string(s[i]);
  return t;
}

template <class T>
Array<T> vector_array(const std::vector<T>& v) {
  return Array<T>({v.size()}, v);
}

hid_t file_type_of(StorageType s) {
  switch (s) {
    case StorageType::int8: return H5T_STD_I8LE;
    case StorageType::int16: return H5T_STD_I16LE;
    case StorageType::int32: return H5T_STD_I32LE;
    case StorageType::int64: return H5T_STD_I64LE;
    case StorageType::float32: return H5T_IEEE_F32LE;
    case StorageType::float64: return H5T_IEEE_F64LE;
  }
  return H5T_IEEE_F64LE;
}

// Every metadata field except /acquisition/numFrames and the measurement.
void write_metadata(h5::Writer& w, const File& f) {
  w.str("/version", f.version.empty() ? "2.1.0" : f.version);
  w.str("/uuid", f.uuid.empty() ? make_uuid_v4() : f.uuid);
  w.str("/time", f.time.empty() ? time_now() : f.time);

  w.str("/study/name", f.study.name);
  w.i64("/study/number", f.study.number);
  w.str("/study/uuid", f.study.uuid.empty() ? make_uuid_v4() : f.study.uuid);
  w.str("/study/description", f.study.description);
  if (!f.study.time.empty()) w.str("/study/time", f.study.time);

  w.str("/experiment/name", f.experiment.name);
  w.i64("/experiment/number", f.experiment.number);
  w.str("/experiment/uuid", f.experiment.uuid.empty() ? make_uuid_v4() : f.experiment.uuid);
  w.str("/experiment/description", f.experiment.description);
  w.str("/experiment/subject", f.experiment.subject);
  w.flag("/experiment/isSimulation", f.experiment.is_simulation);

  w.str("/scanner/facility", f.scanner.facility);
  w.str("/scanner/manufacturer", f.scanner.manufacturer);
  w.str("/scanner/name", f.scanner.name);
  w.str("/scanner/operator", f.scanner.operator_name);
  w.str("/scanner/topology", f.scanner.topology);
  if (f.scanner.bore_size_m) w.f64("/scanner/boreSize", *f.scanner.bore_size_m);

  if (!f.tracer.empty()) {
    const std::size_t a = f.tracer.size();
    Array<std::string> name({a}), batch({a}), vendor({a}), solute({a}), inj({a});
    ArrayD volume({a}), conc({a});
    bool any_injection = false;
    for (std::size_t i = 0; i < a; ++i) {
      const auto& t = f.tracer[i];
      name.values[i] = t.name;
      batch.values[i] = t.batch;
      vendor.values[i] = t.vendor;
      solute.values[i] = t.solute;
      inj.values[i] = t.injection_time;
      volume.values[i] = t.volume_l;
      conc.values[i] = t.concentration_mol_per_l;
      any_injection = any_injection || !t.injection_time.empty();
    }
    w.strs("/tracer/name", name);
    w.strs("/tracer/batch", batch);
    w.strs("/tracer/vendor", vendor);
    w.arr_d("/tracer/volume", volume);
    w.arr_d("/tracer/concentration", conc);
    w.strs("/tracer/solute", solute);
    if (any_injection) w.strs("/tracer/injectionTime", inj);
  }

  const Acquisition& q = f.acquisition;
  const auto J = static_cast<std::size_t>(q.num_periods_per_frame);
  w.i64("/acquisition/numAverages", q.num_averages);
  w.i64("/acquisition/numPeriodsPerFrame", q.num_periods_per_frame);
  w.str("/acquisition/startTime", q.start_time.empty() ? time_now() : q.start_time);
  if (!q.gradient.empty()) {
    if (q.gradient.shape.size() != 4 || q.gradient.shape[0] != J || q.gradient.shape[2] != 3 || q.gradient.shape[3] != 3)
      w.fail("/acquisition/gradient", "shape " + shape_text(q.gradient.shape) + ", expected J x Y x 3 x 3 with J = " +
                                          std::to_string(J));
    w.arr_d("/acquisition/gradient", q.gradient);
  }
  if (!q.offset_field.empty()) {
    if (q.offset_field.shape.size() != 3 || q.offset_field.shape[0] != J || q.offset_field.shape[2] != 3)
      w.fail("/acquisition/offsetField", "shape " + shape_text(q.offset_field.shape) + ", expected J x Y x 3");
    w.arr_d("/acquisition/offsetField", q.offset_field);
  }
  if (!q.applied_field.empty()) w.arr_c("/acquisition/_appliedField", q.applied_field);
  if (!q.measured_field.empty()) w.arr_c("/acquisition/_measuredField", q.measured_field);

  const Drivefield& d = q.drivefield;
  const auto D = static_cast<std::size_t>(d.num_channels);
  if (d.divider.shape.size() != 2 || d.divider.shape[0] != D)
    w.fail("/acquisition/drivefield/divider", "shape " + shape_text(d.divider.shape) + ", expected D x F with D = " +
                                                  std::to_string(D));
  const std::size_t F = d.divider.shape[1];
  if (d.waveform.shape != std::vector<std::size_t>{D, F})
    w.fail("/acquisition/drivefield/waveform", "shape " + shape_text(d.waveform.shape) + ", expected D x F");
  if (d.phase_rad.shape != std::vector<std::size_t>{J, D, F})
    w.fail("/acquisition/drivefield/phase", "shape " + shape_text(d.phase_rad.shape) + ", expected J x D x F");
  if (d.strength.shape != std::vector<std::size_t>{J, D, F})
    w.fail("/acquisition/drivefield/strength", "shape " + shape_text(d.strength.shape) + ", expected J x D x F");
  w.f64("/acquisition/drivefield/baseFrequency", d.base_frequency_hz);
  w.i64("/acquisition/drivefield/numChannels", d.num_channels);
  w.f64("/acquisition/drivefield/cycle", d.cycle_s);
  w.arr_i("/acquisition/drivefield/divider", d.divider);
  w.strs("/acquisition/drivefield/waveform", d.waveform);
  w.arr_d("/acquisition/drivefield/phase", d.phase_rad);
  w.arr_d("/acquisition/drivefield/strength", d.strength);

  const Receiver& r = q.receiver;
  const auto C = static_cast<std::size_t>(r.num_channels);
  w.f64("/acquisition/receiver/bandwidth", r.bandwidth_hz);
  w.i64("/acquisition/receiver/numChannels", r.num_channels);
  w.i64("/acquisition/receiver/numSamplingPoints", r.num_sampling_points);
  w.str("/acquisition/receiver/unit", r.unit);
  if (!r.data_conversion_factor.empty()) {
    if (r.data_conversion_factor.shape != std::vector<std::size_t>{C, 2})
      w.fail("/acquisition/receiver/dataConversionFactor",
             "shape " + shape_text(r.data_conversion_factor.shape) + ", expected C x 2");
    w.arr_d("/acquisition/receiver/dataConversionFactor", r.data_conversion_factor);
  }
  if (!r.transfer_function.empty()) {
    if (r.transfer_function.shape.size() != 2 || r.transfer_function.shape[0] != C)
      w.fail("/acquisition/receiver/transferFunction",
             "shape " + shape_text(r.transfer_function.shape) + ", expected C x K");
    w.arr_c("/acquisition/receiver/transferFunction", r.transfer_function);
  }

  if (f.calibration) {
    const Calibration& c = *f.calibration;
    w.str("/calibration/method", c.method);
    w.arr_i("/calibration/size", vector_array(c.size));
    w.arr_d("/calibration/fieldOfView", vector_array(c.field_of_view_m));
    w.arr_d("/calibration/fieldOfViewCenter", vector_array(c.field_of_view_center_m));
    if (!c.snr.empty()) w.arr_d("/calibration/snr", c.snr);
    w.str("/calibration/order", c.order);
    if (!c.positions.empty()) w.arr_d("/calibration/positions", c.positions);
    if (!c.delta_sample_size_m.empty()) w.arr_d("/calibration/deltaSampleSize", vector_array(c.delta_sample_size_m));
  }
  if (f.reconstruction) {
    const Reconstruction& c = *f.reconstruction;
    w.arr_d("/reconstruction/data", c.data);
    w.arr_i("/reconstruction/size", vector_array(c.size));
    w.arr_d("/reconstruction/fieldOfView", vector_array(c.field_of_view_m));
    w.arr_d("/reconstruction/fieldOfViewCenter", vector_array(c.field_of_view_center_m));
    w.str("/reconstruction/order", c.order);
  }
  if (!f.faults.empty()) {
    const std::size_t e = f.faults.size();
    ArrayI idx({e}), ch({e});
    Array<std::string> kind({e}), msg({e});
    for (std::size_t i = 0; i < e; ++i) {
      idx.values[i] = f.faults[i].sample_index;
      ch.values[i] = f.faults[i].channel;
      kind.values[i] = f.faults[i].kind;
      msg.values[i] = f.faults[i].message;
    }
    w.arr_i("/_faults/sampleIndex", idx);
    w.strs("/_faults/kind", kind);
    w.arr_i("/_faults/channel", ch);
    w.strs("/_faults/message", msg);
  }
  if (!f.temperatures.empty()) w.arr_d("/_temperatures", f.temperatures);
}

void check_spec(const h5::Writer& w, const MeasurementSpec& s) {
  const std::string f = "/measurement/data";
  if (s.frames == 0 || s.periods == 0 || s.channels == 0 || s.points == 0)
    w.fail(f, "every dimension must be at least 1 (frames " + std::to_string(s.frames) + ", periods " +
                  std::to_string(s.periods) + ", channels " + std::to_string(s.channels) + ", points " +
                  std::to_string(s.points) + ")");
  if (s.fourier_transformed && s.storage != StorageType::float32 && s.storage != StorageType::float64)
    w.fail(f, "frequency-domain data is written as complex float32 or float64");
  if (s.storage == StorageType::int8 || s.storage == StorageType::int64)
    w.fail(f, "the writer stores int16, int32, float32 or float64");
  if (!s.frame_permutation.empty()) {
    if (s.frame_permutation.size() != s.frames)
      w.fail("/measurement/framePermutation", "has " + std::to_string(s.frame_permutation.size()) +
                                                  " entries for " + std::to_string(s.frames) + " frames");
    std::vector<bool> seen(s.frames, false);
    for (auto p : s.frame_permutation) {
      if (p >= s.frames || seen[p]) w.fail("/measurement/framePermutation", "not a permutation of the frames");
      seen[p] = true;
    }
  }
  if (!s.frequency_selection.empty()) {
    if (!s.fourier_transformed) w.fail("/measurement/frequencySelection", "needs frequency-domain data");
    if (s.frequency_selection.size() != s.points)
      w.fail("/measurement/frequencySelection", "has " + std::to_string(s.frequency_selection.size()) +
                                                    " entries for " + std::to_string(s.points) + " frequencies");
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------ utilities

std::string make_uuid_v4() {
  std::random_device rd;
  std::array<unsigned char, 16> b{};
  for (std::size_t i = 0; i < 16; i += 4) {
    const std::uint32_t v = rd();
    for (std::size_t k = 0; k < 4; ++k) b[i + k] = static_cast<unsigned char>(v >> (8 * k));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[b[i] >> 4];
    s += hex[b[i] & 0x0f];
  }
  return s;
}

std::string time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

bool is_valid_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool is_valid_time(const std::string& s) {
  // yyyy-mm-ddThh:mm:ss[.f{1,3}]
  if (s.size() < 19) return false;
  const char* pat = "dddd-dd-ddTdd:dd:dd";
  for (std::size_t i = 0; i < 19; ++i) {
    if (pat[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != pat[i]) return false;
  }
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() < 21 || s.size() > 23) return false;
    for (std::size_t i = 20; i < s.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  const int mon = std::stoi(s.substr(5, 2)), day = std::stoi(s.substr(8, 2)), h = std::stoi(s.substr(11, 2)),
            mi = std::stoi(s.substr(14, 2)), se = std::stoi(s.substr(17, 2));
  return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && h <= 23 && mi <= 59 && se <= 60;
}

// ----------------------------------------------------------------------------------------------- Writer

struct Writer::Impl {
  h5::Writer w;
  File meta;
  MeasurementSpec spec;
  bool begun = false;
  bool finished = false;
  h5::Handle data;
  std::vector<bool> written;
  std::vector<bool> background;

  explicit Impl(const std::string& path) : w(path) {}

  [[nodiscard]] std::size_t frame_values() const { return spec.periods * spec.channels * spec.points; }

  // Writes n frames from `values` (n x J x C x P elements of `elem` bytes, memory type `mem`).
  void write(std::size_t first, const void* values, std::size_t count, std::size_t elem, hid_t mem, bool is_complex,
             bool is_integer16, bool is_integer32) {
    h5::silence_errors();  // the writer may be used from a thread other than its creator's
    const std::string field = "/measurement/data";
    if (!begun) w.fail(field, "write_frames before begin_measurement");
    if (finished) w.fail(field, "write_frames after finish");
    const bool st_complex = spec.fourier_transformed;
    if (is_complex != st_complex) w.fail(field, st_complex ? "expects complex frames" : "expects real frames");
    if (spec.storage == StorageType::int16 && !is_integer16) w.fail(field, "int16 storage expects int16 codes");
    if (spec.storage == StorageType::int32 && !is_integer32) w.fail(field, "int32 storage expects int32 codes");
    if ((spec.storage == StorageType::float32 || spec.storage == StorageType::float64) && (is_integer16 || is_integer32))
      w.fail(field, "float storage expects float or double values");
    const std::size_t fv = frame_values();
    if (count % fv != 0)
      w.fail(field, std::to_string(count) + " values is not a whole number of frames of " + std::to_string(fv));
    const std::size_t n = count / fv;
    if (first + n > spec.frames)
      w.fail(field, "frames " + std::to_string(first) + ".." + std::to_string(first + n - 1) + " beyond the " +
                        std::to_string(spec.frames) + " frames begun");
    if (n == 0) return;
    h5::Handle fs(H5Dget_space(data.get()), H5Sclose);
    std::vector<hsize_t> start(4, 0), cnt(4);
    const void* buf = values;
    std::vector<unsigned char> transposed;
    if (!spec.fast_frame_axis) {
      start[0] = first;
      cnt = {n, spec.periods, spec.channels, spec.points};
    } else {
      start[3] = first;
      cnt = {spec.periods, spec.channels, spec.points, n};
      transposed.resize(count * elem);
      const auto* src = static_cast<const unsigned char*>(values);
      for (std::size_t f = 0; f < n; ++f)
        for (std::size_t i = 0; i < fv; ++i) std::memcpy(&transposed[(i * n + f) * elem], src + (f * fv + i) * elem, elem);
      buf = transposed.data();
    }
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr);
    const hsize_t total = count;
    h5::Handle ms(H5Screate_simple(1, &total, nullptr), H5Sclose);
    if (H5Dwrite(data.get(), mem, ms.get(), fs.get(), H5P_DEFAULT, buf) < 0) w.fail(field, "write failed (disk full?)");
    for (std::size_t f = 0; f < n; ++f) written[first + f] = true;
  }
};

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;
Writer::~Writer() {
  if (impl_ && !impl_->finished) {
    impl_->data.reset();
    try {
      impl_->w.close();
    } catch (...) {
    }
  }
}

const std::string& Writer::path() const noexcept { return impl_->w.path(); }

Writer Writer::create(const std::string& path, const File& meta) {
  auto impl = std::make_unique<Impl>(path);
  impl->meta = meta;
  write_metadata(impl->w, meta);
  return Writer(std::move(impl));
}

void Writer::begin_measurement(const MeasurementSpec& spec) {
  Impl& m = *impl_;
  if (m.begun) m.w.fail("/measurement", "begin_measurement called twice");
  check_spec(m.w, spec);
  m.spec = spec;
  m.w.i64("/acquisition/numFrames", static_cast<std::int64_t>(spec.frames));
  const std::vector<std::size_t> dims = spec.fast_frame_axis
                                            ? std::vector<std::size_t>{spec.periods, spec.channels, spec.points, spec.frames}
                                            : std::vector<std::size_t>{spec.frames, spec.periods, spec.channels, spec.points};
  if (spec.fourier_transformed) {
    const h5::Handle ft = h5::complex_file_type(spec.storage == StorageType::float32);
    m.data = m.w.create("/measurement/data", ft.get(), dims);
  } else {
    m.data = m.w.create("/measurement/data", file_type_of(spec.storage), dims);
  }
  m.w.flag("/measurement/isFourierTransformed", spec.fourier_transformed);
  m.w.flag("/measurement/isFastFrameAxis", spec.fast_frame_axis);
  m.w.flag("/measurement/isFramePermutation", !spec.frame_permutation.empty());
  if (!spec.frame_permutation.empty()) {
    ArrayI p({spec.frames});
    for (std::size_t i = 0; i < spec.frames; ++i) p.values[i] = static_cast<std::int64_t>(spec.frame_permutation[i]) + 1;
    m.w.arr_i("/measurement/framePermutation", p);
  }
  m.w.flag("/measurement/isFrequencySelection", !spec.frequency_selection.empty());
  if (!spec.frequency_selection.empty()) {
    ArrayI p({spec.points});
    for (std::size_t i = 0; i < spec.points; ++i)
      p.values[i] = static_cast<std::int64_t>(spec.frequency_selection[i]) + 1;
    m.w.arr_i("/measurement/frequencySelection", p);
  }
  m.w.flag("/measurement/isBackgroundCorrected", spec.background_corrected);
  m.w.flag("/measurement/isTransferFunctionCorrected", spec.transfer_function_corrected);
  m.w.flag("/measurement/isSpectralLeakageCorrected", spec.spectral_leakage_corrected);
  m.w.flag("/measurement/isSparsityTransformed", false);
  m.written.assign(spec.frames, false);
  m.background.assign(spec.frames, false);
  m.begun = true;
}

void Writer::write_frames(std::size_t first, std::span<const std::int16_t> v) {
  impl_->write(first, v.data(), v.size(), sizeof(std::int16_t), H5T_NATIVE_INT16, false, true, false);
}
void Writer::write_frames(std::size_t first, std::span<const std::int32_t> v) {
  impl_->write(first, v.data(), v.size(), sizeof(std::int32_t), H5T_NATIVE_INT32, false, false, true);
}
void Writer::write_frames(std::size_t first, std::span<const float> v) {
  impl_->write(first, v.data(), v.size(), sizeof(float), H5T_NATIVE_FLOAT, false, false, false);
}
void Writer::write_frames(std::size_t first, std::span<const double> v) {
  impl_->write(first, v.data(), v.size(), sizeof(double), H5T_NATIVE_DOUBLE, false, false, false);
}
void Writer::write_frames(std::size_t first, std::span<const std::complex<float>> v) {
  const h5::Handle mt = h5::complex_memory_type(true);
  impl_->write(first, v.data(), v.size(), sizeof(std::complex<float>), mt.get(), true, false, false);
}
void Writer::write_frames(std::size_t first, std::span<const std::complex<double>> v) {
  const h5::Handle mt = h5::complex_memory_type(false);
  impl_->write(first, v.data(), v.size(), sizeof(std::complex<double>), mt.get(), true, false, false);
}

void Writer::set_background_frames(std::size_t first, const std::vector<bool>& flags) {
  Impl& m = *impl_;
  if (!m.begun) m.w.fail("/measurement/isBackgroundFrame", "set before begin_measurement");
  if (first + flags.size() > m.spec.frames) m.w.fail("/measurement/isBackgroundFrame", "frames out of range");
  for (std::size_t i = 0; i < flags.size(); ++i) m.background[first + i] = flags[i];
}

void Writer::finish() {
  Impl& m = *impl_;
  if (m.finished) return;
  if (m.begun) {
    for (std::size_t f = 0; f < m.written.size(); ++f)
      if (!m.written[f]) m.w.fail("/measurement/data", "frame " + std::to_string(f) + " was never written");
    std::vector<std::int8_t> bg(m.background.size());
    for (std::size_t i = 0; i < bg.size(); ++i) bg[i] = m.background[i] ? 1 : 0;
    m.w.arr_i8("/measurement/isBackgroundFrame", bg);
  } else {
    m.w.i64("/acquisition/numFrames", m.meta.acquisition.num_frames);
  }
  m.data.reset();
  m.finished = true;
  m.w.close();
}

// ---------------------------------------------------------------------------------------- write_mdf

namespace {

MeasurementSpec spec_of(const File& file, const std::string& path) {
  const Measurement& me = *file.measurement;
  const auto& shape = me.is_fourier_transformed ? me.data_fd.shape : me.data.shape;
  if (shape.size() != 4)
    throw MdfError(path, "/measurement/data", "in-memory data must be N x J x C x points, is " + shape_text(shape));
  MeasurementSpec s;
  s.frames = shape[0];
  s.periods = shape[1];
  s.channels = shape[2];
  s.points = shape[3];
  s.fourier_transformed = me.is_fourier_transformed;
  s.fast_frame_axis = me.is_fast_frame_axis;
  s.storage = me.storage;
  if (me.is_frame_permutation) s.frame_permutation = me.frame_permutation;
  if (me.is_frequency_selection) s.frequency_selection = me.frequency_selection;
  s.background_corrected = me.is_background_corrected;
  s.transfer_function_corrected = me.is_transfer_function_corrected;
  s.spectral_leakage_corrected = me.is_spectral_leakage_corrected;
  return s;
}

}  // namespace

void write_mdf(const std::string& path, const File& file) {
  Writer w = Writer::create(path, file);
  if (!file.measurement) {
    w.finish();
    return;
  }
  const Measurement& me = *file.measurement;
  const MeasurementSpec s = spec_of(file, path);
  w.begin_measurement(s);
  const std::size_t fv = s.periods * s.channels * s.points;
  // stored frame st holds acquisition frame perm[st]
  auto src_frame = [&](std::size_t st) { return s.frame_permutation.empty() ? st : s.frame_permutation[st]; };
  std::vector<bool> bg(s.frames, false);
  if (!me.is_background_frame.empty()) {
    if (me.is_background_frame.size() != s.frames)
      throw MdfError(path, "/measurement/isBackgroundFrame", "has " + std::to_string(me.is_background_frame.size()) +
                                                                 " entries for " + std::to_string(s.frames) + " frames");
    for (std::size_t st = 0; st < s.frames; ++st) bg[st] = me.is_background_frame[src_frame(st)];
  }
  // The file holds raw values r with x = a_c r + b_c when a conversion factor is given (complex: x = a_c r).
  const ArrayD& dcf = file.acquisition.receiver.data_conversion_factor;
  const bool integer = s.storage == StorageType::int16 || s.storage == StorageType::int32;
  if (!dcf.empty() && dcf.shape != std::vector<std::size_t>{s.channels, 2})
    throw MdfError(path, "/acquisition/receiver/dataConversionFactor", "shape " + shape_text(dcf.shape) + ", expected C x 2");
  if (integer && dcf.empty())
    throw MdfError(path, "/acquisition/receiver/dataConversionFactor", "integer storage needs C x 2 conversion factors");
  auto scale = [&](std::size_t i) { return dcf.empty() ? 1.0 : dcf.values[2 * ((i / s.points) % s.channels)]; };
  auto offset = [&](std::size_t i) { return dcf.empty() ? 0.0 : dcf.values[2 * ((i / s.points) % s.channels) + 1]; };
  const auto& src_shape = s.fourier_transformed ? me.data_fd.values.size() : me.data.values.size();
  if (src_shape != s.frames * fv)
    throw MdfError(path, "/measurement/data", "in-memory data holds " + std::to_string(src_shape) + " values, shape needs " +
                                                  std::to_string(s.frames * fv));
  if (s.fourier_transformed) {
    std::vector<std::complex<double>> out(s.frames * fv);
    for (std::size_t st = 0; st < s.frames; ++st)
      for (std::size_t i = 0; i < fv; ++i) out[st * fv + i] = me.data_fd.values[src_frame(st) * fv + i] / scale(i);
    w.write_frames(0, std::span<const std::complex<double>>(out));
  } else if (integer) {
    const double lo = s.storage == StorageType::int16 ? -32768.0 : -2147483648.0;
    const double hi = s.storage == StorageType::int16 ? 32767.0 : 2147483647.0;
    std::vector<std::int32_t> codes(s.frames * fv);
    for (std::size_t st = 0; st < s.frames; ++st)
      for (std::size_t i = 0; i < fv; ++i) {
        const double x = me.data.values[src_frame(st) * fv + i];
        codes[st * fv + i] = static_cast<std::int32_t>(std::clamp(std::round((x - offset(i)) / scale(i)), lo, hi));
      }
    if (s.storage == StorageType::int16) {
      std::vector<std::int16_t> c16(codes.begin(), codes.end());
      w.write_frames(0, std::span<const std::int16_t>(c16));
    } else {
      w.write_frames(0, std::span<const std::int32_t>(codes));
    }
  } else {
    std::vector<double> out(s.frames * fv);
    for (std::size_t st = 0; st < s.frames; ++st)
      for (std::size_t i = 0; i < fv; ++i) out[st * fv + i] = (me.data.values[src_frame(st) * fv + i] - offset(i)) / scale(i);
    w.write_frames(0, std::span<const double>(out));
  }
  w.set_background_frames(0, bg);
  w.finish();
}

void write_measurement_from(const std::string& path, const File& meta, const MeasurementSpec& spec,
                            const FrameSource& read_frames, const std::vector<bool>& background) {
  const std::string part = path + ".part";
  {
    Writer w = Writer::create(part, meta);
    w.begin_measurement(spec);
    std::size_t elem = 0;
    switch (spec.storage) {
      case StorageType::int16: elem = 2; break;
      case StorageType::int32: elem = 4; break;
      case StorageType::float32: elem = 4; break;
      case StorageType::float64: elem = 8; break;
      default: break;
    }
    if (spec.fourier_transformed) elem *= 2;
    const std::size_t fv = spec.periods * spec.channels * spec.points;
    const std::size_t block = std::max<std::size_t>(1, (std::size_t{32} << 20) / std::max<std::size_t>(1, fv * elem));
    std::vector<std::byte> buf;
    for (std::size_t first = 0; first < spec.frames; first += block) {
      const std::size_t n = std::min(block, spec.frames - first);
      buf.assign(n * fv * elem, std::byte{0});
      read_frames(first, n, std::span<std::byte>(buf));
      const std::size_t cnt = n * fv;
      if (spec.fourier_transformed) {
        if (spec.storage == StorageType::float32)
          w.write_frames(first, std::span<const std::complex<float>>(reinterpret_cast<const std::complex<float>*>(buf.data()), cnt));
        else
          w.write_frames(first, std::span<const std::complex<double>>(reinterpret_cast<const std::complex<double>*>(buf.data()), cnt));
      } else {
        switch (spec.storage) {
          case StorageType::int16:
            w.write_frames(first, std::span<const std::int16_t>(reinterpret_cast<const std::int16_t*>(buf.data()), cnt));
            break;
          case StorageType::int32:
            w.write_frames(first, std::span<const std::int32_t>(reinterpret_cast<const std::int32_t*>(buf.data()), cnt));
            break;
          case StorageType::float32:
            w.write_frames(first, std::span<const float>(reinterpret_cast<const float*>(buf.data()), cnt));
            break;
          default:
            w.write_frames(first, std::span<const double>(reinterpret_cast<const double*>(buf.data()), cnt));
            break;
        }
      }
    }
    if (!background.empty()) {
      if (background.size() != spec.frames)
        throw MdfError(part, "/measurement/isBackgroundFrame", "has " + std::to_string(background.size()) +
                                                                   " entries for " + std::to_string(spec.frames) + " frames");
      w.set_background_frames(0, background);
    }
    w.finish();
  }
  std::error_code ec;
  std::filesystem::rename(part, path, ec);
  if (ec) throw MdfError(path, "/", "cannot rename " + part + ": " + ec.message());
}

// ------------------------------------------------------------------------------------------- read_mdf

namespace {

std::string opt_str(const h5::Reader& r, const std::string& f) { return r.exists(f) ? r.str(f) : std::string(); }

// A 1-D field of `n` entries (a scalar counts as one entry).
std::vector<std::string> strs_n(const h5::Reader& r, const std::string& f, std::size_t n) {
  auto a = r.strs(f);
  if (a.values.size() != n || a.shape.size() > 1)
    r.fail(f, "shape " + shape_text(a.shape) + ", expected " + std::to_string(n) + " entries");
  return a.values;
}
std::vector<double> d_n(const h5::Reader& r, const std::string& f, std::size_t n) {
  auto a = r.arr_d(f);
  if (a.values.size() != n || a.shape.size() > 1)
    r.fail(f, "shape " + shape_text(a.shape) + ", expected " + std::to_string(n) + " entries");
  return a.values;
}

void expect_shape(const h5::Reader& r, const std::string& f, const std::vector<std::size_t>& got,
                  const std::vector<std::size_t>& want, const char* names) {
  if (got != want) r.fail(f, "shape " + shape_text(got) + ", expected " + names + " = " + shape_text(want));
}

std::size_t positive(const h5::Reader& r, const std::string& f) {
  const std::int64_t v = r.i64(f);
  if (v < 1) r.fail(f, "must be at least 1, is " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

StorageType storage_of(const h5::Reader& r, const std::string& f) {
  std::size_t bytes = 0;
  const h5::Kind k = r.kind(f, &bytes);
  if (k == h5::Kind::integer) {
    switch (bytes) {
      case 1: return StorageType::int8;
      case 2: return StorageType::int16;
      case 4: return StorageType::int32;
      default: return StorageType::int64;
    }
  }
  if (k == h5::Kind::complex) bytes /= 2;
  return bytes == 4 ? StorageType::float32 : StorageType::float64;
}

// Moves the frame axis from last (J x C x P x N) to first.
template <class T>
Array<T> frame_axis_first(Array<T> a) {
  const std::size_t n = a.shape[3], inner = a.shape[0] * a.shape[1] * a.shape[2];
  Array<T> out({a.shape[3], a.shape[0], a.shape[1], a.shape[2]});
  for (std::size_t i = 0; i < inner; ++i)
    for (std::size_t f = 0; f < n; ++f) out.values[f * inner + i] = a.values[i * n + f];
  return out;
}

template <class T>
void unpermute(Array<T>& a, const std::vector<std::size_t>& perm) {
  const std::size_t fv = a.values.size() / a.shape[0];
  std::vector<T> out(a.values.size());
  for (std::size_t st = 0; st < perm.size(); ++st)
    std::copy_n(a.values.begin() + static_cast<std::ptrdiff_t>(st * fv), fv,
                out.begin() + static_cast<std::ptrdiff_t>(perm[st] * fv));
  a.values = std::move(out);
}

Measurement read_measurement(const h5::Reader& r, const File& f) {
  Measurement m;
  const std::string g = "/measurement/";
  m.is_fourier_transformed = r.flag(g + "isFourierTransformed");
  m.is_fast_frame_axis = r.flag(g + "isFastFrameAxis");
  m.is_frame_permutation = r.flag(g + "isFramePermutation");
  m.is_frequency_selection = r.flag(g + "isFrequencySelection");
  m.is_background_corrected = r.flag(g + "isBackgroundCorrected");
  m.is_transfer_function_corrected = r.flag(g + "isTransferFunctionCorrected");
  m.is_spectral_leakage_corrected = r.flag(g + "isSpectralLeakageCorrected");
  m.is_sparsity_transformed = r.exists(g + "isSparsityTransformed") ? r.flag(g + "isSparsityTransformed") : false;
  if (m.is_sparsity_transformed) r.fail(g + "isSparsityTransformed", "sparsity-transformed data is not supported");

  const auto N = static_cast<std::size_t>(f.acquisition.num_frames);
  const auto J = static_cast<std::size_t>(f.acquisition.num_periods_per_frame);
  const auto C = static_cast<std::size_t>(f.acquisition.receiver.num_channels);
  const auto V = static_cast<std::size_t>(f.acquisition.receiver.num_sampling_points);
  const std::string fd = g + "data";

  if (m.is_frequency_selection) {
    if (!m.is_fourier_transformed) r.fail(g + "frequencySelection", "a frequency selection needs isFourierTransformed");
    const ArrayI sel = r.arr_i(g + "frequencySelection");
    if (sel.shape.size() > 1) r.fail(g + "frequencySelection", "must be one-dimensional");
    for (auto v : sel.values) {
      if (v < 1 || static_cast<std::size_t>(v) > V / 2 + 1)
        r.fail(g + "frequencySelection", "index " + std::to_string(v) + " outside 1.." + std::to_string(V / 2 + 1) +
                                             " (indices are 1-based)");
      m.frequency_selection.push_back(static_cast<std::size_t>(v - 1));
    }
  }
  const std::size_t P = m.is_fourier_transformed ? (m.is_frequency_selection ? m.frequency_selection.size() : V / 2 + 1) : V;
  const char* pname = m.is_fourier_transformed ? "K" : "V";
  const std::string names = m.is_fast_frame_axis ? std::string("J x C x ") + pname + " x N" : std::string("N x J x C x ") + pname;
  const std::vector<std::size_t> want = m.is_fast_frame_axis ? std::vector<std::size_t>{J, C, P, N}
                                                              : std::vector<std::size_t>{N, J, C, P};
  m.storage = storage_of(r, fd);
  const h5::Kind kind = r.kind(fd);
  if (m.is_fourier_transformed) {
    if (kind != h5::Kind::complex) {
      auto dims = r.dims(fd);
      auto w2 = want;
      w2.push_back(2);
      expect_shape(r, fd, dims, w2, (names + " (complex)").c_str());
    } else {
      expect_shape(r, fd, r.dims(fd), want, names.c_str());
    }
    m.data_fd = r.arr_c(fd);
    if (m.is_fast_frame_axis) m.data_fd = frame_axis_first(std::move(m.data_fd));
  } else {
    if (kind == h5::Kind::complex) r.fail(fd, "complex data but isFourierTransformed is 0");
    expect_shape(r, fd, r.dims(fd), want, names.c_str());
    m.data = r.arr_d(fd);
    if (m.is_fast_frame_axis) m.data = frame_axis_first(std::move(m.data));
  }
  const ArrayD& dcf = f.acquisition.receiver.data_conversion_factor;
  if (!dcf.empty()) {
    const std::size_t fv = J * C * P;
    for (std::size_t i = 0; i < N * fv; ++i) {
      const std::size_t c = (i / P) % C;
      const double a = dcf.values[2 * c], b = dcf.values[2 * c + 1];
      if (m.is_fourier_transformed)
        m.data_fd.values[i] *= a;
      else
        m.data.values[i] = a * m.data.values[i] + b;
    }
  }

  std::vector<bool> bg_stored(N, false);
  if (r.exists(g + "isBackgroundFrame")) {
    const ArrayI b = r.arr_i(g + "isBackgroundFrame");
    if (b.values.size() != N || b.shape.size() > 1)
      r.fail(g + "isBackgroundFrame", "shape " + shape_text(b.shape) + ", expected N = " + std::to_string(N));
    for (std::size_t i = 0; i < N; ++i) {
      if (b.values[i] != 0 && b.values[i] != 1)
        r.fail(g + "isBackgroundFrame", "a flag must be 0 or 1, entry " + std::to_string(i) + " is " + std::to_string(b.values[i]));
      bg_stored[i] = b.values[i] == 1;
    }
  }
  m.is_background_frame = bg_stored;
  if (m.is_frame_permutation) {
    const ArrayI p = r.arr_i(g + "framePermutation");
    if (p.values.size() != N || p.shape.size() > 1)
      r.fail(g + "framePermutation", "shape " + shape_text(p.shape) + ", expected N = " + std::to_string(N));
    std::vector<bool> seen(N, false);
    for (auto v : p.values) {
      if (v < 1 || static_cast<std::size_t>(v) > N)
        r.fail(g + "framePermutation", "index " + std::to_string(v) + " outside 1.." + std::to_string(N) + " (indices are 1-based)");
      if (seen[static_cast<std::size_t>(v - 1)]) r.fail(g + "framePermutation", "index " + std::to_string(v) + " repeated");
      seen[static_cast<std::size_t>(v - 1)] = true;
      m.frame_permutation.push_back(static_cast<std::size_t>(v - 1));
    }
    if (m.is_fourier_transformed)
      unpermute(m.data_fd, m.frame_permutation);
    else
      unpermute(m.data, m.frame_permutation);
    for (std::size_t st = 0; st < N; ++st) m.is_background_frame[m.frame_permutation[st]] = bg_stored[st];
  }
  return m;
}

}  // namespace

File read_mdf(const std::string& path) {
  const h5::Reader r(path);
  File f;
  if (!r.exists("/version")) r.fail("/version", "missing (not an MDF file)");
  f.version = r.str("/version");
  if (f.version.empty() || f.version[0] != '2') r.fail("/version", "version " + f.version + " is not MDF v2");
  f.uuid = r.str("/uuid");
  f.time = r.str("/time");

  f.study.name = r.str("/study/name");
  f.study.number = r.i64("/study/number");
  f.study.uuid = r.str("/study/uuid");
  f.study.description = opt_str(r, "/study/description");  // descriptive: tolerated when absent (check_mdf reports it)
  f.study.time = opt_str(r, "/study/time");

  f.experiment.name = r.str("/experiment/name");
  f.experiment.number = r.i64("/experiment/number");
  f.experiment.uuid = r.str("/experiment/uuid");
  f.experiment.description = opt_str(r, "/experiment/description");  // descriptive: tolerated when absent (check_mdf reports it)
  f.experiment.subject = opt_str(r, "/experiment/subject");  // descriptive: tolerated when absent (check_mdf reports it)
  f.experiment.is_simulation = r.flag("/experiment/isSimulation");

  f.scanner.facility = r.str("/scanner/facility");
  f.scanner.manufacturer = r.str("/scanner/manufacturer");
  f.scanner.name = opt_str(r, "/scanner/name");  // descriptive: tolerated when absent (check_mdf reports it)
  f.scanner.operator_name = r.str("/scanner/operator");
  f.scanner.topology = r.str("/scanner/topology");
  if (r.exists("/scanner/boreSize")) f.scanner.bore_size_m = r.f64("/scanner/boreSize");

  if (r.exists("/tracer/name")) {
    const auto names = r.strs("/tracer/name");
    if (names.shape.size() > 1) r.fail("/tracer/name", "must be one-dimensional (A)");
    const std::size_t a = names.values.size();
    const auto batch = strs_n(r, "/tracer/batch", a);
    const auto vendor = strs_n(r, "/tracer/vendor", a);
    const auto solute = strs_n(r, "/tracer/solute", a);
    const auto volume = d_n(r, "/tracer/volume", a);
    const auto conc = d_n(r, "/tracer/concentration", a);
    std::vector<std::string> inj(a);
    if (r.exists("/tracer/injectionTime")) inj = strs_n(r, "/tracer/injectionTime", a);
    for (std::size_t i = 0; i < a; ++i)
      f.tracer.push_back({names.values[i], batch[i], vendor[i], volume[i], conc[i], solute[i], inj[i]});
  }

  Acquisition& q = f.acquisition;
  q.num_averages = static_cast<std::int64_t>(positive(r, "/acquisition/numAverages"));
  q.num_frames = r.i64("/acquisition/numFrames");
  if (q.num_frames < 0) r.fail("/acquisition/numFrames", "negative");
  const std::size_t J = positive(r, "/acquisition/numPeriodsPerFrame");
  q.num_periods_per_frame = static_cast<std::int64_t>(J);
  q.start_time = r.str("/acquisition/startTime");
  if (r.exists("/acquisition/gradient")) {
    q.gradient = r.arr_d("/acquisition/gradient");
    const auto& s = q.gradient.shape;
    if (s.size() != 4 || s[0] != J || s[2] != 3 || s[3] != 3)
      r.fail("/acquisition/gradient", "shape " + shape_text(s) + ", expected J x Y x 3 x 3 with J = " + std::to_string(J));
  }
  if (r.exists("/acquisition/offsetField")) {
    q.offset_field = r.arr_d("/acquisition/offsetField");
    const auto& s = q.offset_field.shape;
    if (s.size() != 3 || s[0] != J || s[2] != 3)
      r.fail("/acquisition/offsetField", "shape " + shape_text(s) + ", expected J x Y x 3 with J = " + std::to_string(J));
  }
  if (r.exists("/acquisition/_appliedField")) q.applied_field = r.arr_c("/acquisition/_appliedField");
  if (r.exists("/acquisition/_measuredField")) q.measured_field = r.arr_c("/acquisition/_measuredField");

  Drivefield& d = q.drivefield;
  const std::string dg = "/acquisition/drivefield/";
  d.base_frequency_hz = r.f64(dg + "baseFrequency");
  const std::size_t D = positive(r, dg + "numChannels");
  d.num_channels = static_cast<std::int64_t>(D);
  d.cycle_s = r.f64(dg + "cycle");
  d.divider = r.arr_i(dg + "divider");
  if (d.divider.shape.size() != 2 || d.divider.shape[0] != D)
    r.fail(dg + "divider", "shape " + shape_text(d.divider.shape) + ", expected D x F with D = " + std::to_string(D));
  const std::size_t F = d.divider.shape[1];
  d.waveform = r.strs(dg + "waveform");
  expect_shape(r, dg + "waveform", d.waveform.shape, {D, F}, "D x F");
  d.phase_rad = r.arr_d(dg + "phase");
  expect_shape(r, dg + "phase", d.phase_rad.shape, {J, D, F}, "J x D x F");
  d.strength = r.arr_d(dg + "strength");
  expect_shape(r, dg + "strength", d.strength.shape, {J, D, F}, "J x D x F");

  Receiver& rc = q.receiver;
  const std::string rg = "/acquisition/receiver/";
  rc.bandwidth_hz = r.f64(rg + "bandwidth");
  const std::size_t C = positive(r, rg + "numChannels");
  rc.num_channels = static_cast<std::int64_t>(C);
  rc.num_sampling_points = static_cast<std::int64_t>(positive(r, rg + "numSamplingPoints"));
  rc.unit = r.str(rg + "unit");
  if (r.exists(rg + "dataConversionFactor")) {
    rc.data_conversion_factor = r.arr_d(rg + "dataConversionFactor");
    expect_shape(r, rg + "dataConversionFactor", rc.data_conversion_factor.shape, {C, 2}, "C x 2");
  }
  if (r.exists(rg + "transferFunction")) {
    rc.transfer_function = r.arr_c(rg + "transferFunction");
    if (rc.transfer_function.shape.size() != 2 || rc.transfer_function.shape[0] != C)
      r.fail(rg + "transferFunction", "shape " + shape_text(rc.transfer_function.shape) + ", expected C x K");
  }

  if (r.exists("/measurement")) f.measurement = read_measurement(r, f);

  if (r.exists("/calibration")) {
    Calibration c;
    const std::string cg = "/calibration/";
    c.method = r.str(cg + "method");
    if (r.exists(cg + "size")) {
      const ArrayI size = r.arr_i(cg + "size");
      expect_shape(r, cg + "size", size.shape, {3}, "3");
      c.size = size.values;
      for (auto v : c.size)
        if (v < 1) r.fail(cg + "size", "every entry must be at least 1");
    }
    if (r.exists(cg + "fieldOfView")) c.field_of_view_m = d_n(r, cg + "fieldOfView", 3);
    if (r.exists(cg + "fieldOfViewCenter")) c.field_of_view_center_m = d_n(r, cg + "fieldOfViewCenter", 3);
    if (r.exists(cg + "snr")) c.snr = r.arr_d(cg + "snr");
    c.order = r.exists(cg + "order") ? r.str(cg + "order") : "xyz";
    if (r.exists(cg + "positions")) {
      c.positions = r.arr_d(cg + "positions");
      if (c.positions.shape.size() != 2 || c.positions.shape[1] != 3)
        r.fail(cg + "positions", "shape " + shape_text(c.positions.shape) + ", expected O x 3");
    }
    if (r.exists(cg + "deltaSampleSize")) c.delta_sample_size_m = d_n(r, cg + "deltaSampleSize", 3);
    f.calibration = c;
  }
  if (r.exists("/reconstruction")) {
    Reconstruction c;
    const std::string cg = "/reconstruction/";
    c.data = r.arr_d(cg + "data");
    const ArrayI size = r.arr_i(cg + "size");
    expect_shape(r, cg + "size", size.shape, {3}, "3");
    c.size = size.values;
    c.field_of_view_m = d_n(r, cg + "fieldOfView", 3);
    c.field_of_view_center_m = d_n(r, cg + "fieldOfViewCenter", 3);
    c.order = r.exists(cg + "order") ? r.str(cg + "order") : "xyz";
    f.reconstruction = c;
  }
  if (r.exists("/_faults")) {
    const ArrayI idx = r.arr_i("/_faults/sampleIndex");
    const std::size_t e = idx.values.size();
    const auto kind = strs_n(r, "/_faults/kind", e);
    const auto msg = strs_n(r, "/_faults/message", e);
    const ArrayI ch = r.arr_i("/_faults/channel");
    if (ch.values.size() != e) r.fail("/_faults/channel", "expected " + std::to_string(e) + " entries");
    for (std::size_t i = 0; i < e; ++i) f.faults.push_back({idx.values[i], kind[i], ch.values[i], msg[i]});
  }
  if (r.exists("/_temperatures")) f.temperatures = r.arr_d("/_temperatures");
  return f;
}

// ---------------------------------------------------------------------------------- read_system_matrix

MdfSystemMatrix read_system_matrix(const std::string& path) {
  const File f = read_mdf(path);
  if (!f.calibration) throw MdfError(path, "/calibration", "missing (not a system-matrix file)");
  if (!f.measurement) throw MdfError(path, "/measurement", "missing (a system-matrix file holds its data there)");
  const Measurement& m = *f.measurement;
  const Calibration& c = *f.calibration;
  MdfSystemMatrix s;
  s.periods = static_cast<std::size_t>(f.acquisition.num_periods_per_frame);
  s.channels = static_cast<std::size_t>(f.acquisition.receiver.num_channels);
  s.sampling_points = static_cast<std::size_t>(f.acquisition.receiver.num_sampling_points);
  s.sample_rate_hz = 2.0 * f.acquisition.receiver.bandwidth_hz;
  const std::size_t N = static_cast<std::size_t>(f.acquisition.num_frames);
  const std::size_t V = s.sampling_points, L = V / 2 + 1;

  if (m.is_frequency_selection) {
    s.frequency_indices = m.frequency_selection;
  } else {
    s.frequency_indices.resize(L);
    std::iota(s.frequency_indices.begin(), s.frequency_indices.end(), std::size_t{0});
  }
  const std::size_t K = s.frequency_indices.size();
  const std::size_t rows = s.periods * s.channels * K;

  // Frame spectra in acquisition order, rows x N.
  Eigen::MatrixXcd spectra(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(N));
  if (m.is_fourier_transformed) {
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t i = 0; i < rows; ++i)
        spectra(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(n)) = m.data_fd.values[n * rows + i];
  } else {
    RealFft fft(V);
    std::vector<std::complex<double>> out(L);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t jc = 0; jc < s.periods * s.channels; ++jc) {
        fft.forward(std::span<const double>(m.data.values.data() + (n * s.periods * s.channels + jc) * V, V), out);
        for (std::size_t k = 0; k < K; ++k) {
          const std::size_t b = s.frequency_indices[k];
          const double scale = (b == 0 || (V % 2 == 0 && b == V / 2)) ? 1.0 / static_cast<double>(V)
                                                                      : 2.0 / static_cast<double>(V);
          spectra(static_cast<Eigen::Index>(jc * K + k), static_cast<Eigen::Index>(n)) = out[b] * scale;
        }
      }
  }
  // Stored order: stored frame st is acquisition frame perm[st].
  std::vector<std::size_t> fg, bg;
  for (std::size_t st = 0; st < N; ++st) {
    const std::size_t n = m.frame_permutation.empty() ? st : m.frame_permutation[st];
    (m.is_background_frame[n] ? bg : fg).push_back(n);
  }
  if (c.size.size() != 3) throw MdfError(path, "/calibration/size", "missing (the grid size of the system matrix)");
  if (c.field_of_view_m.size() != 3) throw MdfError(path, "/calibration/fieldOfView", "missing");
  if (c.field_of_view_center_m.size() != 3) throw MdfError(path, "/calibration/fieldOfViewCenter", "missing");
  const auto voxels = static_cast<std::size_t>(c.size[0] * c.size[1] * c.size[2]);
  if (fg.size() != voxels)
    throw MdfError(path, "/calibration/size",
                   std::to_string(fg.size()) + " foreground frames for a grid of " + std::to_string(voxels) + " voxels");
  s.matrix.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(fg.size()));
  for (std::size_t v = 0; v < fg.size(); ++v) s.matrix.col(static_cast<Eigen::Index>(v)) = spectra.col(static_cast<Eigen::Index>(fg[v]));
  s.background.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(bg.size()));
  for (std::size_t v = 0; v < bg.size(); ++v) s.background.col(static_cast<Eigen::Index>(v)) = spectra.col(static_cast<Eigen::Index>(bg[v]));
  for (std::size_t j = 0; j < s.periods; ++j)
    for (std::size_t ch = 0; ch < s.channels; ++ch)
      for (std::size_t k = 0; k < K; ++k) {
        s.row_period.push_back(j);
        s.row_channel.push_back(ch);
        s.row_bin.push_back(s.frequency_indices[k]);
      }
  if (!c.snr.empty()) {
    // snr: J x C x L (all bins) or J x C x K (the selected ones)
    const auto& sh = c.snr.shape;
    if (sh.size() != 3 || sh[0] != s.periods || sh[1] != s.channels || (sh[2] != L && sh[2] != K))
      throw MdfError(path, "/calibration/snr", "shape " + shape_text(sh) + ", expected J x C x K");
    s.snr.resize(static_cast<Eigen::Index>(rows));
    for (std::size_t jc = 0; jc < s.periods * s.channels; ++jc)
      for (std::size_t k = 0; k < K; ++k)
        s.snr(static_cast<Eigen::Index>(jc * K + k)) = c.snr.values[jc * sh[2] + (sh[2] == K ? k : s.frequency_indices[k])];
  }
  for (std::size_t a = 0; a < 3; ++a) {
    s.grid.shape[a] = static_cast<std::size_t>(c.size[a]);
    s.grid.fov_m[static_cast<Eigen::Index>(a)] = c.field_of_view_m[a];
    s.grid.centre_m[static_cast<Eigen::Index>(a)] = c.field_of_view_center_m[a];
  }
  return s;
}

}  // namespace mpi::recon::mdf
