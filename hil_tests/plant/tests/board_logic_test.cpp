// The register semantics of register_map.hpp as the plant's logic plays them, checked through the
// reference pickups (ADC input before quantisation) and the registers, against the map's formulas.
#include "plant_rig.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace mpi::hil::test {
namespace {

constexpr unsigned kRefX = 2;  // ADC channel of drive x's reference pickup (after 2 receive channels)
constexpr double kTeslaPerFullScale = 0.020;
constexpr double kReference = 40.0;

// Settled reference input of drive x for the given components: 40 V/T * 20 mT * sum A_k/65535 sin(...).
long double expected_ref(const std::vector<std::array<std::uint64_t, 3>>& components, long double t, std::uint64_t sync = 0) {
  long double sum = 0.0L;
  for (const auto& c : components) {
    sum += static_cast<long double>(c[1]) / 65535.0L * sine_of_turns(turns_at(c[2], c[0], 32, t - static_cast<long double>(sync)));
  }
  return kReference * kTeslaPerFullScale * sum;
}

TEST(BoardLogic, IdentificationAndResetValues) {
  PlantRig rig(small_config());
  EXPECT_EQ(rig.regs.read32(rm::kMapVersion), rm::kMapVersionValue);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveDacLimit)), 32767U);
  EXPECT_EQ(rig.regs.read32(rm::kSafetyStatus) & rm::kInterlockClosed, rm::kInterlockClosed);
  EXPECT_EQ(static_cast<std::int32_t>(rig.regs.read32(rm::temperature_register(0))), 22000);
}

TEST(BoardLogic, DdsComponentsAddUp) {
  PlantRig rig(small_config());
  const std::vector<std::array<std::uint64_t, 3>> comps = {
      {increment_for_period(128), 30000, 12345678901ULL}, {increment_for_period(64), 5000, 0}, {increment_for_period(32), 2000, 1ULL << 46}};
  for (unsigned k = 0; k < 3; ++k) rig.dds(0, k, comps[k][0], static_cast<std::uint32_t>(comps[k][1]), comps[k][2]);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  for (std::uint64_t n = 2000; n < 3000; n += 7) {
    ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX), static_cast<double>(expected_ref(comps, n)), 1e-9) << n;
    const long double code = std::round(expected_ref(comps, n) * 32767.0L);
    ASSERT_NEAR(rig.sample(n, kRefX), static_cast<double>(code), 1.0) << n;
  }
}

TEST(BoardLogic, ResyncStepRestartsThePhases) {
  PlantRig rig(small_config());
  const std::vector<std::array<std::uint64_t, 3>> comps = {{increment_for_period(128) + 12345, 30000, 1ULL << 45}};
  rig.dds(0, 0, comps[0][0], 30000, comps[0][2]);
  rig.switch_on(0);
  rig.regs.write32(rm::kSeqStepSamples, 1500);
  rig.regs.write32(rm::seq_slot_register(0, rm::kStepFlags), rm::kStepEnable);
  rig.regs.write32(rm::seq_slot_register(1, rm::kStepFlags), rm::kStepEnable | rm::kStepResync);
  rig.regs.write64(rm::kSeqWriteCount, 2);
  rig.regs.write32(rm::kSeqControl, rm::kSeqEnable);
  rig.start();
  rig.run(2900);
  for (std::uint64_t n = 1200; n < 1500; n += 5) ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX), static_cast<double>(expected_ref(comps, n)), 1e-9);
  for (std::uint64_t n = 1500; n < 2900; n += 5) ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX), static_cast<double>(expected_ref(comps, n, 1500)), 1e-9);
  EXPECT_EQ(rig.regs.read64(rm::kSeqReadIndex), 1U);
}

