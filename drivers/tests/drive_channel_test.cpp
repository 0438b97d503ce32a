// DriveChannel: conversion of frequency, amplitude and phase to DDS register values (register_map.hpp:
// phase in 2^-48 turn per DAC clock tick, amplitude in 1/65535 of full scale), range checks, and the
// registers it writes.
#include "mpi/drivers/drive_channel.hpp"

#include "fake_register_bus.hpp"
#include "mpi/drivers/register_map.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>

namespace mpi::drivers {
namespace {

using testing::FakeBoard;
using testing::FakeRegisterBus;

constexpr double kClock = 125e6;
constexpr std::uint64_t kTwo48 = std::uint64_t{1} << 48;
constexpr double kPi = std::numbers::pi;

DriveSettings settings(double frequency_hz, double amplitude = 0.5, double phase = 0.0, std::uint32_t ramp = 1000) {
  DriveSettings s;
  s.frequency_hz = frequency_hz;
  s.amplitude_full_scale = amplitude;
  s.phase_rad = phase;
  s.ramp_samples = ramp;
  return s;
}

TEST(DriveChannel, PhaseIncrementFor25kHzAt125MHz) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  RealisedDrive r;
  ASSERT_EQ(channel.realise(settings(25e3), r), ErrorCode::ok);
  // round(25e3 / 125e6 * 2^48) = round(2^48 / 5000), in integers.
  const std::uint64_t expected = (kTwo48 + 2500) / 5000;
  EXPECT_EQ(expected, 56'294'995'342U);
  EXPECT_EQ(r.phase_increment, expected);
}

TEST(DriveChannel, RealisedFrequencyIsWithinHalfAStepOfTheRequest) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  const double half_step = kClock / std::ldexp(1.0, 49);
  const double nyquist = kClock / 8 / 2;
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> any(1.0, nyquist);
  std::vector<double> requests = {25e3, 25'252.525252, 26'041.666, 1.0, 0.001, 1e6 / 3.0, nyquist * 0.999999};
  for (int i = 0; i < 200; ++i) requests.push_back(any(rng));
  for (const double f : requests) {
    RealisedDrive r;
    ASSERT_EQ(channel.realise(settings(f), r), ErrorCode::ok) << f;
    EXPECT_LE(std::abs(r.frequency_hz - f), half_step) << f;
    // The reported frequency is what the DDS plays: increment * clock / 2^48.
    const long double played = static_cast<long double>(r.phase_increment) * 125'000'000.0L / static_cast<long double>(kTwo48);
    EXPECT_NEAR(r.frequency_hz, static_cast<double>(played), 1e-9 * f + 1e-12) << f;
    EXPECT_LT(r.phase_increment, kTwo48);
  }
}

TEST(DriveChannel, AmplitudeIsQuantisedToTheNearestCode) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  for (const double a : {0.0, 1.0, 0.5, 1.0 / 65535.0, 0.4 / 65535.0, 0.6 / 65535.0, 0.123456789, 0.999999, 1e-9}) {
    RealisedDrive r;
    ASSERT_EQ(channel.realise(settings(25e3, a), r), ErrorCode::ok) << a;
    EXPECT_LE(r.amplitude_code, 65535U);
    EXPECT_LE(std::abs(static_cast<double>(r.amplitude_code) - a * 65535.0), 0.5) << a;
    EXPECT_DOUBLE_EQ(r.amplitude_full_scale, r.amplitude_code / 65535.0) << a;
  }
  RealisedDrive r;
  ASSERT_EQ(channel.realise(settings(25e3, 1.0), r), ErrorCode::ok);
  EXPECT_EQ(r.amplitude_code, 65535U);
  ASSERT_EQ(channel.realise(settings(25e3, 0.4 / 65535.0), r), ErrorCode::ok);
  EXPECT_EQ(r.amplitude_code, 0U);
  ASSERT_EQ(channel.realise(settings(25e3, 0.6 / 65535.0), r), ErrorCode::ok);
  EXPECT_EQ(r.amplitude_code, 1U);
}

TEST(DriveChannel, PhaseOffsetWrapsIntoOneTurn) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  const auto offset = [&](double phase) {
    RealisedDrive r;
    EXPECT_EQ(channel.realise(settings(25e3, 0.5, phase), r), ErrorCode::ok) << phase;
    EXPECT_LT(r.phase_offset, kTwo48) << phase;
    EXPECT_GE(r.phase_rad, 0.0) << phase;
    EXPECT_LT(r.phase_rad, 2 * kPi) << phase;
    return r.phase_offset;
  };
  EXPECT_EQ(offset(0.0), 0U);
  EXPECT_EQ(offset(kPi / 2), kTwo48 / 4);
  EXPECT_EQ(offset(kPi), kTwo48 / 2);
  EXPECT_EQ(offset(-kPi / 2), 3 * (kTwo48 / 4));
  EXPECT_EQ(offset(-kPi), kTwo48 / 2);
  EXPECT_EQ(offset(-3 * kPi / 2), kTwo48 / 4);
  EXPECT_EQ(offset(2 * kPi), 0U);
  // A tiny negative phase is a whole turn less a fraction of a step: it plays as phase 0, not 2^48.
  EXPECT_EQ(offset(-1e-20), 0U);
  // Several turns away, within the rounding of the double phase.
  const auto near = [](std::uint64_t a, std::uint64_t b) { return (a > b ? a - b : b - a) <= 64; };
  EXPECT_TRUE(near(offset(2 * kPi * 3 + kPi / 2), kTwo48 / 4));
  EXPECT_TRUE(near(offset(-2 * kPi * 3 - kPi / 2), 3 * (kTwo48 / 4)));

  RealisedDrive r;
  ASSERT_EQ(channel.realise(settings(25e3, 0.5, -kPi / 2), r), ErrorCode::ok);
  EXPECT_NEAR(r.phase_rad, 3 * kPi / 2, 1e-12);
}

