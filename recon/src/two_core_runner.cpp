#include "mpi/recon/two_core_runner.hpp"

#include <chrono>

namespace mpi::recon {

namespace {

// Spin on `value` while it equals `old` for up to ~100 us (one 2D frame's work), then sleep on it.
void await_change(const std::atomic<std::uint32_t>& value, std::uint32_t old) noexcept {
  using clock = std::chrono::steady_clock;
  const auto give_up = clock::now() + std::chrono::microseconds(100);
  for (unsigned i = 1;; ++i) {
    if (value.load(std::memory_order_acquire) != old) return;
    if (i % 64 == 0 && clock::now() > give_up) break;
  }
  while (value.load(std::memory_order_acquire) == old) value.wait(old, std::memory_order_acquire);
}

}  // namespace

TwoCoreRunner::TwoCoreRunner() : thread_([this] { loop(); }) {}

TwoCoreRunner::~TwoCoreRunner() {
  stop_.store(true, std::memory_order_relaxed);
  requested_.fetch_add(1, std::memory_order_release);
  requested_.notify_one();
  thread_.join();
}

void TwoCoreRunner::post(void (*fn)(void*), void* ctx) noexcept {
  fn_ = fn;
  ctx_ = ctx;
  requested_.fetch_add(1, std::memory_order_release);  // publishes fn_ and ctx_
  requested_.notify_one();
}

void TwoCoreRunner::finish() noexcept {
  const std::uint32_t want = requested_.load(std::memory_order_relaxed);
  std::uint32_t seen = done_.load(std::memory_order_acquire);
  while (seen != want) {
    await_change(done_, seen);
    seen = done_.load(std::memory_order_acquire);
  }
}

void TwoCoreRunner::loop() noexcept {
  std::uint32_t seen = 0;
  for (;;) {
    await_change(requested_, seen);
    seen = requested_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) return;
    try {
      fn_(ctx_);
    } catch (...) {
      worker_error_ = std::current_exception();
    }
    done_.store(seen, std::memory_order_release);
    done_.notify_one();
  }
}

}  // namespace mpi::recon
