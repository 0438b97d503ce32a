#include "mpi/drivers/drive_channel.hpp"

#include "mpi/drivers/register_map.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mpi::drivers {

using namespace regmap;

DriveChannel::DriveChannel(RegisterBus& bus, unsigned channel) noexcept : bus_(&bus), channel_(channel) {}

bool DriveChannel::valid() const noexcept {
  return channel_ < kMaxDriveChannels && channel_ < bus_->read32(kDriveChannels);
}

std::uint32_t DriveChannel::reg(std::uint32_t r) const noexcept { return drive_register(channel_, r); }

ErrorCode DriveChannel::realise_tone(const ToneSettings& t, RealisedTone& out) const noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  const double dac_clock = bus_->read32(kDacClockHz);
  const double decimation = bus_->read32(kAdcDecimation);
  const double nyquist = dac_clock / decimation / 2.0;
  if (!(t.frequency_hz > 0.0) || !(t.frequency_hz < nyquist)) return ErrorCode::frequency_out_of_range;
  if (!(t.amplitude_full_scale >= 0.0) || !(t.amplitude_full_scale <= 1.0)) return ErrorCode::amplitude_out_of_range;
  if (!std::isfinite(t.phase_rad)) return ErrorCode::frequency_out_of_range;

  const double turns_per_tick = t.frequency_hz / dac_clock;
  out.phase_increment = static_cast<std::uint64_t>(std::llround(std::ldexp(turns_per_tick, kPhaseBits))) & kPhaseMask;
  double turns = t.phase_rad / (2.0 * std::numbers::pi);
  turns -= std::floor(turns);
  out.phase_offset = static_cast<std::uint64_t>(std::llround(std::ldexp(turns, kPhaseBits))) & kPhaseMask;
  out.amplitude_code = static_cast<std::uint32_t>(std::lround(t.amplitude_full_scale * kAmplitudeFullScale));
  out.frequency_hz = std::ldexp(static_cast<double>(out.phase_increment), -static_cast<int>(kPhaseBits)) * dac_clock;
  out.amplitude_full_scale = static_cast<double>(out.amplitude_code) / kAmplitudeFullScale;
  out.phase_rad = std::ldexp(static_cast<double>(out.phase_offset), -static_cast<int>(kPhaseBits)) * 2.0 * std::numbers::pi;
  return ErrorCode::ok;
}

ErrorCode DriveChannel::realise(const DriveSettings& s, RealisedDrive& out) const noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  const ErrorCode code = realise_tone(ToneSettings{s.frequency_hz, s.amplitude_full_scale, s.phase_rad}, out);
  if (code == ErrorCode::ok && s.ramp_samples == 0) return ErrorCode::invalid_ramp;
  return code;
}

ErrorCode DriveChannel::configure(const DriveSettings& s, RealisedDrive& out) noexcept {
  const ErrorCode code = realise(s, out);
  if (code != ErrorCode::ok) return code;
  bus_->write64(reg(kDrivePhaseIncrement), out.phase_increment);
  bus_->write64(reg(kDrivePhaseOffset), out.phase_offset);
  bus_->write32(reg(kDriveAmplitude), out.amplitude_code);
  for (unsigned k = 1; k < kDdsComponents; ++k) {
    bus_->write32(dds_register(channel_, k, kDdsAmplitude), 0U);
    bus_->write64(dds_register(channel_, k, kDdsPhaseIncrement), 0U);
    bus_->write64(dds_register(channel_, k, kDdsPhaseOffset), 0U);
  }
  bus_->write32(reg(kDriveAwgAmplitude), 0U);
  bus_->write32(reg(kDriveAwgPoints), 0U);
  bus_->write32(reg(kDriveDcOffset), 0U);
  bus_->write32(reg(kDriveRampSamples), s.ramp_samples);
  return ErrorCode::ok;
}

ErrorCode DriveChannel::configure_component(unsigned k, const ToneSettings& tone, RealisedTone& out) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (k >= kDdsComponents) return ErrorCode::invalid_component;
  RealisedTone r;
  const ErrorCode code = realise_tone(tone, r);
  if (code != ErrorCode::ok) return code;
  bus_->write64(dds_register(channel_, k, kDdsPhaseIncrement), r.phase_increment);
  bus_->write64(dds_register(channel_, k, kDdsPhaseOffset), r.phase_offset);
  bus_->write32(dds_register(channel_, k, kDdsAmplitude), r.amplitude_code);
  out = r;
  return ErrorCode::ok;
}

ErrorCode DriveChannel::configure_component(unsigned k, const ToneSettings& tone) noexcept {
  RealisedTone ignored;
  return configure_component(k, tone, ignored);
}

ErrorCode DriveChannel::disable_component(unsigned k) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (k >= kDdsComponents) return ErrorCode::invalid_component;
  bus_->write32(dds_register(channel_, k, kDdsAmplitude), 0U);
  bus_->write64(dds_register(channel_, k, kDdsPhaseIncrement), 0U);
  bus_->write64(dds_register(channel_, k, kDdsPhaseOffset), 0U);
  return ErrorCode::ok;
}

ErrorCode DriveChannel::set_dc_offset(double fraction) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (!(fraction >= -1.0) || !(fraction <= 1.0)) return ErrorCode::dc_offset_out_of_range;
  const auto code = static_cast<std::int32_t>(std::lround(fraction * kDacFullScale));
  bus_->write32(reg(kDriveDcOffset), static_cast<std::uint32_t>(code));
  return ErrorCode::ok;
}

