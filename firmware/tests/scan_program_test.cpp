// The scan program compiler: drive cycles from the scanners' clocks (REFERENCE.md 2.1: dividers 102/96/99
// of a 2.5 MHz base clock sampled at 2.5 MS/s), the layout of segments in samples, DAC codes of offset
// fields, and every refusal naming its field.
#include "mpi/firmware/scan_program.hpp"

#include "mpi/config/scanner_description.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace mpi::firmware {
namespace {

namespace v1 = link::v1;

const std::string kSource = MPI_SOURCE_DIR;

config::ScannerDescription scanner(const std::string& name) {
  return config::load_scanner_description(kSource + "/configs/scanners/" + name + ".toml");
}

v1::ScanSegment* add(v1::ScanProgram& program, v1::SegmentRole role, std::initializer_list<double> fields, std::uint64_t repetitions,
                     const std::string& label = "") {
  v1::ScanSegment* segment = program.add_segments();
  segment->set_role(role);
  segment->set_repetitions(repetitions);
  segment->set_label(label);
  for (double f : fields) segment->add_steps()->add_field_t(f);
  return segment;
}

// x-space: 25 kHz drive sampled at 2.5 MS/s = 100 samples per cycle; steps of 50 cycles.
v1::ScanProgram patches() {
  v1::ScanProgram program;
  program.set_step_samples(5000);
  add(program, v1::SEGMENT_ROLE_BACKGROUND, {0.0}, 4, "background");
  add(program, v1::SEGMENT_ROLE_RAMP_UP, {-0.01, -0.02}, 1);
  add(program, v1::SEGMENT_ROLE_FOREGROUND, {-0.03, -0.0225, -0.015, -0.0075, 0.0, 0.0075, 0.015, 0.0225, 0.03}, 2, "patches");
  add(program, v1::SEGMENT_ROLE_RAMP_DOWN, {0.02, 0.01}, 1);
  return program;
}

TEST(ScanProgram, DriveCycleIsTheCommonPeriodOfTheConfiguredChannels) {
  const auto preclinical = scanner("preclinical-ffp");
  EXPECT_EQ(drive_cycle_samples(preclinical, {true, false, false}), 102U);
  EXPECT_EQ(drive_cycle_samples(preclinical, {true, true, false}), 1632U);   // lcm(102, 96)
  EXPECT_EQ(drive_cycle_samples(preclinical, {true, true, true}), 53856U);   // lcm(102, 96, 99)
  EXPECT_EQ(drive_cycle_samples(scanner("xspace-ffp"), {true}), 100U);
}

TEST(ScanProgram, SegmentsAreLaidOutInWholeStepsFromTheTrigger) {
  const auto xspace = scanner("xspace-ffp");
  CompiledProgram out;
  ASSERT_EQ(compile_program(patches(), xspace, 1, 100, 25000, 2.5e6, out), "");
  ASSERT_EQ(out.layout.size(), 4U);
  const std::uint64_t steps[] = {4, 2, 18, 2};
  std::uint64_t first = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(out.layout[i].first_sample, first) << i;
    EXPECT_EQ(out.layout[i].sample_count, steps[i] * 5000) << i;
    first += steps[i] * 5000;
  }
  EXPECT_EQ(out.layout[0].role, v1::SEGMENT_ROLE_BACKGROUND);
  EXPECT_EQ(out.layout[2].label, "patches");
  EXPECT_EQ(out.total_steps, 26U);
  EXPECT_EQ(out.end_sample(), 130000U);
  EXPECT_EQ(out.tail_ramp_steps, 5U);   // 25000 / 5000
  EXPECT_EQ(out.look_ahead_steps, 25U);  // 50 ms at 2.5 MS/s / 5000
  EXPECT_EQ(out.segments[1].kind, drivers::SegmentKind::ramp_up);
  EXPECT_EQ(out.segments[2].kind, drivers::SegmentKind::regular);
  EXPECT_EQ(out.segments[3].kind, drivers::SegmentKind::ramp_down);
  // focus_x: 50 mT at DAC full scale 32767.
  EXPECT_EQ(out.segments[2].steps[0].values[0], -19660);  // round(-0.03 / 0.05 * 32767) = round(-19660.2)
  EXPECT_EQ(out.segments[2].steps[5].values[0], 4915);    // round(0.0075 / 0.05 * 32767) = round(4915.05)
  EXPECT_TRUE(out.segments[2].steps[5].enable);
}

