// The Python example client (tools/link/mpi_link_client.py), written from link.proto alone, against the
// plant and the firmware on the demo scanner (configs/scanners/demo-1d.toml): it authenticates, runs a
// one-second scan as the controller and checks that the chunks tile the stream's sample indices. The
// expected figures come from the scanner description: ADC 125 MHz / 8 = 15.625 MS/s, 2 channels (rx_x and
// the drive reference ref_x), the client's 1 ms ramps = 15625 samples.
#include "mpi/hil/scenario.hpp"
#include "mpi/protocol/auth.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/demo-1d.toml";
const fs::path kClient = kSource / "tools/link/mpi_link_client.py";

constexpr std::uint64_t kSampleRate = 125'000'000 / 8;  // [board] dac_clock / adc_decimation
constexpr std::uint64_t kRampSamples = kSampleRate / 1000;

hil::ScenarioFiles files(const fs::path& dir) {
  hil::ScenarioFiles f;
  f.scanner = kScanner;
  f.plan = hil::test::demo_plan_with_frames(kSource, dir, 10);  // the plant takes its tracer and phantom
  f.work_dir = dir / "logs";
  // Half real time: 31 MB/s of samples leaves a loaded machine's Python reader ahead of the 0.27 s ring.
  f.plant_pace = 0.5;
  return f;
}

struct ClientRun {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

ClientRun run_client(const hil::Scenario& scenario, const fs::path& key, const fs::path& dir, const std::string& name,
               const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{MPI_PYTHON3_EXE,
                                kClient.string(),
                                "--connect",
                                "127.0.0.1:" + std::to_string(scenario.firmware_port()),
                                "--key",
                                key.string(),
                                "--protoc",
                                MPI_PROTOC_EXE};
  argv.insert(argv.end(), extra.begin(), extra.end());
  ClientRun run;
  const fs::path err = dir / (name + ".stderr");
  run.code = hil::run_program(argv, &run.out, err.string());
  run.err = read_file(err);
  return run;
}

// The number after `label` in `text` (0 if absent).
std::uint64_t number_after(const std::string& text, const std::string& label) {
  const std::size_t at = text.find(label);
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + label.size()));
}

}  // namespace

TEST(HilPythonClient, ReadsOneSecondOfSamplesWithContiguousIndices) {
  const fs::path dir = hil::test::fresh_work_dir("python-client", "second");
  hil::Scenario scenario(kPrograms, files(dir));

  const ClientRun run = run_client(scenario, hil::link_key_file(), dir, "controller", {"--seconds", "1"});
  ASSERT_EQ(run.code, 0) << run.out << run.err << read_file(dir / "logs/firmware.log");
  std::cout << run.out;
  EXPECT_NE(run.out.find("role ROLE_CONTROLLER"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("ADC 15625000 Hz, 2 channels (rx_x, ref_x)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("mode BOARD_MODE_CONFIG"), std::string::npos) << "a fresh board is in CONFIG\n" << run.out;
  EXPECT_NE(run.out.find("indices contiguous"), std::string::npos) << run.out;
  // One second at full field between a ramp up and a ramp down (the stream runs on while the coils settle).
  EXPECT_GE(number_after(run.out, "samples received: "), kSampleRate + 2 * kRampSamples) << run.out;
  EXPECT_EQ(number_after(run.out, "chunks, "), 2U) << run.out;

  // An observer sees the board back in ARMED after the scan (BoardMode: RUNNING --(scan ends)--> ARMED).
  const ClientRun watch = run_client(scenario, hil::link_key_file(), dir, "observer", {"--observer", "--seconds", "0.2"});
  ASSERT_EQ(watch.code, 0) << watch.out << watch.err;
  EXPECT_NE(watch.out.find("role ROLE_OBSERVER"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("mode BOARD_MODE_ARMED"), std::string::npos) << watch.out;
}

TEST(HilPythonClient, WrongKeyFailsAuthenticationAndTheRightKeyWorksAfterwards) {
  const fs::path dir = hil::test::fresh_work_dir("python-client", "wrong-key");
  hil::Scenario scenario(kPrograms, files(dir));
  const fs::path wrong = dir / "wrong.key";
  protocol::write_key_file(wrong);  // another scanner's key, mode 0600

  const ClientRun refused = run_client(scenario, wrong, dir, "wrong-key", {"--seconds", "0.1"});
  EXPECT_EQ(refused.code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("authentication failed"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out.find("samples received"), std::string::npos) << refused.out;
  // Exactly one line on stderr.
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;

  // One failed handshake at most is counted against 127.0.0.1 (the firmware lets 3 pass free): the
  // right key is accepted at once.
  const ClientRun accepted = run_client(scenario, hil::link_key_file(), dir, "right-key", {"--seconds", "0.1"});
  ASSERT_EQ(accepted.code, 0) << accepted.out << accepted.err << read_file(dir / "logs/firmware.log");
  EXPECT_NE(accepted.out.find("indices contiguous"), std::string::npos) << accepted.out;
  EXPECT_GE(number_after(accepted.out, "samples received: "), kSampleRate / 10 + 2 * kRampSamples) << accepted.out;
}

TEST(HilPythonClient, BadUsageExitsWithTwo) {
  const fs::path dir = hil::test::fresh_work_dir("python-client", "usage");
  std::string out;
  EXPECT_EQ(hil::run_program({MPI_PYTHON3_EXE, kClient.string(), "--connect", "no-port", "--key", hil::link_key_file().string()}, &out,
                             (dir / "usage.stderr").string()),
            2)
      << out << read_file(dir / "usage.stderr");
  EXPECT_NE(read_file(dir / "usage.stderr").find("HOST:PORT"), std::string::npos);
  const fs::path not_a_key = dir / "not-a-key";
  std::ofstream(not_a_key) << "not hexadecimal\n";
  EXPECT_EQ(hil::run_program({MPI_PYTHON3_EXE, kClient.string(), "--connect", "127.0.0.1:1", "--key", not_a_key.string()}, &out,
                             (dir / "key.stderr").string()),
            2)
      << out << read_file(dir / "key.stderr");
}
