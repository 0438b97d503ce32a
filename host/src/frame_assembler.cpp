#include "mpi/host/frame_assembler.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpi::host {

FrameAssembler::FrameAssembler(const FrameGeometry& geometry, Sink sink) : geometry_(geometry), sink_(std::move(sink)) {
  if (geometry.samples_per_period == 0 || geometry.periods_per_frame == 0 || geometry.channels == 0) {
    throw std::invalid_argument("frame geometry: samples per period, periods per frame and channels must be positive");
  }
  start_frame(geometry_.first_frame_sample);
}

void FrameAssembler::start_frame(std::uint64_t first_sample) {
  const std::uint64_t spf = geometry_.samples_per_frame();
  current_ = Frame{};
  current_.index = (first_sample - geometry_.first_frame_sample) / spf;
  current_.first_sample = first_sample;
  current_.channels = geometry_.channels;
  current_.samples.resize(spf * geometry_.channels);
  filled_ = 0;
}

void FrameAssembler::add_chunk(std::uint64_t first_sample, std::uint32_t sample_count, std::uint32_t channels,
                               std::uint32_t flags, std::span<const std::byte> payload) {
  if (channels != geometry_.channels) {
    throw std::runtime_error("chunk at sample " + std::to_string(first_sample) + " has " + std::to_string(channels) +
                             " channels, the scan was configured with " + std::to_string(geometry_.channels));
  }
  if (payload.size() != std::size_t{sample_count} * channels * 2U) {
    throw std::runtime_error("chunk at sample " + std::to_string(first_sample) + ": payload size does not match its sample count");
  }
  const std::uint64_t spf = geometry_.samples_per_frame();
  if (have_stream_ && first_sample != expected_next_) {
    if (first_sample > expected_next_) {
      ++counters_.gaps;
      counters_.samples_lost += first_sample - expected_next_;
    } else {
      ++counters_.overlaps;
    }
    if (filled_ > 0) ++counters_.frames_discarded;
    // Re-anchor on the first frame boundary at or after this chunk's start.
    const std::uint64_t origin = geometry_.first_frame_sample;
    const std::uint64_t k = first_sample <= origin ? 0 : (first_sample - origin + spf - 1) / spf;
    start_frame(origin + k * spf);
  }
  have_stream_ = true;
  expected_next_ = first_sample + sample_count;

  std::uint64_t sample = first_sample;
  const std::uint64_t end = first_sample + sample_count;
  while (sample < end) {
    const std::uint64_t frame_pos = current_.first_sample + filled_;
    if (sample < frame_pos) {  // before the frame in progress (ramp up, or after a re-anchor)
      sample = std::min(end, frame_pos);
      continue;
    }
    const std::uint64_t take = std::min(end - sample, spf - filled_);
    const std::size_t offset = static_cast<std::size_t>(sample - first_sample) * channels;
    for (std::size_t i = 0; i < take * channels; ++i) {
      const auto lo = std::to_integer<std::uint16_t>(payload[2 * (offset + i)]);
      const auto hi = std::to_integer<std::uint16_t>(payload[2 * (offset + i) + 1]);
      current_.samples[filled_ * channels + i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8U)));
    }
    current_.flags |= flags;
    filled_ += take;
    sample += take;
    if (filled_ == spf) {
      const std::uint64_t next = current_.first_sample + spf;
      if (current_.first_sample + spf <= end_sample_) {
        ++counters_.frames_emitted;
        sink_(std::move(current_));
      }
      start_frame(next);
    }
  }
}

}  // namespace mpi::host
