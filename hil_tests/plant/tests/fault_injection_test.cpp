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

// --- sample holder ---

// small_config() with everything that is no particle signal switched on: drive feedthrough, receive noise,
// the analog notch (when `notch`), amplifier distortion and thermal gain drift.
PlantConfig holder_config(bool notch = true) {
  PlantConfig c = small_config();
  for (auto& rx : c.scanner.receive.channels) {
    rx.feedthrough_v_s_per_t = 1e-6;
    rx.noise_density_v_per_sqrt_hz = 2e-9;
    if (notch) rx.fundamental_suppression_db = 40.0;
  }
  c.scanner.drive[0].harmonic_distortion = {1e-3, 3e-4};
  c.scanner.drive[1].gain_drift_per_k = -2e-3;
  return c;
}

PlantConfig empty_phantom(PlantConfig c) {
  c.phantom = points({});
  return c;
}

void drive_both(PlantRig& rig) {
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.dds(1, 0, increment_for_period(64), 20000, std::uint64_t{1} << 45);
  rig.switch_on(0);
  rig.switch_on(1);
}

// Starts an acquisition of `frames` frames, then stops it (the stop is seen at the next step).
void acquire(PlantRig& rig, std::uint64_t frames) {
  rig.start();
  rig.run(frames);
  rig.stop();
  rig.plant.step(1);
  ASSERT_FALSE(rig.plant.running());
}

constexpr unsigned kReceive = 2;

// Frames [from, to) of both receive channels, ADC codes and ADC inputs, equal bit for bit.
void expect_same_receive(const PlantRig& a, const PlantRig& b, std::uint64_t from, std::uint64_t to, const char* what) {
  for (std::uint64_t n = from; n < to; ++n) {
    for (unsigned ch = 0; ch < kReceive; ++ch) {
      ASSERT_EQ(a.sample(n, ch), b.sample(n, ch)) << what << ": frame " << n << " channel " << ch;
      ASSERT_EQ(a.plant.adc_input_v(n, ch), b.plant.adc_input_v(n, ch)) << what << ": frame " << n << " channel " << ch;
    }
  }
}

std::uint64_t differing_receive_samples(const PlantRig& a, const PlantRig& b, std::uint64_t frames) {
  std::uint64_t count = 0;
  for (std::uint64_t n = 0; n < frames; ++n) {
    for (unsigned ch = 0; ch < kReceive; ++ch) count += a.sample(n, ch) != b.sample(n, ch) ? 1 : 0;
  }
  return count;
}

TEST(FaultInjection, SampleHolderOutGivesTheEmptyBoreAndInGivesTheSampleBack) {
  constexpr std::uint64_t kFrames = 6000;
  PlantRig with_sample(holder_config());
  PlantRig empty(empty_phantom(holder_config()));
  PlantRig holder(holder_config());
  ASSERT_TRUE(empty.plant.model().sources().empty());
  for (PlantRig* rig : {&with_sample, &empty, &holder}) drive_both(*rig);

  holder.plant.inject(parse_control_command("sample_holder out"));
  holder.plant.inject(parse_control_command("sample_holder out"));  // out twice = out
  EXPECT_TRUE(holder.plant.model().sources().empty());
  for (PlantRig* rig : {&with_sample, &empty, &holder}) acquire(*rig, kFrames);
  // The particles are visible (else the comparisons below could not tell the states apart) ...
  ASSERT_GT(differing_receive_samples(with_sample, empty, kFrames), kFrames / 2);
  // ... and with the holder out the plant receives exactly what the empty phantom's plant receives: the
  // feedthrough, distortion, noise and notch are all still there.
  std::uint64_t nonzero = 0;
  for (std::uint64_t n = 0; n < kFrames; ++n) nonzero += empty.sample(n, 0) != 0 ? 1 : 0;
  EXPECT_GT(nonzero, kFrames / 2);
  expect_same_receive(holder, empty, 0, kFrames, "sample out");

  holder.plant.inject(parse_control_command("sample_holder in"));
  holder.plant.inject(parse_control_command("sample_holder in"));  // in twice = in
  ASSERT_EQ(holder.plant.model().sources().size(), with_sample.plant.model().sources().size());
  for (PlantRig* rig : {&with_sample, &empty, &holder}) acquire(*rig, kFrames);
  ASSERT_GT(differing_receive_samples(with_sample, empty, kFrames), kFrames / 2);
  expect_same_receive(holder, with_sample, 0, kFrames, "sample in");
}

