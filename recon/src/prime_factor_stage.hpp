// Internal to FrameSpectrum (not installed with the public headers): the first stage of a mixed-radix
// (Cooley-Tukey) real FFT of length N = p M with p an odd prime. The samples in their natural order form p
// rows of M columns (row t, column c: sample t M + c); this stage takes the p-point DFT down every column
// (real input, so only output rows 0..(p-1)/2 are kept, the rest being their complex conjugates) and
// multiplies row k1, column c by the twiddle factor exp(-2 pi i c k1 / N). The M-point DFTs along the rows
// are then left to FFTW, and element (k1, k2) of the result is bin k1 + p k2.
//
// FFTW has no dedicated code for primes above 13 and falls back to an O(p^2) DFT per column or Rader's
// algorithm; here the p-point DFT runs over all columns at once in SIMD registers, using the symmetry of
// the real input (a_j = x_j + x_{p-j}, b_j = x_j - x_{p-j}), (p-1)^2/2 fused multiply-adds per column, and
// the input needs no reordering (a Good-Thomas split would avoid the twiddle factors but needs the samples
// permuted, a gather that costs more than the twiddles).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpi::recon::detail {

// in: p rows of `lanes` values (row stride `lanes`). cos_sin: for k, j in 1..h-1 (h = (p+1)/2),
// cos_sin[2 ((k-1)(h-1) + (j-1))] = cos(2 pi j k / p) and the next value sin(2 pi j k / p).
// twiddle: for k in 1..h-1, the real parts of row k's twiddle factors (lanes values) at
// twiddle[2 (k-1) lanes], then their imaginary parts at twiddle[(2k-1) lanes].
// out: h rows of `lanes` complex values (interleaved real, imaginary):
// out[k][l] = twiddle_k[l] sum_n x[n][l] exp(-2 pi i n k / p) (row 0 without twiddle).
void real_dft_columns(const double* in, std::size_t p, std::size_t lanes, const double* cos_sin,
                      const double* twiddle, double* out) noexcept;
void real_dft_columns(const float* in, std::size_t p, std::size_t lanes, const float* cos_sin, const float* twiddle,
                      float* out) noexcept;

// The board's frame format as channel rows: out[c n + j] = scale * codes[3 j + c] for the 3 channels c of
// n interleaved int16 samples (byte shuffles, 8 samples at a time, where the CPU has AVX2; checked once).
void deinterleave_int16x3(const std::int16_t* codes, std::size_t n, float scale, float* out) noexcept;

// The largest prime p supported by real_dft_columns.
inline constexpr std::size_t kMaxColumnDftPrime = 61;

}  // namespace mpi::recon::detail
