#include "mpi/host/frame_assembler.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace mpi::host;

namespace {

// Sample value that encodes its own index and channel, so misplaced samples are caught.
std::int16_t value_of(std::uint64_t sample, std::uint32_t channel) { return static_cast<std::int16_t>((sample * 7 + channel * 1000) % 30000); }

std::vector<std::byte> payload(std::uint64_t first, std::uint32_t count, std::uint32_t channels) {
  std::vector<std::byte> out;
  for (std::uint64_t s = first; s < first + count; ++s) {
    for (std::uint32_t c = 0; c < channels; ++c) {
      const auto v = static_cast<std::uint16_t>(value_of(s, c));
      out.push_back(static_cast<std::byte>(v & 0xFF));
      out.push_back(static_cast<std::byte>(v >> 8));
    }
  }
  return out;
}

struct Collector {
  std::vector<Frame> frames;
  FrameAssembler::Sink sink() {
    return [this](Frame&& f) { frames.push_back(std::move(f)); };
  }
};

void feed(FrameAssembler& a, std::uint64_t first, std::uint32_t count, std::uint32_t channels = 2, std::uint32_t flags = 0) {
  const auto p = payload(first, count, channels);
  a.add_chunk(first, count, channels, flags, p);
}

void expect_frame_content(const Frame& f, std::uint64_t spf, std::uint32_t channels) {
  for (std::uint64_t i = 0; i < spf; ++i) {
    for (std::uint32_t c = 0; c < channels; ++c) {
      ASSERT_EQ(f.samples[i * channels + c], value_of(f.first_sample + i, c)) << "frame " << f.index << " sample " << i;
    }
  }
}

}  // namespace

TEST(FrameAssembler, AssemblesFramesAcrossChunkBoundariesAfterTheRamp) {
  const FrameGeometry g{10, 3, 2, 25};  // 30 samples per frame, frames start at sample 25
  Collector out;
  FrameAssembler a(g, out.sink());
  for (std::uint64_t s = 0; s < 200; s += 17) feed(a, s, 17);
  // samples 25..203 were delivered: frames at 25, 55, 85, 115, 145, 175 (ends 205 > 204: incomplete)
  ASSERT_EQ(out.frames.size(), 5U);
  for (std::size_t k = 0; k < out.frames.size(); ++k) {
    EXPECT_EQ(out.frames[k].index, k);
    EXPECT_EQ(out.frames[k].first_sample, 25 + 30 * k);
    expect_frame_content(out.frames[k], 30, 2);
  }
  EXPECT_EQ(a.counters().gaps, 0U);
}

TEST(FrameAssembler, GapDiscardsTheIncompleteFrameAndReanchorsOnAFrameBoundary) {
  const FrameGeometry g{10, 1, 2, 0};
  Collector out;
  FrameAssembler a(g, out.sink());
  feed(a, 0, 15);   // frame 0 complete, frame 1 half
  feed(a, 23, 40);  // gap of 8 samples: frame 1 lost; frames 3..5 complete (30..59), frame 2 (20..29) misses 20-22
  ASSERT_EQ(a.counters().gaps, 1U);
  EXPECT_EQ(a.counters().samples_lost, 8U);
  EXPECT_EQ(a.counters().frames_discarded, 1U);
  std::vector<std::uint64_t> indices;
  for (const auto& f : out.frames) {
    indices.push_back(f.index);
    expect_frame_content(f, 10, 2);
  }
  EXPECT_EQ(indices, (std::vector<std::uint64_t>{0, 3, 4, 5}));
}

TEST(FrameAssembler, OverlapIsCountedAndNeverDuplicatesFrames) {
  const FrameGeometry g{10, 1, 1, 0};
  Collector out;
  FrameAssembler a(g, out.sink());
  feed(a, 0, 20, 1);
  feed(a, 15, 20, 1);  // samples 15..19 sent twice
  EXPECT_EQ(a.counters().overlaps, 1U);
  std::vector<std::uint64_t> indices;
  for (const auto& f : out.frames) indices.push_back(f.index);
  EXPECT_EQ(indices, (std::vector<std::uint64_t>{0, 1, 2}));
}

TEST(FrameAssembler, EndSampleStopsFramesThatReachIntoTheRampDown) {
  const FrameGeometry g{10, 1, 1, 0};
  Collector out;
  FrameAssembler a(g, out.sink());
  a.set_end_sample(25);
  feed(a, 0, 40, 1);
  EXPECT_EQ(out.frames.size(), 2U);
}

TEST(FrameAssembler, FlagsOfContributingChunksAreKept) {
  const FrameGeometry g{10, 1, 1, 0};
  Collector out;
  FrameAssembler a(g, out.sink());
  feed(a, 0, 5, 1, 0);
  feed(a, 5, 10, 1, 4);
  ASSERT_EQ(out.frames.size(), 1U);
  EXPECT_EQ(out.frames[0].flags, 4U);
}

TEST(FrameAssembler, RejectsAChunkWithTheWrongChannelCount) {
  const FrameGeometry g{10, 1, 2, 0};
  Collector out;
  FrameAssembler a(g, out.sink());
  const auto p = payload(0, 10, 3);
  EXPECT_THROW(a.add_chunk(0, 10, 3, 0, p), std::runtime_error);
}
