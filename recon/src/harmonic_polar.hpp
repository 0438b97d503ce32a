// Internal to the harmonic tables (not installed with the public headers).
#pragma once

#include <cstddef>

namespace mpi::recon::detail {

// On entry amplitude[i], phase[i] hold the real and imaginary parts of value i; on exit its magnitude
// sqrt(re^2 + im^2) and its fast_atan2 phase (4 values at a time; AVX2/FMA chosen at load time where the CPU
// has it).
void polar_in_place(double* amplitude, double* phase, std::size_t n) noexcept;
// The magnitudes only: amplitude[i] = sqrt(amplitude[i]^2 + imag[i]^2) (vectorised).
void magnitude_in_place(double* amplitude, const double* imag, std::size_t n) noexcept;

}  // namespace mpi::recon::detail
