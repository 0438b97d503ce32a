// Calibration plans: the shipped plan loads with its grid at the positions of the formula
// centre - fov/2 + (i + 0.5) fov/n, and every bad value is refused naming the file, the table and the key.
#include "mpi/host/calibration_plan.hpp"
#include "mpi/host/calibration_run.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace mpi::host;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;

const std::string kGood = R"(
tracer = "../tracers/single-core-30nm.toml"
[sequence]
name = "lissajous_2d"
ramp_periods = 10
[calibration]
grid = [9, 9, 1]
fov = ["18 mm", "18 mm", "2 mm"]
centre = ["1 mm", "0 mm", "0 mm"]
delta_sample = "50 ug"
frames_per_position = 4
background_frames = 16
park_every = 20
[simulation]
phantom = "../phantoms/robot-19x19.toml"
)";

CalibrationPlan parse(const std::string& text) { return parse_calibration_plan(text, kSource / "configs/plans/test-calibration.toml"); }

// kGood with the line `key = ...` replaced by `line` (or `line` added to [calibration] when absent).
std::string with(const std::string& key, const std::string& line) {
  std::string t = kGood;
  const std::size_t at = t.find("\n" + key + " =");
  if (at == std::string::npos) {
    t.insert(t.find("[simulation]"), line + "\n");
  } else {
    t.replace(at + 1, t.find('\n', at + 1) - at - 1, line);
  }
  return t;
}

void expect_error(const std::string& text, const std::string& where, const std::string& why) {
  try {
    (void)parse(text);
    ADD_FAILURE() << "accepted: " << where << " (" << why << ")";
  } catch (const PlanError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test-calibration.toml"), std::string::npos) << m;
    EXPECT_NE(m.find(where), std::string::npos) << m;
    EXPECT_NE(m.find(why), std::string::npos) << m;
  }
}

TEST(CalibrationPlan, ShippedPlanLoadsAndFitsThePreclinicalScanner) {
  const fs::path file = kSource / "configs/plans/preclinical-2d-calibration.toml";
  const CalibrationPlan plan = load_calibration_plan(file);
  const CalibrationSettings& c = plan.calibration;
  EXPECT_EQ(plan.scan.sequence.name, "lissajous_2d");
  EXPECT_EQ(c.grid[0], 11U);
  EXPECT_EQ(c.grid[1], 11U);
  EXPECT_EQ(c.grid[2], 1U);
  EXPECT_EQ(c.positions(), 121U);
  EXPECT_DOUBLE_EQ(c.fov_m.x(), 22e-3);
  EXPECT_DOUBLE_EQ(c.delta_iron_kg, 50e-9);
  EXPECT_DOUBLE_EQ(c.sample_edge_m, 1e-3);
  EXPECT_EQ(c.frames_per_position, 4U);
  EXPECT_EQ(c.background_frames, 16U);
  EXPECT_EQ(c.park_every, 40U);
  EXPECT_DOUBLE_EQ(c.min_frequency_hz, 80e3);
  // 2 mm pitch: -11 + 1 = -10 mm first, +10 mm last; index 13 = (2, 1, 0): (-6, -8, 0) mm.
  EXPECT_NEAR(c.position_m(0).x(), -10e-3, 1e-12);
  EXPECT_NEAR(c.position_m(0).y(), -10e-3, 1e-12);
  EXPECT_NEAR(c.position_m(120).x(), 10e-3, 1e-12);
  EXPECT_NEAR(c.position_m(120).y(), 10e-3, 1e-12);
  EXPECT_NEAR(c.position_m(13).x(), -6e-3, 1e-12);
  EXPECT_NEAR(c.position_m(13).y(), -8e-3, 1e-12);
  EXPECT_NEAR(c.position_m(13).z(), 0.0, 1e-12);
  const ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  EXPECT_NO_THROW(check_calibration_plan(plan, scanner));
}

