// SafetyIo: alive counter, watchdog, safety status bits, latched-bit clearing, temperatures, overrange
// mask and clock slip, register by register (register map v2).
#include "mpi/drivers/safety_io.hpp"

#include "fake_register_bus.hpp"

#include <gtest/gtest.h>

namespace mpi::drivers {
namespace {

using testing::FakeRegisterBus;

TEST(SafetyIo, AliveCounterAndWatchdogKickIncrementAndWrap) {
  FakeRegisterBus bus;
  SafetyIo io(bus);
  io.increment_alive();
  io.increment_alive();
  EXPECT_EQ(bus.peek32(0x080), 2U);
  EXPECT_EQ(io.alive_counter(), 2U);
  bus.poke32(0x080, 0xFFFF'FFFFU);
  io.increment_alive();
  EXPECT_EQ(bus.peek32(0x080), 0U);

  const std::uint32_t kick = bus.peek32(0x088);
  io.kick_watchdog();
  EXPECT_NE(bus.peek32(0x088), kick) << "every kick changes the register";
  const std::uint32_t second = bus.peek32(0x088);
  io.kick_watchdog();
  EXPECT_NE(bus.peek32(0x088), second);
  EXPECT_EQ(bus.peek32(0x080), 0U) << "kicking leaves the alive counter alone";

  io.set_watchdog_timeout(15625U);
  EXPECT_EQ(bus.peek32(0x08C), 15625U);
  EXPECT_EQ(io.watchdog_timeout(), 15625U);
  io.set_watchdog_timeout(0U);
  EXPECT_EQ(bus.peek32(0x08C), 0U);
}

TEST(SafetyIo, StatusBitsMapOneToOne) {
  FakeRegisterBus bus;
  const SafetyIo io(bus);
  EXPECT_EQ(io.status(), SafetyStatus{});
  const struct {
    std::uint32_t bit;
    bool SafetyStatus::*field;
  } bits[] = {{1U << 0, &SafetyStatus::interlock_closed}, {1U << 1, &SafetyStatus::instant_stop},
              {1U << 2, &SafetyStatus::over_temperature}, {1U << 3, &SafetyStatus::amplifier_fault},
              {1U << 4, &SafetyStatus::adc_overrange},    {1U << 5, &SafetyStatus::watchdog_expired},
              {1U << 6, &SafetyStatus::clock_unlocked}};
  for (const auto& b : bits) {
    bus.poke32(0x084, b.bit);
    SafetyStatus expected;
    expected.*(b.field) = true;
    EXPECT_EQ(io.status(), expected) << b.bit;
    EXPECT_EQ(to_bits(expected), b.bit);
  }
  bus.poke32(0x084, 0x7FU);
  const SafetyStatus all = io.status();
  EXPECT_TRUE(all.interlock_closed && all.instant_stop && all.over_temperature && all.amplifier_fault &&
              all.adc_overrange && all.watchdog_expired && all.clock_unlocked);
  bus.poke32(0x084, 0xFFFF'FF80U);
  EXPECT_EQ(io.status(), SafetyStatus{}) << "undefined bits are ignored";
}

TEST(SafetyIo, OnlyLatchedBitsAreWrittenToSafetyClear) {
  FakeRegisterBus bus;
  SafetyIo io(bus);
  bus.poke32(0x090, 0xABCDU);
  io.clear_latched(SafetyStatus{.interlock_closed = true, .instant_stop = true, .over_temperature = true});
  EXPECT_EQ(bus.peek32(0x090), 0xABCDU) << "live inputs cannot be cleared: nothing written";
  io.clear_latched(SafetyStatus{.watchdog_expired = true});
  EXPECT_EQ(bus.peek32(0x090), 1U << 5);
  SafetyStatus everything{true, true, true, true, true, true, true};
  io.clear_latched(everything);
  EXPECT_EQ(bus.peek32(0x090), (1U << 3) | (1U << 4) | (1U << 5) | (1U << 6));
  EXPECT_EQ(bus.peek32(0x084), 0U) << "the status is the logic's to change";
}

TEST(SafetyIo, TemperaturesAreMilliDegreesPerSensor) {
  FakeRegisterBus bus;  // two sensors
  const SafetyIo io(bus);
  EXPECT_EQ(io.temperature_sensors(), 2U);
  bus.poke32(0x0A0, 36'625U);
  bus.poke32(0x0A4, static_cast<std::uint32_t>(-1'500));
  double c = 0.0;
  ASSERT_EQ(io.temperature_celsius(0, c), ErrorCode::ok);
  EXPECT_DOUBLE_EQ(c, 36.625);
  ASSERT_EQ(io.temperature_celsius(1, c), ErrorCode::ok);
  EXPECT_DOUBLE_EQ(c, -1.5);
  c = 99.0;
  EXPECT_EQ(io.temperature_celsius(2, c), ErrorCode::invalid_sensor);
  EXPECT_EQ(c, 99.0) << "untouched when refused";

  FakeRegisterBus many(testing::FakeBoard{.temperature_sensors = 12});
  EXPECT_EQ(SafetyIo(many).temperature_sensors(), 8U) << "held to the map's kMaxTemperatureSensors";
  EXPECT_EQ(SafetyIo(many).temperature_celsius(8, c), ErrorCode::invalid_sensor);
}

TEST(SafetyIo, OverrangeMaskAndClockSlip) {
  FakeRegisterBus bus;
  const SafetyIo io(bus);
  bus.poke32(0x050, 0b1010U);
  EXPECT_EQ(io.adc_overrange_mask(), 0b1010U);
  bus.poke32(0x094, 3U);
  EXPECT_EQ(io.clock_slip_samples(), 3U);
  bus.poke32(0x094, 70000U);
  EXPECT_EQ(io.clock_slip_samples(), 70000U);
}

}  // namespace
}  // namespace mpi::drivers
