#include "prime_factor_stage.hpp"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif


// The helpers below pass 32-byte vectors by value; they are internal and always inlined, so the note that
// this would change the ABI where AVX is off does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace mpi::recon::detail {

namespace {

// 32-byte vectors (GCC vector extensions): 4 doubles or 8 floats; one AVX register where the CPU has AVX,
// two SSE/NEON registers otherwise.
template <class T>
struct Vec;
template <>
struct Vec<double> {
  typedef double type __attribute__((vector_size(32)));
};
template <>
struct Vec<float> {
  typedef float type __attribute__((vector_size(32)));
};

template <class V, class T>
inline __attribute__((always_inline)) V load(const T* p) noexcept {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V, class T>
inline __attribute__((always_inline)) void store(T* p, V v) noexcept {
  std::memcpy(p, &v, sizeof(V));
}

// Stores w real parts r and w imaginary parts s as w interleaved complex values at out.
template <class V, class T>
inline __attribute__((always_inline)) void store_complex(T* out, V r, V s) noexcept {
  constexpr std::size_t w = sizeof(V) / sizeof(T);
  if constexpr (w == 4) {
    using I = long long __attribute__((vector_size(32)));
    store(out, __builtin_shuffle(r, s, I{0, 4, 1, 5}));
    store(out + 4, __builtin_shuffle(r, s, I{2, 6, 3, 7}));
  } else {
    using I = int __attribute__((vector_size(32)));
    store(out, __builtin_shuffle(r, s, I{0, 8, 1, 9, 2, 10, 3, 11}));
    store(out + 8, __builtin_shuffle(r, s, I{4, 12, 5, 13, 6, 14, 7, 15}));
  }
}

// P: the prime when known at compile time (the coefficients' loops unroll and a, b stay in registers), 0
// for any prime up to kMaxColumnDftPrime given as p.
template <std::size_t P, class T>
inline __attribute__((always_inline)) void columns(const T* in, std::size_t p_arg, std::size_t lanes, const T* cs,
                                                   const T* tw, T* out) noexcept {
  const std::size_t p = P != 0 ? P : p_arg;
  using V = typename Vec<T>::type;
  constexpr std::size_t w = sizeof(V) / sizeof(T);
  constexpr std::size_t kMaxPairs = P != 0 ? (P - 1) / 2 : (kMaxColumnDftPrime - 1) / 2;
  const std::size_t pairs = (p - 1) / 2;
  std::size_t l = 0;
  for (; l + w <= lanes; l += w) {
    V a[kMaxPairs];
    V b[kMaxPairs];
    const V x0 = load<V>(in + l);
    V sum = x0;
    for (std::size_t j = 1; j <= pairs; ++j) {
      const V u = load<V>(in + j * lanes + l);
      const V v = load<V>(in + (p - j) * lanes + l);
      a[j - 1] = u + v;
      b[j - 1] = u - v;
      sum += a[j - 1];
    }
    store_complex(out + 2 * l, sum, V{});
    for (std::size_t k = 1; k <= pairs; ++k) {
      const T* row = cs + 2 * (k - 1) * pairs;
      V r = x0;
      V s = V{};
      for (std::size_t j = 0; j < pairs; ++j) {
        r += row[2 * j] * a[j];
        s -= row[2 * j + 1] * b[j];
      }
      const V wr = load<V>(tw + 2 * (k - 1) * lanes + l);
      const V wi = load<V>(tw + (2 * k - 1) * lanes + l);
      store_complex(out + 2 * (k * lanes + l), r * wr - s * wi, r * wi + s * wr);
    }
  }
  for (; l < lanes; ++l) {  // the columns left over, one at a time
    T a[kMaxPairs];
    T b[kMaxPairs];
    const T x0 = in[l];
    T sum = x0;
    for (std::size_t j = 1; j <= pairs; ++j) {
      a[j - 1] = in[j * lanes + l] + in[(p - j) * lanes + l];
      b[j - 1] = in[j * lanes + l] - in[(p - j) * lanes + l];
      sum += a[j - 1];
    }
    out[2 * l] = sum;
    out[2 * l + 1] = T(0);
    for (std::size_t k = 1; k <= pairs; ++k) {
      const T* row = cs + 2 * (k - 1) * pairs;
      T r = x0;
      T s = T(0);
      for (std::size_t j = 0; j < pairs; ++j) {
        r += row[2 * j] * a[j];
        s -= row[2 * j + 1] * b[j];
      }
      const T wr = tw[2 * (k - 1) * lanes + l];
      const T wi = tw[(2 * k - 1) * lanes + l];
      out[2 * (k * lanes + l)] = r * wr - s * wi;
      out[2 * (k * lanes + l) + 1] = r * wi + s * wr;
    }
  }
}

}  // namespace

// On x86-64 the loader picks an AVX2/FMA build of these where the CPU has it (GCC function multiversioning).
#if defined(__x86_64__) && defined(__GNUC__)
#define MPI_RECON_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MPI_RECON_CLONES
#endif

MPI_RECON_CLONES void real_dft_columns(const double* in, std::size_t p, std::size_t lanes, const double* cos_sin,
                                       const double* twiddle, double* out) noexcept {
  if (p == 17) {
    columns<17>(in, p, lanes, cos_sin, twiddle, out);
  } else {
    columns<0>(in, p, lanes, cos_sin, twiddle, out);
  }
}

MPI_RECON_CLONES void real_dft_columns(const float* in, std::size_t p, std::size_t lanes, const float* cos_sin,
                                       const float* twiddle, float* out) noexcept {
  if (p == 17) {
    columns<17>(in, p, lanes, cos_sin, twiddle, out);
  } else {
    columns<0>(in, p, lanes, cos_sin, twiddle, out);
  }
}

namespace {

void deinterleave_int16x3_plain(const std::int16_t* codes, std::size_t begin, std::size_t n, float scale,
                                float* out) noexcept {
  for (std::size_t j = begin; j < n; ++j) {
    out[j] = scale * static_cast<float>(codes[3 * j]);
    out[n + j] = scale * static_cast<float>(codes[3 * j + 1]);
    out[2 * n + j] = scale * static_cast<float>(codes[3 * j + 2]);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// Byte shuffles taking channel c's codes out of the three 16-byte loads x = 0, 1, 2 of 8 interleaved
// samples (row 3c + x; -128 clears a byte); or-ing the three gives channel c's 8 codes in order.
alignas(16) constexpr std::int8_t kDeinterleave3[9][16] = {
    {0, 1, 6, 7, 12, 13, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {-128, -128, -128, -128, -128, -128, 2, 3, 8, 9, 14, 15, -128, -128, -128, -128},
    {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 4, 5, 10, 11},
    {2, 3, 8, 9, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {-128, -128, -128, -128, -128, -128, 4, 5, 10, 11, -128, -128, -128, -128, -128, -128},
    {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 0, 1, 6, 7, 12, 13},
    {4, 5, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
    {-128, -128, -128, -128, 0, 1, 6, 7, 12, 13, -128, -128, -128, -128, -128, -128},
    {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 2, 3, 8, 9, 14, 15}};

__attribute__((target("avx2"))) void deinterleave_int16x3_avx2(const std::int16_t* codes, std::size_t n,
                                                               float scale, float* out) noexcept {
  const __m256 s = _mm256_set1_ps(scale);
  __m128i mask[9];
  for (int i = 0; i < 9; ++i) mask[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(kDeinterleave3[i]));
  std::size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const std::int16_t* in = codes + 3 * j;
    const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 8));
    const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 16));
    for (int c = 0; c < 3; ++c) {
      const __m128i v = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(x0, mask[3 * c]), _mm_shuffle_epi8(x1, mask[3 * c + 1])),
                                     _mm_shuffle_epi8(x2, mask[3 * c + 2]));
      const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(v));
      _mm256_storeu_ps(out + static_cast<std::size_t>(c) * n + j, _mm256_mul_ps(s, f));
    }
  }
  deinterleave_int16x3_plain(codes, j, n, scale, out);
}
#endif

}  // namespace

void deinterleave_int16x3(const std::int16_t* codes, std::size_t n, float scale, float* out) noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    deinterleave_int16x3_avx2(codes, n, scale, out);
    return;
  }
#endif
  deinterleave_int16x3_plain(codes, 0, n, scale, out);
}

}  // namespace mpi::recon::detail
