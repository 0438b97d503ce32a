// End-to-end recording: every `mpi scan` writes out/scan.mdf next to its raw capture (the recording's
// journal). (a) A live 2D Lissajous scan's file passes the independent conformance checker
// (tools/mdf/check_mdf.py, Python + h5py) and holds the raw capture's frames bit for bit; (b) `mpi scan`
// killed with SIGKILL in the middle of a scan leaves an incomplete file that `mpi recover` finishes from
// the journal: it passes the checker and holds every complete frame the journal holds; (c) a 1D demo
// scan's file passes the checker too; (d) a 30 s scan in real time killed with SIGKILL 10 s after its first
// frame is recovered with every frame the board had acquired up to at most 1 s before the kill.
#include "mpi/hil/child_process.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/acquisition_stream.hpp"
#include "mpi/host/mdf_recorder.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/mdf.hpp"

#include "hil_test_files.hpp"
// The register map is a constants-only header of the drivers; the test reads the board's WritePointer
// from the plant's shared memory at its offset there.
#include "mpi/drivers/register_map.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
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

// The board's WritePointer (ADC sample frames written since the trigger), read from the plant's shared
// memory (its register window starts the region) with an acquire load, as the firmware reads it.
std::uint64_t board_write_pointer(const std::string& shm_name) {
  const std::string path = "/dev/shm/" + shm_name.substr(shm_name.find_first_not_of('/'));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": cannot open the plant's shared memory");
  void* map = ::mmap(nullptr, drivers::regmap::kWritePointer + sizeof(std::uint64_t), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw std::runtime_error(path + ": cannot map the plant's register window");
  const auto* reg = reinterpret_cast<const std::uint64_t*>(static_cast<const char*>(map) + drivers::regmap::kWritePointer);
  const std::uint64_t value = __atomic_load_n(reg, __ATOMIC_ACQUIRE);
  ::munmap(map, drivers::regmap::kWritePointer + sizeof(std::uint64_t));
  return value;
}

// What a recovered file holds, read by h5py (metadata only, not the samples): its number of frames, the
// sample index just past its last frame (/_mpi/frameFirstSample of the last frame + J x V samples of
// /measurement/data) and the sample rate (/_mpi/sampleRate).
struct RecordedSpan {
  long frames = -1;
  long long end_sample = -1;
  double sample_rate_hz = 0.0;
};

