// Resume of a scan's stream after a reconnect, and the drive-field control's reports on the stream, end to
// end: the plant (demo-1d; a quarter of real time for the resume, real time for the reports), the firmware,
// and raw link clients.
// - A supervised host is lost mid-scan (its socket closed abruptly): the firmware ramps down into SAFE; the
//   next host resumes from the first sample the lost one did not get. With the plant's counter pattern
//   (every ADC sample carries its own index) both streams together must hold every sample exactly once,
//   with the right values, up to the scan's StreamEnd. Resumes that cannot be served are refused naming
//   the field and the limit.
// - With the drive-field control on, every report arrives as a FieldReport message while the scan runs.
#include "mpi/hil/child_process.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/hil/counter_pattern_checker.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <memory>
#include <chrono>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;
namespace v1 = link::v1;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const fs::path kScanner = kSource / "configs/scanners/demo-1d.toml";
// demo-1d.toml: 15.625 MS/s, one drive channel at 25 kHz (625 samples a period), two ADC channels.
constexpr double kSampleRateHz = 15.625e6;
constexpr double kFrequencyHz = 25e3;
constexpr std::uint32_t kRampSamples = 15625;  // 1 ms
constexpr std::uint32_t kChunkSamples = 8192;

// The plant and the firmware as processes (killed on every way out).
struct Bench {
  Bench(const fs::path& dir, bool counter_pattern) {
    const std::string shm = "/mpi-hil-resume-" + std::to_string(::getpid()) + (counter_pattern ? "-c" : "-f");
    std::vector<std::string> plant_args{MPI_PLANT_EXE,
                                        "--shm",
                                        shm,
                                        "--scanner",
                                        kScanner.string(),
                                        "--tracer",
                                        (kSource / "configs/tracers/single-core-30nm.toml").string(),
                                        "--phantom",
                                        (kSource / "configs/phantoms/point.toml").string(),
                                        "--pace",
                                        // The resume case runs the plant at a quarter of real time: the lost
                                        // host may fall behind the board on a loaded machine, and the board
                                        // acquires on until the link-loss ramp is over; at full pace that can
                                        // exceed the ring (0.27 s) before the next host asks to resume.
                                        counter_pattern ? "0.25" : "1"};
    if (counter_pattern) plant_args.emplace_back("--counter-pattern");
    plant.emplace(plant_args, (dir / "plant.log").string());
    plant->wait_for_line("plant ready", std::chrono::seconds(30));
    std::vector<std::string> firmware_args{MPI_FIRMWARE_EXE, "--bus", "shm:" + shm, "--scanner", kScanner.string(), "--listen", "127.0.0.1:0", "--key", hil::link_key_file().string()};
    // The counter pattern replaces the reference pickups' field signal: the control would see no field.
    if (counter_pattern) firmware_args.emplace_back("--no-field-control");
    firmware.emplace(firmware_args, (dir / "firmware.log").string());
    const std::string line = firmware->wait_for_line("firmware listening on", std::chrono::seconds(30));
    const auto colon = line.rfind(':');
    if (colon != std::string::npos) std::from_chars(line.data() + colon + 1, line.data() + line.size(), port);
  }

  std::optional<hil::ChildProcess> plant;
  std::optional<hil::ChildProcess> firmware;
  std::uint16_t port = 0;
};

v1::Envelope hello_message(bool heartbeat) {
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_client_name("resume check");
  if (heartbeat) hello.mutable_hello()->add_capabilities("heartbeat");
  return hello;
}

