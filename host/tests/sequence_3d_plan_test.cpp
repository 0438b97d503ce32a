// 3D Lissajous plans: the shipped plans on the preclinical scanner, a ramp given as a time (a 3D cycle is
// longer than the scanner's safety ramp time), the system matrix's size limit, and the volume's outputs.
// Expected values come from the scanner file's figures (REFERENCE 2.1: dividers 102/96/99 of 2.5 MHz, 12 mT,
// G = diag(-1, -1, 2) T/m, [safety] ramp_time 10 ms), not from the code.
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/image_output.hpp"
#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/pipeline_system_matrix.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_plan.hpp"

#include "preclinical_2d_frames.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

using mpi::host::test::kRate;
using mpi::host::test::kSource;
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
// lcm(102, 96, 99) samples per cycle.
constexpr std::uint64_t kCycle = 53856;

fs::path write_plan(const std::string& body) { return mpi::host::test::write_plan("mpi_sequence_3d_plan_test", body); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::vector<mpi::recon::DriveComponent> components(const DrivePlan& drive, const ScannerDescription& scanner) {
  std::vector<mpi::recon::DriveComponent> out;
  for (const PlannedDrive& d : drive.drives) out.push_back({scanner.drives[d.channel].axis, d.amplitude_t, d.frequency_hz, d.phase_rad});
  return out;
}

// The size check of a system-matrix plan on the preclinical scanner; "" when it passes.
std::string size_error(const fs::path& file) {
  const ScanPlan plan = load_scan_plan(file);
  const ScannerDescription scanner = load_scanner_description(kScanner);
  const DrivePlan drive = plan_drive(plan, scanner, kRate);
  try {
    check_system_matrix_size(plan, scanner, plan_image_grid(plan, scanner.gradient_matrix_t_per_m, components(drive, scanner)),
                             drive.samples_per_frame(), kRate);
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

const std::string kSequence = "[sequence]\nname = \"lissajous_3d\"\nframes = 10\nramp_ms = 8\n";

}  // namespace

TEST(Sequence3DPlan, ShippedXSpacePlanDrivesThreeAxesWithinTheSafetyRampAndImagesTheDriveFieldFov) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-3d-point.toml");
  const ScannerDescription scanner = load_scanner_description(kScanner);
  const DrivePlan drive = plan_drive(plan, scanner, kRate);
  ASSERT_EQ(drive.drives.size(), 3U);
  EXPECT_EQ(drive.cycle_samples, kCycle);
  EXPECT_EQ(drive.samples_per_frame(), kCycle);
  // ramp_ms = 8: 8 ms at 2.5 MS/s, within [safety] ramp_time = 10 ms (25000 samples).
  EXPECT_EQ(drive.ramp_samples, 20000U);
  EXPECT_LE(drive.ramp_samples, 25000U);
  // FOV 2 A / |G_ii| = 24, 24, 12 mm on 1 mm pixels, odd counts centred on the origin.
  const mpi::recon::ImageGrid grid = plan_image_grid(plan, scanner.gradient_matrix_t_per_m, components(drive, scanner));
  EXPECT_EQ(grid.counts[0], 25);
  EXPECT_EQ(grid.counts[1], 25);
  EXPECT_EQ(grid.counts[2], 13);
  EXPECT_NEAR(grid.origin_m.z(), -6e-3, 1e-12);
}

TEST(Sequence3DPlan, ShippedSystemMatrixPlanFitsTheSizeLimit) {
  const fs::path file = kSource / "configs/plans/preclinical-3d-point-sm.toml";
  const ScanPlan plan = load_scan_plan(file);
  EXPECT_EQ(plan.reconstruction.method, ReconstructionMethod::system_matrix);
  EXPECT_EQ(size_error(file), "");
}

TEST(Sequence3DPlan, RampAsTimeOrCyclesNotBoth) {
  const ScannerDescription scanner = load_scanner_description(kScanner);
  const ScanPlan cycles = load_scan_plan(write_plan("[sequence]\nname = \"lissajous_3d\"\nframes = 10\nramp_periods = 2\n"));
  EXPECT_EQ(plan_drive(cycles, scanner, kRate).ramp_samples, 2 * kCycle);
  const ScanPlan timed = load_scan_plan(write_plan("[sequence]\nname = \"lissajous_3d\"\nframes = 10\nramp_ms = 0.5\n"));
  EXPECT_EQ(plan_drive(timed, scanner, kRate).ramp_samples, 1250U);
  const fs::path both = write_plan("[sequence]\nname = \"lissajous_3d\"\nframes = 10\nramp_ms = 5\nramp_periods = 1\n");
  try {
    load_scan_plan(both);
    ADD_FAILURE() << "both ramps accepted";
  } catch (const PlanError& e) {
    EXPECT_TRUE(contains(e.what(), both.string() + ": [sequence] ramp_ms: give either ramp_periods or ramp_ms")) << e.what();
  }
  const fs::path negative = write_plan("[sequence]\nname = \"lissajous_3d\"\nframes = 10\nramp_ms = -1\n");
  try {
    load_scan_plan(negative);
    ADD_FAILURE() << "a negative ramp accepted";
  } catch (const PlanError& e) {
    EXPECT_TRUE(contains(e.what(), negative.string() + ": [sequence] ramp_ms: = -1 is outside")) << e.what();
  }
}

// 41 x 41 x 21 voxels with every row above 80 kHz: 3 channels x (26929 - ceil(80 kHz / 46.42 Hz)) rows.
TEST(Sequence3DPlan, SystemMatrixTooLargeIsRefusedNamingFileAndKey) {
  const fs::path by_counts = write_plan(kSequence + "[reconstruction]\nmethod = \"system-matrix\"\npixel_mm = 0.6\ncounts = [41, 41, 21]\n");
  const std::string error = size_error(by_counts);
  EXPECT_TRUE(contains(error, by_counts.string() + ": [reconstruction] counts: the system matrix would have up to 75615 frequency rows x 35301 voxels"))
      << error;
  EXPECT_TRUE(contains(error, "max_rows")) << error;
  // Without counts the grid comes from pixel_mm: 0.5 mm over 24 x 24 x 12 mm is 49 x 49 x 25 voxels.
  const fs::path by_pixel = write_plan(kSequence + "[reconstruction]\nmethod = \"system-matrix\"\npixel_mm = 0.5\nmax_rows = 5000\n");
  const std::string pixel_error = size_error(by_pixel);
  EXPECT_TRUE(contains(pixel_error, by_pixel.string() + ": [reconstruction] pixel_mm: the system matrix would have up to 5000 frequency rows x 60025 voxels"))
      << pixel_error;
  // Capping the rows brings the same 41 x 41 x 21 grid under the limit (400 x 35301 = 14.1 million).
  EXPECT_EQ(size_error(write_plan(kSequence + "[reconstruction]\nmethod = \"system-matrix\"\npixel_mm = 0.6\ncounts = [41, 41, 21]\nmax_rows = 400\n")),
            "");
}

TEST(Sequence3DPlan, VolumeCsvHasARowPerVoxelAndThePngThreeProjections) {
  GridImage image;
  image.grid.counts = {3, 4, 5};
  image.grid.pixel_m = Eigen::Vector3d::Constant(1e-3);
  image.grid.origin_m = Eigen::Vector3d(-1e-3, -1.5e-3, -2e-3);
  image.values.assign(60, 0.0);
  image.values[2 + 3 * (1 + 4 * 4)] = 7.0;  // x = 1 mm, y = -0.5 mm, z = 2 mm
  const fs::path dir = fs::temp_directory_path() / ("mpi_sequence_3d_plan_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_image_csv(image, dir / "image.csv");
  const std::vector<ImagePixel> pixels = read_image_csv(dir / "image.csv");
  ASSERT_EQ(pixels.size(), 60U);
  std::size_t hot = 0;
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    if (pixels[i].value == 7.0) hot = i;
  }
  EXPECT_NEAR(pixels[hot].centre_m[0], 1e-3, 1e-12);
  EXPECT_NEAR(pixels[hot].centre_m[1], -0.5e-3, 1e-12);
  EXPECT_NEAR(pixels[hot].centre_m[2], 2e-3, 1e-12);
  write_image_png(image, dir / "image.png", "volume");
  // Three panels side by side: wider than a single 3 x 4 map drawn at the same scale.
  std::ifstream png(dir / "image.png", std::ios::binary);
  unsigned char header[24] = {};
  png.read(reinterpret_cast<char*>(header), sizeof header);
  const unsigned width = (header[16] << 24) | (header[17] << 16) | (header[18] << 8) | header[19];
  const unsigned height = (header[20] << 24) | (header[21] << 16) | (header[22] << 8) | header[23];
  EXPECT_GT(width, 2 * height) << width << " x " << height;
  fs::remove_all(dir);
}

// The display queue holds 2 s of frames unless the options name a depth: 2 s / (1632 / 2.5 MHz) = 3063.7
// 2D frames, 2 s / (53856 / 2.5 MHz) = 92.8 3D volumes (rounded up), and the 1D demo's 25 periods of
// 25 kHz (1 ms) give 2000.
TEST(DisplayQueue, HoldsTwoSecondsOfFramesUnlessGiven) {
  const ScannerDescription scanner = load_scanner_description(kScanner);
  EXPECT_EQ(display_queue_frames(load_scan_plan(kSource / "configs/plans/preclinical-2d-point.toml"), scanner, 0), 3064U);
  EXPECT_EQ(display_queue_frames(load_scan_plan(kSource / "configs/plans/preclinical-3d-point.toml"), scanner, 0), 93U);
  EXPECT_EQ(display_queue_frames(load_scan_plan(kSource / "configs/plans/preclinical-3d-point.toml"), scanner, 500), 500U);
  EXPECT_EQ(display_queue_frames(load_scan_plan(kSource / "configs/plans/demo-1d-two-points.toml"),
                                 load_scanner_description(kSource / "configs/scanners/demo-1d.toml"), 0),
            2000U);
}