double DriveChannel::dc_offset() const noexcept {
  return static_cast<double>(static_cast<std::int32_t>(bus_->read32(reg(kDriveDcOffset)))) / kDacFullScale;
}

ErrorCode DriveChannel::load_waveform(std::span<const std::int16_t> points, double amplitude_fraction) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (points.empty() || points.size() > kAwgMaxPoints) return ErrorCode::invalid_waveform;
  if (!(amplitude_fraction >= 0.0) || !(amplitude_fraction <= 1.0)) return ErrorCode::amplitude_out_of_range;
  for (const std::int16_t p : points) {
    if (p < -kDacFullScale) return ErrorCode::invalid_waveform;
  }
  bus_->write32(reg(kDriveAwgPoints), 0U);
  const std::size_t pairs = (points.size() + 1) / 2;
  for (std::size_t i = 0; i < pairs; ++i) {
    const auto low = static_cast<std::uint16_t>(points[2 * i]);
    const auto high = 2 * i + 1 < points.size() ? static_cast<std::uint16_t>(points[2 * i + 1]) : std::uint16_t{0};
    bus_->write32(awg_word(channel_, static_cast<unsigned>(i)), static_cast<std::uint32_t>(low) | (static_cast<std::uint32_t>(high) << 16U));
  }
  bus_->write32(reg(kDriveAwgAmplitude), static_cast<std::uint32_t>(std::lround(amplitude_fraction * kAmplitudeFullScale)));
  bus_->write32(reg(kDriveAwgPoints), static_cast<std::uint32_t>(points.size()));
  return ErrorCode::ok;
}

void DriveChannel::disable_waveform() noexcept {
  bus_->write32(reg(kDriveAwgPoints), 0U);
  bus_->write32(reg(kDriveAwgAmplitude), 0U);
}

double DriveChannel::peak_bound() const noexcept {
  double peak = 0.0;
  for (unsigned k = 0; k < kDdsComponents; ++k) {
    peak += static_cast<double>(bus_->read32(dds_register(channel_, k, kDdsAmplitude))) / kAmplitudeFullScale;
  }
  if (bus_->read32(reg(kDriveAwgPoints)) != 0U) {
    peak += static_cast<double>(bus_->read32(reg(kDriveAwgAmplitude))) / kAmplitudeFullScale;
  }
  return peak + std::abs(dc_offset());
}

void DriveChannel::enable(bool on) noexcept {
  const std::uint32_t control = bus_->read32(reg(kDriveControl));
  bus_->write32(reg(kDriveControl), on ? (control | kDriveEnable) : (control & ~kDriveEnable));
}

bool DriveChannel::enabled() const noexcept { return (bus_->read32(reg(kDriveControl)) & kDriveEnable) != 0; }

void DriveChannel::enable_amplifier(bool on) noexcept {
  const std::uint32_t control = bus_->read32(reg(kDriveAmplifierControl));
  bus_->write32(reg(kDriveAmplifierControl), on ? (control | kAmplifierEnable) : (control & ~kAmplifierEnable));
}

bool DriveChannel::amplifier_enabled() const noexcept {
  return (bus_->read32(reg(kDriveAmplifierControl)) & kAmplifierEnable) != 0;
}

ErrorCode DriveChannel::set_dac_limit(std::uint32_t peak_code) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (peak_code > static_cast<std::uint32_t>(kDacFullScale)) return ErrorCode::dac_limit_out_of_range;
  bus_->write32(reg(kDriveDacLimit), peak_code);
  return ErrorCode::ok;
}

std::uint32_t DriveChannel::dac_limit() const noexcept { return bus_->read32(reg(kDriveDacLimit)); }

std::uint32_t DriveChannel::dac_limit_for(double amplitude_full_scale) noexcept {
  if (!(amplitude_full_scale > 0.0)) return 0U;
  if (!(amplitude_full_scale < 1.0)) return static_cast<std::uint32_t>(kDacFullScale);
  // The amplitude code rounds to the nearest 1/65535, at most half a step (a quarter of a DAC code) up.
  const double codes = amplitude_full_scale * kDacFullScale + 0.5 * kDacFullScale / kAmplitudeFullScale;
  const double limit = std::min(std::ceil(codes), static_cast<double>(kDacFullScale));
  return static_cast<std::uint32_t>(limit);
}

DriveStatus DriveChannel::status() const noexcept {
  const std::uint32_t bits = bus_->read32(reg(kDriveStatus));
  return DriveStatus{(bits & kDriveClamped) != 0, (bits & kDriveAmplifierFault) != 0};
}

void DriveChannel::clear_status(const DriveStatus& bits) noexcept {
  const std::uint32_t value = (bits.clamped ? kDriveClamped : 0U) | (bits.amplifier_fault ? kDriveAmplifierFault : 0U);
  if (value != 0U) bus_->write32(reg(kDriveStatusClear), value);
}

void DriveChannel::ramp_up() noexcept { bus_->write32(reg(kDriveRampCommand), static_cast<std::uint32_t>(RampCommand::up)); }

void DriveChannel::ramp_down() noexcept { bus_->write32(reg(kDriveRampCommand), static_cast<std::uint32_t>(RampCommand::down)); }

double DriveChannel::ramp_factor() const noexcept {
  return static_cast<double>(bus_->read32(reg(kDriveRampFactor))) / kRampFactorOne;
}

std::uint64_t DriveChannel::ramp_event_sample() const noexcept { return bus_->read64(reg(kDriveRampEventSample)); }

}  // namespace mpi::drivers
