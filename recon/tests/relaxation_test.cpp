#include "mpi/recon/relaxation.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

namespace mpi::recon {
namespace {

TEST(Relaxation, BrownianTimesMatchReferenceFigures) {
  // REFERENCE 1.2, water (1 mPa s) at 300 K; the figures are rounded to 2 significant digits.
  EXPECT_NEAR(brownian_relaxation_s(30e-9, 1e-3, 300.0), 10e-6, 0.5e-6);
  EXPECT_NEAR(brownian_relaxation_s(50e-9, 1e-3, 300.0), 47e-6, 0.5e-6);
  EXPECT_NEAR(brownian_relaxation_s(100e-9, 1e-3, 300.0), 380e-6, 5e-6);
  // tau_B scales with d^3 and eta / T.
  EXPECT_NEAR(brownian_relaxation_s(60e-9, 2e-3, 300.0) / brownian_relaxation_s(30e-9, 1e-3, 300.0), 16.0, 1e-12);
}

TEST(Relaxation, NeelTimesMatchReferenceFigures) {
  // REFERENCE 1.2 gives "~25 us" and "~0.4 s" for K = 10 kJ/m^3, tau_0 = 1 ns. They are approximate: tau_N
  // is exponential in d^3, so the ~0.1 % rounding of kB T and of d that such figures carry moves tau_N by a
  // few percent at K V / kB T = 10-20. Hence 10 %.
  EXPECT_NEAR(neel_relaxation_s(20e-9, 1e4, 300.0, 1e-9), 25e-6, 2.5e-6);
  EXPECT_NEAR(neel_relaxation_s(25e-9, 1e4, 300.0, 1e-9), 0.4, 0.04);
  // No anisotropy barrier: the attempt time.
  EXPECT_DOUBLE_EQ(neel_relaxation_s(20e-9, 0.0, 300.0, 1e-9), 1e-9);
}

TEST(Relaxation, EffectiveTimeCombinesLikeParallelRates) {
  EXPECT_NEAR(effective_relaxation_s(10e-6, 40e-6), 8e-6, 1e-18);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_DOUBLE_EQ(effective_relaxation_s(inf, 40e-6), 40e-6);
  EXPECT_DOUBLE_EQ(effective_relaxation_s(10e-6, inf), 10e-6);
  // A blocked particle (exp overflows) leaves the Brownian time.
  EXPECT_DOUBLE_EQ(effective_relaxation_s(neel_relaxation_s(100e-9, 1e5, 300.0, 1e-9), 40e-6), 40e-6);
}

TEST(DebyeStep, ZeroTauPassesThrough) {
  const DebyeStep step(0.0, 0.4e-6);
  EXPECT_EQ(step.a(), 0.0);
  EXPECT_EQ(step.b(), 0.0);
  EXPECT_EQ(step.c(), 1.0);
  EXPECT_EQ(step(5.0, 1.0, 2.0), 2.0);
}

TEST(DebyeStep, CoefficientsConserveAConstant) {
  for (double r : {1e-6, 1e-3, 0.1, 1.0, 10.0}) {
    const DebyeStep step(1.0, r);
    EXPECT_NEAR(step(3.0, 3.0, 3.0), 3.0, 1e-14) << r;
  }
}

TEST(DebyeStep, ExactForARamp) {
  // tau y' + y = s t, y(0) = 0: y(t) = s (t - tau (1 - exp(-t / tau))).
  for (double tau : {1e-6, 3e-6, 10e-6}) {
    const double h = 0.4e-6, s = 2.0e3;
    const DebyeStep step(tau, h);
    double y = 0.0;
    for (int n = 1; n <= 200; ++n) {
      y = step(y, s * (n - 1) * h, s * n * h);
      const double t = n * h;
      const double exact = s * (t - tau * (1.0 - std::exp(-t / tau)));
      ASSERT_NEAR(y, exact, 1e-12 * s * t) << "tau " << tau << " n " << n;
    }
  }
}

TEST(DebyeStep, SineSteadyStateAmplitudeAndPhase) {
  const double f = 25e3, omega = 2.0 * std::numbers::pi * f;
  const int per_period = 1000;
  const double h = 1.0 / (f * per_period);
  for (double tau : {1e-6, 3e-6, 10e-6}) {
    const DebyeStep step(tau, h);
    double y = 0.0;
    const int settle = 40 * per_period;  // 1.6 ms: >= 160 tau
    const int measure = 4 * per_period;
    double in_phase = 0.0, quadrature = 0.0;
    for (int n = 1; n <= settle + measure; ++n) {
      y = step(y, std::sin(omega * (n - 1) * h), std::sin(omega * n * h));
      if (n > settle) {
        in_phase += y * std::sin(omega * n * h);
        quadrature += y * std::cos(omega * n * h);
      }
    }
    in_phase *= 2.0 / measure;
    quadrature *= 2.0 / measure;
    const double wt = omega * tau;
    // Linear interpolation of the input between samples costs (omega h)^2 / 12 ~ 3e-6 of the amplitude.
    EXPECT_NEAR(std::hypot(in_phase, quadrature), 1.0 / std::sqrt(1.0 + wt * wt), 2e-5) << tau;
    EXPECT_NEAR(std::atan2(quadrature, in_phase), -std::atan(wt), 2e-5) << tau;
  }
}

TEST(DebyeStep, PulseCentroidShiftsByTau) {
  // Convolution with exp(-t/tau) u(t) / tau moves the time centroid by the kernel's mean, tau.
  const double h = 0.4e-6, t0 = 40e-6, sigma = 5e-6;
  for (double tau : {1e-6, 3e-6, 10e-6}) {
    const DebyeStep step(tau, h);
    const auto x = [&](int n) { const double u = (n * h - t0) / sigma; return std::exp(-0.5 * u * u); };
    double y = 0.0, sx = 0.0, stx = 0.0, sy = 0.0, sty = 0.0;
    for (int n = 1; n < 3000; ++n) {  // 1.2 ms: the output has decayed by exp(-100) or more
      y = step(y, x(n - 1), x(n));
      sx += x(n);
      stx += n * h * x(n);
      sy += y;
      sty += n * h * y;
    }
    EXPECT_NEAR(sty / sy - stx / sx, tau, 1e-4 * tau) << tau;
  }
}

}  // namespace
}  // namespace mpi::recon
