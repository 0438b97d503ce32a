// The receive chain's noise generator: standard normal, independent samples, reproducible from the seed.
#include "mpi/hil/gaussian_noise.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mpi::hil {
namespace {

TEST(GaussianNoise, HasStandardNormalMomentsAndTails) {
  const SineTable sine;
  GaussianNoise noise(sine);
  noise.seed(42, 1);
  constexpr int kN = 1'000'000;
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  int beyond_2 = 0, beyond_3 = 0;
  for (int i = 0; i < kN; ++i) {
    const double x = noise.next();
    m1 += x;
    m2 += x * x;
    m3 += x * x * x;
    m4 += x * x * x * x;
    beyond_2 += std::abs(x) > 2.0;
    beyond_3 += std::abs(x) > 3.0;
  }
  m1 /= kN;
  m2 /= kN;
  m3 /= kN;
  m4 /= kN;
  // Standard errors at N = 1e6: mean 0.001, variance 0.0014, third moment 0.0039, fourth 0.01.
  EXPECT_NEAR(m1, 0.0, 0.005);
  EXPECT_NEAR(m2, 1.0, 0.007);
  EXPECT_NEAR(m3, 0.0, 0.02);
  EXPECT_NEAR(m4, 3.0, 0.05);
  // P(|x| > 2) = 0.0455, P(|x| > 3) = 0.0027 for a normal distribution.
  EXPECT_NEAR(beyond_2 / static_cast<double>(kN), 0.04550, 0.0011);
  EXPECT_NEAR(beyond_3 / static_cast<double>(kN), 0.00270, 0.0003);
}

TEST(GaussianNoise, ConsecutiveSamplesAreUncorrelated) {
  const SineTable sine;
  GaussianNoise noise(sine);
  noise.seed(7, 0);
  constexpr int kN = 200'000;
  std::vector<double> x(kN);
  for (double& v : x) v = noise.next();
  for (int lag : {1, 2, 3}) {
    double c = 0;
    for (int i = lag; i < kN; ++i) c += x[i] * x[i - lag];
    EXPECT_LT(std::abs(c / (kN - lag)), 5.0 / std::sqrt(static_cast<double>(kN))) << "lag " << lag;
  }
}

TEST(GaussianNoise, SeedAndStreamSelectTheSequence) {
  const SineTable sine;
  GaussianNoise a(sine), b(sine);
  a.seed(5, 2);
  b.seed(5, 2);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next(), b.next());
  b.seed(5, 3);
  a.seed(5, 2);
  int same = 0;
  for (int i = 0; i < 1000; ++i) same += a.next() == b.next();
  EXPECT_LT(same, 5);
}

}  // namespace
}  // namespace mpi::hil
