#include "mpi/host/scan_plan.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

fs::path write_temp(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("mpi_plan_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const fs::path& p) {
  try {
    load_scan_plan(p);
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

const char* kGood = R"(
[sequence]
drive_frequency_hz = 25000.0
drive_amplitude_t = 0.012
periods_per_frame = 10
frames = 5
[tracer]
core_diameter_nm = 30.0
saturation_magnetisation_a_per_m = 8e5
)";

}  // namespace

TEST(ScanPlan, ShippedPlanAndScannerLoad) {
  const ScanPlan plan = load_scan_plan(fs::path(MPI_SOURCE_DIR) / "configs/plan-1d-two-points.toml");
  EXPECT_DOUBLE_EQ(plan.sequence.drive_amplitude_t, 0.012);
  EXPECT_DOUBLE_EQ(plan.tracer.core_diameter_m, 30e-9);
  const ScannerDescription s = load_scanner_description(fs::path(MPI_SOURCE_DIR) / "configs/scanner-1d.toml");
  EXPECT_DOUBLE_EQ(s.gradient_t_per_m, 2.0);
  EXPECT_EQ(s.adc_channel_names.size(), 2U);
}

TEST(ScanPlan, GoodPlanUsesDefaultsForOptionalKeys) {
  const ScanPlan plan = load_scan_plan(write_temp("good.toml", kGood));
  EXPECT_EQ(plan.sequence.frames, 5U);
  EXPECT_DOUBLE_EQ(plan.tracer.temperature_k, 293.15);
}

TEST(ScanPlan, MissingFileNamesTheFile) {
  const std::string e = error_of("/nonexistent/plan.toml");
  EXPECT_NE(e.find("/nonexistent/plan.toml"), std::string::npos) << e;
}

TEST(ScanPlan, SyntaxErrorNamesLineAndColumn) {
  const std::string e = error_of(write_temp("syntax.toml", "[sequence]\ndrive_frequency_hz = = 3\n"));
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
}

TEST(ScanPlan, OutOfRangeValueNamesSectionAndKey) {
  std::string text = kGood;
  text.replace(text.find("0.012"), 5, "5.0");
  const std::string e = error_of(write_temp("range.toml", text));
  EXPECT_NE(e.find("[sequence] drive_amplitude_t"), std::string::npos) << e;
}

TEST(ScanPlan, WrongTypeAndMissingKeyAreNamed) {
  std::string text = kGood;
  text.replace(text.find("frames = 5"), 10, "frames = \"many\"");
  EXPECT_NE(error_of(write_temp("type.toml", text)).find("[sequence] frames: must be an integer"), std::string::npos);
  std::string missing = kGood;
  missing.replace(missing.find("core_diameter_nm = 30.0"), 23, "");
  EXPECT_NE(error_of(write_temp("missing.toml", missing)).find("[tracer] core_diameter_nm: missing"), std::string::npos);
}

TEST(ScanPlan, MissingSectionIsNamed) {
  EXPECT_NE(error_of(write_temp("nosection.toml", "[sequence]\ndrive_frequency_hz=1000.0\ndrive_amplitude_t=0.01\n")).find("[tracer]"),
            std::string::npos);
}
