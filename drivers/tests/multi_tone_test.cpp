// DriveChannel beyond a single tone: DDS components 1 and 2, the DC offset and the arbitrary waveform,
// checked register by register against register_map.hpp (v2).
#include "mpi/drivers/drive_channel.hpp"

#include "fake_register_bus.hpp"
#include "mpi/drivers/register_map.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

namespace mpi::drivers {
namespace {

using testing::FakeRegisterBus;

constexpr std::uint64_t kTwo48 = std::uint64_t{1} << 48;
constexpr double kPi = std::numbers::pi;

// Register words that differ between two snapshots, as byte offsets.
std::vector<std::size_t> changed(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  std::vector<std::size_t> out;
  for (std::size_t w = 0; w < a.size(); ++w) {
    if (a[w] != b[w]) out.push_back(w * 8);
  }
  return out;
}

TEST(MultiTone, ComponentRegistersFollowTheMap) {
  FakeRegisterBus bus;  // 125 MHz DAC clock, decimation 8
  DriveChannel channel(bus, 1);
  const auto before = bus.words();
  // Component 2 of channel 1: 0x280 + 0x08 + 2 * 0x18 = 0x2B8 (increment), 0x2C0 (offset), 0x2C8 (amplitude).
  RealisedTone r;
  ASSERT_EQ(channel.configure_component(2, ToneSettings{75e3, 0.125, kPi / 2}, r), ErrorCode::ok);
  // 75 kHz / 125 MHz of a turn per tick = 3 / 5000 turn; in 2^-48 turn, rounded.
  const auto expected_increment = static_cast<std::uint64_t>(std::llround(3.0 * std::ldexp(1.0, 48) / 5000.0));
  EXPECT_EQ(bus.peek64(0x2B8), expected_increment);
  EXPECT_EQ(bus.peek64(0x2C0), kTwo48 / 4);
  EXPECT_EQ(bus.peek32(0x2C8), 8192U);  // round(0.125 * 65535) = round(8191.875)
  EXPECT_EQ(r.phase_increment, expected_increment);
  EXPECT_NEAR(r.frequency_hz, 75e3, 125e6 / std::ldexp(1.0, 48));
  // Only component 2's three registers changed (0x2B8, 0x2C0, and the word holding 0x2C8).
  EXPECT_EQ(changed(before, bus.words()), (std::vector<std::size_t>{0x2B8, 0x2C0, 0x2C8}));
}

TEST(MultiTone, ComponentsAreIndependent) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 0);
  ASSERT_EQ(channel.configure_component(0, ToneSettings{25e3, 0.5, 0.0}), ErrorCode::ok);
  ASSERT_EQ(channel.configure_component(1, ToneSettings{50e3, 0.25, kPi}), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x218), 32768U);  // component 0 amplitude: round(0.5 * 65535)
  EXPECT_EQ(bus.peek32(0x230), 16384U);  // component 1 amplitude at 0x200 + 0x08 + 0x18 + 0x10
  EXPECT_EQ(bus.peek64(0x228), kTwo48 / 2);  // component 1 phase offset: half a turn
  EXPECT_EQ(bus.peek64(0x220), 2 * bus.peek64(0x208)) << "50 kHz is twice 25 kHz to the rounding of one step";
  ASSERT_EQ(channel.disable_component(1), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x230), 0U);
  EXPECT_EQ(bus.peek64(0x220), 0U);
  EXPECT_EQ(bus.peek64(0x228), 0U);
  EXPECT_EQ(bus.peek32(0x218), 32768U) << "component 0 untouched";
}

