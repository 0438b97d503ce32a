// The drive-field controller against a simulated linear coil: the test holds the true complex transfer
// (gain and phase off from the nominal calibration, cross-talk between coils) and synthesises the int16
// reference pickup samples of the resulting field with the ADC's scaling.
#include "mpi/firmware/drive_field_control.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace mpi::firmware {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;
constexpr double kFs = 2.5e6;
constexpr std::uint32_t kBlock = 1200;
constexpr std::uint32_t kReceive = 2;
constexpr std::uint32_t kAdcChannels = kReceive + 3;
constexpr double kNominal = 20e-3;  // tesla per DAC full scale
constexpr double kVPerT = 30.0;
constexpr double kAdcFullScale = 1.0;
// Whole numbers of periods in a block of 1200 samples: 10, 12 and 15 periods.
constexpr double kF0 = kFs * 10 / kBlock;
constexpr double kF1 = kFs * 12 / kBlock;
constexpr double kF2 = kFs * 15 / kBlock;

DriveControlConfig make_config(std::vector<double> frequencies, bool decouple = false) {
  DriveControlConfig c;
  c.sample_rate_hz = kFs;
  c.adc_channels = kAdcChannels;
  c.receive_channels = kReceive;
  c.block_frames = kBlock;
  c.adc_full_scale_v = kAdcFullScale;
  c.decouple = decouple;
  for (double f : frequencies) {
    DriveControlChannelConfig ch;
    ch.frequency_hz = f;
    ch.nominal_tesla_per_full_scale = kNominal;
    ch.reference_v_per_t = kVPerT;
    ch.max_amplitude_t = 18e-3;
    c.channels.push_back(ch);
  }
  return c;
}

// B_d = sum_e H[d][e] u_e at each component's frequency; the pickup reads V/T * B through the ADC.
struct LinearCoil {
  std::size_t channels = 1;
  std::array<std::array<Complex, 3>, 3> h{};

  static LinearCoil with_error(std::size_t n, double gain, double phase_rad) {
    LinearCoil coil;
    coil.channels = n;
    for (std::size_t d = 0; d < n; ++d) coil.h[d][d] = std::polar(kNominal * gain, phase_rad);
    return coil;
  }

  // Field phasor at pickup d, for tone frequency f, from what the controller plays now.
  Complex field(const DriveFieldControl& control, std::size_t d, double f) const {
    Complex b{};
    for (std::size_t e = 0; e < channels; ++e) {
      for (std::size_t k = 0; k < control.component_count(); ++k) {
        const DacComponent& c = control.dac(e, k);
        if (std::abs(c.frequency_hz - f) < 1e-9 * f) b += h[d][e] * c.value();
      }
    }
    return b;
  }

  std::vector<std::int16_t> block(const DriveFieldControl& control, std::uint64_t first_sample) const {
    std::vector<std::int16_t> frames(std::size_t{kBlock} * kAdcChannels, 0);
    for (std::size_t n = 0; n < kBlock; ++n) {
      const double t = static_cast<double>(first_sample + n) / kFs;
      for (std::size_t d = 0; d < channels; ++d) {
        double b = 0.0;
        for (std::size_t e = 0; e < channels; ++e) {
          for (std::size_t k = 0; k < control.component_count(); ++k) {
            const DacComponent& c = control.dac(e, k);
            // a sin(2 pi f t + phi) = Im(a e^{i phi} e^{i 2 pi f t})
            b += std::imag(h[d][e] * c.value() * std::polar(1.0, 2.0 * kPi * c.frequency_hz * t));
          }
        }
        const double code = std::round(kVPerT * b / kAdcFullScale * 32767.0);
        frames[n * kAdcChannels + kReceive + d] = static_cast<std::int16_t>(std::clamp(code, -32768.0, 32767.0));
      }
    }
    return frames;
  }
};

bool within(Complex measured, double amplitude, double phase, double amp_tol = 1e-3, double phase_tol = 0.1 * kDeg) {
  const double da = std::abs(measured) / amplitude - 1.0;
  const double dp = std::remainder(std::arg(measured) - phase, 2.0 * kPi);
  return std::abs(da) <= amp_tol && std::abs(dp) <= phase_tol;
}

