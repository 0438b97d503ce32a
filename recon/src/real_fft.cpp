#include "mpi/recon/real_fft.hpp"

#include <fftw3.h>

#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpi::recon {

std::mutex& fftw_planner_mutex() noexcept {
  static std::mutex mutex;
  return mutex;
}

RealFft::RealFft(std::size_t n) : n_(n) {
  if (n == 0) throw std::invalid_argument("RealFft: transform length must be positive");
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("RealFft: transform length " + std::to_string(n) + " exceeds FFTW's int range");
  }
  real_ = static_cast<double*>(fftw_malloc(sizeof(double) * n));
  complex_ = fftw_malloc(sizeof(fftw_complex) * bins());
  if (real_ == nullptr || complex_ == nullptr) {
    release();
    throw std::bad_alloc();
  }
  auto* c = static_cast<fftw_complex*>(complex_);
  const int len = static_cast<int>(n);
  {
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    forward_plan_ = fftw_plan_dft_r2c_1d(len, real_, c, FFTW_ESTIMATE);
    inverse_plan_ = fftw_plan_dft_c2r_1d(len, c, real_, FFTW_ESTIMATE);
  }
  if (forward_plan_ == nullptr || inverse_plan_ == nullptr) {
    release();
    throw std::runtime_error("RealFft: FFTW could not plan a transform of length " + std::to_string(n));
  }
}

RealFft::~RealFft() { release(); }

RealFft::RealFft(RealFft&& other) noexcept
    : n_(std::exchange(other.n_, 0)),
      real_(std::exchange(other.real_, nullptr)),
      complex_(std::exchange(other.complex_, nullptr)),
      forward_plan_(std::exchange(other.forward_plan_, nullptr)),
      inverse_plan_(std::exchange(other.inverse_plan_, nullptr)) {}

RealFft& RealFft::operator=(RealFft&& other) noexcept {
  if (this != &other) {
    release();
    n_ = std::exchange(other.n_, 0);
    real_ = std::exchange(other.real_, nullptr);
    complex_ = std::exchange(other.complex_, nullptr);
    forward_plan_ = std::exchange(other.forward_plan_, nullptr);
    inverse_plan_ = std::exchange(other.inverse_plan_, nullptr);
  }
  return *this;
}

void RealFft::release() noexcept {
  if (forward_plan_ != nullptr || inverse_plan_ != nullptr) {
    const std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (forward_plan_ != nullptr) fftw_destroy_plan(static_cast<fftw_plan>(forward_plan_));
    if (inverse_plan_ != nullptr) fftw_destroy_plan(static_cast<fftw_plan>(inverse_plan_));
  }
  forward_plan_ = nullptr;
  inverse_plan_ = nullptr;
  fftw_free(real_);
  fftw_free(complex_);
  real_ = nullptr;
  complex_ = nullptr;
}

void RealFft::forward(std::span<const double> in, std::span<std::complex<double>> out) {
  if (in.size() != n_ || out.size() != bins()) {
    throw std::invalid_argument("RealFft::forward: expected " + std::to_string(n_) + " samples in and " +
                                std::to_string(bins()) + " bins out, got " + std::to_string(in.size()) +
                                " and " + std::to_string(out.size()));
  }
  for (std::size_t j = 0; j < n_; ++j) real_[j] = in[j];
  fftw_execute(static_cast<fftw_plan>(forward_plan_));
  const auto* c = static_cast<const fftw_complex*>(complex_);
  for (std::size_t k = 0; k < bins(); ++k) out[k] = {c[k][0], c[k][1]};
}

void RealFft::inverse(std::span<const std::complex<double>> in, std::span<double> out) {
  if (in.size() != bins() || out.size() != n_) {
    throw std::invalid_argument("RealFft::inverse: expected " + std::to_string(bins()) + " bins in and " +
                                std::to_string(n_) + " samples out, got " + std::to_string(in.size()) +
                                " and " + std::to_string(out.size()));
  }
  auto* c = static_cast<fftw_complex*>(complex_);
  for (std::size_t k = 0; k < bins(); ++k) {
    c[k][0] = in[k].real();
    c[k][1] = in[k].imag();
  }
  fftw_execute(static_cast<fftw_plan>(inverse_plan_));
  const double scale = 1.0 / static_cast<double>(n_);
  for (std::size_t j = 0; j < n_; ++j) out[j] = real_[j] * scale;
}

}  // namespace mpi::recon
