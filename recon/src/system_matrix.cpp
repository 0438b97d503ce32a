#include "mpi/recon/system_matrix.hpp"

#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/real_fft.hpp"
#include "mpi/recon/relaxation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace mpi::recon {

Eigen::Vector3d VoxelGrid::pitch_m() const noexcept {
  return {fov_m.x() / static_cast<double>(shape[0]), fov_m.y() / static_cast<double>(shape[1]),
          fov_m.z() / static_cast<double>(shape[2])};
}

Eigen::Vector3d VoxelGrid::position_m(std::size_t index) const noexcept {
  const std::size_t ix = index % shape[0];
  const std::size_t iy = (index / shape[0]) % shape[1];
  const std::size_t iz = index / (shape[0] * shape[1]);
  const Eigen::Vector3d pitch = pitch_m();
  return centre_m - 0.5 * fov_m +
         Eigen::Vector3d((static_cast<double>(ix) + 0.5) * pitch.x(), (static_cast<double>(iy) + 0.5) * pitch.y(),
                         (static_cast<double>(iz) + 0.5) * pitch.z());
}

void validate(const VoxelGrid& grid, const char* where) {
  for (std::size_t a = 0; a < 3; ++a) {
    if (grid.shape[a] == 0) throw std::invalid_argument(std::string(where) + ": voxel grid axis " + std::to_string(a) + " has no voxels");
    if (!(grid.fov_m[static_cast<Eigen::Index>(a)] > 0.0 && std::isfinite(grid.fov_m[static_cast<Eigen::Index>(a)]))) {
      throw std::invalid_argument(std::string(where) + ": voxel grid extent along axis " + std::to_string(a) +
                                  " must be finite and positive");
    }
  }
  if (!grid.centre_m.allFinite()) throw std::invalid_argument(std::string(where) + ": voxel grid centre is not finite");
}

SystemMatrix SystemMatrix::subset(std::span<const std::size_t> rows) const {
  SystemMatrix out;
  out.grid = grid;
  out.frame_samples = frame_samples;
  out.channel_count = channel_count;
  out.sample_rate_hz = sample_rate_hz;
  out.matrix.resize(static_cast<Eigen::Index>(rows.size()), matrix.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t r = rows[i];
    if (r >= this->rows()) {
      throw std::invalid_argument("system matrix subset: row " + std::to_string(r) + " (entry #" + std::to_string(i) +
                                  ") is out of range (" + std::to_string(this->rows()) + " rows)");
    }
    out.matrix.row(static_cast<Eigen::Index>(i)) = matrix.row(static_cast<Eigen::Index>(r));
    out.frame_rows.push_back(frame_rows[r]);
    out.channels.push_back(channels[r]);
    out.bins.push_back(bins[r]);
    out.frequencies_hz.push_back(frequencies_hz[r]);
  }
  return out;
}

void SystemMatrix::gather(const Eigen::MatrixXcd& spectrum, Eigen::VectorXcd& out) const {
  if (static_cast<std::size_t>(spectrum.cols()) != channel_count || static_cast<std::size_t>(spectrum.rows()) != frame_bins()) {
    throw std::invalid_argument("system matrix gather: spectrum is " + std::to_string(spectrum.rows()) + " x " +
                                std::to_string(spectrum.cols()) + ", expected " + std::to_string(frame_bins()) +
                                " bins x " + std::to_string(channel_count) + " channels");
  }
  if (out.size() != matrix.rows()) out.resize(matrix.rows());
  for (std::size_t i = 0; i < rows(); ++i) {
    out(static_cast<Eigen::Index>(i)) = spectrum(static_cast<Eigen::Index>(bins[i]), static_cast<Eigen::Index>(channels[i]));
  }
}

FrameRows frame_rows(std::size_t channel_count, std::size_t frame_samples, double sample_rate_hz) {
  FrameRows rows;
  const std::size_t bins = frame_samples / 2 + 1;
  const double step = sample_rate_hz / static_cast<double>(frame_samples);
  for (std::size_t c = 0; c < channel_count; ++c) {
    for (std::size_t k = 0; k < bins; ++k) {
      rows.channels.push_back(c);
      rows.bins.push_back(k);
      rows.frequencies_hz.push_back(static_cast<double>(k) * step);
    }
  }
  return rows;
}

namespace {

void check_rows(std::span<const std::size_t> rows, std::size_t frame_row_count, const char* where) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= frame_row_count) {
      throw std::invalid_argument(std::string(where) + ": frame row " + std::to_string(rows[i]) + " (entry #" +
                                  std::to_string(i) + ") is out of range (" + std::to_string(frame_row_count) + " frame rows)");
    }
  }
}

