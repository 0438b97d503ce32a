#include "mpi/recon/constants.hpp"
#include "mpi/recon/langevin.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mpi::recon {
namespace {

// Independent references in extended precision: the closed forms where they do not cancel badly, the
// Taylor series (four terms, truncation below 1e-20 there) near zero.
long double reference_langevin(long double x) {
  if (std::fabs(x) < 1e-2L) {
    const long double x2 = x * x;
    return x / 3.0L - x * x2 / 45.0L + 2.0L * x * x2 * x2 / 945.0L - x * x2 * x2 * x2 / 4725.0L;
  }
  return std::cosh(x) / std::sinh(x) - 1.0L / x;
}

long double reference_langevin_derivative(long double x) {
  if (std::fabs(x) < 5e-2L) {
    const long double x2 = x * x;
    return 1.0L / 3.0L - x2 / 15.0L + 2.0L * x2 * x2 / 189.0L - x2 * x2 * x2 / 675.0L;
  }
  const long double s = std::sinh(x);
  return 1.0L / (x * x) - 1.0L / (s * s);
}

std::vector<double> xi_grid() {
  std::vector<double> xs;
  for (double e = -8.0; e <= 3.0; e += 0.05) {
    xs.push_back(std::pow(10.0, e));
    xs.push_back(-std::pow(10.0, e));
  }
  for (double x : {1e-4, 0.99e-4, 1.01e-4, 1e-3, 0.99e-3, 1.01e-3, 40.0, 39.99, 40.01, 2.0805, 700.0}) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  return xs;
}

TEST(Langevin, MatchesClosedFormAndSeriesEverywhere) {
  for (double x : xi_grid()) {
    const auto ref = static_cast<double>(reference_langevin(x));
    // The closed form just above the series switch (|xi| = 1e-4) cancels to ~3e-8 relative.
    EXPECT_NEAR(langevin(x), ref, 1e-15 + 1e-7 * std::abs(ref)) << "xi = " << x;
  }
}

TEST(Langevin, IsOddAndSaturates) {
  EXPECT_EQ(langevin(0.0), 0.0);
  for (double x : {1e-6, 0.3, 2.0, 50.0}) EXPECT_DOUBLE_EQ(langevin(-x), -langevin(x));
  EXPECT_NEAR(langevin(1e6), 1.0 - 1e-6, 1e-15);  // coth = 1, L = 1 - 1/xi
  EXPECT_NEAR(langevin(-1e6), -1.0 + 1e-6, 1e-15);
}

TEST(LangevinDerivative, MatchesClosedFormAndSeriesEverywhere) {
  for (double x : xi_grid()) {
    const auto ref = static_cast<double>(reference_langevin_derivative(x));
    // The closed form just above the series switch (|xi| = 1e-3) cancels to ~1e-9 relative.
    EXPECT_NEAR(langevin_derivative(x), ref, 3e-9 * std::abs(ref) + 1e-300) << "xi = " << x;
  }
}

TEST(LangevinDerivative, PeakIsOneThirdAtZero) {
  EXPECT_DOUBLE_EQ(langevin_derivative(0.0), 1.0 / 3.0);
  EXPECT_LT(langevin_derivative(1e-2), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(langevin_derivative(-0.7), langevin_derivative(0.7));
}

TEST(LangevinDerivative, AgreesWithCentralDifferenceOfLangevin) {
  for (double x = -30.0; x <= 30.0; x += 0.173) {
    const double h = 1e-4 * std::max(1.0, std::abs(x));
    const double fd = (langevin(x + h) - langevin(x - h)) / (2.0 * h);
    EXPECT_NEAR(langevin_derivative(x), fd, 1e-8) << "xi = " << x;
  }
}

TEST(LangevinDerivative, FullWidthAtHalfMaximumIs4_1610) {
  // L' falls monotonically on (0, inf): bisect L'(xi) = 1/6 on [1, 3].
  double lo = 1.0, hi = 3.0;
  ASSERT_GT(langevin_derivative(lo), 1.0 / 6.0);
  ASSERT_LT(langevin_derivative(hi), 1.0 / 6.0);
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (langevin_derivative(mid) > 1.0 / 6.0 ? lo : hi) = mid;
  }
  EXPECT_NEAR(2.0 * lo, 4.1610, 1e-4);
  EXPECT_NEAR(2.0 * lo, kLangevinPsfFwhmXi, 1e-4);
}

}  // namespace
}  // namespace mpi::recon