TEST(FaultInjection, ScheduledSampleHolderActsAtItsSampleDuringAnAcquisition) {
  // Direct path (no pattern cache) and no notch: after the one sample whose moment difference straddles
  // the change, the signal is the other plant's exactly.
  constexpr std::uint64_t kOut = 2500;   // 1 ms
  constexpr std::uint64_t kIn = 5000;    // 2 ms
  constexpr std::uint64_t kFrames = 7500;
  const PlantOptions direct{.caching = false, .record = true};
  PlantConfig c = holder_config(false);
  PlantRig with_sample(c, direct);
  PlantRig empty(empty_phantom(c), direct);
  c.faults = parse_faults(R"(
[[fault]]
kind = "sample_holder"
at = "1 ms"
state = "out"
[[fault]]
kind = "sample_holder"
at = "2 ms"
state = "in"
)",
                          "faults.toml");
  PlantRig holder(c, direct);
  for (PlantRig* rig : {&with_sample, &empty, &holder}) {
    drive_both(*rig);
    rig->start();
    rig->run(kFrames, 700);
  }
  ASSERT_GT(differing_receive_samples(with_sample, empty, kFrames), kFrames / 2);
  expect_same_receive(holder, with_sample, 0, kOut, "before out");
  expect_same_receive(holder, empty, kOut + 1, kIn, "out");
  expect_same_receive(holder, with_sample, kIn + 1, kFrames, "in again");
}

TEST(FaultInjection, SampleHolderInPutsTheRobotsSampleBackWhereTheRobotIs) {
  constexpr std::uint64_t kFrames = 6000;
  const auto robot_config = [](double iron_kg) {
    PlantConfig c = holder_config();
    config::RobotDescription robot;
    robot.grid = {3, 2, 1};
    robot.fov_m = {6e-3, 4e-3, 1e-3};
    robot.sample_edge_m = 0.1e-3;
    robot.iron_kg = iron_kg;
    robot.move_time_s = 1e-3;
    c.phantom = {};
    c.phantom.voxel_size_m = 0.5e-3;
    c.phantom.robot = robot;
    return c;
  };
  PlantRig with_sample(robot_config(5e-9));
  PlantRig empty(robot_config(0.0));   // a holder without iron
  PlantRig holder(robot_config(5e-9));
  holder.plant.inject(parse_control_command("sample_holder out"));
  for (PlantRig* rig : {&with_sample, &empty, &holder}) {
    drive_both(*rig);
    rig->regs.write32(rm::kRobotTarget, 5);  // (2, 1, 0): two 1 ms steps
    for (int i = 0; i < 6; ++i) rig->plant.step(1000);
    ASSERT_EQ(rig->regs.read32(rm::kRobotPosition), 5U);
  }
  EXPECT_TRUE(holder.plant.model().sources().empty());  // the robot moved, the holder stayed empty
  for (PlantRig* rig : {&with_sample, &empty, &holder}) acquire(*rig, kFrames);
  ASSERT_GT(differing_receive_samples(with_sample, empty, kFrames), kFrames / 2);
  expect_same_receive(holder, empty, 0, kFrames, "sample out");

  holder.plant.inject(parse_control_command("sample_holder in"));
  ASSERT_EQ(holder.plant.model().sources().size(), 1U);
  EXPECT_NEAR(holder.plant.model().sources()[0].position_m.x(), 2e-3, 1e-12);  // position 5, not the start
  EXPECT_NEAR(holder.plant.model().sources()[0].position_m.y(), 1e-3, 1e-12);
  for (PlantRig* rig : {&with_sample, &empty, &holder}) acquire(*rig, kFrames);
  expect_same_receive(holder, with_sample, 0, kFrames, "sample in");
}

}  // namespace
}  // namespace mpi::hil::test
