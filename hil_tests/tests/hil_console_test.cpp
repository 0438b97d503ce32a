// The web console end to end: plant and firmware (the preclinical FFP scanner at real-time pace), `mpi
// console` as a process, and tools/console/console_e2e.py driving the page in headless Chromium. The page
// must refuse Start without the key, start a scan after the key is proven and confirmed, redraw the live
// image at least 10 times a second, and show a red banner naming the fault the test injects into the plant
// (the interlock opens) during the scan. The screenshot is left in the build's hil_tests/artefacts.
#include "mpi/hil/scenario.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
constexpr long kFrames = 1532L * 30;  // 30 s of 652.8 us frames: the fault ends the scan long before

// Appends `command` to the plant's control file and waits until the plant has applied it.
void command_plant(const hil::Scenario& scenario, const std::string& command) {
  std::ofstream(scenario.control_file(), std::ios::app) << command << "\n";
  const std::string applied = "control: '" + command + "' applied";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (hil::test::read_file(scenario.plant_log()).find(applied) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the plant did not apply '" + command + "'");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

TEST(HilConsole, PageStartsAScanDrawsTheLiveImageAndShowsTheFault) {
  const std::string chromium = MPI_CHROMIUM_EXE;
  ASSERT_TRUE(executable(chromium)) << "chromium is not installed (" << chromium
                                    << "): the console's browser test needs Debian's chromium and python3-websocket (tools/setup.sh)";
  ASSERT_TRUE(executable(MPI_PYTHON3_EXE)) << MPI_PYTHON3_EXE << " is missing";

  const fs::path dir = hil::test::fresh_work_dir("console", "e2e");
  const fs::path plan = hil::test::preclinical_point_plan(kSource, dir, kFrames);
  hil::ScenarioFiles files;
  files.scanner = kScanner;
  files.plan = plan;
  files.work_dir = dir / "logs";
  files.plant_pace = 1.0;  // real time, as the board: the page's rate is measured against a live scan
  // The browser, the console's reconstruction and the plant share a small machine: the board's control
  // thread gets real-time scheduling where permitted, as on the scanner, so that its watchdog is kicked.
  files.firmware_rt_priority = 20;
  files.control = dir / "control.txt";
  hil::Scenario scenario(kPrograms, files);

  const fs::path out = dir / "out";
  hil::ChildProcess console({MPI_HOST_EXE, "console", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--scanner",
                             kScanner.string(), "--plan", plan.string(), "--out", out.string(), "--listen", "127.0.0.1:0", "--timeout", "10"},
                            (files.work_dir / "console.log").string());
  const std::string first = console.wait_for_line("console: http://", std::chrono::seconds(20));
  const std::string url = first.substr(std::string("console: ").size());
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0U) << first;

  const fs::path screenshot = fs::path(MPI_ARTEFACT_DIR) / "console.png";
  fs::remove(screenshot);
  hil::ChildProcess driver({MPI_PYTHON3_EXE, (kSource / "tools/console/console_e2e.py").string(), "--url", url, "--key",
                            hil::link_key_file().string(), "--screenshot", screenshot.string(), "--chromium", chromium, "--expect-fault",
                            "INTERLOCK", "--min-updates", "10", "--measure", "3"},
                           (files.work_dir / "console_e2e.log").string());
  std::string rate_line;
  try {
    rate_line = driver.wait_for_line("image update rate:", std::chrono::seconds(240));
  } catch (const std::exception& e) {
    (void)driver.wait(std::chrono::seconds(10));
    FAIL() << e.what() << "\n" << driver.output() << hil::test::read_file(files.work_dir / "console_e2e.log")
           << hil::test::read_file(files.work_dir / "console.log");
  }
  // The rate is a figure to read (the console pushes 20 images a second; a loaded machine shows fewer), not
  // a pass mark: the driver fails when the image was redrawn fewer than 10 times or the frames stood still.
  std::cout << rate_line << std::endl;

  (void)driver.wait_for_line("waiting for the fault banner", std::chrono::seconds(30));
  command_plant(scenario, "interlock open");
  const std::optional<int> rc = driver.wait(std::chrono::seconds(90));
  std::cout << driver.output();
  EXPECT_EQ(rc, 0) << driver.output() << hil::test::read_file(files.work_dir / "console_e2e.log")
                   << hil::test::read_file(files.work_dir / "console.log");
  EXPECT_NE(driver.output().find("fault banner: FAULT INTERLOCK_OPEN"), std::string::npos) << driver.output();
  EXPECT_TRUE(fs::exists(screenshot)) << screenshot;
  std::cout << "screenshot: " << screenshot.string() << std::endl;

  // The scan the page started recorded into --out like `mpi scan`; the console ends cleanly on SIGTERM.
  EXPECT_TRUE(fs::exists(out / "raw.mpilink"));
  EXPECT_TRUE(fs::exists(out / "scan.mdf"));
  EXPECT_EQ(console.terminate(std::chrono::seconds(20)), 0) << hil::test::read_file(files.work_dir / "console.log");
  // Its scan ended with the board's fault (the log goes to its standard output).
  EXPECT_NE(console.output().find("the scan was ended by a safety fault"), std::string::npos) << console.output();
}

}  // namespace
