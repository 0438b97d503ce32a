#include "mpi/host/bounded_channel.hpp"

#include <gtest/gtest.h>

#include <thread>

using mpi::host::BoundedChannel;
using mpi::host::WhenFull;

TEST(BoundedChannel, DropNewestCountsWhatItDrops) {
  BoundedChannel<int> ch(2, WhenFull::drop_newest);
  EXPECT_TRUE(ch.push(1));
  EXPECT_TRUE(ch.push(2));
  EXPECT_FALSE(ch.push(3));
  EXPECT_EQ(ch.dropped(), 1U);
  EXPECT_EQ(ch.pop(), 1);
  EXPECT_EQ(ch.pop(), 2);
}

TEST(BoundedChannel, BlockingChannelDeliversEverythingInOrderAndDrainsAfterClose) {
  BoundedChannel<int> ch(3, WhenFull::block);
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ch.push(i);
    ch.close();
  });
  int expected = 0;
  while (auto v = ch.pop()) EXPECT_EQ(*v, expected++);
  producer.join();
  EXPECT_EQ(expected, 1000);
  EXPECT_EQ(ch.dropped(), 0U);
  EXPECT_FALSE(ch.push(5));
}
