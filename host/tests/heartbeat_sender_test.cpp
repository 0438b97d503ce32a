// Heartbeats from their own thread: a fake board on a loopback socket records when each heartbeat
// arrives while the host's receive side is stalled (the fake board sends nothing for a second).
#include "mpi/host/heartbeat_sender.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/protocol/framing.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace mpi::host;
namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Arrival {
  mpi::link::v1::Envelope envelope;
  Clock::time_point at;
};

// A board that accepts one connection and records every envelope the host sends, until the host closes.
class FakeBoard {
 public:
  FakeBoard() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    reader_ = std::thread([this] { read_all(); });
  }
  ~FakeBoard() {
    if (reader_.joinable()) reader_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void wait_connected() {
    std::unique_lock lock(mutex_);
    connected_cv_.wait(lock, [this] { return connected_; });
  }
  // Sends one envelope to the host (from the test thread, while the reader runs).
  Clock::time_point send(const mpi::link::v1::Envelope& env) {
    std::string frame;
    if (!mpi::protocol::append_frame(env, frame)) throw std::runtime_error("frame too large");
    const auto at = Clock::now();
    asio::write(socket_, asio::buffer(frame));
    return at;
  }
  // Joins the reader (returns once the host closed the link) and hands over what arrived.
  std::vector<Arrival> finish() {
    if (reader_.joinable()) reader_.join();
    if (!error_.empty()) ADD_FAILURE() << "fake board: " << error_;
    return arrivals_;
  }

 private:
  void read_all() {
    acceptor_.accept(socket_);
    {
      const std::lock_guard lock(mutex_);
      connected_ = true;
    }
    connected_cv_.notify_all();
    mpi::protocol::FrameDecoder decoder;
    std::array<char, 4096> buffer{};
    for (;;) {
      boost::system::error_code ec;
      const std::size_t got = socket_.read_some(asio::buffer(buffer), ec);
      const auto at = Clock::now();
      if (ec) {
        if (ec != asio::error::eof) error_ = ec.message();
        if (decoder.pending_bytes() != 0) error_ = "the host closed the link inside a frame";
        return;
      }
      decoder.feed(buffer.data(), got);
      std::span<const std::byte> payload;
      for (;;) {
        const auto result = decoder.next(payload);
        if (result == mpi::protocol::FrameDecoder::Result::need_more) break;
        if (result == mpi::protocol::FrameDecoder::Result::oversized) {
          error_ = "oversized frame (a corrupted stream)";
          return;
        }
        Arrival arrival;
        if (!arrival.envelope.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
          error_ = "unparsable frame (a corrupted stream)";
          return;
        }
        arrival.at = at;
        arrivals_.push_back(std::move(arrival));
      }
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket socket_{io_};
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable connected_cv_;
  bool connected_ = false;
  std::vector<Arrival> arrivals_;  // written by the reader only, read after it is joined
  std::string error_;
};

std::vector<Clock::time_point> heartbeat_times(const std::vector<Arrival>& arrivals, Clock::time_point from, Clock::time_point to) {
  std::vector<Clock::time_point> times;
  for (const auto& a : arrivals) {
    if (a.envelope.has_heartbeat() && a.at >= from && a.at <= to) times.push_back(a.at);
  }
  return times;
}

}  // namespace

TEST(HeartbeatSender, KeepsBeatingAtThePeriodWhileTheReceiveSideIsStalled) {
  const auto period = std::chrono::milliseconds(100);  // BoardInfo.heartbeat_period_s = 0.1
  const auto stall = std::chrono::milliseconds(1000);
  FakeBoard board;
  std::optional<LinkClient> link;
  link.emplace("127.0.0.1", board.port(), std::chrono::milliseconds(10000));
  board.wait_connected();

  Clock::time_point stall_begin;
  Clock::time_point stall_end;
  std::uint64_t sent = 0;
  {
    HeartbeatSender heartbeats([&link](mpi::link::v1::Envelope& beat) { link->send(beat); }, period / 2);
    stall_begin = Clock::now();
    // The board sends nothing for `stall`; meanwhile the host's receive side is blocked in receive().
    std::thread board_side([&] {
      std::this_thread::sleep_for(stall);
      mpi::link::v1::Envelope status;
      status.mutable_status();
      stall_end = board.send(status);
    });
    mpi::link::v1::Envelope received;
    const bool got = link->receive(received);
    const auto received_at = Clock::now();
    board_side.join();
    ASSERT_TRUE(got);
    EXPECT_TRUE(received.has_status());
    EXPECT_GE(received_at, stall_end);  // the receive side really was blocked for the whole stall
    heartbeats.stop();
    sent = heartbeats.sent();
    EXPECT_EQ(heartbeats.failure(), "");
  }
  link.reset();  // closes the link: the fake board's reader ends
  const auto arrivals = board.finish();

  // Every heartbeat sent arrived, intact, numbered 1, 2, ... (and none after stop()).
  std::vector<std::uint64_t> sequences;
  for (const auto& a : arrivals) {
    ASSERT_TRUE(a.envelope.has_heartbeat()) << "unexpected envelope from the host";
    sequences.push_back(a.envelope.heartbeat().sequence());
  }
  ASSERT_EQ(sequences.size(), sent);
  for (std::size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i + 1);

  // During the stall the heartbeats kept coming (the old design sent none while receive() blocked). About
  // 20 are due at half the period; the bound is loose because the machine running the test may be busy:
  // their exact timing is the scheduler's, what matters is that they do not depend on the receive side.
  const auto during = heartbeat_times(arrivals, stall_begin, stall_end);
  EXPECT_GE(during.size(), 3U) << "heartbeats stopped while the receive side was stalled";
}

TEST(HeartbeatSender, StopsOnAFailedSendAndReportsIt) {
  std::atomic<int> calls{0};
  HeartbeatSender heartbeats(
      [&calls](mpi::link::v1::Envelope&) {
        if (++calls == 3) throw LinkError("link lost while sending");
      },
      std::chrono::milliseconds(1));
  // The thread ends by itself after the third (failing) send; stop() only joins it.
  while (heartbeats.failure().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  heartbeats.stop();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(heartbeats.sent(), 2U);
  EXPECT_NE(heartbeats.failure().find("heartbeat 3"), std::string::npos) << heartbeats.failure();
  EXPECT_NE(heartbeats.failure().find("link lost while sending"), std::string::npos) << heartbeats.failure();
}

TEST(HeartbeatSender, RejectsANonPositiveIntervalAndAnEmptySend) {
  const HeartbeatSender::Send noop = [](mpi::link::v1::Envelope&) {};
  EXPECT_THROW(HeartbeatSender(noop, std::chrono::milliseconds(0)), std::invalid_argument);
  EXPECT_THROW(HeartbeatSender(HeartbeatSender::Send{}, std::chrono::milliseconds(10)), std::invalid_argument);
}

TEST(LinkClient, SendsFromTwoThreadsWithoutInterleavingFrames) {
  FakeBoard board;
  std::optional<LinkClient> link;
  link.emplace("127.0.0.1", board.port(), std::chrono::milliseconds(10000));
  board.wait_connected();
  constexpr int kPerThread = 500;
  auto sender = [&link](std::uint64_t tag) {
    for (int i = 0; i < kPerThread; ++i) {
      mpi::link::v1::Envelope beat;
      beat.mutable_heartbeat()->set_sequence(tag + static_cast<std::uint64_t>(i));
      link->send(beat);
    }
  };
  std::thread a(sender, 1'000'000U);
  std::thread b(sender, 2'000'000U);
  a.join();
  b.join();
  link.reset();
  const auto arrivals = board.finish();
  ASSERT_EQ(arrivals.size(), 2U * kPerThread);
  std::set<std::uint64_t> ids;
  std::set<std::uint64_t> sequences;
  for (const auto& arrival : arrivals) {
    ids.insert(arrival.envelope.request_id());
    sequences.insert(arrival.envelope.heartbeat().sequence());
  }
  // Request ids are unique and dense (1..N), every message arrived once.
  EXPECT_EQ(ids.size(), 2U * kPerThread);
  EXPECT_EQ(*ids.begin(), 1U);
  EXPECT_EQ(*ids.rbegin(), 2U * kPerThread);
  EXPECT_EQ(sequences.size(), 2U * kPerThread);
}
