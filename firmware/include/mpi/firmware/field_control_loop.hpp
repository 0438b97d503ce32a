// The drive-field control loop of a running scan (REFERENCE.md section 4): after the ramp-up, every block
// of whole drive periods is read from the ADC ring, the reference pickups are handed to DriveFieldControl
// and, when its verdict is ok, the new DAC amplitude and phase are written to DDS component 0 of each
// controlled channel. The block after a DAC change is skipped (the coil current settles through its RL
// lag); nothing runs during ramps. The verdicts dead_amplifier, implausible, field_cap and diverging are
// returned to the supervisor, which enters SAFE with the fault. Every update leaves one FieldReport per
// channel in a short history that Status carries.
//
// The loop controls drive channels 0..n-1 (every configured channel, which must then be contiguous from
// channel 0) when the drive periods are whole numbers of ADC samples; otherwise it stays off for that
// configuration and says why (reason()). tick() is noexcept and allocates nothing: the block buffer is
// sized by configure().
#pragma once

#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/adc_ring.hpp"
#include "mpi/drivers/register_bus.hpp"
#include "mpi/firmware/board_geometry.hpp"
#include "mpi/firmware/drive_field_control.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mpi::firmware {

// One channel's outcome of one update (link::v1::FieldReport).
struct FieldReportRecord {
  std::uint64_t first_sample = 0;  // first sample of the block measured
  std::uint32_t channel = 0;
  double target_t = 0.0;
  double measured_t = 0.0;
  double measured_phase_rad = 0.0;
  double applied_amplitude = 0.0;  // DAC fraction of full scale, component 0, after the update
  double applied_phase_rad = 0.0;
  ControlVerdict verdict = ControlVerdict::ok;
};

// A verdict the supervisor must latch as a fault.
struct ControlFault {
  ControlVerdict verdict = ControlVerdict::ok;
  int channel = -1;
  std::uint64_t sample = 0;  // first sample of the block that produced it
};

// The target field of one configured drive channel.
struct FieldTarget {
  unsigned channel = 0;
  double amplitude_t = 0.0;
  double phase_rad = 0.0;
};

class FieldControlLoop {
 public:
  static constexpr std::size_t kHistory = 32;          // field reports kept (all channels, oldest first)
  static constexpr double kMinBlockSeconds = 1e-3;     // a block lasts at least this long

  // True for the verdicts that end the scan in SAFE.
  [[nodiscard]] static bool is_fault(ControlVerdict verdict) noexcept;

  // Builds the controller for `targets` (the configured channels) and writes its feed-forward DAC to
  // DDS component 0 of each. Returns false, with the loop off and reason() saying why, where the loop
  // cannot run for this configuration.
  bool configure(const config::ScannerDescription& scanner, const BoardGeometry& board, std::span<const FieldTarget> targets,
                 drivers::RegisterBus& bus);
  void disable(std::string reason);
  [[nodiscard]] bool active() const noexcept { return control_.has_value(); }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  [[nodiscard]] std::uint32_t block_frames() const noexcept { return block_frames_; }

  // A scan starts: the first block begins one block after the ramp-up ends (sample `ramp_end`). The
  // learned transfer is kept from scan to scan of one configuration.
  void start_scan(std::uint64_t ramp_end) noexcept;
  // One control tick while the scan runs at full field; `wp` is the write pointer.
  [[nodiscard]] std::optional<ControlFault> tick(drivers::RegisterBus& bus, const drivers::AdcRing& ring, std::uint64_t wp) noexcept;

  // The latest reports, oldest first (at most kHistory), and the count of reports ever made.
  [[nodiscard]] std::size_t report_count() const noexcept { return std::min<std::uint64_t>(total_, kHistory); }
  [[nodiscard]] const FieldReportRecord& report(std::size_t i) const noexcept;  // i < report_count()
  [[nodiscard]] std::uint64_t reports_total() const noexcept { return total_; }
  [[nodiscard]] std::uint32_t updates() const noexcept { return updates_; }

 private:
  void write_dac(drivers::RegisterBus& bus) const noexcept;
  void record(const ControlReport& report) noexcept;

  std::optional<DriveFieldControl> control_;
  std::string reason_ = "not configured";
  std::uint32_t block_frames_ = 0;
  std::vector<std::int16_t> block_;
  std::array<double, kMaxControlledChannels> target_t_{};
  std::uint64_t next_block_ = 0;
  std::uint32_t updates_ = 0;
  std::array<FieldReportRecord, kHistory> history_{};
  std::uint64_t total_ = 0;
};

}  // namespace mpi::firmware
