// The background stage: a raw capture of an empty-bore scan assembled into frames and averaged per sample
// and channel, subtracted in the to-volts stage, and refused with the file and the reason when it is not a
// recording of the scan (another drive or sequence, another channel count or frame length, missing,
// truncated, without a complete frame).
#include "mpi/host/background_stage.hpp"
#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/protocol/framing.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace mpi;
using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
constexpr double kRate = 15.625e6;        // demo-1d.toml
constexpr std::uint32_t kPeriod = 625;    // 25 kHz
constexpr std::uint32_t kPeriods = 2;     // per frame in the test plan
constexpr std::uint32_t kFrameSamples = kPeriod * kPeriods;
constexpr std::uint32_t kRamp = 3 * kPeriod;

fs::path dir() {
  const fs::path d = fs::temp_directory_path() / ("mpi_background_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// A 1D plan on demo-1d (25 kHz, 12 mT, 2 periods per frame) with [background] recording = `recording`.
fs::path plan_with(const std::string& recording, const std::string& name = "plan.toml") {
  const fs::path file = dir() / name;
  std::ofstream(file) << "tracer = \"" << (kSource / "configs/tracers/single-core-30nm.toml").string() << "\"\n"
                      << "[sequence]\ndrive_frequency_hz = 25000.0\ndrive_amplitude_t = 0.012\nperiods_per_frame = 2\nframes = 5\n"
                      << "[background]\nrecording = \"" << recording << "\"\n";
  return file;
}

// The code of the test's background frames: frame k, sample i, channel c. Over an even number of frames the
// +-(k % 2) part cancels, so the mean is (i % 97) - 40 + 7 c exactly.
std::int16_t code(std::uint64_t k, std::uint64_t i, unsigned c) {
  return static_cast<std::int16_t>(static_cast<int>(i % 97) - 40 + 7 * static_cast<int>(c) + (k % 2 == 0 ? 3 : -3));
}
double mean_code(std::uint64_t i, unsigned c) { return static_cast<double>(static_cast<int>(i % 97) - 40 + 7 * static_cast<int>(c)); }

struct Recording {
  double frequency_hz = 25000.0;
  double amplitude_t = 0.012;
  std::uint32_t channels = 2;
  std::uint32_t frames = 6;
};

// Writes a raw capture as the host records one: HelloReply, ConfigureReply, chunks of 500 samples from the
// trigger on (ramp included), StreamEnd.
void write_capture(const fs::path& file, const Recording& r) {
  RawCaptureWriter w(file);
  const auto push = [&w](const link::v1::Envelope& env) {
    std::string bytes;
    ASSERT_TRUE(protocol::append_frame(env, bytes));
    w.push(std::move(bytes));
  };
  link::v1::Envelope hello;
  auto* board = hello.mutable_hello_reply()->mutable_board();
  board->set_adc_sample_rate_hz(kRate);
  board->set_adc_channels(r.channels);
  push(hello);
  link::v1::Envelope configured;
  auto* drive = configured.mutable_configure_reply()->add_drive();
  drive->set_channel(0);
  drive->set_frequency_hz(r.frequency_hz);
  drive->set_amplitude_t(r.amplitude_t);
  configured.mutable_configure_reply()->set_ramp_samples(kRamp);
  push(configured);
  const std::uint64_t end = kRamp + std::uint64_t{r.frames} * kFrameSamples;
  for (std::uint64_t first = 0; first < end; first += 500) {
    link::v1::Envelope env;
    auto* c = env.mutable_chunk();
    const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(500, end - first));
    c->set_first_sample(first);
    c->set_sample_count(count);
    c->set_channel_count(r.channels);
    std::vector<std::int16_t> samples;
    for (std::uint64_t n = first; n < first + count; ++n) {
      for (unsigned ch = 0; ch < r.channels; ++ch) {
        samples.push_back(n < kRamp ? std::int16_t{999} : code((n - kRamp) / kFrameSamples, (n - kRamp) % kFrameSamples, ch));
      }
    }
    c->set_payload(std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * sizeof(std::int16_t)));
    push(env);
  }
  link::v1::Envelope stream_end;
  stream_end.mutable_stream_end()->set_end_sample(end);
  push(stream_end);
  w.finish();
}

ScannerDescription demo_scanner() { return load_scanner_description(kSource / "configs/scanners/demo-1d.toml"); }

AcquisitionSetup scan_setup() {
  AcquisitionSetup s;
  s.sample_rate_hz = kRate;
  s.samples_per_period = kPeriod;
  s.periods_per_frame = kPeriods;
  s.adc_channels = 2;
  s.drive = {0.012, 25000.0, 0.0};
  return s;
}

// Loading throws PlanError whose message holds every piece.
::testing::AssertionResult refused(const fs::path& plan_file, std::initializer_list<std::string> pieces) {
  try {
    const ScanPlan plan = load_scan_plan(plan_file);
    (void)BackgroundFrame::load(plan, demo_scanner());
  } catch (const PlanError& e) {
    for (const auto& piece : pieces) {
      if (std::string(e.what()).find(piece) == std::string::npos) return ::testing::AssertionFailure() << e.what() << " lacks '" << piece << "'";
    }
    return ::testing::AssertionSuccess() << e.what();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "another exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "accepted";
}

}  // namespace

