// stream_bench: the highest sustained loopback throughput of the firmware's sample stream. The plant runs
// with its counter pattern as fast as it can (--pace 0) or at a given multiple of real time, the firmware
// streams the preclinical 3D scanner's six ADC channels, and this program receives the link for a while and
// prints payload MB/s, its ratio to the 3D preclinical acquisition rate (6 channels x 2.5 MS/s x 2 bytes =
// 30 MB/s), the frames lost to ring overwrites and the firmware's resident memory besides the ring.
//
//   stream_bench [--pace X] [--seconds S] [--check]
#include "mpi/hil/child_process.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/hil/counter_pattern_checker.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

namespace fs = std::filesystem;
using namespace mpi;
using Clock = std::chrono::steady_clock;

namespace {

long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

double mib(long kb) { return static_cast<double>(kb) / 1024.0; }

int run(double pace, double seconds, bool check) {
  const fs::path source = MPI_SOURCE_DIR;
  const fs::path scanner = source / "configs/scanners/preclinical-ffp.toml";
  const fs::path logs = fs::temp_directory_path() / ("mpi-stream-bench-" + std::to_string(::getpid()));
  fs::create_directories(logs);
  const std::string shm = "/mpi-stream-bench-" + std::to_string(::getpid());
  char pace_text[32];
  std::snprintf(pace_text, sizeof pace_text, "%g", pace);
  hil::ChildProcess plant({MPI_PLANT_EXE, "--shm", shm, "--scanner", scanner.string(), "--tracer",
                           (source / "configs/tracers/single-core-30nm.toml").string(), "--phantom",
                           (source / "configs/phantoms/point.toml").string(), "--pace", pace_text, "--counter-pattern"},
                          (logs / "plant.log").string());
  plant.wait_for_line("plant ready", std::chrono::seconds(30));
  hil::ChildProcess firmware({MPI_FIRMWARE_EXE, "--bus", "shm:" + shm, "--scanner", scanner.string(), "--listen", "127.0.0.1:0", "--no-field-control", "--key", hil::link_key_file().string()},
                             (logs / "firmware.log").string());
  const std::string line = firmware.wait_for_line("firmware listening on", std::chrono::seconds(30));
  unsigned port = 0;
  std::from_chars(line.data() + line.rfind(':') + 1, line.data() + line.size(), port);

  host::LinkClient link("127.0.0.1", static_cast<std::uint16_t>(port), std::chrono::seconds(10));
  link::v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_client_name("stream_bench");
  const auto board = link.request(hello).hello_reply().board();
  link::v1::Envelope configure;
  const double frequency[3] = {2.5e6 / 102, 2.5e6 / 96, 2.5e6 / 99};
  for (unsigned d = 0; d < 3; ++d) {
    auto* ch = configure.mutable_configure()->add_drive();
    ch->set_channel(d);
    ch->set_frequency_hz(frequency[d]);
    ch->set_amplitude_t(5e-3);
  }
  configure.mutable_configure()->set_ramp_samples(2500);
  link.request(configure);
  link::v1::Envelope start;
  start.mutable_start();
  link.send(start);

  hil::CounterPatternChecker checker(board.adc_channels());
  link::v1::Envelope message;
  const Clock::time_point begin = Clock::now();
  const Clock::time_point measure_from = begin + std::chrono::seconds(1);  // warm-up
  const Clock::time_point measure_to = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  bool measuring = false;
  std::uint64_t bytes = 0;
  std::uint64_t frames = 0;
  std::uint64_t overwritten_chunks = 0;
  std::uint64_t unflagged_gaps = 0;
  std::uint64_t first_frame = 0;
  std::uint64_t next_frame = 0;
  long rss_kb = 0;
  long shmem_kb = 0;
  Clock::time_point started;
  bool ended_early = false;
  while (link.receive(message)) {
    if (message.has_fault()) std::fprintf(stderr, "stream_bench: firmware fault: %s\n", message.fault().message().c_str());
    if (message.has_stream_end()) {  // the firmware ended the stream before the measurement did
      std::fprintf(stderr, "stream_bench: stream ended at sample %llu: %s\n",
                   static_cast<unsigned long long>(message.stream_end().end_sample()), message.stream_end().reason().c_str());
      ended_early = true;
      break;
    }
    if (!message.has_chunk()) continue;
    const auto& chunk = message.chunk();
    const Clock::time_point now = Clock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      started = now;
      first_frame = chunk.first_sample();
    }
    if (measuring) {
      bytes += chunk.payload().size();
      frames += chunk.sample_count();
      if ((chunk.flags() & link::v1::CHUNK_FLAG_OVERWRITTEN) != 0) ++overwritten_chunks;
      const bool flagged = (chunk.flags() & (link::v1::CHUNK_FLAG_OVERWRITTEN | link::v1::CHUNK_FLAG_CORRUPTED)) != 0;
      // A gap in the sample index must come flagged: overwritten (the reader fell a ring behind) or
      // corrupted (overwritten while being read); the firmware re-anchors and says so.
      if (next_frame != 0 && chunk.first_sample() != next_frame && !flagged) ++unflagged_gaps;
      next_frame = chunk.first_sample() + chunk.sample_count();
      if (check) checker.check(chunk.first_sample(), chunk.sample_count(), std::as_bytes(std::span(chunk.payload().data(), chunk.payload().size())));
      if (now >= measure_to) break;
    }
    if (rss_kb == 0 && now >= measure_from) {
      rss_kb = status_kb(firmware.pid(), "VmRSS");
      shmem_kb = status_kb(firmware.pid(), "RssShmem");
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const long rss_end = status_kb(firmware.pid(), "VmRSS");
  const long shmem_end = status_kb(firmware.pid(), "RssShmem");
  link::v1::Envelope stop;
  stop.mutable_stop();
  link.send(stop);

  const double rate_3d = 6 * 2.5e6 * 2;  // bytes per second at the 3D preclinical rate
  const double mb = static_cast<double>(bytes) / 1e6;
  const double mb_per_s = mb / elapsed;
  const std::uint64_t produced = next_frame - first_frame;
  std::printf("stream_bench: plant pace %s, %u channels, %.2f s measured\n", pace_text, board.adc_channels(), elapsed);
  std::printf("  received %.1f MB payload: %.1f MB/s = %.2f x the 3D preclinical rate (30 MB/s), %.2f Mframes/s\n", mb, mb_per_s,
              mb * 1e6 / elapsed / rate_3d, static_cast<double>(frames) / elapsed / 1e6);
  std::printf("  frames streamed %llu of %llu acquired in the window (%.2f %%), chunks flagged overwritten: %llu\n",
              static_cast<unsigned long long>(frames), static_cast<unsigned long long>(produced), produced ? 100.0 * static_cast<double>(frames) / static_cast<double>(produced) : 0.0,
              static_cast<unsigned long long>(overwritten_chunks));
  std::printf("  gaps in the sample index without an overwritten/corrupted flag: %llu\n", static_cast<unsigned long long>(unflagged_gaps));
  if (check) {
    std::printf("  pattern check: %llu frames, lost %llu, duplicated %llu, wrong %llu\n", static_cast<unsigned long long>(checker.frames_checked()),
                static_cast<unsigned long long>(checker.lost_frames()), static_cast<unsigned long long>(checker.duplicated_frames()),
                static_cast<unsigned long long>(checker.wrong_samples()));
  }
  std::printf("  firmware VmRSS %.1f MiB (start) / %.1f MiB (end), of which shared memory (ring, registers) %.1f / %.1f MiB: besides it %.1f / %.1f MiB\n",
              mib(rss_kb), mib(rss_end), mib(shmem_kb), mib(shmem_end), mib(rss_kb - shmem_kb), mib(rss_end - shmem_end));
  std::fflush(stdout);
  firmware.terminate();
  plant.terminate();
  return ended_early || unflagged_gaps != 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  double pace = 0.0;
  double seconds = 5.0;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--pace" && i + 1 < argc) pace = std::strtod(argv[++i], nullptr);
    else if (arg == "--seconds" && i + 1 < argc) seconds = std::strtod(argv[++i], nullptr);
    else if (arg == "--check") check = true;
    else {
      std::fprintf(stderr, "stream_bench: unknown argument '%s' (usage: stream_bench [--pace X] [--seconds S] [--check])\n", arg.c_str());
      return 2;
    }
  }
  try {
    return run(pace, seconds, check);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stream_bench: %s\n", e.what());
    return 1;
  }
}
