#include "mpi/hil/scanner_model.hpp"

#include <Eigen/Geometry>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace mpi::hil {
namespace {

using recon::ParticleSource;

double total_iron(const std::vector<ParticleSource>& s) {
  double sum = 0.0;
  for (const ParticleSource& p : s) sum += p.iron_kg;
  return sum;
}

Eigen::Vector3d centroid(const std::vector<ParticleSource>& s) {
  Eigen::Vector3d sum = Eigen::Vector3d::Zero();
  for (const ParticleSource& p : s) sum += p.iron_kg * p.position_m;
  return sum / total_iron(s);
}

config::PhantomDescription empty_phantom(double voxel = 0.5e-3) {
  config::PhantomDescription p;
  p.name = "test";
  p.voxel_size_m = voxel;
  return p;
}

TEST(PhantomSources, PointsAsTheyAre) {
  config::PhantomDescription p = empty_phantom();
  p.points = {{{1e-3, 2e-3, -3e-3}, 10e-9}, {{0.0, 0.0, 0.0}, 5e-9}};
  const auto s = phantom_sources(p);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].position_m, Eigen::Vector3d(1e-3, 2e-3, -3e-3));
  EXPECT_EQ(s[0].iron_kg, 10e-9);
  EXPECT_EQ(s[1].iron_kg, 5e-9);
}

TEST(PhantomSources, LineCarriesExactIronAndCentroid) {
  for (double voxel : {0.5e-3, 0.3e-3, 2e-3, 20e-3}) {
    config::PhantomDescription p = empty_phantom(voxel);
    p.lines = {{{-3e-3, 1e-3, 0.0}, {4e-3, -2e-3, 1.7e-3}, 5e-6}};
    const auto s = phantom_sources(p);
    const Eigen::Vector3d from(-3e-3, 1e-3, 0.0), to(4e-3, -2e-3, 1.7e-3);
    EXPECT_NEAR(total_iron(s), 5e-6 * (to - from).norm(), 1e-14 * 5e-6 * (to - from).norm()) << voxel;
    EXPECT_LT((centroid(s) - 0.5 * (from + to)).norm(), 1e-15) << voxel;
    EXPECT_GE(s.size(), 3u);
    EXPECT_EQ(s.size() % 2, 1u);  // Simpson: an even number of intervals
    for (std::size_t i = 1; i < s.size(); ++i) {
      EXPECT_LE((s[i].position_m - s[i - 1].position_m).norm(), voxel * (1.0 + 1e-12));
      // On the segment.
      EXPECT_LT((s[i].position_m - from).cross(to - from).norm(), 1e-18);
    }
  }
}

TEST(PhantomSources, LinePairIsTwoParallelLines) {
  config::PhantomDescription p = empty_phantom(0.25e-3);
  config::LinePairDescription pair;
  pair.centre_m = {1e-3, 0.0, 2e-3};
  pair.direction = {0.0, 0.0, 1.0};
  pair.separation_direction = {1.0, 0.0, 0.0};
  pair.length_m = 10e-3;
  pair.spacing_m = 2e-3;
  pair.iron_kg_per_m = 1e-6;
  p.line_pairs = {pair};
  const auto s = phantom_sources(p);
  std::vector<ParticleSource> left, right;
  for (const ParticleSource& q : s) (q.position_m.x() < 1e-3 ? left : right).push_back(q);
  EXPECT_NEAR(total_iron(left), 1e-8, 1e-22);
  EXPECT_NEAR(total_iron(right), 1e-8, 1e-22);
  EXPECT_LT((centroid(left) - Eigen::Vector3d(0.0, 0.0, 2e-3)).norm(), 1e-15);
  EXPECT_LT((centroid(right) - Eigen::Vector3d(2e-3, 0.0, 2e-3)).norm(), 1e-15);
  for (const ParticleSource& q : s) EXPECT_LE(std::abs(q.position_m.z() - 2e-3), 5e-3 + 1e-15);
}

