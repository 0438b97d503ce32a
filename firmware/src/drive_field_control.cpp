#include "mpi/firmware/drive_field_control.hpp"

#include "mpi/drivers/register_map.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mpi::firmware {
namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;
constexpr double kPhaseScale = 281474976710656.0;  // 2^48
constexpr double kLimitSlack = 1e-9;               // rounding room on limits a solved DAC sits on
constexpr double kMeasuredCapMargin = 0.01;        // a measured field may exceed the cap by 1 % (noise)

double wrap_phase(double phase) noexcept {
  double w = std::remainder(phase, kTwoPi);
  if (w <= -std::numbers::pi) w += kTwoPi;
  return w;
}

[[noreturn]] void refuse(const std::string& what) { throw std::invalid_argument("drive control: " + what); }

void require_positive(double value, const std::string& name) {
  if (!(value > 0.0) || !std::isfinite(value)) refuse(name + " must be positive and finite, got " + std::to_string(value));
}

DacComponent quantise(Complex u, double frequency_hz) noexcept {
  DacComponent c;
  c.frequency_hz = frequency_hz;
  const double amplitude = std::abs(u) * drivers::regmap::kAmplitudeFullScale;
  c.amplitude_code = static_cast<std::uint32_t>(
      std::clamp(std::llround(amplitude), 0LL, static_cast<long long>(drivers::regmap::kAmplitudeFullScale)));
  if (c.amplitude_code == 0) return c;
  double turns = std::arg(u) / kTwoPi;
  turns -= std::floor(turns);
  c.phase_offset = static_cast<std::uint64_t>(std::llround(turns * kPhaseScale)) & drivers::regmap::kPhaseMask;
  return c;
}

}  // namespace

std::string_view to_string(ControlVerdict verdict) noexcept {
  switch (verdict) {
    case ControlVerdict::ok: return "ok";
    case ControlVerdict::bad_block: return "bad_block";
    case ControlVerdict::field_cap: return "field_cap";
    case ControlVerdict::slew_limit: return "slew_limit";
    case ControlVerdict::dac_limit: return "dac_limit";
    case ControlVerdict::dead_amplifier: return "dead_amplifier";
    case ControlVerdict::implausible: return "implausible";
    case ControlVerdict::diverging: return "diverging";
    case ControlVerdict::bad_channel: return "bad_channel";
  }
  return "unknown";
}

Complex DacComponent::value() const noexcept {
  const double a = static_cast<double>(amplitude_code) / drivers::regmap::kAmplitudeFullScale;
  return std::polar(a, kTwoPi * static_cast<double>(phase_offset) / kPhaseScale);
}

bool ChannelControlReport::within_tolerance(double amplitude_tolerance, double phase_tolerance_rad) const noexcept {
  return verdict == ControlVerdict::ok && std::abs(amplitude_error) <= amplitude_tolerance &&
         std::abs(phase_error_rad) <= phase_tolerance_rad;
}

bool ControlReport::within_tolerance(double amplitude_tolerance, double phase_tolerance_rad) const noexcept {
  if (verdict != ControlVerdict::ok) return false;
  for (std::size_t d = 0; d < channel_count; ++d) {
    if (!channels[d].within_tolerance(amplitude_tolerance, phase_tolerance_rad)) return false;
  }
  return true;
}

DriveControlConfig drive_control_config(const config::ScannerDescription& scanner, std::size_t channel_count,
                                        std::uint32_t block_frames) {
  const std::size_t available = std::min(scanner.drive.size(), kMaxControlledChannels);
  if (channel_count == 0 || channel_count > available) {
    refuse("scanner '" + scanner.name + "': cannot control " + std::to_string(channel_count) + " drive channels (it has " +
           std::to_string(scanner.drive.size()) + ", the controller takes at most " +
           std::to_string(kMaxControlledChannels) + ")");
  }
  DriveControlConfig c;
  c.sample_rate_hz = scanner.board.sample_rate_hz();
  c.adc_channels = scanner.adc_channels();
  c.receive_channels = static_cast<std::uint32_t>(scanner.receive.channels.size());
  c.block_frames = block_frames;
  c.adc_full_scale_v = scanner.receive.adc_full_scale_v;
  c.hard_field_cap_t = scanner.safety.max_field_t;
  for (std::size_t d = 0; d < channel_count; ++d) {
    const auto& drive = scanner.drive[d];
    DriveControlChannelConfig ch;
    ch.frequency_hz = drive.frequency_hz();
    ch.nominal_tesla_per_full_scale = drive.tesla_per_full_scale();
    ch.nominal_phase_rad = drive.amplifier_phase_rad;
    ch.reference_v_per_t = drive.reference_v_per_t;
    ch.max_amplitude_t = drive.max_amplitude_t;
    ch.max_slew_t_per_s = drive.max_slew_t_per_s;
    c.channels.push_back(ch);
  }
  return c;
}

