// AdcRing: copying spans of frames out of the DMA ring (frame n at ring frame n mod ring_frames) and
// telling apart frames not yet written, frames lost before the copy, and frames lost during it.
#include "mpi/drivers/adc_ring.hpp"

#include "fake_register_bus.hpp"
#include "mpi/drivers/register_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace mpi::drivers {
namespace {

using testing::FakeBoard;
using testing::FakeRegisterBus;

constexpr std::uint32_t kChannels = 3;
constexpr std::uint64_t kRingFrames = 16;

std::int16_t sample_value(std::uint64_t frame, std::uint32_t channel) {
  return static_cast<std::int16_t>(frame * 10 + channel);
}

// Plays the logic: writes frames up to (not including) `end` into the ring, then publishes the pointer.
void logic_writes_until(FakeRegisterBus& bus, std::uint64_t end) {
  auto& ring = bus.ring_memory();
  for (std::uint64_t n = bus.peek64(regmap::kWritePointer); n < end; ++n) {
    for (std::uint32_t c = 0; c < kChannels; ++c) ring[(n % kRingFrames) * kChannels + c] = sample_value(n, c);
  }
  bus.poke64(regmap::kWritePointer, end);
}

FakeRegisterBus make_bus() { return FakeRegisterBus(FakeBoard{.adc_channels = kChannels, .ring_frames_log2 = 4}); }

void expect_frames(const std::vector<std::int16_t>& out, std::uint64_t first, std::uint32_t count) {
  ASSERT_GE(out.size(), std::size_t{count} * kChannels);
  for (std::uint32_t i = 0; i < count; ++i) {
    for (std::uint32_t c = 0; c < kChannels; ++c) {
      EXPECT_EQ(out[i * kChannels + c], sample_value(first + i, c)) << "frame " << first + i << " channel " << c;
    }
  }
}

TEST(AdcRing, ReportsItsGeometry) {
  auto bus = make_bus();
  const AdcRing ring(bus);
  EXPECT_EQ(ring.channels(), kChannels);
  EXPECT_EQ(ring.ring_frames(), kRingFrames);
  bus.poke64(regmap::kWritePointer, 1234);
  EXPECT_EQ(ring.write_pointer(), 1234U);
}

TEST(AdcRing, CopiesFramesInOrder) {
  auto bus = make_bus();
  logic_writes_until(bus, 10);
  const AdcRing ring(bus);
  std::vector<std::int16_t> out(5 * kChannels, -1);
  ASSERT_EQ(ring.read(2, 5, out), ErrorCode::ok);
  expect_frames(out, 2, 5);

  std::vector<std::int16_t> all(10 * kChannels, -1);
  ASSERT_EQ(ring.read(0, 10, all), ErrorCode::ok);
  expect_frames(all, 0, 10);
}

TEST(AdcRing, CopyDoesNotWritePastItsFrames) {
  auto bus = make_bus();
  logic_writes_until(bus, 10);
  const AdcRing ring(bus);
  std::vector<std::int16_t> out(8 * kChannels, -1);
  ASSERT_EQ(ring.read(3, 4, out), ErrorCode::ok);
  expect_frames(out, 3, 4);
  for (std::size_t i = 4 * kChannels; i < out.size(); ++i) EXPECT_EQ(out[i], -1) << i;
}

TEST(AdcRing, CopyWrapsAroundTheRingEnd) {
  auto bus = make_bus();
  logic_writes_until(bus, 30);  // frames 14..29 are in the ring; 14 and 15 at its end, 16.. from its start
  const AdcRing ring(bus);
  // Frames 15..29: all but the slot the logic fills next (frame 30 goes to frame 14's slot).
  std::vector<std::int16_t> out((kRingFrames - 1) * kChannels, -1);
  ASSERT_EQ(ring.read(15, static_cast<std::uint32_t>(kRingFrames - 1), out), ErrorCode::ok);
  expect_frames(out, 15, static_cast<std::uint32_t>(kRingFrames - 1));

  std::vector<std::int16_t> across(4 * kChannels, -1);
  ASSERT_EQ(ring.read(26, 4, across), ErrorCode::ok);  // frames 26..29 (slots 10..13)
  expect_frames(across, 26, 4);
  ASSERT_EQ(ring.read(15, 2, across), ErrorCode::ok);  // slots 15 and 0
  expect_frames(across, 15, 2);
}

TEST(AdcRing, FramesBeyondTheWritePointerAreNotWrittenYet) {
  auto bus = make_bus();
  logic_writes_until(bus, 10);
  const AdcRing ring(bus);
  std::vector<std::int16_t> out(8 * kChannels);
  EXPECT_EQ(ring.read(5, 6, out), ErrorCode::not_written_yet);
  EXPECT_EQ(ring.read(10, 1, out), ErrorCode::not_written_yet);
  EXPECT_EQ(ring.read(100, 1, out), ErrorCode::not_written_yet);
  EXPECT_EQ(ring.read(5, 5, out), ErrorCode::ok);  // up to the write pointer exactly
  expect_frames(out, 5, 5);
}

TEST(AdcRing, FramesMoreThanARingBehindAreOverwritten) {
  auto bus = make_bus();
  logic_writes_until(bus, 30);
  const AdcRing ring(bus);
  std::vector<std::int16_t> out(4 * kChannels);
  EXPECT_EQ(ring.read(13, 1, out), ErrorCode::overwritten);   // slot 13 now holds frame 29
  EXPECT_EQ(ring.read(0, 4, out), ErrorCode::overwritten);
  EXPECT_EQ(ring.read(12, 4, out), ErrorCode::overwritten);  // partly lost
  // Exactly a ring behind is not lost yet, but its slot is the one the logic fills next: the copy
  // cannot be trusted (see SlotBeingFilledByTheLogicIsCorruption).
  EXPECT_EQ(ring.read(14, 1, out), ErrorCode::corrupted);
  EXPECT_EQ(ring.read(15, 1, out), ErrorCode::ok);
  expect_frames(out, 15, 1);
}

TEST(AdcRing, SlotBeingFilledByTheLogicIsCorruption) {
  auto bus = make_bus();
  logic_writes_until(bus, 30);  // frames 14..29 in the ring; the logic writes frame 30 into slot 14 next
  const AdcRing ring(bus);
  // The DMA fills frame 30 into slot 14 while the reader copies, and has not published it yet.
  bus.on_ring_access = [&bus] {
    for (std::uint32_t c = 0; c < kChannels; ++c) bus.ring_memory()[14 * kChannels + c] = sample_value(30, c);
  };
  std::vector<std::int16_t> out(2 * kChannels);
  EXPECT_EQ(ring.read(14, 2, out), ErrorCode::corrupted);
  EXPECT_EQ(ring.read(15, 2, out), ErrorCode::ok);
  expect_frames(out, 15, 2);
}

TEST(AdcRing, LogicLappingTheCopyIsCorruption) {
  auto bus = make_bus();
  logic_writes_until(bus, 20);  // frames 4..19 in the ring
  const AdcRing ring(bus);
  std::vector<std::int16_t> out(4 * kChannels);
  // The write pointer advances by two frames while the reader copies: frame 4's slot gets frame 20 and
  // frame 5's slot is being filled with frame 21.
  bus.bump_write_pointer_on_read(2, 2);
  EXPECT_EQ(ring.read(5, 4, out), ErrorCode::corrupted);
  EXPECT_EQ(bus.write_pointer_reads(), 2U);

  // The same advance is harmless to a span that is not lapped.
  bus.poke64(regmap::kWritePointer, 20);
  bus.bump_write_pointer_on_read(2, 2);
  EXPECT_EQ(ring.read(7, 4, out), ErrorCode::ok);
  expect_frames(out, 7, 4);

  // A large advance during the copy corrupts even the newest frames.
  bus.poke64(regmap::kWritePointer, 20);
  bus.bump_write_pointer_on_read(2, kRingFrames);
  EXPECT_EQ(ring.read(18, 2, out), ErrorCode::corrupted);
}

TEST(AdcRing, TooSmallOutputIsRefusedUntouched) {
  auto bus = make_bus();
  logic_writes_until(bus, 10);
  const AdcRing ring(bus);
  std::vector<std::int16_t> out(4 * kChannels - 1, -1);
  EXPECT_NE(ring.read(0, 4, out), ErrorCode::ok);
  for (const auto v : out) EXPECT_EQ(v, -1);
}

}  // namespace
}  // namespace mpi::drivers
