// The mpi-plant executable: ready line, bad input, control file.
#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/field_trace.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace rm = mpi::drivers::regmap;

const std::string kSource = MPI_SOURCE_DIR;

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

// Starts the plant with stdout (and stderr) on a pipe.
Child spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    std::string exe = MPI_PLANT_EXECUTABLE;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, ::fdopen(fds[0], "r")};
}

std::string read_line(FILE* f) {
  char buffer[4096];
  if (std::fgets(buffer, sizeof buffer, f) == nullptr) return "";
  return buffer;
}

int finish(Child& c, bool terminate) {
  if (terminate) ::kill(c.pid, SIGTERM);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  std::fclose(c.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string region_name(const char* what) { return "/mpi_plant_main_" + std::to_string(::getpid()) + "_" + what; }

TEST(PlantMain, AnnouncesReadinessAndAppliesControlCommands) {
  const std::string shm = region_name("ok");
  const auto control = std::filesystem::temp_directory_path() / ("mpi_plant_control_" + std::to_string(::getpid()));
  std::filesystem::remove(control);
  Child c = spawn({"--shm", shm, "--scanner", kSource + "/configs/scanners/demo-1d.toml", "--tracer",
                   kSource + "/configs/tracers/single-core-30nm.toml", "--phantom", kSource + "/configs/phantoms/two-points.toml",
                   "--control", control.string(), "--pace", "0"});
  ASSERT_GT(c.pid, 0);
  std::string line;
  for (int i = 0; i < 20 && line.find("plant ready") == std::string::npos; ++i) line = read_line(c.out);
  EXPECT_EQ(line, "plant ready shm=" + shm + "\n");
  {
    auto region = mpi::drivers::SharedMemoryRegion::open(shm);
    const mpi::drivers::RegisterBlock regs(region.base());
    EXPECT_NE(regs.read32(rm::kSafetyStatus) & rm::kInterlockClosed, 0U);
    std::ofstream(control, std::ios::app) << "interlock open\n";
    bool opened = false;
    for (int i = 0; i < 200 && !opened; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      opened = (regs.read32(rm::kSafetyStatus) & rm::kInterlockClosed) == 0;
    }
    EXPECT_TRUE(opened);
  }
  EXPECT_EQ(finish(c, true), 0);
  std::filesystem::remove(control);
}

TEST(PlantMain, CounterPatternFlagFillsTheRingWithSampleIndices) {
  const std::string shm = region_name("counter");
  Child c = spawn({"--shm", shm, "--scanner", kSource + "/configs/scanners/demo-1d.toml", "--tracer",
                   kSource + "/configs/tracers/single-core-30nm.toml", "--phantom", kSource + "/configs/phantoms/two-points.toml",
                   "--pace", "0", "--counter-pattern"});
  ASSERT_GT(c.pid, 0);
  std::string line;
  for (int i = 0; i < 20 && line.find("plant ready") == std::string::npos; ++i) line = read_line(c.out);
  ASSERT_EQ(line, "plant ready shm=" + shm + "\n");
  {
    auto region = mpi::drivers::SharedMemoryRegion::open(shm);
    const mpi::drivers::RegisterBlock regs(region.base());
    regs.write32(rm::kAcqControl, rm::kAcqRun);
    std::uint64_t written = 0;
    for (int i = 0; i < 500 && written < 10000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      written = regs.read64(rm::kWritePointer);
    }
    regs.write32(rm::kAcqControl, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    written = regs.read64(rm::kWritePointer);
    ASSERT_GE(written, 10000U);
    const std::uint64_t frames = std::uint64_t{1} << regs.read32(rm::kRingFramesLog2);
    const unsigned channels = regs.read32(rm::kAdcChannels);
    const std::uint64_t from = written > frames ? written - frames : 0;
    for (std::uint64_t n = from; n < written; ++n) {
      for (unsigned ch = 0; ch < channels; ++ch) {
        const auto want = static_cast<std::int16_t>(static_cast<std::uint16_t>((n * channels + ch) % 65536U));
        ASSERT_EQ(region.ring()[(n % frames) * channels + ch], want) << "frame " << n << " channel " << ch;
      }
    }
  }
  EXPECT_EQ(finish(c, true), 0);
}

// Reads the trace once it holds blocks of `scans` acquisitions (bounded wait).
mpi::hil::FieldTraceFile wait_for_trace(const std::filesystem::path& file, std::uint64_t scans) {
  mpi::hil::FieldTraceFile trace;
  for (int i = 0; i < 500; ++i) {
    try {
      trace = mpi::hil::read_field_trace(file);
      if (!trace.blocks.empty() && trace.blocks.back().scan >= scans) return trace;
    } catch (const std::runtime_error&) {  // being rewritten
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return trace;
}

TEST(PlantMain, FieldTraceIsWrittenWhenAcquisitionStopsAndAtExit) {
  const std::string shm = region_name("trace");
  const auto file = std::filesystem::temp_directory_path() / ("mpi_plant_trace_" + std::to_string(::getpid()) + ".csv");
  std::filesystem::remove(file);
  Child c = spawn({"--shm", shm, "--scanner", kSource + "/configs/scanners/demo-1d.toml", "--tracer",
                   kSource + "/configs/tracers/single-core-30nm.toml", "--phantom", kSource + "/configs/phantoms/two-points.toml",
                   "--pace", "0", "--field-trace", file.string()});
  ASSERT_GT(c.pid, 0);
  std::string line;
  for (int i = 0; i < 20 && line.find("plant ready") == std::string::npos; ++i) line = read_line(c.out);
  ASSERT_EQ(line, "plant ready shm=" + shm + "\n");
  // demo-1d: 125 MHz DAC, 15.625 MS/s, 20 mT at full scale; 25 kHz at 0.6 of full scale = 12 mT.
  const double fs = 15.625e6;
  const double f = 25e3;
  const double a = 20e-3 * 39321.0 / 65535.0;
  {
    auto region = mpi::drivers::SharedMemoryRegion::open(shm);
    const mpi::drivers::RegisterBlock regs(region.base());
    regs.write64(rm::dds_register(0, 0, rm::kDdsPhaseIncrement), static_cast<std::uint64_t>(std::llround(f / 125e6 * std::ldexp(1.0, 48))));
    regs.write32(rm::dds_register(0, 0, rm::kDdsAmplitude), 39321);
    regs.write32(rm::drive_register(0, rm::kDriveRampSamples), 1);
    regs.write32(rm::drive_register(0, rm::kDriveRampCommand), static_cast<std::uint32_t>(rm::RampCommand::up));
    regs.write32(rm::drive_register(0, rm::kDriveAmplifierControl), rm::kAmplifierEnable);
    regs.write32(rm::drive_register(0, rm::kDriveControl), rm::kDriveEnable);
    for (std::uint64_t scan = 1; scan <= 2; ++scan) {
      regs.write32(rm::kAcqControl, rm::kAcqRun);
      std::uint64_t written = 0;
      for (int i = 0; i < 500 && written < 100000; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        written = regs.read64(rm::kWritePointer);
      }
      ASSERT_GE(written, 100000U);
      if (scan == 2) break;  // the second acquisition runs until the plant exits
      regs.write32(rm::kAcqControl, 0);
      const mpi::hil::FieldTraceFile trace = wait_for_trace(file, 1);
      ASSERT_FALSE(trace.blocks.empty()) << "no trace written when acquisition stopped";
      EXPECT_EQ(trace.header.block_samples, 625U);  // one drive period
      EXPECT_EQ(trace.header.drive_names, std::vector<std::string>{"x"});
      EXPECT_EQ(trace.header.sample_rate_hz, fs);
    }
  }
  EXPECT_EQ(finish(c, true), 0);
  const mpi::hil::FieldTraceFile trace = mpi::hil::read_field_trace(file);
  std::filesystem::remove(file);
  ASSERT_FALSE(trace.blocks.empty());
  EXPECT_EQ(trace.blocks.front().scan, 1U);
  EXPECT_EQ(trace.blocks.back().scan, 2U);
  std::uint64_t expected_first = 0;
  std::uint64_t scan = 1;
  for (const mpi::hil::FieldTraceBlock& b : trace.blocks) {
    if (b.scan != scan) {
      EXPECT_EQ(b.scan, scan + 1);
      scan = b.scan;
      expected_first = 0;
    }
    EXPECT_EQ(b.first_sample, expected_first);
    expected_first += b.samples;
    // Full blocks past the coil's lag (50 us = 781 samples, e^-20 after 20 of them): amplitude A and slew
    // 2 A fs sin(x) |cos| with x = pi f / fs, the nearest sample at most x rad from a crest.
    const double x = std::numbers::pi * f / fs;
    if (b.first_sample > 20 * 782 && b.samples == 625) {
      EXPECT_NEAR(b.peak_t[0], a, a * (1.0 - std::cos(x)) + 1e-9 * a) << b.first_sample;
      EXPECT_LE(b.slew_t_per_s[0], 2.0 * a * fs * std::sin(x) * (1.0 + 1e-9)) << b.first_sample;
      EXPECT_GE(b.slew_t_per_s[0], 2.0 * a * fs * std::sin(x) * std::cos(x) * (1.0 - 1e-9)) << b.first_sample;
      EXPECT_EQ(b.ramp_factor[0], 1.0);
    }
  }
}

TEST(PlantMain, BadInputExitsWithTwoAndOneMessage) {
  const std::string bad_scanner = kSource + "/configs/tracers/single-core-30nm.toml";  // not a scanner
  Child c = spawn({"--shm", region_name("bad"), "--scanner", bad_scanner, "--tracer", kSource + "/configs/tracers/single-core-30nm.toml",
                   "--phantom", kSource + "/configs/phantoms/two-points.toml"});
  const std::string line = read_line(c.out);
  EXPECT_EQ(line.rfind("mpi-plant: ", 0), 0U) << line;
  EXPECT_NE(line.find("single-core-30nm.toml"), std::string::npos) << line;
  EXPECT_EQ(finish(c, false), 2);

  Child missing = spawn({"--shm", region_name("missing"), "--scanner", kSource + "/configs/scanners/demo-1d.toml"});
  EXPECT_EQ(read_line(missing.out).rfind("mpi-plant: ", 0), 0U);
  EXPECT_EQ(finish(missing, false), 2);

  Child trace = spawn({"--shm", region_name("trace_dir"), "--scanner", kSource + "/configs/scanners/demo-1d.toml", "--tracer",
                       kSource + "/configs/tracers/single-core-30nm.toml", "--phantom", kSource + "/configs/phantoms/two-points.toml",
                       "--field-trace", "/nonexistent-folder/trace.csv"});
  const std::string trace_line = read_line(trace.out);
  EXPECT_EQ(trace_line.rfind("mpi-plant: ", 0), 0U) << trace_line;
  EXPECT_NE(trace_line.find("/nonexistent-folder/trace.csv"), std::string::npos) << trace_line;
  EXPECT_EQ(finish(trace, false), 2);
}

}  // namespace
