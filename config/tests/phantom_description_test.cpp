#include "mpi/config/phantom_description.hpp"

#include "expect_config_error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

namespace mpi::config {
namespace {

using testing::replaced;
using testing::TempDir;
using testing::throws_config_error;

const std::string kBase = R"(
[phantom]
name = "everything"
voxel_size = "0.25 mm"

[[phantom.point]]
position = ["-1.5 mm", "0 mm", "0 mm"]
iron = "10 ug"

[[phantom.point]]
position = ["1.5 mm", "0 mm", "2 mm"]
iron = "20 ug"

[[phantom.line]]
from = ["0 mm", "-5 mm", "0 mm"]
to = ["0 mm", "5 mm", "0 mm"]
iron_per_length = "5 ug/mm"

[[phantom.line_pair]]
centre = ["0 mm", "0 mm", "0 mm"]
direction = "y"
separation_direction = [1, 0, 0]
length = "10 mm"
spacing = "3 mm"
iron_per_length = "1 ug/mm"

[[phantom.cone]]
tip = ["0 mm", "-11 mm", "0 mm"]
axis = "y"
tip_radius = "1 mm"
apex_angle = "10 deg"
height = "22 mm"
concentration = "50 mmol/L"

[[phantom.tubes]]
origin = ["0 mm", "-10 mm", "0 mm"]
directions = [[0, 1, 0], [1, 1, 0]]
radius = "0.5 mm"
length = "20 mm"
concentration = "1 mg/mL"

[[phantom.cubes]]
edge = "2 mm"
count = 8
spacing = ["12 mm", "12 mm", "6 mm"]
layout = [2, 2, 2]
first_concentration = "100 mmol/L"
dilution = 1.5

[[phantom.voxels]]
file = "cells.raw"
size = [2, 3, 1]
voxel = ["1 mm", "1 mm", "2 mm"]
iron_per_unit = "1 ug"

[phantom.robot]
grid = [19, 19, 1]
fov = ["38 mm", "38 mm", "0 mm"]
sample_edge = "1 mm"
iron = "50 ug"
)";

class PhantomDescriptionTest : public ::testing::Test {
 protected:
  PhantomDescriptionTest() { dir_.write("cells.raw", std::string(2 * 3 * 1 * 4, '\0')); }
  PhantomDescription parse(const std::string& text) const {
    return parse_phantom_description(text, "phantom.toml", dir_.path());
  }
  template <typename... Pieces>
  ::testing::AssertionResult refused(const std::string& text, Pieces... pieces) const {
    return throws_config_error([&] { parse(text); }, {"phantom.toml: ", pieces...});
  }
  TempDir dir_;
};

TEST_F(PhantomDescriptionTest, ParsesEveryKind) {
  const PhantomDescription p = parse(kBase);
  EXPECT_EQ(p.name, "everything");
  EXPECT_DOUBLE_EQ(p.voxel_size_m, 0.25e-3);
  ASSERT_EQ(p.points.size(), 2U);
  EXPECT_EQ(p.points[1].position_m, (Vec3{1.5e-3, 0.0, 2e-3}));
  EXPECT_DOUBLE_EQ(p.points[1].iron_kg, 20e-9);
  ASSERT_EQ(p.lines.size(), 1U);
  EXPECT_DOUBLE_EQ(p.lines[0].iron_kg_per_m, 5e-6);  // 5 ug/mm = 5e-9 kg / 1e-3 m
  ASSERT_EQ(p.line_pairs.size(), 1U);
  EXPECT_EQ(p.line_pairs[0].separation_direction, (Vec3{1.0, 0.0, 0.0}));
  EXPECT_DOUBLE_EQ(p.line_pairs[0].spacing_m, 3e-3);
  ASSERT_EQ(p.cones.size(), 1U);
  EXPECT_NEAR(p.cones[0].apex_angle_rad, 10.0 * std::numbers::pi / 180.0, 1e-15);
  EXPECT_NEAR(p.cones[0].iron_kg_per_m3, 50.0 * 55.845e-3, 1e-12);
  ASSERT_EQ(p.tubes.size(), 1U);
  ASSERT_EQ(p.tubes[0].directions.size(), 2U);
  EXPECT_NEAR(p.tubes[0].directions[1][0], 1.0 / std::sqrt(2.0), 1e-15);
  EXPECT_DOUBLE_EQ(p.tubes[0].iron_kg_per_m3, 1.0);
  ASSERT_EQ(p.cubes.size(), 1U);
  EXPECT_EQ(p.cubes[0].layout, (std::array<std::uint32_t, 3>{2, 2, 2}));
  EXPECT_EQ(p.cubes[0].spacing_m, (Vec3{12e-3, 12e-3, 6e-3}));
  ASSERT_EQ(p.voxels.size(), 1U);
  EXPECT_EQ(p.voxels[0].file, dir_.path() / "cells.raw");
  EXPECT_EQ(p.voxels[0].size, (std::array<std::uint32_t, 3>{2, 3, 1}));
  ASSERT_TRUE(p.robot.has_value());
  EXPECT_EQ(p.robot->grid, (std::array<std::uint32_t, 3>{19, 19, 1}));
  EXPECT_DOUBLE_EQ(p.robot->move_time_s, 0.2);
}

TEST_F(PhantomDescriptionTest, EmptyBoreIsAllowed) {
  const PhantomDescription p = parse("[phantom]\nname = \"empty\"\n");
  EXPECT_TRUE(p.points.empty());
  EXPECT_FALSE(p.robot.has_value());
}

TEST_F(PhantomDescriptionTest, NonPositiveAmounts) {
  EXPECT_TRUE(refused(replaced(kBase, R"(iron = "20 ug")", R"(iron = "0 ug")"), "[[phantom.point]] #2 iron",
                      "must be positive", "'0 ug'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(concentration = "50 mmol/L")", R"(concentration = "-50 mmol/L")"),
                      "[[phantom.cone]] #1 concentration", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(first_concentration = "100 mmol/L")", R"(first_concentration = "0 mmol/L")"),
                      "[[phantom.cubes]] #1 first_concentration", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(iron_per_length = "5 ug/mm")", R"(iron_per_length = "-5 ug/mm")"),
                      "[[phantom.line]] #1 iron_per_length", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(iron = "50 ug")", R"(iron = "0 ug")"), "[phantom.robot] iron", "positive"));
}

TEST_F(PhantomDescriptionTest, TubesNeedDirections) {
  EXPECT_TRUE(refused(replaced(kBase, "directions = [[0, 1, 0], [1, 1, 0]]", "directions = []"),
                      "[[phantom.tubes]] #1 directions", "at least one direction"));
  EXPECT_TRUE(refused(replaced(kBase, "directions = [[0, 1, 0], [1, 1, 0]]", ""), "[[phantom.tubes]] #1 directions",
                      "missing"));
  EXPECT_TRUE(refused(replaced(kBase, "directions = [[0, 1, 0], [1, 1, 0]]", "directions = [[0, 1, 0], [0, 0, 0]]"),
                      "[[phantom.tubes]] #1 directions[1]", "zero vector"));
}

TEST_F(PhantomDescriptionTest, CubesMustFitTheLayout) {
  EXPECT_TRUE(refused(replaced(kBase, "count = 8", "count = 9"), "[[phantom.cubes]] #1 count",
                      "9 cubes do not fit a layout of 2 x 2 x 2 = 8"));
  EXPECT_TRUE(refused(replaced(kBase, "layout = [2, 2, 2]", "layout = [2, 0, 2]"), "[[phantom.cubes]] #1 layout[1]",
                      "at least 1"));
  EXPECT_TRUE(refused(replaced(kBase, R"(spacing = ["12 mm", "12 mm", "6 mm"])", R"(spacing = ["12 mm", "1 mm", "6 mm"])"),
                      "[[phantom.cubes]] #1 spacing", "overlap"));
}

TEST_F(PhantomDescriptionTest, VoxelFile) {
  EXPECT_TRUE(refused(replaced(kBase, R"(file = "cells.raw")", R"(file = "nothing.raw")"),
                      "[[phantom.voxels]] #1 file", "no such file", "got 'nothing.raw'"));
  EXPECT_TRUE(refused(replaced(kBase, "size = [2, 3, 1]", "size = [2, 3, 2]"), "[[phantom.voxels]] #1 file",
                      "holds 24 bytes", "needs 48"));
}

TEST_F(PhantomDescriptionTest, RobotGrid) {
  EXPECT_TRUE(refused(replaced(kBase, "grid = [19, 19, 1]", "grid = [19, 0, 1]"), "[phantom.robot] grid[1]",
                      "at least 1"));
  EXPECT_TRUE(refused(replaced(kBase, R"(fov = ["38 mm", "38 mm", "0 mm"])", R"(fov = ["38 mm", "0 mm", "0 mm"])"),
                      "[phantom.robot] fov", "more than one grid point"));
  EXPECT_TRUE(refused(replaced(kBase, "grid = [19, 19, 1]", ""), "[phantom.robot] grid", "missing"));
}

TEST_F(PhantomDescriptionTest, Geometry) {
  EXPECT_TRUE(refused(replaced(kBase, "separation_direction = [1, 0, 0]", "separation_direction = [1, 1, 0]"),
                      "[[phantom.line_pair]] #1 separation_direction", "orthogonal"));
  EXPECT_TRUE(refused(replaced(kBase, R"(to = ["0 mm", "5 mm", "0 mm"])", R"(to = ["0 mm", "-5 mm", "0 mm"])"),
                      "[[phantom.line]] #1 to", "must differ"));
  EXPECT_TRUE(refused(replaced(kBase, R"(apex_angle = "10 deg")", R"(apex_angle = "180 deg")"),
                      "[[phantom.cone]] #1 apex_angle", "[0, 180)"));
  EXPECT_TRUE(refused(replaced(kBase, R"(radius = "0.5 mm")", R"(radius = "-0.5 mm")"), "[[phantom.tubes]] #1 radius",
                      "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(position = ["1.5 mm", "0 mm", "2 mm"])", R"(position = ["1.5 mm", "0 mm"])"),
                      "[[phantom.point]] #2 position", "three values"));
  EXPECT_TRUE(refused(replaced(kBase, R"(position = ["1.5 mm", "0 mm", "2 mm"])", R"(position = ["1.5 mm", "0 mm", "2"])"),
                      "[[phantom.point]] #2 position[2]", "expected a length", "with its unit"));
}

TEST_F(PhantomDescriptionTest, UnknownKeys) {
  EXPECT_TRUE(refused(replaced(kBase, R"(iron = "20 ug")", "iron = \"20 ug\"\nradius = \"1 mm\""),
                      "[[phantom.point]] #2 radius: unknown key"));
  EXPECT_TRUE(refused(replaced(kBase, "[[phantom.point]]", "[[phantom.pont]]"), "[phantom] pont: unknown key",
                      "did you mean 'point'"));
  EXPECT_TRUE(refused(kBase + "\n[tracer]\n", "tracer: unknown key"));
}

TEST_F(PhantomDescriptionTest, LoadResolvesVoxelFilesNextToThePhantom) {
  const TempDir other;
  other.write("sub/cells.raw", std::string(24, '\0'));
  const auto file = other.write("sub/p.toml", "[phantom]\n[[phantom.voxels]]\nfile = \"cells.raw\"\nsize = [2, 3, 1]\n"
                                              "iron_per_unit = \"1 ug\"\n");
  const PhantomDescription p = load_phantom_description(file);
  EXPECT_EQ(p.voxels[0].file, other.path() / "sub" / "cells.raw");
}

}  // namespace
}  // namespace mpi::config
