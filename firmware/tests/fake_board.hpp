// A stand-in for the board's logic in tests: owns a shared-memory register map and ADC ring, and on its own
// thread acknowledges the trigger, advances the write pointer, fills the ring with a known pattern
// (pattern(sample, channel)) and applies ramp commands the way register_map.hpp describes. It records
// what it saw when acquisition was stopped, so tests can check the order of the firmware's commands.
// ADC channels: kReceiveChannels receive coils, then one reference pickup per drive channel.
#pragma once

#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/shared_memory_region.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace mpi::firmware::test {

// A scanner description matching the fake board: drive x and y at 2.5 MHz / 100 = 25 kHz, 20 mT at DAC
// full scale, 16 mT coil limit, one receive channel, one focus channel (50 mT at full scale, 40 mT limit,
// 100 us).
config::ScannerDescription fake_board_scanner();

// The ADC value the fake logic writes for `sample` (index since the trigger) in `channel`.
std::int16_t pattern(std::uint64_t sample, unsigned channel);

struct StopObservation {
  std::uint64_t write_pointer = 0;                 // frames acquired when acquisition stopped
  std::array<std::uint32_t, 4> ramp_factor{};      // Q16 per drive channel at that moment
  std::array<bool, 4> enabled{};
  std::array<bool, 4> amplifier_enabled{};
  std::array<bool, 4> ramped_down{};               // a ramp-down command had been applied
  std::array<std::uint64_t, 4> down_event_sample{};
};

class FakeBoard {
 public:
  static constexpr std::uint32_t kDacClockHz = 125'000'000;
  static constexpr std::uint32_t kDecimation = 125;  // 1 MS/s
  static constexpr std::uint32_t kReceiveChannels = 1;
  static constexpr std::uint32_t kDriveChannels = 2;
  static constexpr std::uint32_t kAdcChannels = kReceiveChannels + kDriveChannels;
  static constexpr std::uint32_t kRingLog2 = 20;
  static constexpr std::uint32_t kBlockFrames = 250;

  // The board's identification registers; the defaults are the constants above.
  struct Geometry {
    std::uint32_t dac_clock_hz = kDacClockHz;
    std::uint32_t adc_decimation = kDecimation;
    std::uint32_t receive_channels = kReceiveChannels;
    std::uint32_t drive_channels = kDriveChannels;
    std::uint32_t offset_channels = 1;
    std::uint32_t temperature_sensors = 2;
  };

  FakeBoard() : FakeBoard(Geometry{}) {}
  explicit FakeBoard(const Geometry& geometry);  // creates a uniquely named region and starts the logic thread
  ~FakeBoard();  // stops the thread and removes the region
  FakeBoard(const FakeBoard&) = delete;
  FakeBoard& operator=(const FakeBoard&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const drivers::RegisterBlock& registers() const noexcept { return regs_; }

  // Sets the SafetyStatus register as the logic would (bits of register_map.hpp); default: interlock closed.
  void set_safety_status(std::uint32_t bits) noexcept;
  // Sets or clears kDriveAmplifierFault in drive channel `channel`'s DriveStatus.
  void set_amplifier_fault(unsigned channel, bool on) noexcept;
  // Sets or clears kDriveClamped in drive channel `channel`'s DriveStatus (the logic held the output at its
  // DAC limit).
  void set_clamped(unsigned channel, bool on) noexcept;

  // Writes temperature sensor `sensor`'s register as the logic does (milli-degrees Celsius).
  void set_temperature(unsigned sensor, double celsius) noexcept;

  // Whether the logic answers the trigger and produces samples.
  void set_producing(bool on) noexcept { producing_.store(on); }
  // Makes the logic jump `frames` ahead at once (as if the reader had stalled), filling the ring correctly.
  void jump(std::uint64_t frames) noexcept { jump_.store(frames); }

  [[nodiscard]] std::uint64_t stops() const noexcept { return stops_.load(); }
  [[nodiscard]] std::uint64_t hard_cuts() const noexcept { return hard_cuts_.load(); }
  // Triggers at which an enabled drive channel's amplifier was off (the drive would play into nothing).
  [[nodiscard]] std::uint64_t unpowered_triggers() const noexcept { return unpowered_triggers_.load(); }
  [[nodiscard]] StopObservation last_stop() const;
  // Waits (bounded) until the logic has seen `count` acquisition stops.
  bool wait_for_stops(std::uint64_t count, int timeout_ms = 10000) const;

 private:
  void run();
  void produce(std::uint64_t first, std::uint64_t count);

  std::string name_;
  Geometry geometry_;
  std::uint32_t adc_channels_;
  drivers::SharedMemoryRegion region_;
  drivers::RegisterBlock regs_;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::atomic<bool> producing_{true};
  std::atomic<std::uint64_t> jump_{0};
  std::atomic<std::uint64_t> stops_{0};
  std::atomic<std::uint64_t> hard_cuts_{0};
  std::atomic<std::uint64_t> unpowered_triggers_{0};
  mutable std::mutex mutex_;
  StopObservation last_stop_;
};

}  // namespace mpi::firmware::test
