// The drive-field control loop against the plant, whose truth differs from the firmware's calibration
// (amplifier gain 10 % higher, amplifier phase 5 degrees off, optionally thermal drift). The field is
// measured independently of the firmware: demodulated here from the reference pickup (ADC channel ref_x)
// in the host's raw capture, and compared with the target; the firmware's FieldReports (Status) give the
// update count. MPI_HIL_CONTROL_LONG=1 runs the 60 s heating scan.
#include "mpi/hil/scenario.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace mpi;
namespace v1 = link::v1;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/demo-1d.toml";

// demo-1d.toml: 15.625 MS/s, 25 kHz (625 samples a period), 50 V/T pickup, ADC 1 V at code 32767, one
// receive channel (ref_x is ADC channel 1 of 2); the plan: 12 mT at phase 0.
constexpr double kSampleRate = 15.625e6;
constexpr double kFrequency = 25e3;
constexpr std::size_t kPeriod = 625;
constexpr double kPickupVPerT = 50.0;
constexpr double kTargetT = 0.012;
constexpr double kTargetPhase = 0.0;
constexpr double kAmplitudeTolerance = 1e-3;
constexpr double kPhaseTolerance = 0.1 * std::numbers::pi / 180.0;

// demo-1d.toml with the x channel's truth changed: amplifier gain `gain` (the calibration says 10 A/V),
// phase 5 deg, and `extra` lines added to its [[drive]] table.
fs::path plant_scanner(const fs::path& dir, const std::string& extra, const std::string& gain_truth = "11 A/V") {
  std::string text = read_file(kScanner);
  const std::string gain = "amplifier_gain = \"10 A/V\"";
  const std::size_t at = text.find(gain);
  if (at == std::string::npos) throw std::runtime_error("demo-1d.toml has no '" + gain + "' line");
  text.replace(at, gain.size(), "amplifier_gain = \"" + gain_truth + "\"\namplifier_phase = \"5 deg\"\n" + extra);
  const fs::path file = dir / "plant-scanner.toml";
  std::ofstream(file) << text;
  return file;
}

// The complex field B e^{i psi} (b = B sin(w t + psi), t from the trigger) of ref_x over `count`
// samples from `first`: lock-in over whole periods.
std::complex<double> demodulate(const std::vector<std::int16_t>& ref, std::size_t first, std::size_t count) {
  double s = 0.0, c = 0.0;
  for (std::size_t n = first; n < first + count; ++n) {
    const double w = 2.0 * std::numbers::pi * kFrequency * static_cast<double>(n) / kSampleRate;
    const double v = ref[n] / 32767.0 / kPickupVPerT;
    s += v * std::sin(w);
    c += v * std::cos(w);
  }
  return {2.0 * s / static_cast<double>(count), 2.0 * c / static_cast<double>(count)};
}

double wrap(double a) { return std::remainder(a, 2.0 * std::numbers::pi); }

struct ScanRecord {
  std::vector<std::int16_t> ref;   // ref_x, sample n at index n
  std::uint64_t ramp_down_start = 0;
  std::map<std::uint64_t, v1::FieldReport> reports;  // by first_sample
};

