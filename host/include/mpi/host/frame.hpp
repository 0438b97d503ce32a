// A frame: periods_per_frame whole drive periods of samples, located on the sample-index clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace mpi::host {

struct FrameGeometry {
  std::uint32_t samples_per_period = 0;
  std::uint32_t periods_per_frame = 0;
  std::uint32_t channels = 0;
  std::uint64_t first_frame_sample = 0;  // sample index where frame 0 starts (end of the ramp up)
  [[nodiscard]] std::uint64_t samples_per_frame() const { return std::uint64_t{samples_per_period} * periods_per_frame; }
};

struct Frame {
  std::uint64_t index = 0;         // frame number: (first_sample - first_frame_sample) / samples_per_frame
  std::uint64_t first_sample = 0;  // sample index of the frame's first sample
  std::uint32_t flags = 0;         // OR of the flags of the chunks it was assembled from
  std::uint32_t channels = 0;
  std::vector<std::int16_t> samples;  // interleaved, samples_per_frame * channels
  std::chrono::steady_clock::time_point arrival{};  // when its last sample reached the host (set by the receiver)
};

}  // namespace mpi::host
