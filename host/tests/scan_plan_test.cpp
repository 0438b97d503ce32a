#include "mpi/host/scan_plan.hpp"
#include "mpi/host/scan_outputs.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;

// A fresh folder per test for plans and tracer files (relative paths resolve against the plan's folder).
fs::path temp_dir() {
  static int counter = 0;
  const fs::path dir = fs::temp_directory_path() / ("mpi_plan_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  return dir;
}

fs::path write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
  return file;
}

fs::path write_temp(const std::string& name, const std::string& text) { return write_file(temp_dir() / name, text); }

std::string error_of(const fs::path& p) {
  try {
    load_scan_plan(p);
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

std::string scanner_error_of(const fs::path& p) {
  try {
    load_scanner_description(p);
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

// A plan naming a sequence of the scanner description (no [reconstruction] table).
std::string lissajous_plan_text() {
  return "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"\n[sequence]\nname = \"lissajous_2d\"\nframes = 10\n";
}

// A plan naming the shipped 30 nm tracer by an absolute path.
std::string good_plan() {
  return "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"\n" + R"(
[sequence]
drive_frequency_hz = 25000.0
drive_amplitude_t = 0.012
periods_per_frame = 10
frames = 5
[simulation]
phantom = "whatever.toml"
seed = 3
)";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

// A tracer description with one mode per entry of `diameters_nm` (equal iron shares).
std::string tracer_text(const std::vector<double>& diameters_nm, double dead_layer_nm = 0.0) {
  std::ostringstream t;
  t << "[tracer]\nname = \"test\"\ntemperature = \"300 K\"\n";
  for (const double d : diameters_nm) {
    t << "[[tracer.mode]]\nname = \"m" << d << "\"\niron_fraction = " << std::to_string(1.0 / static_cast<double>(diameters_nm.size()))
      << "\ncore_diameter = \"" << d << " nm\"\ndiameter_sigma = 0.05\ndead_layer = \"" << dead_layer_nm
      << " nm\"\nsaturation_magnetisation = \"450 kA/m\"\nrelaxation = \"none\"\n";
  }
  return t.str();
}

}  // namespace

TEST(ScanPlan, ShippedPlanAndScannerLoad) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/demo-1d-two-points.toml");
  EXPECT_DOUBLE_EQ(plan.sequence.drive_frequency_hz, 25000.0);
  EXPECT_DOUBLE_EQ(plan.sequence.drive_amplitude_t, 0.012);
  EXPECT_EQ(plan.sequence.periods_per_frame, 25U);
  // configs/tracers/single-core-30nm.toml: 30 nm, 800 kA/m, monodisperse, no dead layer, 20 degC.
  EXPECT_NEAR(plan.tracer.core_diameter_m, 30e-9, 1e-15);
  EXPECT_NEAR(plan.tracer.saturation_magnetisation_a_per_m, 8e5, 1e-6);
  EXPECT_EQ(plan.tracer.diameter_sigma, 0.0);
  EXPECT_EQ(plan.tracer.dead_layer_m, 0.0);
  EXPECT_NEAR(plan.tracer.temperature_k, 293.15, 1e-9);
  EXPECT_EQ(plan.tracer_file, (kSource / "configs/tracers/single-core-30nm.toml").lexically_normal());

  const ScannerDescription s = load_scanner_description(kSource / "configs/scanners/demo-1d.toml");
  EXPECT_NEAR(s.gradient_t_per_m, 2.0, 1e-12);  // e_x^T diag(2, -1, -1) e_x
  EXPECT_NEAR(s.strongest_gradient_t_per_m, 2.0, 1e-12);
  EXPECT_NEAR(s.coil_sensitivity_t_per_a, 1.5e-3, 1e-12);
  EXPECT_NEAR(s.lna_gain, 50.0, 1e-12);
  EXPECT_NEAR(s.adc_full_scale_v, 1.0, 1e-12);
  EXPECT_EQ(s.adc_channel_names, (std::vector<std::string>{"rx_x", "ref_x"}));
}

TEST(ScanPlan, GradientIsTakenAlongTheAxisOfDriveChannelZero) {
  // The preclinical scanner: G = diag(-1, -1, 2) T/m, drive channel 0 along x, three receive channels.
  const ScannerDescription s = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  EXPECT_NEAR(s.gradient_t_per_m, -1.0, 1e-12);
  EXPECT_NEAR(s.strongest_gradient_t_per_m, 2.0, 1e-12);
  ASSERT_EQ(s.adc_channel_names.size(), 6U);
  EXPECT_EQ(s.adc_channel_names[3], "ref_x");
}

TEST(ScanPlan, BadScannerDescriptionIsNamed) {
  EXPECT_NE(scanner_error_of("/nonexistent/scanner.toml").find("/nonexistent/scanner.toml"), std::string::npos);
  const fs::path bad = write_temp("scanner.toml", "[board]\ndac_clock = \"125 kHz\"\nnot_a_key = 1\n");
  EXPECT_EQ(scanner_error_of(bad).rfind(bad.string(), 0), 0U) << scanner_error_of(bad);
}

TEST(ScanPlan, GoodPlanUsesDefaultsForOptionalKeys) {
  const ScanPlan plan = load_scan_plan(write_temp("good.toml", good_plan()));
  EXPECT_EQ(plan.sequence.frames, 5U);
  EXPECT_EQ(plan.sequence.ramp_periods, 25U);
  EXPECT_DOUBLE_EQ(plan.reconstruction.pixel_m, 20e-6);
}

TEST(ScanPlan, TracerPathIsRelativeToThePlanAndItsModeIsMapped) {
  const fs::path dir = temp_dir();
  write_file(dir / "tracers/t.toml", tracer_text({25.0}, 0.5));
  std::string plan = good_plan();
  plan = replace(plan, plan.substr(0, plan.find('\n')), "tracer = \"../tracers/t.toml\"");
  const ScanPlan p = load_scan_plan(write_file(dir / "plans/plan.toml", plan));
  EXPECT_NEAR(p.tracer.core_diameter_m, 25e-9, 1e-15);
  EXPECT_NEAR(p.tracer.dead_layer_m, 0.5e-9, 1e-15);
  EXPECT_NEAR(p.tracer.diameter_sigma, 0.05, 1e-12);
  EXPECT_NEAR(p.tracer.saturation_magnetisation_a_per_m, 4.5e5, 1e-6);
  EXPECT_NEAR(p.tracer.temperature_k, 300.0, 1e-9);
  EXPECT_EQ(p.tracer_file, (dir / "tracers/t.toml").lexically_normal());
}

TEST(ScanPlan, MultiModeTracerIsRefusedFor1dXSpace) {
  const fs::path dir = temp_dir();
  write_file(dir / "bimodal.toml", tracer_text({24.0, 5.0}));
  std::string plan = good_plan();
  plan = replace(plan, plan.substr(0, plan.find('\n')), "tracer = \"bimodal.toml\"");
  const fs::path file = write_file(dir / "plan.toml", plan);
  const std::string e = error_of(file);
  EXPECT_EQ(e.rfind(file.string() + ": tracer: ", 0), 0U) << e;
  EXPECT_NE(e.find("2 modes"), std::string::npos) << e;
  EXPECT_NE(e.find("single mode"), std::string::npos) << e;
}

TEST(ScanPlan, TracerErrorsNameThePlanKeyAndTheTracerFile) {
  const fs::path dir = temp_dir();
  std::string plan = good_plan();
  const std::string first_line = plan.substr(0, plan.find('\n'));
  // Missing file.
  const fs::path missing = write_file(dir / "missing.toml", replace(plan, first_line, "tracer = \"nope.toml\""));
  std::string e = error_of(missing);
  EXPECT_EQ(e.rfind(missing.string() + ": tracer: ", 0), 0U) << e;
  EXPECT_NE(e.find("nope.toml"), std::string::npos) << e;
  // A bad value inside the tracer file: the tracer file and its key are named.
  write_file(dir / "negative.toml", replace(tracer_text({30.0}), "\"30 nm\"", "\"-30 nm\""));
  const fs::path bad = write_file(dir / "bad.toml", replace(plan, first_line, "tracer = \"negative.toml\""));
  e = error_of(bad);
  EXPECT_EQ(e.rfind(bad.string() + ": tracer: ", 0), 0U) << e;
  EXPECT_NE(e.find("negative.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("core_diameter"), std::string::npos) << e;
  // Not a path, and no tracer at all.
  e = error_of(write_file(dir / "table.toml", replace(plan, first_line, "[tracer]\ncore_diameter_nm = 30.0\n")));
  EXPECT_NE(e.find(": tracer: must be the path of a tracer file"), std::string::npos) << e;
  e = error_of(write_file(dir / "none.toml", replace(plan, first_line, "")));
  EXPECT_NE(e.find(": tracer: missing"), std::string::npos) << e;
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
  const std::string e = error_of(write_temp("range.toml", replace(good_plan(), "0.012", "5.0")));
  EXPECT_NE(e.find("[sequence] drive_amplitude_t"), std::string::npos) << e;
}

TEST(ScanPlan, WrongTypeAndMissingKeyAreNamed) {
  EXPECT_NE(error_of(write_temp("type.toml", replace(good_plan(), "frames = 5", "frames = \"many\""))).find("[sequence] frames: must be an integer"),
            std::string::npos);
  const std::string missing = error_of(write_temp("missing.toml", replace(good_plan(), "drive_amplitude_t = 0.012", "")));
  EXPECT_NE(missing.find("[sequence] drive_amplitude: missing (e.g. drive_amplitude = \"12 mT\")"), std::string::npos) << missing;
}

// Plans write their values with units; the older spelling (unit in the key's name, plain number) is still
// read, as plans recorded in older MDF files use it, and gives the same plan.
TEST(ScanPlan, ValuesWithUnitsAreReadInSIUnits) {
  const std::string units = replace(replace(good_plan(), "drive_frequency_hz = 25000.0", "drive_frequency = \"25 kHz\""), "drive_amplitude_t = 0.012",
                                    "drive_amplitude = \"12 mT\"\ndrive_phase = \"90 deg\"");
  const ScanPlan plan = load_scan_plan(write_temp("units.toml", units + "[reconstruction]\npixel = \"250 um\"\nmin_speed_fraction = 0.2\n"));
  EXPECT_DOUBLE_EQ(plan.sequence.drive_frequency_hz, 25000.0);
  EXPECT_DOUBLE_EQ(plan.sequence.drive_amplitude_t, 0.012);
  EXPECT_NEAR(plan.sequence.drive_phase_rad, 1.5707963267948966, 1e-12);
  EXPECT_NEAR(plan.reconstruction.pixel_m, 250e-6, 1e-15);
  const ScanPlan older = load_scan_plan(write_temp("older.toml", good_plan() + "[reconstruction]\npixel_mm = 0.25\nmin_speed_fraction = 0.2\n"));
  EXPECT_DOUBLE_EQ(older.sequence.drive_frequency_hz, 25000.0);
  EXPECT_DOUBLE_EQ(older.sequence.drive_amplitude_t, 0.012);
  EXPECT_NEAR(older.reconstruction.pixel_m, 250e-6, 1e-15);
}

TEST(ScanPlan, AWrongUnitNamesFileKeyValueAndTheUnitsTheKeyTakes) {
  const fs::path file = write_temp("wrong-unit.toml", replace(good_plan(), "drive_amplitude_t = 0.012", "drive_amplitude = \"12 kHz\""));
  const std::string e = error_of(file);
  EXPECT_NE(e.find(file.string()), std::string::npos) << e;
  EXPECT_NE(e.find("[sequence] drive_amplitude = \"12 kHz\""), std::string::npos) << e;
  EXPECT_NE(e.find("mT"), std::string::npos) << e;  // the units a flux density takes
  const std::string bare = error_of(write_temp("bare.toml", replace(good_plan(), "drive_amplitude_t = 0.012", "drive_amplitude = 0.012")));
  EXPECT_NE(bare.find("[sequence] drive_amplitude: must be a value with its unit in quotes"), std::string::npos) << bare;
  const std::string fov = error_of(write_temp("fov.toml", lissajous_plan_text() + "[reconstruction]\nfov = [\"24 mm\", \"2 T\"]\n"));
  EXPECT_NE(fov.find("[reconstruction] fov[1] = \"2 T\""), std::string::npos) << fov;
}

TEST(ScanPlan, AValueOutOfRangeNamesFileKeyValueAndTheAllowedRange) {
  const fs::path file = write_temp("range-units.toml", replace(good_plan(), "drive_amplitude_t = 0.012", "drive_amplitude = \"900 mT\""));
  const std::string e = error_of(file);
  EXPECT_NE(e.find(file.string()), std::string::npos) << e;
  EXPECT_NE(e.find("[sequence] drive_amplitude = \"900 mT\": outside the allowed range 10 uT to 0.1 T"), std::string::npos) << e;
  const std::string frames = error_of(write_temp("frames.toml", replace(good_plan(), "frames = 5", "frames = 0")));
  EXPECT_NE(frames.find("[sequence] frames: = 0 is outside the allowed range [1, "), std::string::npos) << frames;
  const std::string pixel = error_of(write_temp("pixel.toml", lissajous_plan_text() + "[reconstruction]\npixel = \"3 cm\"\n"));
  EXPECT_NE(pixel.find("[reconstruction] pixel = \"3 cm\""), std::string::npos) << pixel;
}

TEST(ScanPlan, BothSpellingsOfAKeyAreRefused) {
  const std::string e = error_of(write_temp("both.toml", replace(good_plan(), "drive_amplitude_t = 0.012", "drive_amplitude_t = 0.012\ndrive_amplitude = \"12 mT\"")));
  EXPECT_NE(e.find("[sequence] drive_amplitude_t: give drive_amplitude (a value with its unit) or the older drive_amplitude_t, not both"), std::string::npos) << e;
}

TEST(ScanPlan, UnknownKeysAndTheOldInlinePhantomAreRefused) {
  std::string e = error_of(write_temp("typo.toml", replace(good_plan(), "frames = 5", "frame = 5")));
  EXPECT_NE(e.find("[sequence] frame: unknown key"), std::string::npos) << e;
  e = error_of(write_temp("phantom.toml", good_plan() + "[[phantom.point]]\nx_mm = 1.0\niron_ug = 10.0\n"));
  EXPECT_NE(e.find("[phantom]: not part of a plan"), std::string::npos) << e;
  EXPECT_NE(e.find("[simulation] phantom"), std::string::npos) << e;
  e = error_of(write_temp("extra.toml", "colour = \"red\"\n" + good_plan()));
  EXPECT_NE(e.find(": colour: unknown key"), std::string::npos) << e;
}

TEST(ScanPlan, MissingSectionIsNamed) {
  const std::string plan = good_plan();
  const std::string e = error_of(write_temp("nosection.toml", plan.substr(0, plan.find("[sequence]"))));
  EXPECT_NE(e.find("[sequence]"), std::string::npos) << e;
}

// Every example plan of configs/plans loads and fits the scanner preset its name starts with (a scan plan
// through the same checks `mpi scan` makes before it touches the board; relaxometry and calibration plans
// have tests of their own). Every preset has at least one example scan or relaxometry plan.
TEST(ShippedPlans, EveryScanPlanLoadsAndFitsItsScannerPreset) {
  const std::vector<std::string> presets = {"demo-1d", "preclinical", "xspace-ffp", "relax"};
  std::vector<int> plans_per_preset(presets.size(), 0);
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(kSource / "configs/plans")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".toml") continue;
    std::size_t preset = presets.size();
    for (std::size_t i = 0; i < presets.size(); ++i) {
      if (name.rfind(presets[i] + "-", 0) == 0) preset = i;
    }
    ASSERT_LT(preset, presets.size()) << name << ": an example plan's name starts with its scanner preset";
    ++plans_per_preset[preset];
    if (presets[preset] == "relax" || name.find("calibration") != std::string::npos) continue;
    const std::string scanner = presets[preset] == "preclinical" ? "preclinical-ffp" : presets[preset];
    SCOPED_TRACE(name);
    const ScanPlan plan = load_scan_plan(entry.path());
    const ScannerDescription s = load_scanner_description(kSource / "configs/scanners" / (scanner + ".toml"));
    EXPECT_NO_THROW(check_plan_with_scanner(plan, s));
    ++checked;
  }
  EXPECT_GE(checked, 6);
  for (std::size_t i = 0; i < presets.size(); ++i) EXPECT_GE(plans_per_preset[i], 1) << presets[i];
}
