// End-to-end background subtraction on loopback (plant, firmware and `mpi scan` as separate processes), on
// the preclinical FFP scanner whose power amplifiers add harmonic distortion (2nd and 3rd harmonic of each
// drive channel; the feedthrough carries them into the receive coils, where x-space sees them as signal):
//   1. an empty-bore scan of the "lissajous_2d" sequence: its raw capture is the background recording;
//   2. a point source scanned with [background] recording = that capture: the host averages the recording's
//      frames and subtracts the mean from every frame;
//   3. the same point scan reconstructed without the background (a replay of scan 2's capture with the
//      [background] table removed);
//   4. the same point scan on the scanner without distortion (the reference image).
// The image error against the reference (||image - reference|| / ||reference||) must be much smaller with
// the background subtracted than without, the point must be found where it is, and the replay of scan 2
// with the background must give the live image bit for bit. The two errors are printed and recorded.
#include "mpi/hil/scenario.hpp"
#include "mpi/host/image_output.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
const fs::path kPlan = kSource / "configs/plans/preclinical-2d-point.toml";

constexpr double kPointX = 4.0e-3, kPointY = -3.0e-3;
constexpr double kPixel = 1.0e-3;
constexpr double kIronUg = 1.0;  // a faint point, whose signal the distortion's feedthrough rivals
constexpr long kFrames = 400;              // 0.26 s of 652.8 us frames
constexpr long kBackgroundFrames = 1532;   // 1 s: the background's mean is 2x less noisy than the scan's
// The amplifiers' distortion: 2nd and 3rd harmonic relative to the fundamental (a total harmonic distortion
// of 0.33 %, within what linear MPI drive amplifiers show before their output filters).
const std::string kDistortion = R"(harmonic_distortion = ["-50 dB", "-60 dB"])";

// The shipped scanner with every drive channel's amplifier distorting.
fs::path distorted_scanner(const fs::path& dir) {
  std::string text = read_file(kScanner);
  std::size_t count = 0;
  for (std::size_t at = text.find("\nreference_pickup ="); at != std::string::npos; at = text.find("\nreference_pickup =", at + 1)) {
    const std::size_t end = text.find('\n', at + 1);
    text.insert(end + 1, kDistortion + "\n");
    ++count;
  }
  if (count != 3) throw std::runtime_error("the shipped scanner does not have three drive channels with reference_pickup");
  const fs::path file = dir / "distorted-scanner.toml";
  std::ofstream(file) << text;
  return file;
}

// The shipped 2D plan with the test's phantom ("point" or "empty"), frames and an optional background.
fs::path plan(const fs::path& dir, const std::string& name, bool point, const std::string& background = "", long frames = kFrames) {
  std::string text = read_file(kPlan);
  const auto replace_line = [&text](const std::string& key, const std::string& line) {
    const std::size_t at = text.find("\n" + key + " =");
    if (at == std::string::npos) throw std::runtime_error("the shipped plan has no '" + key + "' line");
    text.replace(at + 1, text.find('\n', at + 1) - at - 1, line);
  };
  replace_line("tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"");
  replace_line("frames", "frames = " + std::to_string(frames));
  replace_line("pixel", "pixel = \"" + std::to_string(kPixel * 1e3) + " mm\"");
  if (point) {
    replace_line("phantom", "phantom = \"point.toml\"");
    std::ofstream(dir / "point.toml") << "[phantom]\nname = \"one point\"\n\n[[phantom.point]]\nposition = [\"" << kPointX * 1e3 << " mm\", \""
                                      << kPointY * 1e3 << " mm\", \"0 mm\"]\niron = \"" << kIronUg << " ug\"\n";
  } else {
    replace_line("phantom", "phantom = \"" + (kSource / "configs/phantoms/empty.toml").string() + "\"");
  }
  if (!background.empty()) text += "\n[background]\nrecording = \"" + background + "\"\n";
  const fs::path file = dir / name;
  std::ofstream(file) << text;
  return file;
}

long number_after(const std::string& text, const std::string& label) {
  const std::size_t at = text.find(label);
  if (at == std::string::npos) return -1;
  return std::strtol(text.c_str() + at + label.size(), nullptr, 10);
}

// One live scan in a scenario of its own (a fresh plant: the same noise seed and trigger count every time).
void scan(const fs::path& dir, const fs::path& scanner, const fs::path& plan_file, const std::string& out, long frames = kFrames) {
  hil::ScenarioFiles files;
  files.scanner = scanner;
  files.plan = plan_file;
  files.work_dir = dir / ("logs-" + out);
  files.plant_pace = 1.0;
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / out, &output), 0) << output << read_file(dir / ("logs-" + out) / "mpi.log");
  std::cout << output;
  EXPECT_EQ(number_after(output, "frames reconstructed: "), frames) << output;
  EXPECT_EQ(number_after(output, "samples lost: "), 0) << output;
  EXPECT_TRUE(scenario.stop());
}