TEST(MultiTone, RefusedComponentsWriteNothing) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 0);
  const auto before = bus.words();
  EXPECT_EQ(channel.configure_component(3, ToneSettings{25e3, 0.5, 0.0}), ErrorCode::invalid_component);
  EXPECT_EQ(channel.disable_component(3), ErrorCode::invalid_component);
  EXPECT_EQ(channel.configure_component(1, ToneSettings{0.0, 0.5, 0.0}), ErrorCode::frequency_out_of_range);
  EXPECT_EQ(channel.configure_component(1, ToneSettings{8e6, 0.5, 0.0}), ErrorCode::frequency_out_of_range);
  EXPECT_EQ(channel.configure_component(1, ToneSettings{25e3, 1.01, 0.0}), ErrorCode::amplitude_out_of_range);
  EXPECT_EQ(channel.configure_component(1, ToneSettings{25e3, -0.1, 0.0}), ErrorCode::amplitude_out_of_range);
  EXPECT_NE(channel.configure_component(1, ToneSettings{25e3, 0.5, std::numeric_limits<double>::infinity()}), ErrorCode::ok);
  EXPECT_EQ(DriveChannel(bus, 2).configure_component(0, ToneSettings{25e3, 0.5, 0.0}), ErrorCode::invalid_channel);
  EXPECT_EQ(bus.words(), before);
}

TEST(MultiTone, DcOffsetIsASignedDacCode) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 1);
  ASSERT_EQ(channel.set_dc_offset(-0.5), ErrorCode::ok);
  EXPECT_EQ(static_cast<std::int32_t>(bus.peek32(0x2D0)), -16384);  // round(-0.5 * 32767) = round(-16383.5)
  EXPECT_DOUBLE_EQ(channel.dc_offset(), -16384.0 / 32767.0);
  ASSERT_EQ(channel.set_dc_offset(1.0), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x2D0), 32767U);
  ASSERT_EQ(channel.set_dc_offset(-1.0), ErrorCode::ok);
  EXPECT_EQ(static_cast<std::int32_t>(bus.peek32(0x2D0)), -32767);
  for (const double bad : {1.0001, -1.0001, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_EQ(channel.set_dc_offset(bad), ErrorCode::dc_offset_out_of_range) << bad;
  }
  EXPECT_EQ(static_cast<std::int32_t>(bus.peek32(0x2D0)), -32767) << "refused offsets write nothing";
  EXPECT_EQ(bus.peek32(0x250), 0U) << "channel 0's offset untouched";
}

TEST(MultiTone, WaveformIsPackedTwoPointsPerWordLowHalfFirst) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 1);
  const std::vector<std::int16_t> points{1, -2, 32767, -32767, 0x1234};
  ASSERT_EQ(channel.load_waveform(points, 0.75), ErrorCode::ok);
  // Channel 1's memory starts at 0x1000 + 1 * 32768 = 0x9000.
  EXPECT_EQ(bus.peek32(0x9000), 0xFFFE'0001U);
  EXPECT_EQ(bus.peek32(0x9004), 0x8001'7FFFU);
  EXPECT_EQ(bus.peek32(0x9008), 0x0000'1234U) << "an odd count leaves the last high half 0";
  EXPECT_EQ(bus.peek32(0x2E8), 5U);                              // AwgPoints
  EXPECT_EQ(bus.peek32(0x2EC), 49151U);                          // round(0.75 * 65535) = round(49151.25)
  EXPECT_EQ(bus.peek32(0x1000), 0U) << "channel 0's memory untouched";
}

TEST(MultiTone, FullWaveformFillsTheChannelsMemory) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 0);
  std::vector<std::int16_t> points(regmap::kAwgMaxPoints);
  for (std::size_t i = 0; i < points.size(); ++i) points[i] = static_cast<std::int16_t>(static_cast<int>(i) - 8192);
  ASSERT_EQ(channel.load_waveform(points, 1.0), ErrorCode::ok);
  for (std::uint32_t pair = 0; pair < regmap::kAwgMaxPoints / 2; ++pair) {
    const std::uint32_t word = bus.peek32(0x1000 + pair * 4);
    ASSERT_EQ(static_cast<std::int16_t>(word & 0xFFFFU), static_cast<int>(2 * pair) - 8192) << pair;
    ASSERT_EQ(static_cast<std::int16_t>(word >> 16U), static_cast<int>(2 * pair + 1) - 8192) << pair;
  }
  EXPECT_EQ(bus.peek32(0x268), 16384U);
  EXPECT_EQ(bus.peek32(0x26C), 65535U);
  EXPECT_EQ(bus.peek32(0x9000), 0U) << "channel 1's memory untouched";
}

