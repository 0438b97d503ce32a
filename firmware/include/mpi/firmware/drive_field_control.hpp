// Continuous drive-field control (REFERENCE.md section 4): demodulate each drive channel's reference
// pickup over a block of whole drive periods, compare the complex field with the target, and update the
// DAC amplitude and phase of every channel so that the field converges on target in a few updates and
// tracks slow (thermal) drift without stopping acquisition.
//
// Conventions. A drive channel plays a(t) = A sin(2 pi f t + phi) with A = Amplitude / 65535 (fraction of
// DAC full scale) and phi = 2 pi PhaseOffset / 2^48 (register_map.hpp); its DAC complex amplitude is
// u = A e^{i phi}. A field b(t) = B sin(2 pi f t + psi) has the complex amplitude B e^{i psi} (tesla).
// Time (and every phase) counts from the trigger: sample n sits at n / sample_rate.
//
// Tones. Channels whose frequencies are equal share a tone; there are at most 3 tones. At tone j the
// fields of the reference pickups are M_j = H_j u_j, with u_j the vector of the DAC components that play
// tone j on every channel and H_j a 3x3 complex transfer (tesla per full scale). Its diagonal is the
// channel's own coil (nominally tesla_per_full_scale e^{i nominal_phase}); its off-diagonal entries are
// the cross-talk between coils. Without decoupling each channel plays only its own tone (DDS component
// 0) and the controller estimates only the diagonal. With decoupling, channel d also plays every other
// tone (components 1, 2 in ascending tone order) to cancel the field that the other coils induce on its
// axis at their frequencies: the target at tone j is the channel's target on the channels of that tone
// and zero on the others, and the controller solves H_j u_j = T_j.
//
// Update. The estimate of H_j starts from the nominal calibration and after every measurement gets the
// smallest correction, row by row, that reproduces the measured field for the DAC vector that was played
// (a secant update restricted to the entries that can couple). Without cross-talk this is the exact
// complex gain after one update; with it the error shrinks superlinearly. The new DAC vector is
// u + damping (H^-1 T - u).
//
// Safety, each a verdict (never an exception); on any verdict but `ok` the DAC stays as it was:
// - bad_block: the block does not hold block_frames frames of adc_channels samples.
// - field_cap: a target, a measured field or the field predicted for the new DAC exceeds the cap
//   (the smaller of the hard field cap and the coil's max_amplitude; peak = sum over the tones).
// - slew_limit: 2 pi f A (summed over the tones) of a target or of the predicted field exceeds max_slew.
// - dac_limit: the new DAC peak (sum of the component amplitudes) exceeds dac_peak_limit.
// - dead_amplifier / implausible: the measured amplitude at the channel's own tone differs from the one
//   the nominal calibration expects for the DAC played by more than
//   min(plausibility_relative |E|, plausibility_absolute_t); dead_amplifier when it is below half of |E|.
// - diverging: the control error (largest |M - T| / |target| over the channels) grew for
//   divergence_updates consecutive updates while above the tolerance.
//
// Hot path. update(), set_target() and the accessors are noexcept and allocate nothing; the
// demodulation tables (one period of each tone, exact for whole periods) are sized at construction.
#pragma once

#include "mpi/config/scanner_description.hpp"

#include <array>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mpi::firmware {

inline constexpr std::size_t kMaxControlledChannels = 3;
inline constexpr std::size_t kMaxControlTones = 3;

using Complex = std::complex<double>;

enum class ControlVerdict : std::uint8_t {
  ok = 0,
  bad_block,
  field_cap,
  slew_limit,
  dac_limit,
  dead_amplifier,
  implausible,
  diverging,
  bad_channel,  // set_target on a channel that is not controlled, or a negative / non-finite target
};

[[nodiscard]] std::string_view to_string(ControlVerdict verdict) noexcept;

