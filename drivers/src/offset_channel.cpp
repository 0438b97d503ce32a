#include "mpi/drivers/offset_channel.hpp"

#include "mpi/drivers/register_map.hpp"

#include <cmath>

namespace mpi::drivers {

using namespace regmap;

OffsetChannel::OffsetChannel(RegisterBus& bus, unsigned channel) noexcept : bus_(&bus), channel_(channel) {}

bool OffsetChannel::valid() const noexcept {
  return channel_ < kMaxOffsetChannels && channel_ < bus_->read32(kOffsetChannels);
}

std::uint32_t OffsetChannel::reg(std::uint32_t r) const noexcept { return offset_register(channel_, r); }

ErrorCode OffsetChannel::set_static_value(std::int32_t code) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (code < -kDacFullScale || code > kDacFullScale) return ErrorCode::value_out_of_range;
  bus_->write32(reg(kOffsetStaticValue), static_cast<std::uint32_t>(code));
  return ErrorCode::ok;
}

ErrorCode OffsetChannel::set_static_fraction(double fraction) noexcept {
  if (!(fraction >= -1.0) || !(fraction <= 1.0)) {
    return valid() ? ErrorCode::value_out_of_range : ErrorCode::invalid_channel;
  }
  return set_static_value(static_cast<std::int32_t>(std::lround(fraction * kDacFullScale)));
}

std::int32_t OffsetChannel::static_value() const noexcept {
  return static_cast<std::int32_t>(bus_->read32(reg(kOffsetStaticValue)));
}

ErrorCode OffsetChannel::set_dac_limit(std::uint32_t peak_code) noexcept {
  if (!valid()) return ErrorCode::invalid_channel;
  if (peak_code > static_cast<std::uint32_t>(kDacFullScale)) return ErrorCode::dac_limit_out_of_range;
  bus_->write32(reg(kOffsetDacLimit), peak_code);
  return ErrorCode::ok;
}

std::uint32_t OffsetChannel::dac_limit() const noexcept { return bus_->read32(reg(kOffsetDacLimit)); }

std::int32_t OffsetChannel::output() const noexcept {
  return static_cast<std::int32_t>(bus_->read32(reg(kOffsetOutput)));
}

}  // namespace mpi::drivers
