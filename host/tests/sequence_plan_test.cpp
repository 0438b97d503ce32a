// Plans that name a sequence of the scanner description (multi-dimensional scans): parsing, the drive the
// host computes from plan and scanner, its check against the board's ConfigureReply, and the image grid.
// Expected values come from the scanner file's figures (REFERENCE 2.1), not from the code.
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/scan_plan.hpp"

#include "preclinical_2d_frames.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>

using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

using mpi::host::test::kRate;  // the preclinical scanner's ADC rate and drive base clock
using mpi::host::test::kSource;
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";

fs::path write_plan(const std::string& body) { return mpi::host::test::write_plan("mpi_sequence_plan_test", body); }

const std::string kSequence = "[sequence]\nname = \"lissajous_2d\"\nframes = 100\n";

std::string plan_error(const std::string& body) {
  try {
    load_scan_plan(write_plan(body));
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

// The error of a plan that loads but does not fit the scanner (drive or grid).
std::string scanner_fit_error(const std::string& body) {
  const ScanPlan plan = load_scan_plan(write_plan(body));
  const ScannerDescription scanner = load_scanner_description(kScanner);
  try {
    const DrivePlan drive = plan_drive(plan, scanner, kRate);
    std::vector<mpi::recon::DriveComponent> components;
    for (const PlannedDrive& d : drive.drives) components.push_back({scanner.drives[d.channel].axis, d.amplitude_t, d.frequency_hz, d.phase_rad});
    (void)plan_image_grid(plan, scanner.gradient_matrix_t_per_m, components);
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

mpi::link::v1::ConfigureReply reply_for(const DrivePlan& plan) {
  mpi::link::v1::ConfigureReply r;
  for (const PlannedDrive& d : plan.drives) {
    auto* out = r.add_drive();
    out->set_channel(d.channel);
    out->set_frequency_hz(d.frequency_hz);
    out->set_amplitude_t(d.amplitude_t * (1.0 + 2e-5));  // DAC quantisation
    out->set_phase_rad(d.phase_rad);
  }
  r.set_ramp_samples(plan.ramp_samples);
  r.set_cycle_samples(plan.cycle_samples);
  return r;
}

}  // namespace

TEST(SequencePlan, ShippedPlanDrivesTheSequenceChannelsAtBaseClockOverDivider) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point.toml");
  ASSERT_TRUE(plan.multi_dimensional());
  EXPECT_EQ(plan.sequence.name, "lissajous_2d");
  const ScannerDescription scanner = load_scanner_description(kScanner);
  const DrivePlan drive = plan_drive(plan, scanner, kRate);
  ASSERT_EQ(drive.drives.size(), 2U);  // x and y at 12 mT; z not driven
  EXPECT_EQ(drive.drives[0].channel, 0U);
  EXPECT_EQ(drive.drives[1].channel, 1U);
  EXPECT_DOUBLE_EQ(drive.drives[0].frequency_hz, 2.5e6 / 102.0);
  EXPECT_DOUBLE_EQ(drive.drives[1].frequency_hz, 2.5e6 / 96.0);
  EXPECT_NEAR(drive.drives[0].amplitude_t, 0.012, 1e-12);
  EXPECT_NEAR(drive.drives[1].amplitude_t, 0.012, 1e-12);
  EXPECT_EQ(drive.drives[0].phase_rad, 0.0);
  EXPECT_EQ(drive.cycle_samples, std::lcm(102U, 96U));  // one sample per base-clock tick
  EXPECT_EQ(drive.cycle_samples, 1632U);
  EXPECT_EQ(drive.periods_per_frame, 1U);
  EXPECT_EQ(drive.ramp_samples, plan.sequence.ramp_periods * 1632U);
  const mpi::link::v1::Configure c = configure_request(drive);
  ASSERT_EQ(c.drive_size(), 2);
  EXPECT_EQ(c.drive(1).channel(), 1U);
  EXPECT_EQ(c.ramp_samples(), drive.ramp_samples);
  EXPECT_NO_THROW(check_realised_drive(drive, reply_for(drive)));
}

TEST(SequencePlan, PhasesAndPeriodsPerFrameAreTaken) {
  const ScanPlan plan = load_scan_plan(write_plan(kSequence + "periods_per_frame = 3\ndrive_phase_rad = { y = 1.5 }\n"));
  const DrivePlan drive = plan_drive(plan, load_scanner_description(kScanner), kRate);
  EXPECT_EQ(drive.drives[0].phase_rad, 0.0);
  EXPECT_EQ(drive.drives[1].phase_rad, 1.5);
  EXPECT_EQ(drive.periods_per_frame, 3U);
  EXPECT_EQ(drive.samples_per_frame(), 3U * 1632U);
}

TEST(SequencePlan, OneDimensionalPlansKeepTheirOwnDrive) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/demo-1d-two-points.toml");
  EXPECT_FALSE(plan.multi_dimensional());
  const DrivePlan drive = plan_drive(plan, load_scanner_description(kSource / "configs/scanners/demo-1d.toml"), kRate);
  ASSERT_EQ(drive.drives.size(), 1U);
  EXPECT_EQ(drive.drives[0].frequency_hz, 25000.0);
  EXPECT_EQ(drive.cycle_samples, 100U);  // 2.5 MS/s / 25 kHz
  EXPECT_EQ(drive.ramp_samples, 25U * 100U);
}

TEST(SequencePlan, GridDefaultsToTheDriveFieldFovWithAPixelAtTheCentre) {
  const ScannerDescription scanner = load_scanner_description(kScanner);
  const auto grid_of = [&scanner](const std::string& reconstruction) {
    const ScanPlan plan = load_scan_plan(write_plan(kSequence + reconstruction));
    const DrivePlan drive = plan_drive(plan, scanner, kRate);
    std::vector<mpi::recon::DriveComponent> components;
    for (const PlannedDrive& d : drive.drives) components.push_back({scanner.drives[d.channel].axis, d.amplitude_t, d.frequency_hz, d.phase_rad});
    return plan_image_grid(plan, scanner.gradient_matrix_t_per_m, components);
  };
  // 12 mT at |G| = 1 T/m along x and y: 24 mm; 1 mm pixels: 25 pixels centred at -12 .. 12 mm; z collapsed.
  mpi::recon::ImageGrid g = grid_of("[reconstruction]\npixel_mm = 1.0\n");
  EXPECT_EQ(g.counts, (std::array<int, 3>{25, 25, 1}));
  EXPECT_NEAR(g.origin_m.x(), -12e-3, 1e-12);
  EXPECT_NEAR(g.origin_m.y(), -12e-3, 1e-12);
  EXPECT_EQ(g.origin_m.z(), 0.0);
  g = grid_of("[reconstruction]\npixel_mm = 0.5\nfov_mm = [10.0, 6.0]\n");
  EXPECT_EQ(g.counts, (std::array<int, 3>{21, 13, 1}));
  EXPECT_NEAR(g.origin_m.y(), -3e-3, 1e-12);
  g = grid_of("[reconstruction]\npixel_mm = 1.0\ncounts = [20, 30]\nweights = \"nearest\"\n");
  EXPECT_EQ(g.counts, (std::array<int, 3>{20, 30, 1}));
  EXPECT_NEAR(g.origin_m.x(), -9.5e-3, 1e-12);
}

TEST(SequencePlan, BadSequenceValuesNameFileSectionAndKey) {
  const std::string file_hint = "plan.toml: [sequence] ";
  EXPECT_TRUE(contains(plan_error("[sequence]\nname = \"\"\nframes = 3\n"), file_hint + "name: must name")) << plan_error("[sequence]\nname = \"\"\n");
  EXPECT_TRUE(contains(plan_error("[sequence]\nname = 2\n"), file_hint + "name: must be a string"));
  EXPECT_TRUE(contains(plan_error(kSequence + "drive_frequency_hz = 25000.0\n"), file_hint + "drive_frequency_hz: unknown key"));
  EXPECT_TRUE(contains(plan_error(kSequence + "drive_phase_rad = 0.5\n"), file_hint + "drive_phase_rad: must be a table"));
  EXPECT_TRUE(contains(plan_error(kSequence + "drive_phase_rad = { x = \"a\" }\n"), file_hint + "drive_phase_rad.x: must be a number"));
  EXPECT_TRUE(contains(plan_error("[sequence]\nname = \"lissajous_2d\"\nframes = 0\n"), file_hint + "frames: = 0 is outside"));
  EXPECT_TRUE(contains(plan_error("[sequence]\nname = \"lissajous_2d\"\nramp_periods = 1.5\n"), file_hint + "ramp_periods: must be an integer"));

  const std::string unknown = scanner_fit_error("[sequence]\nname = \"spiral\"\n");
  EXPECT_TRUE(contains(unknown, file_hint + "name: \"spiral\" is not a [[sequence]] of")) << unknown;
  EXPECT_TRUE(contains(unknown, "1d, lissajous_2d, lissajous_3d")) << unknown;
  EXPECT_TRUE(contains(scanner_fit_error(kSequence + "drive_phase_rad = { z = 0.1 }\n"), file_hint + "drive_phase_rad.z: sequence \"lissajous_2d\" does not drive"));
  EXPECT_TRUE(contains(scanner_fit_error(kSequence + "drive_phase_rad = { w = 0.1 }\n"), file_hint + "drive_phase_rad.w:"));
}

TEST(SequencePlan, BadReconstructionValuesNameFileSectionAndKey) {
  const std::string hint = "plan.toml: [reconstruction] ";
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nmethod = \"art\"\n"), hint + "method: \"art\" is not a reconstruction method"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nfov_mm = [10.0, 10.0]\ncounts = [5, 5]\n"), hint + "counts: give either"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\ncounts = [5.5, 5]\n"), hint + "counts: entries must be whole"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nfov_mm = []\n"), hint + "fov_mm: must be a non-empty array"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nfov_mm = [-1.0, 3.0]\n"), hint + "fov_mm: entry -1 is outside"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nweights = \"cubic\"\n"), hint + "weights: \"cubic\" is not one of"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\npixel_mm = 0.0\n"), hint + "pixel_mm: = 0 is outside"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nsmoothing = 1\n"), hint + "smoothing: unknown key"));
  // 1D plans image the drive's FOV: grid keys are refused there.
  const std::string one_d = "[sequence]\ndrive_frequency_hz = 25000.0\ndrive_amplitude_t = 0.012\n[reconstruction]\nfov_mm = [10.0]\n";
  EXPECT_TRUE(contains(plan_error(one_d), hint + "fov_mm: only for a plan that names a sequence")) << plan_error(one_d);
  const std::string axes = scanner_fit_error(kSequence + "[reconstruction]\nfov_mm = [10.0, 10.0, 10.0]\n");
  EXPECT_TRUE(contains(axes, hint + "fov_mm: has 3 entries; the sequence images 2 axes (xy)")) << axes;
  EXPECT_TRUE(contains(scanner_fit_error(kSequence + "[reconstruction]\ncounts = [5]\n"), hint + "counts: has 1 entries"));
}

