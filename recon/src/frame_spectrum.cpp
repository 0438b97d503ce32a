#include "mpi/recon/frame_spectrum.hpp"

#include "mpi/recon/real_fft.hpp"
#include "prime_factor_stage.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <mutex>
#include <new>
#include <numbers>
#include <stdexcept>
#include <string>
#include <type_traits>
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

std::size_t prime_factor_split(std::size_t n) noexcept {
  std::size_t largest = 0;
  std::size_t rest = n;
  for (std::size_t f = 2; f * f <= rest; ++f) {
    while (rest % f == 0) {
      largest = f;
      rest /= f;
    }
  }
  if (rest > 1) largest = rest;
  if (largest < 17 || largest > detail::kMaxColumnDftPrime) return 0;
  const std::size_t m = n / largest;
  if (m % largest == 0 || m < 8) return 0;
  return largest;
}

// The prime-factor split (prime_factor_stage.hpp): the time buffer holds each channel in its natural order,
// read as p rows of m samples; the p-point column DFTs (with the twiddle factors) write rows 0..h-1
// (h = (p + 1) / 2) of complex values to rows (channel c at c h m); FFTW then transforms those rows in
// place; row k1 column k2 is bin k1 + p k2, so bin k is element out_index[k] of the channel's rows,
// conjugated where conj_sign[k] is -1.
struct FrameSpectrum::PrimeSplit {
  std::size_t p = 0;
  std::size_t m = 0;
  std::size_t h = 0;
  std::vector<std::uint32_t> out_index;
  std::vector<double> conj_sign;
  std::vector<double> cos_sin;
  std::vector<float> cos_sin_f;
  std::vector<double> twiddle;  // see detail::real_dft_columns
  std::vector<float> twiddle_f;
  void* rows = nullptr;  // fftw_malloc'd (double) or fftwf_malloc'd (float): channels x h x m complex
};

