// OffsetSequence: lazy expansion of segments into the kSeqSlots-slot table (register map v2: slot s at
// 0x21000 + s * 0x20, flags then one i32 per offset channel; SeqControl 0x0E0, SeqStepSamples 0x0E4,
// SeqWriteCount 0x0E8, SeqReadIndex 0x0F0, SeqFirstLostSample 0x0F8, SeqLostSteps 0x100), checked
// against an independent expansion and a model of the logic that loads slots as it enters steps.
#include "mpi/drivers/offset_sequence.hpp"

#include "fake_register_bus.hpp"
#include "mpi/drivers/register_map.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// The replacements below pair malloc with free; GCC's check cannot see that through inlining.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts every allocation of this test program, to show that refill() allocates nothing.
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace mpi::drivers {
namespace {

using testing::FakeRegisterBus;

constexpr std::uint32_t kSlotBase = 0x1000 + 4 * 32768;

struct Slot {
  std::uint32_t flags;
  std::int32_t values[4];
  bool operator==(const Slot&) const = default;
};

Slot slot_at(const FakeRegisterBus& bus, unsigned slot) {
  Slot s{};
  s.flags = bus.peek32(kSlotBase + slot * 0x20);
  for (unsigned c = 0; c < 4; ++c) s.values[c] = static_cast<std::int32_t>(bus.peek32(kSlotBase + slot * 0x20 + 4 + c * 4));
  return s;
}

SequenceStep step(std::int32_t a, std::int32_t b = 0, std::int32_t c = 0, bool enable = true, bool resync = false) {
  SequenceStep s;
  s.values = {a, b, c, 0};
  s.enable = enable;
  s.resync = resync;
  return s;
}

// The sequence written out step by step, as the table should see it.
std::vector<Slot> expand(const std::vector<SequenceSegment>& segments) {
  std::vector<Slot> out;
  for (const SequenceSegment& seg : segments) {
    for (std::uint64_t r = 0; r < seg.repetitions; ++r) {
      for (const SequenceStep& s : seg.steps) {
        out.push_back(Slot{(s.enable ? 1U : 0U) | (s.resync ? 2U : 0U), {s.values[0], s.values[1], s.values[2], s.values[3]}});
      }
    }
  }
  return out;
}

// Ramp-up of 3 distinct steps x 2, regular of 5 x 400 (2000 steps), ramp-down of 4 x 1: 2010 steps.
std::vector<SequenceSegment> scan() {
  std::vector<SequenceSegment> s(3);
  s[0].kind = SegmentKind::ramp_up;
  s[0].steps = {step(100, -100, 0, false, true), step(200, -200), step(300, -300)};
  s[0].repetitions = 2;
  s[1].kind = SegmentKind::regular;
  for (int i = 0; i < 5; ++i) s[1].steps.push_back(step(1000 * i, -1000 * i, i, i % 2 == 0, i == 0));
  s[1].repetitions = 400;
  s[2].kind = SegmentKind::ramp_down;
  s[2].steps = {step(-5), step(-6), step(-7, 1, 2, false), step(0)};
  return s;
}

void set_running(FakeRegisterBus& bus, bool on) { bus.poke32(regmap::kAcqStatus, on ? regmap::kAcqRunning : 0U); }

// The logic in step `index` at sample `sample` (both published).
void logic_at(FakeRegisterBus& bus, std::uint64_t index, std::uint64_t sample) {
  bus.poke64(0x0F0, index);
  bus.poke64(0x048, sample);
}

TEST(OffsetSequence, StartWritesTheFirstSlotsAndTheControlRegisters) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  const auto segments = scan();
  seq.load(segments);
  EXPECT_EQ(seq.total_steps(), 2010U);
  ASSERT_EQ(seq.start(50, 256), ErrorCode::ok);
  const auto expected = expand(segments);
  for (unsigned k = 0; k < 1024; ++k) ASSERT_EQ(slot_at(bus, k), expected[k]) << "slot " << k;
  EXPECT_EQ(bus.peek32(0x0E4), 50U);
  EXPECT_EQ(bus.peek64(0x0E8), 1024U);
  EXPECT_EQ(bus.peek32(0x0E0), 1U);
  EXPECT_EQ(seq.written_steps(), 1024U);
  EXPECT_FALSE(seq.fully_written());
}

TEST(OffsetSequence, ShortSequenceIsWrittenWhole) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  std::vector<SequenceSegment> segments(1);
  segments[0].steps = {step(1, 2, 3), step(-1, -2, -3, false, true)};
  segments[0].repetitions = 3;
  seq.load(segments);
  const auto before = bus.words();
  ASSERT_EQ(seq.start(7), ErrorCode::ok);
  const auto expected = expand(segments);
  for (unsigned k = 0; k < 6; ++k) EXPECT_EQ(slot_at(bus, k), expected[k]) << k;
  EXPECT_EQ(slot_at(bus, 6), Slot{}) << "nothing past the sequence";
  EXPECT_EQ(bus.peek64(0x0E8), 6U);
  EXPECT_TRUE(seq.fully_written());
  // Only the table's slots 0..5 and the three control registers changed.
  const auto& after = bus.words();
  for (std::size_t w = 0; w < after.size(); ++w) {
    const std::size_t offset = w * 8;
    if (offset == 0x0E0 || offset == 0x0E8) continue;
    if (offset >= kSlotBase && offset < kSlotBase + 6 * 0x20) continue;
    EXPECT_EQ(after[w], before[w]) << std::hex << offset;
  }
  set_running(bus, true);
  logic_at(bus, 3, 21);
  EXPECT_EQ(seq.refill(), 0U) << "nothing left to write";
}