TEST(DriveFieldControl, DemodulationOfAKnownSineIsExactToTheAdcQuantisation) {
  DriveFieldControl control(make_config({kF0, kF1}));
  const double a0 = 20000.0;  // codes
  const double p0 = 0.7;
  const double a1 = 9000.0;
  const double p1 = -2.1;
  const std::uint64_t first = 123457;  // phases count from the trigger, not from the block
  std::vector<std::int16_t> frames(std::size_t{kBlock} * kAdcChannels, 0);
  for (std::size_t n = 0; n < kBlock; ++n) {
    const double t = static_cast<double>(first + n) / kFs;
    // Pickup 0 carries both tones; the demodulation at each tone must reject the other.
    const double x = a0 * std::sin(2 * kPi * kF0 * t + p0) + a1 * std::sin(2 * kPi * kF1 * t + p1);
    frames[n * kAdcChannels + kReceive] = static_cast<std::int16_t>(std::round(x));
    frames[n * kAdcChannels + kReceive + 1] = static_cast<std::int16_t>(std::round(a1 * std::sin(2 * kPi * kF1 * t + p1)));
  }
  std::array<std::array<Complex, kMaxControlledChannels>, kMaxControlTones> m{};
  ASSERT_TRUE(control.demodulate(frames, first, m));
  const double tesla_per_code = kAdcFullScale / 32767.0 / kVPerT;
  // Rounding moves each sample by at most half a code: each quadrature by at most (2/N) N/2 = 1 code.
  const double bound = std::sqrt(2.0) * tesla_per_code;
  const std::size_t t0 = control.tone_of_channel(0);
  const std::size_t t1 = control.tone_of_channel(1);
  EXPECT_LE(std::abs(m[t0][0] - std::polar(a0 * tesla_per_code, p0)), bound);
  EXPECT_LE(std::abs(m[t1][0] - std::polar(a1 * tesla_per_code, p1)), bound);
  EXPECT_LE(std::abs(m[t1][1] - std::polar(a1 * tesla_per_code, p1)), bound);
  EXPECT_LE(std::abs(m[t0][1]), bound);
  // Half a code is 1/40000 of the amplitude: the phase within 3e-5 rad.
  EXPECT_NEAR(std::arg(m[t0][0]), p0, 3e-5);
}

TEST(DriveFieldControl, ABlockOfTheWrongSizeIsRefused) {
  DriveFieldControl control(make_config({kF0}));
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  const DacComponent before = control.dac(0, 0);
  std::vector<std::int16_t> frames(std::size_t{kBlock - 1} * kAdcChannels, 0);
  const ControlReport& r = control.update(frames, 0);
  EXPECT_EQ(r.verdict, ControlVerdict::bad_block);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(control.dac(0, 0).amplitude_code, before.amplitude_code);
}

TEST(DriveFieldControl, ConfigurationErrorsNameTheSetting) {
  auto c = make_config({kFs * 10.5 / kBlock});
  try {
    DriveFieldControl control(c);
    FAIL() << "a block holding 10.5 periods was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("channel 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("whole number"), std::string::npos) << e.what();
  }
  c = make_config({kF0});
  c.damping = 0.0;
  EXPECT_THROW(DriveFieldControl{c}, std::invalid_argument);
  c = make_config({kF0, kF1, kF2});
  c.adc_channels = 4;
  EXPECT_THROW(DriveFieldControl{c}, std::invalid_argument);
}

TEST(DriveFieldControl, DacSettingsFollowTheRegisterUnits) {
  DriveFieldControl control(make_config({kF0}));
  // Nominal feed-forward: u = T / H0 = (10 mT / 20 mT) e^{i pi/2}: code 32768 (rounded), phase 1/4 turn.
  ASSERT_EQ(control.set_target(0, 10e-3, kPi / 2), ControlVerdict::ok);
  EXPECT_EQ(control.dac(0, 0).amplitude_code, 32768U);
  EXPECT_EQ(control.dac(0, 0).phase_offset, std::uint64_t{1} << 46);
}

// Runs the loop; returns the number of updates after which a fresh block is within bounds (0 = never).
template <typename Check>
int updates_to_converge(DriveFieldControl& control, const LinearCoil& coil, int max_updates, Check within_bounds) {
  std::uint64_t sample = 0;
  for (int k = 1; k <= max_updates; ++k) {
    const ControlReport& r = control.update(coil.block(control, sample), sample);
    EXPECT_EQ(r.verdict, ControlVerdict::ok) << "update " << k;
    sample += 7 * kBlock + 31;  // the loop runs every few frames, not at a whole-period boundary
    if (within_bounds(sample)) return k;
  }
  return 0;
}

