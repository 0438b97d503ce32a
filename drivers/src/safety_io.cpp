#include "mpi/drivers/safety_io.hpp"

#include "mpi/drivers/register_map.hpp"

#include <algorithm>

namespace mpi::drivers {

using namespace regmap;

namespace {

constexpr std::uint32_t kLatchedBits = kAmplifierFault | kAdcOverrangeAny | kWatchdogExpired | kClockUnlocked;

}  // namespace

std::uint32_t to_bits(const SafetyStatus& s) noexcept {
  return (s.interlock_closed ? kInterlockClosed : 0U) | (s.instant_stop ? kInstantStop : 0U) |
         (s.over_temperature ? kOverTemperature : 0U) | (s.amplifier_fault ? kAmplifierFault : 0U) |
         (s.adc_overrange ? kAdcOverrangeAny : 0U) | (s.watchdog_expired ? kWatchdogExpired : 0U) |
         (s.clock_unlocked ? kClockUnlocked : 0U);
}

SafetyStatus safety_status_from_bits(std::uint32_t bits) noexcept {
  SafetyStatus s;
  s.interlock_closed = (bits & kInterlockClosed) != 0;
  s.instant_stop = (bits & kInstantStop) != 0;
  s.over_temperature = (bits & kOverTemperature) != 0;
  s.amplifier_fault = (bits & kAmplifierFault) != 0;
  s.adc_overrange = (bits & kAdcOverrangeAny) != 0;
  s.watchdog_expired = (bits & kWatchdogExpired) != 0;
  s.clock_unlocked = (bits & kClockUnlocked) != 0;
  return s;
}

SafetyIo::SafetyIo(RegisterBus& bus) noexcept : bus_(&bus) {}

void SafetyIo::increment_alive() noexcept { bus_->write32(kAliveCounter, bus_->read32(kAliveCounter) + 1U); }

std::uint32_t SafetyIo::alive_counter() const noexcept { return bus_->read32(kAliveCounter); }

void SafetyIo::kick_watchdog() noexcept { bus_->write32(kWatchdogKick, bus_->read32(kWatchdogKick) + 1U); }

void SafetyIo::set_watchdog_timeout(std::uint32_t samples) noexcept { bus_->write32(kWatchdogTimeoutSamples, samples); }

std::uint32_t SafetyIo::watchdog_timeout() const noexcept { return bus_->read32(kWatchdogTimeoutSamples); }

SafetyStatus SafetyIo::status() const noexcept { return safety_status_from_bits(bus_->read32(kSafetyStatus)); }

void SafetyIo::clear_latched(const SafetyStatus& bits) noexcept {
  const std::uint32_t value = to_bits(bits) & kLatchedBits;
  if (value != 0U) bus_->write32(kSafetyClear, value);
}

unsigned SafetyIo::temperature_sensors() const noexcept {
  return std::min(bus_->read32(kTemperatureSensors), kMaxTemperatureSensors);
}

ErrorCode SafetyIo::temperature_celsius(unsigned sensor, double& celsius) const noexcept {
  if (sensor >= temperature_sensors()) return ErrorCode::invalid_sensor;
  const auto milli = static_cast<std::int32_t>(bus_->read32(temperature_register(sensor)));
  celsius = static_cast<double>(milli) / 1000.0;
  return ErrorCode::ok;
}

std::uint32_t SafetyIo::adc_overrange_mask() const noexcept { return bus_->read32(kAdcOverrange); }

std::uint32_t SafetyIo::clock_slip_samples() const noexcept { return bus_->read32(kClockSlipSamples); }

}  // namespace mpi::drivers
