// A bounded, closable channel between host threads. When full, push() either blocks (recording,
// reconstruction) or drops the item and counts it (display), as chosen at construction. Closing is the
// normal end of a stream: pop() drains what is left, then returns nothing.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace mpi::host {

enum class WhenFull { block, drop_newest };

template <typename T>
class BoundedChannel {
 public:
  BoundedChannel(std::size_t capacity, WhenFull policy) : capacity_(capacity == 0 ? 1 : capacity), policy_(policy) {}

  // Returns false if the item was not queued (channel closed, or full under drop_newest).
  bool push(T item) {
    std::unique_lock lock(mutex_);
    if (policy_ == WhenFull::block) {
      not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    } else if (items_.size() >= capacity_) {
      ++dropped_;
      return false;
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  void close() {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  [[nodiscard]] std::size_t dropped() const {
    const std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  std::size_t capacity_;
  WhenFull policy_;
  std::size_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace mpi::host
