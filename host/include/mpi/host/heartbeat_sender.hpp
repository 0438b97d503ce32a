// Keeps the board's heartbeat watchdog fed from a thread of its own, independent of how fast the
// receive side takes frames off the link: a stalled receive loop must not fault the scan.
#pragma once

#include "mpi/link/v1/link.pb.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mpi::host {

class HeartbeatSender {
 public:
  // Sends one envelope; must be safe to call while another thread receives (LinkClient::send is).
  using Send = std::function<void(link::v1::Envelope&)>;

  // Starts a thread that sends a Heartbeat (sequence 1, 2, ...) at once and then every `interval`.
  // Throws std::invalid_argument if `interval` is not positive or `send` is empty.
  HeartbeatSender(Send send, std::chrono::steady_clock::duration interval);
  // Stops and joins the thread.
  ~HeartbeatSender();
  HeartbeatSender(const HeartbeatSender&) = delete;
  HeartbeatSender& operator=(const HeartbeatSender&) = delete;

  // Stops sending and joins the thread; idempotent. A send that failed (the link was lost) ended the
  // thread early: its message is returned by failure(), the receive side sees the loss on its own.
  void stop();
  std::uint64_t sent() const;
  std::string failure() const;

 private:
  void run();

  Send send_;
  std::chrono::steady_clock::duration interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::uint64_t sent_ = 0;
  std::string failure_;
  std::thread thread_;
};

}  // namespace mpi::host
