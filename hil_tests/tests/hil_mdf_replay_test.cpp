// End-to-end MDF replay: a live 2D scan on loopback (plant, firmware and `mpi scan` as separate processes on
// the preclinical FFP scanner, "lissajous_2d", one point source) records out/scan.mdf; `mpi replay --mdf`
// runs the recorded frames through the same stages with the plan, scanner and tracer stored in the file and
// must give bit-identical images (x-space and model-based system matrix). The replay's speed against real
// time is printed from its report, not asserted.
#include "mpi/hil/scenario.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";

// A shipped 2D plan with `frames` frames, an absolute tracer path and a one-point phantom.
fs::path test_plan(const fs::path& dir, const fs::path& shipped, long frames) {
  std::string plan = read_file(shipped);
  const auto replace_line = [&plan](const std::string& key, const std::string& line) {
    const std::size_t at = plan.find("\n" + key + " =");
    if (at == std::string::npos) throw std::runtime_error("the shipped plan has no '" + key + "' line");
    plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, line);
  };
  replace_line("tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"");
  replace_line("phantom", "phantom = \"phantom.toml\"");
  replace_line("frames", "frames = " + std::to_string(frames));
  std::ofstream(dir / "phantom.toml") << "[phantom]\nname = \"one point\"\n\n[[phantom.point]]\n"
                                         "position = [\"4 mm\", \"-3 mm\", \"0 mm\"]\niron = \"10 ug\"\n";
  const fs::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

void scan_and_replay_mdf(const std::string& name, const fs::path& shipped_plan) {
  const fs::path dir = hil::test::fresh_work_dir("mdf_replay", name);
  const long frames = 400;  // 0.26 s of 652.8 us frames
  hil::ScenarioFiles files;
  files.scanner = kScanner;
  files.plan = test_plan(dir, shipped_plan, frames);
  files.work_dir = dir / "logs";
  files.plant_pace = 1.0;
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "live", &output), 0) << output << read_file(dir / "logs/mpi.log");
  ASSERT_TRUE(fs::exists(dir / "live/scan.mdf")) << output;
  EXPECT_NE(output.find("dropped from display: 0"), std::string::npos) << "a live drop makes the images differ: " << output;

  // Nothing but the file: plan, scanner and tracer come from /_mpi/plan, /_mpi/scanner, /_mpi/tracer.
  std::string replay_output;
  ASSERT_EQ(hil::run_program({MPI_HOST_EXE, "replay", "--mdf", (dir / "live/scan.mdf").string(), "--out", (dir / "replay").string()},
                             &replay_output, (dir / "logs/replay.log").string()),
            0)
      << replay_output << read_file(dir / "logs/replay.log");
  std::cout << replay_output;
  EXPECT_NE(replay_output.find("frames reconstructed: " + std::to_string(frames)), std::string::npos) << replay_output;
  // Bit-identity needs the drive exactly as the board played it: the recorder stores the realised DDS
  // frequencies as /_mpi/driveFrequency (baseFrequency / divider differs from them in the last bits).
  EXPECT_TRUE(read_file(dir / "live/image.csv") == read_file(dir / "replay/image.csv")) << "mean images differ";
  EXPECT_TRUE(read_file(dir / "live/last_image.csv") == read_file(dir / "replay/last_image.csv")) << "last images differ";
  EXPECT_NE(read_file(dir / "replay/report.txt").find("x real time"), std::string::npos);

  EXPECT_TRUE(scenario.stop()) << "plant or firmware did not exit cleanly on SIGTERM";
  if (!testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace

TEST(HilMdfReplay, XSpaceReplayOfTheRecordedFileIsBitIdenticalToLive) {
  scan_and_replay_mdf("xspace", kSource / "configs/plans/preclinical-2d-point.toml");
}

TEST(HilMdfReplay, SystemMatrixReplayOfTheRecordedFileIsBitIdenticalToLive) {
  scan_and_replay_mdf("sm", kSource / "configs/plans/preclinical-2d-point-sm.toml");
}