TEST(DriveFieldControl, ConvergesFromAColdStartTenPercentAndFiveDegreesOff) {
  DriveFieldControl control(make_config({kF0}));
  const LinearCoil coil = LinearCoil::with_error(1, 1.10, 5.0 * kDeg);
  ASSERT_EQ(control.set_target(0, 10e-3, 0.3), ControlVerdict::ok);
  EXPECT_FALSE(within(coil.field(control, 0, kF0), 10e-3, 0.3));  // the cold start is off
  const int k = updates_to_converge(control, coil, 5, [&](std::uint64_t) {
    return within(coil.field(control, 0, kF0), 10e-3, 0.3);
  });
  EXPECT_GE(k, 1);
  EXPECT_LE(k, 3);
  // The estimate has found the true transfer.
  EXPECT_LT(std::abs(control.transfer(control.tone_of_channel(0), 0, 0) / coil.h[0][0] - 1.0), 1e-3);
  // The report of the next block sees the field on target.
  const ControlReport& r = control.update(coil.block(control, 1'000'000), 1'000'000);
  EXPECT_TRUE(r.within_tolerance(1e-3, 0.1 * kDeg));
  EXPECT_NEAR(r.channels[0].measured_amplitude_t, 10e-3, 1e-5);
}

TEST(DriveFieldControl, ThreeLissajousChannelsConvergeIndependently) {
  DriveFieldControl control(make_config({kF0, kF1, kF2}));
  LinearCoil coil = LinearCoil::with_error(3, 1.0, 0.0);
  coil.h[0][0] *= std::polar(1.10, 5.0 * kDeg);
  coil.h[1][1] *= std::polar(0.90, -5.0 * kDeg);
  coil.h[2][2] *= std::polar(1.05, 3.0 * kDeg);
  const std::array<double, 3> amp{12e-3, 8e-3, 5e-3};
  const std::array<double, 3> ph{0.0, 1.0, -2.0};
  const std::array<double, 3> f{kF0, kF1, kF2};
  for (std::size_t d = 0; d < 3; ++d) ASSERT_EQ(control.set_target(d, amp[d], ph[d]), ControlVerdict::ok);
  const int k = updates_to_converge(control, coil, 5, [&](std::uint64_t) {
    bool ok = true;
    for (std::size_t d = 0; d < 3; ++d) ok = ok && within(coil.field(control, d, f[d]), amp[d], ph[d]);
    return ok;
  });
  EXPECT_GE(k, 1);
  EXPECT_LE(k, 5);
}

TEST(DriveFieldControl, DampingSlowsTheCorrection) {
  auto config = make_config({kF0});
  config.damping = 0.5;
  DriveFieldControl control(config);
  const LinearCoil coil = LinearCoil::with_error(1, 1.10, 0.0);
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  const double before = std::abs(control.dac(0, 0).value());
  control.update(coil.block(control, 0), 0);
  const double after = std::abs(control.dac(0, 0).value());
  // Full correction would be before / 1.1; half of it: before (1 + 1/1.1) / 2.
  EXPECT_NEAR(after, before * (1.0 + 1.0 / 1.1) / 2.0, 2.0 / 65535.0);
}

TEST(DriveFieldControl, TracksAGainDriftOfHalfAPercentPerSecond) {
  DriveFieldControl control(make_config({kF0}));
  LinearCoil coil = LinearCoil::with_error(1, 1.05, 5.0 * kDeg);
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  const double interval_s = 0.1;  // one update every 100 ms of scan
  std::uint64_t sample = 0;
  int within_count = 0;
  const int updates = 200;  // 20 s of scan: the gain drifts by 10 %
  for (int k = 1; k <= updates; ++k) {
    const ControlReport& r = control.update(coil.block(control, sample), sample);
    ASSERT_EQ(r.verdict, ControlVerdict::ok) << "update " << k;
    if (k > 5) {
      EXPECT_TRUE(r.within_tolerance(1e-3, 0.1 * kDeg))
          << "update " << k << ": amplitude error " << r.channels[0].amplitude_error << ", phase error "
          << r.channels[0].phase_error_rad / kDeg << " deg";
      ++within_count;
    }
    // Between updates: +0.5 %/s gain, +0.1 deg/s phase.
    coil.h[0][0] *= std::polar(1.0 + 0.005 * interval_s, 0.1 * kDeg * interval_s);
    sample += static_cast<std::uint64_t>(interval_s * kFs);
  }
  EXPECT_EQ(within_count, updates - 5);
  // Without the loop the same drift would have left the bounds: the gain grew by more than 0.1 %.
  EXPECT_GT(std::abs(coil.h[0][0]) / (kNominal * 1.05) - 1.0, 0.09);
}