TEST(BackgroundStage, PlanKeyIsResolvedAgainstThePlansFolder) {
  const ScanPlan plan = load_scan_plan(plan_with("empty/raw.mpilink"));
  EXPECT_EQ(plan.background.recording, (dir() / "empty/raw.mpilink").lexically_normal());
  const fs::path bad = dir() / "bad_key.toml";
  std::ofstream(bad) << "tracer = \"" << (kSource / "configs/tracers/single-core-30nm.toml").string() << "\"\n"
                     << "[sequence]\ndrive_frequency_hz = 25000.0\ndrive_amplitude_t = 0.012\n[background]\nfile = \"x\"\n";
  EXPECT_THROW(
      {
        try {
          (void)load_scan_plan(bad);
        } catch (const PlanError& e) {
          EXPECT_NE(std::string(e.what()).find("[background] file: unknown key"), std::string::npos) << e.what();
          throw;
        }
      },
      PlanError);
  const fs::path empty = dir() / "empty_key.toml";
  std::ofstream(empty) << "tracer = \"" << (kSource / "configs/tracers/single-core-30nm.toml").string() << "\"\n"
                       << "[sequence]\ndrive_frequency_hz = 25000.0\ndrive_amplitude_t = 0.012\n[background]\nrecording = \"\"\n";
  EXPECT_THROW((void)load_scan_plan(empty), PlanError);
}

TEST(BackgroundStage, AveragesEveryCompleteFrameOfTheRecordingPerSampleAndChannel) {
  write_capture(dir() / "good.mpilink", {});
  const ScanPlan plan = load_scan_plan(plan_with("good.mpilink"));
  const BackgroundFrame bg = BackgroundFrame::load(plan, demo_scanner());
  EXPECT_EQ(bg.frames(), 6U) << "all frames of the recording, not the plan's 5";
  ASSERT_EQ(bg.samples_per_frame(), kFrameSamples);
  ASSERT_EQ(bg.channels(), 2U);
  for (std::uint64_t i = 0; i < kFrameSamples; ++i) {
    for (unsigned c = 0; c < 2; ++c) ASSERT_EQ(bg.code(i, c), mean_code(i, c)) << i << " " << c;
  }
  EXPECT_NE(bg.description().find("mean of 6 frames"), std::string::npos) << bg.description();
  EXPECT_NO_THROW(bg.check_matches(scan_setup()));
}

TEST(BackgroundStage, ToVoltsSubtractsTheMeanFrameBeforeScaling) {
  write_capture(dir() / "good2.mpilink", {});
  const BackgroundFrame bg = BackgroundFrame::load(load_scan_plan(plan_with("good2.mpilink")), demo_scanner());
  Frame frame;
  frame.channels = 2;
  for (std::uint64_t i = 0; i < kFrameSamples; ++i) {
    for (unsigned c = 0; c < 2; ++c) frame.samples.push_back(static_cast<std::int16_t>(1000 - static_cast<int>(i % 13) + 5 * static_cast<int>(c)));
  }
  // 1D: one receive channel.
  const ToVolts to_volts{0, kPeriod, 0.5, &bg};
  const Signal s = to_volts(frame);
  ASSERT_EQ(s.volts.size(), kFrameSamples);
  for (std::uint64_t i = 0; i < kFrameSamples; ++i) ASSERT_DOUBLE_EQ(s.volts[i], 0.5 * (frame.samples[2 * i] - mean_code(i, 0))) << i;
  // Named sequences: every receive channel, channel-major.
  ToChannelVolts per_channel{{0.25}, kFrameSamples, &bg};
  std::vector<double> out(kFrameSamples);
  per_channel(frame, out);
  for (std::uint64_t i = 0; i < kFrameSamples; ++i) ASSERT_DOUBLE_EQ(out[i], 0.25 * (frame.samples[2 * i] - mean_code(i, 0))) << i;
  // A frame of another length is refused by the stage, naming the background.
  Frame short_frame = frame;
  short_frame.samples.resize(2 * kPeriod);
  try {
    (void)ToVolts{0, kPeriod, 0.5, &bg}(short_frame);
    FAIL() << "a frame of another length was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("good2.mpilink"), std::string::npos) << e.what();
  }
}

TEST(BackgroundStage, RecordingOfAnotherDriveIsRefused) {
  write_capture(dir() / "other_drive.mpilink", {.frequency_hz = 31250.0});
  EXPECT_TRUE(refused(plan_with("other_drive.mpilink", "p1.toml"),
                      {"p1.toml: [background] recording: ", "other_drive.mpilink", "not a recording of the scan's drive", "31250 Hz"}));
  write_capture(dir() / "other_amplitude.mpilink", {.amplitude_t = 0.010});
  EXPECT_TRUE(refused(plan_with("other_amplitude.mpilink", "p2.toml"), {"other_amplitude.mpilink", "10 mT", "12 mT"}));
}

