#include "mpi/host/heartbeat_sender.hpp"

#include <exception>
#include <stdexcept>
#include <utility>

namespace mpi::host {

HeartbeatSender::HeartbeatSender(Send send, std::chrono::steady_clock::duration interval)
    : send_(std::move(send)), interval_(interval) {
  if (!send_) throw std::invalid_argument("HeartbeatSender: no send function");
  if (interval_ <= std::chrono::steady_clock::duration::zero()) {
    throw std::invalid_argument("HeartbeatSender: the heartbeat interval must be positive");
  }
  thread_ = std::thread([this] { run(); });
}

HeartbeatSender::~HeartbeatSender() { stop(); }

void HeartbeatSender::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t HeartbeatSender::sent() const {
  const std::lock_guard lock(mutex_);
  return sent_;
}

std::string HeartbeatSender::failure() const {
  const std::lock_guard lock(mutex_);
  return failure_;
}

void HeartbeatSender::run() {
  // Deadlines advance by the interval from the previous deadline, so a slow send does not make the
  // beats drift later and later.
  auto next = std::chrono::steady_clock::now();
  std::uint64_t sequence = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
    lock.unlock();
    bool failed = false;
    std::string error;
    try {
      link::v1::Envelope beat;
      beat.mutable_heartbeat()->set_sequence(++sequence);
      send_(beat);
    } catch (const std::exception& e) {
      failed = true;
      error = e.what();
    } catch (...) {
      failed = true;
      error = "unknown error";
    }
    lock.lock();
    if (failed) {
      failure_ = "heartbeat " + std::to_string(sequence) + " could not be sent: " + error;
      return;
    }
    ++sent_;
    next += interval_;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // fell behind (machine stalled): send now, do not burst to catch up
  }
}

}  // namespace mpi::host
