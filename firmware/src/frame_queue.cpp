#include "mpi/firmware/frame_queue.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpi::firmware {

FrameQueue::FrameQueue(std::size_t arena_bytes, std::size_t max_slots)
    : arena_(std::make_unique<std::byte[]>(arena_bytes)), arena_bytes_(arena_bytes), slots_(max_slots) {
  if (max_slots < 2) throw std::invalid_argument("frame queue: at least two slots are needed");
}

bool FrameQueue::reslice(std::size_t slot_bytes) noexcept {
  if (!empty() || slot_bytes == 0) return false;
  const std::size_t count = std::min(slots_.size(), arena_bytes_ / slot_bytes);
  if (count < 2) return false;
  for (std::size_t i = 0; i < count; ++i) {
    slots_[i] = FrameSlot{std::span<std::byte>(arena_.get() + i * slot_bytes, slot_bytes), 0, 0, 0};
  }
  slot_bytes_.store(slot_bytes, std::memory_order_relaxed);
  count_.store(count, std::memory_order_release);
  return true;
}

FrameSlot* FrameQueue::try_acquire() noexcept {
  const std::size_t count = count_.load(std::memory_order_relaxed);
  if (count == 0) return nullptr;
  const std::uint64_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_.load(std::memory_order_acquire) >= count) return nullptr;
  return &slots_[head % count];
}

void FrameQueue::publish() noexcept { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

const FrameSlot* FrameQueue::front() const noexcept {
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (head_.load(std::memory_order_acquire) == tail) return nullptr;
  return &slots_[tail % count_.load(std::memory_order_relaxed)];
}

void FrameQueue::pop() noexcept {
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (head_.load(std::memory_order_acquire) == tail) return;
  tail_.store(tail + 1, std::memory_order_release);
}

bool FrameQueue::empty() const noexcept {
  return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
}

}  // namespace mpi::firmware
