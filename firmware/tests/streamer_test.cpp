// The streamer and the control tick driven directly (no link): chunk flags and backlog against what the
// fake board did, and no heap allocation on the streaming and control paths while a scan runs.
#include "fake_board.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/sequencer.hpp"
#include "mpi/firmware/streamer.hpp"
#include "mpi/firmware/wakeup.hpp"
#include "mpi/protocol/framing.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <optional>
#include <thread>
#include <vector>

// The replacements below pair malloc with free; GCC's check cannot see that through inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// Counts every allocation of the process while g_counting is set.
void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace mpi::firmware::test {
namespace {

namespace v1 = link::v1;
using namespace drivers::regmap;

constexpr std::uint32_t kRampSamples = 2000;
constexpr std::uint32_t kChunkSamples = 1000;

// Board, queue, streamer thread and sequencer; the test thread is the control thread (tick()) and the
// I/O thread (drains the queue).
struct Rig {
  Rig() { streamer.start_thread(); }
  ~Rig() { streamer.stop_thread(); }

  void start_scan(std::uint64_t max_samples) {
    v1::Configure configure;
    v1::DriveChannelConfig* d = configure.add_drive();
    d->set_channel(0);
    d->set_frequency_hz(25e3);
    d->set_amplitude_t(0.005);
    configure.set_ramp_samples(kRampSamples);
    configure.set_chunk_samples(kChunkSamples);
    v1::ConfigureReply reply;
    const CommandResult configured = sequencer.configure(configure, reply);
    ASSERT_TRUE(configured.ok()) << configured.message;
    v1::Start start;
    start.set_max_samples(max_samples);
    std::uint64_t scan_id = 0;
    const CommandResult started = sequencer.start(start, 1, scan_id);
    ASSERT_TRUE(started.ok()) << started.message;
  }

  // One control tick and, unless `discard`, every queued frame parsed into chunks / end.
  void tick_and_drain(bool discard = false) {
    sequencer.tick();
    while (const FrameSlot* frame = queue.front()) {
      if (!discard) {
        const std::span<const std::byte> bytes = frame->frame();
        v1::Envelope message;
        std::string error;
        const bool parsed = protocol::parse_envelope(bytes.subspan(protocol::kFrameHeaderBytes), message, error);
        EXPECT_TRUE(parsed) << error;
        if (message.has_chunk()) chunks.push_back(message.chunk());
        if (message.has_stream_end()) end = message.stream_end();
      }
      queue.pop();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  bool run_to_end() {
    for (int i = 0; i < 20000 && !end; ++i) tick_and_drain();
    return end.has_value();
  }

  FakeBoard board;
  drivers::SharedMemoryBus bus{board.name()};
  Wakeup wakeup;
  FrameQueue queue{std::size_t{16} << 20, 512};
  Streamer streamer{bus, queue, wakeup};
  Sequencer sequencer{bus, fake_board_scanner(), streamer};
  std::vector<v1::SampleChunk> chunks;
  std::optional<v1::StreamEnd> end;
};

TEST(StreamerTest, ChunksOverlappingARampAreFlaggedRamping) {
  Rig rig;
  rig.start_scan(60000);
  ASSERT_TRUE(rig.run_to_end());
  const std::uint64_t up_end = rig.end->ramp_up_end_sample();
  const std::uint64_t down_start = rig.end->ramp_down_start_sample();
  ASSERT_EQ(up_end, kRampSamples);
  ASSERT_GT(down_start, up_end);
  ASSERT_FALSE(rig.chunks.empty());
  for (const v1::SampleChunk& c : rig.chunks) {
    const std::uint64_t first = c.first_sample();
    const std::uint64_t last = first + c.sample_count() - 1;
    const bool ramping = (c.flags() & v1::CHUNK_FLAG_RAMPING) != 0;
    if (first < up_end || last >= down_start) {
      EXPECT_TRUE(ramping) << "chunk at " << first << " overlaps a ramp";
    }
    // Well inside the flat top (the ramp-down is commanded at most a few ticks before it starts).
    if (first >= up_end && last + 20000 < down_start) {
      EXPECT_FALSE(ramping) << "chunk at " << first << " is at full field";
    }
  }
}

TEST(StreamerTest, BacklogCountsSamplesAcquiredButNotYetSent) {
  Rig rig;
  rig.start_scan(0);
  while (rig.chunks.size() < 5) rig.tick_and_drain();
  constexpr std::uint64_t kJump = 300000;  // far less than the ring (2^20 frames): nothing is overwritten
  rig.board.jump(kJump);
  for (int i = 0; i < 50; ++i) rig.tick_and_drain();
  rig.sequencer.stop(StopReason::stop_requested);
  ASSERT_TRUE(rig.run_to_end());
  ASSERT_TRUE(rig.board.wait_for_stops(1));
  const std::uint64_t acquired = rig.board.last_stop().write_pointer;
  std::uint64_t largest = 0;
  for (const v1::SampleChunk& c : rig.chunks) {
    // What was acquired when the chunk was cut cannot exceed what was acquired in the whole scan.
    EXPECT_LE(c.first_sample() + c.sample_count() + c.backlog_samples(), acquired) << "chunk at " << c.first_sample();
    largest = std::max<std::uint64_t>(largest, c.backlog_samples());
  }
  // The chunk cut right after the jump had (almost) the whole jump still to send.
  EXPECT_GE(largest, kJump / 2);
}

TEST(StreamerTest, ChunksFromTheFirstLostSequenceStepOnAreFlagged) {
  Rig rig;
  constexpr std::uint64_t kFirstLost = 30500;
  rig.bus.write64(kSeqFirstLostSample, kFirstLost);
  rig.bus.write32(kSeqLostSteps, 1);
  rig.start_scan(60000);
  ASSERT_TRUE(rig.run_to_end());
  ASSERT_FALSE(rig.chunks.empty());
  for (const v1::SampleChunk& c : rig.chunks) {
    const bool lost = (c.flags() & v1::CHUNK_FLAG_LOST_STEPS) != 0;
    EXPECT_EQ(lost, c.first_sample() + c.sample_count() > kFirstLost) << "chunk at " << c.first_sample();
  }
}

TEST(StreamerTest, StreamingAndControlTickDoNotAllocateOnceAScanRuns) {
  Rig rig;
  rig.start_scan(0);
  while (rig.chunks.size() < 3) rig.tick_and_drain();  // running: the queue is sliced, the scan armed
  g_allocations.store(0);
  g_counting.store(true);
  for (int i = 0; i < 200; ++i) rig.tick_and_drain(/*discard=*/true);
  g_counting.store(false);
  const std::uint64_t while_running = g_allocations.load();
  rig.sequencer.stop(StopReason::stop_requested);  // a command on the I/O thread: may allocate
  g_allocations.store(0);
  g_counting.store(true);
  for (int i = 0; i < 20000 && rig.sequencer.scanning(); ++i) rig.tick_and_drain(/*discard=*/true);
  g_counting.store(false);
  const std::uint64_t while_ending = g_allocations.load();
  EXPECT_EQ(while_running, 0U) << "allocations while the scan ran";
  EXPECT_EQ(while_ending, 0U) << "allocations during ramp-down and StreamEnd";
  EXPECT_GT(rig.streamer.next_sample(), 3U * kChunkSamples) << "the streamer made progress";
}

}  // namespace
}  // namespace mpi::firmware::test
