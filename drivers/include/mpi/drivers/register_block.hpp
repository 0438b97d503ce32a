// Atomic access to a register block in ordinary memory (the shared-memory region). Both the firmware's
// SharedMemoryBus and the plant use it, so the two sides agree on widths and memory ordering:
// writes are release stores, reads are acquire loads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mpi::drivers {

class RegisterBlock {
 public:
  explicit RegisterBlock(std::byte* base) noexcept : base_(base) {}

  [[nodiscard]] std::uint32_t read32(std::uint32_t offset) const noexcept { return ref<std::uint32_t>(offset).load(std::memory_order_acquire); }
  void write32(std::uint32_t offset, std::uint32_t value) const noexcept { ref<std::uint32_t>(offset).store(value, std::memory_order_release); }
  [[nodiscard]] std::uint64_t read64(std::uint32_t offset) const noexcept { return ref<std::uint64_t>(offset).load(std::memory_order_acquire); }
  void write64(std::uint32_t offset, std::uint64_t value) const noexcept { ref<std::uint64_t>(offset).store(value, std::memory_order_release); }
  // Atomically reads and clears a 32-bit register (the plant consumes command registers this way).
  [[nodiscard]] std::uint32_t take32(std::uint32_t offset) const noexcept { return ref<std::uint32_t>(offset).exchange(0, std::memory_order_acq_rel); }

 private:
  template <typename T>
  std::atomic_ref<T> ref(std::uint32_t offset) const noexcept {
    static_assert(std::atomic_ref<T>::is_always_lock_free, "registers must be lock-free across processes");
    return std::atomic_ref<T>(*reinterpret_cast<T*>(base_ + offset));  // NOLINT: register memory
  }
  std::byte* base_;
};

}  // namespace mpi::drivers
