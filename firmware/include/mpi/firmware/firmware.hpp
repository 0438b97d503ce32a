// The firmware daemon: wires the board (a RegisterBus), the scanner description (limits, calibration), the sequencer, the streaming
// thread, the control thread and the link server together, and shuts down safely (ramp-down first).
#pragma once

#include <utility>  // before Asio

#include "mpi/drivers/register_bus.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/protocol/auth.hpp"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::firmware {

// A set-up error: the message is the one line to show (e.g. "cannot listen on 127.0.0.1:7600: address
// already in use").
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
};

// Parses "HOST:PORT" ("[v6addr]:PORT" for IPv6). Throws SetupError naming the text.
ListenAddress parse_listen_address(const std::string& text);

// How the control and streaming threads are scheduled.
struct ThreadPolicy {
  int rt_priority = 0;    // 1..99: SCHED_FIFO at this priority; 0: normal scheduling
  std::vector<int> cpus;  // pin to these CPUs; empty: no pinning
};

// Parses a CPU list such as "1", "0,1" or "0-3,6" (CPUs this machine has). Throws SetupError naming
// --cpu-affinity and the text.
std::vector<int> parse_cpu_list(const std::string& text);

// Opens the bus named by "shm:NAME" (the hardware-in-the-loop plant's shared memory) or "dev:PATH"
// (the board's memory-mapped device). Throws SetupError or std::runtime_error with the driver's message.
std::unique_ptr<drivers::RegisterBus> open_bus(const std::string& spec);

class Firmware {
 public:
  // Checks the scanner description against the board and starts listening; hosts must prove they hold
  // `key` (the scanner's pre-shared link key) before anything else. Throws SetupError; a description
  // that does not fit the board gives a message that starts with the key ("[board] ...").
  Firmware(std::unique_ptr<drivers::RegisterBus> bus, const config::ScannerDescription& scanner, const ListenAddress& listen,
           protocol::Key key);
  ~Firmware();
  Firmware(const Firmware&) = delete;
  Firmware& operator=(const Firmware&) = delete;

  // Scheduling of the control and streaming threads (call before run()). run() applies it when it
  // starts them; a priority the process may not take (EPERM) gives one warning and normal scheduling.
  void set_thread_policy(const ThreadPolicy& policy);

  // The drive-field control loop for scans configured from now on (call before run()).
  void set_field_control(bool on);

  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] std::string listen_text() const;  // "HOST:PORT" as bound

  // Ends the daemon on SIGTERM and SIGINT (call before run()).
  void handle_signals();
  // Serves until shutdown() (or a handled signal): then ramps any drive down, stops acquisition and
  // returns 0, or 1 if the board did not complete the ramp-down in time.
  int run();
  // Thread-safe request to end run().
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpi::firmware