TEST(ScanProgram, SweepIsExpandedLinearlyWithBothEnds) {
  const auto relaxometer = scanner("relaxometer");
  const double full_scale = relaxometer.offset[0].tesla_per_full_scale;
  v1::ScanProgram program;
  const std::uint64_t cycle = drive_cycle_samples(relaxometer, {true});
  program.set_step_samples(static_cast<std::uint32_t>(10 * cycle));
  v1::ScanSegment* sweep = program.add_segments();
  sweep->set_role(v1::SEGMENT_ROLE_SWEEP);
  sweep->set_repetitions(1);
  sweep->mutable_sweep()->set_offset_channel(0);
  sweep->mutable_sweep()->set_from_t(-0.045);
  sweep->mutable_sweep()->set_to_t(0.045);
  sweep->mutable_sweep()->set_steps(61);
  CompiledProgram out;
  ASSERT_EQ(compile_program(program, relaxometer, 1, cycle, static_cast<std::uint32_t>(40 * cycle), 2.5e6, out), "");
  ASSERT_EQ(out.segments[0].steps.size(), 61U);
  for (int k = 0; k < 61; ++k) {
    const double field = -0.045 + 0.09 * k / 60.0;  // 1.5 mT apart
    EXPECT_EQ(out.segments[0].steps[static_cast<std::size_t>(k)].values[0], std::lround(field / full_scale * 32767)) << k;
  }
  EXPECT_EQ(out.layout[0].sample_count, 61 * 10 * cycle);
}

std::string error_of(const v1::ScanProgram& program, const std::string& scanner_name = "xspace-ffp", std::uint32_t ramp = 25000) {
  CompiledProgram out;
  return compile_program(program, scanner(scanner_name), 1, 100, ramp, 2.5e6, out);
}

TEST(ScanProgram, BadProgramsAreRefusedNamingTheField) {
  auto p = patches();
  p.set_step_samples(5050);
  EXPECT_NE(error_of(p).find("program.step_samples = 5050 is not a whole number of drive cycles (100 samples each)"), std::string::npos)
      << error_of(p);
  p = patches();
  EXPECT_NE(error_of(p, "xspace-ffp", 15000).find("too long for ramp_samples = 15000"), std::string::npos) << error_of(p, "xspace-ffp", 15000);
  p = patches();
  p.mutable_segments(2)->mutable_steps(3)->set_field_t(0, 0.06);
  EXPECT_NE(error_of(p).find("program.segments[2].steps[3].field_t[0] = 0.06 T exceeds the limit 0.05 T (max_field of offset channel focus_x)"),
            std::string::npos)
      << error_of(p);
  p = patches();
  p.mutable_segments(2)->mutable_steps(3)->set_field_t(0, std::nan(""));
  EXPECT_NE(error_of(p).find("program.segments[2].steps[3].field_t[0] = nan T must be finite"), std::string::npos) << error_of(p);
  p = patches();
  p.mutable_segments(1)->mutable_steps(0)->add_field_t(0.0);
  EXPECT_NE(error_of(p).find("program.segments[1].steps[0].field_t has 2 values but the scanner has 1 offset channel(s)"), std::string::npos)
      << error_of(p);
  p = patches();
  p.mutable_segments(0)->set_repetitions(0);
  EXPECT_NE(error_of(p).find("program.segments[0].repetitions = 0"), std::string::npos) << error_of(p);
  p = patches();
  p.mutable_segments(3)->set_role(v1::SEGMENT_ROLE_UNSPECIFIED);
  EXPECT_NE(error_of(p).find("program.segments[3].role"), std::string::npos) << error_of(p);
  p = patches();
  p.mutable_segments(0)->mutable_sweep()->set_steps(3);
  EXPECT_NE(error_of(p).find("program.segments[0]: give either steps or a sweep (both given)"), std::string::npos) << error_of(p);
  p = patches();
  p.mutable_segments(0)->clear_steps();
  EXPECT_NE(error_of(p).find("program.segments[0]: give either steps or a sweep (neither given)"), std::string::npos) << error_of(p);
  p = patches();
  p.mutable_segments(0)->clear_steps();
  p.mutable_segments(0)->mutable_sweep()->set_offset_channel(2);
  p.mutable_segments(0)->mutable_sweep()->set_steps(3);
  EXPECT_NE(error_of(p).find("program.segments[0].sweep.offset_channel = 2 does not exist"), std::string::npos) << error_of(p);
  p.mutable_segments(0)->mutable_sweep()->set_offset_channel(0);
  p.mutable_segments(0)->mutable_sweep()->set_steps(1);
  EXPECT_NE(error_of(p).find("program.segments[0].sweep.steps = 1 must be at least 2"), std::string::npos) << error_of(p);
  p.mutable_segments(0)->mutable_sweep()->set_steps(3);
  p.mutable_segments(0)->mutable_sweep()->set_to_t(-0.07);
  EXPECT_NE(error_of(p).find("program.segments[0].sweep.to_t = -0.07 T exceeds the limit"), std::string::npos) << error_of(p);
  p = patches();
  p.clear_segments();
  EXPECT_NE(error_of(p).find("program.segments: a program needs at least one segment"), std::string::npos) << error_of(p);
  p = patches();
  p.mutable_segments(2)->set_repetitions(std::uint64_t{1} << 62);
  EXPECT_NE(error_of(p).find("program.segments[2].repetitions"), std::string::npos) << error_of(p);
  // A scanner without offset channels takes no program.
  CompiledProgram out;
  EXPECT_NE(compile_program(patches(), scanner("demo-1d"), 0, 100, 25000, 2.5e6, out).find("no offset"), std::string::npos);
}

}  // namespace
}  // namespace mpi::firmware
