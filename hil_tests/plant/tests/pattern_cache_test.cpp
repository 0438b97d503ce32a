// The pattern cache: it must give the direct path's samples, and nothing may depend on how step() is
// chunked.
#include "plant_rig.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace mpi::hil::test {
namespace {

PlantConfig rich_config() {
  PlantConfig c = small_config();
  c.tracer = single_core(2e-6);
  c.scanner.receive.channels[0].feedthrough_v_s_per_t = 2e-6;
  c.scanner.receive.channels[0].fundamental_suppression_db = 40.0;
  c.scanner.receive.channels[1].fundamental_suppression_db = 20.0;
  return c;
}

void drive_2d(PlantRig& rig, std::uint64_t extra_increment = 0) {
  rig.dds(0, 0, increment_for_period(128) + extra_increment, 30000, 777);
  rig.dds(1, 0, increment_for_period(64) + extra_increment, 25000, 1ULL << 45);
  rig.switch_on(0, 200);
  rig.switch_on(1, 200);
  rig.regs.write32(rm::offset_register(0, rm::kOffsetStaticValue), 500);
}

// Largest |a - b| over the samples and channels, relative to the channel's largest |b|.
double worst_relative(const PlantRig& a, const PlantRig& b, std::uint64_t from, std::uint64_t to, unsigned channels) {
  double worst = 0.0;
  for (unsigned c = 0; c < channels; ++c) {
    double peak = 0.0;
    for (std::uint64_t n = from; n < to; ++n) peak = std::max(peak, std::abs(b.plant.adc_input_v(n, c)));
    EXPECT_GT(peak, 0.0) << c;
    for (std::uint64_t n = from; n < to; ++n) {
      worst = std::max(worst, std::abs(a.plant.adc_input_v(n, c) - b.plant.adc_input_v(n, c)) / peak);
    }
  }
  return worst;
}

TEST(PatternCache, CachedSamplesAgreeWithTheDirectPath) {
  PlantRig cached(rich_config(), {.caching = true, .record = true});
  PlantRig direct(rich_config(), {.caching = false, .record = true});
  for (PlantRig* rig : {&cached, &direct}) {
    drive_2d(*rig);
    rig->start();
    rig->run(9000, 1000);
    rig->regs.write32(rm::dds_register(0, 0, rm::kDdsAmplitude), 28000);  // a command: rebuild
    rig->run(9000, 1000);
  }
  EXPECT_GT(cached.plant.statistics().pattern_builds, 1U);
  EXPECT_GT(cached.plant.statistics().cached_samples, 10000U);
  EXPECT_EQ(direct.plant.statistics().cached_samples, 0U);
  EXPECT_LT(worst_relative(cached, direct, 0, 18000, 4), 1e-9);
  for (std::uint64_t n = 0; n < 16000; ++n) {
    for (unsigned c = 0; c < 4; ++c) ASSERT_NEAR(cached.sample(n, c), direct.sample(n, c), 1) << n << " " << c;
  }
}

// With the amplifier's harmonic distortion the harmonics repeat within the drive's pattern: the cache
// replays them exactly as the direct path computes them, also after an amplitude command.
TEST(PatternCache, CachedSamplesAgreeWithTheDirectPathWithAmplifierDistortion) {
  PlantConfig c = rich_config();
  c.scanner.drive[0].harmonic_distortion = {0.01, 3e-3, 1e-3};
  c.scanner.drive[1].harmonic_distortion = {0.02};
  PlantRig cached(c, {.caching = true, .record = true});
  PlantRig direct(c, {.caching = false, .record = true});
  PlantConfig clean_config = c;
  for (auto& d : clean_config.scanner.drive) d.harmonic_distortion.clear();
  PlantRig clean(clean_config, {.caching = true, .record = true});
  for (PlantRig* rig : {&cached, &direct, &clean}) {
    drive_2d(*rig);
    rig->start();
    rig->run(9000, 1000);
    rig->regs.write32(rm::dds_register(0, 0, rm::kDdsAmplitude), 28000);
    rig->run(9000, 1000);
  }
  EXPECT_GT(cached.plant.statistics().pattern_builds, 1U);
  EXPECT_GT(cached.plant.statistics().cached_samples, 10000U);
  EXPECT_LT(worst_relative(cached, direct, 0, 18000, 4), 1e-9);
  // ... and the distortion is there: the receive channel with feedthrough differs from the clean scanner's.
  EXPECT_GT(worst_relative(cached, clean, 0, 18000, 1), 1e-3);
}

TEST(PatternCache, InexactPeriodsAreCachedAndRebuiltWhenThePhaseDrifts) {
  PlantRig cached(rich_config(), {.caching = true, .record = true, .max_pattern_samples = 1U << 18});
  PlantRig direct(rich_config(), {.caching = false, .record = true});
  for (PlantRig* rig : {&cached, &direct}) {
    // 2^48 / (32 * increment) is within 1e-6 of 128 and 64 samples but not exact.
    drive_2d(*rig, 3);
    rig->start();
    rig->run(16000, 4000);
  }
  EXPECT_GT(cached.plant.statistics().cached_samples, 10000U);
  EXPECT_LT(worst_relative(cached, direct, 0, 16000, 4), 1e-5);  // the phase tolerance, 1e-7 turn
}

TEST(PatternCache, SamplesDoNotDependOnHowStepIsChunked) {
  PlantConfig c = rich_config();
  c.scanner.receive.channels[0].noise_density_v_per_sqrt_hz = 2e-9;
  c.scanner.receive.channels[1].noise_density_v_per_sqrt_hz = 2e-9;
  PlantRig whole(c, {.caching = true, .record = false});
  PlantRig pieces(c, {.caching = true, .record = false});
  drive_2d(whole);
  drive_2d(pieces);
  whole.start();
  pieces.start();
  whole.run(16000, 16000);
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::uint32_t> size(1, 700);
  std::uint64_t done = 0;
  while (done < 16000) done += pieces.plant.step(static_cast<std::uint32_t>(std::min<std::uint64_t>(size(rng), 16000 - done)));
  for (std::uint64_t n = 0; n < 16000; ++n) {
    for (unsigned ch = 0; ch < 4; ++ch) ASSERT_EQ(whole.sample(n, ch), pieces.sample(n, ch)) << n << " " << ch;
  }
}

TEST(PatternCache, NoiseIsReseededAtEveryTriggerFromSeedAndTriggerCount) {
  PlantConfig c = small_config();
  c.scanner.receive.channels[0].noise_density_v_per_sqrt_hz = 5e-9;
  PlantRig a(c);
  PlantRig b(c);
  a.start();
  a.run(1000);
  std::vector<std::int16_t> first;
  for (std::uint64_t n = 0; n < 1000; ++n) first.push_back(a.sample(n, 0));
  a.stop();
  a.plant.step(1);
  a.start();
  a.run(1000);
  b.start();
  b.run(1000);
  int same_as_b = 0;
  int same_as_first = 0;
  for (std::uint64_t n = 0; n < 1000; ++n) {
    same_as_b += a.sample(n, 0) == b.sample(n, 0) ? 1 : 0;
    same_as_first += first[n] == b.sample(n, 0) ? 1 : 0;
  }
  EXPECT_EQ(same_as_first, 1000);  // trigger 1 of both plants
  EXPECT_LT(same_as_b, 200);       // trigger 2 differs
  // sigma = density * sqrt(fs / 2) at the coil, times the LNA gain, in codes.
  double sum = 0.0;
  for (std::int16_t v : first) sum += static_cast<double>(v) * v;
  EXPECT_NEAR(std::sqrt(sum / 1000.0), 5e-9 * std::sqrt(1.25e6) * 100.0 * 32767.0, 0.1 * 5e-9 * std::sqrt(1.25e6) * 100.0 * 32767.0);
}

}  // namespace
}  // namespace mpi::hil::test