TEST(BoardLogic, ArbitraryWaveformIsInterpolatedLinearly) {
  PlantRig rig(small_config());
  const std::int16_t points[8] = {0, 20000, 32767, 10000, -5000, -32767, -20000, -1000};
  for (unsigned pair = 0; pair < 4; ++pair) {
    const auto lo = static_cast<std::uint16_t>(points[2 * pair]);
    const auto hi = static_cast<std::uint16_t>(points[2 * pair + 1]);
    rig.regs.write32(rm::awg_word(0, pair), static_cast<std::uint32_t>(lo) | (static_cast<std::uint32_t>(hi) << 16));
  }
  const std::uint64_t increment = increment_for_period(128) + 999;  // not a whole number of samples per point
  rig.dds(0, 0, increment, 0, 0);
  rig.regs.write32(rm::drive_register(0, rm::kDriveAwgPoints), 8);
  rig.regs.write32(rm::drive_register(0, rm::kDriveAwgAmplitude), 40000);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  for (std::uint64_t n = 2000; n < 3000; n += 3) {
    const long double position = turns_at(0, increment, 32, n) * 8.0L;
    const auto i = static_cast<int>(std::floor(position));
    const long double f = position - i;
    const long double v = points[i] + f * (points[(i + 1) % 8] - points[i]);
    const long double expected = kReference * kTeslaPerFullScale * 40000.0L / 65535.0L * v / 32767.0L;
    ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX), static_cast<double>(expected), 1e-9) << n;
  }
}

TEST(BoardLogic, DacLimitClampsAndLatchesUntilCleared) {
  PlantRig rig(small_config());
  rig.dds(0, 0, increment_for_period(128), 65535);
  rig.regs.write32(rm::drive_register(0, rm::kDriveDacLimit), 16384);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  double peak = 0.0;
  for (std::uint64_t n = 2000; n < 3000; ++n) peak = std::max(peak, std::abs(rig.plant.adc_input_v(n, kRefX)));
  EXPECT_NEAR(peak, kReference * kTeslaPerFullScale * 16384.0 / 32767.0, 1e-9);
  EXPECT_NE(rig.regs.read32(rm::drive_register(0, rm::kDriveStatus)) & rm::kDriveClamped, 0U);
  // Below the limit the latch stays until the firmware writes the bit.
  rig.regs.write32(rm::dds_register(0, 0, rm::kDdsAmplitude), 10000);
  rig.run(500);
  EXPECT_NE(rig.regs.read32(rm::drive_register(0, rm::kDriveStatus)) & rm::kDriveClamped, 0U);
  rig.regs.write32(rm::drive_register(0, rm::kDriveStatusClear), rm::kDriveClamped);
  rig.run(500);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveStatus)) & rm::kDriveClamped, 0U);
}

TEST(BoardLogic, RampMovesTheFactorLinearlyAndOnlyWhileRunning) {
  PlantRig rig(small_config());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0, 1000);
  rig.plant.step(100);  // stopped: the ramp waits for the trigger
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), 0U);
  rig.start();
  rig.run(400);
  EXPECT_EQ(rig.regs.read64(rm::drive_register(0, rm::kDriveRampEventSample)), 0U);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), std::lround(0.4 * 65536));
  rig.run(1600);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), 65536U);
  rig.ramp(0, rm::RampCommand::down);
  rig.run(250);
  EXPECT_EQ(rig.regs.read64(rm::drive_register(0, rm::kDriveRampEventSample)), 2000U);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), std::lround(0.75 * 65536));
  rig.stop();
  rig.plant.step(1000);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), std::lround(0.75 * 65536));
  rig.start();  // continues from 0.75 at sample 0
  rig.run(2000);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveRampFactor)), 0U);
  // The field follows the ramped output through the RL lag: it decays to zero.
  EXPECT_LT(std::abs(rig.plant.adc_input_v(1999, kRefX)), 1e-12);
}

