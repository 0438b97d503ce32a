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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
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

  void start_scan(std::uint64_t max_samples, const v1::ScanProgram* program = nullptr) {
    v1::Configure configure;
    if (program != nullptr) *configure.mutable_program() = *program;
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

// With a scan program the control tick also refills the offset sequence table, and any end starts the
// table's tail: still no allocation (25 kHz at 1 MS/s: 40 samples a cycle; steps of 5 cycles).
TEST(StreamerTest, ProgramRefillAndItsTailDoNotAllocate) {
  Rig rig;
  v1::ScanProgram program;
  program.set_step_samples(200);
  v1::ScanSegment* sweep = program.add_segments();
  sweep->set_role(v1::SEGMENT_ROLE_SWEEP);
  sweep->set_repetitions(100);
  sweep->mutable_sweep()->set_offset_channel(0);
  sweep->mutable_sweep()->set_from_t(-0.03);
  sweep->mutable_sweep()->set_to_t(0.03);
  sweep->mutable_sweep()->set_steps(61);
  rig.start_scan(0, &program);
  while (rig.chunks.size() < 3) rig.tick_and_drain();
  drivers::SharedMemoryBus bus(rig.board.name());
  const std::uint64_t written_before = bus.read64(drivers::regmap::kSeqWriteCount);
  g_allocations.store(0);
  g_counting.store(true);
  for (int i = 0; i < 200; ++i) rig.tick_and_drain(/*discard=*/true);
  g_counting.store(false);
  const std::uint64_t while_running = g_allocations.load();
  const std::uint64_t written_running = bus.read64(drivers::regmap::kSeqWriteCount);
  rig.sequencer.stop(StopReason::stop_requested);
  g_allocations.store(0);
  g_counting.store(true);
  for (int i = 0; i < 20000 && rig.sequencer.scanning(); ++i) rig.tick_and_drain(/*discard=*/true);
  g_counting.store(false);
  EXPECT_EQ(while_running, 0U) << "allocations while the program ran";
  EXPECT_EQ(g_allocations.load(), 0U) << "allocations during the tail, the ramp-down and StreamEnd";
  EXPECT_GT(written_running, written_before) << "the tick refilled the table";
  EXPECT_FALSE(rig.sequencer.scanning());
}

// --- Resume ---

// A frame taken from the queue with the resume number it carried.
struct TaggedFrame {
  std::uint32_t resume = 0;
  v1::Envelope message;
};

// One control tick, then every queued frame: parsed into `out`, or only popped if `out` is null.
void tick_and_take(Rig& rig, std::vector<TaggedFrame>* out) {
  rig.sequencer.tick();
  while (const FrameSlot* frame = rig.queue.front()) {
    if (out != nullptr) {
      TaggedFrame taken;
      taken.resume = frame->resume;
      std::string error;
      const bool parsed = protocol::parse_envelope(frame->frame().subspan(protocol::kFrameHeaderBytes), taken.message, error);
      EXPECT_TRUE(parsed) << error;
      out->push_back(std::move(taken));
    }
    rig.queue.pop();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

bool has_end(const std::vector<TaggedFrame>& frames, std::uint32_t resume) {
  return std::any_of(frames.begin(), frames.end(), [resume](const TaggedFrame& f) { return f.resume == resume && f.message.has_stream_end(); });
}

// Every sample of the chunk is the fake board's pattern for its index.
::testing::AssertionResult holds_pattern(const v1::SampleChunk& c) {
  const std::uint32_t channels = c.channel_count();
  if (c.payload().size() != std::size_t{c.sample_count()} * channels * sizeof(std::int16_t)) {
    return ::testing::AssertionFailure() << "chunk at " << c.first_sample() << ": payload of " << c.payload().size() << " bytes";
  }
  for (std::uint32_t i = 0; i < c.sample_count(); ++i) {
    for (unsigned ch = 0; ch < channels; ++ch) {
      std::int16_t value = 0;
      std::memcpy(&value, c.payload().data() + (std::size_t{i} * channels + ch) * sizeof(std::int16_t), sizeof value);
      if (value != pattern(c.first_sample() + i, ch)) {
        return ::testing::AssertionFailure() << "sample " << c.first_sample() + i << " channel " << ch << " is " << value << ", not "
                                             << pattern(c.first_sample() + i, ch);
      }
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(StreamerResumeTest, AfterTheStreamEndTheRestIsSentAgainCutAndFlaggedAsBeforeWithTheSameStreamEnd) {
  Rig rig;
  constexpr std::uint64_t kFaultSample = 30400;
  rig.start_scan(60000);
  std::vector<TaggedFrame> first;
  for (int i = 0; i < 20000 && !has_end(first, 0); ++i) {
    tick_and_take(rig, &first);
    // A fault marked mid-scan (as the supervisor does): FAULT from the chunk holding it on.
    if (rig.streamer.next_sample() > 20000) rig.streamer.mark_fault(kFaultSample);
  }
  ASSERT_TRUE(has_end(first, 0));
  for (int i = 0; i < 2000 && !rig.streamer.idle(); ++i) tick_and_take(rig, &first);
  ASSERT_TRUE(rig.streamer.idle());
  const v1::StreamEnd first_end = first.back().message.stream_end();
  EXPECT_EQ(first_end.scan_id(), 1U) << "the first scan since start-up";
  EXPECT_EQ(rig.streamer.end_sample(), first_end.end_sample());

  constexpr std::uint64_t kFrom = 12345;  // mid-chunk: the first resumed chunk ends at 13000
  const std::uint32_t resume = rig.streamer.resume(kFrom);
  EXPECT_FALSE(rig.streamer.idle()) << "a scan must not be armed under a resume";
  std::vector<TaggedFrame> second;
  for (int i = 0; i < 20000 && !has_end(second, resume); ++i) tick_and_take(rig, &second);
  ASSERT_TRUE(has_end(second, resume));

  std::uint64_t expected = kFrom;
  const std::uint64_t down_start = first_end.ramp_down_start_sample();
  for (const TaggedFrame& f : second) {
    EXPECT_EQ(f.resume, resume);
    if (!f.message.has_chunk()) continue;
    const v1::SampleChunk& c = f.message.chunk();
    ASSERT_EQ(c.first_sample(), expected) << "no gap, no duplicate";
    const std::uint64_t boundary = (expected / kChunkSamples + 1) * kChunkSamples;
    EXPECT_EQ(c.sample_count(), std::min(boundary, first_end.end_sample()) - expected) << "cut at the chunk grid";
    const std::uint64_t last = c.first_sample() + c.sample_count() - 1;
    EXPECT_EQ((c.flags() & v1::CHUNK_FLAG_FAULT) != 0, last >= kFaultSample) << "chunk at " << c.first_sample();
    const bool ramping = (c.flags() & v1::CHUNK_FLAG_RAMPING) != 0;
    if (last >= down_start) {
      EXPECT_TRUE(ramping) << "chunk at " << c.first_sample() << " overlaps the ramp-down";
    }
    // Well inside the flat top (the ramp-down is commanded at most a few ticks before it starts).
    if (last + 20000 < down_start) {
      EXPECT_FALSE(ramping) << "chunk at " << c.first_sample() << " is at full field";
    }
    EXPECT_TRUE(holds_pattern(c));
    expected += c.sample_count();
  }
  EXPECT_EQ(expected, first_end.end_sample());
  ASSERT_TRUE(second.back().message.has_stream_end()) << "StreamEnd after the last chunk";
  const v1::StreamEnd& end = second.back().message.stream_end();
  EXPECT_EQ(end.end_sample(), first_end.end_sample());
  EXPECT_EQ(end.ramp_up_end_sample(), kRampSamples);
  EXPECT_EQ(end.ramp_down_start_sample(), first_end.ramp_down_start_sample());
  EXPECT_EQ(end.reason(), first_end.reason());
  EXPECT_EQ(end.scan_id(), 1U);
  // The chunks after the first resumed one are the first stream's, flags included.
  for (const TaggedFrame& f : first) {
    if (!f.message.has_chunk() || f.message.chunk().first_sample() < 13000) continue;
    const auto same = std::find_if(second.begin(), second.end(), [&f](const TaggedFrame& g) {
      return g.message.has_chunk() && g.message.chunk().first_sample() == f.message.chunk().first_sample();
    });
    ASSERT_NE(same, second.end()) << "chunk at " << f.message.chunk().first_sample();
    EXPECT_EQ(same->message.chunk().sample_count(), f.message.chunk().sample_count());
    EXPECT_EQ(same->message.chunk().flags(), f.message.chunk().flags()) << "chunk at " << f.message.chunk().first_sample();
  }
  for (int i = 0; i < 2000 && !rig.streamer.idle(); ++i) tick_and_take(rig, nullptr);
  EXPECT_TRUE(rig.streamer.idle()) << "idle again after the resumed StreamEnd";
}

TEST(StreamerResumeTest, DuringAScanTheStreamGoesOnFromTheRewoundSampleToTheEnd) {
  Rig rig;
  rig.start_scan(0);
  std::vector<TaggedFrame> frames;
  while (rig.streamer.next_sample() < 8 * kChunkSamples) tick_and_take(rig, &frames);
  constexpr std::uint64_t kFrom = 2500;
  const std::uint32_t resume = rig.streamer.resume(kFrom);
  EXPECT_EQ(resume, 1U);
  for (int i = 0; i < 100; ++i) tick_and_take(rig, &frames);
  rig.sequencer.stop(StopReason::stop_requested);
  for (int i = 0; i < 20000 && !has_end(frames, resume); ++i) tick_and_take(rig, &frames);
  ASSERT_TRUE(has_end(frames, resume)) << "the StreamEnd comes on the resumed stream";
  ASSERT_TRUE(rig.board.wait_for_stops(1));
  const std::uint64_t acquired = rig.board.last_stop().write_pointer;

  std::uint64_t expected = kFrom;
  for (const TaggedFrame& f : frames) {
    if (f.resume != resume) continue;  // stale: the link server drops these
    if (f.message.has_stream_end()) {
      EXPECT_EQ(f.message.stream_end().end_sample(), expected);
      EXPECT_EQ(f.message.stream_end().scan_id(), 1U);
      continue;
    }
    const v1::SampleChunk& c = f.message.chunk();
    ASSERT_EQ(c.first_sample(), expected) << "no gap, no duplicate";
    if (expected == kFrom) {
      EXPECT_EQ(c.sample_count(), 3 * kChunkSamples - kFrom) << "the first chunk ends on the grid";
    }
    EXPECT_TRUE(holds_pattern(c));
    expected += c.sample_count();
  }
  EXPECT_LE(expected, acquired);
  EXPECT_GT(expected, 8 * kChunkSamples) << "the resumed stream went on past the rewind point";
}

TEST(StreamerResumeTest, OldestResumableSampleKeepsHalfTheRingAsMargin) {
  Rig rig;
  const std::uint64_t ring = std::uint64_t{1} << FakeBoard::kRingLog2;
  EXPECT_EQ(rig.streamer.oldest_resumable(0), 0U);
  EXPECT_EQ(rig.streamer.oldest_resumable(ring / 2), 0U);
  EXPECT_EQ(rig.streamer.oldest_resumable(3 * ring), 3 * ring - ring / 2);
}

TEST(StreamerResumeTest, ResumedStreamingDoesNotAllocate) {
  Rig rig;
  rig.start_scan(0);
  while (rig.streamer.next_sample() < 5 * kChunkSamples) tick_and_take(rig, nullptr);
  g_allocations.store(0);
  g_counting.store(true);
  const std::uint32_t live = rig.streamer.resume(1500);
  for (int i = 0; i < 100; ++i) tick_and_take(rig, nullptr);
  g_counting.store(false);
  const std::uint64_t while_live = g_allocations.load();
  rig.sequencer.stop(StopReason::stop_requested);
  for (int i = 0; i < 20000 && rig.sequencer.scanning(); ++i) tick_and_take(rig, nullptr);
  ASSERT_FALSE(rig.sequencer.scanning());
  g_allocations.store(0);
  g_counting.store(true);
  const std::uint32_t after = rig.streamer.resume(1234);
  for (int i = 0; i < 20000 && !rig.streamer.idle(); ++i) tick_and_take(rig, nullptr);
  g_counting.store(false);
  EXPECT_EQ(while_live, 0U) << "allocations while a resumed scan streamed";
  EXPECT_EQ(g_allocations.load(), 0U) << "allocations while a finished scan was streamed again";
  EXPECT_EQ(after, live + 1);
  EXPECT_TRUE(rig.streamer.idle());
  EXPECT_EQ(rig.streamer.next_sample(), rig.streamer.end_sample()) << "streamed again to the end";
}

}  // namespace
}  // namespace mpi::firmware::test
