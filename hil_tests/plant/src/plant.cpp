#include "mpi/hil/plant.hpp"

#include "mpi/drivers/shared_memory_region.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mpi::hil {

using namespace drivers::regmap;

namespace {

constexpr double kCodeFullScale = 32767.0;

// Rounds half away from zero and clips to the ADC's range.
inline std::int16_t to_code(double codes) noexcept {
  const double clipped = std::clamp(codes, -32768.0, 32767.0);
  return static_cast<std::int16_t>(clipped + (clipped >= 0.0 ? 0.5 : -0.5));
}

void check_register(const drivers::RegisterBlock& regs, std::uint32_t offset, std::uint32_t expected, const char* what) {
  const std::uint32_t actual = regs.read32(offset);
  if (actual != expected) {
    throw std::runtime_error(std::string("plant: the region's ") + what + " register reads " + std::to_string(actual) +
                             " but the scanner file says " + std::to_string(expected));
  }
}

}  // namespace

drivers::RegionGeometry region_geometry(const PlantConfig& config) noexcept {
  drivers::RegionGeometry g;
  g.dac_clock_hz = config.board.dac_clock_hz;
  g.adc_decimation = config.board.adc_decimation;
  g.adc_channels = config.board.adc_channels;
  g.ring_frames_log2 = config.board.ring_frames_log2;
  g.drive_channels = config.board.drive_channels;
  return g;
}

Plant::Plant(const PlantConfig& config, std::byte* region_base)
    : config_(config),
      regs_(region_base),
      ring_(reinterpret_cast<std::int16_t*>(region_base + kRingOffsetBytes)),  // NOLINT: DMA ring memory
      ring_mask_((std::uint64_t{1} << config.board.ring_frames_log2) - 1U),
      channels_(config.board.adc_channels),
      sample_rate_hz_(config.sample_rate_hz()),
      ensemble_(config.tracer),
      sources_(discretise(config.phantom, ensemble_, config.gradient_t_per_m)),
      table_(sources_, ensemble_, config.gradient_t_per_m, config.tesla_per_full_scale),
      receive_codes_per_v_(config.receive.lna_gain / config.receive.adc_full_scale_v * kCodeFullScale),
      reference_codes_per_v_(config.receive.reference_v_per_t / config.receive.adc_full_scale_v * kCodeFullScale),
      noise_sigma_v_(config.receive.noise_density_v_per_sqrt_hz * std::sqrt(sample_rate_hz_ / 2.0)),
      noise_(sine_) {
  if (regs_.read32(kMagic) != kMagicValue) throw std::runtime_error("plant: the region holds no register map (bad magic)");
  if (config.board.adc_channels < 2) throw std::runtime_error("plant: the board needs at least 2 ADC channels (receive coil and reference)");
  check_register(regs_, kDacClockHz, config.board.dac_clock_hz, "DAC clock");
  check_register(regs_, kAdcDecimation, config.board.adc_decimation, "ADC decimation");
  check_register(regs_, kAdcChannels, config.board.adc_channels, "ADC channel count");
  check_register(regs_, kRingFramesLog2, config.board.ring_frames_log2, "ring size");
  check_register(regs_, kDriveChannels, config.board.drive_channels, "drive channel count");
  regs_.write32(kSafetyStatus, kInterlockClosed);
  regs_.write32(kAcqStatus, 0);
}

std::uint64_t Plant::step(std::uint32_t max_frames) noexcept {
  const bool run = (regs_.read32(kAcqControl) & kAcqRun) != 0;
  if (run && !running_) trigger();
  else if (!run && running_) stop();
  regs_.write32(kAcqStatus, running_ ? kAcqRunning : 0U);
  regs_.write32(kSafetyStatus, kInterlockClosed);

  take_ramp_commands();
  const std::uint64_t generated = running_ ? generate(max_frames) : 0;

  for (unsigned ch = 0; ch < config_.board.drive_channels; ++ch) {
    regs_.write32(drive_register(ch, kDriveRampFactor), ramps_[ch].factor_q16(sample_));
  }
  return generated;
}

void Plant::trigger() noexcept {
  running_ = true;
  fresh_ = true;
  sample_ = 0;
  ++triggers_;
  regs_.write64(kWritePointer, 0);
  noise_.seed(config_.seed, triggers_);
  // Ramps written while stopped start at sample 0.
  for (unsigned ch = 0; ch < config_.board.drive_channels; ++ch) {
    if (pending_[ch] == 0) continue;
    ramps_[ch].apply(static_cast<RampCommand>(pending_[ch]), 0, regs_.read32(drive_register(ch, kDriveRampSamples)));
    regs_.write64(drive_register(ch, kDriveRampEventSample), 0);
    pending_[ch] = 0;
  }
}

void Plant::stop() noexcept {
  running_ = false;
  for (unsigned ch = 0; ch < config_.board.drive_channels; ++ch) ramps_[ch].stop_at(sample_);
}

