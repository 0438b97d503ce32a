// Faults, scheduled from the plant's configuration and commanded while it runs.
#include "plant_rig.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace mpi::hil::test {
namespace {

constexpr unsigned kRefX = 2;

Fault fault(FaultKind kind, double at_s = 0.0) {
  Fault f;
  f.kind = kind;
  f.at_s = at_s;
  return f;
}

TEST(FaultInjection, AmplifierDropoutDecaysWithTheRlLagAndLatchesTheFault) {
  PlantConfig c = small_config();
  Fault f = fault(FaultKind::amplifier_dropout, 1e-3);  // sample 2500
  f.channel = "x";
  f.duration_s = 0.4e-3;                                 // 1000 samples
  c.faults.push_back(f);
  PlantRig rig(c);
  rig.regs.write32(rm::drive_register(0, rm::kDriveDcOffset), 8000);
  rig.switch_on(0);
  rig.start();
  rig.run(2500);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveStatus)) & rm::kDriveAmplifierFault, 0U);
  rig.run(500);
  EXPECT_NE(rig.regs.read32(rm::drive_register(0, rm::kDriveStatus)) & rm::kDriveAmplifierFault, 0U);
  EXPECT_NE(rig.safety() & rm::kAmplifierFault, 0U);
  const double steady = 40.0 * 20e-3 * 8000.0 / 32767.0;
  EXPECT_GT(rig.plant.adc_input_v(2500, kRefX), 0.9 * steady);  // decays, no cut
  const double decay = std::exp(-1.0 / 50.0);
  for (std::uint64_t n = 2501; n < 2700; ++n) ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX) / rig.plant.adc_input_v(n - 1, kRefX), decay, 1e-9);
  rig.run(3000);  // recovered after the duration; the latches stay until cleared
  EXPECT_NEAR(rig.plant.adc_input_v(5999, kRefX), steady, 1e-9);
  EXPECT_NE(rig.safety() & rm::kAmplifierFault, 0U);
  rig.regs.write32(rm::kSafetyClear, rm::kAmplifierFault);
  rig.regs.write32(rm::drive_register(0, rm::kDriveStatusClear), rm::kDriveAmplifierFault);
  rig.run(10);
  EXPECT_EQ(rig.safety() & rm::kAmplifierFault, 0U);
  EXPECT_EQ(rig.regs.read32(rm::drive_register(0, rm::kDriveStatus)) & rm::kDriveAmplifierFault, 0U);
}

TEST(FaultInjection, OverTemperatureJumpsThenCools) {
  PlantRig rig(small_config());
  rig.start();
  rig.run(100);
  Fault f = fault(FaultKind::over_temperature);
  f.sensor = "coil_y";
  f.temperature_k = 363.15;
  rig.plant.inject(f);
  EXPECT_EQ(static_cast<std::int32_t>(rig.regs.read32(rm::temperature_register(1))), 90000);
  EXPECT_NE(rig.safety() & rm::kOverTemperature, 0U);
  rig.run(2500 * 100, 50000);  // 100 ms, cooling time constant 0.1 s
  const double t = 295.15 + (363.15 - 295.15) * std::exp(-1.0);
  EXPECT_NEAR(rig.plant.coil_temperature_k(1), t, 1e-9);
  EXPECT_EQ(rig.safety() & rm::kOverTemperature, 0U);  // 47 degC is below the 60 degC limit
}

TEST(FaultInjection, AdcSaturationClipsForItsDuration) {
  PlantConfig c = small_config();
  Fault f = fault(FaultKind::adc_saturation, 0.4e-3);  // sample 1000
  f.channel = "rx_y";
  f.duration_s = 0.2e-3;                              // 500 samples
  c.faults.push_back(f);
  PlantRig rig(c);
  rig.start();
  rig.run(2000);
  for (std::uint64_t n = 0; n < 2000; ++n) ASSERT_EQ(rig.sample(n, 1), n >= 1000 && n < 1500 ? 32767 : 0) << n;
  EXPECT_EQ(rig.regs.read32(rm::kAdcOverrange), 1U << 1);
  EXPECT_NE(rig.safety() & rm::kAdcOverrangeAny, 0U);
}

TEST(FaultInjection, ClockGlitchLosesSamplesAndLatchesClockUnlocked) {
  PlantConfig c = small_config();
  PlantRig reference(c);
  c.faults.push_back(fault(FaultKind::clock_glitch, 0.4e-3));
  c.faults.back().samples = 3;
  PlantRig glitched(c);
  for (PlantRig* rig : {&reference, &glitched}) {
    rig->dds(0, 0, increment_for_period(128) + 5, 30000);
    rig->switch_on(0);
    rig->start();
    rig->run(3000);
  }
  for (std::uint64_t n = 0; n < 1000; ++n) ASSERT_EQ(glitched.sample(n, kRefX), reference.sample(n, kRefX)) << n;
  for (std::uint64_t n = 1000; n < 2990; ++n) {
    for (unsigned ch = 0; ch < 4; ++ch) ASSERT_EQ(glitched.sample(n, ch), reference.sample(n + 3, ch)) << n;
  }
  EXPECT_EQ(glitched.regs.read32(rm::kClockSlipSamples), 3U);
  EXPECT_NE(glitched.safety() & rm::kClockUnlocked, 0U);
  EXPECT_EQ(glitched.regs.read64(rm::kWritePointer), 3000U);
  EXPECT_EQ(glitched.plant.physics_sample(), 3003U);
}

TEST(FaultInjection, StuckPointerHoldsThePointerWhileTheRingIsWritten) {
  PlantRig rig(small_config());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(1000);
  Fault f = fault(FaultKind::stuck_pointer);
  f.duration_s = 0.2e-3;  // 500 samples
  rig.plant.inject(f);
  rig.run(300);
  EXPECT_EQ(rig.regs.read64(rm::kWritePointer), 1000U);
  int nonzero = 0;
  for (std::uint64_t n = 1000; n < 1300; ++n) nonzero += rig.sample(n, kRefX) != 0 ? 1 : 0;
  EXPECT_GT(nonzero, 250);
  rig.run(300);
  EXPECT_EQ(rig.regs.read64(rm::kWritePointer), 1600U);
}

TEST(FaultInjection, InterlockAndInstantStopAreStatusBits) {
  PlantRig rig(small_config());
  EXPECT_NE(rig.safety() & rm::kInterlockClosed, 0U);
  rig.plant.inject(parse_control_command("interlock open"));
  EXPECT_EQ(rig.safety() & rm::kInterlockClosed, 0U);
  rig.plant.inject(parse_control_command("instant_stop press"));
  EXPECT_NE(rig.safety() & rm::kInstantStop, 0U);
  rig.plant.inject(parse_control_command("instant_stop release"));
  rig.plant.inject(parse_control_command("interlock close"));
  EXPECT_EQ(rig.safety(), rm::kInterlockClosed);
  EXPECT_THROW(rig.plant.inject(parse_control_command("amplifier_dropout q")), std::invalid_argument);
  EXPECT_THROW(rig.plant.inject(parse_control_command("adc_saturation ref_q 1 ms")), std::invalid_argument);
}

TEST(FaultInjection, FaultsNamingUnknownChannelsAreRefused) {
  PlantConfig c = small_config();
  c.faults.push_back(fault(FaultKind::amplifier_dropout, 0.1));
  c.faults.back().channel = "w";
  try {
    check_faults(c.faults, c.scanner, "faults.toml");
    FAIL() << "accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("faults.toml: [[fault]] #1 (amplifier_dropout) channel: the scanner has no drive channel 'w'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mpi::hil::test
