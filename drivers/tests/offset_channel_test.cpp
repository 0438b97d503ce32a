// OffsetChannel: static value and DAC limit registers of the gradient/focus channels (register map v2:
// channel n at 0x400 + n * 0x20: static value +0x00, DAC limit +0x04, output +0x08).
#include "mpi/drivers/offset_channel.hpp"

#include "fake_register_bus.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace mpi::drivers {
namespace {

using testing::FakeBoard;
using testing::FakeRegisterBus;

TEST(OffsetChannel, StaticValueIsASignedDacCode) {
  FakeRegisterBus bus;  // three offset channels
  OffsetChannel channel(bus, 2);
  ASSERT_TRUE(channel.valid());
  ASSERT_EQ(channel.set_static_value(-1234), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x440), static_cast<std::uint32_t>(-1234));
  EXPECT_EQ(channel.static_value(), -1234);
  ASSERT_EQ(channel.set_static_value(32767), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x440), 32767U);
  ASSERT_EQ(channel.set_static_fraction(-0.5), ErrorCode::ok);
  EXPECT_EQ(channel.static_value(), -16384);  // round(-16383.5), half away from zero
  EXPECT_EQ(channel.set_static_value(32768), ErrorCode::value_out_of_range);
  EXPECT_EQ(channel.set_static_value(-32768), ErrorCode::value_out_of_range);
  EXPECT_EQ(channel.set_static_fraction(1.01), ErrorCode::value_out_of_range);
  EXPECT_EQ(channel.set_static_fraction(std::numeric_limits<double>::quiet_NaN()), ErrorCode::value_out_of_range);
  EXPECT_EQ(channel.static_value(), -16384) << "refused values write nothing";
  EXPECT_EQ(bus.peek32(0x420), 0U) << "channel 1 untouched";
}

TEST(OffsetChannel, DacLimitIsWrittenAndRangeChecked) {
  FakeRegisterBus bus;
  OffsetChannel channel(bus, 1);
  ASSERT_EQ(channel.set_dac_limit(20000U), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x424), 20000U);
  EXPECT_EQ(channel.dac_limit(), 20000U);
  EXPECT_EQ(channel.set_dac_limit(32768U), ErrorCode::dac_limit_out_of_range);
  EXPECT_EQ(bus.peek32(0x424), 20000U);
  EXPECT_EQ(bus.peek32(0x420), 0U) << "the static value is a separate register";
}

TEST(OffsetChannel, OutputIsTheLogicsRegister) {
  FakeRegisterBus bus;
  const OffsetChannel channel(bus, 0);
  bus.poke32(0x408, static_cast<std::uint32_t>(-777));
  EXPECT_EQ(channel.output(), -777);
}

TEST(OffsetChannel, ChannelsBeyondTheBoardAreRefused) {
  FakeRegisterBus bus;  // three offset channels
  const auto before = bus.words();
  OffsetChannel missing(bus, 3);
  EXPECT_FALSE(missing.valid());
  EXPECT_EQ(missing.set_static_value(1), ErrorCode::invalid_channel);
  EXPECT_EQ(missing.set_static_fraction(0.1), ErrorCode::invalid_channel);
  EXPECT_EQ(missing.set_dac_limit(1U), ErrorCode::invalid_channel);
  EXPECT_EQ(bus.words(), before);
  FakeRegisterBus big(FakeBoard{.offset_channels = 9});
  EXPECT_TRUE(OffsetChannel(big, 3).valid());
  EXPECT_FALSE(OffsetChannel(big, 4).valid()) << "held to the map's kMaxOffsetChannels";
}

}  // namespace
}  // namespace mpi::drivers