TEST(DriveFieldControl, DecouplesFivePercentCrossTalkBetweenChannelsOfOneFrequency) {
  DriveFieldControl control(make_config({kF1, kF1, kF1}, true));
  ASSERT_EQ(control.tone_count(), 1U);
  LinearCoil coil = LinearCoil::with_error(3, 1.10, 5.0 * kDeg);
  for (std::size_t d = 0; d < 3; ++d) {
    for (std::size_t e = 0; e < 3; ++e) {
      if (d != e) coil.h[d][e] = std::polar(0.05 * kNominal, (20.0 + 30.0 * static_cast<double>(d) + 10.0 * static_cast<double>(e)) * kDeg);
    }
  }
  // A rotating field: equal amplitudes, 90 degrees apart.
  const std::array<double, 3> amp{10e-3, 10e-3, 4e-3};
  const std::array<double, 3> ph{0.0, kPi / 2, 0.0};
  for (std::size_t d = 0; d < 3; ++d) ASSERT_EQ(control.set_target(d, amp[d], ph[d]), ControlVerdict::ok);
  const int k = updates_to_converge(control, coil, 5, [&](std::uint64_t) {
    bool ok = true;
    for (std::size_t d = 0; d < 3; ++d) ok = ok && within(coil.field(control, d, kF1), amp[d], ph[d]);
    return ok;
  });
  EXPECT_GE(k, 1);
  EXPECT_LE(k, 5);
}

TEST(DriveFieldControl, CancelsCrossTalkAtTheOtherChannelsFrequencies) {
  for (bool decouple : {false, true}) {
    DriveFieldControl control(make_config({kF0, kF1, kF2}, decouple));
    LinearCoil coil = LinearCoil::with_error(3, 1.10, 5.0 * kDeg);
    for (std::size_t d = 0; d < 3; ++d) {
      for (std::size_t e = 0; e < 3; ++e) {
        if (d != e) coil.h[d][e] = std::polar(0.05 * kNominal, (40.0 * static_cast<double>(d) - 25.0 * static_cast<double>(e)) * kDeg);
      }
    }
    const std::array<double, 3> amp{12e-3, 12e-3, 6e-3};
    const std::array<double, 3> f{kF0, kF1, kF2};
    for (std::size_t d = 0; d < 3; ++d) ASSERT_EQ(control.set_target(d, amp[d], 0.0), ControlVerdict::ok);
    std::uint64_t sample = 0;
    for (int k = 0; k < 5; ++k) {
      control.update(coil.block(control, sample), sample);
      sample += 3 * kBlock;
    }
    double worst_residual = 0.0;  // field on axis d at another channel's frequency, relative to d's target
    bool on_target = true;
    for (std::size_t d = 0; d < 3; ++d) {
      on_target = on_target && within(coil.field(control, d, f[d]), amp[d], 0.0);
      for (std::size_t j = 0; j < 3; ++j) {
        if (j != d) worst_residual = std::max(worst_residual, std::abs(coil.field(control, d, f[j])) / amp[d]);
      }
    }
    EXPECT_TRUE(on_target) << "decouple " << decouple;
    if (decouple) {
      EXPECT_EQ(control.component_count(), 3U);
      EXPECT_LT(worst_residual, 1e-3);
    } else {
      EXPECT_GT(worst_residual, 0.04);  // 5 % of 12 mT leaks onto the 6 mT axis: up to 10 % of its target
    }
  }
}

TEST(DriveFieldControl, ADeadAmplifierIsReportedAndTheDacDoesNotRise) {
  DriveFieldControl control(make_config({kF0}));
  const LinearCoil dead = LinearCoil::with_error(1, 0.0, 0.0);
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  const std::uint32_t code = control.dac(0, 0).amplitude_code;
  for (int k = 0; k < 3; ++k) {
    const ControlReport& r = control.update(dead.block(control, 0), 0);
    EXPECT_EQ(r.verdict, ControlVerdict::dead_amplifier);
    EXPECT_EQ(r.channels[0].verdict, ControlVerdict::dead_amplifier);
    EXPECT_FALSE(r.applied);
    EXPECT_EQ(r.channels[0].applied.amplitude_code, code);
    EXPECT_EQ(control.dac(0, 0).amplitude_code, code);
  }
}

