// Internal to FrameSpectrum (not installed with the public headers): the first stage of a prime-factor
// (Good-Thomas) real FFT of length N = p M with p an odd prime coprime to M. The samples, permuted so that
// row n1, column n2 holds sample (n1 M + n2 p) mod N, form p rows of M columns; this stage takes the
// p-point DFT down every column (real input, so only output rows 0..(p-1)/2 are kept, the rest being
// their complex conjugates). The M-point DFTs along the rows are then left to FFTW, and bin k of the whole
// frame is element (k mod p, k mod M) of the result: no twiddle factors between the stages.
//
// FFTW has no dedicated code for primes above 13 and falls back to an O(p^2) DFT per column or Rader's
// algorithm; here the p-point DFT runs over all columns at once in SIMD registers, using the symmetry of
// the real input (a_j = x_j + x_{p-j}, b_j = x_j - x_{p-j}), (p-1)^2/2 fused multiply-adds per column.
#pragma once

#include <cstddef>

namespace mpi::recon::detail {

// in: p rows of `lanes` values (row stride `lanes`). cos_sin: for k, j in 1..h-1 (h = (p+1)/2),
// cos_sin[2 ((k-1)(h-1) + (j-1))] = cos(2 pi j k / p) and the next value sin(2 pi j k / p).
// out: h rows of `lanes` complex values (interleaved real, imaginary):
// out[k][l] = sum_n x[n][l] exp(-2 pi i n k / p).
void real_dft_columns(const double* in, std::size_t p, std::size_t lanes, const double* cos_sin,
                      double* out) noexcept;
void real_dft_columns(const float* in, std::size_t p, std::size_t lanes, const float* cos_sin, float* out) noexcept;

// The largest prime p supported by real_dft_columns.
inline constexpr std::size_t kMaxColumnDftPrime = 61;

}  // namespace mpi::recon::detail
