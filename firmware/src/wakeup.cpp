#include "mpi/firmware/wakeup.hpp"

#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace mpi::firmware {

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Wakeup::~Wakeup() {
  if (fd_ >= 0) ::close(fd_);
}

void Wakeup::notify() const noexcept {
  const std::uint64_t one = 1;
  // EAGAIN only means the counter is saturated: the reader is already due to wake.
  [[maybe_unused]] const ssize_t written = ::write(fd_, &one, sizeof one);
}

int Wakeup::duplicate_descriptor() const {
  const int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup eventfd");
  return fd;
}

}  // namespace mpi::firmware
