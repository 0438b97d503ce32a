// The MDF recorder: metadata mapped from plan, scanner description and the board's realised Configure;
// a journal of known samples finalised into scan.mdf (frames, layout, conversion factor, background frames,
// faults, drive field per frame), a journal cut inside its last record, and each bad input.
#include "mpi/host/mdf_recorder.hpp"

#include "mpi/host/drive_plan.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/protocol/framing.hpp"
#include "mpi/recon/mdf.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>

using namespace mpi;
using namespace mpi::host;
namespace fs = std::filesystem;
namespace mdf = mpi::recon::mdf;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("mpi_recorder_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// The 1D demo plan with `frames` frames of `periods` periods and an absolute tracer path.
fs::path small_plan(const fs::path& dir, int frames, int periods) {
  std::string plan = read_all(kSource / "configs/plans/demo-1d-two-points.toml");
  const auto replace_line = [&plan](const std::string& key, const std::string& line) {
    const std::size_t at = plan.find("\n" + key + " =");
    ASSERT_NE(at, std::string::npos) << key;
    plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, line);
  };
  replace_line("tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"");
  replace_line("phantom", "phantom = \"" + (kSource / "configs/phantoms/two-points.toml").string() + "\"");
  replace_line("frames", "frames = " + std::to_string(frames));
  replace_line("periods_per_frame", "periods_per_frame = " + std::to_string(periods));
  const fs::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

std::string frame_of(const link::v1::Envelope& env) {
  std::string out;
  EXPECT_TRUE(protocol::append_frame(env, out));
  return out;
}

// The code the test's board gives sample s of channel c.
std::int16_t code(std::uint64_t s, std::uint32_t c) { return static_cast<std::int16_t>(static_cast<int>((s * 7 + c * 1001) % 30011) - 15000); }

struct Scan {
  ScanPlan plan;
  ScannerDescription scanner;
  link::v1::HelloReply hello;
  link::v1::ConfigureReply configure;
  AcquisitionSetup setup;
  std::uint32_t spp = 0, channels = 0;
};

Scan demo_scan(const fs::path& dir, int frames, int periods, double amplitude_t = 0.012) {
  Scan s;
  s.plan = load_scan_plan(small_plan(dir, frames, periods));
  s.scanner = load_scanner_description(kSource / "configs/scanners/demo-1d.toml");
  s.channels = static_cast<std::uint32_t>(s.scanner.adc_channel_names.size());
  auto* board = s.hello.mutable_board();
  board->set_adc_sample_rate_hz(s.scanner.sample_rate_hz);
  board->set_adc_channels(s.channels);
  for (const auto& n : s.scanner.adc_channel_names) board->add_adc_channel_names(n);
  auto* d = s.configure.add_drive();
  d->set_channel(0);
  d->set_frequency_hz(s.plan.sequence.drive_frequency_hz);
  d->set_amplitude_t(amplitude_t);
  d->set_phase_rad(0.25);
  s.spp = static_cast<std::uint32_t>(std::lround(s.scanner.sample_rate_hz / s.plan.sequence.drive_frequency_hz));
  s.configure.set_ramp_samples(2 * s.spp);
  s.configure.set_cycle_samples(s.spp);
  s.setup.sample_rate_hz = s.scanner.sample_rate_hz;
  s.setup.samples_per_period = s.spp;
  s.setup.periods_per_frame = s.plan.sequence.periods_per_frame;
  s.setup.adc_channels = s.channels;
  s.setup.first_frame_sample = 2 * s.spp;
  return s;
}

RecordingStart start_of(const Scan& s) {
  RecordingStart r;
  r.plan = &s.plan;
  r.scanner = &s.scanner;
  r.hello = s.hello;
  r.configure = s.configure;
  r.setup = s.setup;
  return r;
}

// Writes a journal: HelloReply, ConfigureReply, chunks of `chunk` samples from sample 0 to `end`, a fault
// and field reports along the way, StreamEnd.
void write_journal(const fs::path& file, const Scan& s, std::uint64_t end, std::uint32_t chunk, std::uint64_t fault_at) {
  RawCaptureWriter w(file);
  link::v1::Envelope e;
  *e.mutable_hello_reply() = s.hello;
  w.push(frame_of(e));
  e.Clear();
  *e.mutable_configure_reply() = s.configure;
  w.push(frame_of(e));
  for (std::uint64_t first = 0; first < end; first += chunk) {
    const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk, end - first));
    link::v1::Envelope c;
    auto* ch = c.mutable_chunk();
    ch->set_first_sample(first);
    ch->set_sample_count(n);
    ch->set_channel_count(s.channels);
    std::string payload(std::size_t{n} * s.channels * 2, '\0');
    for (std::uint32_t i = 0; i < n; ++i)
      for (std::uint32_t k = 0; k < s.channels; ++k) {
        const auto v = static_cast<std::uint16_t>(code(first + i, k));
        payload[(i * s.channels + k) * 2] = static_cast<char>(v & 0xff);
        payload[(i * s.channels + k) * 2 + 1] = static_cast<char>(v >> 8);
      }
    ch->set_payload(payload);
    w.push(frame_of(c));
    // A field report at every chunk: measured amplitude grows with the block's sample.
    link::v1::Envelope r;
    auto* fr = r.mutable_field_report();
    fr->set_first_sample(first);
    fr->set_channel(0);
    fr->set_target_t(0.012);
    fr->set_measured_t(0.010 + 1e-9 * static_cast<double>(first));
    fr->set_measured_phase_rad(0.5);
    fr->set_applied_amplitude(0.5);
    fr->set_applied_phase_rad(0.1);
    w.push(frame_of(r));
    if (first <= fault_at && fault_at < first + n) {
      link::v1::Envelope f;
      f.mutable_fault()->set_kind(link::v1::FAULT_KIND_OVER_TEMPERATURE);
      f.mutable_fault()->set_channel(0);
      f.mutable_fault()->set_sample(fault_at);
      f.mutable_fault()->set_message("coil x at 81 degC");
      w.push(frame_of(f));
    }
  }
  e.Clear();
  e.mutable_stream_end()->set_end_sample(end);
  w.push(frame_of(e));
  w.finish();
}

