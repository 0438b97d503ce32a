// The scan sequencer and safety supervisor. Modes (link::v1::BoardMode): CONFIG (nothing configured),
// ARMED (configured, amplifiers on), RUNNING (a scan runs or ramps down), SAFE (a fault is latched); each
// command is accepted only in the modes that allow it and is otherwise refused naming them. The
// supervisor runs on every control tick: it kicks the board's watchdog and, on an instant stop, an open
// interlock, over-temperature, an amplifier fault, an expired watchdog, three missed host heartbeats or
// the loss of a supervised host's link, latches the fault (kind, channel, sample index), ramps every
// drive channel down over the scan's ramp, switches the amplifiers off and enters SAFE until ClearFaults.
//
// The scan sequencer: validates and applies drive configurations and the scan program of the offset
// channels (scan_program.hpp: background frames, ramp-up, gradient/focus patches, foreground frames,
// ramp-down, relaxometry sweeps), starts a scan (amplifier on, ramp up, offset table, enable, trigger),
// keeps the offset table written ahead of the logic, and ends the scan safely whatever the cause (the
// program's end, Stop, max_samples, controller lost, shutdown, a fault, no trigger): the drive ramps down
// and the offsets ramp to zero, it waits for zero field, disables the drive and its amplifier, lets the
// streamer send every sample up to the end of the ramp, stops acquisition, sends StreamEnd. The control thread calls
// tick() every millisecond; the I/O thread calls the commands. Both go through one short mutex; tick()
// never allocates or logs.
#pragma once

#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/drive_channel.hpp"
#include "mpi/drivers/register_bus.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/adc_ring.hpp"
#include "mpi/drivers/offset_sequence.hpp"
#include "mpi/firmware/board_geometry.hpp"
#include "mpi/firmware/field_control_loop.hpp"
#include "mpi/firmware/scan_program.hpp"
#include "mpi/firmware/streamer.hpp"
#include "mpi/link/v1/link.pb.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mpi::firmware {

// The outcome of a command: ok, or an error code for the link and a message naming what was wrong.
struct CommandResult {
  link::v1::ErrorCode code = link::v1::ERROR_UNSPECIFIED;
  std::string message;

  [[nodiscard]] bool ok() const noexcept { return code == link::v1::ERROR_UNSPECIFIED; }
  static CommandResult error(link::v1::ErrorCode c, std::string m) { return {c, std::move(m)}; }
};

enum class StopReason { stop_requested, max_samples, controller_lost, shutdown, no_trigger, safety_fault, program_complete };

// A fault the supervisor latched.
struct LatchedFault {
  link::v1::FaultKind kind = link::v1::FAULT_KIND_UNSPECIFIED;
  int channel = -1;          // drive channel, -1: not a channel's
  std::uint64_t sample = 0;  // write pointer when detected (for the drive-field control: its block's first sample)
  ControlVerdict control = ControlVerdict::ok;  // the drive-field control's verdict that raised it, if any
};

// "amplifier fault on drive channel x at sample 1234" (channel names from the scanner description).
std::string describe(const LatchedFault& fault, const config::ScannerDescription& scanner);
const char* to_string(link::v1::BoardMode mode) noexcept;  // "CONFIG", "ARMED", "RUNNING", "SAFE"
const char* to_string(StopReason reason) noexcept;

class Sequencer {
 public:
  // Ticks the board may take to acknowledge the trigger, and to report acquisition stopped.
  static constexpr std::uint32_t kTriggerTimeoutTicks = 1000;
  static constexpr std::uint32_t kStopAckTimeoutTicks = 200;
  static constexpr std::size_t kMaxFaults = 16;
  static constexpr int kMissedHeartbeats = 3;
  // Time constants of the slowest coil that acquisition runs on after a ramp reaches zero (e^-10: the
  // current left is below 1e-4 of what it was).
  static constexpr double kSettleTimeConstants = 10.0;

  // `scanner` must describe the board behind `bus` (see board_mismatch in scanner_limits.hpp).
  Sequencer(drivers::RegisterBus& bus, const config::ScannerDescription& scanner, Streamer& streamer);

  [[nodiscard]] const BoardGeometry& board() const noexcept { return board_; }
  [[nodiscard]] const config::ScannerDescription& scanner() const noexcept { return scanner_; }

  // Validates every field against the board and the scanner description (each channel's frequency, its
  // amplitude limit, the hard field cap, the coil's slew limit, DAC full scale; the program's steps against
  // the offset channels' limits; the message names the first bad field and the limit), writes the drive
  // registers and the DAC limits, loads the program into the offset table, and powers the amplifiers of
  // the configured channels (those of the other channels off). The reply gives the realised drive, the
  // drive cycle in samples and where each program segment lies in the stream.
  CommandResult configure(const link::v1::Configure& request, link::v1::ConfigureReply& reply);
  // Starts a scan owned by controller `owner`; `scan_id` receives the tag of its frames.
  // A `supervised` owner sends heartbeats: missing kMissedHeartbeats periods, or losing its link, is a fault.
  CommandResult start(const link::v1::Start& request, std::uint64_t owner, std::uint64_t& scan_id, bool supervised = false);
  // Leaves SAFE for CONFIG: clears the latched faults and the board's latched bits. Refused outside SAFE
  // and while a fault condition persists (interlock open, instant stop pressed, over-temperature).
  CommandResult clear_faults();
  // A heartbeat from the controlling host (any thread).
  void heartbeat() noexcept;
  // The host's heartbeat period: [safety] watchdog_timeout.
  [[nodiscard]] double heartbeat_period_s() const noexcept { return scanner_.safety.watchdog_timeout_s; }
  [[nodiscard]] link::v1::BoardMode mode() const;
  [[nodiscard]] std::vector<LatchedFault> faults() const;
  // Counts every fault latched since start-up: the link server reports the new ones on the stream.
  [[nodiscard]] std::uint64_t faults_latched_total() const noexcept { return faults_total_.load(std::memory_order_acquire); }
  // Ends the running scan (if any) with a ramp-down. Idempotent.
  void stop(StopReason reason);
  // The controller's link is gone: the control tick ramps its scan down.
  void controller_lost(std::uint64_t owner);
  // The control passes from `owner` to `successor` (an explicit hand-over, or the controller reclaiming
  // the control from a connection that went silent): a running scan goes on, now owned and supervised
  // (heartbeats, link) by the successor; the heartbeat clock restarts. No effect for another owner.
  void transfer_control(std::uint64_t owner, std::uint64_t successor, bool supervised);
  // Ends any scan and refuses new ones.
  void shutdown();

