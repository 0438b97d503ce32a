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
  // Register map v2: channel 1 lives at 0x200 + 1 * 0x80: control 0x280; DDS component 0 increment 0x288,
  // offset 0x290, amplitude 0x298; component 1 at 0x2A0/0x2A8/0x2B0, component 2 at 0x2B8/0x2C0/0x2C8;
  // DC offset 0x2D0, ramp samples 0x2D4, ramp command 0x2D8, AWG points 0x2E8, AWG amplitude 0x2EC,
  // DAC limit 0x2F0, amplifier control 0x2F4.
  bus.poke32(0x280, 0x8000'0001U);  // enabled, with another bit set
  bus.poke32(0x2D8, 0x77U);         // whatever the ramp command register holds stays
  bus.poke32(0x2F0, 12345U);        // the DAC limit stays
  bus.poke32(0x2F4, 1U);            // the amplifier stays on
  // Left-overs of an earlier multi-tone or arbitrary-waveform set-up: configure clears them all.
  bus.poke64(0x2A0, 111U);
  bus.poke64(0x2A8, 222U);
  bus.poke32(0x2B0, 333U);
  bus.poke64(0x2B8, 444U);
  bus.poke64(0x2C0, 555U);
  bus.poke32(0x2C8, 666U);
  bus.poke32(0x2D0, static_cast<std::uint32_t>(-1000));
  bus.poke32(0x2E8, 4096U);
  bus.poke32(0x2EC, 65535U);
  const auto before = bus.words();

  DriveChannel channel(bus, 1);
  RealisedDrive r;
  ASSERT_EQ(channel.configure(settings(25e3, 0.25, -kPi / 2, 15625), r), ErrorCode::ok);
  EXPECT_EQ(bus.peek64(0x288), (kTwo48 + 2500) / 5000);
  EXPECT_EQ(bus.peek64(0x290), 3 * (kTwo48 / 4));
  EXPECT_EQ(bus.peek32(0x298), 16384U);  // round(0.25 * 65535) = round(16383.75)
  EXPECT_EQ(bus.peek32(0x2D4), 15625U);
  for (const std::uint32_t zeroed : {0x2A0U, 0x2A8U, 0x2B8U, 0x2C0U}) EXPECT_EQ(bus.peek64(zeroed), 0U) << std::hex << zeroed;
  for (const std::uint32_t zeroed : {0x2B0U, 0x2C8U, 0x2D0U, 0x2E8U, 0x2ECU}) EXPECT_EQ(bus.peek32(zeroed), 0U) << std::hex << zeroed;
  EXPECT_EQ(bus.peek32(0x280), 0x8000'0001U);
  EXPECT_EQ(bus.peek32(0x2D8), 0x77U);
  EXPECT_EQ(bus.peek32(0x2F0), 12345U);
  EXPECT_EQ(bus.peek32(0x2F4), 1U);

  // The names in register_map.hpp say the same.
  EXPECT_EQ(bus.peek64(regmap::drive_register(1, regmap::kDrivePhaseIncrement)), r.phase_increment);
  EXPECT_EQ(bus.peek64(regmap::drive_register(1, regmap::kDrivePhaseOffset)), r.phase_offset);
  EXPECT_EQ(bus.peek32(regmap::drive_register(1, regmap::kDriveAmplitude)), r.amplitude_code);
  EXPECT_EQ(bus.peek64(regmap::dds_register(1, 0, regmap::kDdsPhaseIncrement)), r.phase_increment);
  EXPECT_EQ(bus.peek32(regmap::dds_register(1, 2, regmap::kDdsAmplitude)), 0U);

  // Nothing else changed: not channel 0, not the identification registers, not the memories.
  const auto& after = bus.words();
  for (std::size_t w = 0; w < after.size(); ++w) {
    const std::size_t offset = w * 8;
    if (offset >= 0x288 && offset <= 0x2C8) continue;              // the three DDS components
    if (offset == 0x2D0 || offset == 0x2E8) continue;              // DC offset + ramp samples, AWG points + amplitude
    EXPECT_EQ(after[w], before[w]) << "register word at 0x" << std::hex << offset;
  }
}

TEST(DriveChannel, RefusedConfigureWritesNothing) {
  FakeRegisterBus bus;
  bus.poke32(0x2D0, 77U);  // a DC offset that a refused configure must not clear
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
  bus.poke32(0x200, 0x8000'0000U);
  DriveChannel channel(bus, 0);
  EXPECT_FALSE(channel.enabled());
  channel.enable(true);
  EXPECT_EQ(bus.peek32(0x200), 0x8000'0001U);
  EXPECT_TRUE(channel.enabled());
  channel.enable(true);
  EXPECT_EQ(bus.peek32(0x200), 0x8000'0001U);
  channel.enable(false);
  EXPECT_EQ(bus.peek32(0x200), 0x8000'0000U);
  EXPECT_FALSE(channel.enabled());
  EXPECT_EQ(bus.peek32(0x280), 0U) << "channel 1 untouched";
  EXPECT_EQ(bus.peek32(0x274), 0U) << "the amplifier is a separate switch";
}

TEST(DriveChannel, AmplifierEnableSetsOnlyItsBit) {
  FakeRegisterBus bus;
  bus.poke32(0x2F4, 0x4000'0000U);  // channel 1's amplifier control, another bit set
  DriveChannel channel(bus, 1);
  EXPECT_FALSE(channel.amplifier_enabled());
  channel.enable_amplifier(true);
  EXPECT_EQ(bus.peek32(0x2F4), 0x4000'0001U);
  EXPECT_TRUE(channel.amplifier_enabled());
  EXPECT_EQ(bus.peek32(0x280), 0U) << "the drive's own enable untouched";
  channel.enable_amplifier(false);
  EXPECT_EQ(bus.peek32(0x2F4), 0x4000'0000U);
  EXPECT_FALSE(channel.amplifier_enabled());
  EXPECT_EQ(bus.peek32(0x274), 0U) << "channel 0's amplifier untouched";
}

TEST(DriveChannel, DacLimitIsWrittenAndRangeChecked) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 1);
  EXPECT_EQ(channel.set_dac_limit(26214U), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x2F0), 26214U);
  EXPECT_EQ(channel.dac_limit(), 26214U);
  EXPECT_EQ(channel.set_dac_limit(32767U), ErrorCode::ok);
  EXPECT_EQ(channel.set_dac_limit(0U), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x2F0), 0U);
  EXPECT_EQ(channel.set_dac_limit(32768U), ErrorCode::dac_limit_out_of_range);
  EXPECT_EQ(bus.peek32(0x2F0), 0U) << "a refused limit writes nothing";
  EXPECT_EQ(DriveChannel(bus, 2).set_dac_limit(100U), ErrorCode::invalid_channel);
  EXPECT_EQ(bus.peek32(0x270), 0U) << "channel 0's limit untouched";
}

TEST(DriveChannel, DacLimitForAToneLetsItsRealisedPeakThrough) {
  FakeRegisterBus bus;
  const DriveChannel channel(bus, 0);
  EXPECT_EQ(DriveChannel::dac_limit_for(0.0), 0U);
  EXPECT_EQ(DriveChannel::dac_limit_for(-0.5), 0U);
  EXPECT_EQ(DriveChannel::dac_limit_for(std::numeric_limits<double>::quiet_NaN()), 0U);
  EXPECT_EQ(DriveChannel::dac_limit_for(1.0), 32767U);
  EXPECT_EQ(DriveChannel::dac_limit_for(2.0), 32767U);
  // 0.8 of full scale: 26213.6 DAC codes, and the amplitude code may round up by 1/65535 / 2 (0.25 code).
  EXPECT_EQ(DriveChannel::dac_limit_for(0.8), 26214U);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> any(1e-6, 0.9999);
  for (int i = 0; i < 2000; ++i) {
    const double a = any(rng);
    const std::uint32_t limit = DriveChannel::dac_limit_for(a);
    RealisedDrive r;
    ASSERT_EQ(channel.realise(settings(25e3, a), r), ErrorCode::ok);
    // The realised peak never exceeds the limit, and the limit is less than 1.5 codes above the request.
    EXPECT_LE(static_cast<double>(r.amplitude_code) / 65535.0, static_cast<double>(limit) / 32767.0) << a;
    EXPECT_LT(static_cast<double>(limit) - a * 32767.0, 1.5) << a;
  }
}

TEST(DriveChannel, StatusBitsAreReadAndClearedOneByOne) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 1);
  EXPECT_FALSE(channel.status().clamped);
  EXPECT_FALSE(channel.status().amplifier_fault);
  bus.poke32(0x2F8, 0x1U);  // the logic latched kDriveClamped
  EXPECT_TRUE(channel.status().clamped);
  EXPECT_FALSE(channel.status().amplifier_fault);
  bus.poke32(0x2F8, 0x3U);  // and the amplifier fault
  EXPECT_TRUE(channel.status().clamped);
  EXPECT_TRUE(channel.status().amplifier_fault);
  EXPECT_FALSE(DriveChannel(bus, 0).status().clamped) << "channel 0 reads its own register (0x278)";

  // Clearing writes the chosen bits to DriveStatusClear (0x2FC); the logic drops those latches.
  channel.clear_status(DriveStatus{.clamped = true, .amplifier_fault = false});
  EXPECT_EQ(bus.peek32(0x2FC), 0x1U);
  channel.clear_status(DriveStatus{.clamped = false, .amplifier_fault = true});
  EXPECT_EQ(bus.peek32(0x2FC), 0x2U);
  EXPECT_EQ(bus.peek32(0x2F8), 0x3U) << "the status itself is the logic's to change";
  bus.poke32(0x2FC, 0x55U);
  channel.clear_status(DriveStatus{});
  EXPECT_EQ(bus.peek32(0x2FC), 0x55U) << "nothing to clear: nothing written";
}

TEST(DriveChannel, RampCommandsAndRampState) {
  FakeRegisterBus bus;
  DriveChannel channel(bus, 1);
  channel.ramp_up();
  EXPECT_EQ(bus.peek32(0x2D8), static_cast<std::uint32_t>(regmap::RampCommand::up));
  EXPECT_EQ(bus.peek32(0x2D8), 1U);
  channel.ramp_down();
  EXPECT_EQ(bus.peek32(0x2D8), 2U);
  EXPECT_EQ(bus.peek32(0x258), 0U) << "channel 0's ramp command untouched";

  // The logic's side: ramp factor in Q16 at 0x2DC, event sample (u64) at 0x2E0.
  bus.poke32(0x2DC, 49152U);
  EXPECT_DOUBLE_EQ(channel.ramp_factor(), 0.75);
  bus.poke32(0x2DC, 65536U);
  EXPECT_DOUBLE_EQ(channel.ramp_factor(), 1.0);
  bus.poke64(0x2E0, (std::uint64_t{1} << 36) + 5);
  EXPECT_EQ(channel.ramp_event_sample(), (std::uint64_t{1} << 36) + 5);
}

TEST(RegisterMap, Version2LayoutIsPinned) {
  // Literal offsets: a change of the map must be deliberate (and bump kMapVersionValue).
  EXPECT_EQ(regmap::kMapVersionValue, 2U);
  EXPECT_EQ(regmap::kReceiveChannels, 0x020U);
  EXPECT_EQ(regmap::kWritePointer, 0x048U);
  EXPECT_EQ(regmap::kSafetyStatus, 0x084U);
  EXPECT_EQ(regmap::kDriveBase, 0x200U);
  EXPECT_EQ(regmap::kDriveStride, 0x80U);
  EXPECT_EQ(regmap::dds_register(2, 1, regmap::kDdsAmplitude), 0x300U + 0x08U + 0x18U + 0x10U);
  EXPECT_EQ(regmap::drive_register(3, regmap::kDriveStatus), 0x3F8U);
  EXPECT_EQ(regmap::drive_register(3, regmap::kDriveStatusClear), 0x3FCU);
  EXPECT_EQ(regmap::offset_register(1, regmap::kOffsetDacLimit), 0x424U);
  EXPECT_EQ(regmap::kAwgBase, 0x1000U);
  EXPECT_EQ(regmap::kSeqTableBase, 0x1000U + 4U * 32768U);
  EXPECT_EQ(regmap::kRegisterBlockBytes, 0x1000U + 4U * 32768U + 1024U * 32U);
}

}  // namespace
}  // namespace mpi::drivers
