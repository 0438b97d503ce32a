// A child process started by a scenario: its stdout is read line by line, and it is always ended
// (SIGTERM, then SIGKILL after a grace period) when the object goes away, so no test or demo leaves a
// process behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::hil {

class ChildProcess {
 public:
  // Starts argv[0] with the arguments; stdout is captured, stderr goes to `stderr_file` (or is inherited).
  explicit ChildProcess(std::vector<std::string> argv, const std::string& stderr_file = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout until a line starting with `prefix` arrives; throws std::runtime_error naming the program
  // if it exits first or the timeout passes.
  std::string wait_for_line(std::string_view prefix, std::chrono::milliseconds timeout);
  // Waits for the process to exit; returns its exit code (128 + signal if killed), or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
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
  std::string output_;
  std::size_t scanned_ = 0;
  std::optional<int> exit_code_;
};

}  // namespace mpi::hil