void Plant::take_ramp_commands() noexcept {
  for (unsigned ch = 0; ch < config_.board.drive_channels; ++ch) {
    const std::uint32_t command = regs_.take32(drive_register(ch, kDriveRampCommand));
    if (command != static_cast<std::uint32_t>(RampCommand::up) && command != static_cast<std::uint32_t>(RampCommand::down)) continue;
    if (!running_) {
      pending_[ch] = command;
      continue;
    }
    ramps_[ch].apply(static_cast<RampCommand>(command), sample_, regs_.read32(drive_register(ch, kDriveRampSamples)));
    regs_.write64(drive_register(ch, kDriveRampEventSample), sample_);
  }
}

std::uint64_t Plant::generate(std::uint32_t max_frames) noexcept {
  // Drive channel 0 plays the x coil.
  const std::uint64_t increment = regs_.read64(drive_register(0, kDrivePhaseIncrement)) & kPhaseMask;
  const std::uint64_t offset = regs_.read64(drive_register(0, kDrivePhaseOffset)) & kPhaseMask;
  const std::uint32_t amplitude = std::min(regs_.read32(drive_register(0, kDriveAmplitude)), kAmplitudeFullScale);
  const bool enabled = (regs_.read32(drive_register(0, kDriveControl)) & kDriveEnable) != 0;
  const std::uint64_t step_per_sample = increment * config_.board.adc_decimation;
  const double scale = enabled ? config_.tesla_per_full_scale * static_cast<double>(amplitude) / kAmplitudeFullScale : 0.0;

  if (fresh_) {
    // The first sample integrates from half a sample before the trigger.
    field_before_t_ = scale * ramps_[0].factor(static_cast<double>(sample_) - 0.5) *
                      sine_(half_sample_phase(offset, step_per_sample, 2 * sample_ - 1));
    moment_before_ = table_(field_before_t_);
    fresh_ = false;
  }

  const bool settled = ramps_[0].settled_from(static_cast<double>(sample_) - 0.5);
  const bool noisy = noise_sigma_v_ > 0.0;
  if (settled && noisy) generate_frames<true, true>(sample_, max_frames, scale, offset, step_per_sample);
  else if (settled) generate_frames<true, false>(sample_, max_frames, scale, offset, step_per_sample);
  else if (noisy) generate_frames<false, true>(sample_, max_frames, scale, offset, step_per_sample);
  else generate_frames<false, false>(sample_, max_frames, scale, offset, step_per_sample);
  sample_ += max_frames;
  return max_frames;
}

template <bool kSettledRamp, bool kNoisy>
void Plant::generate_frames(std::uint64_t first, std::uint32_t count, double scale, std::uint64_t offset,
                            std::uint64_t step_per_sample) noexcept {
  // Locals, so that the per-frame release store of the write pointer does not force them through memory.
  const Ramp ramp = ramps_[0];
  const double settled_scale = kSettledRamp ? scale * ramp.factor(static_cast<double>(first)) : 0.0;
  const double fs = sample_rate_hz_;
  const double moment_to_codes = -config_.receive.coil_sensitivity_t_per_a * fs * receive_codes_per_v_;
  const double field_to_codes = -config_.receive.feedthrough_v_per_t_per_s * fs * receive_codes_per_v_;
  const double noise_codes = noise_sigma_v_ * receive_codes_per_v_;
  const double reference_codes = reference_codes_per_v_;
  const std::uint32_t channels = channels_;
  const std::uint64_t mask = ring_mask_;
  std::int16_t* const ring = ring_;
  double field_before = field_before_t_;
  double moment_before = moment_before_;
  GaussianNoise noise = noise_;

  for (std::uint64_t n = first; n < first + count; ++n) {
    const auto t = static_cast<double>(n);
    const double now_scale = kSettledRamp ? settled_scale : scale * ramp.factor(t);
    const double after_scale = kSettledRamp ? settled_scale : scale * ramp.factor(t + 0.5);
    const double field_now = now_scale * sine_(half_sample_phase(offset, step_per_sample, 2 * n));
    const double field_after = after_scale * sine_(half_sample_phase(offset, step_per_sample, 2 * n + 1));
    const double moment_after = table_(field_after);
    double codes = moment_to_codes * (moment_after - moment_before) + field_to_codes * (field_after - field_before);
    if constexpr (kNoisy) codes += noise_codes * noise.next();
    std::int16_t* frame = ring + (n & mask) * channels;
    frame[0] = to_code(codes);
    frame[1] = to_code(field_now * reference_codes);
    for (std::uint32_t c = 2; c < channels; ++c) frame[c] = 0;
    field_before = field_after;
    moment_before = moment_after;
    // Published after every frame (a release store: the frame is visible before the pointer), as the
    // board's DMA does: a reader that sees the pointer at w knows that only the slot of frame
    // w - ring_frames may be being overwritten.
    regs_.write64(kWritePointer, n + 1);
  }
  field_before_t_ = field_before;
  moment_before_ = moment_before;
  noise_ = noise;
}

}  // namespace mpi::hil