// Truncated cone: V = pi h / 3 (r1^2 + r1 r2 + r2^2); centroid at h (r1^2 + 2 r1 r2 + 3 r2^2) / (4 (r1^2 + r1 r2 + r2^2))
// from the tip face.
TEST(PhantomSources, ConeHoldsConcentrationTimesExactVolume) {
  for (const Eigen::Vector3d& axis : {Eigen::Vector3d(0.0, 0.0, 1.0), Eigen::Vector3d(1.0, 2.0, -0.5).normalized()}) {
    config::PhantomDescription p = empty_phantom();
    config::ConeDescription cone;  // OpenMPIData: 1 mm tip radius, 10 deg apex, 22 mm high
    cone.tip_m = {1e-3, -2e-3, -11e-3};
    cone.axis = {axis.x(), axis.y(), axis.z()};
    cone.iron_kg_per_m3 = 100e-3 * 55.845e-3 * 1e3;  // 100 mmol/L
    p.cones = {cone};
    const auto s = phantom_sources(p);
    const double r1 = 1e-3, h = 22e-3, r2 = r1 + h * std::tan(5.0 * std::numbers::pi / 180.0);
    const double volume = std::numbers::pi * h / 3.0 * (r1 * r1 + r1 * r2 + r2 * r2);
    EXPECT_NEAR(total_iron(s), cone.iron_kg_per_m3 * volume, 0.01 * cone.iron_kg_per_m3 * volume);
    const double z_c = h * (r1 * r1 + 2.0 * r1 * r2 + 3.0 * r2 * r2) / (4.0 * (r1 * r1 + r1 * r2 + r2 * r2));
    const Eigen::Vector3d expected = Eigen::Vector3d(1e-3, -2e-3, -11e-3) + z_c * axis;
    EXPECT_LT((centroid(s) - expected).norm(), 0.01 * h);
    // Every source lies in the cone's bounding cylinder.
    for (const ParticleSource& q : s) {
      const Eigen::Vector3d d = q.position_m - Eigen::Vector3d(1e-3, -2e-3, -11e-3);
      EXPECT_GE(d.dot(axis), 0.0);
      EXPECT_LE(d.dot(axis), h);
      EXPECT_LE((d - d.dot(axis) * axis).norm(), std::sqrt(2.0) * r2);
    }
  }
}

TEST(PhantomSources, ConcentrationCubesFollowTheDilutionSeries) {
  config::PhantomDescription p = empty_phantom(0.5e-3);
  config::CubesDescription cubes;  // OpenMPIData: 8 cubes of 2 mm, 12 mm apart in xy and 6 mm in z, factor 1.5
  cubes.centre_m = {1e-3, 0.0, -1e-3};
  const double first = 100e-3 * 55.845e-3 * 1e3;
  cubes.first_iron_kg_per_m3 = first;
  p.cubes = {cubes};
  const auto s = phantom_sources(p);
  EXPECT_EQ(s.size(), 8u * 64u);  // 4 x 4 x 4 voxels of 0.5 mm per cube
  const double published[8] = {100.0, 66.6, 44.4, 29.6, 19.7, 13.1, 8.77, 5.85};  // mmol/L, REFERENCE 2.1
  for (int k = 0; k < 8; ++k) {
    const int ix = k % 2, iy = (k / 2) % 2, iz = k / 4;
    const Eigen::Vector3d centre(1e-3 + (ix - 0.5) * 12e-3, (iy - 0.5) * 12e-3, -1e-3 + (iz - 0.5) * 6e-3);
    std::vector<ParticleSource> mine;
    for (const ParticleSource& q : s) {
      if ((q.position_m - centre).cwiseAbs().maxCoeff() < 1e-3) mine.push_back(q);
    }
    ASSERT_EQ(mine.size(), 64u) << k;
    const double expected = first / std::pow(1.5, k) * 8e-9;  // (2 mm)^3
    EXPECT_NEAR(total_iron(mine), expected, 1e-12 * expected) << k;
    EXPECT_NEAR(total_iron(mine) / 8e-9 / 55.845e-3 / 1e3 * 1e3, published[k], 0.006 * published[k]) << k;
    EXPECT_LT((centroid(mine) - centre).norm(), 1e-15) << k;
  }
}