ScanRecord scan(const fs::path& dir, const std::string& drift, int frames) {
  hil::ScenarioFiles f;
  f.scanner = kScanner;
  f.plant_scanner = plant_scanner(dir, drift);
  f.plan = hil::test::demo_plan_with_frames(kSource, dir, frames);
  f.work_dir = dir;
  f.plant_pace = 1.0;
  hil::Scenario scenario(kPrograms, f);

  ScanRecord run;
  const int code = scenario.run_scan(dir / "out");
  EXPECT_EQ(code, 0) << read_file(dir / "mpi.log");
  // The firmware's latest FieldReports (Status keeps the last 32), asked once the host has gone.
  for (int attempt = 0; attempt < 200 && run.reports.empty(); ++attempt) {
    try {
      host::LinkClient client("127.0.0.1", scenario.firmware_port(), std::chrono::milliseconds(2000));
      v1::Envelope hello;
      hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
      hello.mutable_hello()->set_client_name("control probe");
      if (!client.request(hello).has_hello_reply()) continue;
      v1::Envelope request;
      request.mutable_status_request();
      const v1::Envelope reply = client.request(request);
      for (const v1::FieldReport& r : reply.status().last_field()) run.reports[r.first_sample()] = r;
      break;
    } catch (const host::LinkError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  host::RawCaptureReader capture(dir / "out/raw.mpilink");
  v1::Envelope env;
  while (capture.next(env)) {
    if (env.has_chunk()) {
      const v1::SampleChunk& c = env.chunk();
      if (run.ref.size() < c.first_sample() + c.sample_count()) run.ref.resize(c.first_sample() + c.sample_count());
      const auto* p = reinterpret_cast<const std::uint8_t*>(c.payload().data());
      for (std::uint32_t n = 0; n < c.sample_count(); ++n) {
        const std::size_t at = (std::size_t{n} * c.channel_count() + 1) * 2;  // ref_x: channel 1, int16 little-endian
        run.ref[c.first_sample() + n] = static_cast<std::int16_t>(static_cast<std::uint16_t>(p[at] | (p[at + 1] << 8)));
      }
    }
    if (env.has_stream_end()) run.ramp_down_start = env.stream_end().ramp_down_start_sample();
  }
  return run;
}

bool within(const v1::FieldReport& r) {
  return std::abs(r.measured_t() / kTargetT - 1.0) <= kAmplitudeTolerance &&
         std::abs(wrap(r.measured_phase_rad() - kTargetPhase)) <= kPhaseTolerance;
}

// Every period (25-period blocks) of the capture's ref_x, measured here independently of the firmware,
// from `from` to the ramp-down (StreamEnd) within the bounds.
void expect_on_target_from(const ScanRecord& run, std::uint64_t from) {
  ASSERT_GT(run.ramp_down_start, from + 4 * kPeriod);
  std::size_t bad = 0, blocks = 0;
  double worst_a = 0.0, worst_p = 0.0;
  for (std::uint64_t n = from; n + 25 * kPeriod <= run.ramp_down_start && n + 25 * kPeriod <= run.ref.size(); n += 25 * kPeriod) {
    const std::complex<double> b = demodulate(run.ref, n, 25 * kPeriod);
    const double ea = std::abs(std::abs(b) / kTargetT - 1.0), ep = std::abs(wrap(std::arg(b) - kTargetPhase));
    worst_a = std::max(worst_a, ea);
    worst_p = std::max(worst_p, ep);
    bad += (ea > kAmplitudeTolerance || ep > kPhaseTolerance) ? 1 : 0;
    ++blocks;
  }
  EXPECT_GT(blocks, 5U);
  EXPECT_EQ(bad, 0U) << "of " << blocks << " blocks; worst amplitude error " << worst_a << ", phase " << worst_p << " rad";
  std::printf("control: %zu reports, on target from sample %llu: %zu blocks checked, worst |dA/A| %.2e, worst |dphi| %.4f deg\n",
              run.reports.size(), static_cast<unsigned long long>(from), blocks, worst_a, worst_p * 180.0 / std::numbers::pi);
}

// The first sample of a report within the bounds; fails where a later report is out of them.
std::optional<std::uint64_t> converged_at(const ScanRecord& run, std::size_t* updates = nullptr) {
  std::optional<std::uint64_t> converged;
  std::size_t index = 0;
  for (const auto& [sample, r] : run.reports) {
    EXPECT_EQ(r.verdict(), "ok") << "report " << index;
    if (!converged && within(r)) {
      converged = sample;
      if (updates != nullptr) *updates = index;
    } else if (converged) {
      EXPECT_TRUE(within(r)) << "report of sample " << sample << ": " << r.measured_t() << " T, " << r.measured_phase_rad() << " rad";
    }
    ++index;
  }
  return converged;
}

TEST(HilControl, ColdStartConvergesOnPlantTruth) {
  const fs::path dir = hil::test::fresh_work_dir("control", "cold");
  const ScanRecord run = scan(dir, "", 50);  // 50 ms: every update fits the 32 reports of Status
  ASSERT_GE(run.reports.size(), 6U) << "too few FieldReports";
  // The first block measured starts one block (1 ms) after the ramp-up (1 ms), or later where the
  // firmware's tick was held up by more than a block (it then measures the latest whole block): the cold
  // start, which sees the plant's truth against the calibration: gain 1.1, phase 5 deg.
  const v1::FieldReport& cold = run.reports.begin()->second;
  EXPECT_GE(cold.first_sample(), 2 * 25 * kPeriod);
  EXPECT_LT(cold.first_sample(), 20 * 25 * kPeriod) << "the first update came late";
  EXPECT_NEAR(cold.measured_t() / kTargetT, 1.1, 2e-3);
  EXPECT_NEAR(cold.measured_phase_rad(), 5.0 * std::numbers::pi / 180.0, 2e-3);
  std::size_t updates = 0;
  const auto converged = converged_at(run, &updates);
  ASSERT_TRUE(converged) << "never on target";
  EXPECT_LE(updates, 5U) << "on target after " << updates << " updates";
  std::printf("control: on target after %zu updates\n", updates);
  expect_on_target_from(run, *converged);
}

// A field 30 % above what the calibration predicts (15.6 mT, under the coil's 16 mT limit) fails the
// plausibility gate (20 %): the firmware does not chase it but ends the scan in SAFE with a field-control
// fault, and mpi says so. (50 % would give 18 mT, which the firmware reports as a field above the cap.)
TEST(HilControl, ImplausibleFieldEndsInSafeWithAFieldControlFault) {
  const fs::path dir = hil::test::fresh_work_dir("control", "implausible");
  hil::ScenarioFiles f;
  f.scanner = kScanner;
  f.plant_scanner = plant_scanner(dir, "", "13 A/V");
  f.plan = hil::test::demo_plan_with_frames(kSource, dir, 50);
  f.work_dir = dir;
  f.plant_pace = 1.0;
  hil::Scenario scenario(kPrograms, f);
  EXPECT_NE(scenario.run_scan(dir / "out"), 0);
  const std::string log = read_file(dir / "mpi.log");
  EXPECT_NE(log.find("implausible"), std::string::npos) << log;

  host::LinkClient client("127.0.0.1", scenario.firmware_port(), std::chrono::milliseconds(2000));
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_client_name("control probe");
  ASSERT_TRUE(client.request(hello).has_hello_reply());
  v1::Envelope request;
  request.mutable_status_request();
  const v1::Status status = client.request(request).status();
  EXPECT_EQ(status.mode(), v1::BOARD_MODE_SAFE);
  ASSERT_EQ(status.faults_size(), 1);
  EXPECT_EQ(status.faults(0).kind(), v1::FAULT_KIND_FIELD_CONTROL);
  EXPECT_EQ(status.faults(0).channel(), 0);
  EXPECT_NE(status.faults(0).message().find("implausible"), std::string::npos) << status.faults(0).message();
}

TEST(HilControl, TracksCoilHeating) {
  const bool long_run = std::getenv("MPI_HIL_CONTROL_LONG") != nullptr;
  const fs::path dir = hil::test::fresh_work_dir("control", "heating");
  // 0.05 mT/K at 12 mT and 0.1 deg/K; the coil heats towards 20 K * (12/16)^2 = 11.25 K with 1 s.
  const ScanRecord run = scan(dir,
                              "gain_drift = \"0.4167 %/K\"\nphase_drift = \"0.1 deg/K\"\nheating_time_constant = \"1 s\"\n"
                              "temperature_rise_at_limit = \"20 K\"\n",
                              long_run ? 60000 : 1500);
  ASSERT_GE(run.reports.size(), 6U) << "too few FieldReports";
  const auto converged = converged_at(run);  // the latest reports: all on target
  ASSERT_TRUE(converged);
  EXPECT_EQ(*converged, run.reports.begin()->first);
  // From the capture: the first block on target, then every block to the ramp-down.
  std::uint64_t from = 2 * 25 * kPeriod;
  while (from + 25 * kPeriod <= run.ref.size()) {
    const std::complex<double> b = demodulate(run.ref, from, 25 * kPeriod);
    if (std::abs(std::abs(b) / kTargetT - 1.0) <= kAmplitudeTolerance && std::abs(wrap(std::arg(b) - kTargetPhase)) <= kPhaseTolerance) break;
    from += kPeriod;
  }
  expect_on_target_from(run, from);
  // The coil heated measurably: the field the calibration predicts from the DAC played fell by 2 %
  // between the cold start and the end (the gain rose by 0.4167 %/K over several kelvin).
  const std::complex<double> cold = demodulate(run.ref, 2 * 25 * kPeriod, 25 * kPeriod);
  EXPECT_NEAR(std::abs(cold) / kTargetT, 1.1, 5e-3);
  EXPECT_LT(run.reports.rbegin()->second.applied_amplitude(), kTargetT / 0.020 / 1.1 * 0.98);
}

}  // namespace