TEST(BoardLogic, DisabledAmplifierDecaysWithTheRlTimeConstant) {
  PlantRig rig(small_config());
  rig.regs.write32(rm::drive_register(0, rm::kDriveDcOffset), 10000);
  rig.switch_on(0);
  rig.start();
  rig.run(2000);
  const double steady = kReference * kTeslaPerFullScale * 10000.0 / 32767.0;
  EXPECT_NEAR(rig.plant.adc_input_v(1999, kRefX), steady, 1e-12);
  rig.regs.write32(rm::drive_register(0, rm::kDriveAmplifierControl), 0);
  rig.run(200);
  const double decay = std::exp(-1.0 / (20e-6 * 2.5e6));  // per sample
  EXPECT_LT(rig.plant.adc_input_v(2000, kRefX), steady);
  EXPECT_GT(rig.plant.adc_input_v(2000, kRefX), 0.9 * steady);  // no cut
  for (std::uint64_t n = 2001; n < 2200; ++n) {
    ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX) / rig.plant.adc_input_v(n - 1, kRefX), decay, 1e-9) << n;
  }
  // A disabled channel outputs zero as well.
  rig.regs.write32(rm::drive_register(0, rm::kDriveAmplifierControl), rm::kAmplifierEnable);
  rig.regs.write32(rm::drive_register(0, rm::kDriveControl), 0);
  rig.run(2000);
  EXPECT_LT(std::abs(rig.plant.adc_input_v(4199, kRefX)), 1e-12);
}

TEST(BoardLogic, SequenceTableStepsWithLookAheadAndCountsLostSteps) {
  PlantRig rig(small_config());
  const std::int32_t values[] = {1000, -2000, 3000, -4000, 5000};
  const auto write_step = [&](unsigned k) {
    rig.regs.write32(rm::seq_slot_register(k % rm::kSeqSlots, rm::kStepFlags), rm::kStepEnable);
    rig.regs.write32(rm::seq_value_register(k % rm::kSeqSlots, 0), static_cast<std::uint32_t>(values[k]));
  };
  for (unsigned k = 0; k < 4; ++k) write_step(k);
  rig.regs.write64(rm::kSeqWriteCount, 4);
  rig.regs.write32(rm::kSeqStepSamples, 5000);
  rig.regs.write32(rm::kSeqControl, rm::kSeqEnable);
  rig.start();
  const double tesla_per_code = 50e-3 / 32767.0;
  rig.run(10000);
  EXPECT_NEAR(rig.plant.total_field_t(9999).x(), -2000 * tesla_per_code, 1e-12);
  EXPECT_NEAR(rig.plant.total_field_t(4999).x(), 1000 * tesla_per_code, 1e-12);
  // The first-order lag of the focus coil: a step of the target relaxes with its time constant.
  const double a = std::exp(-1.0 / (50e-6 * 2.5e6));
  const double r = (rig.plant.total_field_t(5201).x() - (-2000 * tesla_per_code)) / (rig.plant.total_field_t(5200).x() - (-2000 * tesla_per_code));
  EXPECT_NEAR(r, a, 1e-6);
  rig.run(6000);  // in step 3; refill step 4 ahead of time
  write_step(4);
  rig.regs.write64(rm::kSeqWriteCount, 5);
  rig.run(14000);  // to sample 30000: steps 4 (written) and 5 (lost)
  EXPECT_EQ(rig.regs.read64(rm::kSeqReadIndex), 5U);
  EXPECT_EQ(rig.regs.read32(rm::kSeqLostSteps), 1U);
  EXPECT_EQ(rig.regs.read64(rm::kSeqFirstLostSample), 25000U);
  EXPECT_EQ(static_cast<std::int32_t>(rig.regs.read32(rm::offset_register(0, rm::kOffsetOutput))), 5000);  // held
  EXPECT_NEAR(rig.plant.total_field_t(29999).x(), 5000 * tesla_per_code, 1e-12);
}