TEST(OffsetSequence, RefillWritesUpToTheLogicsStepPlusLookAhead) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  const auto segments = scan();
  const auto expected = expand(segments);
  seq.load(segments);
  ASSERT_EQ(seq.start(10, 1024), ErrorCode::ok);

  logic_at(bus, 300, 3000);
  EXPECT_EQ(seq.refill(), 0U) << "acquisition not running: nothing written";
  EXPECT_EQ(bus.peek64(0x0E8), 1024U);

  set_running(bus, true);
  EXPECT_EQ(seq.refill(), 300U);  // steps 1024 .. 1323 (< 300 + 1024)
  EXPECT_EQ(bus.peek64(0x0E8), 1324U);
  for (unsigned k = 1024; k < 1324; ++k) ASSERT_EQ(slot_at(bus, k % 1024), expected[k]) << k;
  for (unsigned k = 300; k < 1024; ++k) ASSERT_EQ(slot_at(bus, k), expected[k]) << "slot of step " << k << " kept";
  EXPECT_EQ(seq.refill(), 0U) << "the logic has not moved";

  // The logic ran ahead to step 1500 (steps 1324..1499 were lost): those are skipped, 1500..2009 written.
  logic_at(bus, 1500, 15000);
  EXPECT_EQ(seq.refill(), 2010U - 1500U) << "up to the end of the sequence";
  EXPECT_EQ(bus.peek64(0x0E8), 2010U);
  EXPECT_TRUE(seq.fully_written());
  for (unsigned k = 1500; k < 2010; ++k) ASSERT_EQ(slot_at(bus, k % 1024), expected[k]) << k;
}

TEST(OffsetSequence, SmallerLookAheadWritesLess) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  const auto segments = scan();
  seq.load(segments);
  ASSERT_EQ(seq.start(10, 100), ErrorCode::ok);
  EXPECT_EQ(bus.peek64(0x0E8), 1024U) << "start always fills the table";
  set_running(bus, true);
  logic_at(bus, 950, 9500);
  EXPECT_EQ(seq.refill(), 26U);  // 1024 .. 1049
  EXPECT_EQ(bus.peek64(0x0E8), 1050U);
}

TEST(OffsetSequence, StaleReadIndexIsBoundedByTheWritePointer) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  const auto segments = scan();
  const auto expected = expand(segments);
  seq.load(segments);
  ASSERT_EQ(seq.start(10), ErrorCode::ok);
  set_running(bus, true);
  // The new run has just started (write pointer 25 frames) but SeqReadIndex still holds an earlier run's
  // step 1900: the driver must not overwrite the slots of steps 0..1023 that the logic has not played.
  logic_at(bus, 1900, 25);
  EXPECT_EQ(seq.refill(), 3U);  // steps 1024..1026, up to step min(1900, 25 / 10 + 1) = 3 plus 1024
  for (unsigned k = 3; k < 1024; ++k) ASSERT_EQ(slot_at(bus, k), expected[k]) << k;
}

