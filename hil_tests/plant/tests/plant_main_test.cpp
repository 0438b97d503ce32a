// The mpi-plant process: announces itself, serves the region to the firmware's bus, exits cleanly with the
// region unlinked on SIGTERM and when its parent dies, and refuses an existing region or bad configs.
#include "plant_rig.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace mpi::hil::test {
namespace {

using namespace drivers::regmap;

const std::string kScanner = std::string(MPI_SOURCE_DIR) + "/configs/scanner-1d.toml";
const std::string kPlan = std::string(MPI_SOURCE_DIR) + "/configs/plan-1d-two-points.toml";

struct Child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout
  int err = -1;  // the child's stderr
};

Child spawn_plant(const std::vector<std::string>& args) {
  int out[2], err[2];
  EXPECT_EQ(::pipe(out), 0);
  EXPECT_EQ(::pipe(err), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::close(out[0]);
    ::close(err[0]);
    std::vector<char*> argv;
    std::string exe = MPI_PLANT_EXECUTABLE;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  return {pid, out[0], err[0]};
}

// Reads everything up to the first newline (or end of stream); gives up after `guard` of silence.
std::string read_line(int fd, std::chrono::seconds guard = std::chrono::seconds(60)) {
  std::string line;
  char c = 0;
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(guard).count())) > 0 && ::read(fd, &c, 1) == 1) {
    if (c == '\n') break;
    line += c;
  }
  return line;
}

std::string read_all(int fd) {
  std::string text;
  char buffer[256];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  return text;
}

int wait_exit(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool region_exists(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST(PlantMain, ServesTheRegionAndExitsCleanlyOnSigterm) {
  const std::string name = unique_region_name();
  const Child child = spawn_plant({"--shm", name, "--scanner", kScanner, "--plan", kPlan, "--pace", "0"});
  ASSERT_EQ(read_line(child.out), "plant ready shm=" + name);
  {
    drivers::SharedMemoryBus bus(name);
    drivers::DriveChannel drive(bus, 0);
    drivers::AdcRing ring(bus);
    drivers::RealisedDrive realised;
    ASSERT_EQ(drive.configure({25'000.0, 0.6, 0.0, 1000}, realised), drivers::ErrorCode::ok);
    drive.enable(true);
    drive.ramp_up();
    bus.write32(kAcqControl, kAcqRun);
    // Wait (without a time limit on the result) until the plant has produced a few blocks.
    for (int i = 0; i < 600'000 && ring.write_pointer() < 50'000; ++i) std::this_thread::sleep_for(std::chrono::microseconds(100));
    EXPECT_GE(ring.write_pointer(), 50'000U);
    EXPECT_NE(bus.read32(kAcqStatus) & kAcqRunning, 0U);
    EXPECT_EQ(drive.ramp_event_sample(), 0U);
    EXPECT_EQ(drive.ramp_factor(), 1.0);
  }
  ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
  EXPECT_EQ(wait_exit(child.pid), 0);
  EXPECT_EQ(read_all(child.out), "");  // nothing but the ready line on stdout
  EXPECT_FALSE(region_exists(name));
  ::close(child.out);
  ::close(child.err);
}

TEST(PlantMain, RefusesAnExistingRegionWithExitCode2) {
  const std::string name = unique_region_name();
  const drivers::SharedMemoryRegion taken = drivers::SharedMemoryRegion::create(name, drivers::RegionGeometry{});
  const Child child = spawn_plant({"--shm", name, "--scanner", kScanner, "--plan", kPlan});
  EXPECT_EQ(wait_exit(child.pid), 2);
  EXPECT_EQ(read_all(child.out), "");
  const std::string err = read_all(child.err);
  EXPECT_NE(err.find(name.substr(1)), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(region_exists(name));  // the plant leaves a region it does not own alone
  ::close(child.out);
  ::close(child.err);
}

TEST(PlantMain, RefusesBadConfigsWithExitCode2) {
  const std::string name = unique_region_name();
  const Child child = spawn_plant({"--shm", name, "--scanner", kPlan, "--plan", kPlan});  // a plan is no scanner file
  EXPECT_EQ(wait_exit(child.pid), 2);
  const std::string err = read_all(child.err);
  EXPECT_NE(err.find("section [board] is missing"), std::string::npos) << err;
  EXPECT_FALSE(region_exists(name));
  ::close(child.out);
  ::close(child.err);
}

TEST(PlantMain, ExitsWithTheRegionUnlinkedWhenItsParentDies) {
  const std::string name = unique_region_name();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t parent = ::fork();
  if (parent == 0) {
    // An intermediate parent: starts the plant, passes the ready line on, and dies.
    const Child child = spawn_plant({"--shm", name, "--scanner", kScanner, "--plan", kPlan, "--pace", "1"});
    const std::string line = read_line(child.out) + "\n";
    (void)!::write(ready[1], line.data(), line.size());
    ::_exit(0);
  }
  ::close(ready[1]);
  ASSERT_EQ(read_line(ready[0]), "plant ready shm=" + name);
  ::close(ready[0]);
  EXPECT_EQ(wait_exit(parent), 0);
  bool gone = false;
  for (int i = 0; i < 600 && !gone; ++i) {
    gone = !region_exists(name);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone);
  if (!gone) ::shm_unlink(name.c_str());
}

}  // namespace
}  // namespace mpi::hil::test
