// The DDS on the half-sample grid and the table sine.
#include "mpi/drivers/register_map.hpp"
#include "mpi/hil/dds.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace mpi::hil {
namespace {

using drivers::regmap::kPhaseMask;

TEST(Dds, HalfSamplePhaseIsTwiceThe48BitPhaseOnWholeSamples) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint64_t offset = rng() & kPhaseMask;
    const std::uint64_t increment = rng() & kPhaseMask;
    const std::uint64_t n = rng() % 1'000'000'000U;
    const std::uint64_t step = increment * 8U;
    const std::uint64_t phase48 = (offset + n * step) & kPhaseMask;  // the register map's formula, mod 2^64 then 2^48
    ASSERT_EQ(half_sample_phase(offset, step, 2 * n), 2 * phase48);
    // Half a sample on is half of a step on, in 2^-49 turn.
    ASSERT_EQ(half_sample_phase(offset, step, 2 * n + 1), (2 * phase48 + step) & kHalfPhaseMask);
  }
  // Before the trigger: m = -1.
  EXPECT_EQ(half_sample_phase(10, 3, static_cast<std::uint64_t>(-1)), 17U);
  EXPECT_EQ(half_sample_phase(0, 3, static_cast<std::uint64_t>(-1)), kHalfPhaseMask + 1 - 3);
}

TEST(Dds, SineTableMatchesTheLibrarySine) {
  const SineTable sine;
  std::mt19937_64 rng(9);
  double worst = 0;
  for (int i = 0; i < 200'000; ++i) {
    const std::uint64_t phase = rng() & kHalfPhaseMask;
    const long double turns = std::ldexp(static_cast<long double>(phase), -49);
    const long double exact = std::sin(2.0L * std::numbers::pi_v<long double> * turns);
    worst = std::max(worst, static_cast<double>(std::fabs(sine(phase) - exact)));
  }
  EXPECT_LT(worst, 1e-15);
  EXPECT_EQ(sine(0), 0.0);
  EXPECT_NEAR(sine(std::uint64_t{1} << 47), 1.0, 1e-16);  // a quarter turn
}

}  // namespace
}  // namespace mpi::hil
