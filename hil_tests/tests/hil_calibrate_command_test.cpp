// `mpi calibrate` end to end against `mpi-sim`: the simulated preclinical scanner with its calibration robot
// (configs/plans/preclinical-2d-calibration.toml on a 9 x 9 grid with a 2 mm pitch, the plant as fast as it
// can) as a process, the robot on TCP. A calibration interrupted with SIGINT parks the robot and leaves no
// system matrix; a complete one writes system_matrix.mdf, which tools/mdf/check_mdf.py accepts. A point of
// 10 ug at (4, -3, 0) mm is then scanned with `mpi scan` on a second `mpi-sim` and reconstructed with
// `mpi reconstruct --measurement scan.mdf --system-matrix system_matrix.mdf`: the image's peak lies within
// one grid step of the point. Bad options of mpi-sim exit with 2. Every process is ended on every path
// (hil::ChildProcess ends its process when it goes away).
#include "mpi/hil/child_process.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/image_output.hpp"
#include "mpi/host/robot_client.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
constexpr double kPitchMm = 2.0;  // 9 points over 18 mm

// mpi-sim for a plan, with the services it printed.
struct Sim {
  std::unique_ptr<hil::ChildProcess> process;
  std::string firmware, robot, key;

  Sim(const fs::path& plan, const fs::path& work, bool with_robot) {
    std::vector<std::string> argv{MPI_SIM_EXE, "--scanner", kScanner.string(), "--plan", plan.string(), "--pace", "0", "--listen", "127.0.0.1:0",
                                  "--work", work.string()};
    if (with_robot) argv.insert(argv.end(), {"--robot-listen", "127.0.0.1:0"});
    process = std::make_unique<hil::ChildProcess>(argv, (work.parent_path() / (work.filename().string() + ".log")).string());
    const auto value = [&](const char* prefix) {
      const std::string line = process->wait_for_line(prefix, std::chrono::seconds(60));
      return line.substr(line.find(' ') + 1);
    };
    firmware = value("firmware ");
    if (with_robot) robot = value("robot ");
    key = value("key ");
  }
};

int run(const std::vector<std::string>& argv, const fs::path& log, std::string* output = nullptr) {
  std::string out;
  const int code = hil::run_program(argv, &out, log.string(), std::chrono::milliseconds(180000));
  if (output != nullptr) *output = out;
  return code;
}

