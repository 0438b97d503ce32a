// End-to-end recording: every `mpi scan` writes out/scan.mdf next to its raw capture (the recording's
// journal). (a) A live 2D Lissajous scan's file passes the independent conformance checker
// (tools/mdf/check_mdf.py, Python + h5py) and holds the raw capture's frames bit for bit; (b) `mpi scan`
// killed with SIGKILL in the middle of a scan leaves an incomplete file that `mpi recover` finishes from
// the journal: it passes the checker and holds every complete frame the journal holds; (c) a 1D demo
// scan's file passes the checker too.
#include "mpi/hil/child_process.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/acquisition_stream.hpp"
#include "mpi/host/mdf_recorder.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/mdf.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner2d = kSource / "configs/scanners/preclinical-ffp.toml";
const fs::path kScanner1d = kSource / "configs/scanners/demo-1d.toml";

// The shipped 2D plan with `frames` frames, one point source, absolute paths.
fs::path plan_2d(const fs::path& dir, long frames) {
  std::string plan = read_file(kSource / "configs/plans/preclinical-2d-point.toml");
  const auto replace_line = [&plan](const std::string& key, const std::string& line) {
    const std::size_t at = plan.find("\n" + key + " =");
    if (at == std::string::npos) throw std::runtime_error("the shipped plan has no '" + key + "' line");
    plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, line);
  };
  replace_line("tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"");
  replace_line("phantom", "phantom = \"phantom.toml\"");
  replace_line("frames", "frames = " + std::to_string(frames));
  std::ofstream(dir / "phantom.toml") << "[phantom]\nname = \"one point\"\n\n[[phantom.point]]\nposition = [\"4 mm\", \"-3 mm\", \"0 mm\"]\n"
                                         "iron = \"10 ug\"\n";
  const fs::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

// Runs the independent checker; returns its exit code and its report in `report`.
int check_mdf_py(const fs::path& file, std::string* report) {
  const fs::path out = file.string() + ".check.txt";
  const std::string cmd = "/usr/bin/python3 " + (kSource / "tools/mdf/check_mdf.py").string() + " '" + file.string() + "' > '" +
                          out.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  *report = read_file(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// The frames of a raw capture as the live path assembles them (AcquisitionStream), up to a record the
// file ends inside; codes interleaved (sample, channel) as received.
std::vector<host::Frame> capture_frames(const fs::path& capture, const fs::path& plan_file, const fs::path& scanner_file) {
  const host::ScanPlan plan = host::load_scan_plan(plan_file);
  const host::ScannerDescription scanner = host::load_scanner_description(scanner_file);
  std::vector<host::Frame> frames;
  host::AcquisitionStream stream(plan, scanner, [&frames](host::Frame&& f) { frames.push_back(std::move(f)); });
  host::RawCaptureReader reader(capture);
  link::v1::Envelope env;
  try {
    while (reader.next(env)) stream.consume(env);
  } catch (const std::runtime_error& e) {
    std::cout << "capture ends early: " << e.what() << '\n';
  }
  return frames;
}

// The file's frames equal the capture's, code for code (values / dataConversionFactor, in J x C x V).
void expect_frames_equal(const fs::path& mdf_file, const std::vector<host::Frame>& frames) {
  const recon::mdf::File f = recon::mdf::read_mdf(mdf_file.string());
  ASSERT_TRUE(f.measurement.has_value());
  const auto& shape = f.measurement->data.shape;
  ASSERT_EQ(shape.size(), 4U);
  ASSERT_EQ(shape[0], frames.size());
  EXPECT_EQ(f.measurement->storage, recon::mdf::StorageType::int16);
  const std::size_t J = shape[1], C = shape[2], V = shape[3];
  const auto& dcf = f.acquisition.receiver.data_conversion_factor.values;
  ASSERT_EQ(dcf.size(), 2 * C);
  std::size_t mismatches = 0;
  for (std::size_t n = 0; n < frames.size(); ++n) {
    ASSERT_EQ(frames[n].samples.size(), J * C * V);
    for (std::size_t j = 0; j < J; ++j)
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t v = 0; v < V; ++v) {
          const double value = f.measurement->data.values[((n * J + j) * C + c) * V + v];
          const double code = (value - dcf[2 * c + 1]) / dcf[2 * c];
          if (std::lround(code) != frames[n].samples[(j * V + v) * C + c] || std::abs(code - std::round(code)) > 1e-6) ++mismatches;
        }
  }
  EXPECT_EQ(mismatches, 0U);
}

}  // namespace

TEST(HilRecording, A2DScanFileIsConformantAndHoldsTheCapturesFramesBitForBit) {
  const fs::path dir = hil::test::fresh_work_dir("recording", "2d");
  const long frames = 600;
  hil::ScenarioFiles files;
  files.scanner = kScanner2d;
  files.plan = plan_2d(dir, frames);
  files.work_dir = dir / "logs";
  fs::create_directories(files.work_dir);
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "out", &output), 0) << output << read_file(dir / "logs/mpi.log");
  const fs::path file = dir / "out/scan.mdf";
  ASSERT_TRUE(fs::exists(file)) << output;
  EXPECT_FALSE(fs::exists(dir / "out/scan.mdf.tmp"));
  EXPECT_EQ(host::recording_state(file), "complete");

  std::string report;
  EXPECT_EQ(check_mdf_py(file, &report), 0) << report;
  std::cout << report;
  const std::vector<host::Frame> captured = capture_frames(dir / "out/raw.mpilink", files.plan, kScanner2d);
  EXPECT_EQ(captured.size(), static_cast<std::size_t>(frames));
  expect_frames_equal(file, captured);

  // `mpi inspect` agrees (exit 0) and `mpi recover` refuses the complete file (exit 2).
  std::string inspect_out;
  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "inspect", file.string()}, &inspect_out, (dir / "logs/inspect.log").string()), 0) << inspect_out;
  EXPECT_NE(inspect_out.find("N = " + std::to_string(frames) + " frames"), std::string::npos) << inspect_out;
  std::string recover_out;
  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "recover", file.string()}, &recover_out, (dir / "logs/recover.log").string()), 2);
  EXPECT_NE(read_file(dir / "logs/recover.log").find("already complete"), std::string::npos) << read_file(dir / "logs/recover.log");
  EXPECT_TRUE(scenario.stop());
  if (!HasFailure()) fs::remove_all(dir);
}

