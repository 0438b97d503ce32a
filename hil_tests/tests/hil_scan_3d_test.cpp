// End-to-end live 3D scan on loopback: plant, firmware and `mpi scan` as separate processes on the
// preclinical FFP scanner with its "lissajous_3d" sequence (53856-sample volumes, 21.54 ms) and the shipped
// phantom of one point source off centre along x, y and z, reconstructed by x-space and by a model-based
// system matrix (the shipped plans). Every planned volume must be reconstructed and none lost, the volume's
// peak must lie at the source within one voxel along x, y and z, and the replay of the raw capture must
// give bit-identical volumes. Latency figures and the system matrix's build times are printed, not asserted.
// The plant computes the 3D scan slower than real time, so it runs as fast as it can (plant_pace = 0).
// MPI_SCAN_3D_SECONDS sets the scan's length (default 0.65 s, 30 volumes; e.g. 20 for a long run).
#include "mpi/hil/scenario.hpp"
#include "mpi/host/image_output.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <regex>
#include <string>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
const fs::path kPlan = kSource / "configs/plans/preclinical-3d-point.toml";
const fs::path kPlanSm = kSource / "configs/plans/preclinical-3d-point-sm.toml";
const fs::path kPhantom = kSource / "configs/phantoms/point-off-centre-3d.toml";

// lcm(102, 96, 99) = 53856 samples at 2.5 MS/s per volume (REFERENCE 2.1).
constexpr double kVolumeSeconds = 53856.0 / 2.5e6;
// The scanner's selection gradient (-1, -1, 2) T/m and the sequence's 12 mT per axis: the FFP covers
// |r_i| <= A / |G_ii|, i.e. 12 x 12 x 6 mm half-widths.
constexpr std::array<double, 3> kGradient{-1.0, -1.0, 2.0};
constexpr double kDriveAmplitude = 12e-3;

double scan_seconds() {
  const char* text = std::getenv("MPI_SCAN_3D_SECONDS");
  if (text == nullptr || *text == '\0') return 0.65;
  const double s = std::atof(text);
  return s > 0.0 ? s : 0.65;
}

// The single point of the phantom file (position = ["4 mm", "-4 mm", "2 mm"]), in metres.
std::array<double, 3> phantom_point() {
  const std::string text = read_file(kPhantom);
  const std::regex position(R"re(position\s*=\s*\[\s*"([-0-9.]+) mm"\s*,\s*"([-0-9.]+) mm"\s*,\s*"([-0-9.]+) mm"\s*\])re");
  std::smatch m;
  if (!std::regex_search(text, m, position)) throw std::runtime_error(kPhantom.string() + ": no point position in mm");
  return {std::stod(m[1]) * 1e-3, std::stod(m[2]) * 1e-3, std::stod(m[3]) * 1e-3};
}

