// The analog fundamental suppression: depth at the centre, transparency away from it.
#include "mpi/hil/notch_filter.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace mpi::hil {
namespace {

// Steady-state amplitude of the filter's response to a unit sine, by correlation over whole periods.
double gain_at(NotchFilter filter, double f, double fs) {
  const int settle = 200000;
  const int periods = 50;
  const int n = static_cast<int>(std::round(periods * fs / f));
  double c = 0.0;
  double s = 0.0;
  for (int i = 0; i < settle + n; ++i) {
    const double phase = 2.0 * std::numbers::pi * f * i / fs;
    const double y = filter(std::sin(phase));
    if (i >= settle) {
      c += y * std::cos(phase);
      s += y * std::sin(phase);
    }
  }
  return 2.0 * std::hypot(c, s) / n;
}

TEST(NotchFilter, DepthAtTheCentreIsTheConfiguredDecibels) {
  const double fs = 2.5e6;
  const double f0 = 25e3;  // 100 samples per period: whole periods
  for (double db : {20.0, 40.0, 60.0}) {
    const NotchFilter notch(f0, 0.1 * f0, db, fs);
    EXPECT_NEAR(20.0 * std::log10(gain_at(notch, f0, fs)), -db, 0.05) << db;
  }
}

TEST(NotchFilter, HarmonicsPassAndZeroDecibelsIsTheIdentity) {
  const double fs = 2.5e6;
  const double f0 = 25e3;
  const NotchFilter notch(f0, 0.1 * f0, 40.0, fs);
  EXPECT_NEAR(gain_at(notch, 3 * f0, fs), 1.0, 0.01);
  EXPECT_NEAR(gain_at(notch, 10 * f0, fs), 1.0, 0.002);
  NotchFilter identity(f0, 0.1 * f0, 0.0, fs);
  EXPECT_TRUE(identity.identity());
  EXPECT_EQ(identity(0.123), 0.123);
}

}  // namespace
}  // namespace mpi::hil
