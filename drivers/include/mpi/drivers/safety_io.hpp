// Driver for the board's safety I/O (register map v2): the alive output the control tick increments, the
// watchdog (kick and timeout in ADC samples), the logic's safety status, clearing its latched bits, the
// temperature sensors, the ADC overrange mask and the sample clock's slip count. Every call is noexcept
// and allocation-free.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"

#include <cstdint>

namespace mpi::drivers {

// The SafetyStatus register as the logic writes it.
struct SafetyStatus {
  bool interlock_closed = false;  // the safety interlock loop is closed (true is the safe, normal state)
  bool instant_stop = false;      // the instant-stop input is pressed
  bool over_temperature = false;  // a sensor is above its limit
  bool amplifier_fault = false;   // latched: a power amplifier reported a fault
  bool adc_overrange = false;     // latched: an ADC channel clipped this run
  bool watchdog_expired = false;  // latched: the watchdog expired and the logic ramped the drive down
  bool clock_unlocked = false;    // latched: the sample clock lost its lock

  friend bool operator==(const SafetyStatus&, const SafetyStatus&) = default;
};

// Register bits of a status, and the status of register bits.
[[nodiscard]] std::uint32_t to_bits(const SafetyStatus& status) noexcept;
[[nodiscard]] SafetyStatus safety_status_from_bits(std::uint32_t bits) noexcept;

class SafetyIo {
 public:
  explicit SafetyIo(RegisterBus& bus) noexcept;

  // Increments AliveCounter (wrapping at 2^32); call once per control tick.
  void increment_alive() noexcept;
  [[nodiscard]] std::uint32_t alive_counter() const noexcept;
  // Changes WatchdogKick (increments it, wrapping), which restarts the logic's watchdog.
  void kick_watchdog() noexcept;
  // Samples without a kick, while acquisition runs, before the logic latches kWatchdogExpired and ramps
  // the drive down; 0 switches the watchdog off.
  void set_watchdog_timeout(std::uint32_t samples) noexcept;
  [[nodiscard]] std::uint32_t watchdog_timeout() const noexcept;

  [[nodiscard]] SafetyStatus status() const noexcept;
  // Writes the latched bits set in `bits` (amplifier fault, ADC overrange, watchdog expired, clock
  // unlocked) to SafetyClear; the live inputs (interlock, instant stop, over-temperature) are not latched
  // and are ignored. Writes nothing when no latched bit is chosen.
  void clear_latched(const SafetyStatus& bits) noexcept;

  [[nodiscard]] unsigned temperature_sensors() const noexcept;  // the board's count, at most kMaxTemperatureSensors
  // Temperature of `sensor` in degrees Celsius.
  [[nodiscard]] ErrorCode temperature_celsius(unsigned sensor, double& celsius) const noexcept;
  // Bit c set: ADC channel c clipped since the trigger (latched by the logic).
  [[nodiscard]] std::uint32_t adc_overrange_mask() const noexcept;
  // Samples the ADC lost through sample-clock glitches (the sample counter fell behind the drive's time).
  [[nodiscard]] std::uint32_t clock_slip_samples() const noexcept;

 private:
  RegisterBus* bus_;
};

}  // namespace mpi::drivers