TEST(BackgroundStage, RecordingWithAnotherChannelCountIsRefused) {
  write_capture(dir() / "three_channels.mpilink", {.channels = 3});
  EXPECT_TRUE(refused(plan_with("three_channels.mpilink", "p3.toml"),
                      {"p3.toml: [background] recording: ", "three_channels.mpilink", "3 ADC channels", "has 2"}));
}

TEST(BackgroundStage, MissingTruncatedAndEmptyRecordingsAreRefused) {
  EXPECT_TRUE(refused(plan_with("missing.mpilink", "p4.toml"), {"p4.toml: [background] recording: ", "missing.mpilink", "cannot open"}));
  write_capture(dir() / "truncated.mpilink", {});
  fs::resize_file(dir() / "truncated.mpilink", fs::file_size(dir() / "truncated.mpilink") - 7);
  EXPECT_TRUE(refused(plan_with("truncated.mpilink", "p5.toml"), {"p5.toml: [background] recording: ", "truncated.mpilink", "truncated"}));
  write_capture(dir() / "no_frames.mpilink", {.frames = 0});
  EXPECT_TRUE(refused(plan_with("no_frames.mpilink", "p6.toml"), {"no_frames.mpilink", "no complete frame"}));
  std::ofstream(dir() / "not_a_capture.mpilink") << "hello";
  EXPECT_TRUE(refused(plan_with("not_a_capture.mpilink", "p7.toml"), {"not_a_capture.mpilink", "not a raw capture"}));
}

TEST(BackgroundStage, ScanOfAnotherFrameLengthOrSequenceIsRefusedAtStart) {
  write_capture(dir() / "good3.mpilink", {});
  const BackgroundFrame bg = BackgroundFrame::load(load_scan_plan(plan_with("good3.mpilink")), demo_scanner());
  const auto refused_at_start = [&bg](const AcquisitionSetup& scan, const std::string& piece) -> ::testing::AssertionResult {
    try {
      bg.check_matches(scan);
    } catch (const PlanError& e) {
      const std::string m = e.what();
      if (m.find("good3.mpilink") == std::string::npos || m.find(piece) == std::string::npos) return ::testing::AssertionFailure() << m;
      return ::testing::AssertionSuccess() << m;
    }
    return ::testing::AssertionFailure() << "accepted";
  };
  AcquisitionSetup longer = scan_setup();
  longer.periods_per_frame = 3;
  EXPECT_TRUE(refused_at_start(longer, "1250 samples per frame, the scan has 1875"));
  AcquisitionSetup more_channels = scan_setup();
  more_channels.adc_channels = 4;
  EXPECT_TRUE(refused_at_start(more_channels, "2 ADC channels, the scan has 4"));
  AcquisitionSetup lissajous = scan_setup();
  lissajous.drive_channels = {0, 1};
  lissajous.drives.resize(2);
  EXPECT_TRUE(refused_at_start(lissajous, "another sequence"));
}

// A named sequence: a recording of the scanner's 1D sequence is not one of its 2D Lissajous sequence.
TEST(BackgroundStage, RecordingOfAnotherSequenceIsRefused) {
  const fs::path file = dir() / "seq.mpilink";
  {
    RawCaptureWriter w(file);
    const auto push = [&w](const link::v1::Envelope& env) {
      std::string bytes;
      ASSERT_TRUE(protocol::append_frame(env, bytes));
      w.push(std::move(bytes));
    };
    link::v1::Envelope hello;
    hello.mutable_hello_reply()->mutable_board()->set_adc_sample_rate_hz(2.5e6);
    hello.mutable_hello_reply()->mutable_board()->set_adc_channels(6);
    push(hello);
    link::v1::Envelope configured;
    auto* x = configured.mutable_configure_reply()->add_drive();
    x->set_channel(0);
    x->set_frequency_hz(2.5e6 / 102);
    x->set_amplitude_t(0.012);
    configured.mutable_configure_reply()->set_ramp_samples(1020);
    configured.mutable_configure_reply()->set_cycle_samples(102);
    push(configured);
    w.finish();
  }
  const fs::path plan_file = dir() / "p8.toml";
  std::ofstream(plan_file) << "tracer = \"" << (kSource / "configs/tracers/single-core-30nm.toml").string() << "\"\n"
                           << "[sequence]\nname = \"lissajous_2d\"\nframes = 5\n[background]\nrecording = \"seq.mpilink\"\n";
  try {
    (void)BackgroundFrame::load(load_scan_plan(plan_file), load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml"));
    FAIL() << "accepted";
  } catch (const PlanError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("p8.toml: [background] recording: "), std::string::npos) << m;
    EXPECT_NE(m.find("seq.mpilink: not a recording of the scan's drive"), std::string::npos) << m;
  }
}
