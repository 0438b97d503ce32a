// A wake-up signal from the streaming thread to the I/O thread: an eventfd the producer bumps after each
// frame it queues (one non-blocking write, no allocation) and the I/O thread reads asynchronously.
#pragma once

namespace mpi::firmware {

class Wakeup {
 public:
  Wakeup();  // throws std::system_error if no eventfd can be made
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  void notify() const noexcept;
  // A duplicate of the descriptor for the reader, which owns and closes it.
  [[nodiscard]] int duplicate_descriptor() const;

 private:
  int fd_ = -1;
};

}  // namespace mpi::firmware
