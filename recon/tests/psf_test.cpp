#include "mpi/recon/psf.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace mpi::recon {
namespace {

// xi > 0 where the decreasing envelope falls to half of its peak 1/3, by bisection.
double half_maximum(const std::function<double(double)>& envelope) {
  double lo = 0.0, hi = 50.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (envelope(mid) > 1.0 / 6.0 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

long double reference_normal(long double x) {
  if (std::fabs(x) < 1e-2L) {
    const long double x2 = x * x;
    return 1.0L / 3.0L - x2 / 45.0L + 2.0L * x2 * x2 / 945.0L - x2 * x2 * x2 / 4725.0L;
  }
  return (std::cosh(x) / std::sinh(x) - 1.0L / x) / x;
}

TEST(Psf, BothEnvelopesPeakAtOneThird) {
  EXPECT_DOUBLE_EQ(psf_tangential(0.0), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(psf_normal(0.0), 1.0 / 3.0);
}

TEST(Psf, NormalEnvelopeIsLangevinOverXi) {
  for (double x : {1e-6, 1e-3, 0.0499, 0.05, 0.0501, 0.3, 1.0, 2.0805, 4.7, 10.0, 39.9, 41.0, 500.0}) {
    for (double s : {1.0, -1.0}) {
      const auto ref = static_cast<double>(reference_normal(s * x));
      EXPECT_NEAR(psf_normal(s * x), ref, 1e-13 * ref) << s * x;
    }
  }
}

TEST(Psf, NormalToTangentialWidthRatioIs2275) {
  const double tangential = half_maximum(psf_tangential);
  const double normal = half_maximum(psf_normal);
  EXPECT_NEAR(2.0 * tangential, 4.1610, 1e-3);  // REFERENCE 1.1
  EXPECT_NEAR(normal / tangential, 2.275, 0.002 * 2.275);  // REFERENCE 2
}

}  // namespace
}  // namespace mpi::recon