// A shipped plan with `frames` volumes and absolute tracer and phantom paths.
fs::path test_plan(const fs::path& dir, long frames, const fs::path& shipped) {
  std::string plan = read_file(shipped);
  const auto replace_line = [&plan](const std::string& key, const std::string& line) {
    const std::size_t at = plan.find("\n" + key + " =");
    if (at == std::string::npos) throw std::runtime_error("the shipped plan has no '" + key + "' line");
    plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, line);
  };
  replace_line("tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"");
  replace_line("phantom", "phantom = \"" + kPhantom.string() + "\"");
  replace_line("frames", "frames = " + std::to_string(frames));
  const fs::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

long number_after(const std::string& text, const std::string& label) {
  const std::size_t at = text.find(label);
  if (at == std::string::npos) return -1;
  return std::strtol(text.c_str() + at + label.size(), nullptr, 10);
}

// Scans the point with `plan` live, checks the volume (voxel edges `voxel_m`, `voxels` in all) and replays the capture.
void scan_point_and_replay(const fs::path& dir, const fs::path& plan, long frames, double voxel_m, std::size_t voxels) {
  const std::array<double, 3> point = phantom_point();
  for (std::size_t a = 0; a < 3; ++a) {
    ASSERT_GT(std::abs(point[a]), 0.5 * voxel_m) << "the phantom's point must be off centre along axis " << a;
    ASSERT_LT(std::abs(point[a]), kDriveAmplitude / std::abs(kGradient[a])) << "the point must lie in the drive-field FOV along axis " << a;
  }
  hil::ScenarioFiles files;
  files.scanner = kScanner;
  files.plan = plan;
  files.work_dir = dir / "logs";
  files.plant_pace = 0.0;  // the plant is slower than real time for 3D: as fast as it can
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "live", &output), 0) << output << read_file(dir / "logs/mpi.log");
  std::cout << output;

  EXPECT_EQ(number_after(output, "frames reconstructed: "), frames) << output;
  EXPECT_EQ(number_after(output, "dropped from display: "), 0) << output;
  EXPECT_EQ(number_after(output, "discarded incomplete: "), 0) << output;
  EXPECT_EQ(number_after(output, "gaps: "), 0) << output;
  EXPECT_EQ(number_after(output, "samples lost: "), 0) << output;
  const std::size_t p95 = output.find("p95 ");
  ASSERT_NE(p95, std::string::npos) << output;
  testing::Test::RecordProperty("latency_p95_ms", std::to_string(std::atof(output.c_str() + p95 + 4)));

  // The peak of the mean volume at the point source, within one voxel along x, y and z.
  const std::vector<host::ImagePixel> image = host::read_image_csv(dir / "live/image.csv");
  ASSERT_EQ(image.size(), voxels) << "the plan's grid";
  const auto peak = std::max_element(image.begin(), image.end(), [](const auto& a, const auto& b) { return a.value < b.value; });
  const char* names = "xyz";
  for (std::size_t a = 0; a < 3; ++a) {
    testing::Test::RecordProperty(std::string("peak_") + names[a] + "_mm", std::to_string(peak->centre_m[a] * 1e3));
    EXPECT_LE(std::abs(peak->centre_m[a] - point[a]), voxel_m + 1e-9)
        << "peak " << names[a] << " " << peak->centre_m[a] * 1e3 << " mm, the point at " << point[a] * 1e3 << " mm";
  }
  // ... and well above the volume far from the source (a point, not noise).
  double sum2 = 0.0;
  int far = 0;
  for (const auto& p : image) {
    if (std::hypot(p.centre_m[0] - point[0], p.centre_m[1] - point[1], p.centre_m[2] - point[2]) > 6e-3) {
      sum2 += p.value * p.value;
      ++far;
    }
  }
  ASSERT_GT(far, 0);
  const double far_rms = std::sqrt(sum2 / far);
  testing::Test::RecordProperty("peak_to_far_rms", std::to_string(peak->value / far_rms));
  EXPECT_GT(peak->value, 5.0 * far_rms);
  EXPECT_GT(fs::file_size(dir / "live/image.png"), 1000U);
  EXPECT_GT(fs::file_size(dir / "live/last_image.png"), 1000U);

  // Replay of the raw capture: the same stages on the same frames give bit-identical volumes.
  std::string replay_output;
  ASSERT_EQ(hil::run_program({MPI_HOST_EXE, "replay", "--capture", (dir / "live/raw.mpilink").string(), "--scanner", kScanner.string(),
                              "--plan", plan.string(), "--out", (dir / "replay").string()},
                             &replay_output, (dir / "logs/replay.log").string()),
            0)
      << replay_output << read_file(dir / "logs/replay.log");
  EXPECT_EQ(number_after(replay_output, "frames reconstructed: "), frames) << replay_output;
  EXPECT_TRUE(read_file(dir / "live/image.csv") == read_file(dir / "replay/image.csv")) << "mean volumes differ";
  EXPECT_TRUE(read_file(dir / "live/last_image.csv") == read_file(dir / "replay/last_image.csv")) << "last volumes differ";

  EXPECT_TRUE(scenario.stop()) << "plant or firmware did not exit cleanly on SIGTERM";
}

}  // namespace

// x-space on 1 mm voxels over the 24 x 24 x 12 mm drive-field FOV: 25 x 25 x 13 voxels.
TEST(HilScan3D, LiveLissajousScanReconstructsEveryVolumeWithThePointWhereItIs) {
  const long frames = std::lround(scan_seconds() / kVolumeSeconds);
  const fs::path dir = hil::test::fresh_work_dir("scan3d", "point");
  scan_point_and_replay(dir, test_plan(dir, frames, kPlan), frames, 1.0e-3, 25U * 25U * 13U);
  if (!HasFailure()) fs::remove_all(dir);
}

// The model-based system matrix on 11 x 11 x 5 voxels of 2.4 mm (2000 rows), built at scan start from the
// realised drive; the report prints its build times.
TEST(HilScan3D, LiveLissajousScanBySystemMatrixReconstructsEveryVolumeWithThePointWhereItIs) {
  const long frames = std::lround(scan_seconds() / kVolumeSeconds);
  const fs::path dir = hil::test::fresh_work_dir("scan3d", "point_sm");
  scan_point_and_replay(dir, test_plan(dir, frames, kPlanSm), frames, 2.4e-3, 11U * 11U * 5U);
  if (!HasFailure()) fs::remove_all(dir);
}
