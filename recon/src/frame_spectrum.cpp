#include "mpi/recon/frame_spectrum.hpp"

#include "mpi/recon/real_fft.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpi::recon {

FrameGeometry FrameGeometry::periodic(std::size_t samples_per_period, std::size_t periods, std::size_t channels,
                                      double sample_rate_hz) {
  if (samples_per_period == 0 || periods == 0) {
    throw std::invalid_argument("FrameGeometry::periodic: samples_per_period (" + std::to_string(samples_per_period) +
                                ") and periods (" + std::to_string(periods) + ") must be positive");
  }
  FrameGeometry g;
  g.samples_per_frame = samples_per_period * periods;
  g.channels = channels;
  g.sample_rate_hz = sample_rate_hz;
  g.drive_frequencies_hz = {sample_rate_hz / static_cast<double>(samples_per_period)};
  return g;
}

FrameGeometry FrameGeometry::lissajous(std::span<const std::uint32_t> dividers, double base_clock_hz,
                                       double sample_rate_hz, std::size_t samples_per_frame, std::size_t channels) {
  if (!(base_clock_hz > 0.0) || !std::isfinite(base_clock_hz)) {
    throw std::invalid_argument("FrameGeometry::lissajous: base clock " + std::to_string(base_clock_hz) +
                                " Hz must be positive and finite");
  }
  FrameGeometry g;
  g.samples_per_frame = samples_per_frame;
  g.channels = channels;
  g.sample_rate_hz = sample_rate_hz;
  for (std::size_t d = 0; d < dividers.size(); ++d) {
    if (dividers[d] == 0) {
      throw std::invalid_argument("FrameGeometry::lissajous: divider " + std::to_string(d) + " is zero");
    }
    g.drive_frequencies_hz.push_back(base_clock_hz / static_cast<double>(dividers[d]));
  }
  return g;
}

std::vector<std::size_t> drive_bins(const FrameGeometry& g) {
  if (g.samples_per_frame == 0) throw std::invalid_argument("FrameGeometry: samples_per_frame must be positive");
  if (g.samples_per_frame > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("FrameGeometry: samples_per_frame " + std::to_string(g.samples_per_frame) +
                                " exceeds FFTW's int range");
  }
  if (g.channels == 0) throw std::invalid_argument("FrameGeometry: channels must be positive");
  if (!(g.sample_rate_hz > 0.0) || !std::isfinite(g.sample_rate_hz)) {
    throw std::invalid_argument("FrameGeometry: sample rate " + std::to_string(g.sample_rate_hz) +
                                " Hz must be positive and finite");
  }
  if (g.drive_frequencies_hz.empty()) throw std::invalid_argument("FrameGeometry: no drive frequency given");
  const std::size_t nyquist = g.samples_per_frame / 2;
  std::vector<std::size_t> bins;
  bins.reserve(g.drive_frequencies_hz.size());
  for (std::size_t d = 0; d < g.drive_frequencies_hz.size(); ++d) {
    const double f = g.drive_frequencies_hz[d];
    if (!(f > 0.0) || !std::isfinite(f)) {
      throw std::invalid_argument("FrameGeometry: drive " + std::to_string(d) + " frequency " + std::to_string(f) +
                                  " Hz must be positive and finite");
    }
    const double cycles = f * static_cast<double>(g.samples_per_frame) / g.sample_rate_hz;
    const double whole = std::round(cycles);
    if (std::abs(cycles - whole) > 1e-9 * std::max(1.0, cycles) || whole < 1.0) {
      throw std::invalid_argument("FrameGeometry: drive " + std::to_string(d) + " at " + std::to_string(f) +
                                  " Hz completes " + std::to_string(cycles) + " cycles in a frame of " +
                                  std::to_string(g.samples_per_frame) + " samples at " +
                                  std::to_string(g.sample_rate_hz) +
                                  " Hz: a frame must hold a whole number of drive cycles");
    }
    const auto bin = static_cast<std::size_t>(whole);
    if (bin > nyquist) {
      throw std::invalid_argument("FrameGeometry: drive " + std::to_string(d) + " (bin " + std::to_string(bin) +
                                  ") lies above the Nyquist bin " + std::to_string(nyquist));
    }
    bins.push_back(bin);
  }
  return bins;
}

double frame_centre_sample(std::uint64_t first_sample, std::size_t samples_per_frame) noexcept {
  return static_cast<double>(first_sample) + 0.5 * (static_cast<double>(samples_per_frame) - 1.0);
}

FrameSpectrum::FrameSpectrum(FrameGeometry geometry, FftPlanning planning)
    : geometry_(std::move(geometry)), drive_bins_(drive_bins(geometry_)) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  if (c > static_cast<std::size_t>(std::numeric_limits<int>::max()) / n) {
    throw std::invalid_argument("FrameSpectrum: " + std::to_string(c) + " channels of " + std::to_string(n) +
                                " samples exceed FFTW's int range");
  }
  spectrum_ = Matrix::Zero(static_cast<Eigen::Index>(bins()), static_cast<Eigen::Index>(c));
  time_ = static_cast<double*>(fftw_malloc(sizeof(double) * n * c));
  if (time_ == nullptr) throw std::bad_alloc();
  int len = static_cast<int>(n);
  const unsigned flags = (planning == FftPlanning::measure ? FFTW_MEASURE : FFTW_ESTIMATE);
  {
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    // One batched plan: channel c reads time_[c * n ..] and writes spectrum_ column c.
    plan_ = fftw_plan_many_dft_r2c(1, &len, static_cast<int>(c), time_, nullptr, 1, len,
                                   reinterpret_cast<fftw_complex*>(spectrum_.data()), nullptr, 1,
                                   static_cast<int>(bins()), flags);
  }
  if (plan_ == nullptr) {
    release();
    throw std::runtime_error("FrameSpectrum: FFTW could not plan " + std::to_string(c) + " transforms of " +
                             std::to_string(n) + " samples");
  }
  spectrum_.setZero();  // FFTW_MEASURE scribbles on the arrays while planning
}

