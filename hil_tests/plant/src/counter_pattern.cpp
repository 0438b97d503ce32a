// Counter-pattern mode of the plant: the ADC frames carry counter_pattern_sample() instead of the physics;
// the board logic (registers, sequence table, safety, faults) runs as in physics mode.
#include "mpi/hil/plant.hpp"

#include <algorithm>

namespace mpi::hil {

using namespace drivers::regmap;

void Plant::run_counter(std::uint64_t p, std::uint64_t count, bool write) noexcept {
  phys_ = p + count;
  if (!write) {  // the ADC lost these frames
    slip_ += count;
    return;
  }
  const std::uint64_t first = p - slip_;
  const std::uint64_t ring_frames = ring_mask_ + 1;
  std::uint64_t n = first;
  const std::uint64_t end = first + count;
  while (n < end) {
    // Frames n .. up to the ring's end lie contiguously and their codes count up by one.
    const std::uint64_t slot = n & ring_mask_;
    const std::uint64_t frames = std::min(end - n, ring_frames - slot);
    std::int16_t* out = ring_ + slot * channels_;
    auto code = static_cast<std::uint16_t>(counter_pattern_sample(n, 0, channels_));
    const std::uint64_t values = frames * channels_;
    for (std::uint64_t i = 0; i < values; ++i) out[i] = static_cast<std::int16_t>(code++);
    n += frames;
  }
  if (!stuck_) regs_.write64(kWritePointer, end);
}

}  // namespace mpi::hil