TEST(PhantomSources, TubesCarryIronAlongEachDirection) {
  config::PhantomDescription p = empty_phantom(0.5e-3);
  config::TubesDescription tubes;
  tubes.origin_m = {0.0, 0.0, 1e-3};
  const double a = 20.0 * std::numbers::pi / 180.0, b = 30.0 * std::numbers::pi / 180.0;
  const std::vector<Eigen::Vector3d> dirs{{0.0, 1.0, 0.0}, {std::sin(a), std::cos(a), 0.0}, {-std::sin(b), std::cos(b), 0.0},
                                          {0.0, 0.0, 1.0}, {1.0, 0.0, 0.0}};
  for (const Eigen::Vector3d& d : dirs) tubes.directions.push_back({d.x(), d.y(), d.z()});
  tubes.radius_m = 0.5e-3;
  tubes.length_m = 10e-3;
  tubes.iron_kg_per_m3 = 5.0;
  p.tubes = {tubes};
  const auto s = phantom_sources(p);
  const Eigen::Vector3d origin(0.0, 0.0, 1e-3);
  const double area = std::numbers::pi * 0.25e-6;
  // Beyond 4 mm from the origin the tubes no longer touch: each holds c pi r^2 over its last 6 mm.
  for (const Eigen::Vector3d& d : dirs) {
    std::vector<ParticleSource> far;
    for (const ParticleSource& q : s) {
      const Eigen::Vector3d r = q.position_m - origin;
      if (r.dot(d) > 4e-3 && (r - r.dot(d) * d).norm() < 1e-3) far.push_back(q);
    }
    const double expected = 5.0 * area * 6e-3;
    EXPECT_NEAR(total_iron(far), expected, 0.01 * expected) << d.transpose();
    const Eigen::Vector3d c = centroid(far) - origin;
    EXPECT_NEAR(c.dot(d), 7e-3, 1e-9) << d.transpose();
    EXPECT_LT((c - c.dot(d) * d).norm(), 1e-5) << d.transpose();
  }
  // The union: overlaps near the origin hold the concentration once.
  const double all = total_iron(s);
  EXPECT_LT(all, 5.0 * 5.0 * area * 10e-3);
  EXPECT_GT(all, 5.0 * 5.0 * area * 10e-3 * 0.8);
}

TEST(PhantomSources, SingleTubeVolume) {
  config::PhantomDescription p = empty_phantom(0.5e-3);
  config::TubesDescription tube;
  tube.directions = {{0.6, 0.0, 0.8}};
  tube.radius_m = 0.3e-3;
  tube.length_m = 7e-3;
  tube.iron_kg_per_m3 = 2.0;
  p.tubes = {tube};
  const double expected = 2.0 * std::numbers::pi * 0.09e-6 * 7e-3;
  EXPECT_NEAR(total_iron(phantom_sources(p)), expected, 0.01 * expected);
}

class VoxelFile : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("mpi_hil_model_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path write(const std::vector<float>& values, const std::string& name = "v.raw") {
    const auto path = dir / name;
    std::ofstream out(path, std::ios::binary);
    for (float v : values) {
      std::uint32_t w;
      std::memcpy(&w, &v, 4);
      const char bytes[4] = {static_cast<char>(w & 0xffu), static_cast<char>((w >> 8) & 0xffu), static_cast<char>((w >> 16) & 0xffu),
                             static_cast<char>(w >> 24)};
      out.write(bytes, 4);
    }
    return path;
  }
};

TEST_F(VoxelFile, RoundTrip) {
  // 3 x 2 x 2, x fastest; zeros carry no source.
  const std::vector<float> values{0.0f, 1.0f, 2.0f, 3.0f, 0.0f, 0.5f, 4.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.25f};
  config::PhantomDescription p = empty_phantom();
  config::VoxelsDescription v;
  v.file = write(values);
  v.size = {3, 2, 2};
  v.voxel_m = {1e-3, 2e-3, 3e-3};
  v.centre_m = {10e-3, 0.0, 0.0};
  v.iron_kg_per_unit = 1e-9;
  p.voxels = {v};
  const auto s = phantom_sources(p);
  ASSERT_EQ(s.size(), 6u);
  std::size_t k = 0;
  for (std::uint32_t iz = 0; iz < 2; ++iz) {
    for (std::uint32_t iy = 0; iy < 2; ++iy) {
      for (std::uint32_t ix = 0; ix < 3; ++ix) {
        const float value = values[ix + 3 * (iy + 2 * iz)];
        if (value == 0.0f) continue;
        const Eigen::Vector3d expected(10e-3 + (ix - 1.0) * 1e-3, (iy - 0.5) * 2e-3, (iz - 0.5) * 3e-3);
        EXPECT_LT((s[k].position_m - expected).norm(), 1e-15) << k;
        EXPECT_DOUBLE_EQ(s[k].iron_kg, value * 1e-9) << k;
        ++k;
      }
    }
  }
}