DriveFieldControl::DriveFieldControl(DriveControlConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  require_positive(c.sample_rate_hz, "sample_rate_hz");
  require_positive(c.adc_full_scale_v, "adc_full_scale_v");
  require_positive(c.hard_field_cap_t, "hard_field_cap_t");
  require_positive(c.plausibility_relative, "plausibility_relative");
  require_positive(c.plausibility_absolute_t, "plausibility_absolute_t");
  require_positive(c.amplitude_tolerance, "amplitude_tolerance");
  require_positive(c.phase_tolerance_rad, "phase_tolerance_rad");
  if (!(c.damping > 0.0 && c.damping <= 1.0)) refuse("damping must be in (0, 1], got " + std::to_string(c.damping));
  if (c.divergence_updates == 0) refuse("divergence_updates must be at least 1");
  if (c.channels.empty() || c.channels.size() > kMaxControlledChannels) {
    refuse("needs 1 to " + std::to_string(kMaxControlledChannels) + " channels, got " + std::to_string(c.channels.size()));
  }
  if (c.block_frames == 0) refuse("block_frames must be at least 1");
  channel_count_ = c.channels.size();
  if (static_cast<std::size_t>(c.receive_channels) + channel_count_ > c.adc_channels) {
    refuse("the reference pickups (ADC channels " + std::to_string(c.receive_channels) + " to " +
           std::to_string(c.receive_channels + channel_count_ - 1) + ") do not fit in " +
           std::to_string(c.adc_channels) + " ADC channels");
  }

  for (std::size_t d = 0; d < channel_count_; ++d) {
    const auto& ch = c.channels[d];
    const std::string where = "channel " + std::to_string(d) + ": ";
    require_positive(ch.frequency_hz, where + "frequency_hz");
    require_positive(ch.nominal_tesla_per_full_scale, where + "nominal_tesla_per_full_scale");
    require_positive(ch.reference_v_per_t, where + "reference_v_per_t");
    if (!std::isfinite(ch.nominal_phase_rad)) refuse(where + "nominal_phase_rad must be finite");
    if (!(ch.max_amplitude_t >= 0.0)) refuse(where + "max_amplitude_t must not be negative");
    if (!(ch.max_slew_t_per_s >= 0.0)) refuse(where + "max_slew_t_per_s must not be negative");
    if (!(ch.dac_peak_limit > 0.0 && ch.dac_peak_limit <= 1.0)) {
      refuse(where + "dac_peak_limit must be in (0, 1], got " + std::to_string(ch.dac_peak_limit));
    }
    const double cycles = ch.frequency_hz * c.block_frames / c.sample_rate_hz;
    const auto whole = std::llround(cycles);
    if (whole < 1 || std::abs(cycles - static_cast<double>(whole)) > 1e-6 * std::max(1.0, cycles)) {
      refuse(where + "a block of " + std::to_string(c.block_frames) + " frames holds " + std::to_string(cycles) +
             " periods of " + std::to_string(ch.frequency_hz) + " Hz: not a whole number");
    }
    if (2 * whole >= static_cast<long long>(c.block_frames)) {
      refuse(where + std::to_string(ch.frequency_hz) + " Hz is not below half the sample rate");
    }
    std::size_t tone = tone_count_;
    for (std::size_t j = 0; j < tone_count_; ++j) {
      if (std::abs(tables_[j].frequency_hz - ch.frequency_hz) <= 1e-9 * ch.frequency_hz) tone = j;
    }
    if (tone == tone_count_) {
      const auto block = static_cast<long long>(c.block_frames);
      const long long g = std::gcd(block, whole);
      const auto length = static_cast<std::size_t>(block / g);
      const auto periods = static_cast<double>(whole / g);  // NOLINT(bugprone-integer-division): g divides whole
      auto& t = tables_[tone];
      t.frequency_hz = ch.frequency_hz;
      t.sin.resize(length);
      t.cos.resize(length);
      for (std::size_t n = 0; n < length; ++n) {
        const double angle = kTwoPi * periods * static_cast<double>(n) / static_cast<double>(length);
        t.sin[n] = std::sin(angle);
        t.cos[n] = std::cos(angle);
      }
      ++tone_count_;
    }
    own_tone_[d] = tone;
  }

  // Component k of channel d: its own tone first, the other tones in ascending order.
  for (std::size_t d = 0; d < channel_count_; ++d) {
    component_tone_[d][0] = own_tone_[d];
    std::size_t k = 1;
    for (std::size_t j = 0; j < tone_count_; ++j) {
      if (j != own_tone_[d]) component_tone_[d][k++] = j;
    }
    for (std::size_t kk = 0; kk < kMaxControlTones; ++kk) {
      components_[d][kk].frequency_hz = tables_[component_tone_[d][std::min(kk, tone_count_ - 1)]].frequency_hz;
    }
  }
  for (std::size_t j = 0; j < tone_count_; ++j) {
    for (std::size_t d = 0; d < channel_count_; ++d) {
      const auto& ch = c.channels[d];
      nominal_[j][d][d] = std::polar(ch.nominal_tesla_per_full_scale, ch.nominal_phase_rad);
    }
  }
  estimate_ = nominal_;
  report_.channel_count = channel_count_;
}