TEST(OffsetSequence, StepsTheLogicHasPassedAreSkipped) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  const auto segments = scan();
  const auto expected = expand(segments);
  seq.load(segments);
  ASSERT_EQ(seq.start(1, 16), ErrorCode::ok);
  set_running(bus, true);
  logic_at(bus, 1100, 1100);  // the logic ran past the written steps: 1024..1099 are lost anyway
  EXPECT_EQ(seq.refill(), 16U);
  EXPECT_EQ(bus.peek64(0x0E8), 1116U);
  for (unsigned k = 1100; k < 1116; ++k) EXPECT_EQ(slot_at(bus, k % 1024), expected[k]) << k;
  EXPECT_EQ(slot_at(bus, 1099 % 1024), expected[1099 % 1024]) << "skipped steps are not written";
}

// Plays the logic: at every sample it enters step p / step_samples, loads its slot if written, and
// counts lost steps; the driver refills every `tick` samples.
TEST(OffsetSequence, LogicModelPlaysEveryStepInOrderWithoutLoss) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  const auto segments = scan();
  const auto expected = expand(segments);
  seq.load(segments);
  const std::uint32_t step_samples = 3;
  ASSERT_EQ(seq.start(step_samples, 512), ErrorCode::ok);
  set_running(bus, true);
  std::vector<Slot> played;
  std::uint64_t lost = 0;
  for (std::uint64_t p = 0; p < expected.size() * step_samples; ++p) {
    if (p % step_samples == 0) {
      const std::uint64_t k = p / step_samples;
      logic_at(bus, k, p);
      if (k < bus.peek64(0x0E8)) {
        played.push_back(slot_at(bus, static_cast<unsigned>(k % 1024)));
      } else {
        ++lost;
      }
    }
    if (p % 700 == 0) seq.refill();  // a control tick every 700 samples (233 steps)
  }
  EXPECT_EQ(lost, 0U);
  EXPECT_EQ(played, expected);
}

TEST(OffsetSequence, LostStepCountersAreTheLogics) {
  FakeRegisterBus bus;
  const OffsetSequence seq(bus, SequenceCapacity{});
  bus.poke32(0x100, 7U);
  bus.poke64(0x0F8, (std::uint64_t{1} << 40) + 3);
  bus.poke64(0x0F0, 99U);
  EXPECT_EQ(seq.lost_steps(), 7U);
  EXPECT_EQ(seq.first_lost_sample(), (std::uint64_t{1} << 40) + 3);
  EXPECT_EQ(seq.read_index(), 99U);
}

TEST(OffsetSequence, SegmentQueries) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  seq.load(scan());
  EXPECT_EQ(seq.segment_count(), 3U);
  EXPECT_EQ(seq.first_step_of_segment(0), 0U);
  EXPECT_EQ(seq.first_step_of_segment(1), 6U);
  EXPECT_EQ(seq.first_step_of_segment(2), 2006U);
  EXPECT_EQ(seq.first_step_of_segment(3), 2010U);
  EXPECT_EQ(seq.segment_of_step(5), 0U);
  EXPECT_EQ(seq.segment_of_step(6), 1U);
  EXPECT_EQ(seq.segment_of_step(2005), 1U);
  EXPECT_EQ(seq.segment_of_step(2006), 2U);
  EXPECT_EQ(seq.segment_of_step(2010), 3U);
  EXPECT_EQ(seq.kind_of_step(0), SegmentKind::ramp_up);
  EXPECT_EQ(seq.kind_of_step(1000), SegmentKind::regular);
  EXPECT_EQ(seq.kind_of_step(2009), SegmentKind::ramp_down);
}

