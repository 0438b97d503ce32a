// Relaxometry plans: the shipped plans load, every bad value is refused with the file, table and key, the
// sweep shapes follow their formulas and the program has one step per drive cycle.
#include "mpi/host/relax_acquisition.hpp"
#include "mpi/host/relax_plan.hpp"
#include "mpi/host/relax_run.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>

namespace fs = std::filesystem;
using namespace mpi::host;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const fs::path kScanner = kSource / "configs/scanners/relaxometer.toml";

const std::string kGood = R"(
tracer = "../tracers/single-core-30nm.toml"
[relax]
drive_amplitude = "15 mT"
bias_amplitude = "40 mT"
sweep_rate = "20 Hz"
shape = "triangle"
sweeps = 2
[sample]
name = "s"
iron_ug = 10.0
)";

RelaxPlan parse(const std::string& text) { return parse_relax_plan(text, kSource / "configs/plans/test.toml"); }

// `text` with the line starting with `key =` replaced by `line` (or `line` appended to [relax] if absent).
std::string with(const std::string& key, const std::string& line) {
  std::string t = kGood;
  const std::size_t at = t.find("\n" + key + " =");
  if (at == std::string::npos) {
    t.insert(t.find("[sample]"), line + "\n");
  } else {
    t.replace(at + 1, t.find('\n', at + 1) - at - 1, line);
  }
  return t;
}

void expect_error(const std::string& text, const std::string& where, const std::string& why) {
  try {
    (void)parse(text);
    ADD_FAILURE() << "accepted: " << where;
  } catch (const PlanError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test.toml"), std::string::npos) << m;
    EXPECT_NE(m.find(where), std::string::npos) << m;
    EXPECT_NE(m.find(why), std::string::npos) << m;
  }
}

}  // namespace

TEST(RelaxPlan, ShippedPlansLoadAndFitTheRelaxometer) {
  for (const char* name : {"relax-single-core-30nm.toml", "relax-empty.toml"}) {
    const RelaxSetup s = prepare_relax(kSource / "configs/plans" / name, kScanner);
    EXPECT_EQ(s.scanner.topology, "mps");
    EXPECT_EQ(s.scanner.cycle_samples, 102U);  // 2.5 MS/s, 2.5 MHz / 102
    EXPECT_EQ(s.scanner.bias_name, "bias");
    EXPECT_EQ(s.scanner.reference_adc_channel, 1U);  // rx, then ref_x
  }
  const RelaxPlan p = load_relax_plan(kSource / "configs/plans/relax-single-core-30nm.toml");
  EXPECT_DOUBLE_EQ(p.drive_amplitude_t, 0.015);
  EXPECT_DOUBLE_EQ(p.bias_amplitude_t, 0.040);
  EXPECT_DOUBLE_EQ(p.sweep_rate_hz, 20.0);
  EXPECT_DOUBLE_EQ(p.gradient_t_per_m, 2.0);
  EXPECT_EQ(p.sample.name, "single-core 30 nm");
  EXPECT_DOUBLE_EQ(p.sample.iron_ug, 2.0);
}

TEST(RelaxPlan, EachBadValueIsRefusedNamingTheKey) {
  expect_error(with("drive_amplitude", "drive_amplitude = \"25 mT\""), "[relax] drive_amplitude", "outside");
  expect_error(with("drive_amplitude", "drive_amplitude = \"15 kHz\""), "[relax] drive_amplitude", "flux density");
  expect_error(with("drive_amplitude", "drive_amplitude = 15"), "[relax] drive_amplitude", "unit");
  expect_error(with("sweep_rate", "sweep_rate = \"30 Hz\""), "[relax] sweep_rate", "outside");
  expect_error(with("shape", "shape = \"square\""), "[relax] shape", "triangle, sine, stepped");
  expect_error(with("levels", "levels = 10"), "[relax] levels", "stepped");
  expect_error(with("sweeps", "sweeps = 0"), "[relax] sweeps", "outside");
  expect_error(with("sweeps", "sweeps = 1.5"), "[relax] sweeps", "must be an integer");
  expect_error(with("background", "background = \"blank\""), "[relax] background", "empty, none");
  expect_error(with("background", "background = \"empty\"\nbackground_recording = \"x\""), "[relax] background_recording", "not both");
  expect_error(with("bogus", "bogus = 1"), "[relax] bogus", "unknown key");
  expect_error(with("iron_ug", "iron_ug = -1.0"), "[sample] iron_ug", "outside");
  expect_error(with("name", "batch = \"b\""), "[sample] name", "missing");
  expect_error(kGood + "[phantom]\nname = \"p\"\n", "phantom", "unknown");
  expect_error("[sample]\nname = \"s\"\niron_ug = 1.0\n", "[relax]", "missing");
  expect_error(kGood + "[relax\n", "test.toml: line", "");
}

TEST(RelaxPlan, TheScannerLimitsAreChecked) {
  RelaxPlan p = parse(kGood);
  p.bias_amplitude_t = 0.06;  // the bias channel's max_field is 50 mT
  try {
    (void)relax_scanner(p, kScanner);
    ADD_FAILURE() << "accepted a 60 mT bias";
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("bias_amplitude"), std::string::npos) << e.what();
  }
  p = parse(kGood);
  p.bias_channel = "focus";
  EXPECT_THROW((void)relax_scanner(p, kScanner), PlanError);
  p = parse(kGood);
  p.sweep_rate_hz = 0.2;  // 122550 cycles per sweep: more than the program's 65536 steps
  EXPECT_THROW((void)relax_scanner(p, kScanner), PlanError);
  EXPECT_THROW((void)prepare_relax(kSource / "configs/plans/missing.toml", kScanner), PlanError);
}

