// mpi-plant: the hardware-in-the-loop plant as a process. Creates the shared-memory region named by --shm
// (laid out as the board's register map and ADC ring), announces "plant ready shm=NAME" on stdout and plays
// the board's logic and the scanner's physics until SIGTERM/SIGINT or the death of its parent process.
//
//   mpi-plant --shm NAME --scanner FILE (--plan FILE | --tracer FILE --phantom FILE) [--seed N]
//             [--faults FILE] [--control FILE] [--pace X] [--counter-pattern]
//             [--field-trace FILE [--field-trace-block N]]
//
// --pace 1 (default) runs in step with the wall clock like the hardware; 0 as fast as possible. The samples
// are the same either way. --control names a file polled every ~10 ms: each line appended to it is a fault
// command (faults.hpp: e.g. "interlock open", "sample_holder out", "sample_holder in") applied at the sample
// the plant is at, logged as "control: '<command>' applied at sample N" (or "control: '<command>': <why>"
// when refused). --counter-pattern: the ADC frames carry the counter pattern (counter_pattern.hpp) instead
// of the physics, to check streaming. --field-trace: the plant records the field it applied (field_trace.hpp)
// and writes it to FILE whenever an acquisition stops and at exit (the whole run each time: every scan so
// far). Bad input: exit 2, "mpi-plant: <message>".
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/control_file.hpp"
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
#include <filesystem>
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
constexpr auto kControlPollPeriod = std::chrono::milliseconds(10);

// Writes the field trace (when one is recorded); a failure is logged, the plant runs on.
bool write_trace(const mpi::hil::Plant& plant, const std::string& file) {
  if (plant.field_trace() == nullptr || file.empty()) return true;
  try {
    mpi::hil::write_field_trace(*plant.field_trace(), std::filesystem::path(file));
    return true;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return false;
  }
}