int replay(const fs::path& dir, const fs::path& capture, const fs::path& scanner, const fs::path& plan_file, const std::string& out,
           std::string* output) {
  return hil::run_program({MPI_HOST_EXE, "replay", "--capture", capture.string(), "--scanner", scanner.string(), "--plan", plan_file.string(),
                           "--out", (dir / out).string()},
                          output, (dir / ("replay-" + out + ".log")).string());
}

std::vector<double> values(const fs::path& csv) {
  std::vector<double> v;
  for (const auto& p : host::read_image_csv(csv)) v.push_back(p.value);
  return v;
}

double relative_error(const std::vector<double>& image, const std::vector<double>& reference) {
  double diff = 0.0;
  double norm = 0.0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    diff += (image[i] - reference[i]) * (image[i] - reference[i]);
    norm += reference[i] * reference[i];
  }
  return std::sqrt(diff / norm);
}

}  // namespace

TEST(HilBackground, SubtractingAnEmptyBoreRecordingRemovesTheAmplifierHarmonics) {
  const fs::path dir = hil::test::fresh_work_dir("background", "2d");
  const fs::path scanner = distorted_scanner(dir);

  // 1. Empty bore on the distorting scanner: the background recording.
  scan(dir, scanner, plan(dir, "plan-empty.toml", false, "", kBackgroundFrames), "empty", kBackgroundFrames);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(fs::exists(dir / "empty/raw.mpilink"));

  // 2. The point with the background subtracted.
  const fs::path with_background = plan(dir, "plan-point-background.toml", true, "empty/raw.mpilink");
  scan(dir, scanner, with_background, "point");
  ASSERT_FALSE(HasFatalFailure());
  const std::string report = read_file(dir / "point/report.txt");
  EXPECT_NE(report.find("background: " + (dir / "empty/raw.mpilink").string() + ", mean of "), std::string::npos) << report;
  const long averaged = number_after(report, ", mean of ");
  EXPECT_GE(averaged, kBackgroundFrames) << report;  // every complete frame of the empty scan

  // 3. The same frames without the background.
  const fs::path without_background = plan(dir, "plan-point.toml", true);
  std::string output;
  ASSERT_EQ(replay(dir, dir / "point/raw.mpilink", scanner, without_background, "no-background", &output), 0) << output;
  EXPECT_NE(read_file(dir / "no-background/report.txt").find("background: none subtracted"), std::string::npos);
  //    ... and with it, offline: bit for bit the live image.
  ASSERT_EQ(replay(dir, dir / "point/raw.mpilink", scanner, with_background, "replay-background", &output), 0) << output;
  EXPECT_TRUE(read_file(dir / "point/image.csv") == read_file(dir / "replay-background/image.csv")) << "replay differs from live";

  // 4. The reference: the same point scan on the scanner without distortion.
  scan(dir, kScanner, without_background, "reference");
  ASSERT_FALSE(HasFatalFailure());

  const std::vector<double> reference = values(dir / "reference/image.csv");
  const std::vector<double> subtracted = values(dir / "point/image.csv");
  const std::vector<double> raw = values(dir / "no-background/image.csv");
  ASSERT_EQ(reference.size(), 25U * 25U);
  ASSERT_EQ(subtracted.size(), reference.size());
  ASSERT_EQ(raw.size(), reference.size());
  const double error_with = relative_error(subtracted, reference);
  const double error_without = relative_error(raw, reference);
  std::cout << "image error against the distortion-free scan: " << error_without << " without background subtraction, " << error_with
            << " with it (" << averaged << " background frames)\n";
  testing::Test::RecordProperty("error_without_background", std::to_string(error_without));
  testing::Test::RecordProperty("error_with_background", std::to_string(error_with));
  // The distortion's feedthrough matters without the background (over a tenth of the image) ...
  EXPECT_GT(error_without, 0.1);
  // ... and the subtraction removes it: at least ten times smaller, at most 3 % of the image. What remains is
  // mostly the particles' own response to the distorted drive field (the reference scan's field is clean),
  // which no background can remove, and the noise of the background's mean.
  EXPECT_LT(error_with, 0.1 * error_without);
  EXPECT_LT(error_with, 0.03);

  // The point where it is, within one pixel.
  const std::vector<host::ImagePixel> image = host::read_image_csv(dir / "point/image.csv");
  const auto peak = std::max_element(image.begin(), image.end(), [](const auto& a, const auto& b) { return a.value < b.value; });
  EXPECT_LE(std::abs(peak->centre_m[0] - kPointX), kPixel + 1e-9) << "peak x " << peak->centre_m[0] * 1e3 << " mm";
  EXPECT_LE(std::abs(peak->centre_m[1] - kPointY), kPixel + 1e-9) << "peak y " << peak->centre_m[1] * 1e3 << " mm";

  if (!HasFailure()) fs::remove_all(dir);
}
