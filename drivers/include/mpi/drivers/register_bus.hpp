// Register access to the acquisition board. The firmware talks to the board only through this interface;
// the board gives it a DeviceBus (memory-mapped device), the hardware-in-the-loop a SharedMemoryBus.
// Every call on the hot path is noexcept and allocation-free.
#pragma once

#include <cstdint>
#include <span>

namespace mpi::drivers {

class RegisterBus {
 public:
  RegisterBus() = default;
  virtual ~RegisterBus() = default;
  RegisterBus(const RegisterBus&) = delete;
  RegisterBus& operator=(const RegisterBus&) = delete;

  [[nodiscard]] virtual std::uint32_t read32(std::uint32_t offset) const noexcept = 0;
  virtual void write32(std::uint32_t offset, std::uint32_t value) noexcept = 0;
  [[nodiscard]] virtual std::uint64_t read64(std::uint32_t offset) const noexcept = 0;
  virtual void write64(std::uint32_t offset, std::uint64_t value) noexcept = 0;
  // The ADC DMA ring: 2^RingFramesLog2 frames of AdcChannels interleaved int16 samples.
  [[nodiscard]] virtual std::span<const std::int16_t> ring() const noexcept = 0;
};

}  // namespace mpi::drivers