TEST(DriveChannel, PhaseOffsetIsRoundedToTheNearestStep) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> any(-4 * kPi, 4 * kPi);
  for (int i = 0; i < 200; ++i) {
    const double phase = any(rng);
    RealisedDrive r;
    ASSERT_EQ(channel.realise(settings(25e3, 0.5, phase), r), ErrorCode::ok) << phase;
    // The requested phase in steps of 2^-48 turn, folded into [0, 2^48), in long double.
    const long double turns = static_cast<long double>(phase) / (2.0L * std::numbers::pi_v<long double>);
    const long double steps = (turns - std::floor(turns)) * static_cast<long double>(kTwo48);
    const long double diff = static_cast<long double>(r.phase_offset) - steps;
    // Distance on the circle: 0 and 2^48 - 0.4 are 0.4 steps apart.
    const long double wrapped = std::min(std::abs(diff), static_cast<long double>(kTwo48) - std::abs(diff));
    EXPECT_LE(wrapped, 0.5L + 0.05L) << phase;  // half a step, plus the rounding of the double phase
    EXPECT_NEAR(std::remainder(r.phase_rad - phase, 2 * kPi), 0.0, 2 * kPi / std::ldexp(1.0, 49) + 1e-14) << phase;
  }
}

TEST(DriveChannel, InvalidChannelIsRefused) {
  FakeRegisterBus bus;  // the board has two drive channels
  RealisedDrive r;
  EXPECT_TRUE(DriveChannel(bus, 1).valid());
  EXPECT_FALSE(DriveChannel(bus, 2).valid());
  EXPECT_EQ(DriveChannel(bus, 2).realise(settings(25e3), r), ErrorCode::invalid_channel);

  // A board claiming more channels than the register map has room for is held to the map.
  FakeRegisterBus big(FakeBoard{.drive_channels = 8});
  EXPECT_TRUE(DriveChannel(big, regmap::kMaxDriveChannels - 1).valid());
  EXPECT_FALSE(DriveChannel(big, regmap::kMaxDriveChannels).valid());
  EXPECT_EQ(DriveChannel(big, regmap::kMaxDriveChannels).realise(settings(25e3), r), ErrorCode::invalid_channel);
}

TEST(DriveChannel, FrequencyMustLieBetweenZeroAndNyquist) {
  FakeRegisterBus bus;  // fs = 125 MHz / 8, Nyquist 7.8125 MHz
  const DriveChannel channel(bus, 0);
  const double nyquist = kClock / 8 / 2;
  RealisedDrive r;
  for (const double f : {0.0, -0.0, -25e3, nyquist, nyquist * 1.5, std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(channel.realise(settings(f), r), ErrorCode::frequency_out_of_range) << f;
  }
  EXPECT_EQ(channel.realise(settings(std::nextafter(nyquist, 0.0)), r), ErrorCode::ok);

  // Nyquist follows the ADC decimation.
  FakeRegisterBus undecimated(FakeBoard{.adc_decimation = 1});
  EXPECT_EQ(DriveChannel(undecimated, 0).realise(settings(10e6), r), ErrorCode::ok);
  EXPECT_EQ(DriveChannel(undecimated, 0).realise(settings(62.5e6), r), ErrorCode::frequency_out_of_range);
  EXPECT_EQ(channel.realise(settings(10e6), r), ErrorCode::frequency_out_of_range);
}

TEST(DriveChannel, AmplitudeMustLieInFullScale) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  RealisedDrive r;
  for (const double a : {-1e-12, -1.0, 1.0 + 1e-12, 2.0, std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(channel.realise(settings(25e3, a), r), ErrorCode::amplitude_out_of_range) << a;
  }
  EXPECT_EQ(channel.realise(settings(25e3, 0.0), r), ErrorCode::ok);
  EXPECT_EQ(channel.realise(settings(25e3, 1.0), r), ErrorCode::ok);
}

TEST(DriveChannel, RampOfZeroSamplesIsRefused) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  RealisedDrive r;
  EXPECT_EQ(channel.realise(settings(25e3, 0.5, 0.0, 0), r), ErrorCode::invalid_ramp);
  EXPECT_EQ(channel.realise(settings(25e3, 0.5, 0.0, 1), r), ErrorCode::ok);
}