// Computes the spectra of the receive voltages of one delta source per call, for one thread.
class ColumnEngine {
 public:
  ColumnEngine(const ModelSystemMatrixSpec& spec, const ParticleSignalModel& model, const std::vector<Eigen::Vector3d>& fields)
      : spec_(spec), model_(model), fields_(fields), n_(spec.frame_samples), fft_(spec.frame_samples),
        eq_(model.modes()), mu_(3 * n_), mode_mu_(3 * n_ * model.modes()), voltage_(n_),
        spectrum_(spec.channels.size() * (n_ / 2 + 1)) {
    const double h = 1.0 / spec.sample_rate_hz;
    for (std::size_t m = 0; m < model.modes(); ++m) {
      const double tau = spec.relaxation ? model.tau_s(m) : 0.0;
      debye_.emplace_back(tau, h);
      wrap_.push_back(tau > 0.0 ? std::pow(debye_.back().a(), static_cast<double>(n_)) : 0.0);
    }
  }

  // Spectrum of every channel for a source at `position`: spectrum()[c * bins + k].
  void compute(const Eigen::Vector3d& position) {
    model_.set_sources({ParticleSource{position, spec_.voxel_iron_kg}});
    const std::size_t modes = model_.modes();
    for (std::size_t n = 0; n < n_; ++n) {
      model_.equilibrium_moments(fields_[n], std::span<Eigen::Vector3d>(eq_));
      for (std::size_t m = 0; m < modes; ++m) {
        double* out = mode_mu_.data() + m * 3 * n_ + 3 * n;
        out[0] = eq_[m].x();
        out[1] = eq_[m].y();
        out[2] = eq_[m].z();
      }
    }
    // Relaxed per mode, summed.
    std::fill(mu_.begin(), mu_.end(), 0.0);
    for (std::size_t m = 0; m < modes; ++m) {
      double* mode = mode_mu_.data() + m * 3 * n_;
      if (debye_[m].c() < 1.0) relax_periodic(debye_[m], wrap_[m], mode);
      for (std::size_t i = 0; i < 3 * n_; ++i) mu_[i] += mode[i];
    }
    const double h = 1.0 / spec_.sample_rate_hz;
    const std::size_t bins = n_ / 2 + 1;
    for (std::size_t c = 0; c < spec_.channels.size(); ++c) {
      const ReceiveChannel& rc = spec_.channels[c];
      const double scale = -rc.gain * rc.sensitivity_t_per_a / (h * spec_.voxel_iron_kg);
      const double ex = scale * rc.direction.x(), ey = scale * rc.direction.y(), ez = scale * rc.direction.z();
      std::size_t prev = n_ - 1;
      for (std::size_t n = 0; n < n_; ++n) {
        voltage_[n] = ex * (mu_[3 * n] - mu_[3 * prev]) + ey * (mu_[3 * n + 1] - mu_[3 * prev + 1]) +
                      ez * (mu_[3 * n + 2] - mu_[3 * prev + 2]);
        prev = n;
      }
      std::complex<double>* out = spectrum_.data() + c * bins;
      fft_.forward(voltage_, std::span<std::complex<double>>(out, bins));
      // Amplitude scaling of FrameSpectrum: 2 X_k / N, X_k / N at DC and (even N) Nyquist.
      const double two_over_n = 2.0 / static_cast<double>(n_);
      for (std::size_t k = 0; k < bins; ++k) out[k] *= two_over_n;
      out[0] *= 0.5;
      if (n_ % 2 == 0) out[bins - 1] *= 0.5;
    }
  }

  [[nodiscard]] const std::vector<std::complex<double>>& spectrum() const noexcept { return spectrum_; }

