#include "mpi/recon/lissajous.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <stdexcept>

namespace mpi::recon {
namespace {

TEST(LissajousCycle, PreclinicalScannerFigures) {
  // REFERENCE 2.1: 2.5 MHz base clock, dividers 102/96/99, 2.5 MS/s.
  const std::array<std::uint32_t, 1> x{102};
  const std::array<std::uint32_t, 2> xy{102, 96};
  const std::array<std::uint32_t, 3> xyz{102, 96, 99};
  EXPECT_EQ(lissajous_cycle_samples(x, 2.5e6, 2.5e6), 102u);
  EXPECT_EQ(lissajous_cycle_samples(xy, 2.5e6, 2.5e6), 1632u);
  EXPECT_EQ(lissajous_cycle_samples(xyz, 2.5e6, 2.5e6), 53856u);
  // 53856 samples at 2.5 MS/s = 21.54 ms, 46.4 volumes per second.
  EXPECT_NEAR(2.5e6 / static_cast<double>(lissajous_cycle_samples(xyz, 2.5e6, 2.5e6)), 46.4, 0.05);
}

TEST(LissajousCycle, ConvertsClockCyclesToSamples) {
  const std::array<std::uint32_t, 2> d{4, 6};  // lcm 12 cycles of 10 MHz = 1.2 us
  EXPECT_EQ(lissajous_cycle_samples(d, 10e6, 2.5e6), 3u);
  const std::array<std::uint32_t, 1> odd{5};  // 5 cycles at 10 MHz = 1.25 samples at 2.5 MS/s
  EXPECT_THROW((void)lissajous_cycle_samples(odd, 10e6, 2.5e6), std::invalid_argument);
}

TEST(LissajousCycle, RejectsBadInput) {
  const std::array<std::uint32_t, 2> zero{102, 0};
  EXPECT_THROW((void)lissajous_cycle_samples(zero, 2.5e6, 2.5e6), std::invalid_argument);
  EXPECT_THROW((void)lissajous_cycle_samples({}, 2.5e6, 2.5e6), std::invalid_argument);
  const std::array<std::uint32_t, 1> x{102};
  EXPECT_THROW((void)lissajous_cycle_samples(x, 0.0, 2.5e6), std::invalid_argument);
  EXPECT_THROW((void)lissajous_cycle_samples(x, 2.5e6, -1.0), std::invalid_argument);
}

TEST(FfpPosition, SolvesGradientPlusFieldEqualsZero) {
  const Eigen::Matrix3d g = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
  const Eigen::Vector3d b(12e-3, -6e-3, 4e-3);
  const Eigen::Vector3d r = ffp_position_m(g, b);
  EXPECT_NEAR(r.x(), 12e-3, 1e-15);
  EXPECT_NEAR(r.y(), -6e-3, 1e-15);
  EXPECT_NEAR(r.z(), -2e-3, 1e-15);
  // The drive FOV of REFERENCE 2.1: 12 mT on z moves the FFP by 6 mm.
  EXPECT_NEAR(ffp_position_m(g, Eigen::Vector3d(0.0, 0.0, 12e-3)).z(), -6e-3, 1e-15);
  // A general symmetric trace-free gradient.
  Eigen::Matrix3d h;
  h << -1.0, 0.3, 0.0, 0.3, -1.0, 0.2, 0.0, 0.2, 2.0;
  EXPECT_LT((h * ffp_position_m(h, b) + b).norm(), 1e-15);
}

TEST(FfpPosition, RejectsSingularGradient) {
  const Eigen::Matrix3d ffl = Eigen::Vector3d(-1.0, 0.0, 1.0).asDiagonal();
  EXPECT_THROW((void)ffp_position_m(ffl, Eigen::Vector3d::Zero()), std::invalid_argument);
  EXPECT_THROW((void)ffp_position_m(Eigen::Matrix3d::Zero(), Eigen::Vector3d::Zero()), std::invalid_argument);
}

TEST(DriveTrajectory, SumsSinesAlongTheirDirections) {
  const double fx = 2.5e6 / 102, fy = 2.5e6 / 96;
  const DriveTrajectory drive({{Eigen::Vector3d::UnitX(), 12e-3, fx, 0.0}, {Eigen::Vector3d::UnitY(), 10e-3, fy, 0.5}});
  for (double t : {0.0, 1e-6, 7.3e-6, 100e-6, 652.8e-6}) {
    const Eigen::Vector3d b = drive.field_t(t);
    EXPECT_NEAR(b.x(), 12e-3 * std::sin(2.0 * std::numbers::pi * fx * t), 1e-15);
    EXPECT_NEAR(b.y(), 10e-3 * std::sin(2.0 * std::numbers::pi * fy * t + 0.5), 1e-15);
    EXPECT_EQ(b.z(), 0.0);
    const double dt = 1e-10;
    const Eigen::Vector3d rate = (drive.field_t(t + dt) - drive.field_t(t - dt)) / (2.0 * dt);
    EXPECT_LT((drive.field_rate_t_per_s(t) - rate).norm(), 1e-5 * drive.field_rate_t_per_s(t).norm() + 1e-3);
  }
  // The 2D pattern repeats after 1632 samples at 2.5 MS/s.
  EXPECT_LT((drive.field_t(1632 / 2.5e6 + 3e-6) - drive.field_t(3e-6)).norm(), 1e-12);
}

TEST(DriveTrajectory, RejectsNonFiniteComponents) {
  EXPECT_THROW(DriveTrajectory({{Eigen::Vector3d::UnitX(), NAN, 1e3, 0.0}}), std::invalid_argument);
  EXPECT_THROW(DriveTrajectory({{Eigen::Vector3d::UnitX(), 1e-3, -1e3, 0.0}}), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
