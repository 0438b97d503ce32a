// The plant's physics: drive and offset fields on the half-sample grid, the particles' equilibrium and
// Debye response, the receive chain and the ADC, and the pattern cache that replays periodic fields.
#include "mpi/hil/plant.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <span>

namespace mpi::hil {

using namespace drivers::regmap;

namespace {
constexpr double kSettleTolerance = 1e-10;   // lags within this (relative) of their targets count as settled
constexpr double kPhaseTolerance = 1e-7;     // turns
constexpr std::uint64_t kMinCheckPeriod = 256;
constexpr double kTwo48 = 281474976710656.0;
}  // namespace

std::uint64_t Plant::half_phase(const Drive& drive, unsigned k, std::int64_t m) const noexcept {
  const DdsComponent& c = drive.dds[k];
  const auto half_samples = static_cast<std::uint64_t>(m - 2 * static_cast<std::int64_t>(s_sync_));
  return half_sample_phase(c.offset, c.increment * decimation_, half_samples);
}

double Plant::awg_at(const Drive& drive, std::uint64_t phase49) const noexcept {
  const double position = std::ldexp(static_cast<double>(phase49 & kHalfPhaseMask), -static_cast<int>(kHalfPhaseBits)) * drive.awg_points;
  auto i = static_cast<std::uint32_t>(position);
  if (i >= drive.awg_points) i = drive.awg_points - 1;
  const double f = position - i;
  return drive.awg[i] + f * (drive.awg[i + 1] - drive.awg[i]);
}

double Plant::analog_output(const Drive& dr, std::int64_t m) const noexcept {
  double v = dr.lag[kDcLag];
  for (unsigned k = 0; k < kDdsComponents; ++k) {
    if (dr.lag[k] != 0.0) v += dr.lag[k] * sine_(half_phase(dr, k, m) + dr.theta49);
  }
  if (dr.awg_points > 0 && dr.lag[kAwgLag] != 0.0) v += dr.lag[kAwgLag] * awg_at(dr, half_phase(dr, 0, m) + dr.theta49);
  const double limit = dr.dac_limit / static_cast<double>(kDacFullScale);
  return std::clamp(v, -limit, limit);
}

double Plant::amplifier_harmonics(const Drive& dr, std::int64_t m) const noexcept {
  double v = 0.0;
  for (unsigned k = 0; k < kDdsComponents; ++k) {
    if (dr.lag[k] == 0.0) continue;
    const std::uint64_t phase = half_phase(dr, k, m) + dr.theta49;
    double sum = 0.0;
    for (std::size_t i = 0; i < dr.distortion.size(); ++i) {
      // h * phase mod 2^49 is exact in unsigned arithmetic (2^49 divides 2^64); the table ignores the high bits.
      sum += dr.distortion[i] * sine_(static_cast<std::uint64_t>(i + 2) * phase);
    }
    v += dr.lag[k] * sum;
  }
  return v;
}

bool Plant::may_clamp(const Drive& dr, double ramp_factor) const noexcept {
  double peak = 0.0;
  for (const DdsComponent& c : dr.dds) peak += c.amplitude;
  peak += dr.awg_points > 0 ? dr.awg_amplitude * dr.awg_max_abs : 0.0;
  const double bound = ramp_factor * peak / kAmplitudeFullScale + std::abs(dr.dc) / static_cast<double>(kDacFullScale);
  return dr.enabled && bound > dr.dac_limit / static_cast<double>(kDacFullScale);
}

bool Plant::logic_clamps(const Drive& dr, std::uint64_t n) const noexcept {
  // The register map's out(n) before clamping, at the sample instant, without the analog chain.
  const double s = dr.ramp.factor(static_cast<double>(n)) * (step_enable_ ? 1.0 : 0.0);
  const auto m = static_cast<std::int64_t>(2 * n);
  double v = 0.0;
  for (unsigned k = 0; k < kDdsComponents; ++k) {
    if (dr.dds[k].amplitude != 0) v += dr.dds[k].amplitude / static_cast<double>(kAmplitudeFullScale) * sine_(half_phase(dr, k, m));
  }
  if (dr.awg_points > 0) {
    const auto index = static_cast<std::uint32_t>(std::ldexp(static_cast<double>(half_phase(dr, 0, m)), -static_cast<int>(kHalfPhaseBits)) * dr.awg_points);
    v += dr.awg_amplitude / static_cast<double>(kAmplitudeFullScale) * dr.awg[std::min(index, dr.awg_points - 1)];
  }
  v = s * v + dr.dc / static_cast<double>(kDacFullScale);
  return std::abs(v) > dr.dac_limit / static_cast<double>(kDacFullScale);
}

void Plant::compute_targets(std::int64_t m) noexcept {
  const double t = 0.5 * static_cast<double>(m);
  for (Drive& dr : drives_) {
    const bool gate = dr.enabled && dr.amplifier && !dr.dropout;
    const double s = gate ? dr.ramp.factor(t) * (step_enable_ ? 1.0 : 0.0) : 0.0;
    for (unsigned k = 0; k < kDdsComponents; ++k) dr.target[k] = s * dr.dds[k].amplitude / static_cast<double>(kAmplitudeFullScale);
    dr.target[kAwgLag] = dr.awg_points > 0 ? s * dr.awg_amplitude / static_cast<double>(kAmplitudeFullScale) : 0.0;
    dr.target[kDcLag] = gate ? dr.dc / static_cast<double>(kDacFullScale) : 0.0;
  }
}

void Plant::advance_lags(std::int64_t m) noexcept {
  std::array<std::array<double, kLags>, kMaxDriveChannels> before{};
  for (unsigned d = 0; d < drive_count_; ++d) before[d] = drives_[d].target;
  compute_targets(m);
  for (unsigned d = 0; d < drive_count_; ++d) {
    Drive& dr = drives_[d];
    for (unsigned j = 0; j < kLags; ++j) dr.lag[j] = dr.lag_step(dr.lag[j], before[d][j], dr.target[j]);
  }
  for (Offset& off : offsets_) {
    off.field_t = off.lag_step(off.field_t, off.last_target_t, off.target_t);
    off.last_target_t = off.target_t;
  }
}

void Plant::snap_lags() noexcept {
  for (Drive& dr : drives_) dr.lag = dr.target;
  for (Offset& off : offsets_) {
    off.field_t = off.target_t;
    off.last_target_t = off.target_t;
  }
}

void Plant::evaluate_point(std::int64_t m, Eigen::Vector3d* eq, Eigen::Vector3d& drive_vec, Eigen::Vector3d& total,
                           double* scalars) const noexcept {
  drive_vec.setZero();
  for (unsigned d = 0; d < drive_count_; ++d) {
    const Drive& dr = drives_[d];
    double out = analog_output(dr, m);
    if (!dr.distortion.empty()) out += amplifier_harmonics(dr, m);
    const double b = dr.tesla_per_full_scale * dr.gain * out;
    scalars[d] = b;
    drive_vec += b * dr.axis;
  }
  total = drive_vec;
  for (const Offset& off : offsets_) total += off.field_t * off.axis;
  model_->equilibrium_moments(total, std::span<Eigen::Vector3d>(eq, modes_));
}

void Plant::start_fresh() noexcept {
  // Half a sample before the trigger, everything in its steady state.
  compute_targets(-1);
  snap_lags();
  Eigen::Vector3d total;
  evaluate_point(-1, eq_prev_.data(), drive_prev_, total, scratch_scalar_.data());
  mu_prev_ = eq_prev_;
}

void Plant::invalidate() noexcept { cached_ = false; }

// --- direct path ---

void Plant::run_direct(std::uint64_t p, std::uint64_t count, bool write) noexcept {
  Eigen::Vector3d* eq_even = scratch_eq_.data();
  Eigen::Vector3d* eq_odd = scratch_eq_.data() + modes_;
  double* scalars_even = scratch_scalar_.data();
  double* scalars_odd = scratch_scalar_.data() + drive_count_;
  Eigen::Vector3d drive_even;
  Eigen::Vector3d drive_odd;
  Eigen::Vector3d total_even;
  Eigen::Vector3d total_odd;
  for (std::uint64_t n = p; n < p + count; ++n) {
    const auto m = static_cast<std::int64_t>(2 * n);
    advance_lags(m);
    evaluate_point(m, eq_even, drive_even, total_even, scalars_even);
    for (Drive& dr : drives_) {
      if ((dr.status & kDriveClamped) == 0 && may_clamp(dr, dr.ramp.factor(static_cast<double>(n))) && logic_clamps(dr, n)) {
        dr.status |= kDriveClamped;
      }
    }
    advance_lags(m + 1);
    evaluate_point(m + 1, eq_odd, drive_odd, total_odd, scalars_odd);
    emit(n, eq_even, eq_odd, drive_odd, scalars_even, total_even, write);
    phys_ = n + 1;
  }
  stats_.direct_samples += count;
}

// --- pattern cache ---

bool Plant::settled() const noexcept {
  // Targets from the present state at the next point, without touching the lags.
  const double t = static_cast<double>(phys_);
  for (const Drive& dr : drives_) {
    if (!dr.ramp.settled_from(t - 0.5)) return false;
    const bool gate = dr.enabled && dr.amplifier && !dr.dropout;
    const double s = gate ? dr.ramp.factor(t) * (step_enable_ ? 1.0 : 0.0) : 0.0;
    std::array<double, kLags> x{};
    for (unsigned k = 0; k < kDdsComponents; ++k) x[k] = s * dr.dds[k].amplitude / static_cast<double>(kAmplitudeFullScale);
    x[kAwgLag] = dr.awg_points > 0 ? s * dr.awg_amplitude / static_cast<double>(kAmplitudeFullScale) : 0.0;
    x[kDcLag] = gate ? dr.dc / static_cast<double>(kDacFullScale) : 0.0;
    double scale = 0.0;
    for (double v : x) scale = std::max(scale, std::abs(v));
    if (scale == 0.0) scale = 1.0;
    for (unsigned j = 0; j < kLags; ++j) {
      if (std::abs(dr.lag[j] - x[j]) > kSettleTolerance * scale || dr.target[j] != x[j]) return false;
    }
  }
  for (const Offset& off : offsets_) {
    const double scale = std::max(std::abs(off.target_t), off.tesla_per_full_scale);
    if (std::abs(off.field_t - off.target_t) > kSettleTolerance * scale || off.last_target_t != off.target_t) return false;
  }
  return true;
}

bool Plant::pattern_length(std::uint64_t& samples) const noexcept {
  std::uint64_t n = 1;
  for (const Drive& dr : drives_) {
    for (unsigned k = 0; k < kDdsComponents; ++k) {
      const bool active = dr.target[k] != 0.0 || (k == 0 && dr.target[kAwgLag] != 0.0);
      if (!active) continue;
      const std::uint64_t step = (dr.dds[k].increment * decimation_) & kPhaseMask;
      if (step == 0) continue;  // constant
      const double period = kTwo48 / static_cast<double>(step);
      const double whole = std::round(period);
      if (std::abs(period - whole) > 1e-6 || whole < 1.0) return false;
      const auto p = static_cast<std::uint64_t>(whole);
      n = std::lcm(n, p);
      if (n > options_.max_pattern_samples) return false;
    }
  }
  samples = n;
  return true;
}

bool Plant::pattern_phases_match(std::uint64_t p) const noexcept {
  const std::uint64_t j = (p - pattern_.start) % pattern_.samples;
  for (unsigned d = 0; d < drive_count_; ++d) {
    const Drive& dr = drives_[d];
    for (unsigned k = 0; k < kDdsComponents; ++k) {
      if (pattern_.active[d][k] == 0) continue;
      const std::uint64_t step = dr.dds[k].increment * decimation_;
      const std::uint64_t exact = (dr.dds[k].offset + (p - s_sync_) * step) & kPhaseMask;
      const std::uint64_t cached = (pattern_.phases[d][k] + j * step) & kPhaseMask;
      auto diff = static_cast<double>((exact - cached) & kPhaseMask);
      if (diff > 0.5 * kTwo48) diff -= kTwo48;
      if (std::abs(diff) / kTwo48 > kPhaseTolerance) return false;
    }
  }
  return true;
}

void Plant::try_build(std::uint64_t p) {
  if (!options_.caching || options_.counter_pattern || cached_ || !settled()) return;
  std::uint64_t samples = 0;
  if (!pattern_length(samples)) return;
  build_pattern(p, samples);
}

void Plant::build_pattern(std::uint64_t p, std::uint64_t samples) {
  const auto started = std::chrono::steady_clock::now();
  compute_targets(static_cast<std::int64_t>(2 * p));
  snap_lags();
  Pattern& pat = pattern_;
  pat.start = p;
  pat.samples = samples;
  pat.check_period = samples * ((kMinCheckPeriod + samples - 1) / samples);
  pat.eq.resize(2 * samples * modes_);
  pat.drive.resize(2 * samples);
  pat.scalar.resize(samples * drive_count_);
  pat.total.resize(options_.record ? samples : 0);
  pat.phases.assign(drive_count_, {});
  pat.active.assign(drive_count_, {});
  pat.gain.assign(drive_count_, 1.0);
  pat.phase_rad.assign(drive_count_, 0.0);
  pat.clamps.assign(drive_count_, 0);
  std::vector<double> scalars(drive_count_);
  Eigen::Vector3d total;
  for (std::uint64_t j = 0; j < samples; ++j) {
    const auto m = static_cast<std::int64_t>(2 * (p + j));
    evaluate_point(m, &pat.eq[2 * j * modes_], pat.drive[2 * j], total, &pat.scalar[j * drive_count_]);
    if (options_.record) pat.total[j] = total;
    evaluate_point(m + 1, &pat.eq[(2 * j + 1) * modes_], pat.drive[2 * j + 1], total, scalars.data());
  }
  for (unsigned d = 0; d < drive_count_; ++d) {
    const Drive& dr = drives_[d];
    for (unsigned k = 0; k < kDdsComponents; ++k) {
      pat.phases[d][k] = (dr.dds[k].offset + (p - s_sync_) * dr.dds[k].increment * decimation_) & kPhaseMask;
      pat.active[d][k] = (dr.target[k] != 0.0 || (k == 0 && dr.target[kAwgLag] != 0.0)) ? 1 : 0;
    }
    pat.gain[d] = dr.gain;
    pat.phase_rad[d] = dr.phase_rad;
    if (may_clamp(dr, dr.ramp.factor(static_cast<double>(p)))) {
      for (std::uint64_t j = 0; j < samples && pat.clamps[d] == 0; ++j) pat.clamps[d] = logic_clamps(dr, p + j) ? 1 : 0;
    }
  }
  cached_ = true;
  ++stats_.pattern_builds;
  stats_.pattern_samples = samples;
  stats_.build_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

void Plant::run_cached(std::uint64_t p, std::uint64_t count, bool write) noexcept {
  const Pattern& pat = pattern_;
  for (unsigned d = 0; d < drive_count_; ++d) {
    if (pat.clamps[d] != 0) drives_[d].status |= kDriveClamped;
  }
  const Eigen::Vector3d zero = Eigen::Vector3d::Zero();
  std::uint64_t j = (p - pat.start) % pat.samples;
  for (std::uint64_t n = p; n < p + count; ++n) {
    const Eigen::Vector3d* eq = &pat.eq[2 * j * modes_];
    emit(n, eq, eq + modes_, pat.drive[2 * j + 1], &pat.scalar[j * drive_count_], options_.record ? pat.total[j] : zero, write);
    if (++j == pat.samples) j = 0;
  }
  phys_ = p + count;
  stats_.cached_samples += count;
}

// --- receive chain and ADC ---

std::int16_t Plant::adc(double volts, unsigned channel) noexcept {
  double code = std::round(volts * adc_codes_per_v_);
  if (code > 32767.0 || code < -32768.0) {
    code = std::clamp(code, -32768.0, 32767.0);
    adc_overrange_ |= 1U << channel;
    latched_ |= kAdcOverrangeAny;
  }
  return static_cast<std::int16_t>(static_cast<std::int32_t>(code) & adc_clear_mask_);
}

void Plant::emit(std::uint64_t p, const Eigen::Vector3d* eq_even, const Eigen::Vector3d* eq_odd, const Eigen::Vector3d& drive_odd,
                 const double* scalars_even, const Eigen::Vector3d& total_even, bool write) noexcept {
  if (trace_) trace_sample(p, scalars_even);
  Eigen::Vector3d dmu = Eigen::Vector3d::Zero();
  for (std::size_t i = 0; i < modes_; ++i) {
    const recon::DebyeStep& debye = debye_[i];
    const Eigen::Vector3d mu_even = debye(mu_prev_[i], eq_prev_[i], eq_even[i]);
    const Eigen::Vector3d mu_odd = debye(mu_even, eq_even[i], eq_odd[i]);
    dmu += mu_odd - mu_prev_[i];
    mu_prev_[i] = mu_odd;
    eq_prev_[i] = eq_odd[i];
  }
  const Eigen::Vector3d db = drive_odd - drive_prev_;
  drive_prev_ = drive_odd;
  const double saturation = 2.0 * config_.scanner.receive.adc_full_scale_v;
  for (unsigned c = 0; c < receive_count_; ++c) {
    Receive& rc = receives_[c];
    double u = rc.notch(rc.moment_to_v * rc.axis.dot(dmu) + rc.field_to_v * rc.axis.dot(db));
    if (!write) continue;  // the ADC lost this sample (the analog chain ran on)
    if (rc.noise_sigma_v > 0.0) u += rc.noise_sigma_v * noise_.next();
    double v = u * rc.lna_gain;
    if (p < saturation_end_[c]) v += saturation;
    inputs_[c] = v;
    frame_[c] = adc(v, c);
  }
  if (!write) {
    ++slip_;
    return;
  }
  for (unsigned d = 0; d < drive_count_; ++d) {
    const unsigned c = receive_count_ + d;
    double v = reference_v_per_t_[d] * scalars_even[d];
    if (p < saturation_end_[c]) v += saturation;
    inputs_[c] = v;
    frame_[c] = adc(v, c);
  }
  const std::uint64_t w = p - slip_;
  std::int16_t* frame = ring_ + (w & ring_mask_) * channels_;
  for (unsigned c = 0; c < channels_; ++c) frame[c] = c < receive_count_ + drive_count_ ? frame_[c] : std::int16_t{0};
  if (!stuck_) regs_.write64(kWritePointer, w + 1);
  if (options_.record) {
    recorded_fields_.push_back(total_even);
    recorded_inputs_.insert(recorded_inputs_.end(), inputs_.begin(), inputs_.end());
  }
}

// --- field trace ---

void Plant::trace_sample(std::uint64_t p, const double* scalars) noexcept {
  std::array<double, kMaxOffsetChannels> offset{};
  for (unsigned o = 0; o < offset_count_; ++o) offset[o] = offsets_[o].field_t;
  if (trace_->add(p, scalars, offset.data())) close_trace_block(p);
}

void Plant::close_field_trace_block() noexcept {
  if (trace_ && running_ && phys_ > 0) close_trace_block(phys_ - 1);
}

void Plant::close_trace_block(std::uint64_t last) noexcept {
  std::array<double, kMaxDriveChannels> factors{};
  for (unsigned d = 0; d < drive_count_; ++d) factors[d] = drives_[d].ramp.factor(static_cast<double>(last));
  trace_->close_block(factors.data());
}

}  // namespace mpi::hil
