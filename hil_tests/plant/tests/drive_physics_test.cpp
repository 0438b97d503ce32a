// The drive chain: reference pickups against the calibration, thermal drift, coil heating and cooling.
#include "plant_rig.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mpi::hil::test {
namespace {

constexpr unsigned kRefX = 2;

TEST(DrivePhysics, ReferencePickupHasTheCalibratedAmplitudeAndPhase) {
  PlantConfig c = small_config();
  c.scanner.drive[0].amplifier_phase_rad = -0.3;
  c.scanner.drive[0].amplifier_gain_a_per_v = 8.0;  // 16 mT at full scale
  PlantRig rig(c);
  const std::uint64_t increment = increment_for_period(128);
  const std::uint64_t offset = 123456789012ULL;
  rig.dds(0, 0, increment, 40000, offset);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  // Demodulate one whole period of the pickup and compare with V/T * field amplitude and phase.
  double re = 0.0;
  double im = 0.0;
  for (std::uint64_t n = 2048; n < 2048 + 128; ++n) {
    const double phase = 2.0 * std::numbers::pi * static_cast<double>(turns_at(offset, increment, 32, n));
    re += rig.plant.adc_input_v(n, kRefX) * std::sin(phase);
    im += rig.plant.adc_input_v(n, kRefX) * std::cos(phase);
  }
  const double amplitude = 2.0 * std::hypot(re, im) / 128.0;
  const double phase = std::atan2(im, re);
  EXPECT_NEAR(amplitude, 40.0 * 1.0 * 8.0 * 2e-3 * 40000.0 / 65535.0, 1e-9);
  EXPECT_NEAR(phase, -0.3, 1e-9);
  // Codes: V / full scale * 32767, rounded.
  for (std::uint64_t n = 2048; n < 2176; ++n) {
    const long double v = 40.0L * 16e-3L * 40000.0L / 65535.0L * sine_of_turns(turns_at(offset, increment, 32, n), -0.3L);
    ASSERT_EQ(rig.sample(n, kRefX), static_cast<std::int16_t>(std::round(v * 32767.0L))) << n;
  }
}

// The amplifier's harmonic distortion reaches the receive coil through the feedthrough u = -k dB/dt: the
// field carries B_h = a_h B_1 sin(h (phase + amplifier phase)), so the receive voltage's harmonic h has the
// amplitude k * h * omega * B_h (here, before the LNA's gain; the plant differentiates over one sample, which
// lowers it by (h omega / fs)^2 / 24 < 0.1 %). No particles, no notch, no noise.
TEST(DrivePhysics, AmplifierHarmonicsReachTheReceiveCoilThroughTheFeedthrough) {
  PlantConfig c = small_config();
  c.phantom = points({});
  c.scanner.drive[0].amplifier_phase_rad = -0.3;
  c.scanner.drive[0].harmonic_distortion = {std::pow(10.0, -40.0 / 20.0), std::pow(10.0, -50.0 / 20.0)};
  constexpr double k = 1e-6;
  c.scanner.receive.channels[0].feedthrough_v_s_per_t = k;
  PlantRig rig(c);
  constexpr std::uint64_t kPeriod = 128;
  const std::uint64_t increment = increment_for_period(kPeriod);
  const std::uint64_t offset = 123456789012ULL;
  rig.dds(0, 0, increment, 40000, offset);
  rig.switch_on(0);
  rig.start();
  rig.run(3000);
  const double fs = rig.plant.sample_rate_hz();
  const double omega = 2.0 * std::numbers::pi * fs / kPeriod;
  const double b1 = 2e-3 * 10.0 * 40000.0 / 65535.0;  // T: coil sensitivity * amplifier gain * DAC fraction
  const double lna = c.scanner.receive.channels[0].lna_gain;
  const std::vector<double> a{1.0, c.scanner.drive[0].harmonic_distortion[0], c.scanner.drive[0].harmonic_distortion[1]};
  // The field at (fractional) sample t, independently of the plant.
  const auto field = [&](long double t) {
    long double b = 0.0L;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const long double h = static_cast<long double>(i + 1);
      b += a[i] * std::sin(h * (2.0L * std::numbers::pi_v<long double> * turns_at(offset, increment, 32, t) - 0.3L));
    }
    return b1 * b;
  };
  double peak = 0.0;
  for (std::uint64_t n = 2048; n < 2048 + kPeriod; ++n) peak = std::max(peak, std::abs(rig.plant.adc_input_v(n, 0)));
  for (std::uint64_t n = 2048; n < 2048 + kPeriod; ++n) {
    const auto t = static_cast<long double>(n);
    const double expected = static_cast<double>(-lna * k * fs * (field(t + 0.5L) - field(t - 0.5L)));
    ASSERT_NEAR(rig.plant.adc_input_v(n, 0), expected, 1e-9 * peak) << n;
  }
  // The closed form per harmonic: |U_h| = lna * k * h * omega * B_h, with the phase h * (phase - 0.3) + pi/2 of -d/dt.
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double h = static_cast<double>(i + 1);
    double re = 0.0;
    double im = 0.0;
    for (std::uint64_t n = 2048; n < 2048 + kPeriod; ++n) {
      const double phase = 2.0 * std::numbers::pi * static_cast<double>(turns_at(offset, increment, 32, n));
      re += rig.plant.adc_input_v(n, 0) * std::cos(h * (phase - 0.3));
      im += rig.plant.adc_input_v(n, 0) * std::sin(h * (phase - 0.3));
    }
    const double amplitude = 2.0 * std::hypot(re, im) / kPeriod;
    const double closed_form = lna * k * h * omega * b1 * a[i];
    EXPECT_NEAR(amplitude, closed_form, 1e-3 * closed_form) << "harmonic " << h;
    EXPECT_LT(std::abs(im), 1e-6 * std::abs(re)) << "harmonic " << h << ": -k dB/dt is a negative cosine";
    EXPECT_LT(re, 0.0) << "harmonic " << h;
  }
}

