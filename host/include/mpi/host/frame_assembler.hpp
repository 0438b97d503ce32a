// Assembles frames from sample chunks by their sample indices. Frames start at first_frame_sample and
// follow each other without gaps; only frames whose every sample arrived are emitted. A gap between
// chunks (samples lost upstream) or an overlap (samples sent twice) is never silent: it is counted, the
// incomplete frame is discarded, and assembly re-anchors on the next frame boundary.
#pragma once

#include "mpi/host/frame.hpp"

#include <cstdint>
#include <functional>
#include <span>

namespace mpi::host {

struct AssemblyCounters {
  std::uint64_t frames_emitted = 0;
  std::uint64_t frames_discarded = 0;  // incomplete because of a gap or overlap
  std::uint64_t gaps = 0;              // chunks that started after the expected sample
  std::uint64_t overlaps = 0;          // chunks that started before it
  std::uint64_t samples_lost = 0;
};

class FrameAssembler {
 public:
  using Sink = std::function<void(Frame&&)>;

  FrameAssembler(const FrameGeometry& geometry, Sink sink);

  // `payload` holds sample_count * channels little-endian int16 samples, interleaved.
  void add_chunk(std::uint64_t first_sample, std::uint32_t sample_count, std::uint32_t channels, std::uint32_t flags,
                 std::span<const std::byte> payload);
  // Frames at or beyond this sample are not emitted (the drive was ramping down).
  void set_end_sample(std::uint64_t end_sample) { end_sample_ = end_sample; }

  [[nodiscard]] const AssemblyCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] const FrameGeometry& geometry() const noexcept { return geometry_; }

 private:
  void start_frame(std::uint64_t first_sample);

  FrameGeometry geometry_;
  Sink sink_;
  Frame current_;
  std::uint64_t filled_ = 0;         // samples of current_ filled
  std::uint64_t expected_next_ = 0;  // sample index the next chunk should start at
  bool have_stream_ = false;
  std::uint64_t end_sample_ = UINT64_MAX;
  AssemblyCounters counters_;
};

}  // namespace mpi::host