FrameSpectrum::FrameSpectrum(FrameGeometry geometry, FftPlanning planning, FftPrecision precision,
                             FftAlgorithm algorithm)
    : geometry_(std::move(geometry)), drive_bins_(drive_bins(geometry_)), precision_(precision) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  if (c > static_cast<std::size_t>(std::numeric_limits<int>::max()) / n) {
    throw std::invalid_argument("FrameSpectrum: " + std::to_string(c) + " channels of " + std::to_string(n) +
                                " samples exceed FFTW's int range");
  }
  spectrum_ = Matrix::Zero(static_cast<Eigen::Index>(bins()), static_cast<Eigen::Index>(c));
  int len = static_cast<int>(n);
  const int howmany = static_cast<int>(c);
  const int out_stride = static_cast<int>(bins());
  const unsigned flags = planning == FftPlanning::patient   ? FFTW_PATIENT
                         : planning == FftPlanning::measure ? FFTW_MEASURE
                                                            : FFTW_ESTIMATE;
  const bool single = precision_ == FftPrecision::single_precision;
  const std::size_t p = algorithm == FftAlgorithm::automatic ? prime_factor_split(n) : 0;
  if (p != 0) {
    split_ = std::make_unique<PrimeSplit>();
    PrimeSplit& sp = *split_;
    sp.p = p;
    sp.m = n / p;
    sp.h = (p + 1) / 2;
    sp.out_index.resize(bins());
    sp.conj_sign.resize(bins());
    for (std::size_t k = 0; k < bins(); ++k) {
      const bool conj = k % p >= sp.h;  // X[k] = conj(X[n - k])
      const std::size_t kk = conj ? n - k : k;
      sp.out_index[k] = static_cast<std::uint32_t>((kk % p) * sp.m + kk / p);
      sp.conj_sign[k] = conj ? -1.0 : 1.0;
    }
    const std::size_t pairs = sp.h - 1;
    for (std::size_t k = 1; k <= pairs; ++k) {
      for (std::size_t j = 1; j <= pairs; ++j) {
        const double angle = 2.0 * std::numbers::pi * static_cast<double>((j * k) % p) / static_cast<double>(p);
        sp.cos_sin.push_back(std::cos(angle));
        sp.cos_sin.push_back(std::sin(angle));
      }
    }
    sp.cos_sin_f.assign(sp.cos_sin.begin(), sp.cos_sin.end());
    sp.twiddle.resize(2 * pairs * sp.m);
    for (std::size_t k = 1; k <= pairs; ++k) {
      for (std::size_t col = 0; col < sp.m; ++col) {
        const double angle = 2.0 * std::numbers::pi * static_cast<double>((col * k) % n) / static_cast<double>(n);
        sp.twiddle[2 * (k - 1) * sp.m + col] = std::cos(angle);
        sp.twiddle[(2 * k - 1) * sp.m + col] = -std::sin(angle);
      }
    }
    sp.twiddle_f.assign(sp.twiddle.begin(), sp.twiddle.end());
    const std::size_t rows = c * sp.h * sp.m;
    if (single) {
      time_f_ = static_cast<float*>(fftwf_malloc(sizeof(float) * n * c));
      sp.rows = fftwf_malloc(sizeof(fftwf_complex) * rows);
    } else {
      time_ = static_cast<double*>(fftw_malloc(sizeof(double) * n * c));
      sp.rows = fftw_malloc(sizeof(fftw_complex) * rows);
    }
    if ((time_ == nullptr && time_f_ == nullptr) || sp.rows == nullptr) {
      release();
      throw std::bad_alloc();
    }
    int m = static_cast<int>(sp.m);
    const int many = static_cast<int>(c * sp.h);
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (single) {
      auto* z = static_cast<fftwf_complex*>(sp.rows);
      plan_ = fftwf_plan_many_dft(1, &m, many, z, nullptr, 1, m, z, nullptr, 1, m, FFTW_FORWARD, flags);
    } else {
      auto* z = static_cast<fftw_complex*>(sp.rows);
      plan_ = fftw_plan_many_dft(1, &m, many, z, nullptr, 1, m, z, nullptr, 1, m, FFTW_FORWARD, flags);
    }
  } else if (single) {
    time_f_ = static_cast<float*>(fftwf_malloc(sizeof(float) * n * c));
    out_f_ = fftwf_malloc(sizeof(fftwf_complex) * bins() * c);
    if (time_f_ == nullptr || out_f_ == nullptr) {
      release();
      throw std::bad_alloc();
    }
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    plan_ = fftwf_plan_many_dft_r2c(1, &len, howmany, time_f_, nullptr, 1, len, static_cast<fftwf_complex*>(out_f_),
                                    nullptr, 1, out_stride, flags);
  } else {
    time_ = static_cast<double*>(fftw_malloc(sizeof(double) * n * c));
    if (time_ == nullptr) throw std::bad_alloc();
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    // One batched plan: channel c reads time_[c * n ..] and writes spectrum_ column c.
    plan_ = fftw_plan_many_dft_r2c(1, &len, howmany, time_, nullptr, 1, len,
                                   reinterpret_cast<fftw_complex*>(spectrum_.data()), nullptr, 1, out_stride, flags);
  }
  if (plan_ == nullptr) {
    release();
    throw std::runtime_error("FrameSpectrum: FFTW could not plan " + std::to_string(c) + " transforms of " +
                             std::to_string(n) + " samples");
  }
  spectrum_.setZero();  // FFTW_MEASURE scribbles on the arrays while planning
}

std::size_t FrameSpectrum::split_prime() const noexcept { return split_ ? split_->p : 0; }

FrameSpectrum::~FrameSpectrum() { release(); }

