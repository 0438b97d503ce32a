// The scanner description file (configs/scanners/*.toml): what the hardware is. The firmware takes its
// limits and calibrations from it, the host its geometry and receive chain, and the hardware-in-the-loop
// plant all of it as the scanner's physical truth. Every dimensioned value is written with its unit
// ("12 mT", "2 T/m", "2.5 MHz"). Loading validates everything and refuses unknown keys; errors name the
// file, the key and the reason: "scanner.toml: [[drive]] #2 (y) divider: must be at least 1, got 0".
#pragma once

#include "mpi/config/config_error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::config {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<Vec3, 3>;  // row-major: m[row][column]

enum class Topology { ffp, ffl, mps };  // field-free point, field-free line, particle spectrometer (no gradient)

// [board]: the acquisition board (these values are also in its identification registers).
struct BoardDescription {
  std::uint32_t dac_clock_hz = 125'000'000;  // dac_clock = "125 MHz" (an integer number of Hz)
  std::uint32_t adc_decimation = 50;         // DAC clock ticks per ADC sample
  std::uint32_t ring_frames_log2 = 22;       // ring of 2^n ADC frames
  [[nodiscard]] double sample_rate_hz() const noexcept {
    return static_cast<double>(dac_clock_hz) / static_cast<double>(adc_decimation);
  }
};

// [[drive]]: one drive-field channel: DAC -> power amplifier -> coil. The field along `axis` is
//   B(t) = dac_full_scale_v * amplifier_gain * coil_sensitivity * g(T) * out(t - phase/omega)
// at the operating point (the amplifier's gain and phase are those at the channel's frequency), with
// g(T) = 1 + gain_drift_per_k * (T - T_ambient) and an extra phase of phase_drift_per_k * (T - T_ambient).
// Changes of the commanded amplitude reach the coil current through a first-order lag of rl_time_constant.
struct DriveChannelDescription {
  std::string name;                          // "x"
  Vec3 axis{1.0, 0.0, 0.0};                  // unit vector of the coil's field ("x", "y", "z" or [a, b, c])
  double base_clock_hz = 2.5e6;              // base_clock = "2.5 MHz"
  std::uint32_t divider = 102;               // frequency = base_clock / divider
  double dac_full_scale_v = 1.0;             // dac_full_scale = "1 V"
  double amplifier_gain_a_per_v = 10.0;      // amplifier_gain = "10 A/V"
  double amplifier_phase_rad = 0.0;          // amplifier_phase = "-3 deg"
  double coil_sensitivity_t_per_a = 1.2e-3;  // coil_sensitivity = "1.2 mT/A"
  double rl_time_constant_s = 50e-6;         // rl_time_constant = "50 us"
  double gain_drift_per_k = 0.0;             // gain_drift = "-0.2 %/K"
  double phase_drift_rad_per_k = 0.0;        // phase_drift = "0.05 deg/K"
  double heating_time_constant_s = 60.0;     // heating_time_constant = "60 s"
  double cooling_time_constant_s = 120.0;    // cooling_time_constant = "120 s"
  double temperature_rise_at_limit_k = 20.0; // temperature_rise_at_limit = "20 K": steady rise at max_amplitude
  double max_amplitude_t = 14e-3;            // max_amplitude = "14 mT": the coil's limit
  double max_slew_t_per_s = 0.0;             // max_slew = "3000 T/s": peak dB/dt the coil takes; 0 = no limit
  double reference_v_per_t = 50.0;           // reference_pickup = "50 V/T": the pickup's output per field
  // harmonic_distortion = ["-70 dB", "-80 dB"]: the power amplifier's harmonic distortion, the amplitude of
  // its output's 2nd, 3rd, ... harmonic relative to the fundamental (each below 0 dB, at most
  // kMaxDistortionHarmonics entries), stored as amplitude ratios (10^(dB/20)). Empty: a clean amplifier.
  // Each sine component of the channel's output then carries a_h * sin(h * phase) next to sin(phase), so the
  // coil's field (and through the feedthrough the receive coils) has the drive's harmonics.
  std::vector<double> harmonic_distortion;
  static constexpr std::size_t kMaxDistortionHarmonics = 16;
  [[nodiscard]] double frequency_hz() const noexcept { return base_clock_hz / static_cast<double>(divider); }
  // Field at DAC full scale at the reference temperature.
  [[nodiscard]] double tesla_per_full_scale() const noexcept {
    return dac_full_scale_v * amplifier_gain_a_per_v * coil_sensitivity_t_per_a;
  }
};

// [selection]: the static selection field B(r) = G r. G must be Maxwell-consistent: symmetric and trace-free
// (within 1e-9 of its largest entry). Written as a diagonal (gradient = ["-1 T/m", "-1 T/m", "2 T/m"]) or
// as a full matrix (gradient_matrix = [[...], [...], [...]]). All zero for a spectrometer.
struct SelectionDescription {
  Topology topology = Topology::ffp;
  Mat3 gradient_t_per_m{};
};

// [[offset]]: a gradient/focus/bias channel driven by the sequence table: a slow field along `axis`.
struct OffsetChannelDescription {
  std::string name;                          // "focus_x", "bias"
  Vec3 axis{1.0, 0.0, 0.0};
  double tesla_per_full_scale = 50e-3;       // field_at_full_scale = "50 mT"
  double max_field_t = 40e-3;                // max_field = "40 mT"
  double rl_time_constant_s = 1e-3;          // rl_time_constant = "1 ms": the coil current's settling
};

