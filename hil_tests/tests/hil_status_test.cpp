// `mpi status` against the simulated preclinical scanner: before any scan it shows the board idle with every
// temperature sensor of the scanner description (name and limit); after a 2D scan it shows the drive-field
// control reports of both drive channels at the sequence's 12 mT target and the scan's id; with the interlock
// opened during a scan it shows the latched fault. It is an observer, so it never disturbs a scan.
#include "mpi/config/scanner_description.hpp"
#include "mpi/hil/scenario.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";

std::string status(const hil::Scenario& scenario, const fs::path& dir, int* code) {
  std::string output;
  *code = hil::run_program({MPI_HOST_EXE, "status", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port())}, &output,
                           (dir / "status.err").string(), std::chrono::seconds(20));
  return output + hil::test::read_file(dir / "status.err");
}

}  // namespace

TEST(HilStatus, ShowsTemperaturesIdleThenTheDriveFieldControlAfterAScan) {
  const fs::path dir = hil::test::fresh_work_dir("status", "scan");
  hil::ScenarioFiles files = hil::test::preclinical_point_scenario(kSource, dir, 400);
  hil::Scenario scenario(kPrograms, files);

  int code = -1;
  std::string before = status(scenario, dir, &code);
  ASSERT_EQ(code, 0) << before;
  EXPECT_NE(before.find("mode: BOARD_MODE_CONFIG"), std::string::npos) << before;
  EXPECT_NE(before.find("faults: none"), std::string::npos) << before;
  const config::ScannerDescription description = config::load_scanner_description(kScanner);
  ASSERT_FALSE(description.temperature_sensors.empty());
  for (const config::TemperatureSensorDescription& sensor : description.temperature_sensors) {
    std::ostringstream limit;
    limit.setf(std::ios::fixed);
    limit.precision(1);
    limit << "(limit " << sensor.limit_k - 273.15 << " degC)";
    const std::size_t line = before.find("temperature " + sensor.name + ": ");
    ASSERT_NE(line, std::string::npos) << sensor.name << '\n' << before;
    EXPECT_NE(before.find(limit.str(), line), std::string::npos) << before;
  }

  std::string scan_output;
  ASSERT_EQ(scenario.run_scan(dir / "out", &scan_output), 0) << scan_output;
  const std::string after = status(scenario, dir, &code);
  ASSERT_EQ(code, 0) << after;
  std::cout << "mpi status after the scan:\n" << after;
  EXPECT_NE(after.find("(scan id 1)"), std::string::npos) << after;
  // The preclinical 2D Lissajous drives x and y with 12 mT each (configs/scanners/preclinical-ffp.toml).
  for (const char* channel : {"drive channel 0: target 12.000 mT", "drive channel 1: target 12.000 mT"}) {
    EXPECT_NE(after.find(channel), std::string::npos) << channel << '\n' << after;
  }
  EXPECT_NE(after.find("control error"), std::string::npos) << after;
}

TEST(HilStatus, ShowsTheLatchedFaultAfterTheInterlockOpened) {
  const fs::path dir = hil::test::fresh_work_dir("status", "fault");
  hil::ScenarioFiles files = hil::test::preclinical_point_scenario(kSource, dir, 3000);
  files.control = dir / "control.txt";
  std::ofstream(files.control).flush();
  hil::Scenario scenario(kPrograms, files);
  std::string scan_output;
  auto scan = std::async(std::launch::async, [&] { return scenario.run_scan(dir / "out", &scan_output); });
  const fs::path raw = dir / "out/raw.mpilink";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((!fs::exists(raw) || fs::file_size(raw) < 100000) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ofstream(files.control, std::ios::app) << "interlock open\n";
  EXPECT_NE(scan.get(), 0) << "the scan must end with the fault\n" << scan_output;
  int code = -1;
  const std::string text = status(scenario, dir, &code);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("mode: BOARD_MODE_SAFE"), std::string::npos) << text;
  EXPECT_NE(text.find("FAULT_KIND_INTERLOCK_OPEN"), std::string::npos) << text;
}
