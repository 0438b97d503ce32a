// Driver for one drive-field DAC channel (register map v2): a single-tone drive on DDS component 0 (48-bit
// phase increment, amplitude, phase offset), or a multi-tone drive on all kDdsComponents components, a DC
// offset and an arbitrary waveform (played once per turn of component 0's phase), the channel's enable, its power amplifier's enable, the peak
// DAC code the logic clamps to, the logic's linear ramp and the channel's latched status. Frequencies and
// amplitudes are converted to register values here and the realised values are reported back, so callers
// know exactly what the logic plays. Every call is noexcept and allocation-free.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"

#include <cstdint>
#include <span>

namespace mpi::drivers {

// One DDS component of a multi-tone drive.
struct ToneSettings {
  double frequency_hz = 0.0;          // 0 < f < Nyquist of the ADC sample rate
  double amplitude_full_scale = 0.0;  // 0..1 of the DAC's full scale
  double phase_rad = 0.0;             // phase at the trigger (sample 0) or at a resync step
};

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
// A component's register values and what it plays (same fields as a single-tone drive).
using RealisedTone = RealisedDrive;

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

  // --- multi-tone, DC offset and arbitrary waveform ---
  // Computes the register values of one DDS component without touching the board.
  [[nodiscard]] ErrorCode realise_tone(const ToneSettings& tone, RealisedTone& out) const noexcept;
  // Writes DDS component k (< kDdsComponents): phase increment, phase offset, amplitude. Leaves the other
  // components and everything else alone; writes nothing when refused.
  [[nodiscard]] ErrorCode configure_component(unsigned k, const ToneSettings& tone, RealisedTone& out) noexcept;
  [[nodiscard]] ErrorCode configure_component(unsigned k, const ToneSettings& tone) noexcept;
  // Silences DDS component k: amplitude, phase increment and phase offset 0.
  [[nodiscard]] ErrorCode disable_component(unsigned k) noexcept;
  // The DC offset added after the ramp, -1..1 of full scale (DAC code round(fraction * kDacFullScale)).
  [[nodiscard]] ErrorCode set_dc_offset(double fraction) noexcept;
  [[nodiscard]] double dc_offset() const noexcept;  // as the register holds it, in full scale
  // Loads an arbitrary waveform of 1..kAwgMaxPoints points (each -32767..32767, full scale 32767), played
  // once per turn of component 0's phase, scaled by amplitude_fraction (0..1). The waveform is switched off
  // (AwgPoints 0) while its memory is rewritten, then the amplitude and finally the point count are written.
  // Points are packed two per 32-bit word, the even point in the low half. Writes nothing when refused.
  [[nodiscard]] ErrorCode load_waveform(std::span<const std::int16_t> points, double amplitude_fraction) noexcept;
  // Switches the arbitrary waveform off (AwgPoints 0, AwgAmplitude 0).
  void disable_waveform() noexcept;
  // An upper bound of |output| in full scale from the registers (sum of the component amplitudes, the
  // waveform's amplitude when a waveform is loaded, and |DC offset|), before the DAC limit clamps it.
  [[nodiscard]] double peak_bound() const noexcept;

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