TEST(RelaxPlan, SweepShapesFollowTheirFormulas) {
  RelaxPlan p = parse(kGood);
  const double f0 = 2.5e6 / 102;
  const std::vector<double> tri = sweep_bias_t(p, f0);
  const std::size_t n = tri.size();
  EXPECT_EQ(n, 1226U);  // round(24509.8 / 20) = 1225, made even
  const std::size_t half = n / 2;
  for (std::size_t k = 0; k < n; ++k) {
    const double u = k < half ? double(k) / double(half - 1) : 1.0 - double(k - half) / double(half - 1);
    EXPECT_NEAR(tri[k], -0.04 + 0.08 * u, 1e-12) << k;
  }
  p.shape = SweepShape::sine;
  const std::vector<double> sine = sweep_bias_t(p, f0);
  for (std::size_t k = 0; k < n; k += 37) EXPECT_NEAR(sine[k], -0.04 * std::cos(2 * std::numbers::pi * (double(k) + 0.5) / double(n)), 1e-12);
  p.shape = SweepShape::stepped;
  p.levels = 5;
  const std::vector<double> stepped = sweep_bias_t(p, f0);
  std::vector<double> distinct;
  for (const double b : stepped) {
    if (distinct.empty() || distinct.back() != b) distinct.push_back(b);
  }
  // Up through 5 levels, then down through them: -40 -20 0 20 40 40 20 ... (the top level twice in a row merges).
  const std::vector<double> expected = {-0.04, -0.02, 0.0, 0.02, 0.04, 0.02, 0.0, -0.02, -0.04};
  ASSERT_EQ(distinct.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(distinct[i], expected[i], 1e-12);
}

TEST(RelaxPlan, ProgramHasARampAndOneStepPerDriveCycle) {
  const RelaxSetup s = prepare_relax(kSource / "configs/plans/relax-single-core-30nm.toml", kScanner);
  const auto& c = s.program.configure;
  ASSERT_EQ(c.drive_size(), 1);
  EXPECT_NEAR(c.drive(0).frequency_hz(), 2.5e6 / 102, 1e-9);
  EXPECT_DOUBLE_EQ(c.drive(0).amplitude_t(), 0.015);
  EXPECT_EQ(c.program().step_samples(), 102U);
  ASSERT_EQ(c.program().segments_size(), 2);
  EXPECT_EQ(c.program().segments(0).role(), mpi::link::v1::SEGMENT_ROLE_RAMP_UP);
  EXPECT_DOUBLE_EQ(c.program().segments(0).sweep().to_t(), -0.04);
  // The ramp lasts at least the drive's 10 ms ramp plus 10 time constants (50 us) of the bias coil.
  EXPECT_GE(double(s.program.ramp_steps) * 102 / 2.5e6, 10e-3 + 10 * 50e-6);
  const auto& sweep = c.program().segments(1);
  EXPECT_EQ(sweep.role(), mpi::link::v1::SEGMENT_ROLE_SWEEP);
  EXPECT_EQ(sweep.repetitions(), 2U);
  ASSERT_EQ(static_cast<std::size_t>(sweep.steps_size()), s.program.sweep_bias_t.size());
  EXPECT_DOUBLE_EQ(sweep.steps(0).field_t(0), -0.04);
  EXPECT_EQ(s.program.sweep_cycles(), 2 * s.program.sweep_bias_t.size());
}

TEST(RelaxPlan, BiasSamplesFollowTheCoilsFirstOrderLag) {
  const RelaxSetup s = prepare_relax(kSource / "configs/plans/relax-single-core-30nm.toml", kScanner);
  const std::vector<double> b = relax_bias_samples(s.program, s.scanner);
  ASSERT_EQ(b.size(), s.program.sweep_cycles() * 102);
  // Mid-sweep on the rising ramp the coil lags the commanded value by about rate * tau (3.2 T/s * 50 us)
  // plus half a step (the step is held for the cycle).
  const std::size_t k = s.program.sweep_bias_t.size() / 4;
  const double rate = 0.08 / double(s.program.sweep_bias_t.size() / 2 - 1) / (102 / 2.5e6);
  const double commanded = s.program.sweep_bias_t[k];
  const double mean = [&] {
    double m = 0;
    for (std::size_t i = 0; i < 102; ++i) m += b[k * 102 + i];
    return m / 102;
  }();
  EXPECT_NEAR(commanded - mean, rate * 50e-6, 0.3 * rate * 50e-6 + 0.5 * rate * 102 / 2.5e6);
}

TEST(RelaxPlan, DriveAmplitudeTakesTeslaAndOersted) {
  EXPECT_DOUBLE_EQ(parse_drive_amplitude("15 mT"), 0.015);
  EXPECT_NEAR(parse_drive_amplitude("150 Oe"), 0.015, 1e-15);
  EXPECT_NEAR(parse_drive_amplitude("0.15 kOe"), 0.015, 1e-15);
  EXPECT_THROW((void)parse_drive_amplitude("15 kHz"), std::invalid_argument);
  EXPECT_THROW((void)parse_drive_amplitude("abc Oe"), std::invalid_argument);
  EXPECT_THROW((void)parse_drive_amplitude("0 mT"), std::invalid_argument);
  EXPECT_THROW((void)tracer_mh_curve(kSource / "configs/tracers/resovist-like.toml", 0.03), std::invalid_argument);  // two modes
}
