#include "mpi/config/plan_simulation.hpp"

#include "expect_config_error.hpp"

#include <gtest/gtest.h>

namespace mpi::config {
namespace {

using testing::TempDir;
using testing::throws_config_error;

const char* const kPlan = R"(
tracer = "../tracers/single-core-30nm.toml"

[sequence]
drive_frequency_hz = 25000.0
frames = 40

[reconstruction]
pixel_mm = 0.02

[simulation]
phantom = "../phantoms/two-points.toml"
seed = 7
faults = "faults.toml"
)";

TEST(PlanSimulation, ReadsPathsRelativeToThePlan) {
  const TempDir dir;
  const auto file = dir.write("plans/p.toml", kPlan);
  const PlanSimulation plan = load_plan_simulation(file);
  EXPECT_EQ(plan.tracer_file, dir.path() / "plans" / "../tracers/single-core-30nm.toml");
  EXPECT_EQ(plan.phantom_file, dir.path() / "plans" / "../phantoms/two-points.toml");
  EXPECT_EQ(plan.faults_file, dir.path() / "plans" / "faults.toml");
  EXPECT_EQ(plan.seed, 7U);
}

TEST(PlanSimulation, Defaults) {
  const PlanSimulation plan = parse_plan_simulation("tracer = \"t.toml\"\n[simulation]\nphantom = \"/abs/p.toml\"\n",
                                                    "plan.toml", "/base");
  EXPECT_EQ(plan.seed, 1U);
  EXPECT_TRUE(plan.faults_file.empty());
  EXPECT_EQ(plan.phantom_file, std::filesystem::path("/abs/p.toml"));
  EXPECT_EQ(plan.tracer_file, std::filesystem::path("/base/t.toml"));
}

TEST(PlanSimulation, RefusesBadSimulationTables) {
  auto refused = [](const std::string& text, std::initializer_list<std::string_view> pieces) {
    return throws_config_error([&] { parse_plan_simulation(text, "plan.toml", "/base"); }, pieces);
  };
  EXPECT_TRUE(refused("tracer = \"t.toml\"\n[simulation]\nphantom = \"p.toml\"\nsed = 3\n",
                      {"plan.toml: [simulation] sed: unknown key", "did you mean 'seed'"}));
  EXPECT_TRUE(refused("tracer = \"t.toml\"\n[simulation]\nphantom = \"p.toml\"\nseed = -1\n",
                      {"plan.toml: [simulation] seed", "at least 0"}));
  EXPECT_TRUE(refused("tracer = \"t.toml\"\n[simulation]\nseed = 1\n", {"plan.toml: [simulation] phantom", "missing"}));
  EXPECT_TRUE(refused("tracer = \"t.toml\"\n", {"plan.toml: simulation: missing table [simulation]"}));
  EXPECT_TRUE(refused("[simulation]\nphantom = \"p.toml\"\n", {"plan.toml: tracer", "missing"}));
  EXPECT_TRUE(refused("tracer = 3\n[simulation]\nphantom = \"p.toml\"\n", {"plan.toml: tracer", "string"}));
  EXPECT_TRUE(refused("tracer = \"t.toml\"\n[simulation\n", {"plan.toml:2:", "not valid TOML"}));
}

}  // namespace
}  // namespace mpi::config
