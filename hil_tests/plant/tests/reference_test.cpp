// The reference pickup (ADC channel 1) reproduces B_D(t_n) of the register map's DDS formula and the
// drive calibration, within the ADC's quantisation.
#include "plant_rig.hpp"

namespace mpi::hil::test {
namespace {

using namespace drivers::regmap;

long double reference_codes(const PlantConfig& c, long double field) {
  return static_cast<long double>(c.receive.reference_v_per_t) * field / c.receive.adc_full_scale_v * 32767.0L;
}

TEST(PlantReference, ReproducesTheDdsFormulaAndCalibration) {
  PlantRig rig(quiet_config());
  const drivers::RealisedDrive d = rig.configure(25'000.0, 0.6, 0.7, 1);
  rig.drive.ramp_up();
  rig.start();
  rig.run(10'000, 1000);
  ASSERT_EQ(rig.ring.write_pointer(), 10'000U);
  const std::vector<std::int16_t> frames = rig.read(0, 10'000);
  long double peak = 0;
  for (std::uint64_t n = 0; n < 10'000; ++n) {
    const long double field = drive_field(rig.config, d, n, 0.0L, ramp_up_factor(static_cast<long double>(n), 1.0L));
    peak = std::max(peak, std::fabs(field));
    const long double expected = reference_codes(rig.config, field);
    ASSERT_LE(std::fabs(frames[2 * n + 1] - expected), 0.5L + 1e-6L) << "sample " << n;
  }
  // 0.6 of 20 mT full scale played.
  EXPECT_NEAR(static_cast<double>(peak), 0.012, 1e-5);
}

TEST(PlantReference, PhaseOffsetAndOddIncrementsAreExact) {
  // A frequency whose increment times the decimation wraps the 48-bit phase many times per period, and a
  // phase near a full turn.
  PlantRig rig(quiet_config());
  double frequency = 1'234'567.89;
  drivers::RealisedDrive probe;
  for (int i = 0; i < 100; ++i, frequency += 0.4) {
    ASSERT_EQ(rig.drive.realise({frequency, 1.0, 6.2, 1}, probe), drivers::ErrorCode::ok);
    if (probe.phase_increment % 2 != 0) break;
  }
  const drivers::RealisedDrive d = rig.configure(frequency, 1.0, 6.2, 1);
  ASSERT_NE(d.phase_increment % 2, 0U);
  rig.drive.ramp_up();
  rig.start();
  rig.run(4096, 4096);
  const std::vector<std::int16_t> frames = rig.read(0, 4096);
  for (std::uint64_t n = 1; n < 4096; ++n) {
    const long double expected = reference_codes(rig.config, drive_field(rig.config, d, n, 0.0L, 1.0L));
    ASSERT_LE(std::fabs(frames[2 * n + 1] - expected), 0.5L + 1e-6L) << "sample " << n;
  }
}

TEST(PlantReference, DisabledChannelPlaysNothing) {
  PlantRig rig(quiet_config());
  (void)rig.configure(25'000.0, 0.5, 0.0, 1);
  rig.drive.enable(false);
  rig.drive.ramp_up();
  rig.start();
  rig.run(2000, 500);
  const std::vector<std::int16_t> frames = rig.read(0, 2000);
  for (std::int16_t s : frames) ASSERT_EQ(s, 0);
}

TEST(PlantReference, RetriggerRestartsThePhaseAndTheWritePointer) {
  PlantRig rig(quiet_config());
  (void)rig.configure(25'000.0, 0.5, 1.0, 1);
  rig.drive.ramp_up();
  rig.start();
  rig.run(3000, 1000);
  const std::vector<std::int16_t> first = rig.read(0, 2000);
  rig.stop();
  EXPECT_EQ(rig.plant.step(1000), 0U);
  EXPECT_EQ(rig.bus.read32(kAcqStatus) & kAcqRunning, 0U);
  EXPECT_EQ(rig.ring.write_pointer(), 3000U);
  rig.start();
  EXPECT_EQ(rig.plant.step(0), 0U);
  EXPECT_EQ(rig.ring.write_pointer(), 0U);
  EXPECT_NE(rig.bus.read32(kAcqStatus) & kAcqRunning, 0U);
  rig.run(2000, 700);
  const std::vector<std::int16_t> second = rig.read(0, 2000);
  // The ramp stayed at 1 across the stop, so the second acquisition plays from sample 0 exactly like the
  // first did from sample 1 on.
  for (std::size_t n = 1; n < 2000; ++n) ASSERT_EQ(first[2 * n + 1], second[2 * n + 1]) << "sample " << n;
}

TEST(PlantReference, ReportsTheInterlockClosed) {
  PlantRig rig(quiet_config());
  EXPECT_EQ(rig.bus.read32(kSafetyStatus) & kInterlockClosed, kInterlockClosed);
}

}  // namespace
}  // namespace mpi::hil::test