std::size_t DriveFieldControl::component_count() const noexcept { return config_.decouple ? tone_count_ : 1; }

const DacComponent& DriveFieldControl::dac(std::size_t channel, std::size_t component) const noexcept {
  return components_[std::min(channel, channel_count_ - 1)][std::min(component, kMaxControlTones - 1)];
}

Complex DriveFieldControl::transfer(std::size_t tone, std::size_t row, std::size_t column) const noexcept {
  if (tone >= tone_count_ || row >= channel_count_ || column >= channel_count_) return {};
  return estimate_[tone][row][column];
}

void DriveFieldControl::reset_estimate() noexcept {
  estimate_ = nominal_;
  previous_error_ = -1.0;
  growth_count_ = 0;
}

bool DriveFieldControl::couples(std::size_t tone, std::size_t row, std::size_t column) const noexcept {
  if (config_.decouple) return true;
  return row == column && own_tone_[row] == tone;
}

double DriveFieldControl::field_cap(std::size_t channel) const noexcept {
  const double coil = config_.channels[channel].max_amplitude_t;
  return coil > 0.0 ? std::min(coil, config_.hard_field_cap_t) : config_.hard_field_cap_t;
}

DriveFieldControl::ToneVectors DriveFieldControl::targets() const noexcept {
  ToneVectors t{};
  for (std::size_t d = 0; d < channel_count_; ++d) t[own_tone_[d]][d] = std::polar(target_amplitude_[d], target_phase_[d]);
  return t;
}

DriveFieldControl::ToneVectors DriveFieldControl::solve_dac(const ToneVectors& target) const noexcept {
  ToneVectors u{};
  if (!config_.decouple) {
    for (std::size_t d = 0; d < channel_count_; ++d) {
      const std::size_t j = own_tone_[d];
      u[j][d] = target[j][d] / estimate_[j][d][d];
    }
    return u;
  }
  const std::size_t n = channel_count_;
  for (std::size_t j = 0; j < tone_count_; ++j) {
    Matrix a = estimate_[j];
    Vector b = target[j];
    // Gaussian elimination with partial pivoting (n <= 3).
    bool singular = false;
    for (std::size_t col = 0; col < n; ++col) {
      std::size_t pivot = col;
      for (std::size_t r = col + 1; r < n; ++r) {
        if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
      }
      if (std::abs(a[pivot][col]) == 0.0) {
        singular = true;
        break;
      }
      std::swap(a[pivot], a[col]);
      std::swap(b[pivot], b[col]);
      for (std::size_t r = col + 1; r < n; ++r) {
        const Complex f = a[r][col] / a[col][col];
        for (std::size_t k = col; k < n; ++k) a[r][k] -= f * a[col][k];
        b[r] -= f * b[col];
      }
    }
    if (singular) {
      u[j] = dac_[j];  // keep what plays; the limit check below sees no change
      continue;
    }
    for (std::size_t r = n; r-- > 0;) {
      Complex s = b[r];
      for (std::size_t k = r + 1; k < n; ++k) s -= a[r][k] * u[j][k];
      u[j][r] = s / a[r][r];
    }
  }
  return u;
}

