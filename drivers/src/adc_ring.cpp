#include "mpi/drivers/adc_ring.hpp"

#include "mpi/drivers/register_map.hpp"

#include <algorithm>

namespace mpi::drivers {

using namespace regmap;

AdcRing::AdcRing(const RegisterBus& bus) noexcept
    : bus_(&bus),
      channels_(bus.read32(kAdcChannels)),
      ring_frames_(std::uint64_t{1} << std::min<std::uint32_t>(bus.read32(kRingFramesLog2), 40)) {}

std::uint64_t AdcRing::write_pointer() const noexcept { return bus_->read64(kWritePointer); }

ErrorCode AdcRing::read(std::uint64_t first, std::uint32_t count, std::span<std::int16_t> out) const noexcept {
  const std::uint64_t end = first + count;
  if (out.size() < std::size_t{count} * channels_) return ErrorCode::corrupted;
  const std::uint64_t before = write_pointer();
  if (before < end) return ErrorCode::not_written_yet;
  if (before - first > ring_frames_) return ErrorCode::overwritten;

  const std::span<const std::int16_t> ring = bus_->ring();
  std::uint64_t frame = first;
  std::size_t written = 0;
  while (frame < end) {
    const std::uint64_t slot = frame & (ring_frames_ - 1U);
    const std::uint64_t run = std::min(end - frame, ring_frames_ - slot);
    const auto from = ring.subspan(slot * channels_, run * channels_);
    std::copy(from.begin(), from.end(), out.begin() + static_cast<std::ptrdiff_t>(written));
    written += from.size();
    frame += run;
  }
  // The logic may have lapped the first frames while we copied them. With the write pointer at w it is
  // already filling frame w into the slot of frame w - ring_frames, so that frame is unsafe too.
  if (write_pointer() - first >= ring_frames_) return ErrorCode::corrupted;
  return ErrorCode::ok;
}

}  // namespace mpi::drivers