void run(mpi::hil::Plant& plant, double pace, mpi::hil::ControlFile* control, const std::string& trace_file) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point anchor = Clock::now();  // wall time at which `advanced` counted from 0
  double advanced = 0.0;                    // sample periods the plant advanced since the anchor
  Clock::time_point next_control = anchor;
  const double frames_per_second = plant.sample_rate_hz() * pace;
  while (!g_stop.load(std::memory_order_relaxed)) {
    const Clock::time_point now = Clock::now();
    if (control != nullptr && now >= next_control) {
      next_control = now + kControlPollPeriod;
      for (const std::string& line : control->new_lines()) {
        try {
          plant.inject(mpi::hil::parse_control_command(line));
          spdlog::info("control: '{}' applied at sample {}", line, plant.sample_index());
        } catch (const std::exception& e) {
          spdlog::error("control: '{}': {}", line, e.what());
        }
      }
    }
    std::uint32_t budget = kBlockFrames;
    if (pace > 0.0) {
      const double due = std::chrono::duration<double>(now - anchor).count() * frames_per_second;
      budget = due > advanced ? static_cast<std::uint32_t>(std::min<double>(due - advanced, kBlockFrames)) : 0U;
    }
    const std::uint64_t triggers = plant.trigger_count();
    const bool was_running = plant.running();
    const std::uint64_t generated = plant.step(budget);
    if (was_running && !plant.running()) write_trace(plant, trace_file);
    if (plant.trigger_count() != triggers) {
      anchor = now;  // sample 0 of this acquisition
      advanced = static_cast<double>(generated);
    } else {
      advanced += budget;
    }
    if (budget == 0 || (pace == 0.0 && !plant.running())) std::this_thread::sleep_for(kIdleSleep);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  install_signal_handlers();
  if (::getppid() != parent) return 0;  // the parent died before the death signal was armed

  CLI::App app{"mpi-plant: the hardware-in-the-loop plant (board logic and MPI scanner physics)"};
  std::string shm;
  std::string scanner_file;
  std::string plan_file;
  std::string tracer_file;
  std::string phantom_file;
  std::string faults_file;
  std::string control_file;
  std::string trace_file;
  std::uint32_t trace_block = 0;
  std::optional<std::uint64_t> seed;
  double pace = 1.0;
  bool counter_pattern = false;
  app.add_option("--shm", shm, "name of the shared-memory region to create")->required();
  app.add_option("--scanner", scanner_file, "scanner description (TOML)")->required();
  auto* plan = app.add_option("--plan", plan_file, "scan plan: its tracer and [simulation] phantom, seed, faults");
  auto* tracer = app.add_option("--tracer", tracer_file, "tracer description (TOML)");
  auto* phantom = app.add_option("--phantom", phantom_file, "phantom description (TOML)");
  plan->excludes(tracer)->excludes(phantom);
  tracer->needs(phantom);
  phantom->needs(tracer);
  app.add_option("--seed", seed, "noise seed (replaces the plan's)");
  app.add_option("--faults", faults_file, "faults file (TOML, replaces the plan's)");
  app.add_option("--control", control_file, "control file: fault commands appended while running");
  app.add_option("--pace", pace, "sample time per wall-clock time: 1 real time, 0 as fast as possible")
      ->check(CLI::Range(0.0, 1e6));
  app.add_flag("--counter-pattern", counter_pattern, "ADC frame n, channel c carries the low 16 bits of n * channels + c instead of physics");
  auto* trace = app.add_option("--field-trace", trace_file,
                                "write the applied field per block of samples (peak, slew, ramp factor; offsets' mean) to this CSV file");
  app.add_option("--field-trace-block", trace_block, "field trace block length in samples (default: one period of the lowest drive frequency)")
      ->check(CLI::Range(1U, 1U << 30))
      ->needs(trace);
  try {
    app.parse(argc, argv);
    if (plan_file.empty() && tracer_file.empty()) throw CLI::ValidationError("--plan or --tracer and --phantom", "one is required");
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "mpi-plant: %s\n", e.what());
    return 2;
  }

  auto log = spdlog::stderr_color_mt("plant");
  spdlog::set_default_logger(log);

  std::optional<mpi::drivers::SharedMemoryRegion> region;
  std::optional<mpi::hil::Plant> plant;
  std::optional<mpi::hil::ControlFile> control;
  try {
    const mpi::hil::PlantConfig config =
        plan_file.empty() ? mpi::hil::load_plant_config(scanner_file, tracer_file, phantom_file, seed.value_or(1), faults_file)
                          : mpi::hil::load_plant_config_from_plan(scanner_file, plan_file, seed, faults_file);
    if (!control_file.empty()) control.emplace(control_file);
    region.emplace(mpi::drivers::SharedMemoryRegion::create(shm, mpi::hil::region_geometry(config.scanner)));
    mpi::hil::PlantOptions options;
    options.counter_pattern = counter_pattern;
    options.watchdog_time_scale = pace;  // the surveillance unit measures wall-clock time
    options.field_trace = !trace_file.empty();
    options.field_trace_block_samples = trace_block;
    plant.emplace(config, region->base(), options);
    if (!trace_file.empty()) mpi::hil::write_field_trace(*plant->field_trace(), std::filesystem::path(trace_file));  // writable?
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi-plant: %s\n", e.what());
    return 2;
  }

  spdlog::info("scanner '{}': {} drive, {} receive channels, fs = {} Hz, {} tracer modes, {} faults scheduled, pace {}{}",
               plant->config().scanner.name, plant->config().scanner.drive.size(), plant->config().scanner.receive.channels.size(),
               plant->sample_rate_hz(), plant->model().modes(), plant->config().faults.size(), pace,
               counter_pattern ? ", counter pattern" : "");
  if (pace == 0.0) spdlog::warn("--pace 0: the board watchdog is not simulated (it measures wall-clock time)");
  std::cout << "plant ready shm=" << shm << std::endl;

  if (!trace_file.empty()) {
    spdlog::info("field trace: {} (blocks of {} samples, at most {} blocks)", trace_file, plant->field_trace()->header().block_samples,
                 plant->field_trace()->max_blocks());
  }
  run(*plant, pace, control ? &*control : nullptr, trace_file);
  spdlog::info("stopping");
  plant->close_field_trace_block();
  return write_trace(*plant, trace_file) ? 0 : 1;  // the region's destructor unlinks it
}