ControlVerdict DriveFieldControl::check_limits(const ToneVectors& dac, std::size_t& channel) const noexcept {
  for (std::size_t d = 0; d < channel_count_; ++d) {
    channel = d;
    const auto& ch = config_.channels[d];
    double dac_peak = 0.0;
    double field_peak = 0.0;
    double slew = 0.0;
    for (std::size_t j = 0; j < tone_count_; ++j) {
      dac_peak += std::abs(dac[j][d]);
      Complex field{};
      for (std::size_t e = 0; e < channel_count_; ++e) {
        if (couples(j, d, e)) field += estimate_[j][d][e] * dac[j][e];
      }
      field_peak += std::abs(field);
      slew += kTwoPi * tables_[j].frequency_hz * std::abs(field);
    }
    if (!std::isfinite(dac_peak) || dac_peak > ch.dac_peak_limit * (1.0 + kLimitSlack)) return ControlVerdict::dac_limit;
    if (field_peak > field_cap(d) * (1.0 + kLimitSlack)) return ControlVerdict::field_cap;
    if (ch.max_slew_t_per_s > 0.0 && slew > ch.max_slew_t_per_s * (1.0 + kLimitSlack)) return ControlVerdict::slew_limit;
  }
  return ControlVerdict::ok;
}

void DriveFieldControl::apply(const ToneVectors& dac) noexcept {
  for (std::size_t d = 0; d < channel_count_; ++d) {
    for (std::size_t k = 0; k < kMaxControlTones; ++k) {
      if (k >= tone_count_) break;
      const std::size_t j = component_tone_[d][k];
      const bool played = k == 0 || config_.decouple;
      components_[d][k] = quantise(played ? dac[j][d] : Complex{}, tables_[j].frequency_hz);
      dac_[j][d] = components_[d][k].value();
    }
  }
}

ControlVerdict DriveFieldControl::set_target(std::size_t channel, double amplitude_t, double phase_rad) noexcept {
  if (channel >= channel_count_ || !std::isfinite(amplitude_t) || !std::isfinite(phase_rad) || amplitude_t < 0.0) {
    return ControlVerdict::bad_channel;
  }
  const auto& ch = config_.channels[channel];
  if (amplitude_t > field_cap(channel)) return ControlVerdict::field_cap;
  if (ch.max_slew_t_per_s > 0.0 && kTwoPi * ch.frequency_hz * amplitude_t > ch.max_slew_t_per_s) {
    return ControlVerdict::slew_limit;
  }
  const double old_amplitude = target_amplitude_[channel];
  const double old_phase = target_phase_[channel];
  target_amplitude_[channel] = amplitude_t;
  target_phase_[channel] = wrap_phase(phase_rad);
  const ToneVectors u = solve_dac(targets());
  std::size_t at = 0;
  const ControlVerdict v = check_limits(u, at);
  if (v != ControlVerdict::ok) {
    target_amplitude_[channel] = old_amplitude;
    target_phase_[channel] = old_phase;
    return v;
  }
  apply(u);
  previous_error_ = -1.0;
  growth_count_ = 0;
  return ControlVerdict::ok;
}

bool DriveFieldControl::demodulate(std::span<const std::int16_t> frames, std::uint64_t first_sample,
                                   std::array<std::array<Complex, kMaxControlledChannels>, kMaxControlTones>& out)
    const noexcept {
  const std::size_t width = config_.adc_channels;
  const std::size_t count = config_.block_frames;
  if (frames.size() != width * count) return false;
  const std::size_t base = config_.receive_channels;
  for (std::size_t j = 0; j < tone_count_; ++j) {
    const auto& t = tables_[j];
    const std::size_t length = t.sin.size();
    std::size_t index = static_cast<std::size_t>(first_sample % length);
    std::array<double, kMaxControlledChannels> in_phase{};    // sum x sin: A cos(phi) N / 2
    std::array<double, kMaxControlledChannels> quadrature{};  // sum x cos: A sin(phi) N / 2
    for (std::size_t n = 0; n < count; ++n) {
      const double s = t.sin[index];
      const double c = t.cos[index];
      const std::int16_t* frame = frames.data() + n * width + base;
      for (std::size_t d = 0; d < channel_count_; ++d) {
        const double x = frame[d];
        in_phase[d] += x * s;
        quadrature[d] += x * c;
      }
      if (++index == length) index = 0;
    }
    for (std::size_t d = 0; d < channel_count_; ++d) {
      const double volts_per_code = config_.adc_full_scale_v / drivers::regmap::kDacFullScale;
      const double scale = 2.0 / static_cast<double>(count) * volts_per_code / config_.channels[d].reference_v_per_t;
      out[j][d] = Complex{in_phase[d], quadrature[d]} * scale;
    }
  }
  return true;
}

