// The scanner and plan files: the project's own configs load; every bad or missing key is named.
#include "mpi/hil/plant_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace mpi::hil {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::filesystem::path kConfigs = std::filesystem::path(MPI_SOURCE_DIR) / "configs";

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text with the first line starting with `key` replaced by `replacement` (removed when empty).
std::string with_line(std::string text, const std::string& key, const std::string& replacement) {
  const std::size_t at = text.find("\n" + key);
  EXPECT_NE(at, std::string::npos) << key;
  const std::size_t end = text.find('\n', at + 1);
  text.replace(at + 1, end - at - 1, replacement);
  return text;
}

std::string scanner_error(const std::string& text) {
  PlantConfig config;
  try {
    read_scanner_config(text, "scanner.toml", config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

std::string plan_error(const std::string& text) {
  PlantConfig config;
  try {
    read_plan_config(text, "plan.toml", config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(PlantConfig, LoadsTheProjectConfigs) {
  const PlantConfig c = load_plant_config(kConfigs / "scanner-1d.toml", kConfigs / "plan-1d-two-points.toml");
  EXPECT_EQ(c.board.dac_clock_hz, 125'000'000U);
  EXPECT_EQ(c.board.adc_decimation, 8U);
  EXPECT_EQ(c.board.adc_channels, 2U);
  EXPECT_EQ(c.board.ring_frames_log2, 22U);
  EXPECT_EQ(c.board.drive_channels, 1U);
  EXPECT_DOUBLE_EQ(c.sample_rate_hz(), 15.625e6);
  EXPECT_DOUBLE_EQ(c.tesla_per_full_scale, 0.020);
  EXPECT_DOUBLE_EQ(c.gradient_t_per_m, 2.0);
  EXPECT_DOUBLE_EQ(c.receive.coil_sensitivity_t_per_a, 1.5e-3);
  EXPECT_DOUBLE_EQ(c.receive.lna_gain, 50.0);
  EXPECT_DOUBLE_EQ(c.receive.adc_full_scale_v, 1.0);
  EXPECT_DOUBLE_EQ(c.receive.noise_density_v_per_sqrt_hz, 2e-9);
  EXPECT_DOUBLE_EQ(c.receive.feedthrough_v_per_t_per_s, 1e-6);
  EXPECT_DOUBLE_EQ(c.receive.reference_v_per_t, 50.0);
  EXPECT_DOUBLE_EQ(c.tracer.core_diameter_m, 30e-9);
  EXPECT_DOUBLE_EQ(c.tracer.diameter_sigma, 0.0);
  EXPECT_DOUBLE_EQ(c.tracer.saturation_magnetisation_a_per_m, 8e5);
  EXPECT_DOUBLE_EQ(c.tracer.temperature_k, 293.15);
  ASSERT_EQ(c.phantom.points.size(), 2U);
  EXPECT_DOUBLE_EQ(c.phantom.points[0].x_m, -1.5e-3);
  EXPECT_DOUBLE_EQ(c.phantom.points[1].x_m, 1.5e-3);
  EXPECT_DOUBLE_EQ(c.phantom.points[0].iron_kg, 10e-9);
  EXPECT_TRUE(c.phantom.lines.empty());
  EXPECT_EQ(c.seed, 1U);
}

TEST(PlantConfig, MissingFileIsNamed) {
  try {
    (void)load_plant_config(kConfigs / "no-such-scanner.toml", kConfigs / "plan-1d-two-points.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no-such-scanner.toml"));
  }
}

TEST(PlantConfig, BadFileOnDiskNamesFileLineAndKey) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / ("mpi_plant_scanner_" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out(path);
    out << with_line(slurp(kConfigs / "scanner-1d.toml"), "lna_gain", "lna_gain = -50.0");
  }
  try {
    (void)load_plant_config(path, kConfigs / "plan-1d-two-points.toml");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string() + ":"), HasSubstr("[receive] lna_gain"), HasSubstr("-50")));
  }
  std::filesystem::remove(path);
}

const std::string kScanner = slurp(kConfigs / "scanner-1d.toml");
const std::string kPlan = slurp(kConfigs / "plan-1d-two-points.toml");

TEST(PlantConfig, ScannerErrorsNameTheKey) {
  EXPECT_EQ(scanner_error(kScanner), "no error");
  EXPECT_THAT(scanner_error(with_line(kScanner, "lna_gain", "")), AllOf(HasSubstr("scanner.toml"), HasSubstr("[receive] lna_gain: missing")));
  EXPECT_THAT(scanner_error(with_line(kScanner, "lna_gain", "lna_gain = \"high\"")),
              AllOf(HasSubstr("scanner.toml:"), HasSubstr("[receive] lna_gain"), HasSubstr("expected a number, got a string")));
  EXPECT_THAT(scanner_error(with_line(kScanner, "gradient_t_per_m", "gradient_t_per_m = -2.0")),
              AllOf(HasSubstr("[selection] gradient_t_per_m"), HasSubstr("must be in")));
  EXPECT_THAT(scanner_error(with_line(kScanner, "tesla_per_full_scale", "tesla_per_full_scale = 0")), HasSubstr("[drive] tesla_per_full_scale"));
  EXPECT_THAT(scanner_error(with_line(kScanner, "adc_decimation", "adc_decimation = 8.5")),
              AllOf(HasSubstr("[board] adc_decimation"), HasSubstr("expected an integer")));
  EXPECT_THAT(scanner_error(with_line(kScanner, "adc_channels", "adc_channels = 1")), HasSubstr("[board] adc_channels: must be in [2, 8]"));
  EXPECT_THAT(scanner_error(with_line(kScanner, "ring_frames_log2", "ring_frames_log2 = 40")), HasSubstr("[board] ring_frames_log2"));
  EXPECT_THAT(scanner_error(with_line(kScanner, "drive_channels", "drive_channels = 9")), HasSubstr("[board] drive_channels"));
  EXPECT_THAT(scanner_error(with_line(kScanner, "noise_density_v_per_sqrt_hz", "noise_density_v_per_sqrt_hz = -1e-9")),
              HasSubstr("[receive] noise_density_v_per_sqrt_hz"));
  EXPECT_THAT(scanner_error(with_line(kScanner, "reference_v_per_t", "reference_v_per_t = nan")), HasSubstr("[receive] reference_v_per_t"));
  EXPECT_THAT(scanner_error(with_line(kScanner, "[selection]", "[elsewhere]")), HasSubstr("section [selection] is missing"));
  EXPECT_THAT(scanner_error("receive = 3\n" + with_line(kScanner, "[receive]", "[receive_chain]")), HasSubstr("[receive]: expected a table"));
}

TEST(PlantConfig, SyntaxErrorsGiveLineAndColumn) {
  const std::string text = with_line(kScanner, "lna_gain", "lna_gain = = 50");
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(text.find("lna_gain = =")), '\n'));
  EXPECT_THAT(scanner_error(text), AllOf(HasSubstr("scanner.toml:" + std::to_string(line) + ":"), HasSubstr("not valid TOML")));
}