FrameSpectrum::FrameSpectrum(FrameSpectrum&& other) noexcept
    : geometry_(std::move(other.geometry_)),
      drive_bins_(std::move(other.drive_bins_)),
      precision_(other.precision_),
      time_(std::exchange(other.time_, nullptr)),
      time_f_(std::exchange(other.time_f_, nullptr)),
      out_f_(std::exchange(other.out_f_, nullptr)),
      spectrum_(std::move(other.spectrum_)),  // moves the buffer the plan writes to
      plan_(std::exchange(other.plan_, nullptr)),
      split_(std::move(other.split_)),
      unread_(std::exchange(other.unread_, false)) {}

FrameSpectrum& FrameSpectrum::operator=(FrameSpectrum&& other) noexcept {
  if (this != &other) {
    release();
    geometry_ = std::move(other.geometry_);
    drive_bins_ = std::move(other.drive_bins_);
    precision_ = other.precision_;
    time_ = std::exchange(other.time_, nullptr);
    time_f_ = std::exchange(other.time_f_, nullptr);
    out_f_ = std::exchange(other.out_f_, nullptr);
    spectrum_.swap(other.spectrum_);
    plan_ = std::exchange(other.plan_, nullptr);
    split_ = std::move(other.split_);
    unread_ = std::exchange(other.unread_, false);
  }
  return *this;
}

void FrameSpectrum::release() noexcept {
  if (plan_ != nullptr) {
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (precision_ == FftPrecision::single_precision) {
      fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
    } else {
      fftw_destroy_plan(static_cast<fftw_plan>(plan_));
    }
  }
  plan_ = nullptr;
  fftw_free(time_);
  time_ = nullptr;
  fftwf_free(time_f_);
  time_f_ = nullptr;
  fftwf_free(out_f_);
  out_f_ = nullptr;
  if (split_) {
    if (precision_ == FftPrecision::single_precision) {
      fftwf_free(split_->rows);
    } else {
      fftw_free(split_->rows);
    }
    split_.reset();
  }
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

template <class Sample>
void FrameSpectrum::fill_and_transform(Sample sample, bool read_out) {
  const std::size_t n = geometry_.samples_per_frame;
  auto fill = [&](auto* time) {
    using T = std::remove_pointer_t<decltype(time)>;
    const std::size_t channels = geometry_.channels;
    if (channels == 3) {  // the board's three receive channels: a sample's channels together
      for (std::size_t j = 0; j < n; ++j) {
        time[j] = static_cast<T>(sample(0, j));
        time[n + j] = static_cast<T>(sample(1, j));
        time[2 * n + j] = static_cast<T>(sample(2, j));
      }
    } else {
      for (std::size_t ch = 0; ch < channels; ++ch) {
        T* out = time + ch * n;
        for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<T>(sample(ch, j));
      }
    }
  };
  if (precision_ == FftPrecision::single_precision) {
    fill(time_f_);
  } else {
    fill(time_);
  }
  execute(read_out);
}

void FrameSpectrum::transform_int16(std::span<const std::int16_t> codes, double volts_per_code, bool read_out) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  check_samples(read_out ? "transform(int16)" : "transform_unread(int16)", codes.size(), n, c);
  if (!std::isfinite(volts_per_code)) {
    throw std::invalid_argument(std::string("FrameSpectrum::") + (read_out ? "transform" : "transform_unread") +
                                "(int16): volts_per_code is not finite");
  }
  const double scale = 2.0 * volts_per_code / static_cast<double>(n);  // volts and the 2/N of the amplitudes
  const std::int16_t* in = codes.data();
  if (c == 3 && precision_ == FftPrecision::single_precision) {
    // The board's format straight into the float channel rows (vectorised).
    detail::deinterleave_int16x3(in, n, static_cast<float>(scale), time_f_);
    execute(read_out);
  } else if (c == 3) {  // the board's three receive channels: a constant stride the compiler can use
    fill_and_transform([=](std::size_t ch, std::size_t j) { return scale * static_cast<double>(in[j * 3 + ch]); },
                       read_out);
  } else {
    fill_and_transform([=](std::size_t ch, std::size_t j) { return scale * static_cast<double>(in[j * c + ch]); },
                       read_out);
  }
}

