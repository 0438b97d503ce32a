// mpi-plant: the hardware-in-the-loop plant as a process. Creates the shared-memory region named by --shm
// (laid out as the board's register map and ADC ring), announces "plant ready shm=NAME" on stdout and plays
// the board's logic and the scanner's physics until SIGTERM/SIGINT or the death of its parent process.
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/plant.hpp"
#include "mpi/hil/plant_config.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <thread>

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int /*signal*/) { g_stop.store(true); }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // A parent that dies takes the read ends of our stdout/stderr pipes with it: a late log line must not
  // kill the plant before it unlinks its region.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
}

constexpr std::uint32_t kBlockFrames = 4096;
constexpr auto kIdleSleep = std::chrono::microseconds(200);

void run(mpi::hil::Plant& plant, double pace) {
  using Clock = std::chrono::steady_clock;
  std::uint64_t seen_triggers = plant.trigger_count();
  Clock::time_point started = Clock::now();
  const double frames_per_second = plant.sample_rate_hz() * pace;
  std::uint32_t budget = 0;  // frames the next step may generate
  while (!g_stop.load(std::memory_order_relaxed)) {
    const std::uint64_t generated = plant.step(budget);
    if (plant.trigger_count() != seen_triggers) {
      seen_triggers = plant.trigger_count();
      started = Clock::now();  // sample 0 of this acquisition
    }
    budget = 0;
    if (plant.running()) {
      if (pace > 0.0) {
        const std::chrono::duration<double> elapsed = Clock::now() - started;
        const double due = elapsed.count() * frames_per_second;
        const auto done = static_cast<double>(plant.sample_index());
        if (due > done) budget = static_cast<std::uint32_t>(std::min<double>(due - done, kBlockFrames));
      } else {
        budget = kBlockFrames;
      }
    }
    if (budget == 0 && generated == 0) std::this_thread::sleep_for(kIdleSleep);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  install_signal_handlers();
  if (::getppid() != parent) return 0;  // the parent died before the death signal was armed

  CLI::App app{"mpi-plant: the hardware-in-the-loop plant (board logic and 1D FFP scanner physics)"};
  std::string shm;
  std::string scanner_file;
  std::string plan_file;
  double pace = 1.0;
  app.add_option("--shm", shm, "name of the shared-memory region to create")->required();
  app.add_option("--scanner", scanner_file, "scanner file (TOML)")->required();
  app.add_option("--plan", plan_file, "scan plan with tracer and phantom (TOML)")->required();
  app.add_option("--pace", pace, "sample time per wall-clock time: 1 real time, 0 as fast as possible")
      ->check(CLI::Range(0.0, 1e6));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is no error
  }

  auto log = spdlog::stderr_color_mt("plant");
  spdlog::set_default_logger(log);

  std::optional<mpi::drivers::SharedMemoryRegion> region;
  std::optional<mpi::hil::Plant> plant;
  try {
    const mpi::hil::PlantConfig config = mpi::hil::load_plant_config(scanner_file, plan_file);
    region.emplace(mpi::drivers::SharedMemoryRegion::create(shm, mpi::hil::region_geometry(config)));
    plant.emplace(config, region->base());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi-plant: %s\n", e.what());
    return 2;
  }

  spdlog::info("{} phantom sources, moment table of {} nodes, fs = {} Hz, pace {}", plant->sources().size(),
               plant->moment_table().size(), plant->sample_rate_hz(), pace);
  std::cout << "plant ready shm=" << shm << std::endl;

  run(*plant, pace);
  spdlog::info("stopping");
  return 0;  // the region's destructor unlinks it
}