const ControlReport& DriveFieldControl::update(std::span<const std::int16_t> frames,
                                               std::uint64_t first_sample) noexcept {
  ControlReport& r = report_;
  r.first_sample = first_sample;
  r.update_index = ++updates_;
  r.channel_count = channel_count_;
  r.applied = false;
  r.verdict = ControlVerdict::ok;
  r.control_error = 0.0;
  auto finish = [&](ControlVerdict verdict) -> const ControlReport& {
    r.verdict = verdict;
    for (std::size_t d = 0; d < channel_count_; ++d) {
      r.channels[d].applied = components_[d][0];
      if (r.verdict == ControlVerdict::ok && r.channels[d].verdict != ControlVerdict::ok) r.verdict = r.channels[d].verdict;
    }
    return r;
  };
  for (std::size_t d = 0; d < channel_count_; ++d) r.channels[d] = ChannelControlReport{};

  std::array<std::array<Complex, kMaxControlledChannels>, kMaxControlTones> measured{};
  if (!demodulate(frames, first_sample, measured)) return finish(ControlVerdict::bad_block);

  // Measurement, plausibility against the nominal calibration, measured field cap.
  const ToneVectors target = targets();
  bool refused = false;
  for (std::size_t d = 0; d < channel_count_; ++d) {
    auto& ch = r.channels[d];
    const std::size_t own = own_tone_[d];
    const Complex m = measured[own][d];
    ch.measured_amplitude_t = std::abs(m);
    ch.measured_phase_rad = std::arg(m);
    if (target_amplitude_[d] > 0.0) {
      ch.amplitude_error = ch.measured_amplitude_t / target_amplitude_[d] - 1.0;
      ch.phase_error_rad = wrap_phase(ch.measured_phase_rad - target_phase_[d]);
    }
    double peak = 0.0;
    for (std::size_t j = 0; j < tone_count_; ++j) peak += std::abs(measured[j][d]);
    if (peak > field_cap(d) * (1.0 + kMeasuredCapMargin)) {
      ch.verdict = ControlVerdict::field_cap;
      refused = true;
      continue;
    }
    const double expected = std::abs(nominal_[own][d][d] * dac_[own][d]);
    if (expected > 0.0) {
      const double tolerance = std::min(config_.plausibility_relative * expected, config_.plausibility_absolute_t);
      if (std::abs(ch.measured_amplitude_t - expected) > tolerance) {
        ch.verdict = ch.measured_amplitude_t < 0.5 * expected ? ControlVerdict::dead_amplifier : ControlVerdict::implausible;
        refused = true;
      }
    }
  }

  double error = 0.0;
  for (std::size_t d = 0; d < channel_count_; ++d) {
    if (!(target_amplitude_[d] > 0.0)) continue;
    for (std::size_t j = 0; j < tone_count_; ++j) {
      if (!config_.decouple && j != own_tone_[d]) continue;
      error = std::max(error, std::abs(measured[j][d] - target[j][d]) / target_amplitude_[d]);
    }
  }
  r.control_error = error;
  if (refused) return finish(ControlVerdict::ok);

  // Divergence: the error grew for divergence_updates updates in a row while above the tolerance.
  if (previous_error_ >= 0.0 && error > previous_error_ && error > config_.amplitude_tolerance) {
    ++growth_count_;
  } else {
    growth_count_ = 0;
  }
  previous_error_ = error;
  if (growth_count_ >= config_.divergence_updates) return finish(ControlVerdict::diverging);

  // Secant update of the transfer estimate, row by row over the entries that couple.
  for (std::size_t j = 0; j < tone_count_; ++j) {
    for (std::size_t d = 0; d < channel_count_; ++d) {
      double norm = 0.0;
      Complex predicted{};
      for (std::size_t e = 0; e < channel_count_; ++e) {
        if (!couples(j, d, e)) continue;
        norm += std::norm(dac_[j][e]);
        predicted += estimate_[j][d][e] * dac_[j][e];
      }
      if (!(norm > 0.0)) continue;
      const Complex residual = measured[j][d] - predicted;
      for (std::size_t e = 0; e < channel_count_; ++e) {
        if (couples(j, d, e)) estimate_[j][d][e] += residual * std::conj(dac_[j][e]) / norm;
      }
    }
  }

  const ToneVectors solved = solve_dac(target);
  ToneVectors next{};
  for (std::size_t j = 0; j < tone_count_; ++j) {
    for (std::size_t d = 0; d < channel_count_; ++d) next[j][d] = dac_[j][d] + config_.damping * (solved[j][d] - dac_[j][d]);
  }
  std::size_t at = 0;
  const ControlVerdict limit = check_limits(next, at);
  if (limit != ControlVerdict::ok) {
    r.channels[at].verdict = limit;
    return finish(ControlVerdict::ok);
  }
  apply(next);
  r.applied = true;
  return finish(ControlVerdict::ok);
}

}  // namespace mpi::firmware