TEST(DriveChannel, NonFinitePhaseIsRefused) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  RealisedDrive r;
  EXPECT_NE(channel.realise(settings(25e3, 0.5, std::numeric_limits<double>::quiet_NaN()), r), ErrorCode::ok);
  EXPECT_NE(channel.realise(settings(25e3, 0.5, std::numeric_limits<double>::infinity()), r), ErrorCode::ok);
}

TEST(DriveChannel, ConfigureWritesTheMappedRegisters) {
  FakeRegisterBus bus;
  // Channel 1 lives at 0x100 + 1 * 0x40: control 0x140, increment 0x148, offset 0x150, amplitude 0x158,
  // ramp samples 0x15C, ramp command 0x160.
  bus.poke32(0x140, 0x8000'0001U);  // enabled, with another bit set
  bus.poke32(0x160, 0x77U);         // whatever the ramp command register holds stays
  const auto before = bus.words();

  DriveChannel channel(bus, 1);
  RealisedDrive r;
  ASSERT_EQ(channel.configure(settings(25e3, 0.25, -kPi / 2, 15625), r), ErrorCode::ok);
  EXPECT_EQ(bus.peek64(0x148), (kTwo48 + 2500) / 5000);
  EXPECT_EQ(bus.peek64(0x150), 3 * (kTwo48 / 4));
  EXPECT_EQ(bus.peek32(0x158), 16384U);  // round(0.25 * 65535) = round(16383.75)
  EXPECT_EQ(bus.peek32(0x15C), 15625U);
  EXPECT_EQ(bus.peek32(0x140), 0x8000'0001U);
  EXPECT_EQ(bus.peek32(0x160), 0x77U);

  // The names in register_map.hpp say the same.
  EXPECT_EQ(bus.peek64(regmap::drive_register(1, regmap::kDrivePhaseIncrement)), r.phase_increment);
  EXPECT_EQ(bus.peek64(regmap::drive_register(1, regmap::kDrivePhaseOffset)), r.phase_offset);
  EXPECT_EQ(bus.peek32(regmap::drive_register(1, regmap::kDriveAmplitude)), r.amplitude_code);

  // Nothing else changed: not channel 0, not the identification registers.
  const auto& after = bus.words();
  for (std::size_t w = 0; w < after.size(); ++w) {
    const std::size_t offset = w * 8;
    if (offset == 0x148 || offset == 0x150 || offset == 0x158) continue;
    EXPECT_EQ(after[w], before[w]) << "register word at 0x" << std::hex << offset;
  }
}

TEST(DriveChannel, RefusedConfigureWritesNothing) {
  FakeRegisterBus bus;
  const auto before = bus.words();
  DriveChannel channel(bus, 0);
  RealisedDrive r;
  EXPECT_EQ(channel.configure(settings(25e3, 1.5), r), ErrorCode::amplitude_out_of_range);
  EXPECT_EQ(channel.configure(settings(0.0), r), ErrorCode::frequency_out_of_range);
  EXPECT_EQ(channel.configure(settings(25e3, 0.5, 0.0, 0), r), ErrorCode::invalid_ramp);
  DriveChannel missing(bus, 3);
  EXPECT_EQ(missing.configure(settings(25e3), r), ErrorCode::invalid_channel);
  EXPECT_EQ(bus.words(), before);
}

TEST(DriveChannel, EnableSetsOnlyItsBit) {
  FakeRegisterBus bus;
  bus.poke32(0x100, 0x8000'0000U);
  DriveChannel channel(bus, 0);
  EXPECT_FALSE(channel.enabled());
  channel.enable(true);
  EXPECT_EQ(bus.peek32(0x100), 0x8000'0001U);
  EXPECT_TRUE(channel.enabled());
  channel.enable(true);
  EXPECT_EQ(bus.peek32(0x100), 0x8000'0001U);
  channel.enable(false);
  EXPECT_EQ(bus.peek32(0x100), 0x8000'0000U);
  EXPECT_FALSE(channel.enabled());
  EXPECT_EQ(bus.peek32(0x140), 0U) << "channel 1 untouched";
}

TEST(DriveChannel, RampCommandsAndRampState) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 1);
  channel.ramp_up();
  EXPECT_EQ(bus.peek32(0x160), static_cast<std::uint32_t>(regmap::RampCommand::up));
  EXPECT_EQ(bus.peek32(0x160), 1U);
  channel.ramp_down();
  EXPECT_EQ(bus.peek32(0x160), 2U);
  EXPECT_EQ(bus.peek32(0x120), 0U) << "channel 0's ramp command untouched";

  // The logic's side: ramp factor in Q16 at 0x164, event sample (u64) at 0x168.
  bus.poke32(0x164, 49152U);
  EXPECT_DOUBLE_EQ(channel.ramp_factor(), 0.75);
  bus.poke32(0x164, 65536U);
  EXPECT_DOUBLE_EQ(channel.ramp_factor(), 1.0);
  bus.poke64(0x168, (std::uint64_t{1} << 36) + 5);
  EXPECT_EQ(channel.ramp_event_sample(), (std::uint64_t{1} << 36) + 5);
}

}  // namespace
}  // namespace mpi::drivers