TEST(HilRecording, ScanKilledMidwayIsRecoveredFromItsJournal) {
  const fs::path dir = hil::test::fresh_work_dir("recording", "kill");
  const long frames = 6000;  // about 4 s at 1532 frames/s: killed well before its end
  hil::ScenarioFiles files;
  files.scanner = kScanner2d;
  files.plan = plan_2d(dir, frames);
  files.work_dir = dir / "logs";
  fs::create_directories(files.work_dir);
  hil::Scenario scenario(kPrograms, files);
  const fs::path out = dir / "out";
  const fs::path journal = out / "raw.mpilink";
  {
    hil::ChildProcess mpi({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--scanner",
                           kScanner2d.string(), "--plan", files.plan.string(), "--out", out.string()},
                          (dir / "logs/mpi.log").string());
    // Wait until the scan streams (the journal holds some 8 MB, about a quarter of a second of samples).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::error_code ec;
    while (std::chrono::steady_clock::now() < deadline && mpi.running()) {
      if (fs::exists(out / "scan.mdf", ec) && fs::exists(journal, ec) && fs::file_size(journal, ec) > (8U << 20)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      (void)mpi.wait(std::chrono::milliseconds(0));
    }
    ASSERT_TRUE(mpi.running()) << "mpi scan ended before it could be killed: " << read_file(dir / "logs/mpi.log");
    ASSERT_EQ(::kill(mpi.pid(), SIGKILL), 0);
    const auto code = mpi.wait(std::chrono::milliseconds(10000));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 128 + SIGKILL);
  }
  const fs::path file = out / "scan.mdf";
  ASSERT_EQ(host::recording_state(file), "incomplete");
  // Inspect names the incomplete state.
  std::string inspect_out;
  (void)hil::run_program({MPI_HOST_EXE, "inspect", file.string()}, &inspect_out, (dir / "logs/inspect.log").string());
  EXPECT_NE(inspect_out.find("INCOMPLETE"), std::string::npos) << inspect_out;

  std::string recover_out;
  ASSERT_EQ(hil::run_program({MPI_HOST_EXE, "recover", file.string()}, &recover_out, (dir / "logs/recover.log").string()), 0)
      << recover_out << read_file(dir / "logs/recover.log");
  std::cout << recover_out;
  EXPECT_EQ(host::recording_state(file), "complete");
  std::string report;
  EXPECT_EQ(check_mdf_py(file, &report), 0) << report;

  // Every complete frame of the journal (all received up to the flush bound before the kill) is in the file.
  const std::vector<host::Frame> captured = capture_frames(journal, files.plan, kScanner2d);
  EXPECT_GT(captured.size(), 100U) << "the journal holds the frames streamed before the kill";
  EXPECT_LT(captured.size(), static_cast<std::size_t>(frames));
  EXPECT_NE(recover_out.find("recovered " + std::to_string(captured.size()) + " frames"), std::string::npos) << recover_out;
  expect_frames_equal(file, captured);
  EXPECT_TRUE(scenario.stop());
  if (!HasFailure()) fs::remove_all(dir);
}

TEST(HilRecording, A1DDemoScanFileIsConformant) {
  const fs::path dir = hil::test::fresh_work_dir("recording", "1d");
  hil::ScenarioFiles files;
  files.scanner = kScanner1d;
  files.plan = hil::test::demo_plan_with_frames(kSource, dir, 40);
  files.work_dir = dir / "logs";
  fs::create_directories(files.work_dir);
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "out", &output), 0) << output << read_file(dir / "logs/mpi.log");
  const fs::path file = dir / "out/scan.mdf";
  std::string report;
  EXPECT_EQ(check_mdf_py(file, &report), 0) << report;
  std::cout << report;
  const std::vector<host::Frame> captured = capture_frames(dir / "out/raw.mpilink", files.plan, kScanner1d);
  EXPECT_EQ(captured.size(), 40U);
  expect_frames_equal(file, captured);
  EXPECT_TRUE(scenario.stop());
  if (!HasFailure()) fs::remove_all(dir);
}