TEST(BoardLogic, StepWithoutEnableSwitchesTheDriveOffAndStaticValuesApplyWithoutTable) {
  PlantRig rig(small_config());
  rig.regs.write32(rm::offset_register(0, rm::kOffsetStaticValue), static_cast<std::uint32_t>(-3000));
  rig.regs.write32(rm::offset_register(0, rm::kOffsetDacLimit), 2000);
  rig.regs.write32(rm::drive_register(0, rm::kDriveDcOffset), 10000);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  EXPECT_NEAR(rig.plant.total_field_t(2999).x(), -2000 * 50e-3 / 32767.0 + 0.020 * 10000.0 / 32767.0, 1e-12);
  EXPECT_EQ(static_cast<std::int32_t>(rig.regs.read32(rm::offset_register(0, rm::kOffsetOutput))), -2000);
}

TEST(BoardLogic, WatchdogExpiryRampsEveryDriveDownByItself) {
  PlantRig rig(small_config());
  for (unsigned d = 0; d < 2; ++d) {
    rig.dds(d, 0, increment_for_period(128), 20000);
    rig.switch_on(d, 500);
  }
  rig.regs.write32(rm::kWatchdogTimeoutSamples, 3000);
  rig.start();
  rig.run(2900);
  rig.regs.write32(rm::kWatchdogKick, 1);  // a kick at sample 2900
  rig.run(2990);
  EXPECT_EQ(rig.safety() & rm::kWatchdogExpired, 0U);
  rig.run(20);  // expires at 5900
  EXPECT_NE(rig.safety() & rm::kWatchdogExpired, 0U);
  rig.run(1000);
  for (unsigned d = 0; d < 2; ++d) {
    EXPECT_EQ(rig.regs.read64(rm::drive_register(d, rm::kDriveRampEventSample)), 5900U);
    EXPECT_EQ(rig.regs.read32(rm::drive_register(d, rm::kDriveRampFactor)), 0U);
  }
  rig.regs.write32(rm::kSafetyClear, rm::kWatchdogExpired);
  rig.run(10);
  EXPECT_EQ(rig.safety() & rm::kWatchdogExpired, 0U);
}

TEST(BoardLogic, OverrangeSetsChannelBitsUntilTheNextTrigger) {
  PlantConfig c = small_config();
  c.scanner.drive[0].reference_v_per_t = 1000.0;  // 20 V at full field: clips
  PlantRig rig(c);
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(500);
  EXPECT_EQ(rig.regs.read32(rm::kAdcOverrange), 1U << kRefX);
  EXPECT_NE(rig.safety() & rm::kAdcOverrangeAny, 0U);
  std::int16_t top = 0;
  for (std::uint64_t n = 0; n < 500; ++n) top = std::max(top, rig.sample(n, kRefX));
  EXPECT_EQ(top, 32767);
  rig.regs.write32(rm::dds_register(0, 0, rm::kDdsAmplitude), 0);
  rig.run(1000);  // the field decays below the clipping level
  rig.regs.write32(rm::kSafetyClear, rm::kAdcOverrangeAny);
  rig.run(3000);
  EXPECT_EQ(rig.safety() & rm::kAdcOverrangeAny, 0U);
  EXPECT_EQ(rig.regs.read32(rm::kAdcOverrange), 1U << kRefX);  // this run
  rig.stop();
  rig.plant.step(10);
  rig.start();
  rig.run(10);
  EXPECT_EQ(rig.regs.read32(rm::kAdcOverrange), 0U);
}

TEST(BoardLogic, AdcQuantisationClearsTheLowBits) {
  PlantConfig c = small_config();
  c.scanner.receive.adc_bits = 12;
  PlantRig rig(c);
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(1000);
  bool nonzero = false;
  for (std::uint64_t n = 0; n < 1000; ++n) {
    ASSERT_EQ(rig.sample(n, kRefX) & 0xF, 0) << n;
    nonzero = nonzero || rig.sample(n, kRefX) != 0;
  }
  EXPECT_TRUE(nonzero);
}