TEST(DriveFieldControl, AFieldFarFromTheCalibrationIsImplausible) {
  DriveFieldControl control(make_config({kF0}));
  const LinearCoil strong = LinearCoil::with_error(1, 1.30, 0.0);  // 30 % above the calibration
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  const std::uint32_t code = control.dac(0, 0).amplitude_code;
  const ControlReport& r = control.update(strong.block(control, 0), 0);
  EXPECT_EQ(r.verdict, ControlVerdict::implausible);
  EXPECT_EQ(control.dac(0, 0).amplitude_code, code);
}

TEST(DriveFieldControl, ATargetAboveTheFieldCapIsRefused) {
  auto config = make_config({kF0});
  config.hard_field_cap_t = 15e-3;
  DriveFieldControl control(config);
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  const std::uint32_t code = control.dac(0, 0).amplitude_code;
  EXPECT_EQ(control.set_target(0, 16e-3, 0.0), ControlVerdict::field_cap);  // hard cap
  EXPECT_EQ(control.dac(0, 0).amplitude_code, code);
  auto coil_limited = make_config({kF0});  // the coil's own max_amplitude (18 mT) below the hard cap
  DriveFieldControl other(coil_limited);
  EXPECT_EQ(other.set_target(0, 19e-3, 0.0), ControlVerdict::field_cap);
  EXPECT_EQ(other.set_target(0, 17e-3, 0.0), ControlVerdict::ok);
  EXPECT_EQ(other.set_target(0, -1e-3, 0.0), ControlVerdict::bad_channel);
  EXPECT_EQ(other.set_target(3, 1e-3, 0.0), ControlVerdict::bad_channel);
}

TEST(DriveFieldControl, ASlewLimitedTargetIsRefused) {
  auto config = make_config({kF1});  // 25 kHz
  config.channels[0].max_slew_t_per_s = 1000.0;  // 2 pi 25 kHz A <= 1000 T/s: A <= 6.366 mT
  DriveFieldControl control(config);
  EXPECT_EQ(control.set_target(0, 6.5e-3, 0.0), ControlVerdict::slew_limit);
  EXPECT_EQ(control.dac(0, 0).amplitude_code, 0U);
  EXPECT_EQ(control.set_target(0, 6.3e-3, 0.0), ControlVerdict::ok);
}

TEST(DriveFieldControl, ADacBeyondItsPeakLimitIsRefused) {
  auto config = make_config({kF0});
  config.channels[0].dac_peak_limit = 0.6;  // 12 mT nominal
  DriveFieldControl control(config);
  ASSERT_EQ(control.set_target(0, 11e-3, 0.0), ControlVerdict::ok);
  EXPECT_EQ(control.set_target(0, 13e-3, 0.0), ControlVerdict::dac_limit);
  // A weaker coil (-15 %, still plausible) would need 11 / 17 mT = 0.65 of full scale: the update refuses.
  const LinearCoil weak = LinearCoil::with_error(1, 0.85, 0.0);
  const std::uint32_t code = control.dac(0, 0).amplitude_code;
  const ControlReport& r = control.update(weak.block(control, 0), 0);
  EXPECT_EQ(r.verdict, ControlVerdict::dac_limit);
  EXPECT_FALSE(r.applied);
  EXPECT_EQ(control.dac(0, 0).amplitude_code, code);
}

TEST(DriveFieldControl, AGrowingErrorIsReportedAsDivergence) {
  auto config = make_config({kF0});
  config.divergence_updates = 3;
  DriveFieldControl control(config);
  LinearCoil coil = LinearCoil::with_error(1, 1.0, 0.0);
  ASSERT_EQ(control.set_target(0, 10e-3, 0.0), ControlVerdict::ok);
  // The coil's phase runs away faster and faster: every correction comes too late.
  double step = 2.0 * kDeg;
  bool diverged = false;
  std::uint64_t sample = 0;
  for (int k = 0; k < 10 && !diverged; ++k) {
    const std::uint64_t phase_before = control.dac(0, 0).phase_offset;
    const ControlReport& r = control.update(coil.block(control, sample), sample);
    if (r.verdict == ControlVerdict::diverging) {
      diverged = true;
      EXPECT_FALSE(r.applied);
      EXPECT_EQ(control.dac(0, 0).phase_offset, phase_before);
      EXPECT_GE(k, 3);  // needs three growing updates after the first
    } else {
      EXPECT_EQ(r.verdict, ControlVerdict::ok);
    }
    coil.h[0][0] *= std::polar(1.0, step);
    step *= 2.0;
    sample += kBlock;
  }
  EXPECT_TRUE(diverged);
}

}  // namespace
}  // namespace mpi::firmware
