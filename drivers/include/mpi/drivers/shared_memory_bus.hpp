// RegisterBus over the shared-memory region of the hardware-in-the-loop plant.
#pragma once

#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_bus.hpp"
#include "mpi/drivers/shared_memory_region.hpp"

#include <string>

namespace mpi::drivers {

class SharedMemoryBus final : public RegisterBus {
 public:
  // Throws std::runtime_error naming the region when it is missing or not a register map of this version.
  explicit SharedMemoryBus(const std::string& region_name);

  [[nodiscard]] std::uint32_t read32(std::uint32_t offset) const noexcept override { return block_.read32(offset); }
  void write32(std::uint32_t offset, std::uint32_t value) noexcept override { block_.write32(offset, value); }
  [[nodiscard]] std::uint64_t read64(std::uint32_t offset) const noexcept override { return block_.read64(offset); }
  void write64(std::uint32_t offset, std::uint64_t value) noexcept override { block_.write64(offset, value); }
  [[nodiscard]] std::span<const std::int16_t> ring() const noexcept override { return region_.ring(); }

 private:
  SharedMemoryRegion region_;
  RegisterBlock block_;
};

}  // namespace mpi::drivers
