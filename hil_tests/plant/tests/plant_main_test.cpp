// The mpi-plant executable: ready line, bad input, control file.
#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_region.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
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
}

}  // namespace