// Connects and says Hello; retries while the firmware still serves the previous (lost) host.
std::unique_ptr<host::LinkClient> connect(std::uint16_t port, bool heartbeat, v1::BoardInfo* board = nullptr) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto link = std::make_unique<host::LinkClient>("127.0.0.1", port, std::chrono::seconds(10));
    try {
      v1::Envelope hello = hello_message(heartbeat);
      const v1::Envelope reply = link->request(hello);
      if (reply.has_hello_reply()) {
        if (board != nullptr) *board = reply.hello_reply().board();
        return link;
      }
    } catch (const host::LinkError&) {
      // BUSY: the firmware has not yet noticed the previous host is gone
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

v1::Envelope configure_message() {
  v1::Envelope configure;
  v1::DriveChannelConfig* ch = configure.mutable_configure()->add_drive();
  ch->set_channel(0);
  ch->set_frequency_hz(kFrequencyHz);
  ch->set_amplitude_t(0.012);
  ch->set_phase_rad(0.0);
  configure.mutable_configure()->set_ramp_samples(kRampSamples);
  configure.mutable_configure()->set_chunk_samples(kChunkSamples);
  return configure;
}

// Sends a request and returns its reply, keeping every other message (stream, reports) in `others`.
v1::Envelope request_keeping(host::LinkClient& link, v1::Envelope request, std::vector<v1::Envelope>& others) {
  const std::uint64_t id = link.send(request);
  v1::Envelope message;
  while (link.receive(message)) {
    if (message.request_id() == id) return message;
    others.push_back(message);
  }
  throw host::LinkError("the firmware closed the link before replying");
}

v1::Envelope resume_message(std::uint64_t scan_id, std::uint64_t from_sample) {
  v1::Envelope message;
  message.mutable_resume()->set_scan_id(scan_id);
  message.mutable_resume()->set_from_sample(from_sample);
  return message;
}

// The Error's message for a refused Resume ("" if the reply is not an Error with `code`).
std::string refused(host::LinkClient& link, const v1::Envelope& request, v1::ErrorCode code) {
  std::vector<v1::Envelope> others;
  const v1::Envelope reply = request_keeping(link, request, others);
  if (!reply.has_error() || reply.error().code() != code) return "";
  return reply.error().message();
}

void check_chunk(hil::CounterPatternChecker& checker, const v1::SampleChunk& chunk) {
  checker.check(chunk.first_sample(), chunk.sample_count(), std::as_bytes(std::span(chunk.payload().data(), chunk.payload().size())));
}

}  // namespace