FrameSpectrum::Matrix& FrameSpectrum::transform(std::span<const std::int16_t> codes, double volts_per_code) {
  transform_int16(codes, volts_per_code, true);
  return spectrum_;
}

void FrameSpectrum::transform_unread(std::span<const std::int16_t> codes, double volts_per_code) {
  transform_int16(codes, volts_per_code, false);
}

FrameSpectrum::BinSelection FrameSpectrum::select_bins(std::span<const std::size_t> bins) const {
  const std::size_t n = geometry_.samples_per_frame;
  BinSelection s;
  s.samples_ = n;
  s.channels_ = geometry_.channels;
  s.split_prime_ = split_prime();
  s.precision_ = precision_;
  s.bins_.assign(bins.begin(), bins.end());
  s.offset_.reserve(bins.size());
  s.re_scale_.reserve(bins.size());
  s.im_scale_.reserve(bins.size());
  for (std::size_t i = 0; i < bins.size(); ++i) {
    const std::size_t k = bins[i];
    if (k > n / 2) {
      throw std::invalid_argument("FrameSpectrum::select_bins: bin " + std::to_string(k) + " (entry " +
                                  std::to_string(i) + ") lies above the Nyquist bin " + std::to_string(n / 2));
    }
    const double edge = (k == 0 || 2 * k == n) ? 0.5 : 1.0;
    s.offset_.push_back(split_ ? split_->out_index[k] : static_cast<std::uint32_t>(k));
    s.re_scale_.push_back(edge);
    s.im_scale_.push_back(split_ ? edge * split_->conj_sign[k] : edge);
  }
  return s;
}

void FrameSpectrum::read_bins(const BinSelection& s, Eigen::MatrixXcd& out) const {
  if (!unread_) {
    throw std::logic_error("FrameSpectrum::read_bins: the last transform was not transform_unread()");
  }
  if (s.samples_ != geometry_.samples_per_frame || s.channels_ != geometry_.channels ||
      s.split_prime_ != split_prime() || s.precision_ != precision_) {
    throw std::invalid_argument("FrameSpectrum::read_bins: the selection was made for frames of " +
                                std::to_string(s.samples_) + " samples x " + std::to_string(s.channels_) +
                                " channels (split prime " + std::to_string(s.split_prime_) + "), this transform is " +
                                std::to_string(geometry_.samples_per_frame) + " x " +
                                std::to_string(geometry_.channels) + " (split prime " +
                                std::to_string(split_prime()) + ") or of another precision");
  }
  const auto rows = static_cast<Eigen::Index>(s.size());
  const auto cols = static_cast<Eigen::Index>(geometry_.channels);
  if (out.rows() != rows || out.cols() != cols) out.resize(rows, cols);
  // Complex elements per channel in the result buffer.
  const std::size_t stride = split_ ? split_->h * split_->m : bins();
  auto read = [&](const auto* base) {
    const std::uint32_t* offset = s.offset_.data();
    const double* re = s.re_scale_.data();
    const double* im = s.im_scale_.data();
    for (std::size_t ch = 0; ch < geometry_.channels; ++ch) {
      const auto* z = base + 2 * ch * stride;
      std::complex<double>* o = out.col(static_cast<Eigen::Index>(ch)).data();
      for (std::size_t i = 0; i < s.size(); ++i) {
        const auto* v = z + 2 * std::size_t{offset[i]};
        o[i] = {re[i] * static_cast<double>(v[0]), im[i] * static_cast<double>(v[1])};
      }
    }
  };
  const bool single = precision_ == FftPrecision::single_precision;
  if (split_) {
    if (single) {
      read(static_cast<const float*>(split_->rows));
    } else {
      read(static_cast<const double*>(split_->rows));
    }
  } else if (single) {
    read(static_cast<const float*>(out_f_));
  } else {
    read(reinterpret_cast<const double*>(spectrum_.data()));
  }
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
  const double inv_n = 2.0 / static_cast<double>(n);
  const std::int16_t* in = codes.data();
  const double* vpc = volts_per_code.data();
  fill_and_transform(
      [=](std::size_t ch, std::size_t j) { return inv_n * vpc[ch] * static_cast<double>(in[j * c + ch]); });
  return spectrum_;
}

