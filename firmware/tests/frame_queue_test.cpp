#include "mpi/firmware/frame_queue.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>

namespace mpi::firmware {
namespace {

TEST(FirmwareFrameQueue, CutsTheArenaIntoSlotsOnlyWhenEmpty) {
  FrameQueue queue(1000, 8);
  EXPECT_FALSE(queue.reslice(600));  // fewer than two slots would fit
  ASSERT_TRUE(queue.reslice(300));
  EXPECT_EQ(queue.slot_count(), 3U);
  EXPECT_EQ(queue.slot_bytes(), 300U);
  ASSERT_TRUE(queue.reslice(100));
  EXPECT_EQ(queue.slot_count(), 8U);  // capped by max_slots
  FrameSlot* slot = queue.try_acquire();
  ASSERT_NE(slot, nullptr);
  slot->size = 1;
  queue.publish();
  EXPECT_FALSE(queue.reslice(200));  // a frame is waiting
  queue.pop();
  EXPECT_TRUE(queue.reslice(200));
}

TEST(FirmwareFrameQueue, IsBoundedAndKeepsOrder) {
  FrameQueue queue(400, 4);
  ASSERT_TRUE(queue.reslice(100));
  for (std::uint64_t i = 0; i < 4; ++i) {
    FrameSlot* slot = queue.try_acquire();
    ASSERT_NE(slot, nullptr);
    slot->tag = i;
    slot->size = 0;
    queue.publish();
  }
  EXPECT_EQ(queue.try_acquire(), nullptr);  // full
  for (std::uint64_t i = 0; i < 4; ++i) {
    const FrameSlot* front = queue.front();
    ASSERT_NE(front, nullptr);
    EXPECT_EQ(front->tag, i);
    queue.pop();
  }
  EXPECT_EQ(queue.front(), nullptr);
  EXPECT_TRUE(queue.empty());
}

TEST(FirmwareFrameQueue, CarriesFramesBetweenThreadsInOrder) {
  constexpr std::uint64_t kFrames = 20000;
  FrameQueue queue(64 * 16, 16);
  ASSERT_TRUE(queue.reslice(64));
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kFrames; ++i) {
      FrameSlot* slot = nullptr;
      while ((slot = queue.try_acquire()) == nullptr) std::this_thread::yield();
      std::memcpy(slot->storage.data(), &i, sizeof i);
      slot->size = sizeof i;
      slot->tag = i;
      queue.publish();
    }
  });
  std::uint64_t expected = 0;
  bool in_order = true;
  while (expected < kFrames) {
    const FrameSlot* front = queue.front();
    if (front == nullptr) {
      std::this_thread::yield();
      continue;
    }
    std::uint64_t value = 0;
    std::memcpy(&value, front->frame().data(), sizeof value);
    in_order = in_order && value == expected && front->tag == expected;
    queue.pop();
    ++expected;
  }
  producer.join();
  EXPECT_TRUE(in_order);
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace mpi::firmware
