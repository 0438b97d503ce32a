// Driver for the ADC DMA ring: a 64-bit write pointer counting frames since the trigger and a ring of
// 2^n frames of interleaved int16 samples. Reads copy a span of frames out of the ring and detect, by
// re-reading the write pointer, whether the logic overwrote them before or during the copy.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"

#include <cstdint>
#include <span>

namespace mpi::drivers {

class AdcRing {
 public:
  explicit AdcRing(const RegisterBus& bus) noexcept;

  [[nodiscard]] std::uint32_t channels() const noexcept { return channels_; }
  [[nodiscard]] std::uint64_t ring_frames() const noexcept { return ring_frames_; }
  [[nodiscard]] std::uint64_t write_pointer() const noexcept;

  // Copies frames [first, first + count) into `out` (count * channels() samples, interleaved).
  // ok: copied and still intact after the copy; not_written_yet: the write pointer is below first + count;
  // overwritten: some of the frames were already overwritten before the copy started; corrupted: the
  // logic overwrote some of them while they were copied, or may have (the oldest frame is a whole ring
  // behind the write pointer after the copy, so its slot is the one being filled): discard the copy.
  [[nodiscard]] ErrorCode read(std::uint64_t first, std::uint32_t count, std::span<std::int16_t> out) const noexcept;

 private:
  const RegisterBus* bus_;
  std::uint32_t channels_;
  std::uint64_t ring_frames_;
};

}  // namespace mpi::drivers