FrameSpectrum::Matrix& FrameSpectrum::transform(std::span<const double> volts) {
  const std::size_t n = geometry_.samples_per_frame;
  const std::size_t c = geometry_.channels;
  check_samples("transform(double)", volts.size(), n, c);
  const double scale = 2.0 / static_cast<double>(n);
  const double* in = volts.data();
  fill_and_transform([=](std::size_t ch, std::size_t j) { return scale * in[j * c + ch]; });
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
  const double scale = 2.0 / static_cast<double>(n);
  fill_and_transform([&](std::size_t ch, std::size_t j) {
    return scale * samples(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(ch));
  });
  return spectrum_;
}

// The input was scaled by 2/N before the transform (one pass over the samples instead of one over the bins);
// bin 0 and, for even N, bin N/2 take 1/N. Single precision widens to the double spectrum here.
void FrameSpectrum::execute(bool read_out) {
  unread_ = !read_out;
  const std::size_t n = geometry_.samples_per_frame;
  const bool single = precision_ == FftPrecision::single_precision;
  if (split_) {
    const PrimeSplit& sp = *split_;
    const std::size_t rows = sp.h * sp.m;
    auto run = [&](auto* time, auto* z, const auto& cos_sin, const auto& twiddle) {
      for (std::size_t ch = 0; ch < geometry_.channels; ++ch) {
        detail::real_dft_columns(time + ch * n, sp.p, sp.m, cos_sin.data(), twiddle.data(), z + 2 * ch * rows);
      }
      if (single) {
        fftwf_execute(static_cast<fftwf_plan>(plan_));
      } else {
        fftw_execute(static_cast<fftw_plan>(plan_));
      }
      if (!read_out) return;
      const std::uint32_t* index = sp.out_index.data();
      const double* sign = sp.conj_sign.data();
      const std::size_t nb = bins();
      for (std::size_t ch = 0; ch < geometry_.channels; ++ch) {
        const auto* zc = z + 2 * ch * rows;
        std::complex<double>* out = spectrum_.col(static_cast<Eigen::Index>(ch)).data();
        for (std::size_t k = 0; k < nb; ++k) {
          const auto* v = zc + 2 * std::size_t{index[k]};
          out[k] = {static_cast<double>(v[0]), sign[k] * static_cast<double>(v[1])};
        }
      }
    };
    if (single) {
      run(time_f_, static_cast<float*>(sp.rows), sp.cos_sin_f, sp.twiddle_f);
    } else {
      run(time_, static_cast<double*>(sp.rows), sp.cos_sin, sp.twiddle);
    }
    if (!read_out) return;
  } else if (single) {
    fftwf_execute(static_cast<fftwf_plan>(plan_));
    if (!read_out) return;
    const auto rows = static_cast<Eigen::Index>(bins());
    const auto cols = static_cast<Eigen::Index>(geometry_.channels);
    spectrum_ = Eigen::Map<const Eigen::MatrixXcf>(static_cast<const std::complex<float>*>(out_f_), rows, cols)
                    .cast<std::complex<double>>();
  } else {
    fftw_execute(static_cast<fftw_plan>(plan_));
    if (!read_out) return;
  }
  spectrum_.row(0) *= 0.5;
  if (n % 2 == 0) spectrum_.row(static_cast<Eigen::Index>(n / 2)) *= 0.5;
}

}  // namespace mpi::recon