FrameSpectrum::~FrameSpectrum() { release(); }

FrameSpectrum::FrameSpectrum(FrameSpectrum&& other) noexcept
    : geometry_(std::move(other.geometry_)),
      drive_bins_(std::move(other.drive_bins_)),
      time_(std::exchange(other.time_, nullptr)),
      spectrum_(std::move(other.spectrum_)),  // moves the buffer the plan writes to
      plan_(std::exchange(other.plan_, nullptr)) {}

FrameSpectrum& FrameSpectrum::operator=(FrameSpectrum&& other) noexcept {
  if (this != &other) {
    release();
    geometry_ = std::move(other.geometry_);
    drive_bins_ = std::move(other.drive_bins_);
    time_ = std::exchange(other.time_, nullptr);
    spectrum_.swap(other.spectrum_);
    plan_ = std::exchange(other.plan_, nullptr);
  }
  return *this;
}

void FrameSpectrum::release() noexcept {
  if (plan_ != nullptr) {
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftw_destroy_plan(static_cast<fftw_plan>(plan_));
  }
  plan_ = nullptr;
  fftw_free(time_);
  time_ = nullptr;
}

namespace {

void check_samples(const char* where, std::size_t got, std::size_t n, std::size_t c) {
  if (got != n * c) {
    throw std::invalid_argument(std::string("FrameSpectrum::") + where + ": expected " + std::to_string(n * c) +
                                " samples (" + std::to_string(n) + " x " + std::to_string(c) +
                                " channels), got " + std::to_string(got));
  }
}

}  // namespace

FrameSpectrum::Matrix& FrameSpectrum::transform(std::span<const std::int16_t> codes, double volts_per_code) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  check_samples("transform(int16)", codes.size(), n, c);
  if (!std::isfinite(volts_per_code)) {
    throw std::invalid_argument("FrameSpectrum::transform(int16): volts_per_code is not finite");
  }
  const double scale = 2.0 * volts_per_code / static_cast<double>(n);  // volts and the 2/N of the amplitudes
  for (std::size_t ch = 0; ch < c; ++ch) {
    double* out = time_ + ch * n;
    const std::int16_t* in = codes.data() + ch;
    for (std::size_t j = 0; j < n; ++j) out[j] = scale * static_cast<double>(in[j * c]);
  }
  execute_and_fix_edges();
  return spectrum_;
}

FrameSpectrum::Matrix& FrameSpectrum::transform(std::span<const std::int16_t> codes,
                                                      std::span<const double> volts_per_code) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  check_samples("transform(int16)", codes.size(), n, c);
  if (volts_per_code.size() != c) {
    throw std::invalid_argument("FrameSpectrum::transform(int16): " + std::to_string(volts_per_code.size()) +
                                " volts_per_code factors for " + std::to_string(c) + " channels");
  }
  for (std::size_t ch = 0; ch < c; ++ch) {
    if (!std::isfinite(volts_per_code[ch])) {
      throw std::invalid_argument("FrameSpectrum::transform(int16): volts_per_code of channel " +
                                  std::to_string(ch) + " is not finite");
    }
  }
  for (std::size_t ch = 0; ch < c; ++ch) {
    const double scale = 2.0 * volts_per_code[ch] / static_cast<double>(n);
    double* out = time_ + ch * n;
    const std::int16_t* in = codes.data() + ch;
    for (std::size_t j = 0; j < n; ++j) out[j] = scale * static_cast<double>(in[j * c]);
  }
  execute_and_fix_edges();
  return spectrum_;
}

FrameSpectrum::Matrix& FrameSpectrum::transform(std::span<const double> volts) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  check_samples("transform(double)", volts.size(), n, c);
  const double scale = 2.0 / static_cast<double>(n);
  for (std::size_t ch = 0; ch < c; ++ch) {
    double* out = time_ + ch * n;
    const double* in = volts.data() + ch;
    for (std::size_t j = 0; j < n; ++j) out[j] = scale * in[j * c];
  }
  execute_and_fix_edges();
  return spectrum_;
}

FrameSpectrum::Matrix& FrameSpectrum::transform_channels(const Eigen::Ref<const Eigen::MatrixXd>& samples) {
  const auto n = static_cast<Eigen::Index>(geometry_.samples_per_frame);
  const auto c = static_cast<Eigen::Index>(geometry_.channels);
  if (samples.rows() != n || samples.cols() != c) {
    throw std::invalid_argument("FrameSpectrum::transform_channels: expected " + std::to_string(n) + " x " +
                                std::to_string(c) + " samples x channels, got " + std::to_string(samples.rows()) +
                                " x " + std::to_string(samples.cols()));
  }
  Eigen::Map<Eigen::MatrixXd>(time_, n, c) = (2.0 / static_cast<double>(n)) * samples;
  execute_and_fix_edges();
  return spectrum_;
}

// The input was scaled by 2/N before the transform (one pass over the samples instead of one over the bins);
// bin 0 and, for even N, bin N/2 take 1/N.
void FrameSpectrum::execute_and_fix_edges() {
  const std::size_t n = geometry_.samples_per_frame;
  fftw_execute(static_cast<fftw_plan>(plan_));
  spectrum_.row(0) *= 0.5;
  if (n % 2 == 0) spectrum_.row(static_cast<Eigen::Index>(n / 2)) *= 0.5;
}

}  // namespace mpi::recon
