// Counter-pattern mode: every ADC sample carries its own index, the board logic runs on.
#include "mpi/hil/counter_pattern_checker.hpp"
#include "plant_rig.hpp"

#include <gtest/gtest.h>

namespace mpi::hil::test {
namespace {

// The pattern written out independently of counter_pattern_sample(): sample index n * channels + c, taken
// modulo 2^16 and read back as a two's complement int16.
std::int16_t expected(std::uint64_t n, unsigned c, unsigned channels) {
  const std::uint64_t v = (n * channels + c) % 65536U;
  return static_cast<std::int16_t>(v >= 32768U ? static_cast<std::int64_t>(v) - 65536 : static_cast<std::int64_t>(v));
}

PlantConfig small_ring_config() {
  PlantConfig c = small_config();
  c.scanner.board.ring_frames_log2 = 12;  // 4096 frames: the runs below wrap the ring several times
  return c;
}

PlantOptions counter_options() {
  PlantOptions o;
  o.counter_pattern = true;
  return o;
}

TEST(CounterPattern, HelperMatchesTheDefinition) {
  EXPECT_EQ(counter_pattern_sample(0, 0, 4), 0);
  EXPECT_EQ(counter_pattern_sample(1, 2, 4), 6);
  EXPECT_EQ(counter_pattern_sample(8191, 3, 4), 32767);  // 8191 * 4 + 3 = 0x7FFF
  EXPECT_EQ(counter_pattern_sample(8192, 0, 4), -32768);
  EXPECT_EQ(counter_pattern_sample(16384, 0, 4), 0);  // 65536 wraps to 0
  for (std::uint64_t n : {0ULL, 1ULL, 12345ULL, 1ULL << 40}) {
    for (unsigned c = 0; c < 6; ++c) EXPECT_EQ(counter_pattern_sample(n, c, 6), expected(n, c, 6)) << n << " " << c;
  }
}

TEST(CounterPattern, EverySampleCarriesItsIndexAcrossRingWraps) {
  PlantRig rig(small_ring_config(), counter_options());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0, 200);
  rig.start();
  const unsigned channels = rig.config.scanner.adc_channels();
  const std::uint64_t ring = std::uint64_t{1} << 12;
  std::uint64_t done = 0;
  const std::uint32_t blocks[] = {1, 999, 4096, 37, 3000};  // uneven blocks, one a whole ring
  for (int round = 0; round < 4; ++round) {
    for (std::uint32_t block : blocks) {
      done += rig.plant.step(block);
      ASSERT_EQ(rig.regs.read64(rm::kWritePointer), done);
      // The last ring's worth of frames are all in the ring.
      for (std::uint64_t n = done > ring ? done - ring : 0; n < done; ++n) {
        for (unsigned c = 0; c < channels; ++c) ASSERT_EQ(rig.sample(n, c), expected(n, c, channels)) << "frame " << n << " channel " << c;
      }
    }
  }
  EXPECT_GT(done, 3 * ring);
  // The board logic ran on: the 200-sample ramp is complete.
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), rm::kRampFactorOne);
}

TEST(CounterPattern, PhysicsModeDoesNotWriteThePattern) {
  PlantRig rig(small_ring_config());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(1000);
  const unsigned channels = rig.config.scanner.adc_channels();
  unsigned matches = 0;
  for (std::uint64_t n = 0; n < 1000; ++n) matches += rig.sample(n, 2) == expected(n, 2, channels) ? 1U : 0U;
  EXPECT_LT(matches, 10U);
}

TEST(CounterPattern, ClockGlitchKeepsTheAdcIndexContinuous) {
  PlantConfig c = small_ring_config();
  Fault glitch;
  glitch.kind = FaultKind::clock_glitch;
  glitch.at_s = 0.4e-3;
  glitch.samples = 3;
  c.faults.push_back(glitch);
  PlantRig rig(c, counter_options());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  const unsigned channels = rig.config.scanner.adc_channels();
  for (std::uint64_t n = 0; n < 3000; ++n) {
    for (unsigned ch = 0; ch < channels; ++ch) ASSERT_EQ(rig.sample(n, ch), expected(n, ch, channels)) << n;
  }
  EXPECT_EQ(rig.regs.read64(rm::kWritePointer), 3000U);
  EXPECT_EQ(rig.plant.physics_sample(), 3003U);
  EXPECT_NE(rig.safety() & rm::kClockUnlocked, 0U);
}

TEST(CounterPattern, RestartsAtZeroOnTheNextTrigger) {
  PlantRig rig(small_ring_config(), counter_options());
  rig.start();
  rig.run(500);
  rig.stop();
  rig.plant.step(10);
  rig.start();
  rig.run(100);
  const unsigned channels = rig.config.scanner.adc_channels();
  EXPECT_EQ(rig.regs.read64(rm::kWritePointer), 100U);
  for (std::uint64_t n = 0; n < 100; ++n) ASSERT_EQ(rig.sample(n, 0), expected(n, 0, channels)) << n;
}

}  // namespace
}  // namespace mpi::hil::test

namespace mpi::hil::test {
namespace {

std::vector<std::byte> chunk_bytes(std::uint64_t first, std::uint64_t frames, unsigned channels) {
  std::vector<std::byte> out;
  for (std::uint64_t n = first; n < first + frames; ++n) {
    for (unsigned c = 0; c < channels; ++c) {
      const auto v = static_cast<std::uint16_t>((n * channels + c) & 0xFFFFU);
      out.push_back(static_cast<std::byte>(v & 0xFFU));
      out.push_back(static_cast<std::byte>(v >> 8U));
    }
  }
  return out;
}

TEST(CounterPatternChecker, AcceptsAnInOrderStream) {
  CounterPatternChecker checker(6);
  checker.check(0, 100, chunk_bytes(0, 100, 6));
  checker.check(100, 20000, chunk_bytes(100, 20000, 6));
  EXPECT_TRUE(checker.clean()) << checker.first_problem();
  EXPECT_EQ(checker.frames_checked(), 20100U);
  EXPECT_EQ(checker.next_frame(), 20100U);
}

TEST(CounterPatternChecker, CountsLostDuplicatedWrongAndMalformed) {
  CounterPatternChecker checker(3);
  checker.check(0, 10, chunk_bytes(0, 10, 3));
  checker.check(15, 10, chunk_bytes(15, 10, 3));  // 10 .. 14 lost
  EXPECT_EQ(checker.lost_frames(), 5U);
  EXPECT_NE(checker.first_problem().find("10 .. 14"), std::string::npos) << checker.first_problem();
  checker.check(20, 10, chunk_bytes(20, 10, 3));  // 20 .. 24 again
  EXPECT_EQ(checker.duplicated_frames(), 5U);
  std::vector<std::byte> bad = chunk_bytes(30, 4, 3);
  bad[2 * (1 * 3 + 2)] ^= std::byte{1};  // frame 31, channel 2
  checker.check(30, 4, bad);
  EXPECT_EQ(checker.wrong_samples(), 1U);
  checker.check(34, 4, chunk_bytes(34, 3, 3));  // payload of 3 frames for 4
  EXPECT_EQ(checker.malformed_chunks(), 1U);
  EXPECT_FALSE(checker.clean());
  EXPECT_THROW(CounterPatternChecker(0), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::hil::test