// Expected codes of frame `n` (first sample first) in the file's J x C x V layout.
void expect_frame(const mdf::File& f, std::size_t n, std::uint64_t first, const Scan& s) {
  const std::size_t J = s.setup.periods_per_frame, C = s.channels, V = s.spp;
  const auto& dcf = f.acquisition.receiver.data_conversion_factor.values;
  std::size_t mismatches = 0;
  for (std::size_t j = 0; j < J; ++j)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t v = 0; v < V; ++v) {
        const double want = dcf[2 * c] * code(first + j * V + v, static_cast<std::uint32_t>(c)) + dcf[2 * c + 1];
        const double got = f.measurement->data.values[((n * J + j) * C + c) * V + v];
        if (std::abs(got - want) > 1e-12 * std::abs(want) + 1e-15) ++mismatches;
      }
  EXPECT_EQ(mismatches, 0U) << "frame " << n;
}

}  // namespace

TEST(MdfRecorder, MetadataOfA2DScanComesFromPlanScannerAndTheRealisedConfigure) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point.toml");
  const ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  const DrivePlan drive = plan_drive(plan, scanner, scanner.sample_rate_hz);
  RecordingStart s;
  s.plan = &plan;
  s.scanner = &scanner;
  for (const auto& d : drive.drives) {
    auto* r = s.configure.add_drive();
    r->set_channel(d.channel);
    r->set_frequency_hz(d.frequency_hz);
    r->set_amplitude_t(d.amplitude_t * 0.999);  // as realised, not as planned
    r->set_phase_rad(d.phase_rad + 0.01);
  }
  s.setup.sample_rate_hz = scanner.sample_rate_hz;
  s.setup.samples_per_period = static_cast<std::uint32_t>(drive.cycle_samples);
  s.setup.periods_per_frame = drive.periods_per_frame;
  s.setup.adc_channels = static_cast<std::uint32_t>(scanner.adc_channel_names.size());
  for (const auto& d : drive.drives) s.setup.drive_channels.push_back(d.channel);
  s.start_time = "2026-01-02T03:04:05.678";
  const mdf::File f = recording_metadata(s);

  EXPECT_EQ(f.scanner.name, "preclinical FFP scanner");
  EXPECT_EQ(f.scanner.manufacturer, "simulated");
  EXPECT_EQ(f.scanner.topology, "FFP");
  EXPECT_TRUE(f.experiment.is_simulation) << "the plan has a [simulation] table";
  EXPECT_EQ(f.experiment.name, "lissajous_2d");
  ASSERT_EQ(f.tracer.size(), 1U);
  EXPECT_EQ(f.tracer[0].name, "single-core 30 nm (ideal)");
  EXPECT_TRUE(mdf::is_valid_uuid(f.uuid));
  EXPECT_EQ(f.acquisition.start_time, "2026-01-02T03:04:05.678");
  EXPECT_EQ(f.acquisition.num_averages, 1);
  // Drive: 2.5 MHz base clock, dividers 102 and 96 (REFERENCE 2.1), cycle lcm / base = 1632 / 2.5 MHz.
  const auto& d = f.acquisition.drivefield;
  EXPECT_DOUBLE_EQ(d.base_frequency_hz, 2.5e6);
  EXPECT_EQ(d.num_channels, 2);
  EXPECT_EQ(d.divider.values, (std::vector<std::int64_t>{102, 96}));
  EXPECT_NEAR(d.cycle_s, 1632.0 / 2.5e6, 1e-15);
  ASSERT_EQ(d.strength.shape, (std::vector<std::size_t>{1, 2, 1}));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(d.strength.values[i], s.configure.drive(static_cast<int>(i)).amplitude_t());
    EXPECT_DOUBLE_EQ(d.phase_rad.values[i], s.configure.drive(static_cast<int>(i)).phase_rad());
  }
  // Receiver: bandwidth fs / 2, V = one cycle, C = the board's ADC channels, codes to volts at the coil.
  const auto& r = f.acquisition.receiver;
  EXPECT_DOUBLE_EQ(r.bandwidth_hz, 1.25e6);
  EXPECT_EQ(r.num_sampling_points, 1632);
  EXPECT_EQ(r.num_channels, static_cast<std::int64_t>(scanner.adc_channel_names.size()));
  EXPECT_EQ(r.unit, "V");
  ASSERT_EQ(r.data_conversion_factor.shape, (std::vector<std::size_t>{scanner.adc_channel_names.size(), 2}));
  EXPECT_DOUBLE_EQ(r.data_conversion_factor.values[0], scanner.adc_full_scale_v / 32767.0 / scanner.receivers[0].lna_gain);
  EXPECT_DOUBLE_EQ(r.data_conversion_factor.values[1], 0.0);
  // Gradient J x 1 x 3 x 3: the selection field's matrix.
  ASSERT_EQ(f.acquisition.gradient.shape, (std::vector<std::size_t>{1, 1, 3, 3}));
  EXPECT_DOUBLE_EQ(f.acquisition.gradient.values[8], scanner.gradient_matrix_t_per_m(2, 2));
}