 private:
  // Periodic steady state of tau y' + y = x (x linear between samples) over the frame, in place.
  void relax_periodic(const DebyeStep& step, double wrap, double* mode_mu) {
    Eigen::Vector3d y = Eigen::Vector3d::Zero();
    auto x = [&](std::size_t n) { return Eigen::Vector3d(mode_mu[3 * n], mode_mu[3 * n + 1], mode_mu[3 * n + 2]); };
    const Eigen::Vector3d x0 = x(0);
    // y from y_0 = 0; the periodic solution adds a^n y*_0 with y*_0 = y_N / (1 - a^N).
    std::vector<double>& out = scratch_;
    out.assign(3 * n_, 0.0);
    Eigen::Vector3d prev_x = x0;
    for (std::size_t n = 1; n <= n_; ++n) {
      const Eigen::Vector3d xn = n < n_ ? x(n) : x0;
      y = step(y, prev_x, xn);
      prev_x = xn;
      if (n < n_) {
        out[3 * n] = y.x();
        out[3 * n + 1] = y.y();
        out[3 * n + 2] = y.z();
      }
    }
    const Eigen::Vector3d y0 = y / (1.0 - wrap);
    double decay = 1.0;
    for (std::size_t n = 0; n < n_; ++n) {
      mode_mu[3 * n] = out[3 * n] + decay * y0.x();
      mode_mu[3 * n + 1] = out[3 * n + 1] + decay * y0.y();
      mode_mu[3 * n + 2] = out[3 * n + 2] + decay * y0.z();
      decay *= step.a();
    }
  }

  const ModelSystemMatrixSpec& spec_;
  ParticleSignalModel model_;
  const std::vector<Eigen::Vector3d>& fields_;
  std::size_t n_;
  RealFft fft_;
  std::vector<DebyeStep> debye_;
  std::vector<double> wrap_;
  std::vector<Eigen::Vector3d> eq_;
  std::vector<double> mu_, mode_mu_, scratch_;
  std::vector<double> voltage_;
  std::vector<std::complex<double>> spectrum_;
};

struct Prepared {
  std::vector<Eigen::Vector3d> fields;  // applied field at t_n + h/2
  ParticleSignalModel model;
};

Prepared prepare(const ModelSystemMatrixSpec& spec) {
  if (spec.channels.empty()) throw std::invalid_argument("model system matrix: no receive channels");
  for (std::size_t c = 0; c < spec.channels.size(); ++c) {
    const ReceiveChannel& rc = spec.channels[c];
    if (!rc.direction.allFinite() || !std::isfinite(rc.sensitivity_t_per_a) || !std::isfinite(rc.gain)) {
      throw std::invalid_argument("model system matrix: receive channel #" + std::to_string(c) + " is not finite");
    }
  }
  if (spec.drive.components().empty()) throw std::invalid_argument("model system matrix: the drive has no components");
  if (spec.frame_samples < 2) throw std::invalid_argument("model system matrix: a frame needs at least 2 samples");
  if (!(spec.sample_rate_hz > 0.0 && std::isfinite(spec.sample_rate_hz))) {
    throw std::invalid_argument("model system matrix: sample rate must be finite and positive");
  }
  if (!std::isfinite(spec.frame_start_s)) throw std::invalid_argument("model system matrix: frame start is not finite");
  if (!(spec.voxel_iron_kg > 0.0 && std::isfinite(spec.voxel_iron_kg))) {
    throw std::invalid_argument("model system matrix: voxel iron mass must be finite and positive");
  }
  if (!spec.gradient_t_per_m.allFinite()) throw std::invalid_argument("model system matrix: gradient is not finite");
  if (spec.threads == 0) throw std::invalid_argument("model system matrix: threads must be at least 1");
  validate(spec.grid, "model system matrix");
  if (const std::string why = validate(spec.tracer); !why.empty()) throw std::invalid_argument("model system matrix: tracer: " + why);

  std::vector<Eigen::Vector3d> fields(spec.frame_samples);
  double max_drive = 0.0;
  const double h = 1.0 / spec.sample_rate_hz;
  for (std::size_t n = 0; n < spec.frame_samples; ++n) {
    fields[n] = spec.drive.field_t(spec.frame_start_s + (static_cast<double>(n) + 0.5) * h);
    max_drive = std::max(max_drive, fields[n].norm());
  }
  double max_selection = 0.0;
  for (int corner = 0; corner < 8; ++corner) {
    Eigen::Vector3d r = spec.grid.centre_m;
    for (int a = 0; a < 3; ++a) r[a] += ((corner >> a) & 1 ? 0.5 : -0.5) * spec.grid.fov_m[a];
    max_selection = std::max(max_selection, (spec.gradient_t_per_m * r).norm());
  }
  const double max_field = 1.05 * (max_drive + max_selection) + 1e-6;
  return {std::move(fields), ParticleSignalModel(spec.tracer, {}, spec.gradient_t_per_m, max_field)};
}

