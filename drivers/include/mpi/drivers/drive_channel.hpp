// Driver for one drive-field DAC channel: a DDS sine (48-bit phase increment), amplitude, phase offset,
// enable and the logic's linear ramp. Frequencies and amplitudes are converted to register values here
// and the realised values are reported back, so callers know exactly what the logic plays.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"

#include <cstdint>

namespace mpi::drivers {

struct DriveSettings {
  double frequency_hz = 0.0;
  double amplitude_full_scale = 0.0;  // 0..1 of the DAC's full scale
  double phase_rad = 0.0;             // phase at the trigger (sample 0)
  std::uint32_t ramp_samples = 1;     // duration of a full 0 -> 1 ramp, in ADC samples
};

struct RealisedDrive {
  std::uint64_t phase_increment = 0;  // per DAC clock tick, 2^-48 turn
  std::uint64_t phase_offset = 0;     // 2^-48 turn
  std::uint32_t amplitude_code = 0;   // 0..kAmplitudeFullScale
  double frequency_hz = 0.0;          // as played: increment * dac_clock / 2^48
  double amplitude_full_scale = 0.0;  // as played
  double phase_rad = 0.0;             // as played
};

class DriveChannel {
 public:
  // `channel` must be below the board's DriveChannels register; check with valid() before use.
  DriveChannel(RegisterBus& bus, unsigned channel) noexcept;

  [[nodiscard]] bool valid() const noexcept;
  // Computes the register values for `settings` without touching the board.
  [[nodiscard]] ErrorCode realise(const DriveSettings& settings, RealisedDrive& out) const noexcept;
  // Writes frequency, phase, amplitude and ramp duration. Leaves enable and the ramp state alone.
  [[nodiscard]] ErrorCode configure(const DriveSettings& settings, RealisedDrive& out) noexcept;
  void enable(bool on) noexcept;
  [[nodiscard]] bool enabled() const noexcept;
  void ramp_up() noexcept;
  void ramp_down() noexcept;
  [[nodiscard]] double ramp_factor() const noexcept;            // 0..1 as the logic reports it
  [[nodiscard]] std::uint64_t ramp_event_sample() const noexcept;  // sample of the last applied command

 private:
  [[nodiscard]] std::uint32_t reg(std::uint32_t r) const noexcept;
  RegisterBus* bus_;
  unsigned channel_;
};

}  // namespace mpi::drivers
