// Bounded single-producer/single-consumer queue of serialised link frames. The streaming thread (producer)
// writes each frame straight into a preallocated slot; the I/O thread (consumer) sends the slot and frees
// it. Slots are cut from one arena allocated up front, so neither side allocates once a scan runs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace mpi::firmware {

struct FrameSlot {
  std::span<std::byte> storage;  // capacity of the slot
  std::size_t size = 0;          // bytes of the frame held
  std::uint64_t tag = 0;         // scan the frame belongs to
  std::uint32_t resume = 0;      // which stream of that scan: the streamer's resume count when it began

  [[nodiscard]] std::span<const std::byte> frame() const noexcept { return storage.first(size); }
};

class FrameQueue {
 public:
  // `arena_bytes` of storage, cut into at most `max_slots` slots.
  FrameQueue(std::size_t arena_bytes, std::size_t max_slots);

  // --- producer ---
  // Recuts the arena into slots of `slot_bytes`. Only while the queue is empty; false if it is not or if
  // not even two slots fit.
  [[nodiscard]] bool reslice(std::size_t slot_bytes) noexcept;
  [[nodiscard]] std::size_t slot_bytes() const noexcept { return slot_bytes_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t slot_count() const noexcept { return count_.load(std::memory_order_relaxed); }
  // The next free slot, or nullptr if the queue is full. Fill it, then publish().
  [[nodiscard]] FrameSlot* try_acquire() noexcept;
  void publish() noexcept;

  // --- consumer ---
  [[nodiscard]] const FrameSlot* front() const noexcept;  // nullptr if empty
  void pop() noexcept;

  [[nodiscard]] bool empty() const noexcept;

 private:
  std::unique_ptr<std::byte[]> arena_;
  std::size_t arena_bytes_;
  std::vector<FrameSlot> slots_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> slot_bytes_{0};
  alignas(64) std::atomic<std::uint64_t> head_{0};  // written by the producer
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // written by the consumer
};

}  // namespace mpi::firmware