TEST(BoardLogic, RobotMovesTheSampleOverItsGrid) {
  PlantConfig c = small_config();
  config::RobotDescription robot;
  robot.centre_m = {0.0, 0.0, 0.0};
  robot.grid = {3, 2, 1};
  robot.fov_m = {6e-3, 4e-3, 1e-3};
  robot.sample_edge_m = 0.1e-3;
  robot.iron_kg = 5e-9;
  robot.move_time_s = 1e-3;
  c.phantom = {};
  c.phantom.voxel_size_m = 0.5e-3;
  c.phantom.robot = robot;
  PlantRig rig(c);
  ASSERT_EQ(rig.plant.model().sources().size(), 1U);
  EXPECT_NEAR(rig.plant.model().sources()[0].position_m.x(), -2e-3, 1e-12);
  rig.regs.write32(rm::kRobotTarget, 5);  // (2, 1, 0): two steps along x
  rig.plant.step(100);
  EXPECT_EQ(rig.regs.read32(rm::kRobotStatus), rm::kRobotMoving);
  rig.plant.step(4800);  // 4900 of the 5000 samples of two 1 ms steps
  EXPECT_EQ(rig.regs.read32(rm::kRobotStatus), rm::kRobotMoving);
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), 0U);
  rig.plant.step(100);
  EXPECT_EQ(rig.regs.read32(rm::kRobotStatus), 0U);
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), 5U);
  EXPECT_NEAR(rig.plant.model().sources()[0].position_m.x(), 2e-3, 1e-12);
  EXPECT_NEAR(rig.plant.model().sources()[0].position_m.y(), 1e-3, 1e-12);
}

// The park position: the sample leaves the bore (no particle source: the background with the robot parked
// is the empty bore's) and comes back to a grid point. Both moves take move_time times the largest grid
// count (3 here: 3 ms = 7500 samples at 2.5 MS/s).
TEST(BoardLogic, RobotParksTheSampleOutOfTheBoreAndComesBack) {
  PlantConfig c = small_config();
  config::RobotDescription robot;
  robot.grid = {3, 2, 1};
  robot.fov_m = {6e-3, 4e-3, 1e-3};
  robot.sample_edge_m = 0.1e-3;
  robot.iron_kg = 5e-9;
  robot.move_time_s = 1e-3;
  c.phantom = {};
  c.phantom.voxel_size_m = 0.5e-3;
  c.phantom.robot = robot;
  PlantRig rig(c);
  const auto samples = [&](double s) { return static_cast<std::uint32_t>(std::llround(s * rig.plant.sample_rate_hz())); };
  ASSERT_FALSE(rig.plant.model().sources().empty());
  rig.regs.write32(rm::kRobotTarget, rm::kRobotPark);
  rig.plant.step(samples(3e-3) - 100);
  EXPECT_EQ(rig.regs.read32(rm::kRobotStatus), rm::kRobotMoving);
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), 0U);
  EXPECT_FALSE(rig.plant.model().sources().empty()) << "the sample left before the robot arrived";
  rig.plant.step(200);
  EXPECT_EQ(rig.regs.read32(rm::kRobotStatus), 0U);
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), rm::kRobotPark);
  EXPECT_TRUE(rig.plant.model().sources().empty());
  // Back to (1, 1, 0) = index 4: the same 3 ms, then the sample at x = 0, y = +1 mm.
  rig.regs.write32(rm::kRobotTarget, 4);
  rig.plant.step(samples(3e-3) - 100);
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), rm::kRobotPark);
  EXPECT_TRUE(rig.plant.model().sources().empty());
  rig.plant.step(200);
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), 4U);
  ASSERT_EQ(rig.plant.model().sources().size(), 1U);
  EXPECT_NEAR(rig.plant.model().sources()[0].position_m.x(), 0.0, 1e-12);
  EXPECT_NEAR(rig.plant.model().sources()[0].position_m.y(), 1e-3, 1e-12);
  // An index off the grid is ignored: the robot stays.
  rig.regs.write32(rm::kRobotTarget, 6);
  rig.plant.step(samples(5e-3));
  EXPECT_EQ(rig.regs.read32(rm::kRobotPosition), 4U);
  EXPECT_EQ(rig.regs.read32(rm::kRobotStatus), 0U);
}

}  // namespace
}  // namespace mpi::hil::test
