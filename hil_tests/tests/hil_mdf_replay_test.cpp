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


void scan_and_replay_mdf(const std::string& name, const fs::path& shipped_plan) {
  const fs::path dir = hil::test::fresh_work_dir("mdf_replay", name);
  const long frames = 400;  // 0.26 s of 652.8 us frames
  hil::ScenarioFiles files;
  files.scanner = kScanner;
  files.plan = hil::test::preclinical_point_plan(kSource, dir, frames, shipped_plan);
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
