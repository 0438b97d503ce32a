// RegisterBus over the board's memory-mapped register window and DMA ring (e.g. /dev/mem or a UIO
// device). Accesses are volatile; 64-bit registers are read with a single aligned access, which the
// board's AXI interconnect serves atomically.
#pragma once

#include "mpi/drivers/register_bus.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace mpi::drivers {

struct DeviceWindows {
  std::string device_path = "/dev/mem";
  std::uint64_t register_address = 0x40000000;  // physical address of the register block
  std::uint64_t ring_address = 0x1000000;       // physical address of the DMA ring
};

class DeviceBus final : public RegisterBus {
 public:
  explicit DeviceBus(const DeviceWindows& windows);  // throws std::runtime_error naming the device
  ~DeviceBus() override;

  [[nodiscard]] std::uint32_t read32(std::uint32_t offset) const noexcept override;
  void write32(std::uint32_t offset, std::uint32_t value) noexcept override;
  [[nodiscard]] std::uint64_t read64(std::uint32_t offset) const noexcept override;
  void write64(std::uint32_t offset, std::uint64_t value) noexcept override;
  [[nodiscard]] std::span<const std::int16_t> ring() const noexcept override;

 private:
  void* registers_ = nullptr;
  void* ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  int fd_ = -1;
};

}  // namespace mpi::drivers
