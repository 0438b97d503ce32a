#include "mpi/recon/drive_field.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace mpi::recon {
namespace {

TEST(DriveField, IsASineFromTheTrigger) {
  const SineDrive d{0.012, 25e3, 0.0};
  EXPECT_NEAR(drive_field_t(d, 0.0), 0.0, 1e-18);
  EXPECT_NEAR(drive_field_t(d, 10e-6), 0.012, 1e-15);   // a quarter period
  EXPECT_NEAR(drive_field_t(d, 30e-6), -0.012, 1e-15);
  const SineDrive shifted{0.012, 25e3, std::numbers::pi / 2.0};
  EXPECT_NEAR(drive_field_t(shifted, 0.0), 0.012, 1e-15);
}

TEST(DriveField, RateIsTheTimeDerivative) {
  const SineDrive d{0.015, 24.51e3, 0.4};
  EXPECT_NEAR(drive_field_rate_t_per_s(d, 0.0), 0.015 * 2.0 * std::numbers::pi * 24.51e3 * std::cos(0.4), 1e-9);
  for (double t = 0.0; t < 1e-4; t += 3.7e-6) {
    const double h = 1e-10;
    const double fd = (drive_field_t(d, t + h) - drive_field_t(d, t - h)) / (2.0 * h);
    EXPECT_NEAR(drive_field_rate_t_per_s(d, t), fd, 1e-6 * 0.015 * 2.0 * std::numbers::pi * 24.51e3);
  }
}

TEST(FieldFreePoint, SitsWhereGradientCancelsDrive) {
  // B(x) = G x + B_D = 0 at x = -B_D / G: +12 mT with 2 T/m puts the FFP at -6 mm.
  EXPECT_DOUBLE_EQ(ffp_position_m(0.012, 2.0), -0.006);
  EXPECT_DOUBLE_EQ(ffp_position_m(-0.004, -2.0), -0.002);
  const double x = ffp_position_m(0.003, 2.0);
  EXPECT_NEAR(2.0 * x + 0.003, 0.0, 1e-18);
  // 12 mT at 25 kHz: peak rate 2 pi f A = 1885 T/s, so the FFP moves at up to 942 m/s.
  EXPECT_NEAR(ffp_velocity_m_per_s(2.0 * std::numbers::pi * 25e3 * 0.012, 2.0), -942.477796, 1e-5);
  EXPECT_DOUBLE_EQ(ffp_velocity_m_per_s(-10.0, 2.0), 5.0);
}

}  // namespace
}  // namespace mpi::recon