// Runs `body(engine, voxel)` over the voxels j = first, first + stride, ... split over the spec's threads.
template <class Body>
void for_columns(const ModelSystemMatrixSpec& spec, const Prepared& prepared, std::size_t stride, Body&& body) {
  const std::size_t voxels = spec.grid.voxels();
  const std::size_t columns = (voxels + stride - 1) / stride;
  const std::size_t threads = std::max<std::size_t>(1, std::min<std::size_t>(spec.threads, columns));
  auto work = [&](std::size_t t) {
    ColumnEngine engine(spec, prepared.model, prepared.fields);
    for (std::size_t i = t; i < columns; i += threads) {
      const std::size_t j = i * stride;
      engine.compute(spec.grid.position_m(j));
      body(t, engine, j);
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& th : pool) th.join();
}

}  // namespace

SystemMatrix model_system_matrix(const ModelSystemMatrixSpec& spec, std::span<const std::size_t> rows) {
  const Prepared prepared = prepare(spec);
  const std::size_t bins = spec.frame_samples / 2 + 1;
  const std::size_t frame_row_count = spec.channels.size() * bins;
  check_rows(rows, frame_row_count, "model system matrix");
  std::vector<std::size_t> kept(rows.begin(), rows.end());
  if (kept.empty()) {
    kept.resize(frame_row_count);
    for (std::size_t r = 0; r < frame_row_count; ++r) kept[r] = r;
  }
  SystemMatrix s;
  s.grid = spec.grid;
  s.frame_samples = spec.frame_samples;
  s.channel_count = spec.channels.size();
  s.sample_rate_hz = spec.sample_rate_hz;
  const double step = spec.sample_rate_hz / static_cast<double>(spec.frame_samples);
  for (std::size_t r : kept) {
    s.frame_rows.push_back(r);
    s.channels.push_back(r / bins);
    s.bins.push_back(r % bins);
    s.frequencies_hz.push_back(static_cast<double>(r % bins) * step);
  }
  s.matrix.resize(static_cast<Eigen::Index>(kept.size()), static_cast<Eigen::Index>(spec.grid.voxels()));
  for_columns(spec, prepared, 1, [&](std::size_t, const ColumnEngine& engine, std::size_t j) {
    const std::vector<std::complex<double>>& spectrum = engine.spectrum();
    auto column = s.matrix.col(static_cast<Eigen::Index>(j));  // each thread writes its own columns
    for (std::size_t i = 0; i < kept.size(); ++i) column(static_cast<Eigen::Index>(i)) = spectrum[kept[i]];
  });
  return s;
}

Eigen::VectorXd model_row_energies(const ModelSystemMatrixSpec& spec, std::size_t voxel_stride) {
  if (voxel_stride == 0) throw std::invalid_argument("model row energies: voxel stride must be at least 1");
  const Prepared prepared = prepare(spec);
  const std::size_t frame_row_count = spec.channels.size() * (spec.frame_samples / 2 + 1);
  std::vector<Eigen::VectorXd> partial(std::max(1u, spec.threads), Eigen::VectorXd::Zero(static_cast<Eigen::Index>(frame_row_count)));
  std::vector<std::size_t> counted(partial.size(), 0);
  for_columns(spec, prepared, voxel_stride, [&](std::size_t t, const ColumnEngine& engine, std::size_t) {
    const std::vector<std::complex<double>>& spectrum = engine.spectrum();
    Eigen::VectorXd& sum = partial[t];
    for (std::size_t r = 0; r < frame_row_count; ++r) sum(static_cast<Eigen::Index>(r)) += std::norm(spectrum[r]);
    ++counted[t];
  });
  Eigen::VectorXd total = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(frame_row_count));
  std::size_t count = 0;
  for (std::size_t t = 0; t < partial.size(); ++t) {
    total += partial[t];
    count += counted[t];
  }
  return total / static_cast<double>(std::max<std::size_t>(1, count));
}

// --- calibration ---

CalibrationSystemMatrixBuilder::CalibrationSystemMatrixBuilder(const VoxelGrid& grid, std::size_t channel_count,
                                                               std::size_t frame_samples, double sample_rate_hz,
                                                               std::vector<std::size_t> rows) {
  validate(grid, "calibration system matrix");
  if (channel_count == 0) throw std::invalid_argument("calibration system matrix: no receive channels");
  if (frame_samples < 2) throw std::invalid_argument("calibration system matrix: a frame needs at least 2 samples");
  if (!(sample_rate_hz > 0.0 && std::isfinite(sample_rate_hz))) {
    throw std::invalid_argument("calibration system matrix: sample rate must be finite and positive");
  }
  const std::size_t bins = frame_samples / 2 + 1;
  check_rows(rows, channel_count * bins, "calibration system matrix");
  if (rows.empty()) {
    rows.resize(channel_count * bins);
    for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = r;
  }
  s_.grid = grid;
  s_.frame_samples = frame_samples;
  s_.channel_count = channel_count;
  s_.sample_rate_hz = sample_rate_hz;
  const double step = sample_rate_hz / static_cast<double>(frame_samples);
  for (std::size_t r : rows) {
    s_.frame_rows.push_back(r);
    s_.channels.push_back(r / bins);
    s_.bins.push_back(r % bins);
    s_.frequencies_hz.push_back(static_cast<double>(r % bins) * step);
  }
  s_.matrix = Eigen::MatrixXcd::Zero(static_cast<Eigen::Index>(rows.size()), static_cast<Eigen::Index>(grid.voxels()));
  filled_.assign(grid.voxels(), false);
  background_mean_ = Eigen::VectorXcd::Zero(static_cast<Eigen::Index>(rows.size()));
  background_m2_ = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(rows.size()));
}

