// End-to-end safety: plant, firmware and `mpi` as separate processes on loopback. A host that dies or
// stalls mid-scan, and every fault the plant injects that the firmware must react to, end in SAFE with
// the fault latched (kind, channel, sample index), reported on the stream and in Status, and the drive
// ramped down and switched off on the board; `mpi scan` exits non-zero naming the fault.
#include "mpi/drivers/drive_channel.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
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

}  // namespace

TEST(HilSafety, KilledHostRampsTheDriveDownAndTheBoardEntersSafe) {
  const fs::path dir = hil::test::fresh_work_dir("safety", "kill");
  hil::Scenario scenario(kPrograms, files(kScanner, hil::test::demo_plan_with_frames(kSource, dir, 600), dir));
  hil::ChildProcess host({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--scanner",
                          kScanner.string(), "--plan", (dir / "plan.toml").string(), "--out", (dir / "out").string()},
                         (dir / "mpi.log").string());
  ASSERT_TRUE(wait_for_samples(scenario.shm_name(), static_cast<std::uint64_t>(0.05 * kSampleRateHz)));
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
