// The field trace: block peaks, discrete slew and ramp factors against closed-form values of a sine and a
// linear ramp, the bounded memory, the file round trip, and a plant's own trace of a ramp-down.
#include "mpi/hil/field_trace.hpp"
#include "plant_rig.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>

namespace mpi::hil::test {
namespace {

constexpr double kPi = std::numbers::pi;

FieldTraceHeader one_drive(double fs, std::uint32_t block) {
  FieldTraceHeader h;
  h.scanner = "formula";
  h.sample_rate_hz = fs;
  h.block_samples = block;
  h.drive_names = {"x"};
  h.offset_names = {"focus"};
  return h;
}

TEST(FieldTrace, ConstantSineGivesItsAmplitudeAndTwoPiFATimesTheDiscreteFactor) {
  const double fs = 15.625e6;
  const double f = 25e3;
  const double a = 12e-3;
  const double phase = 0.37;
  const std::uint32_t block = default_field_trace_block(fs, {f, 50e3});
  ASSERT_EQ(block, 625U);  // one period of the lowest drive frequency
  FieldTrace trace(one_drive(fs, block));
  trace.begin_scan(1);
  const double ramp = 1.0;
  for (std::uint64_t n = 0; n < 10 * block; ++n) {
    const double b = a * std::sin(2.0 * kPi * f * static_cast<double>(n) / fs + phase);
    const double focus = 5e-3;
    if (trace.add(n, &b, &focus)) trace.close_block(&ramp);
  }
  ASSERT_EQ(trace.blocks().size(), 10U);
  // Sampling: the nearest sample to a crest is at most half a sample away, i.e. pi f / fs rad.
  const double x = kPi * f / fs;
  const double slew = 2.0 * kPi * f * a;
  for (std::size_t k = 0; k < trace.blocks().size(); ++k) {
    const FieldTraceBlock& b = trace.blocks()[k];
    EXPECT_EQ(b.scan, 1U);
    EXPECT_EQ(b.first_sample, k * block);
    EXPECT_EQ(b.samples, block);
    EXPECT_LE(b.peak_t[0], a);
    EXPECT_GE(b.peak_t[0], a * std::cos(x));
    // |B[n] - B[n-1]| fs = 2 A fs sin(x) |cos(.)|: at most 2 pi f A, at least that times sinc(x) cos(x).
    EXPECT_LE(b.slew_t_per_s[0], slew);
    EXPECT_GE(b.slew_t_per_s[0], slew * (std::sin(x) / x) * std::cos(x));
    EXPECT_NEAR(b.slew_t_per_s[0], slew, slew * ((1.0 - std::cos(x)) + x * x / 6.0));
    EXPECT_EQ(b.ramp_factor[0], 1.0);
    EXPECT_NEAR(b.offset_mean_t[0], 5e-3, 1e-15);
  }
}

TEST(FieldTrace, LinearRampGivesTheExpectedFactorAndEnvelopePerBlock) {
  const double fs = 1e6;
  const double f = 10e3;  // 100 samples per period
  const double a = 10e-3;
  const std::uint32_t block = 100;
  const std::uint64_t ramp_samples = 2000;
  FieldTrace trace(one_drive(fs, block));
  trace.begin_scan(3);
  for (std::uint64_t n = 0; n < 2500; ++n) {
    const double r = std::max(0.0, 1.0 - static_cast<double>(n) / ramp_samples);
    const double b = a * r * std::cos(2.0 * kPi * f * static_cast<double>(n) / fs);  // crest at each block's first sample
    const double focus = 0.0;
    if (trace.add(n, &b, &focus)) {
      trace.close_block(&r);
    }
  }
  ASSERT_EQ(trace.blocks().size(), 25U);
  for (std::size_t k = 0; k < 25; ++k) {
    const FieldTraceBlock& b = trace.blocks()[k];
    const double first = static_cast<double>(k * block);
    const double last = first + block - 1;
    EXPECT_NEAR(b.ramp_factor[0], std::max(0.0, 1.0 - last / ramp_samples), 1e-15) << k;
    // The envelope's crest at the block's first sample: A (1 - first / R).
    EXPECT_NEAR(b.peak_t[0], a * std::max(0.0, 1.0 - first / ramp_samples), 1e-15) << k;
    if (k > 0) {
      EXPECT_LE(trace.blocks()[k - 1].peak_t[0] - b.peak_t[0], a * block / ramp_samples + 1e-15) << k;
    }
  }
  // The ramp adds at most A fs / R to the sine's 2 pi f A.
  for (const FieldTraceBlock& b : trace.blocks()) EXPECT_LE(b.slew_t_per_s[0], 2.0 * kPi * f * a + a * fs / ramp_samples);
  EXPECT_EQ(trace.blocks()[20].peak_t[0], 0.0);
}

TEST(FieldTrace, KeepsAtMostMaxBlocksAndCountsTheRest) {
  FieldTrace trace(one_drive(1e6, 4), 3);
  trace.begin_scan(1);
  const double b = 1.0;
  const double r = 1.0;
  for (std::uint64_t n = 0; n < 22; ++n) {
    if (trace.add(n, &b, &b)) trace.close_block(&r);
  }
  EXPECT_TRUE(trace.block_open());
  trace.close_block(&r);  // a partial block of 2 samples
  EXPECT_EQ(trace.blocks().size(), 3U);
  EXPECT_EQ(trace.dropped_blocks(), 3U);
  EXPECT_EQ(trace.blocks().capacity(), 3U);
}

TEST(FieldTrace, FileRoundTripKeepsEveryColumnAndScan) {
  FieldTrace trace(one_drive(2.5e6, 3));
  const double r = 0.25;
  for (std::uint64_t scan = 1; scan <= 2; ++scan) {
    trace.begin_scan(scan);
    for (std::uint64_t n = 0; n < 7; ++n) {
      const double b = 1e-3 * static_cast<double>(n * n) * (scan == 2 ? -1.0 : 1.0);
      const double focus = 2e-3 * static_cast<double>(n);
      if (trace.add(n, &b, &focus)) trace.close_block(&r);
    }
    trace.close_block(&r);
  }
  const std::filesystem::path file = std::filesystem::temp_directory_path() / (unique_region_name().substr(1) + ".csv");
  write_field_trace(trace, file);
  const FieldTraceFile read = read_field_trace(file);
  std::filesystem::remove(file);
  EXPECT_EQ(read.header.scanner, "formula");
  EXPECT_EQ(read.header.sample_rate_hz, 2.5e6);
  EXPECT_EQ(read.header.block_samples, 3U);
  EXPECT_EQ(read.header.drive_names, std::vector<std::string>{"x"});
  EXPECT_EQ(read.header.offset_names, std::vector<std::string>{"focus"});
  ASSERT_EQ(read.blocks.size(), 6U);  // 3 + 3 + 1 per scan
  // Scan 2, block 1 holds n = 3..5: peak 25 mT, slew (25 - 16) mT * fs, mean focus 8 mT.
  const FieldTraceBlock& b = read.blocks[4];
  EXPECT_EQ(b.scan, 2U);
  EXPECT_EQ(b.first_sample, 3U);
  EXPECT_EQ(b.samples, 3U);
  EXPECT_NEAR(b.peak_t[0], 25e-3, 1e-14);
  EXPECT_NEAR(b.slew_t_per_s[0], 9e-3 * 2.5e6, 1e-6);
  EXPECT_EQ(b.ramp_factor[0], 0.25);
  EXPECT_NEAR(b.offset_mean_t[0], 8e-3, 1e-14);
  EXPECT_EQ(read.blocks[5].samples, 1U);
}

TEST(FieldTrace, MalformedFileIsRejectedNamingTheLine) {
  const std::filesystem::path file = std::filesystem::temp_directory_path() / (unique_region_name().substr(1) + ".csv");
  std::ofstream(file) << "# drive_channels: x\n# offset_channels: \nscan,first_sample,samples,x_peak_t,x_slew_t_per_s,x_ramp\n1,0,4,oops,1,1\n";
  try {
    (void)read_field_trace(file);
    ADD_FAILURE() << "a malformed trace was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 4: 'oops' is not a number"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

// The plant's own trace of a drive at full amplitude that is ramped down: the envelope follows the
// register map's linear ramp (through the coil's first-order lag), the field reaches zero, and the slew
// stays within 2 pi f A plus the ramp's A fs / R.
TEST(FieldTrace, PlantTracesARampDownAgainstTheCalibration) {
  PlantConfig c = small_config();
  PlantOptions options;
  options.field_trace = true;
  PlantRig rig(c, options);
  const std::uint64_t period = 128;  // samples
  const std::uint32_t amplitude = 39321;  // 0.6 of full scale: 12 mT
  rig.dds(0, 0, increment_for_period(period), amplitude);
  rig.switch_on(0, 1280);
  rig.start();
  rig.run(20'000);
  const std::uint64_t ramp_start = rig.plant.sample_index();
  rig.ramp(0, rm::RampCommand::down);
  rig.run(10'000);
  rig.stop();
  rig.plant.step(0);
  const FieldTrace* trace = rig.plant.field_trace();
  ASSERT_NE(trace, nullptr);
  ASSERT_EQ(trace->header().block_samples, 128U);  // drive y runs at twice x's frequency: x's period
  ASSERT_EQ(trace->blocks().size(), 30'000U / 128 + 1);
  const double fs = 2.5e6;
  const double a = c.scanner.drive[0].tesla_per_full_scale() * amplitude / 65535.0;
  const double f = fs / static_cast<double>(period);
  const double tau = c.scanner.drive[0].rl_time_constant_s * fs;  // samples
  const double ramp = 1280.0;
  for (const FieldTraceBlock& b : trace->blocks()) {
    const double first = static_cast<double>(b.first_sample);
    EXPECT_LE(b.slew_t_per_s[0], 2.0 * kPi * f * a + a * fs / ramp) << b.first_sample;
    EXPECT_LE(b.peak_t[0], a * (1.0 + 1e-12)) << b.first_sample;
    const double last = first + b.samples - 1;
    const double factor = last < static_cast<double>(ramp_start) ? 1.0 : std::max(0.0, 1.0 - (last - static_cast<double>(ramp_start)) / ramp);
    if (first > 2000.0) {
      EXPECT_NEAR(b.ramp_factor[0], factor, 1e-12) << b.first_sample;
    }
    if (first > 2000.0 && last < static_cast<double>(ramp_start)) {
      EXPECT_NEAR(b.peak_t[0], a, a * (1.0 - std::cos(kPi / period)) + 1e-12) << b.first_sample;
    }
    // After the ramp's end and ~20 lag time constants the field is gone.
    if (first > static_cast<double>(ramp_start) + ramp + 20.0 * tau) {
      EXPECT_LT(b.peak_t[0], 1e-9 * a) << b.first_sample;
    }
    // Well inside the ramp the envelope is A (1 - (t - t0 - tau) / R) within the sampling of the crest.
    if (first > static_cast<double>(ramp_start) + 5.0 * tau && last + 5.0 * tau < static_cast<double>(ramp_start) + ramp) {
      const double envelope = a * (1.0 - (first - static_cast<double>(ramp_start) - tau) / ramp);
      EXPECT_NEAR(b.peak_t[0], envelope, a * (period + 1.0) / ramp) << b.first_sample;
    }
  }
  for (std::size_t k = 1; k < trace->blocks().size(); ++k) {
    EXPECT_LE(trace->blocks()[k - 1].peak_t[0] - trace->blocks()[k].peak_t[0], a * 128.0 / ramp * (1.0 + 1e-3)) << k;
  }
}

}  // namespace
}  // namespace mpi::hil::test