TEST_F(VoxelFile, UnreadableOrWrongFilesAreConfigErrors) {
  config::PhantomDescription p = empty_phantom();
  config::VoxelsDescription v;
  v.file = dir / "missing.raw";
  v.size = {2, 1, 1};
  v.iron_kg_per_unit = 1e-9;
  p.voxels = {v};
  try {
    (void)phantom_sources(p);
    FAIL() << "missing file accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.raw"), std::string::npos) << e.what();
  }
  p.voxels[0].file = write({1.0f, 2.0f, 3.0f}, "short.raw");
  EXPECT_THROW((void)phantom_sources(p), config::ConfigError);
  p.voxels[0].file = write({1.0f, -2.0f}, "negative.raw");
  try {
    (void)phantom_sources(p);
    FAIL() << "negative voxel accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("(1, 0, 0)"), std::string::npos) << e.what();
  }
}

TEST(RobotSources, GridPositionsXFastest) {
  config::RobotDescription robot;
  robot.centre_m = {0.0, 1e-3, 0.0};
  robot.grid = {3, 2, 4};
  robot.fov_m = {6e-3, 4e-3, 8e-3};
  robot.sample_edge_m = 0.5e-3;
  robot.iron_kg = 2e-9;
  EXPECT_EQ(robot_positions(robot), 24u);
  // index 1 + 3 * (1 + 2 * 2) = 16: (1, 1, 2) -> (-3 + 1.5 * 2, 1 - 2 + 1.5 * 2, -4 + 2.5 * 2) mm.
  const auto s = robot_sources(robot, 0.5e-3, 16);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_LT((s[0].position_m - Eigen::Vector3d(0.0, 2e-3, 1e-3)).norm(), 1e-15);
  EXPECT_EQ(s[0].iron_kg, 2e-9);
  const auto first = robot_sources(robot, 0.5e-3, 0);
  EXPECT_LT((first[0].position_m - Eigen::Vector3d(-2e-3, 0.0, -3e-3)).norm(), 1e-15);
  EXPECT_THROW((void)robot_sources(robot, 0.5e-3, 24), std::out_of_range);
}

TEST(RobotSources, LargeSampleIsVoxelised) {
  config::RobotDescription robot;
  robot.grid = {1, 1, 1};
  robot.centre_m = {1e-3, 0.0, 0.0};
  robot.sample_edge_m = 1.2e-3;
  robot.iron_kg = 3e-9;
  const auto s = robot_sources(robot, 0.5e-3, 0);
  EXPECT_EQ(s.size(), 27u);  // ceil(1.2 / 0.5) = 3 per axis
  EXPECT_NEAR(total_iron(s), 3e-9, 1e-23);
  EXPECT_LT((centroid(s) - Eigen::Vector3d(1e-3, 0.0, 0.0)).norm(), 1e-16);
  for (const ParticleSource& q : s) EXPECT_LE((q.position_m - Eigen::Vector3d(1e-3, 0.0, 0.0)).cwiseAbs().maxCoeff(), 0.4e-3 + 1e-15);
}

TEST(PhantomSources, RobotIsNotPartOfThePhantom) {
  config::PhantomDescription p = empty_phantom();
  config::RobotDescription robot;
  robot.iron_kg = 1e-9;
  p.robot = robot;
  EXPECT_TRUE(phantom_sources(p).empty());
}

}  // namespace
}  // namespace mpi::hil
