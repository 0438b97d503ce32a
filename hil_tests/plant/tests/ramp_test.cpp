// The logic's ramp: linear at 1/RampSamples per sample from the sample at which a command applies, the
// event sample recorded, the factor reported in Q16, ramp-down to 0 that stays at 0.
#include "plant_rig.hpp"

#include "mpi/hil/ramp.hpp"

namespace mpi::hil::test {
namespace {

using namespace drivers::regmap;

std::uint32_t q16(long double f) { return static_cast<std::uint32_t>(std::llround(f * 65536.0L)); }

TEST(Ramp, RisesLinearlyAndHoldsAtOne) {
  Ramp ramp;
  EXPECT_EQ(ramp.factor(100.0), 0.0);
  ramp.apply(RampCommand::up, 10, 100);
  EXPECT_EQ(ramp.factor(5.0), 0.0);
  EXPECT_EQ(ramp.factor(10.0), 0.0);
  EXPECT_DOUBLE_EQ(ramp.factor(35.0), 0.25);
  EXPECT_EQ(ramp.factor(110.0), 1.0);
  EXPECT_EQ(ramp.factor(1e9), 1.0);
  EXPECT_EQ(ramp.factor_q16(60), 32768U);
}

TEST(Ramp, DownStartsFromThePresentValue) {
  Ramp ramp;
  ramp.apply(RampCommand::up, 0, 100);
  ramp.apply(RampCommand::down, 40, 100);  // at 0.4
  EXPECT_DOUBLE_EQ(ramp.factor(40.0), 0.4);
  EXPECT_DOUBLE_EQ(ramp.factor(60.0), 0.2);
  EXPECT_EQ(ramp.factor(80.0), 0.0);
  EXPECT_EQ(ramp.factor(1e6), 0.0);
}

TEST(Ramp, HoldCommandAndZeroDurationAreSafe) {
  Ramp ramp;
  ramp.apply(RampCommand::hold, 0, 100);
  EXPECT_EQ(ramp.factor(50.0), 0.0);
  ramp.apply(RampCommand::up, 0, 0);  // taken as one sample
  EXPECT_EQ(ramp.factor(1.0), 1.0);
}

TEST(Ramp, StopFreezesAndTheNextAcquisitionContinues) {
  Ramp ramp;
  ramp.apply(RampCommand::up, 0, 100);
  ramp.stop_at(30);
  EXPECT_DOUBLE_EQ(ramp.factor(0.0), 0.3);
  EXPECT_DOUBLE_EQ(ramp.factor(10.0), 0.4);
}

TEST(PlantRamp, UpFromSampleZeroThenDownToZero) {
  PlantRig rig(quiet_config());
  constexpr std::uint32_t kRamp = 1000;
  const drivers::RealisedDrive d = rig.configure(25'000.0, 0.5, 0.0, kRamp);
  rig.drive.ramp_up();            // written while stopped: applies at the trigger
  EXPECT_EQ(rig.plant.step(100), 0U);
  EXPECT_EQ(rig.drive.ramp_factor(), 0.0);  // the factor only moves while acquisition runs
  rig.start();

  std::uint64_t n = 0;
  while (n < 1500) {
    n += rig.plant.step(100);
    EXPECT_EQ(rig.drive.ramp_event_sample(), 0U);
    EXPECT_EQ(rig.bus.read32(drive_register(0, kDriveRampFactor)), q16(ramp_up_factor(static_cast<long double>(n), kRamp))) << "at " << n;
  }
  EXPECT_EQ(rig.drive.ramp_factor(), 1.0);
  // The reference channel carries the ramp: B_D(t_n) = calibration * amplitude * n / RampSamples * sin(...)
  const std::vector<std::int16_t> up = rig.read(0, 1500);
  for (std::uint64_t k = 0; k < 1500; ++k) {
    const long double field = drive_field(rig.config, d, k, 0.0L, ramp_up_factor(static_cast<long double>(k), kRamp));
    ASSERT_LE(std::fabs(up[2 * k + 1] - 50.0L * field * 32767.0L), 0.5L + 1e-6L) << "sample " << k;
  }

  rig.drive.ramp_down();
  const std::uint64_t down_at = n;
  while (n < down_at + 2500) {
    n += rig.plant.step(100);
    EXPECT_EQ(rig.drive.ramp_event_sample(), down_at);
    const long double expected = std::clamp(1.0L - static_cast<long double>(n - down_at) / kRamp, 0.0L, 1.0L);
    EXPECT_EQ(rig.bus.read32(drive_register(0, kDriveRampFactor)), q16(expected)) << "at " << n;
  }
  EXPECT_EQ(rig.drive.ramp_factor(), 0.0);
  const std::vector<std::int16_t> down = rig.read(down_at, 2500);
  for (std::uint64_t k = 0; k < 2500; ++k) {
    const long double factor = std::clamp(1.0L - static_cast<long double>(k) / kRamp, 0.0L, 1.0L);
    const long double field = drive_field(rig.config, d, down_at + k, 0.0L, factor);
    ASSERT_LE(std::fabs(down[2 * k + 1] - 50.0L * field * 32767.0L), 0.5L + 1e-6L) << "sample " << down_at + k;
    if (k >= kRamp) {
      ASSERT_EQ(down[2 * k + 1], 0) << "field after the ramp-down at sample " << down_at + k;
    }
  }
}

TEST(PlantRamp, CommandIsConsumedAndAppliedAtThePresentSample) {
  PlantRig rig(quiet_config());
  (void)rig.configure(25'000.0, 0.5, 0.0, 400);
  rig.start();
  rig.run(1234, 1234);
  EXPECT_EQ(rig.drive.ramp_factor(), 0.0);
  rig.drive.ramp_up();
  rig.run(100, 100);
  EXPECT_EQ(rig.bus.read32(drive_register(0, kDriveRampCommand)), 0U);  // taken by the logic
  EXPECT_EQ(rig.drive.ramp_event_sample(), 1234U);
  EXPECT_EQ(rig.bus.read32(drive_register(0, kDriveRampFactor)), q16(100.0L / 400.0L));
  // Ramp down half-way: from the present value.
  rig.drive.ramp_down();
  rig.run(50, 50);
  EXPECT_EQ(rig.drive.ramp_event_sample(), 1334U);
  EXPECT_EQ(rig.bus.read32(drive_register(0, kDriveRampFactor)), q16(50.0L / 400.0L));
  rig.run(1000, 300);
  EXPECT_EQ(rig.drive.ramp_factor(), 0.0);
}

}  // namespace
}  // namespace mpi::hil::test