TEST(CalibrationPlan, CentreShiftsTheGrid) {
  const CalibrationPlan plan = parse(kGood);
  // 9 points over 18 mm about x = 1 mm: -8 + 1 = -7 mm first.
  EXPECT_NEAR(plan.calibration.position_m(0).x(), -7e-3, 1e-12);
  EXPECT_NEAR(plan.calibration.position_m(8).x(), 9e-3, 1e-12);
  EXPECT_NEAR(plan.calibration.position_m(8).y(), -8e-3, 1e-12);
  EXPECT_EQ(plan.calibration.settle_frames, 2U);  // default
}

TEST(CalibrationPlan, UnknownKeysAndTablesAreRefused) {
  expect_error(with("colour", "colour = \"red\""), "[calibration] colour", "unknown key");
  expect_error(with("colour", "colour = \"red\""), "[calibration] colour", "(allowed: grid, fov, centre, delta_sample,");
  expect_error(kGood + "[reconstruction]\nmethod = \"xspace\"\n", "reconstruction", "unknown key");
  std::string frames = kGood;
  frames.insert(frames.find("ramp_periods"), "frames = 10\n");
  expect_error(frames, "[sequence] frames", "unknown key");
}

TEST(CalibrationPlan, WrongUnitsAreRefused) {
  expect_error(with("delta_sample", "delta_sample = \"50 mT\""), "[calibration] delta_sample", "mass");
  expect_error(with("delta_sample", "delta_sample = 50"), "[calibration] delta_sample", "unit");
  expect_error(with("fov", "fov = [\"18 mm\", \"18 kHz\", \"2 mm\"]"), "[calibration] fov[1]", "length");
  expect_error(with("min_frequency", "min_frequency = \"80 mm\""), "[calibration] min_frequency", "frequency");
}

TEST(CalibrationPlan, OutOfRangeValuesAreRefused) {
  expect_error(with("frames_per_position", "frames_per_position = 0"), "[calibration] frames_per_position", "outside");
  expect_error(with("background_frames", "background_frames = 1"), "[calibration] background_frames", "outside");
  expect_error(with("grid", "grid = [9, 9]"), "[calibration] grid", "three whole numbers");
  expect_error(with("grid", "grid = [9, 0, 1]"), "[calibration] grid[1]", "outside");
  expect_error(with("fov", "fov = [\"18 mm\", \"0 mm\", \"2 mm\"]"), "[calibration] fov[1]", "more than 0");
  expect_error(with("delta_sample", "delta_sample = \"2 g\""), "[calibration] delta_sample", "outside");
  expect_error(with("park_every", "park_every = -1"), "[calibration] park_every", "outside");
  expect_error(with("ramp_periods", "ramp_periods = 10\nperiods_per_frame = 2"), "[sequence] periods_per_frame", "outside");
  expect_error(with("ramp_periods", "ramp_periods = 10\ndrive_phase_rad = { x = 0.5, y = 101.0 }"), "[sequence] drive_phase_rad.y",
               "= 101 is outside the allowed range [-100, 100]");
  expect_error(with("centre", "centre = [\"1 mm\", \"0 mm\"]"), "[calibration] centre", "must be three values with units");
}

TEST(CalibrationPlan, MissingPartsAreNamed) {
  std::string no_iron = kGood;
  no_iron.erase(no_iron.find("delta_sample"), std::string("delta_sample = \"50 ug\"\n").size());
  expect_error(no_iron, "[calibration] delta_sample", "missing (e.g. delta_sample = \"50 ug\")");
  std::string bad_tracer = kGood;
  bad_tracer.replace(bad_tracer.find("single-core-30nm"), 16, "no-such-tracer");
  expect_error(bad_tracer, "tracer", "no-such-tracer");
  std::string no_calibration = kGood.substr(0, kGood.find("[calibration]"));
  expect_error(no_calibration, "[calibration]", "missing");
}

TEST(CalibrationPlan, ASequenceTheScannerDoesNotHaveIsRefusedBeforeAnythingMoves) {
  std::string text = kGood;
  text.replace(text.find("lissajous_2d"), 12, "lissajous_9d");
  const CalibrationPlan plan = parse(text);
  const ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  try {
    check_calibration_plan(plan, scanner);
    ADD_FAILURE() << "accepted a sequence the scanner does not have";
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("lissajous_9d"), std::string::npos) << e.what();
  }
}

}  // namespace