TEST(MdfRecorder, FinishingWritesEveryCompleteFrameOfTheJournalWithFaultsAndDriveField) {
  const fs::path dir = fresh_dir("finish");
  Scan s = demo_scan(dir, 4, 2);
  // A background segment over frames 0 and 1 (frame 0 starts after the 2-period ramp).
  const std::uint64_t spf = std::uint64_t{s.spp} * 2;
  auto* seg = s.configure.add_segments();
  seg->set_role(link::v1::SEGMENT_ROLE_BACKGROUND);
  seg->set_first_sample(0);
  seg->set_sample_count(2 * s.spp + 2 * spf);
  const fs::path file = dir / "scan.mdf";
  begin_recording(file, dir / "raw.mpilink", start_of(s));
  EXPECT_EQ(recording_state(file), "incomplete");
  // Six frames' worth of samples after the ramp: only the plan's four are recorded.
  const std::uint64_t end = 2 * s.spp + 6 * spf;
  write_journal(dir / "raw.mpilink", s, end, 777, 2 * s.spp + spf + 5);

  const RecordingSummary sum = finish_recording(file);
  EXPECT_EQ(sum.frames, 4U);
  EXPECT_EQ(sum.background_frames, 2U);
  EXPECT_FALSE(sum.journal_cut);
  EXPECT_EQ(recording_state(file), "complete");
  EXPECT_FALSE(fs::exists(dir / "scan.mdf.tmp"));

  const mdf::File f = mdf::read_mdf(file.string());
  ASSERT_TRUE(f.measurement.has_value());
  EXPECT_EQ(f.measurement->storage, mdf::StorageType::int16);
  ASSERT_EQ(f.measurement->data.shape, (std::vector<std::size_t>{4, 2, s.channels, s.spp}));
  for (std::size_t n = 0; n < 4; ++n) expect_frame(f, n, 2 * s.spp + n * spf, s);
  EXPECT_EQ(f.measurement->is_background_frame, (std::vector<bool>{true, true, false, false}));
  ASSERT_EQ(f.faults.size(), 1U);
  EXPECT_EQ(f.faults[0].sample_index, static_cast<std::int64_t>(2 * s.spp + spf + 5));
  EXPECT_EQ(f.faults[0].kind, "over_temperature");
  EXPECT_EQ(f.faults[0].channel, 0);
  EXPECT_EQ(f.faults[0].message, "coil x at 81 degC");
  // Drive field of frame n: the last report (one per 777-sample chunk) that began before the frame's end.
  ASSERT_EQ(f.acquisition.measured_field.shape, (std::vector<std::size_t>{4, 1}));
  for (std::size_t n = 0; n < 4; ++n) {
    const std::uint64_t frame_end = 2 * s.spp + (n + 1) * spf;
    const std::uint64_t block = (frame_end - 1) / 777 * 777;  // the last chunk start before the frame's end
    EXPECT_NEAR(std::abs(f.acquisition.measured_field.values[n]), 0.010 + 1e-9 * static_cast<double>(block), 1e-15) << n;
    EXPECT_NEAR(std::arg(f.acquisition.measured_field.values[n]), 0.5, 1e-12);
    EXPECT_NEAR(std::arg(f.acquisition.applied_field.values[n]), 0.1, 1e-12);
    EXPECT_GT(std::abs(f.acquisition.applied_field.values[n]), 0.0);
  }
  // The stored parameters travel with the file.
  const Inspection ins = inspect_mdf(file);
  EXPECT_EQ(ins.errors, 0U) << ins.text;
  std::cout << ins.text;
  EXPECT_NE(ins.text.find("N = 4 frames"), std::string::npos) << ins.text;
  EXPECT_NE(ins.text.find("background frames: 2"), std::string::npos) << ins.text;
  // The independent conformance checker (Python, h5py) accepts the file.
  const std::string check = "/usr/bin/python3 " + (kSource / "tools/mdf/check_mdf.py").string() + " " + file.string() + " > " +
                            (dir / "check.txt").string() + " 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_all(dir / "check.txt");
  std::cout << read_all(dir / "check.txt");
  fs::remove_all(dir);
}

