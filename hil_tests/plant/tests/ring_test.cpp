// The ADC ring: frame n at ring frame n mod 2^log2, the write pointer counting frames since the trigger and
// published after the samples, wrap-around seen through the firmware's AdcRing reader.
#include "plant_rig.hpp"

namespace mpi::hil::test {
namespace {

using namespace drivers::regmap;

PlantConfig small_ring_config() {
  PlantConfig c = quiet_config();
  c.board.ring_frames_log2 = 10;  // 1024 frames
  c.receive.noise_density_v_per_sqrt_hz = 2e-9;
  c.receive.feedthrough_v_per_t_per_s = 1e-6;
  return c;
}

TEST(PlantRing, WritePointerCountsFramesAndTheRingWraps) {
  PlantRig rig(small_ring_config());
  ASSERT_EQ(rig.ring.ring_frames(), 1024U);
  const drivers::RealisedDrive d = rig.configure(25'000.0, 0.5, 0.2, 1);
  rig.drive.ramp_up();
  EXPECT_EQ(rig.plant.step(300), 0U);  // not running: nothing generated
  EXPECT_EQ(rig.ring.write_pointer(), 0U);
  rig.start();
  std::uint64_t expected_pointer = 0;
  for (int i = 0; i < 17; ++i) {
    EXPECT_EQ(rig.plant.step(300), 300U);
    expected_pointer += 300;
    ASSERT_EQ(rig.ring.write_pointer(), expected_pointer);
    ASSERT_EQ(rig.plant.sample_index(), expected_pointer);
  }
  // 5100 frames: the ring has wrapped four times. The newest 1023 frames are readable across the wrap (the
  // slot of the oldest of 1024 is the one the logic fills next)...
  const std::uint64_t first = expected_pointer - 1023;
  const std::vector<std::int16_t> frames = rig.read(first, 1023);
  for (std::uint64_t k = 0; k < 1023; ++k) {
    const std::uint64_t n = first + k;
    const long double expected = 50.0L * drive_field(rig.config, d, n, 0.0L, 1.0L) * 32767.0L;
    ASSERT_LE(std::fabs(frames[2 * k + 1] - expected), 0.5L + 1e-6L) << "sample " << n;
    // ...and sit at ring frame n mod 1024.
    const std::span<const std::int16_t> ring = rig.bus.ring();
    ASSERT_EQ(ring[(n % 1024) * 2], frames[2 * k]);
    ASSERT_EQ(ring[(n % 1024) * 2 + 1], frames[2 * k + 1]);
  }
  // ...older frames are reported overwritten, future ones not written yet.
  std::vector<std::int16_t> out(2 * 10);
  EXPECT_EQ(rig.ring.read(first - 2, 10, out), drivers::ErrorCode::overwritten);
  EXPECT_EQ(rig.ring.read(expected_pointer - 5, 10, out), drivers::ErrorCode::not_written_yet);
}

TEST(PlantRing, ABlockLargerThanTheRingKeepsTheNewestFrames) {
  PlantRig rig(small_ring_config());
  const drivers::RealisedDrive d = rig.configure(25'000.0, 0.5, 0.0, 1);
  rig.drive.ramp_up();
  rig.start();
  EXPECT_EQ(rig.plant.step(3000), 3000U);
  EXPECT_EQ(rig.ring.write_pointer(), 3000U);
  const std::vector<std::int16_t> frames = rig.read(3000 - 1023, 1023);
  for (std::uint64_t k = 0; k < 1023; ++k) {
    const long double expected = 50.0L * drive_field(rig.config, d, 3000 - 1023 + k, 0.0L, 1.0L) * 32767.0L;
    ASSERT_LE(std::fabs(frames[2 * k + 1] - expected), 0.5L + 1e-6L);
  }
}

// The samples depend only on the sample index, not on how the frames were split into steps (the pace).
TEST(PlantRing, SamplesDoNotDependOnTheStepSize) {
  PlantConfig c = small_ring_config();
  c.board.ring_frames_log2 = 14;
  std::vector<std::vector<std::int16_t>> runs;
  for (std::uint32_t block : {1U, 777U, 4096U}) {
    PlantRig rig(c);
    (void)rig.configure(25'000.0, 0.7, 0.1, 3000);
    rig.drive.ramp_up();
    rig.start();
    rig.run(12'000, block);
    runs.push_back(rig.read(0, 12'000));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

}  // namespace
}  // namespace mpi::hil::test
