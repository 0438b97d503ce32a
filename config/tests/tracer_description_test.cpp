#include "mpi/config/tracer_description.hpp"

#include "expect_config_error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mpi::config {
namespace {

using testing::replaced;
using testing::throws_config_error;

const std::string kBase = R"(
[tracer]
name = "two modes"
temperature = "37 degC"

[[tracer.mode]]
name = "large"
iron_fraction = 0.25
core_diameter = "25 nm"
diameter_sigma = 0.1
dead_layer = "0.5 nm"
saturation_magnetisation = "446 kA/m"
relaxation = "neel-brownian"
hydrodynamic_diameter = "50 nm"
viscosity = "1 mPa*s"
anisotropy = "10 kJ/m^3"

[[tracer.mode]]
name = "small"
iron_fraction = 0.75
core_diameter = "5 nm"
saturation_magnetisation = "390 kA/m"
relaxation = "given"
tau = "3 us"
)";

TracerDescription parse(const std::string& text) { return parse_tracer_description(text, "tracer.toml"); }

template <typename... Pieces>
::testing::AssertionResult refused(const std::string& text, Pieces... pieces) {
  return throws_config_error([&] { parse(text); }, {"tracer.toml: ", pieces...});
}

TEST(TracerDescription, ParsesTheBase) {
  const TracerDescription t = parse(kBase);
  EXPECT_EQ(t.name, "two modes");
  EXPECT_NEAR(t.temperature_k, 310.15, 1e-9);
  ASSERT_EQ(t.modes.size(), 2U);
  const TracerModeDescription& a = t.modes[0];
  EXPECT_DOUBLE_EQ(a.iron_fraction, 0.25);
  EXPECT_DOUBLE_EQ(a.core_diameter_m, 25e-9);
  EXPECT_DOUBLE_EQ(a.diameter_sigma, 0.1);
  EXPECT_DOUBLE_EQ(a.dead_layer_m, 0.5e-9);
  EXPECT_DOUBLE_EQ(a.saturation_magnetisation_a_per_m, 4.46e5);
  EXPECT_EQ(a.relaxation, RelaxationModel::neel_brownian);
  EXPECT_DOUBLE_EQ(a.hydrodynamic_diameter_m, 50e-9);
  EXPECT_DOUBLE_EQ(a.viscosity_pa_s, 1e-3);
  EXPECT_DOUBLE_EQ(a.anisotropy_j_per_m3, 1e4);
  EXPECT_DOUBLE_EQ(a.attempt_time_s, 1e-9);  // default
  EXPECT_DOUBLE_EQ(a.core_density_kg_per_m3, 5170.0);
  const TracerModeDescription& b = t.modes[1];
  EXPECT_EQ(b.relaxation, RelaxationModel::given);
  EXPECT_DOUBLE_EQ(b.tau_s, 3e-6);
  EXPECT_DOUBLE_EQ(b.diameter_sigma, 0.0);
}

TEST(TracerDescription, NegativeDiameter) {
  EXPECT_TRUE(refused(replaced(kBase, R"(core_diameter = "5 nm")", R"(core_diameter = "-5 nm")"),
                      "[[tracer.mode]] #2 (small) core_diameter", "must be positive", "'-5 nm'"));
}

TEST(TracerDescription, DeadLayerAtLeastTheRadius) {
  EXPECT_TRUE(refused(replaced(kBase, R"(dead_layer = "0.5 nm")", R"(dead_layer = "12.5 nm")"),
                      "[[tracer.mode]] #1 (large) dead_layer", "less than the core radius 12.5 nm"));
  EXPECT_TRUE(refused(replaced(kBase, R"(dead_layer = "0.5 nm")", R"(dead_layer = "-1 nm")"),
                      "[[tracer.mode]] #1 (large) dead_layer", "negative"));
}

