// A child process started by a scenario: its stdout is read line by line, its stdin is inherited or (on
// request) a pipe the caller writes to, and it is always ended (SIGTERM, then SIGKILL after a grace period)
// when the object goes away, so no test or demo leaves a process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::hil {

// What the child's stdin is: inherited from this process, or a pipe written with write_stdin().
enum class ChildStdin { inherit, pipe };

class ChildProcess {
 public:
  // Starts argv[0] with the arguments; stdout is captured, stderr goes to `stderr_file` (or is inherited),
  // stdin is inherited or, with ChildStdin::pipe, a pipe from this object.
  explicit ChildProcess(std::vector<std::string> argv, const std::string& stderr_file = "",
                        ChildStdin stdin_mode = ChildStdin::inherit);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout until a line starting with `prefix` arrives; throws std::runtime_error naming the program
  // if it exits first or the timeout passes.
  std::string wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout);
  // Waits for the process to exit; returns its exit code (128 + signal if killed), or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Writes all of `text` to the child's stdin (ChildStdin::pipe), blocking while the pipe is full (keep
  // writes small, e.g. one line, when the child may be blocked on a full stdout). A child that has exited or
  // closed its stdin is not an error: the bytes are dropped, and no SIGPIPE is raised (SIGPIPE is blocked in
  // the calling thread during the write and a SIGPIPE the write caused is consumed; the thread's signal mask
  // is restored). Throws std::logic_error without a stdin pipe or after close_stdin(), std::runtime_error
  // naming the program for any other write error.
  void write_stdin(std::string_view text);
  // Closes the child's stdin pipe (the child reads end of file); nothing when there is none or it is closed.
  void close_stdin() noexcept;
  // SIGTERM, wait up to `grace`, then SIGKILL; returns the exit code.
  int terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] bool running() const noexcept { return !exit_code_.has_value(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  // Everything read from stdout so far.
  [[nodiscard]] const std::string& output() const noexcept { return output_; }

 private:
  bool reap(bool block);
  std::string name_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stdin_fd_ = -1;   // write end of the child's stdin pipe; -1: none or closed
  std::string output_;
  std::size_t scanned_ = 0;
  std::optional<int> exit_code_;
};

}  // namespace mpi::hil
