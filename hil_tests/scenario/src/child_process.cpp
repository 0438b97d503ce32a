#include "mpi/hil/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <thread>

namespace mpi::hil {

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::string& stderr_file, ChildStdin stdin_mode)
    : name_(argv.at(0)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("cannot create a pipe for " + name_);
  int in[2] = {-1, -1};  // the child's stdin: in[0] read end (child), in[1] write end (us)
  if (stdin_mode == ChildStdin::pipe && ::pipe2(in, O_CLOEXEC) != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error("cannot create a stdin pipe for " + name_);
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    for (const int fd : {fds[0], fds[1], in[0], in[1]}) {
      if (fd >= 0) ::close(fd);
    }
    throw std::runtime_error("cannot fork to start " + name_);
  }
  if (pid_ == 0) {
    // In the child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    if (in[0] >= 0) ::dup2(in[0], STDIN_FILENO);  // dup2 clears close-on-exec on stdin; the pipe's ends close at exec
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
  if (in[0] >= 0) ::close(in[0]);
  stdin_fd_ = in[1];
}

ChildProcess::~ChildProcess() {
  terminate();
  close_stdin();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ChildProcess::write_stdin(std::string_view text) {
  if (stdin_fd_ < 0) throw std::logic_error(name_ + ": no stdin pipe to write to (none requested, or closed)");
  // A pipe has no MSG_NOSIGNAL: block SIGPIPE in this thread (the signal a write raises goes to the writing
  // thread), and consume the one our write raised unless one was pending already.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  sigset_t old_mask;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  int error = 0;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(stdin_fd_, text.data() + done, text.size() - done);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    error = errno;
    break;
  }
  if (error == EPIPE && !was_pending) {
    const timespec zero{};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (error != 0 && error != EPIPE) {
    throw std::runtime_error("cannot write to the stdin of " + name_ + ": " + std::strerror(error));
  }
}

void ChildProcess::close_stdin() noexcept {
  if (stdin_fd_ < 0) return;
  ::close(stdin_fd_);
  stdin_fd_ = -1;
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