struct DriveControlChannelConfig {
  double frequency_hz = 0.0;
  double nominal_tesla_per_full_scale = 0.0;  // |H_dd| from the calibration
  double nominal_phase_rad = 0.0;             // arg H_dd: field phase minus DAC phase
  double reference_v_per_t = 0.0;             // the reference pickup's output per field
  double max_amplitude_t = 0.0;               // the coil's limit (0 = only the hard cap)
  double max_slew_t_per_s = 0.0;              // peak dB/dt the coil takes (0 = no limit)
  double dac_peak_limit = 1.0;                // largest DAC peak, fraction of full scale (0..1]
};

struct DriveControlConfig {
  double sample_rate_hz = 0.0;
  std::uint32_t adc_channels = 0;      // samples per ADC frame
  std::uint32_t receive_channels = 0;  // the pickup of drive channel d is ADC channel receive_channels + d
  std::uint32_t block_frames = 0;      // frames per update: a whole number of periods of every channel
  double adc_full_scale_v = 1.0;       // input at code 32767
  std::vector<DriveControlChannelConfig> channels;  // 1..kMaxControlledChannels
  bool decouple = false;               // estimate and cancel the cross-talk between channels
  double damping = 1.0;                // (0, 1]: fraction of the computed correction applied per update
  double hard_field_cap_t = 40e-3;
  double plausibility_relative = 0.2;
  double plausibility_absolute_t = 5e-3;
  std::uint32_t divergence_updates = 3;
  double amplitude_tolerance = 1e-3;          // relative; "within bounds" and the divergence floor
  double phase_tolerance_rad = 1.7453292519943295e-3;  // 0.1 degree
};

// The controller's configuration for the first `channel_count` drive channels of a scanner description
// (calibration, limits, ADC layout, hard field cap). Throws std::invalid_argument naming the channel.
[[nodiscard]] DriveControlConfig drive_control_config(const config::ScannerDescription& scanner,
                                                      std::size_t channel_count, std::uint32_t block_frames);

// One DDS component as the registers take it, with the value it stands for.
struct DacComponent {
  std::uint32_t amplitude_code = 0;  // 0..kAmplitudeFullScale
  std::uint64_t phase_offset = 0;    // 48-bit phase, units of 2^-48 turn
  double frequency_hz = 0.0;         // the tone it plays
  [[nodiscard]] Complex value() const noexcept;  // amplitude_code / 65535 * e^{i 2 pi phase_offset / 2^48}
};

struct ChannelControlReport {
  DacComponent applied{};              // component 0 (own tone) after the update
  double measured_amplitude_t = 0.0;   // at the channel's own tone, from the block
  double measured_phase_rad = 0.0;     // (-pi, pi]
  double amplitude_error = 0.0;        // measured / target - 1 (0 without a target)
  double phase_error_rad = 0.0;        // measured - target, wrapped to (-pi, pi]
  ControlVerdict verdict = ControlVerdict::ok;
  [[nodiscard]] bool within_tolerance(double amplitude_tolerance, double phase_tolerance_rad) const noexcept;
};

struct ControlReport {
  std::uint64_t first_sample = 0;                // of the block measured
  std::uint32_t update_index = 0;                // updates so far, this one included
  std::array<ChannelControlReport, kMaxControlledChannels> channels{};
  std::size_t channel_count = 0;
  double control_error = 0.0;                    // max |M - T| / |target| over channels and tones
  ControlVerdict verdict = ControlVerdict::ok;   // the first verdict that is not ok (by channel)
  bool applied = false;                          // the DAC changed
  [[nodiscard]] bool within_tolerance(double amplitude_tolerance, double phase_tolerance_rad) const noexcept;
};

class DriveFieldControl {
 public:
  // Validates the configuration and sizes the demodulation tables. Throws std::invalid_argument with a
  // message that names the setting (and channel) at fault.
  explicit DriveFieldControl(DriveControlConfig config);