RecordedSpan recorded_span(const fs::path& file) {
  const fs::path out = file.string() + ".span.txt";
  const std::string script =
      "import sys, h5py, numpy\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "d = f['/measurement/data']\n"
      "s = numpy.ravel(f['/_mpi/frameFirstSample'][()])\n"
      "fs = float(numpy.ravel(f['/_mpi/sampleRate'][()])[0])\n"
      "print(d.shape[0], int(s[-1]) + d.shape[1] * d.shape[3] if len(s) else -1, repr(fs))\n";
  const fs::path script_file = file.string() + ".span.py";
  std::ofstream(script_file) << script;
  const std::string cmd = "/usr/bin/python3 '" + script_file.string() + "' '" + file.string() + "' > '" + out.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string text = read_file(out);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("h5py could not read " + file.string() + ": " + text);
  RecordedSpan span;
  std::istringstream(text) >> span.frames >> span.end_sample >> span.sample_rate_hz;
  return span;
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

// Acceptance: kill -9 the host 10 s into a 30 s recording with the plant in real time; `mpi recover` yields
// a conformant file holding every frame that ends at most 1 s of samples before the board's write pointer
// at the kill (read from the plant's register window just before SIGKILL).
TEST(HilRecording, ThirtySecondScanKilledAfterTenSecondsKeepsAllButAtMostOneSecond) {
  const fs::path dir = hil::test::fresh_work_dir("recording", "kill30");
  const long frames = 45960;  // 30 s at 1532 frames/s
  hil::ScenarioFiles files;
  files.scanner = kScanner2d;
  files.plan = plan_2d(dir, frames);
  files.work_dir = dir / "logs";
  files.plant_pace = 1.0;  // real time
  fs::create_directories(files.work_dir);
  hil::Scenario scenario(kPrograms, files);
  const fs::path out = dir / "out";
  const fs::path journal = out / "raw.mpilink";
  const fs::path file = out / "scan.mdf";
  // One frame of the journal: 1632 samples x 6 ADC channels (3 receive, 3 drive references) x int16.
  const std::uintmax_t frame_bytes = 1632U * 6U * 2U;
  std::uint64_t kill_sample = 0;
  double seconds_after_first_frame = 0.0;
  {
    hil::ChildProcess mpi({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--scanner",
                           kScanner2d.string(), "--plan", files.plan.string(), "--out", out.string()},
                          (dir / "logs/mpi.log").string());
    // The first frame has arrived when the journal has grown by a frame's samples past its first size.
    std::error_code ec;
    std::uintmax_t first_size = 0;
    bool seen = false;
    bool streaming = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && mpi.running()) {
      if (fs::exists(file, ec) && fs::exists(journal, ec)) {
        const std::uintmax_t size = fs::file_size(journal, ec);
        if (!ec && !seen) {
          first_size = size;
          seen = true;
        } else if (!ec && size >= first_size + frame_bytes) {
          streaming = true;
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      (void)mpi.wait(std::chrono::milliseconds(0));
    }
    ASSERT_TRUE(streaming && mpi.running()) << "mpi scan did not stream: " << read_file(dir / "logs/mpi.log");
    const auto first_frame = std::chrono::steady_clock::now();
    const auto kill_at = first_frame + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < kill_at && mpi.running()) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kill_at - std::chrono::steady_clock::now(),
                                                                               std::chrono::milliseconds(50)));
      (void)mpi.wait(std::chrono::milliseconds(0));
    }
    ASSERT_TRUE(mpi.running()) << "mpi scan ended before it could be killed: " << read_file(dir / "logs/mpi.log");
    kill_sample = board_write_pointer(scenario.shm_name());
    ASSERT_EQ(::kill(mpi.pid(), SIGKILL), 0);
    seconds_after_first_frame = std::chrono::duration<double>(std::chrono::steady_clock::now() - first_frame).count();
    const auto code = mpi.wait(std::chrono::milliseconds(10000));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 128 + SIGKILL);
  }
  EXPECT_TRUE(scenario.stop());
  ASSERT_EQ(host::recording_state(file), "incomplete");

  std::string recover_out;
  ASSERT_EQ(hil::run_program({MPI_HOST_EXE, "recover", file.string()}, &recover_out, (dir / "logs/recover.log").string()), 0)
      << recover_out << read_file(dir / "logs/recover.log");
  std::cout << recover_out;
  EXPECT_EQ(host::recording_state(file), "complete");
  std::string report;
  EXPECT_EQ(check_mdf_py(file, &report), 0) << report;

  const RecordedSpan span = recorded_span(file);
  ASSERT_DOUBLE_EQ(span.sample_rate_hz, 2.5e6) << "preclinical-ffp.toml: 125 MHz / 50";
  ASSERT_GT(span.frames, 0);
  EXPECT_LT(span.frames, frames) << "the scan was killed before its end";
  EXPECT_NE(recover_out.find("recovered " + std::to_string(span.frames) + " frames"), std::string::npos) << recover_out;
  const double gap_ms = (static_cast<double>(kill_sample) - static_cast<double>(span.end_sample)) / span.sample_rate_hz * 1e3;
  std::cout << "killed " << seconds_after_first_frame << " s after the first frame; board write pointer " << kill_sample << " samples ("
            << static_cast<double>(kill_sample) / span.sample_rate_hz << " s of acquisition); recovered " << span.frames
            << " frames ending at sample " << span.end_sample << "; gap " << gap_ms << " ms\n";
  EXPECT_GE(static_cast<double>(span.end_sample), static_cast<double>(kill_sample) - 1.0 * span.sample_rate_hz)
      << "frames lost: more than 1 s of samples before the kill is missing";
  fs::remove(journal);  // some 300 MB
  if (!HasFailure()) fs::remove_all(dir);
}

// Bad input: a short 2D scan's file mutated a few hundred ways (tools/mdf/mutate_mdf.py: every dataset
// deleted, retyped, reshaped; flags 2; index arrays 0-based; Int64 values -1, 0, 2^40; groups replaced by
// datasets; the file truncated at some 50 offsets): `mpi inspect` (every copy) and `mpi replay --mdf` (every
// third copy of each kind, to keep the suite short; the script runs it on all by default) accept a copy that
// is still valid or reject it with exit 1 or 2 and one line naming the dataset (or "truncated"); never a
// signal, a hang, an HDF5 error stack or a trace.
TEST(HilRecording, MutatedRecordingsAreRejectedWithClearErrors) {
  const fs::path dir = hil::test::fresh_work_dir("recording", "mutate");
  hil::ScenarioFiles files;
  files.scanner = kScanner2d;
  files.plan = plan_2d(dir, 20);
  files.work_dir = dir / "logs";
  fs::create_directories(files.work_dir);
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "out", &output), 0) << output << read_file(dir / "logs/mpi.log");
  EXPECT_TRUE(scenario.stop());
  const fs::path file = dir / "out/scan.mdf";
  const fs::path report = dir / "mutate.txt";
  const std::string cmd = "/usr/bin/python3 " + (kSource / "tools/mdf/mutate_mdf.py").string() + " --mpi '" + std::string(MPI_HOST_EXE) +
                          "' --jobs 2 --timeout 20 --replay-every 3 '" + file.string() + "' '" + (dir / "mutants").string() + "' > '" + report.string() +
                          "' 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string text = read_file(report);
  std::cout << text;
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  EXPECT_NE(text.find("0 failures"), std::string::npos) << text;
  if (!HasFailure()) fs::remove_all(dir);
}
