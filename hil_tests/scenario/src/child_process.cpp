#include "mpi/hil/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace mpi::hil {

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& stderr_file) : name_(argv.at(0)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("cannot create a pipe for " + name_);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error("cannot fork to start " + name_);
  }
  if (pid_ == 0) {
    // In the child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    if (!stderr_file.empty()) {
      const int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  stdout_fd_ = fds[0];
}

ChildProcess::~ChildProcess() {
  terminate();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool ChildProcess::reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r != pid_) return false;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

std::string ChildProcess::wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Complete lines not scanned yet.
    for (std::size_t nl; (nl = output_.find('\n', scanned_)) != std::string::npos; scanned_ = nl + 1) {
      const std::string line = output_.substr(scanned_, nl - scanned_);
      if (line.starts_with(prefix)) {
        scanned_ = nl + 1;
        return line;
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error(name_ + " did not print '" + std::string(prefix) + "' in time");
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (ready > 0) {
      char buffer[4096];
      const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
      if (n > 0) {
        output_.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        reap(true);
        throw std::runtime_error(name_ + " exited (code " + std::to_string(exit_code_.value_or(-1)) + ") before printing '" +
                                 std::string(prefix) + "'");
      }
    }
  }
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(false)) {
    // Keep the pipe drained so a chatty child never blocks on a full pipe.
    pollfd pfd{stdout_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 20) > 0) {
      char buffer[4096];
      const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
      if (n > 0) output_.append(buffer, static_cast<std::size_t>(n));
      else std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
  }
  return exit_code_;
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (!reap(false)) {
    ::kill(pid_, SIGTERM);
    if (!wait(grace)) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
  }
  return *exit_code_;
}

}  // namespace mpi::hil