TEST(PlantConfig, PlanErrorsNameTheKey) {
  EXPECT_EQ(plan_error(kPlan), "no error");
  EXPECT_THAT(plan_error(with_line(kPlan, "core_diameter_nm", "")), HasSubstr("plan.toml: [tracer] core_diameter_nm: missing"));
  EXPECT_THAT(plan_error(with_line(kPlan, "core_diameter_nm", "core_diameter_nm = 0.0")), HasSubstr("[tracer] core_diameter_nm: must be in (0"));
  EXPECT_THAT(plan_error(with_line(kPlan, "diameter_sigma", "diameter_sigma = 1.5")), HasSubstr("[tracer] diameter_sigma"));
  EXPECT_THAT(plan_error(with_line(kPlan, "temperature_k", "temperature_k = \"warm\"")), HasSubstr("[tracer] temperature_k: expected a number"));
  EXPECT_THAT(plan_error(with_line(kPlan, "saturation_magnetisation_a_per_m", "saturation_magnetisation_a_per_m = -1")),
              HasSubstr("[tracer] saturation_magnetisation_a_per_m"));
  EXPECT_THAT(plan_error(with_line(kPlan, "seed", "seed = -3")), HasSubstr("[simulation] seed"));
  EXPECT_THAT(plan_error(with_line(kPlan, "seed", "seed = 1.5")), HasSubstr("[simulation] seed: expected an integer"));
  EXPECT_THAT(plan_error(with_line(kPlan, "[tracer]", "[tracers]")), HasSubstr("section [tracer] is missing"));
}

TEST(PlantConfig, PhantomErrorsNameTheEntry) {
  // The second point loses its iron.
  std::string text = kPlan;
  const std::size_t second = text.find("iron_ug", text.find("x_mm = 1.5"));
  text.replace(second, std::string("iron_ug = 10.0").size(), "");
  EXPECT_THAT(plan_error(text), HasSubstr("[[phantom.point]] #2 iron_ug: missing"));
  EXPECT_THAT(plan_error(with_line(kPlan, "x_mm", "x_mm = \"left\"")), HasSubstr("[[phantom.point]] #1 x_mm: expected a number"));
  EXPECT_THAT(plan_error(with_line(kPlan, "iron_ug", "iron_ug = -1.0")), HasSubstr("[[phantom.point]] #1 iron_ug: must be in [0"));
  EXPECT_THAT(plan_error(kPlan + "\n[[phantom.line]]\nfrom_mm = 1.0\nto_mm = 1.0\niron_ug_per_mm = 2.0\n"),
              HasSubstr("[[phantom.line]] #1 to_mm: must differ from from_mm"));
  EXPECT_THAT(plan_error(kPlan + "\n[[phantom.line]]\nfrom_mm = 1.0\nto_mm = 3.0\n"), HasSubstr("[[phantom.line]] #1 iron_ug_per_mm: missing"));
  EXPECT_THAT(plan_error("[tracer]\ncore_diameter_nm = 30.0\ndiameter_sigma = 0.0\nsaturation_magnetisation_a_per_m = 8e5\n"
                         "temperature_k = 300.0\n[phantom]\npoint = 3\n"),
              HasSubstr("[[phantom.point]]: expected an array of tables"));
}

TEST(PlantConfig, LinesAndDefaultSeedAreRead) {
  const std::string text =
      "[tracer]\ncore_diameter_nm = 25\ndiameter_sigma = 0.1\nsaturation_magnetisation_a_per_m = 4.46e5\ntemperature_k = 310\n"
      "[[phantom.line]]\nfrom_mm = -2.0\nto_mm = 4.0\niron_ug_per_mm = 1.5\n";
  PlantConfig c;
  c.seed = 99;
  read_plan_config(text, "plan.toml", c);
  EXPECT_EQ(c.seed, 1U);
  EXPECT_TRUE(c.phantom.points.empty());
  ASSERT_EQ(c.phantom.lines.size(), 1U);
  EXPECT_DOUBLE_EQ(c.phantom.lines[0].from_m, -2e-3);
  EXPECT_DOUBLE_EQ(c.phantom.lines[0].to_m, 4e-3);
  EXPECT_DOUBLE_EQ(c.phantom.lines[0].iron_kg_per_m, 1.5e-6);  // 1.5 ug/mm = 1.5e-6 kg/m
  EXPECT_DOUBLE_EQ(c.tracer.core_diameter_m, 25e-9);
}

}  // namespace
}  // namespace mpi::hil