TEST(TracerDescription, SigmaOutsideZeroOne) {
  EXPECT_TRUE(refused(replaced(kBase, "diameter_sigma = 0.1", "diameter_sigma = 1.5"),
                      "[[tracer.mode]] #1 (large) diameter_sigma", "[0, 1]", "got '1.5'"));
  EXPECT_TRUE(refused(replaced(kBase, "diameter_sigma = 0.1", "diameter_sigma = -0.1"), "diameter_sigma", "[0, 1]"));
}

TEST(TracerDescription, FractionsMustSumToOne) {
  EXPECT_TRUE(refused(replaced(kBase, "iron_fraction = 0.75", "iron_fraction = 0.7"), "[tracer] mode",
                      "iron_fraction", "sum to 0.95"));
  // Within 1e-6 is fine.
  EXPECT_NO_THROW(parse(replaced(kBase, "iron_fraction = 0.75", "iron_fraction = 0.7500004")));
}

TEST(TracerDescription, RelaxationNeedsItsParameters) {
  EXPECT_TRUE(refused(replaced(kBase, R"(tau = "3 us")", ""), "[[tracer.mode]] #2 (small) tau", "missing"));
  EXPECT_TRUE(refused(replaced(kBase, R"(hydrodynamic_diameter = "50 nm")", ""),
                      "[[tracer.mode]] #1 (large) hydrodynamic_diameter", "missing"));
  EXPECT_TRUE(refused(replaced(kBase, R"(anisotropy = "10 kJ/m^3")", ""), "[[tracer.mode]] #1 (large) anisotropy",
                      "missing"));
  EXPECT_TRUE(refused(replaced(kBase, R"(hydrodynamic_diameter = "50 nm")", R"(hydrodynamic_diameter = "20 nm")"),
                      "hydrodynamic_diameter", "smaller than core_diameter"));
  EXPECT_TRUE(refused(replaced(kBase, R"(relaxation = "given")", R"(relaxation = "none")"),
                      "[[tracer.mode]] #2 (small) tau", "only used with relaxation = \"given\""));
  EXPECT_TRUE(refused(replaced(kBase, R"(relaxation = "neel-brownian")", R"(relaxation = "given")"),
                      "only used with relaxation = \"neel-brownian\""));
}

TEST(TracerDescription, UnknownRelaxation) {
  EXPECT_TRUE(refused(replaced(kBase, R"(relaxation = "given")", R"(relaxation = "debye")"),
                      "[[tracer.mode]] #2 (small) relaxation", "\"none\", \"given\" or \"neel-brownian\"",
                      "got 'debye'"));
}

TEST(TracerDescription, UnknownKeysAndUnits) {
  EXPECT_TRUE(refused(replaced(kBase, "diameter_sigma = 0.1", "diameter_sigma = 0.1\ncolour = \"brown\""),
                      "[[tracer.mode]] #1 (large) colour: unknown key"));
  EXPECT_TRUE(refused(kBase + "\n[particles]\n", "particles: unknown key"));
  EXPECT_TRUE(refused(replaced(kBase, R"(core_diameter = "25 nm")", R"(core_diameter = "25 mT")"),
                      "[[tracer.mode]] #1 (large) core_diameter", "expected a length", "got '25 mT'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(temperature = "37 degC")", R"(temperature = 310)"), "[tracer] temperature",
                      "with its unit"));
}

TEST(TracerDescription, NeedsModes) {
  EXPECT_TRUE(refused("[tracer]\nname = \"x\"\n", "[tracer] mode", "at least one"));
  EXPECT_TRUE(refused("name = \"x\"\n", "tracer: missing table [tracer]"));
  EXPECT_TRUE(refused(replaced(kBase, "iron_fraction = 0.25", "iron_fraction = 0"), "iron_fraction", "(0, 1]"));
}

TEST(TracerDescription, ModesGetDefaultNames) {
  const TracerDescription t = parse(replaced(kBase, "name = \"large\"\n", ""));
  EXPECT_EQ(t.modes[0].name, "mode 1");
}

}  // namespace
}  // namespace mpi::config