TEST(OffsetSequence, StartRefusals) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  EXPECT_EQ(seq.start(10), ErrorCode::sequence_empty);
  seq.load(scan());
  const auto before = bus.words();
  EXPECT_EQ(seq.start(0), ErrorCode::invalid_step_samples);
  EXPECT_EQ(seq.start(10, 0), ErrorCode::invalid_look_ahead);
  EXPECT_EQ(seq.start(10, 1025), ErrorCode::invalid_look_ahead);
  set_running(bus, true);
  const auto running = bus.words();
  EXPECT_EQ(seq.start(10), ErrorCode::acquisition_running);
  EXPECT_EQ(bus.words(), running);
  set_running(bus, false);
  EXPECT_EQ(bus.words(), before);
  EXPECT_EQ(seq.refill(), 0U) << "not started";
}

TEST(OffsetSequence, StopClearsTheEnableBitOnly) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  seq.load(scan());
  bus.poke32(0x0E0, 0x8000'0000U);
  ASSERT_EQ(seq.start(10), ErrorCode::ok);
  EXPECT_EQ(bus.peek32(0x0E0), 0x8000'0001U);
  seq.stop();
  EXPECT_EQ(bus.peek32(0x0E0), 0x8000'0000U);
}

std::string load_error(OffsetSequence& seq, const std::vector<SequenceSegment>& segments) {
  try {
    seq.load(segments);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(OffsetSequence, BadSequencesAreRefusedWithWhereAndWhat) {
  FakeRegisterBus bus;  // three offset channels
  OffsetSequence seq(bus, SequenceCapacity{.segments = 3, .steps = 12});
  EXPECT_NE(load_error(seq, {}).find("no segments"), std::string::npos);

  auto s = scan();
  s[1].steps[2].values[1] = 32768;
  EXPECT_NE(load_error(seq, s).find("segment 1 step 2: offset channel 1 value 32768"), std::string::npos) << load_error(seq, s);
  s = scan();
  s[2].steps[3].values[3] = 5;  // the board has channels 0..2
  EXPECT_NE(load_error(seq, s).find("segment 2 step 3: offset channel 3"), std::string::npos) << load_error(seq, s);
  s = scan();
  s[1].repetitions = 0;
  EXPECT_NE(load_error(seq, s).find("segment 1: repetitions"), std::string::npos) << load_error(seq, s);
  s = scan();
  s[0].steps.clear();
  EXPECT_NE(load_error(seq, s).find("segment 0: no steps"), std::string::npos) << load_error(seq, s);
  s = scan();
  std::swap(s[0], s[2]);
  EXPECT_EQ(load_error(seq, s), "") << "segment kinds are labels: any order is played";
  s = scan();
  s.push_back(s[2]);
  EXPECT_NE(load_error(seq, s).find("capacity of 3"), std::string::npos) << load_error(seq, s);
  s = scan();
  s[2].steps.push_back(step(1));  // 3 + 5 + 5 distinct steps
  EXPECT_NE(load_error(seq, s).find("13 steps exceed the capacity of 12"), std::string::npos) << load_error(seq, s);
  s = scan();
  s[1].repetitions = std::uint64_t{1} << 62;  // 5 * 2^62 steps
  EXPECT_NE(load_error(seq, s).find("2^64"), std::string::npos) << load_error(seq, s);

  // A refused load keeps the sequence stored before.
  seq.load(scan());
  s = scan();
  s[0].repetitions = 0;
  EXPECT_THROW(seq.load(s), std::invalid_argument);
  EXPECT_EQ(seq.total_steps(), 2010U);

  EXPECT_THROW(OffsetSequence(bus, SequenceCapacity{.segments = 0, .steps = 1}), std::invalid_argument);
}

TEST(OffsetSequence, LoadIsRefusedWhileTheStartedSequenceRuns) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  seq.load(scan());
  ASSERT_EQ(seq.start(10), ErrorCode::ok);
  set_running(bus, true);
  EXPECT_THROW(seq.load(scan()), std::logic_error);
}

TEST(OffsetSequence, RefillAllocatesNothing) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  seq.load(scan());
  ASSERT_EQ(seq.start(1), ErrorCode::ok);
  set_running(bus, true);
  const std::size_t before = g_allocations.load();
  std::uint64_t written = 0;
  for (std::uint64_t k = 0; k <= 2010; k += 7) {
    logic_at(bus, k, k);
    written += seq.refill();
  }
  const std::size_t after = g_allocations.load();
  EXPECT_EQ(after, before);
  EXPECT_EQ(written, 2010U - 1024U) << "the loop did refill";
}

// A two-step sequence ending at (800, -400, 200) with a 4-step tail: after it, the table ramps linearly to
// zero (3/4, 1/2, 1/4 of the last values, then 0) and holds zero for as long as acquisition runs.
TEST(OffsetSequence, TailRampsTheLastValuesToZeroAndHoldsZero) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  std::vector<SequenceSegment> segments(1);
  segments[0].steps = {step(100), step(800, -400, 200, false)};
  seq.load(segments);
  seq.enable_tail(4);
  ASSERT_EQ(seq.start(10, 8), ErrorCode::ok);
  EXPECT_EQ(seq.written_steps(), 8U) << "with a tail, only the look-ahead is committed at the start";
  EXPECT_EQ(slot_at(bus, 0), (Slot{1, {100, 0, 0, 0}}));
  EXPECT_EQ(slot_at(bus, 1), (Slot{0, {800, -400, 200, 0}}));
  EXPECT_EQ(slot_at(bus, 2), (Slot{0, {600, -300, 150, 0}}));
  EXPECT_EQ(slot_at(bus, 3), (Slot{0, {400, -200, 100, 0}}));
  EXPECT_EQ(slot_at(bus, 4), (Slot{0, {200, -100, 50, 0}}));
  for (unsigned k = 5; k < 8; ++k) EXPECT_EQ(slot_at(bus, k), (Slot{0, {0, 0, 0, 0}})) << k;
  EXPECT_EQ(seq.tail_start_step(), 2U);
  EXPECT_EQ(seq.tail_zero_step(), 6U);
  // The table never runs dry: refill goes on writing zeros past the sequence, wrapping the slots.
  set_running(bus, true);
  logic_at(bus, 2000, 20000);
  EXPECT_EQ(seq.refill(), 8U);
  EXPECT_EQ(seq.written_steps(), 2008U);
  EXPECT_EQ(slot_at(bus, 2007 % 1024), (Slot{0, {0, 0, 0, 0}}));
}

// ramp_down_now() mid-sequence: the steps already written are played, then the ramp starts from the last
// of them; a second call changes nothing; refill stays allocation-free.
TEST(OffsetSequence, RampDownNowStartsTheTailAfterTheWrittenSteps) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  std::vector<SequenceSegment> segments(1);
  for (int i = 0; i < 10; ++i) segments[0].steps.push_back(step(1000 * (i + 1), -1000 * (i + 1)));
  segments[0].repetitions = 100;
  seq.load(segments);
  seq.enable_tail(5);
  ASSERT_EQ(seq.start(10, 4), ErrorCode::ok);
  set_running(bus, true);
  logic_at(bus, 3, 35);
  const std::size_t before = g_allocations.load();
  EXPECT_EQ(seq.refill(), 3U);  // steps 4..6
  seq.ramp_down_now();
  seq.ramp_down_now();
  logic_at(bus, 7, 75);
  const std::uint64_t first = seq.refill();  // steps 7..10: the tail
  logic_at(bus, 9, 95);
  const std::uint64_t second = seq.refill();  // steps 11, 12
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_EQ(first, 4U);
  EXPECT_EQ(second, 2U);
  EXPECT_EQ(seq.tail_start_step(), 7U);
  EXPECT_EQ(seq.tail_zero_step(), 12U);
  EXPECT_EQ(slot_at(bus, 6), (Slot{1, {7000, -7000, 0, 0}})) << "written before the call: played";
  const std::int32_t expected[] = {5600, 4200, 2800, 1400, 0, 0};
  for (unsigned k = 7; k <= 12; ++k) {
    EXPECT_EQ(slot_at(bus, k), (Slot{1, {expected[k - 7], -expected[k - 7], 0, 0}})) << k;
  }
}

TEST(OffsetSequence, TailOfZeroStepsIsRefused) {
  FakeRegisterBus bus;
  OffsetSequence seq(bus, SequenceCapacity{});
  seq.load(scan());
  EXPECT_THROW(seq.enable_tail(0), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::drivers
