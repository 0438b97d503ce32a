// Driver for one drive-field DAC channel (register map v2): a single-tone drive on DDS component 0 (48-bit
// phase increment, amplitude, phase offset), the channel's enable, its power amplifier's enable, the peak
// DAC code the logic clamps to, the logic's linear ramp and the channel's latched status. Frequencies and
// amplitudes are converted to register values here and the realised values are reported back, so callers
// know exactly what the logic plays. Every call is noexcept and allocation-free.
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

// The channel's latched status bits (DriveStatus register).
struct DriveStatus {
  bool clamped = false;          // the logic clamped the output to the DAC limit
  bool amplifier_fault = false;  // the power amplifier stopped driving
};

class DriveChannel {
 public:
  // `channel` must be below the board's DriveChannels register; check with valid() before use.
  DriveChannel(RegisterBus& bus, unsigned channel) noexcept;

  [[nodiscard]] bool valid() const noexcept;
  // Computes the register values for `settings` without touching the board.
  [[nodiscard]] ErrorCode realise(const DriveSettings& settings, RealisedDrive& out) const noexcept;
  // Writes frequency, phase and amplitude to DDS component 0 and the ramp duration, and zeroes everything
  // else that adds to the output (DDS components 1 and 2, the arbitrary waveform, the DC offset), so the
  // channel plays exactly one sine. Leaves enable, amplifier, DAC limit and the ramp state alone. Writes
  // nothing when the settings are refused.
  [[nodiscard]] ErrorCode configure(const DriveSettings& settings, RealisedDrive& out) noexcept;
  void enable(bool on) noexcept;
  [[nodiscard]] bool enabled() const noexcept;
  // Powers the channel's amplifier on or off (a disabled amplifier drives no current).
  void enable_amplifier(bool on) noexcept;
  [[nodiscard]] bool amplifier_enabled() const noexcept;
  // The peak DAC code (0..kDacFullScale) the logic clamps the channel's output to.
  [[nodiscard]] ErrorCode set_dac_limit(std::uint32_t peak_code) noexcept;
  [[nodiscard]] std::uint32_t dac_limit() const noexcept;
  // The smallest DAC limit code that lets a single tone of `amplitude_full_scale` (0..1) through unclamped,
  // allowing for the rounding of its amplitude code; kDacFullScale at most, 0 for non-positive or NaN input.
  [[nodiscard]] static std::uint32_t dac_limit_for(double amplitude_full_scale) noexcept;
  [[nodiscard]] DriveStatus status() const noexcept;
  // Clears the latched bits that are set in `bits` (written to DriveStatus); the others stay.
  void clear_status(const DriveStatus& bits) noexcept;
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
