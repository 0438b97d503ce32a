// Zero-loss streaming at the 3D preclinical rate: the plant in real time with its counter pattern (every
// ADC sample carries its own index), the firmware, and a receiver on the link that checks every sample of
// every channel for its index and order. MPI_STREAM_SECONDS sets the scan length (default 5 s; the
// acceptance run uses 60). The firmware's resident memory besides the mapped ADC ring is printed.
#include "mpi/hil/child_process.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/hil/counter_pattern_checker.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
// preclinical-ffp.toml: 2.5 MHz drive base clock, dividers 102 / 96 / 99; ADC at 125 MHz / 50.
constexpr double kSampleRateHz = 2.5e6;
constexpr double kDriveFrequencyHz[3] = {2.5e6 / 102, 2.5e6 / 96, 2.5e6 / 99};

double stream_seconds() {
  const char* text = std::getenv("MPI_STREAM_SECONDS");
  if (text == nullptr || *text == '\0') return 5.0;
  const double s = std::strtod(text, nullptr);
  if (!(s > 0.0)) throw std::invalid_argument(std::string("MPI_STREAM_SECONDS = '") + text + "' is not a positive number of seconds");
  return s;
}

// kB fields of /proc/<pid>/status (VmRSS, RssShmem, ...); -1 when absent.
long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

}  // namespace

TEST(HilStream, ThreeDimensionalRateStreamsEverySampleOnceAndInOrder) {
  const double seconds = stream_seconds();
  const fs::path dir = fs::temp_directory_path() / ("mpi-hil-" + std::to_string(::getpid()) + "-stream");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string shm = "/mpi-hil-stream-" + std::to_string(::getpid());

  hil::ChildProcess plant({MPI_PLANT_EXE, "--shm", shm, "--scanner", kScanner.string(), "--tracer",
                           (kSource / "configs/tracers/single-core-30nm.toml").string(), "--phantom",
                           (kSource / "configs/phantoms/point.toml").string(), "--pace", "1", "--counter-pattern"},
                          (dir / "plant.log").string());
  plant.wait_for_line("plant ready", std::chrono::seconds(30));
  hil::ChildProcess firmware({MPI_FIRMWARE_EXE, "--bus", "shm:" + shm, "--scanner", kScanner.string(), "--listen", "127.0.0.1:0", "--no-field-control", "--key", hil::link_key_file().string()},
                             (dir / "firmware.log").string());
  const std::string line = firmware.wait_for_line("firmware listening on", std::chrono::seconds(30));
  unsigned port = 0;
  const auto colon = line.rfind(':');
  ASSERT_NE(colon, std::string::npos) << line;
  std::from_chars(line.data() + colon + 1, line.data() + line.size(), port);
  ASSERT_GT(port, 0U) << line;

  host::LinkClient link("127.0.0.1", static_cast<std::uint16_t>(port), std::chrono::seconds(10));
  link::v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_client_name("stream check");
  const link::v1::Envelope hello_reply = link.request(hello);
  ASSERT_TRUE(hello_reply.has_hello_reply());
  const auto& board = hello_reply.hello_reply().board();
  ASSERT_DOUBLE_EQ(board.adc_sample_rate_hz(), kSampleRateHz);
  ASSERT_EQ(board.adc_channels(), 6U) << "3 receive channels and 3 drive references";

  link::v1::Envelope configure;
  for (unsigned d = 0; d < 3; ++d) {
    auto* ch = configure.mutable_configure()->add_drive();
    ch->set_channel(d);
    ch->set_frequency_hz(kDriveFrequencyHz[d]);
    ch->set_amplitude_t(5e-3);
    ch->set_phase_rad(0.0);
  }
  configure.mutable_configure()->set_ramp_samples(2500);  // 1 ms
  const link::v1::Envelope configured = link.request(configure);
  ASSERT_TRUE(configured.has_configure_reply()) << configured.DebugString();

  const auto max_samples = static_cast<std::uint64_t>(seconds * kSampleRateHz);
  link::v1::Envelope start;
  start.mutable_start()->set_max_samples(max_samples);
  link.send(start);

  hil::CounterPatternChecker checker(board.adc_channels());
  std::uint32_t flags = 0;
  std::uint64_t bytes = 0;
  long rss_kb = 0;
  long shmem_kb = 0;
  auto next_memory_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  link::v1::Envelope message;
  bool ended = false;
  while (!ended && link.receive(message)) {
    if (message.has_chunk()) {
      const auto& chunk = message.chunk();
      ASSERT_EQ(chunk.channel_count(), board.adc_channels());
      flags |= chunk.flags();
      bytes += chunk.payload().size();
      checker.check(chunk.first_sample(), chunk.sample_count(),
                    std::as_bytes(std::span(chunk.payload().data(), chunk.payload().size())));
      if (std::chrono::steady_clock::now() >= next_memory_check) {
        next_memory_check += std::chrono::seconds(1);
        const long rss = status_kb(firmware.pid(), "VmRSS");
        if (rss > rss_kb) {
          rss_kb = rss;
          shmem_kb = status_kb(firmware.pid(), "RssShmem");
        }
      }
    } else if (message.has_stream_end()) {
      ended = true;
      EXPECT_EQ(message.stream_end().end_sample(), checker.next_frame()) << message.stream_end().reason();
    } else if (message.has_error()) {
      FAIL() << "firmware error: " << message.error().message();
    }
  }
  ASSERT_TRUE(ended) << "no StreamEnd; firmware log:\n" << read_file(dir / "firmware.log");

  const double mib = 1.0 / 1024.0;
  std::cout << "streamed " << checker.frames_checked() << " frames x " << checker.channels() << " channels ("
            << static_cast<double>(bytes) / 1e6 << " MB payload) of a " << seconds << " s scan: lost " << checker.lost_frames() << ", duplicated "
            << checker.duplicated_frames() << ", wrong " << checker.wrong_samples() << "\n"
            << "firmware resident memory (peak of 1 s samples): VmRSS " << static_cast<double>(rss_kb) * mib << " MiB, of which mapped shared memory (ADC ring, "
            << "registers) " << static_cast<double>(shmem_kb) * mib << " MiB; besides it " << static_cast<double>(rss_kb - shmem_kb) * mib << " MiB\n";
  RecordProperty("frames", std::to_string(checker.frames_checked()));
  RecordProperty("firmware_rss_besides_ring_mib", std::to_string(static_cast<double>(rss_kb - shmem_kb) * mib));

  EXPECT_TRUE(checker.clean()) << checker.first_problem();
  EXPECT_EQ(checker.lost_frames(), 0U);
  EXPECT_EQ(checker.duplicated_frames(), 0U);
  EXPECT_EQ(checker.wrong_samples(), 0U);
  // The whole scan: ramp-up, max_samples at full field, ramp-down.
  EXPECT_GE(checker.frames_checked(), max_samples);
  EXPECT_EQ(flags & (link::v1::CHUNK_FLAG_OVERWRITTEN | link::v1::CHUNK_FLAG_CORRUPTED), 0U) << "chunk flags " << flags;
  EXPECT_GT(rss_kb, 0);
  EXPECT_LT(rss_kb - shmem_kb, 64L * 1024) << "the firmware's memory besides the ring exceeds 64 MiB";

  EXPECT_EQ(firmware.terminate(), 0);
  EXPECT_EQ(plant.terminate(), 0);
}