TEST(MdfRecorder, AJournalCutInsideItsLastRecordKeepsEveryFrameBeforeIt) {
  const fs::path dir = fresh_dir("cut");
  const Scan s = demo_scan(dir, 10, 2);
  const std::uint64_t spf = std::uint64_t{s.spp} * 2;
  const fs::path file = dir / "scan.mdf";
  begin_recording(file, dir / "raw.mpilink", start_of(s));
  write_journal(dir / "raw.mpilink", s, 2 * s.spp + 10 * spf, 500, UINT64_MAX);
  // Cut the journal in the middle of the chunk holding sample 2 * spp + 5.5 frames: frames 0..4 are whole
  // before it; the chunk that completes frame 5 is lost with everything after it.
  const std::uint64_t cut_sample = 2 * s.spp + 5 * spf + spf / 2;
  const std::uint64_t chunk_index = cut_sample / 500;
  const std::string bytes = read_all(dir / "raw.mpilink");
  // Find that chunk's record: walk the framing (4-byte little-endian length).
  std::size_t at = 8;
  std::size_t chunks_seen = 0;
  std::size_t cut_at = 0;
  while (at + 4 <= bytes.size()) {
    const std::uint32_t len = static_cast<std::uint8_t>(bytes[at]) | (static_cast<std::uint8_t>(bytes[at + 1]) << 8) |
                              (static_cast<std::uint8_t>(bytes[at + 2]) << 16) | (static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[at + 3])) << 24);
    link::v1::Envelope env;
    ASSERT_TRUE(env.ParseFromArray(bytes.data() + at + 4, static_cast<int>(len)));
    if (env.has_chunk()) {
      if (chunks_seen == chunk_index) {
        cut_at = at + 4 + len / 2;
        break;
      }
      ++chunks_seen;
    }
    at += 4 + len;
  }
  ASSERT_GT(cut_at, 0U);
  fs::resize_file(dir / "raw.mpilink", cut_at);

  const RecordingSummary sum = finish_recording(file);
  EXPECT_TRUE(sum.journal_cut);
  EXPECT_NE(sum.journal_note.find("truncated"), std::string::npos) << sum.journal_note;
  // Complete frames: those whose last sample lies before the lost chunk's first sample.
  const std::uint64_t lost_from = chunk_index * 500;
  const std::uint64_t whole = (lost_from - 2 * s.spp) / spf;
  EXPECT_EQ(sum.frames, whole);
  const mdf::File f = mdf::read_mdf(file.string());
  ASSERT_TRUE(f.measurement.has_value());
  ASSERT_EQ(f.measurement->data.shape[0], whole);
  for (std::size_t n = 0; n < whole; ++n) expect_frame(f, n, 2 * s.spp + n * spf, s);
  fs::remove_all(dir);
}