  // Sets the target field (amplitude and phase at the channel's frequency) of one channel and computes
  // the feed-forward DAC from the present estimate. Refuses (verdict, nothing changes) a target above
  // the field cap or the slew limit, or whose DAC would exceed the DAC peak limit.
  [[nodiscard]] ControlVerdict set_target(std::size_t channel, double amplitude_t, double phase_rad) noexcept;

  // Demodulates the pickups of one block (block_frames interleaved int16 frames, whose first frame is
  // sample `first_sample` since the trigger, played with the present DAC) and updates the DAC.
  const ControlReport& update(std::span<const std::int16_t> frames, std::uint64_t first_sample) noexcept;

  // The complex field (tesla) of each pickup at each tone, without changing anything.
  // Returns false (and leaves `out` untouched) for a block of the wrong size.
  bool demodulate(std::span<const std::int16_t> frames, std::uint64_t first_sample,
                  std::array<std::array<Complex, kMaxControlledChannels>, kMaxControlTones>& out) const noexcept;

  [[nodiscard]] std::size_t channel_count() const noexcept { return channel_count_; }
  [[nodiscard]] std::size_t tone_count() const noexcept { return tone_count_; }
  [[nodiscard]] std::size_t tone_of_channel(std::size_t channel) const noexcept { return own_tone_[channel]; }
  // DDS components a channel plays: 1 without decoupling, tone_count() with it.
  [[nodiscard]] std::size_t component_count() const noexcept;
  // Component k of a channel (k = 0: its own tone). Write it to the channel's DDS component k.
  [[nodiscard]] const DacComponent& dac(std::size_t channel, std::size_t component) const noexcept;
  // Present estimate of the transfer at tone j (tesla per full scale): field at pickup row per DAC column.
  [[nodiscard]] Complex transfer(std::size_t tone, std::size_t row, std::size_t column) const noexcept;
  [[nodiscard]] const ControlReport& last_report() const noexcept { return report_; }
  [[nodiscard]] const DriveControlConfig& config() const noexcept { return config_; }

  // Forgets the learned transfer (back to the nominal calibration) and the divergence history.
  void reset_estimate() noexcept;

 private:
  using Matrix = std::array<std::array<Complex, kMaxControlledChannels>, kMaxControlledChannels>;
  using Vector = std::array<Complex, kMaxControlledChannels>;
  using ToneVectors = std::array<Vector, kMaxControlTones>;

  struct ToneTable {
    double frequency_hz = 0.0;
    std::vector<double> sin;  // one exact period: L samples holding p cycles
    std::vector<double> cos;
  };

  [[nodiscard]] bool couples(std::size_t tone, std::size_t row, std::size_t column) const noexcept;
  [[nodiscard]] double field_cap(std::size_t channel) const noexcept;
  [[nodiscard]] ToneVectors targets() const noexcept;
  [[nodiscard]] ToneVectors solve_dac(const ToneVectors& target) const noexcept;
  [[nodiscard]] ControlVerdict check_limits(const ToneVectors& dac, std::size_t& channel) const noexcept;
  void apply(const ToneVectors& dac) noexcept;

  DriveControlConfig config_;
  std::size_t channel_count_ = 0;
  std::size_t tone_count_ = 0;
  std::array<std::size_t, kMaxControlledChannels> own_tone_{};
  std::array<ToneTable, kMaxControlTones> tables_{};
  std::array<Matrix, kMaxControlTones> nominal_{};
  std::array<Matrix, kMaxControlTones> estimate_{};
  ToneVectors dac_{};                                       // [tone][channel], as played (quantised)
  std::array<std::array<DacComponent, kMaxControlTones>, kMaxControlledChannels> components_{};
  std::array<std::array<std::size_t, kMaxControlTones>, kMaxControlledChannels> component_tone_{};
  std::array<double, kMaxControlledChannels> target_amplitude_{};
  std::array<double, kMaxControlledChannels> target_phase_{};
  double previous_error_ = -1.0;
  std::uint32_t growth_count_ = 0;
  std::uint32_t updates_ = 0;
  ControlReport report_{};
};

}  // namespace mpi::firmware