TEST(HilCalibrateCommand, RobotCalibrationThenAPointScanReconstructedWithIt) {
  const fs::path dir = hil::test::fresh_work_dir("calibrate", "command");
  const fs::path plan = hil::test::plan_with_lines(kSource / "configs/plans/preclinical-2d-calibration.toml", dir,
                                                   {{"tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\""},
                                                    {"grid", "grid = [9, 9, 1]"},
                                                    {"fov", "fov = [\"18 mm\", \"18 mm\", \"2 mm\"]"},
                                                    {"park_every", "park_every = 30"},
                                                    {"phantom", "phantom = \"" + (kSource / "configs/phantoms/robot-19x19.toml").string() + "\""}});
  fs::rename(plan, dir / "calibration.toml");
  const fs::path calibration_plan = dir / "calibration.toml";

  // Bad options: one line, exit 2, nothing started.
  EXPECT_EQ(run({MPI_SIM_EXE, "--scanner", kScanner.string(), "--plan", calibration_plan.string(), "--listen", "localhost-7600"}, dir / "bad1.log"), 2);
  EXPECT_NE(hil::test::read_file(dir / "bad1.log").find("--listen"), std::string::npos) << hil::test::read_file(dir / "bad1.log");
  EXPECT_EQ(run({MPI_SIM_EXE, "--scanner", kScanner.string(), "--plan", (kSource / "configs/plans/preclinical-2d-point.toml").string(), "--robot-listen",
                 "127.0.0.1:0"},
                dir / "bad2.log"),
            2);
  EXPECT_NE(hil::test::read_file(dir / "bad2.log").find("[phantom.robot]"), std::string::npos) << hil::test::read_file(dir / "bad2.log");

  const fs::path sm_dir = dir / "calibration";
  {
    Sim sim(calibration_plan, dir / "sim-robot", true);
    const std::vector<std::string> calibrate{MPI_HOST_EXE, "--key", sim.key, "calibrate", "--connect", sim.firmware, "--robot", sim.robot, "--scanner",
                                             kScanner.string(), "--plan", calibration_plan.string()};

    // Interrupted after the first progress line: the robot parked, no system matrix, exit 1.
    {
      std::vector<std::string> argv = calibrate;
      argv.insert(argv.end(), {"--out", (dir / "interrupted").string()});
      hil::ChildProcess child(argv, (dir / "interrupted.log").string());
      child.wait_for_line("calibrate: ", std::chrono::seconds(60));
      ::kill(child.pid(), SIGINT);
      const std::optional<int> code = child.wait(std::chrono::seconds(60));
      ASSERT_TRUE(code.has_value()) << "mpi calibrate did not stop after SIGINT";
      EXPECT_EQ(*code, 1);
      const std::string log = hil::test::read_file(dir / "interrupted.log");
      EXPECT_NE(log.find("interrupted after"), std::string::npos) << log;
      EXPECT_NE(log.find("the robot is parked"), std::string::npos) << log;
      EXPECT_FALSE(fs::exists(dir / "interrupted/system_matrix.mdf"));
      EXPECT_FALSE(fs::exists(dir / "interrupted/system_matrix.mdf.part"));
      const auto colon = sim.robot.rfind(':');
      host::RobotClient robot(sim.robot.substr(0, colon), static_cast<std::uint16_t>(std::stoi(sim.robot.substr(colon + 1))));
      EXPECT_EQ(robot.where(), "PARKED");
    }

    std::vector<std::string> argv = calibrate;
    argv.insert(argv.end(), {"--out", sm_dir.string()});
    std::string output;
    const int code = run(argv, dir / "calibrate.log", &output);
    std::printf("%s", output.c_str());
    ASSERT_EQ(code, 0) << hil::test::read_file(dir / "calibrate.log");
    EXPECT_EQ(sim.process->terminate(), 0) << "mpi-sim did not stop cleanly on SIGTERM";
  }
  const std::string report = hil::test::read_file(sm_dir / "report.txt");
  EXPECT_NE(report.find("grid: 9 x 9 x 1 positions"), std::string::npos) << report;
  EXPECT_NE(report.find("background: 4 measurements"), std::string::npos) << report;  // before, after 30 and 60, after 81
  ASSERT_TRUE(fs::exists(sm_dir / "system_matrix.mdf"));
  EXPECT_FALSE(fs::exists(sm_dir / "system_matrix.mdf.part"));
  EXPECT_EQ(run({"/usr/bin/python3", (kSource / "tools/mdf/check_mdf.py").string(), (sm_dir / "system_matrix.mdf").string()}, dir / "check.log"), 0)
      << hil::test::read_file(dir / "check.log");

  // A point scanned on a scanner without the robot, reconstructed with the calibration.
  const fs::path point_dir = dir / "point";
  fs::create_directories(point_dir);
  const fs::path point_plan = hil::test::preclinical_point_plan(kSource, point_dir, 100);  // 10 ug at (4, -3, 0) mm
  const fs::path scan_dir = dir / "scan";
  {
    Sim sim(point_plan, dir / "sim-point", false);
    const int code = run({MPI_HOST_EXE, "--key", sim.key, "scan", "--connect", sim.firmware, "--scanner", kScanner.string(), "--plan", point_plan.string(),
                          "--out", scan_dir.string()},
                         dir / "scan.log");
    ASSERT_EQ(code, 0) << hil::test::read_file(dir / "scan.log");
    EXPECT_EQ(sim.process->terminate(), 0);
  }
  std::string output;
  const int code = run({MPI_HOST_EXE, "reconstruct", "--measurement", (scan_dir / "scan.mdf").string(), "--system-matrix",
                        (sm_dir / "system_matrix.mdf").string(), "--out", (dir / "image").string()},
                       dir / "reconstruct.log", &output);
  std::printf("%s", output.c_str());
  ASSERT_EQ(code, 0) << hil::test::read_file(dir / "reconstruct.log");
  const std::vector<host::ImagePixel> image = host::read_image_csv(dir / "image/image.csv");
  ASSERT_EQ(image.size(), 81U);
  const host::ImagePixel* peak = &image.front();
  for (const host::ImagePixel& p : image) {
    if (p.value > peak->value) peak = &p;
  }
  std::printf("peak at (%.1f, %.1f) mm, the point at (4.0, -3.0) mm, grid step %.1f mm\n", peak->centre_m[0] * 1e3, peak->centre_m[1] * 1e3, kPitchMm);
  EXPECT_LE(std::abs(peak->centre_m[0] * 1e3 - 4.0), kPitchMm + 1e-9);
  EXPECT_LE(std::abs(peak->centre_m[1] * 1e3 + 3.0), kPitchMm + 1e-9);
}

}  // namespace