TEST(HilResume, NextHostResumesTheLostHostsStreamAndGetsEverySampleOnce) {
  const fs::path dir = hil::test::fresh_work_dir("resume", "lost-host");
  Bench bench(dir, /*counter_pattern=*/true);
  ASSERT_GT(bench.port, 0) << read_file(dir / "firmware.log");

  v1::BoardInfo board;
  std::unique_ptr<host::LinkClient> first = connect(bench.port, /*heartbeat=*/true, &board);
  ASSERT_TRUE(first);
  ASSERT_DOUBLE_EQ(board.adc_sample_rate_hz(), kSampleRateHz);
  const std::uint64_t ring = board.ring_frames();
  v1::Envelope configure = configure_message();
  ASSERT_TRUE(first->request(configure).has_configure_reply());

  // Heartbeats every half period from a thread of their own, as the host does, until the "crash".
  std::atomic<bool> beating{true};
  std::thread heartbeats([&] {
    v1::Envelope beat;
    for (std::uint64_t n = 0; beating.load(); ++n) {
      beat.mutable_heartbeat()->set_sequence(n);
      try {
        first->send(beat);
      } catch (const host::LinkError&) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::duration<double>(board.heartbeat_period_s() / 2));
    }
  });
  struct Join {
    std::atomic<bool>& flag;
    std::thread& thread;
    ~Join() {
      flag.store(false);
      if (thread.joinable()) thread.join();
    }
  } join{beating, heartbeats};

  v1::Envelope start;
  start.mutable_start();  // until stopped: the lost host never stops it
  std::vector<v1::Envelope> early;
  const v1::Envelope started = request_keeping(*first, start, early);
  ASSERT_TRUE(started.has_status()) << started.DebugString();
  const std::uint64_t scan_id = started.status().scan_id();
  ASSERT_GT(scan_id, 0U);

  // The lost host reads more than a ring, so that the scan's first samples are overwritten by now.
  hil::CounterPatternChecker checker(board.adc_channels());
  for (const v1::Envelope& m : early) {
    if (m.has_chunk()) check_chunk(checker, m.chunk());
  }
  v1::Envelope message;
  while (checker.next_frame() < ring && first->receive(message)) {
    if (message.has_chunk()) check_chunk(checker, message.chunk());
    ASSERT_FALSE(message.has_stream_end()) << "the scan ended by itself: " << message.stream_end().reason();
  }
  const std::uint64_t received_to = checker.next_frame();
  ASSERT_GE(received_to, ring);
  beating.store(false);
  heartbeats.join();
  first.reset();  // the host dies: its socket closes without a word

  std::unique_ptr<host::LinkClient> next = connect(bench.port, /*heartbeat=*/true);
  ASSERT_TRUE(next) << read_file(dir / "firmware.log");
  // The link-loss fault ramps the scan down into SAFE.
  v1::Status status;
  for (int i = 0; i < 500; ++i) {
    v1::Envelope request;
    request.mutable_status_request();
    status = next->request(request).status();
    if (status.mode() == v1::BOARD_MODE_SAFE && status.state() != v1::SCAN_STATE_RUNNING) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(status.mode(), v1::BOARD_MODE_SAFE) << status.DebugString();
  EXPECT_EQ(status.scan_id(), scan_id);
  ASSERT_GE(status.faults_size(), 1);
  EXPECT_EQ(status.faults(0).kind(), v1::FAULT_KIND_LINK_LOST) << status.faults(0).message();

  // Refused: the first samples are overwritten, another scan id, beyond the end.
  const std::string overwritten = refused(*next, resume_message(scan_id, 12), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(overwritten.find("from_sample = 12 is no longer in the ring: the oldest sample held is "), std::string::npos) << overwritten;
  const std::string wrong_scan = refused(*next, resume_message(scan_id + 5, received_to), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(wrong_scan.find("scan_id = " + std::to_string(scan_id + 5)), std::string::npos) << wrong_scan;
  const std::string beyond = refused(*next, resume_message(scan_id, status.write_pointer() + 1), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(beyond.find("from_sample = " + std::to_string(status.write_pointer() + 1) + " is beyond the end"), std::string::npos)
      << beyond;

  // Resumed from the first sample the lost host did not get, accepted in SAFE.
  std::vector<v1::Envelope> stream;
  const v1::Envelope resumed = request_keeping(*next, resume_message(scan_id, received_to), stream);
  ASSERT_TRUE(resumed.has_status()) << resumed.DebugString();
  std::optional<v1::StreamEnd> end;
  std::uint32_t flags = 0;
  std::uint64_t resumed_chunks = 0;
  const auto take = [&](const v1::Envelope& m) {
    if (m.has_chunk()) {
      if (resumed_chunks++ == 0) {
        EXPECT_EQ(m.chunk().first_sample(), received_to);
      }
      EXPECT_FALSE(end) << "chunk after the StreamEnd";
      flags |= m.chunk().flags();
      check_chunk(checker, m.chunk());
    } else if (m.has_stream_end()) {
      end = m.stream_end();
    }
  };
  for (const v1::Envelope& m : stream) take(m);
  while (!end && next->receive(message)) take(message);
  ASSERT_TRUE(end) << read_file(dir / "firmware.log");

  EXPECT_TRUE(checker.clean()) << checker.first_problem();
  EXPECT_EQ(checker.lost_frames(), 0U);
  EXPECT_EQ(checker.duplicated_frames(), 0U);
  EXPECT_EQ(checker.wrong_samples(), 0U);
  EXPECT_EQ(end->end_sample(), checker.next_frame()) << "every sample up to the end";
  EXPECT_EQ(checker.frames_checked(), end->end_sample()) << "each exactly once";
  EXPECT_EQ(end->scan_id(), scan_id);
  EXPECT_EQ(end->reason(), "safety fault");
  EXPECT_EQ(end->ramp_up_end_sample(), kRampSamples);
  EXPECT_GE(end->ramp_down_start_sample(), received_to);
  EXPECT_LE(end->ramp_down_start_sample(), end->end_sample());
  EXPECT_NE(flags & v1::CHUNK_FLAG_FAULT, 0U) << "the fault is flagged on the resumed stream";
  EXPECT_NE(flags & v1::CHUNK_FLAG_RAMPING, 0U) << "the ramp-down is flagged on the resumed stream";
  EXPECT_EQ(flags & (v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED), 0U) << "chunk flags " << flags;
  std::printf("resume: lost host received %llu samples, the next host %llu more (to %llu) in %llu chunks\n",
              static_cast<unsigned long long>(received_to), static_cast<unsigned long long>(end->end_sample() - received_to),
              static_cast<unsigned long long>(end->end_sample()), static_cast<unsigned long long>(resumed_chunks));

  next.reset();
  EXPECT_EQ(bench.firmware->terminate(), 0);
  EXPECT_EQ(bench.plant->terminate(), 0);
}

TEST(HilResume, FieldReportsArriveOnTheStreamAsTheControlMakesThem) {
  const fs::path dir = hil::test::fresh_work_dir("resume", "field-reports");
  Bench bench(dir, /*counter_pattern=*/false);
  ASSERT_GT(bench.port, 0) << read_file(dir / "firmware.log");
  std::unique_ptr<host::LinkClient> link = connect(bench.port, /*heartbeat=*/false);
  ASSERT_TRUE(link);
  v1::Envelope configure = configure_message();
  ASSERT_TRUE(link->request(configure).has_configure_reply());
  // 40 ms at full field: the control's updates fit the 32 reports Status keeps, so Status can vouch for
  // the stream having carried every report.
  v1::Envelope start;
  start.mutable_start()->set_max_samples(static_cast<std::uint64_t>(0.040 * kSampleRateHz));
  std::vector<v1::Envelope> messages;
  ASSERT_TRUE(request_keeping(*link, start, messages).has_status());
  v1::Envelope message;
  const auto ended = [&messages] { return !messages.empty() && messages.back().has_stream_end(); };
  while (!ended() && link->receive(message)) messages.push_back(message);
  ASSERT_TRUE(ended()) << read_file(dir / "firmware.log");
  // Reports made last are polled within milliseconds: the Status reply comes after them.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  v1::Envelope request;
  request.mutable_status_request();
  const v1::Envelope status = request_keeping(*link, request, messages);
  ASSERT_TRUE(status.has_status());

  std::vector<v1::FieldReport> streamed;
  for (const v1::Envelope& m : messages) {
    if (m.has_field_report()) streamed.push_back(m.field_report());
  }
  const auto& kept = status.status().last_field();
  ASSERT_GE(kept.size(), 4) << "too few control updates in 40 ms";
  ASSERT_LT(kept.size(), 32) << "the scan made more reports than Status keeps: the check below would not see them all";
  // The stream carried exactly the reports the loop made, in order.
  ASSERT_EQ(streamed.size(), static_cast<std::size_t>(kept.size()));
  // Blocks of 25 periods (1 ms); the first starts one block after the ramp-up at the earliest (later
  // where the control tick came late).
  constexpr std::uint64_t kBlock = 25 * 625;
  EXPECT_GE(streamed.front().first_sample(), kRampSamples + kBlock);
  for (std::size_t i = 0; i < streamed.size(); ++i) {
    EXPECT_EQ(streamed[i].channel(), 0U);
    EXPECT_EQ(streamed[i].first_sample(), kept[static_cast<int>(i)].first_sample()) << "report " << i;
    EXPECT_DOUBLE_EQ(streamed[i].measured_t(), kept[static_cast<int>(i)].measured_t()) << "report " << i;
    EXPECT_EQ(streamed[i].verdict(), "ok") << "report " << i;
    EXPECT_NEAR(streamed[i].target_t(), 0.012, 1e-9);
    if (i > 0) {
      const std::uint64_t step = streamed[i].first_sample() - streamed[i - 1].first_sample();
      // Blocks do not overlap, and the one after a DAC change is skipped while the coil current settles.
      EXPECT_GE(step, kBlock) << "report " << i << " comes " << step << " samples after the one before";
    }
  }
  // They came while the scan ran: before its StreamEnd.
  std::size_t end_at = 0, last_report_at = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].has_stream_end()) end_at = i;
    if (messages[i].has_field_report()) last_report_at = i;
  }
  EXPECT_LT(last_report_at, end_at);

  link.reset();
  EXPECT_EQ(bench.firmware->terminate(), 0);
  EXPECT_EQ(bench.plant->terminate(), 0);
}
