// The board side of `mpi console`: an observer connection that keeps ConsoleState's board view current
// (Status polled a few times a second; Fault and FieldReport messages as they come), and the console's
// scans: host::run_live_scan on a worker thread with the same outputs as `mpi scan` (scan_outputs.hpp),
// its frames reported to ConsoleState (LiveScanOptions::on_frame), stopped through its interrupt flag.
#pragma once

#include "mpi/host/scan_plan.hpp"
#include "mpi/host/web_console.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace mpi::host {

struct ConsoleServiceOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7600;
  std::chrono::milliseconds receive_timeout{5000};  // the scan's (LiveScanOptions)
  std::chrono::milliseconds poll_interval{200};     // StatusRequest on the observer connection
  ScanPlan plan;
  ScannerDescription scanner;
  std::filesystem::path out;  // the scans' outputs (raw.mpilink, scan.mdf, image/profile, report.txt)
};

class ConsoleService {
 public:
  ConsoleService(ConsoleState& state, ConsoleServiceOptions options);
  ~ConsoleService();  // stops a running scan (as Stop does), waits for its outputs, ends the observer
  ConsoleService(const ConsoleService&) = delete;
  ConsoleService& operator=(const ConsoleService&) = delete;

  void start_observer();
  // Starts a scan of the plan; throws std::runtime_error with the reason when it cannot (one runs, the
  // board is in SAFE or RUNNING, the board is not connected).
  void start_scan();
  // Asks the running scan to stop (ramp down, then its outputs are written); throws when none runs.
  void stop_scan();
  [[nodiscard]] bool scan_running() const;
  // The start/stop actions for WebConsole.
  [[nodiscard]] ConsoleActions actions();
  // Looks for the newest relaxometry result under the output folder (psf.csv) and shows it.
  void refresh_psf();

 private:
  void observe();
  void scan();

  ConsoleState& state_;
  ConsoleServiceOptions options_;
  std::atomic<bool> closing_{false};
  std::atomic<bool> interrupt_{false};
  std::atomic<bool> scanning_{false};
  mutable std::mutex scan_mutex_;  // start/stop and the scan thread's handle
  std::thread scan_thread_;
  std::thread observer_thread_;
};

}  // namespace mpi::host