  [[nodiscard]] bool scanning() const;
  [[nodiscard]] link::v1::ScanState state() const;
  void fill_status(link::v1::Status& status) const;

  // The drive-field control loop (field_control_loop.hpp) runs on the tick of every scan configured while
  // it is enabled. Off by default here (boards in unit tests carry no field signal); the daemon turns it on
  // unless started with --no-field-control.
  void set_field_control(bool on);
  // The drive-field control reports made after the first `seen` ones (at most the loop's history, oldest
  // first) are appended to `out`; returns the count of reports ever made (pass it as `seen` next time).
  std::uint64_t field_reports_since(std::uint64_t seen, std::vector<FieldReportRecord>& out) const;
  // The id of the latest scan started (0: none yet).
  [[nodiscard]] std::uint64_t latest_scan_id() const;
  // Why the loop does not run for the present configuration ("" when it runs).
  [[nodiscard]] std::string field_control_state() const;

  // The control thread's 1 ms tick: alive counter, trigger, stop conditions, ramp completion, stream end.
  void tick() noexcept;

 private:
  enum class Phase { idle, configured, running, ramping_down, draining, ending };

  void begin_ramp_down(StopReason reason) noexcept;  // with mutex_ held
  [[nodiscard]] bool ramp_down_complete() const noexcept;
  [[nodiscard]] link::v1::ScanState state_locked() const noexcept;
  [[nodiscard]] link::v1::BoardMode mode_locked() const noexcept;
  [[nodiscard]] CommandResult refuse(const char* command, const char* allowed) const;  // with mutex_ held
  void supervise() noexcept;                                                            // with mutex_ held
  bool latch(link::v1::FaultKind kind, int channel, std::uint64_t sample,
             ControlVerdict control = ControlVerdict::ok) noexcept;  // true if new
  void run_field_control() noexcept;                                  // with mutex_ held
  [[nodiscard]] bool acquisition_running() const noexcept;

  void power_down_configured() noexcept;  // drive and amplifier off, with mutex_ held, ramp factor 0
  [[nodiscard]] std::uint64_t offsets_zero_sample() const noexcept;  // the offsets' tail is at zero and settled

  drivers::RegisterBus* bus_;
  config::ScannerDescription scanner_;
  Streamer* streamer_;
  BoardGeometry board_;
  drivers::AdcRing ring_;

  mutable std::mutex mutex_;
  Phase phase_ = Phase::idle;
  bool shutting_down_ = false;
  // Configuration.
  std::array<bool, drivers::regmap::kMaxDriveChannels> configured_{};
  std::uint32_t ramp_samples_ = 1;
  std::uint32_t chunk_samples_ = kDefaultChunkSamples;
  // The scan program (offset sequence table).
  drivers::OffsetSequence offset_sequence_;
  CompiledProgram program_;
  bool program_loaded_ = false;
  std::uint64_t settle_samples_ = 0;  // kSettleTimeConstants of the slowest drive or offset coil
  // The scan.
  std::uint64_t scan_id_ = 0;
  std::uint64_t owner_ = 0;
  std::uint64_t max_samples_ = 0;
  bool triggered_ = false;
  bool stop_pending_ = false;
  bool has_scanned_ = false;
  StopReason reason_ = StopReason::stop_requested;
  std::uint32_t wait_ticks_ = 0;
  std::uint64_t ramp_down_command_sample_ = 0;
  std::uint64_t ramp_down_start_sample_ = 0;
  bool ramp_down_known_ = false;
  bool owner_lost_ = false;
  std::uint32_t alive_ = 0;
  // Drive-field control.
  bool field_control_enabled_ = false;
  FieldControlLoop control_loop_;
  // Supervisor.
  bool safe_ = false;
  bool supervised_ = false;
  bool amplifier_pending_ = false;
  std::array<LatchedFault, kMaxFaults> faults_{};
  std::size_t fault_count_ = 0;
  std::atomic<std::uint64_t> faults_total_{0};
  std::atomic<std::chrono::steady_clock::rep> last_heartbeat_{0};
  std::chrono::steady_clock::duration heartbeat_timeout_{};

 public:
  // The streamer the scans stream through (the link server rewinds it for Resume).
  [[nodiscard]] Streamer& streamer() const noexcept;
};

}  // namespace mpi::firmware
