// Debye relaxation correction of receive signals (REFERENCE 1.2, 3.2 step 6). In the periodic steady state
// the Debye model tau dM/dt + M = M_eq turns each frequency f of the equilibrium signal into
// S(f) / (1 + j 2 pi f tau); the exact inverse multiplies every rFFT bin of a frame of whole drive periods
// by (1 + j 2 pi f tau), i.e. s_adiabatic = s + tau ds/dt. The derivative amplifies noise: bins above
// cutoff_hz are zeroed (a brick-wall low-pass; 0 keeps every bin up to Nyquist). Apply it to each channel
// before x-space gridding (the DC lost with the fundamental is unaffected: that bin is zero already).
#pragma once

#include "mpi/recon/real_fft.hpp"

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

namespace mpi::recon {

class DebyeCorrection {
 public:
  // Plans the transforms once. Throws std::invalid_argument for frame_samples < 2, a non-positive or
  // non-finite sample rate, a negative or non-finite tau or cutoff.
  DebyeCorrection(std::size_t frame_samples, double sample_rate_hz, double tau_s, double cutoff_hz = 0.0);

  // In place on one channel's frame (frame_samples values). No allocation. Not for two threads at once.
  // Throws std::invalid_argument on a size mismatch.
  void apply(std::span<double> signal);

  [[nodiscard]] std::size_t frame_samples() const noexcept { return fft_.size(); }

 private:
  RealFft fft_;
  std::vector<std::complex<double>> factor_;  // per bin: (1 + j 2 pi f tau), or 0 above the cutoff
  std::vector<std::complex<double>> bins_;
};

}  // namespace mpi::recon
