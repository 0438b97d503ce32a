// An end-to-end scenario on loopback: the plant (board logic + scanner physics in shared memory), the
// firmware daemon on that shared memory, and the host's `mpi` command, each a separate process. The
// scenario owns the plant and firmware processes and ends them, whatever happens, when it goes away.
#pragma once

#include "mpi/hil/child_process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mpi::hil {

struct ScenarioPrograms {
  std::filesystem::path plant;     // mpi-plant
  std::filesystem::path firmware;  // mpi-firmware
  std::filesystem::path host;      // mpi
};

struct ScenarioFiles {
  std::filesystem::path scanner;   // scanner description (configs/scanners/*.toml): plant, firmware and host
  std::filesystem::path plan;      // scan plan (configs/plans/*.toml): its tracer and [simulation] phantom
                                   // are the plant's, the rest the host's
  std::filesystem::path work_dir;  // logs and outputs go here
  double plant_pace = 1.0;         // 1 = real time, 0 = as fast as the plant can
  std::optional<std::uint64_t> seed;  // the plant's noise seed; default: the plan's [simulation] seed
  std::filesystem::path faults;    // scheduled faults for the plant (TOML); empty: the plan's, if any
  std::filesystem::path control;   // a control file the plant polls for commands; empty: none
  std::filesystem::path plant_scanner;  // the plant's own scanner description (its truth); empty: `scanner`
  std::filesystem::path field_trace;    // the plant writes its field trace here (mpi-plant --field-trace) when an
                                        // acquisition stops and when it exits; empty: none
  std::string firmware_listen = "127.0.0.1:0";  // the firmware's --listen address (port 0: a free port)
  std::filesystem::path key_file;       // the firmware's link key; empty: link_key_file()
  int firmware_rt_priority = 0;         // mpi-firmware --rt-priority (SCHED_FIFO where permitted); 0: none
};

class Scenario {
 public:
  // Starts plant and firmware and waits until both are ready; throws naming the program that failed
  // (its stderr is in work_dir/<program>.log).
  Scenario(const ScenarioPrograms& programs, const ScenarioFiles& files);
  ~Scenario();  // firmware first, then the plant: the firmware ramps down on a live board

  [[nodiscard]] std::uint16_t firmware_port() const noexcept { return port_; }
  [[nodiscard]] const std::string& shm_name() const noexcept { return shm_name_; }
  // The plant's log (its stderr): work_dir/plant.log. With a control file, each command it applies is
  // logged there as "control: '<command>' applied at sample N".
  [[nodiscard]] std::filesystem::path plant_log() const { return files_.work_dir / "plant.log"; }
  // The control file the plant polls (ScenarioFiles::control; empty: none).
  [[nodiscard]] const std::filesystem::path& control_file() const noexcept { return files_.control; }
  // Runs `mpi scan` against the firmware, writing into out_dir; returns its exit code.
  int run_scan(const std::filesystem::path& out_dir, std::string* output = nullptr);
  // Ends firmware and plant now; returns true if both exited by themselves on SIGTERM with code 0.
  bool stop();

 private:
  ScenarioPrograms programs_;
  ScenarioFiles files_;
  std::string shm_name_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> plant_;
  std::unique_ptr<ChildProcess> firmware_;
};

// The link key of this test process's scenarios: made once (mode 0600, in the temporary directory,
// removed at exit) and named in MPI_LINK_KEY, so that `mpi` and host::LinkClient in this process and its
// children prove they hold it; the firmware gets it with --key.
const std::filesystem::path& link_key_file();

// Runs a program to completion (killing it after `timeout`); returns its exit code and captures stdout.
int run_program(const std::vector<std::string>& argv, std::string* output, const std::string& stderr_file,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(120000));

}  // namespace mpi::hil
