// End-to-end safety: plant, firmware and `mpi` as separate processes on loopback. A host that dies or
// stalls mid-scan, and every fault the plant injects that the firmware must react to, end in SAFE with
// the fault latched (kind, channel, sample index), reported on the stream and in Status, and the drive
// ramped down and switched off on the board; `mpi scan` exits non-zero naming the fault. For a killed host
// the plant's own field trace (mpi-plant --field-trace) shows the physics that reached the coil: the ramp
// began within 3 heartbeat periods of the kill, the field reached zero at the end of the configured ramp,
// and it never stepped beyond the slew limit.
#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/drive_channel.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/hil/field_trace.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <numbers>
#include <optional>
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
// demo-1d.toml: 125 MHz / 8; [safety] watchdog_timeout (the heartbeat period) = 100 ms.
constexpr double kSampleRateHz = 15.625e6;
constexpr double kHeartbeatPeriodS = 0.1;

// The demo scanner with a temperature sensor on coil x (limit 60 degC), so over-temperature can trip.
fs::path scanner_with_sensor(const fs::path& dir) {
  const fs::path file = dir / "scanner.toml";
  std::ofstream(file) << read_file(kScanner) << "\n[[temperature_sensor]]\nname = \"coil_x\"\ncoil = \"x\"\nlimit = \"60 degC\"\n";
  return file;
}

hil::ScenarioFiles files(const fs::path& scanner, const fs::path& plan, const fs::path& dir, const fs::path& faults = {}) {
  hil::ScenarioFiles f;
  f.scanner = scanner;
  f.plan = plan;
  f.work_dir = dir / "logs";
  f.plant_pace = 1.0;
  f.faults = faults;
  return f;
}