TEST(SequencePlan, RealisedDriveIsCheckedAgainstThePlan) {
  const ScanPlan plan = load_scan_plan(write_plan(kSequence));
  const DrivePlan drive = plan_drive(plan, load_scanner_description(kScanner), kRate);
  const auto error_of = [&drive](const mpi::link::v1::ConfigureReply& r) {
    try {
      check_realised_drive(drive, r);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  mpi::link::v1::ConfigureReply r = reply_for(drive);
  r.set_cycle_samples(1632 * 2);
  EXPECT_TRUE(contains(error_of(r), "drive cycle is 3264 samples, the host computed 1632")) << error_of(r);
  r = reply_for(drive);
  r.mutable_drive(1)->set_frequency_hz(26000.0);
  EXPECT_TRUE(contains(error_of(r), "drive channel 1: the board plays 26000 Hz")) << error_of(r);
  r = reply_for(drive);
  r.mutable_drive(0)->set_amplitude_t(0.010);
  EXPECT_TRUE(contains(error_of(r), "drive channel 0: the board realised 0.01 T")) << error_of(r);
  r = reply_for(drive);
  r.mutable_drive(0)->set_phase_rad(0.1);
  EXPECT_TRUE(contains(error_of(r), "drive channel 0: the board realised phase")) << error_of(r);
  r = reply_for(drive);
  r.mutable_drive(1)->set_channel(2);
  EXPECT_TRUE(contains(error_of(r), "did not realise drive channel 1")) << error_of(r);
  r = reply_for(drive);
  r.mutable_drive()->RemoveLast();
  EXPECT_TRUE(contains(error_of(r), "realised 1 drive channels, the plan asked for 2")) << error_of(r);
}