// Records the register writes in order.
class RecordingBus final : public RegisterBus {
 public:
  explicit RecordingBus(FakeRegisterBus& inner) : inner_(&inner) {}
  [[nodiscard]] std::uint32_t read32(std::uint32_t offset) const noexcept override { return inner_->read32(offset); }
  void write32(std::uint32_t offset, std::uint32_t value) noexcept override {
    writes.push_back(offset);
    inner_->write32(offset, value);
  }
  [[nodiscard]] std::uint64_t read64(std::uint32_t offset) const noexcept override { return inner_->read64(offset); }
  void write64(std::uint32_t offset, std::uint64_t value) noexcept override {
    writes.push_back(offset);
    inner_->write64(offset, value);
  }
  [[nodiscard]] std::span<const std::int16_t> ring() const noexcept override { return inner_->ring(); }
  std::vector<std::uint32_t> writes;

 private:
  FakeRegisterBus* inner_;
};

TEST(MultiTone, WaveformIsSwitchedOffWhileItsMemoryIsRewritten) {
  FakeRegisterBus fake;
  fake.poke32(0x268, 100U);  // an earlier waveform plays
  RecordingBus bus(fake);
  DriveChannel channel(bus, 0);
  const std::vector<std::int16_t> points{5, 6, 7, 8};
  ASSERT_EQ(channel.load_waveform(points, 0.5), ErrorCode::ok);
  EXPECT_EQ(bus.writes, (std::vector<std::uint32_t>{0x268, 0x1000, 0x1004, 0x26C, 0x268}));
  channel.disable_waveform();
  EXPECT_EQ(fake.peek32(0x268), 0U);
  EXPECT_EQ(fake.peek32(0x26C), 0U);
}

TEST(MultiTone, RefusedWaveformsWriteNothing) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 0);
  const auto before = bus.words();
  const std::vector<std::int16_t> too_long(regmap::kAwgMaxPoints + 1, 0);
  const std::vector<std::int16_t> below_full_scale{0, -32768, 0};
  const std::vector<std::int16_t> fine{0, 1};
  EXPECT_EQ(channel.load_waveform({}, 0.5), ErrorCode::invalid_waveform);
  EXPECT_EQ(channel.load_waveform(too_long, 0.5), ErrorCode::invalid_waveform);
  EXPECT_EQ(channel.load_waveform(below_full_scale, 0.5), ErrorCode::invalid_waveform);
  EXPECT_EQ(channel.load_waveform(fine, 1.5), ErrorCode::amplitude_out_of_range);
  EXPECT_EQ(channel.load_waveform(fine, std::numeric_limits<double>::quiet_NaN()), ErrorCode::amplitude_out_of_range);
  EXPECT_EQ(DriveChannel(bus, 2).load_waveform(fine, 0.5), ErrorCode::invalid_channel);
  EXPECT_EQ(bus.words(), before);
}

TEST(MultiTone, PeakBoundAddsEverythingThatReachesTheDac) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 0);
  EXPECT_DOUBLE_EQ(channel.peak_bound(), 0.0);
  ASSERT_EQ(channel.configure_component(0, ToneSettings{25e3, 0.5, 0.0}), ErrorCode::ok);
  ASSERT_EQ(channel.configure_component(2, ToneSettings{75e3, 0.125, 0.0}), ErrorCode::ok);
  ASSERT_EQ(channel.set_dc_offset(-0.25), ErrorCode::ok);
  const std::vector<std::int16_t> points{100, -100};
  ASSERT_EQ(channel.load_waveform(points, 0.1), ErrorCode::ok);
  const double expected = 32768.0 / 65535 + 8192.0 / 65535 + 6554.0 / 65535 + 8192.0 / 32767;  // 8192 = round(0.25 * 32767)
  EXPECT_DOUBLE_EQ(channel.peak_bound(), expected);
  channel.disable_waveform();
  EXPECT_DOUBLE_EQ(channel.peak_bound(), expected - 6554.0 / 65535);
}

}  // namespace
}  // namespace mpi::drivers