// [receive] (shared) and [[receive.channel]]: the receive chain, u_c = -sensitivity . d(mu)/dt.
// The ADC sees lna_gain * u_c.
struct ReceiveChannelDescription {
  std::string name;                          // "rx_x"
  Vec3 axis{1.0, 0.0, 0.0};                  // direction of the coil's sensitivity
  double coil_sensitivity_t_per_a = 1.5e-3;  // coil_sensitivity = "1.5 mT/A" (reciprocity: field per unit current)
  double lna_gain = 50.0;                    // lna_gain = 50 (V/V)
  double feedthrough_v_s_per_t = 0.0;        // feedthrough = "1e-6 V*s/T": u = -k d(B_drive . axis)/dt
  double noise_density_v_per_sqrt_hz = 0.0;  // noise_density = "2 nV/sqrtHz" at the coil
  double fundamental_suppression_db = 0.0;   // analog_suppression = "40 dB": notch at the drive frequency on this axis
};

struct ReceiveDescription {
  double sample_rate_hz = 2.5e6;             // sample_rate = "2.5 MHz": must equal dac_clock / adc_decimation
  std::uint32_t adc_bits = 16;               // 12..16: codes are int16 with the low (16 - bits) bits zero
  double adc_full_scale_v = 1.0;             // adc_full_scale = "1 V": input at code 32767
  std::vector<ReceiveChannelDescription> channels;
};

// [[temperature_sensor]]: a sensor on a coil; `coil` names a drive or offset channel.
struct TemperatureSensorDescription {
  std::string name;                          // "coil_x"
  std::string coil;                          // "x"
  double limit_k = 353.15;                   // limit = "80 degC": above it the logic reports over-temperature
};

// [safety] (including the interlock's state when the scanner starts: interlock_closed = true).
struct SafetyDescription {
  double ambient_temperature_k = 295.15;     // ambient = "22 degC"
  double ramp_time_s = 10e-3;                // ramp_time = "10 ms": ramp-down time of every output
  double watchdog_timeout_s = 0.1;           // watchdog_timeout = "100 ms"
  double max_field_t = 40e-3;                // hard_field_cap = "40 mT": no drive channel exceeds it
  bool interlock_closed_at_start = true;     // interlock_closed = true (the plant's interlock input at start)
};

// [[sequence]]: a named drive pattern the scanner offers (1D, 2D, 3D Lissajous, x-space, relaxometry).
// A channel is enabled in the sequence when its amplitude is above zero; at least one is.
struct SequenceDescription {
  std::string name;                          // "lissajous_2d"
  std::vector<double> drive_amplitude_t;     // drive_amplitude = { x = "12 mT", y = "12 mT" } -> per [[drive]], 0 if absent
  std::uint32_t periods_per_frame = 1;       // drive cycles (lcm of the enabled dividers, in base-clock ticks) per frame
  // Focus/bias stepping (x-space patches or a relaxometry bias sweep): per [[offset]] channel, the
  // field of each step, written as a list (offset_steps = { focus_x = ["-9 mT", "-3 mT", ...] }) or as an
  // evenly spaced range (offset_steps = { bias = { from = "-45 mT", to = "45 mT", count = 61 } });
  // steps last step_periods drive cycles (step_periods = 50).
  // offset_steps_t is empty if the sequence does not step; otherwise it has one entry per [[offset]]
  // channel, all of the same length (the number of steps), channels not named holding 0 T in every step.
  std::vector<std::vector<double>> offset_steps_t;  // [offset channel][step]
  std::uint32_t step_periods = 0;
  [[nodiscard]] std::size_t step_count() const noexcept {
    return offset_steps_t.empty() ? 0 : offset_steps_t.front().size();
  }
};

struct ScannerDescription {
  std::string name;                          // [scanner] name
  std::string manufacturer;                  // [scanner] manufacturer
  BoardDescription board;
  std::vector<DriveChannelDescription> drive;
  SelectionDescription selection;
  std::vector<OffsetChannelDescription> offset;
  ReceiveDescription receive;
  std::vector<TemperatureSensorDescription> temperature_sensors;
  SafetyDescription safety;
  std::vector<SequenceDescription> sequences;

  // ADC channels: receive channels first, then one reference pickup per drive channel.
  [[nodiscard]] std::uint32_t adc_channels() const noexcept {
    return static_cast<std::uint32_t>(receive.channels.size() + drive.size());
  }
  // Samples per drive cycle of a sequence: lcm of the dividers of its enabled channels, in ADC samples
  // (base clock ticks converted at sample_rate / base_clock). Throws ConfigError if not a whole number.
  // Channels with different base clocks are allowed: the cycle is the shortest time in which every enabled
  // channel completes a whole number of periods.
  [[nodiscard]] std::uint64_t samples_per_cycle(const SequenceDescription& sequence) const;
  // samples_per_cycle * periods_per_frame.
  [[nodiscard]] std::uint64_t samples_per_frame(const SequenceDescription& sequence) const;
  [[nodiscard]] const SequenceDescription* find_sequence(std::string_view name) const noexcept;
  // Index of the drive / offset channel of that name, or -1.
  [[nodiscard]] int find_drive_channel(std::string_view name) const noexcept;
  [[nodiscard]] int find_offset_channel(std::string_view name) const noexcept;
};

// Parses and validates a scanner description; `source` names it in messages. Throws ConfigError.
// Tables: [scanner] name, manufacturer; [board]; [[drive]]; [selection] topology = "ffp" | "ffl" | "mps";
// [[offset]]; [receive] with [[receive.channel]]; [[temperature_sensor]]; [safety]; [[sequence]].
// Limits of the board: at most 4 drive and 4 offset channels, 8 ADC channels (receive channels plus one
// reference pickup per drive channel) and 8 temperature sensors.
ScannerDescription parse_scanner_description(std::string_view toml_text, const std::string& source);
ScannerDescription load_scanner_description(const std::filesystem::path& file);

}  // namespace mpi::config