void CalibrationSystemMatrixBuilder::check_spectrum(const Eigen::MatrixXcd& spectrum, const char* what) const {
  if (static_cast<std::size_t>(spectrum.cols()) != s_.channel_count || static_cast<std::size_t>(spectrum.rows()) != s_.frame_bins()) {
    throw std::invalid_argument(std::string("calibration system matrix: ") + what + " spectrum is " +
                                std::to_string(spectrum.rows()) + " x " + std::to_string(spectrum.cols()) + ", expected " +
                                std::to_string(s_.frame_bins()) + " bins x " + std::to_string(s_.channel_count) + " channels");
  }
  if (!spectrum.allFinite()) throw std::invalid_argument(std::string("calibration system matrix: ") + what + " spectrum is not finite");
}

void CalibrationSystemMatrixBuilder::add_background(const Eigen::MatrixXcd& spectrum) {
  check_spectrum(spectrum, "background");
  Eigen::VectorXcd b;
  s_.gather(spectrum, b);
  ++background_frames_;
  const Eigen::VectorXcd delta = b - background_mean_;
  background_mean_ += delta / static_cast<double>(background_frames_);
  background_m2_ += (delta.conjugate().cwiseProduct(b - background_mean_)).real();
}

void CalibrationSystemMatrixBuilder::add_position(std::size_t voxel, const Eigen::MatrixXcd& spectrum, double iron_kg) {
  check_spectrum(spectrum, "position");
  if (voxel >= s_.voxels()) {
    throw std::invalid_argument("calibration system matrix: voxel " + std::to_string(voxel) + " is out of range (" +
                                std::to_string(s_.voxels()) + " voxels)");
  }
  if (!(iron_kg > 0.0 && std::isfinite(iron_kg))) throw std::invalid_argument("calibration system matrix: iron mass must be positive");
  Eigen::VectorXcd u;
  s_.gather(spectrum, u);
  s_.matrix.col(static_cast<Eigen::Index>(voxel)) = (u - background_mean_) / iron_kg;
  filled_[voxel] = true;
  last_iron_kg_ = iron_kg;
}

void CalibrationSystemMatrixBuilder::add_position(std::size_t voxel, const Eigen::MatrixXcd& spectrum,
                                                  const Eigen::MatrixXcd& background, double iron_kg) {
  check_spectrum(background, "background");
  add_position(voxel, spectrum - background + [&] {
    // add_position subtracts the mean background; add it back so that only `background` is removed.
    Eigen::MatrixXcd mean = Eigen::MatrixXcd::Zero(spectrum.rows(), spectrum.cols());
    for (std::size_t i = 0; i < s_.rows(); ++i) {
      mean(static_cast<Eigen::Index>(s_.bins[i]), static_cast<Eigen::Index>(s_.channels[i])) = background_mean_(static_cast<Eigen::Index>(i));
    }
    return mean;
  }(), iron_kg);
}

Eigen::VectorXd CalibrationSystemMatrixBuilder::row_noise() const {
  if (background_frames_ < 2) throw std::logic_error("calibration system matrix: row noise needs at least 2 background frames");
  return (background_m2_ / static_cast<double>(background_frames_ - 1)).cwiseSqrt() / last_iron_kg_;
}

bool CalibrationSystemMatrixBuilder::complete() const noexcept {
  return std::all_of(filled_.begin(), filled_.end(), [](bool f) { return f; });
}

SystemMatrix CalibrationSystemMatrixBuilder::finish() const {
  for (std::size_t j = 0; j < filled_.size(); ++j) {
    if (!filled_[j]) throw std::logic_error("calibration system matrix: voxel " + std::to_string(j) + " has no spectrum yet");
  }
  return s_;
}

}  // namespace mpi::recon
