// A real-to-complex FFT of fixed length on FFTW (double precision).
#pragma once

#include <complex>
#include <cstddef>
#include <mutex>
#include <span>

namespace mpi::recon {

// FFTW's planner is not thread-safe: every creation or destruction of an FFTW plan in the process must
// hold this mutex. RealFft does; other FFTW users in the project must lock it too.
std::mutex& fftw_planner_mutex() noexcept;

// rFFT of n real points to n/2 + 1 complex bins, X[k] = sum_j x[j] exp(-2 pi i j k / n), and its inverse
// normalised so that inverse(forward(x)) == x. Owns its plans and aligned buffers; movable, not copyable.
// One instance must not be used from two threads at once (the transforms go through its buffers).
class RealFft {
 public:
  explicit RealFft(std::size_t n);
  ~RealFft();
  RealFft(RealFft&& other) noexcept;
  RealFft& operator=(RealFft&& other) noexcept;
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return n_; }
  [[nodiscard]] std::size_t bins() const noexcept { return n_ / 2 + 1; }

  // in: size() samples; out: bins() values. Throws std::invalid_argument on other sizes.
  void forward(std::span<const double> in, std::span<std::complex<double>> out);
  // in: bins() values (the imaginary parts of bin 0 and, for even n, bin n/2 are ignored); out: size()
  // samples, scaled by 1/n. Throws std::invalid_argument on other sizes.
  void inverse(std::span<const std::complex<double>> in, std::span<double> out);

 private:
  void release() noexcept;

  std::size_t n_ = 0;
  double* real_ = nullptr;     // fftw_malloc'd, n
  void* complex_ = nullptr;    // fftw_complex[n/2 + 1]
  void* forward_plan_ = nullptr;
  void* inverse_plan_ = nullptr;
};

}  // namespace mpi::recon
