// The drive channel's DDS as the board's logic plays it (register_map.hpp), evaluated exactly in integers
// on a half-sample grid so that the plant can integrate over each ADC sample interval:
//   phase(n) = (PhaseOffset + n * AdcDecimation * PhaseIncrement) mod 2^48      (2^-48 turn)
// On the half-sample grid (m = 2n at sample n, m = 2n +- 1 half a sample either side) the same formula
// doubled is exact in 49 bits:
//   half_sample_phase(m) = (2 * PhaseOffset + m * AdcDecimation * PhaseIncrement) mod 2^49   (2^-49 turn)
#pragma once

#include <cstdint>
#include <numbers>
#include <vector>

namespace mpi::hil {

inline constexpr unsigned kHalfPhaseBits = 49;
inline constexpr std::uint64_t kHalfPhaseMask = (std::uint64_t{1} << kHalfPhaseBits) - 1U;

// `phase_step_per_sample` is AdcDecimation * PhaseIncrement (any value mod 2^64); `half_samples` is m,
// where negative m (before the trigger) is passed as its two's complement: unsigned wrap-around keeps
// the result exact because 2^49 divides 2^64.
constexpr std::uint64_t half_sample_phase(std::uint64_t phase_offset, std::uint64_t phase_step_per_sample,
                                          std::uint64_t half_samples) noexcept {
  return (2U * phase_offset + half_samples * phase_step_per_sample) & kHalfPhaseMask;
}

// sin(2 pi phase / 2^49) to double precision from a table of 2^16 values and the angle-addition formula
// for the remaining 33 bits (a residual angle below 2 pi / 2^16, whose sine and cosine take three terms).
class SineTable {
 public:
  SineTable();

  // sin(2 pi half_phase / 2^49); bits above the 49th are ignored.
  [[nodiscard]] double operator()(std::uint64_t half_phase) const noexcept {
    const std::uint64_t index = (half_phase >> kFractionBits) & kIndexMask;
    const double b = static_cast<double>(half_phase & kFractionMask) * kRadiansPerUnit;  // 0 <= b < 9.6e-5
    const double b2 = b * b;
    // cos b = 1 - b^2/2 (+ b^4/24 < 4e-18); sin b = b - b^3/6 (+ b^5/120 < 1e-22)
    const double cos_b = 1.0 - 0.5 * b2;
    const double sin_b = b * (1.0 - b2 / 6.0);
    return sin_[index] * cos_b + sin_[(index + kQuarter) & kIndexMask] * sin_b;
  }

 private:
  static constexpr unsigned kIndexBits = 16;
  static constexpr unsigned kFractionBits = kHalfPhaseBits - kIndexBits;
  static constexpr std::uint64_t kIndexMask = (std::uint64_t{1} << kIndexBits) - 1U;
  static constexpr std::uint64_t kQuarter = std::uint64_t{1} << (kIndexBits - 2);
  static constexpr std::uint64_t kFractionMask = (std::uint64_t{1} << kFractionBits) - 1U;
  // 2 pi / 2^49: the residual angle per unit of the 33 fraction bits.
  static constexpr double kRadiansPerUnit = 2.0 * std::numbers::pi / static_cast<double>(std::uint64_t{1} << kHalfPhaseBits);
  std::vector<double> sin_;  // 2^16 entries; the cosine is the sine a quarter turn on
};

}  // namespace mpi::hil