// A second connection to the firmware once the controlling host is gone (retries while BUSY).
std::unique_ptr<host::LinkClient> probe(std::uint16_t port) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    try {
      auto client = std::make_unique<host::LinkClient>("127.0.0.1", port, std::chrono::milliseconds(2000));
      v1::Envelope hello;
      hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
      hello.mutable_hello()->set_client_name("safety probe");
      if (client->request(hello).has_hello_reply()) return client;
    } catch (const host::LinkError&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

v1::Status status_of(host::LinkClient& client) {
  v1::Envelope request;
  request.mutable_status_request();
  return client.request(request).status();
}

// Polls Status (bounded) until the board is in SAFE.
std::optional<v1::Status> wait_for_safe(host::LinkClient& client) {
  for (int i = 0; i < 400; ++i) {
    const v1::Status status = status_of(client);
    if (status.mode() == v1::BOARD_MODE_SAFE) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

// The board's drive channel 0 as the plant's registers show it: ramped to zero, disabled, amplifier off.
void expect_drive_off(const std::string& shm_name) {
  drivers::SharedMemoryBus bus(shm_name);
  const drivers::DriveChannel x(bus, 0);
  EXPECT_EQ(x.ramp_factor(), 0.0);
  EXPECT_FALSE(x.enabled());
  EXPECT_FALSE(x.amplifier_enabled());
}

// Waits (bounded) until the plant's write pointer passes `samples`: the scan is at full field.
bool wait_for_samples(const std::string& shm_name, std::uint64_t samples) {
  drivers::SharedMemoryBus bus(shm_name);
  for (int i = 0; i < 1000; ++i) {
    if (bus.read64(drivers::regmap::kWritePointer) >= samples) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void expect_ramp_started_within_heartbeats(const v1::Status& status) {
  ASSERT_GE(status.faults_size(), 1);
  const std::uint64_t fault_sample = status.faults(0).sample();
  const auto limit = static_cast<std::uint64_t>(3 * kHeartbeatPeriodS * kSampleRateHz);
  EXPECT_GE(status.ramp_down_start_sample(), fault_sample);
  EXPECT_LE(status.ramp_down_start_sample() - fault_sample, limit) << "the ramp-down began more than 3 heartbeat periods after the fault";
  // Acquisition ran until the end of the ramp: the firmware waited for zero field before switching off.
  EXPECT_GT(status.write_pointer(), status.ramp_down_start_sample());
}

// The plant's field trace of drive channel 0 for a scan whose host was killed at sample `kill_sample` (the
// plant's write pointer just before the kill), checked with figures from the scanner description and the
// plan only: fs, the drive frequency and amplitude, max_slew, [safety] watchdog_timeout (the heartbeat
// period) and ramp_time, the coil's rl_time_constant, and the plan's ramp (ramp_periods whole periods).
void expect_field_trace_ramps_down(const fs::path& trace_file, const fs::path& plan_file, std::uint64_t kill_sample) {
  const config::ScannerDescription scanner = config::load_scanner_description(kScanner);
  const host::ScanPlan plan = host::load_scan_plan(plan_file);
  const double fs = scanner.board.sample_rate_hz();
  const config::DriveChannelDescription& x = scanner.drive.at(0);
  const double f = x.frequency_hz();
  const double a = plan.sequence.drive_amplitude_t;
  const double heartbeat_samples = scanner.safety.watchdog_timeout_s * fs;
  const double ramp = plan.sequence.ramp_periods * std::round(fs / plan.sequence.drive_frequency_hz);  // ramp_samples
  ASSERT_LE(ramp, scanner.safety.ramp_time_s * fs + 0.5) << "the plan's ramp is longer than [safety] ramp_time";
  const double tau = x.rl_time_constant_s * fs;  // the coil current's lag, in samples

  const hil::FieldTraceFile trace = hil::read_field_trace(trace_file);
  ASSERT_EQ(trace.header.drive_names.at(0), x.name);
  ASSERT_EQ(trace.header.dropped_blocks, 0U);
  const double block = trace.header.block_samples;
  std::vector<hil::FieldTraceBlock> blocks;
  for (const hil::FieldTraceBlock& b : trace.blocks) {
    if (b.scan == 1) blocks.push_back(b);
  }
  ASSERT_GT(blocks.size(), 2U);
  for (std::size_t k = 0; k < blocks.size(); ++k) ASSERT_EQ(blocks[k].first_sample, k * trace.header.block_samples) << "a gap in the trace";
  const auto last_of = [](const hil::FieldTraceBlock& b) { return static_cast<double>(b.first_sample + b.samples - 1); };
  const auto kill = static_cast<double>(kill_sample);

  // Full field before the kill: the first block at ramp factor 1 (the end of the ramp-up), and the block
  // that ends before the kill at amplitude A (the control loop holds it within 0.1 %; 1 % allowed here).
  std::size_t full = 0;
  while (full < blocks.size() && blocks[full].ramp_factor[0] < 1.0) ++full;
  const std::size_t kill_block = kill_sample / trace.header.block_samples;
  ASSERT_LT(kill_block + 1, blocks.size()) << "the trace ends before the kill";
  ASSERT_LT(full, kill_block) << "the drive was not at full field before the kill";
  EXPECT_NEAR(blocks[kill_block - 1].peak_t[0], a, 0.01 * a);

  // (a) The envelope starts to fall (ramp factor below 1) not before the kill and within 3 heartbeat periods.
  std::size_t fall = full;
  while (fall < blocks.size() && blocks[fall].ramp_factor[0] >= 1.0) ++fall;
  ASSERT_LT(fall, blocks.size()) << "the drive never ramped down";
  EXPECT_GE(last_of(blocks[fall]), kill) << "the ramp-down began before the host was killed";
  EXPECT_LE(static_cast<double>(blocks[fall].first_sample), kill + 3.0 * heartbeat_samples)
      << "the ramp-down began more than 3 heartbeat periods after the kill";
  // The ramp began inside block `fall`: in [first_sample, last sample].
  const double ramp_start_earliest = static_cast<double>(blocks[fall].first_sample);
  const double ramp_start_latest = last_of(blocks[fall]);

  // (b) Ramp factor 0 at the end of the configured ramp (within the block resolution) and from then on.
  std::size_t zero = fall;
  while (zero < blocks.size() && blocks[zero].ramp_factor[0] > 0.0) ++zero;
  ASSERT_LT(zero, blocks.size()) << "the ramp factor never reached 0";
  EXPECT_GE(last_of(blocks[zero]) - ramp_start_earliest, ramp - 1.0) << "the ramp was shorter than ramp_samples";
  EXPECT_LE(static_cast<double>(blocks[zero].first_sample) - ramp_start_latest, ramp + 1.0) << "the ramp was longer than ramp_samples";
  // The coil current follows the linear ramp through its first-order lag (rl_time_constant tau): at the
  // ramp's end it is at most A tau / R and from then on decays as exp(-t / tau), whether or not the
  // firmware has switched the amplifier off. Every block from the ramp's end on stays under that bound
  // (0.1 % control accuracy on A, 1e-9 A absolute), and the factor stays 0 until acquisition stops.
  // (The firmware may stop acquisition as soon as the factor is 0: the trace then ends before the last
  // microtesla of the decay.)
  const double ramp_end_latest = ramp_start_latest + ramp;
  std::size_t decay_blocks = 0;
  for (std::size_t k = zero; k < blocks.size(); ++k) {
    EXPECT_EQ(blocks[k].ramp_factor[0], 0.0) << "the drive ramped up again at sample " << blocks[k].first_sample;
    const auto first = static_cast<double>(blocks[k].first_sample);
    if (first >= ramp_end_latest) {
      ++decay_blocks;
      const double bound = (1.0 + 1e-3) * a * tau / ramp * std::exp(-(first - ramp_end_latest) / tau) + 1e-9 * a;
      EXPECT_LE(blocks[k].peak_t[0], bound) << "field left at sample " << blocks[k].first_sample;
    }
  }

  // (c) No step beyond the slew limit. Without max_slew the limit is that of the sine at amplitude A,
  // 2 pi f A, plus what the linear ramp adds (A fs / R, i.e. a relative margin of fs / (2 pi f R)) and the
  // control loop's 0.1 % amplitude accuracy.
  const double slew_limit = x.max_slew_t_per_s > 0.0 ? x.max_slew_t_per_s
                                                    : 2.0 * std::numbers::pi * f * a * (1.0 + fs / (2.0 * std::numbers::pi * f * ramp) + 1e-3);
  // The envelope never drops between blocks by more than the linear ramp allows, A block / R, plus the
  // control loop's 0.1 % of A: a hard cut would drop it by A within a block.
  const double drop_limit = a * block / ramp + 1e-3 * a;
  double max_slew = 0.0;
  double max_drop = 0.0;
  for (std::size_t k = 0; k < blocks.size(); ++k) {
    max_slew = std::max(max_slew, blocks[k].slew_t_per_s[0]);
    if (k > 0) max_drop = std::max(max_drop, blocks[k - 1].peak_t[0] - blocks[k].peak_t[0]);
  }
  EXPECT_LE(max_slew, slew_limit) << "the field stepped beyond the slew limit";
  EXPECT_LE(max_drop, drop_limit) << "the drive was cut faster than the linear ramp";
  std::printf("field trace: kill at sample %.0f, ramp began in [%.0f, %.0f] (%.4f heartbeat periods later), factor 0 by %.0f "
              "(ramp %.0f samples), %zu blocks after its end, last peak %.3g T; max slew %.1f T/s (limit %.1f), max envelope drop %.3g T (limit %.3g)\n",
              kill, ramp_start_earliest, ramp_start_latest, (ramp_start_earliest - kill) / heartbeat_samples, last_of(blocks[zero]), ramp,
              decay_blocks, blocks.back().peak_t[0], max_slew, slew_limit, max_drop, drop_limit);
}

}  // namespace

TEST(HilSafety, KilledHostRampsTheDriveDownAndTheBoardEntersSafe) {
  const fs::path dir = hil::test::fresh_work_dir("safety", "kill");
  hil::ScenarioFiles scenario_files = files(kScanner, hil::test::demo_plan_with_frames(kSource, dir, 600), dir);
  scenario_files.field_trace = dir / "field_trace.csv";
  hil::Scenario scenario(kPrograms, scenario_files);
  hil::ChildProcess host({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--scanner",
                          kScanner.string(), "--plan", (dir / "plan.toml").string(), "--out", (dir / "out").string()},
                         (dir / "mpi.log").string());
  ASSERT_TRUE(wait_for_samples(scenario.shm_name(), static_cast<std::uint64_t>(0.05 * kSampleRateHz)));
  const std::uint64_t kill_sample = drivers::SharedMemoryBus(scenario.shm_name()).read64(drivers::regmap::kWritePointer);
  ::kill(host.pid(), SIGKILL);
  host.wait(std::chrono::milliseconds(5000));
  auto client = probe(scenario.firmware_port());
  ASSERT_TRUE(client);
  const auto status = wait_for_safe(*client);
  ASSERT_TRUE(status) << "the board did not enter SAFE after the host was killed";
  EXPECT_EQ(status->state(), v1::SCAN_STATE_SAFE);
  ASSERT_EQ(status->faults_size(), 1);
  EXPECT_EQ(status->faults(0).kind(), v1::FAULT_KIND_LINK_LOST);
  expect_ramp_started_within_heartbeats(*status);
  expect_drive_off(scenario.shm_name());
  // Start is refused in SAFE, naming the mode that allows it; ClearFaults returns to CONFIG.
  v1::Envelope start;
  start.mutable_start();
  try {
    client->request(start);
    ADD_FAILURE() << "Start was accepted in SAFE";
  } catch (const host::LinkError& e) {
    EXPECT_NE(std::string(e.what()).find("Start is accepted in ARMED, the board is in SAFE"), std::string::npos) << e.what();
  }
  v1::Envelope clear;
  clear.mutable_clear_faults();
  const v1::Envelope cleared = client->request(clear);
  ASSERT_TRUE(cleared.has_status());
  EXPECT_EQ(cleared.status().mode(), v1::BOARD_MODE_CONFIG);
  EXPECT_EQ(cleared.status().faults_size(), 0);
  // The plant writes its trace when acquisition stops and again when it exits: end the processes, read it.
  client.reset();
  scenario.stop();
  expect_field_trace_ramps_down(scenario_files.field_trace, dir / "plan.toml", kill_sample);
}

TEST(HilSafety, StalledHostMissesItsHeartbeatsAndTheBoardEntersSafe) {
  const fs::path dir = hil::test::fresh_work_dir("safety", "stall");
  hil::Scenario scenario(kPrograms, files(kScanner, hil::test::demo_plan_with_frames(kSource, dir, 1500), dir));
  hil::ChildProcess host({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--scanner",
                          kScanner.string(), "--plan", (dir / "plan.toml").string(), "--out", (dir / "out").string()},
                         (dir / "mpi.log").string());
  ASSERT_TRUE(wait_for_samples(scenario.shm_name(), static_cast<std::uint64_t>(0.05 * kSampleRateHz)));
  ::kill(host.pid(), SIGSTOP);  // the connection stays open; only the heartbeats stop
  // While it is stalled no other host can connect; the board's registers show the ramp-down.
  drivers::SharedMemoryBus bus(scenario.shm_name());
  bool off = false;
  for (int i = 0; i < 400 && !off; ++i) {
    off = !drivers::DriveChannel(bus, 0).amplifier_enabled();
    if (!off) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(host.pid(), SIGKILL);
  ::kill(host.pid(), SIGCONT);
  host.wait(std::chrono::milliseconds(5000));
  EXPECT_TRUE(off) << "the amplifier stayed on with a stalled host";
  auto client = probe(scenario.firmware_port());
  ASSERT_TRUE(client);
  const auto status = wait_for_safe(*client);
  ASSERT_TRUE(status);
  ASSERT_GE(status->faults_size(), 1);
  EXPECT_EQ(status->faults(0).kind(), v1::FAULT_KIND_HEARTBEAT_LOST);
  EXPECT_GT(status->ramp_down_start_sample(), static_cast<std::uint64_t>(0.05 * kSampleRateHz));
  expect_drive_off(scenario.shm_name());
}

struct InjectedFault {
  const char* name;
  const char* fault_toml;  // one [[fault]] table, at 10 ms
  v1::FaultKind kind;
  int channel;
  const char* message;     // `mpi scan` must name it
  bool clears;             // the condition ends by itself (ClearFaults succeeds)
};

class InjectedFaults : public ::testing::TestWithParam<InjectedFault> {};

TEST_P(InjectedFaults, EndInSafeReportedWithKindChannelAndSampleAndFlaggedInTheStream) {
  const InjectedFault& p = GetParam();
  const fs::path dir = hil::test::fresh_work_dir("safety", p.name);
  const fs::path faults = dir / "faults.toml";
  std::ofstream(faults) << "[[fault]]\n" << p.fault_toml << "\nat = \"10 ms\"\n";
  const fs::path scanner = scanner_with_sensor(dir);
  hil::Scenario scenario(kPrograms, files(scanner, hil::test::demo_plan_with_frames(kSource, dir, 40), dir, faults));
  const fs::path out = dir / "out";
  const int exit_code = hil::run_program({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()),
                                          "--scanner", scanner.string(), "--plan", (dir / "plan.toml").string(), "--out", out.string()},
                                         nullptr, (dir / "mpi.log").string());
  EXPECT_NE(exit_code, 0);
  const std::string log = read_file(dir / "mpi.log");
  EXPECT_NE(log.find("safety fault"), std::string::npos) << log;
  EXPECT_NE(log.find(p.message), std::string::npos) << log;

  // The sample index: at or after the injection (10 ms after the trigger), within a few control ticks.
  const auto injected = static_cast<std::uint64_t>(0.010 * kSampleRateHz);
  const auto slack = static_cast<std::uint64_t>(0.020 * kSampleRateHz);

  // The stream (the host's raw capture of every frame): a Fault message and the flagged chunk.
  host::RawCaptureReader capture(out / "raw.mpilink");
  v1::Envelope env;
  std::optional<v1::Fault> streamed;
  std::vector<v1::SampleChunk> chunks;
  while (capture.next(env)) {
    if (env.has_fault() && !streamed) streamed = env.fault();
    if (env.has_chunk()) chunks.push_back(env.chunk());
  }
  ASSERT_TRUE(streamed) << "no Fault message on the stream";
  EXPECT_EQ(streamed->kind(), p.kind);
  EXPECT_EQ(streamed->channel(), p.channel);
  EXPECT_GE(streamed->sample(), injected);
  EXPECT_LT(streamed->sample(), injected + slack);
  bool flagged_at_fault = false, flagged_before = false;
  for (const v1::SampleChunk& c : chunks) {
    const bool flagged = (c.flags() & v1::CHUNK_FLAG_FAULT) != 0;
    const std::uint64_t end = c.first_sample() + c.sample_count();
    if (c.first_sample() <= streamed->sample() && streamed->sample() < end) flagged_at_fault = flagged;
    if (end <= streamed->sample() && flagged) flagged_before = true;
  }
  EXPECT_TRUE(flagged_at_fault) << "the chunk holding the fault's sample is not flagged";
  EXPECT_FALSE(flagged_before) << "a chunk before the fault is flagged";

  auto client = probe(scenario.firmware_port());
  ASSERT_TRUE(client);
  const auto status = wait_for_safe(*client);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state(), v1::SCAN_STATE_SAFE);
  ASSERT_GE(status->faults_size(), 1);
  EXPECT_EQ(status->faults(0).kind(), p.kind);
  EXPECT_EQ(status->faults(0).channel(), p.channel);
  EXPECT_EQ(status->faults(0).sample(), streamed->sample());
  expect_ramp_started_within_heartbeats(*status);
  expect_drive_off(scenario.shm_name());

  v1::Envelope clear;
  clear.mutable_clear_faults();
  if (p.clears) {
    EXPECT_EQ(client->request(clear).status().mode(), v1::BOARD_MODE_CONFIG);
  } else {
    EXPECT_THROW(client->request(clear), host::LinkError) << "ClearFaults succeeded while the fault condition persists";
    EXPECT_EQ(status_of(*client).mode(), v1::BOARD_MODE_SAFE);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Plant, InjectedFaults,
    ::testing::Values(
        InjectedFault{"amplifier_dropout", "kind = \"amplifier_dropout\"\nchannel = \"x\"", v1::FAULT_KIND_AMPLIFIER, 0,
                      "amplifier fault on drive channel x at sample", true},
        InjectedFault{"over_temperature", "kind = \"over_temperature\"\nchannel = \"x\"\ntemperature = \"90 degC\"",
                      v1::FAULT_KIND_OVER_TEMPERATURE, -1, "over-temperature at sample", false},
        InjectedFault{"interlock_open", "kind = \"interlock\"\nstate = \"open\"", v1::FAULT_KIND_INTERLOCK_OPEN, -1,
                      "interlock opened at sample", false},
        InjectedFault{"instant_stop", "kind = \"instant_stop\"\nstate = \"press\"", v1::FAULT_KIND_INSTANT_STOP, -1,
                      "instant stop pressed at sample", false}),
    [](const ::testing::TestParamInfo<InjectedFault>& param_info) { return std::string(param_info.param.name); });