TEST(DrivePhysics, DriftMovesTheFieldByGainDriftTimesTheTemperatureRise) {
  PlantConfig c = small_config();
  c.scanner.drive[0].gain_drift_per_k = -0.004;
  c.scanner.drive[0].phase_drift_rad_per_k = 0.002;
  PlantRig rig(c);
  const std::uint64_t increment = increment_for_period(128);
  rig.dds(0, 0, increment, 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(2000);
  Fault hot;
  hot.kind = FaultKind::over_temperature;
  hot.channel = "x";
  hot.temperature_k = 295.15 + 7.0;
  rig.plant.inject(hot);
  rig.run(400);  // before the next millisecond's temperature update
  EXPECT_DOUBLE_EQ(rig.plant.coil_temperature_k(0), 302.15);
  const double gain = 1.0 - 0.004 * 7.0;
  for (std::uint64_t n = 2000; n < 2400; ++n) {
    const long double expected = 40.0L * 20e-3L * gain * 30000.0L / 65535.0L * sine_of_turns(turns_at(0, increment, 32, n), 0.014L);
    ASSERT_NEAR(rig.plant.adc_input_v(n, kRefX), static_cast<double>(expected), 1e-9) << n;
  }
}

TEST(DrivePhysics, CoilsHeatWithCurrentAndCoolAfterwards) {
  PlantRig rig(small_config());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.switch_on(0);
  rig.start();
  rig.run(2500 * 40, 10000);  // 40 ms
  const double ambient = 295.15;
  const double field = 20e-3 * 30000.0 / 65535.0;
  const double target = ambient + 20.0 * (field / 16e-3) * (field / 16e-3);
  const double expected = target + (ambient - target) * std::exp(-0.039 / 0.05);  // 39 updates after the first ms
  EXPECT_NEAR(rig.plant.coil_temperature_k(0), expected, 1e-6);
  EXPECT_NEAR(static_cast<std::int32_t>(rig.regs.read32(rm::temperature_register(0))), (expected - 273.15) * 1000.0, 1.0);
  EXPECT_NEAR(rig.plant.coil_temperature_k(1), ambient, 1e-12);  // y carries no current
  rig.stop();
  rig.plant.step(250000);  // 100 ms idle: cooling with its time constant
  EXPECT_NEAR(rig.plant.coil_temperature_k(0), ambient + (expected - ambient) * std::exp(-1.0), 1e-6);
}

TEST(DrivePhysics, TotalFieldIsTheSumOfDriveAndOffsetFieldsAlongTheirAxes) {
  PlantRig rig(small_config());
  rig.dds(0, 0, increment_for_period(128), 30000);
  rig.dds(1, 0, increment_for_period(64), 20000, 1ULL << 46);
  rig.switch_on(0);
  rig.switch_on(1);
  rig.regs.write32(rm::offset_register(0, rm::kOffsetStaticValue), 3000);
  rig.start();
  rig.run(4000);
  for (std::uint64_t n = 3500; n < 4000; n += 11) {
    const Eigen::Vector3d b = rig.plant.total_field_t(n);
    const long double bx = 20e-3L * 30000.0L / 65535.0L * sine_of_turns(turns_at(0, increment_for_period(128), 32, n)) + 50e-3L * 3000.0L / 32767.0L;
    const long double by = 20e-3L * 20000.0L / 65535.0L * sine_of_turns(turns_at(1ULL << 46, increment_for_period(64), 32, n));
    ASSERT_NEAR(b.x(), static_cast<double>(bx), 1e-13);
    ASSERT_NEAR(b.y(), static_cast<double>(by), 1e-13);
    ASSERT_EQ(b.z(), 0.0);
  }
}

}  // namespace
}  // namespace mpi::hil::test