TEST(MdfRecorder, BadInputsGetClearErrors) {
  const fs::path dir = fresh_dir("bad");
  const auto expect_error = [](const fs::path& file, const std::string& words) {
    try {
      (void)finish_recording(file);
      ADD_FAILURE() << "no error for " << file;
    } catch (const RecordingError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  };
  // Not an MDF file at all, and a file that does not exist.
  std::ofstream(dir / "text.mdf") << "not hdf5\n";
  expect_error(dir / "text.mdf", "not an MDF file");
  expect_error(dir / "missing.mdf", "not an MDF file");
  EXPECT_THROW((void)inspect_mdf(dir / "text.mdf"), RecordingError);

  // An MDF file that is no recording of mpi scan.
  {
    Scan s = demo_scan(dir, 2, 1);
    mdf::write_mdf((dir / "other.mdf").string(), recording_metadata(start_of(s)));
  }
  expect_error(dir / "other.mdf", "not a recording of mpi scan");

  // An incomplete recording without its journal.
  const Scan s = demo_scan(dir, 3, 1);
  begin_recording(dir / "scan.mdf", dir / "raw.mpilink", start_of(s));
  expect_error(dir / "scan.mdf", "missing");

  // The journal of another scan (another drive amplitude): refused, the file stays incomplete.
  const Scan other = demo_scan(dir, 3, 1, 0.010);
  write_journal(dir / "raw.mpilink", other, 2 * s.spp + 3 * s.spp, 1000, UINT64_MAX);
  expect_error(dir / "scan.mdf", "another scan");
  EXPECT_EQ(recording_state(dir / "scan.mdf"), "incomplete");
  EXPECT_FALSE(fs::exists(dir / "scan.mdf.tmp"));

  // Its own journal: finished; a second time: refused as complete.
  write_journal(dir / "raw.mpilink", s, 2 * s.spp + 3 * s.spp, 1000, UINT64_MAX);
  EXPECT_EQ(finish_recording(dir / "scan.mdf").frames, 3U);
  expect_error(dir / "scan.mdf", "already complete");
  fs::remove_all(dir);
}
