// Progress of long work (scans, calibrations, replays, batch reconstructions) for the operator.
//
// On a terminal one line is redrawn in place ('\r') at most every redraw_interval (100 ms):
//   scan [##########..........] 1532/3000 frames, 1530 frames/s, ETA 1 s
// elsewhere (a log file, a pipe) a plain line is printed at most every line_interval (5 s):
//   scan: 1532/3000 frames, 1530 frames/s, ETA 1 s
// and finish() prints the final line ("scan: 3000/3000 frames, 1500 frames/s, done in 2.0 s"). With an
// unknown total (0) there is no bar and no ETA ("scan: 1532 frames, 1530 frames/s").
//
// The rate is the mean since construction (done / elapsed), shown to three significant digits; the ETA is
// the remaining count at that rate, rounded up to whole seconds. update() and advance() may be called from
// any thread and often: they store the count and read the clock, and only the call that finds a line due
// formats and writes it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <ostream>
#include <string>

namespace mpi::host {

struct ProgressOptions {
  std::chrono::milliseconds redraw_interval{100};  // terminal: the shortest time between two redraws
  std::chrono::milliseconds line_interval{5000};   // otherwise: the shortest time between two lines
  int bar_width = 20;                              // characters inside the brackets
};

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // total 0: unknown. clock: the time source (default std::chrono::steady_clock::now).
  Progress(std::string label, std::uint64_t total, std::string unit, std::ostream& out, bool terminal, Clock clock = {},
           ProgressOptions options = {});
  // Ends a terminal line that finish() did not end; prints nothing else.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The count done so far (a count never goes back: a smaller value than one seen is ignored).
  void update(std::uint64_t done);
  // Adds n to the count done.
  void advance(std::uint64_t n = 1);
  // Prints the final line (once; later calls and updates print nothing).
  void finish();

  [[nodiscard]] std::uint64_t done() const noexcept { return done_.load(std::memory_order_relaxed); }

  // The line's text (without '\r' or '\n') for a count and the seconds since construction.
  [[nodiscard]] std::string text(std::uint64_t done, double elapsed_s, bool final) const;

  // 3 significant digits without exponent: 1532 -> "1530", 15.32 -> "15.3", 0.01532 -> "0.0153".
  static std::string format_rate(double per_second);
  // Whole seconds rounded up: "0 s", "1 s", "59 s", "1 min 5 s", "2 h 3 min".
  static std::string format_eta(double seconds);
  // Whether a file descriptor is a terminal (isatty), e.g. Progress::is_terminal(2) for stderr.
  static bool is_terminal(int fd) noexcept;

 private:
  void maybe_print();
  void print(bool final);  // mutex_ held

  std::string label_;
  std::uint64_t total_;
  std::string unit_;
  std::ostream& out_;
  bool terminal_;
  Clock clock_;
  ProgressOptions options_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<std::uint64_t> done_{0};
  std::atomic<std::int64_t> next_due_ns_;  // since start_
  std::atomic<bool> finished_{false};
  std::mutex mutex_;
  std::size_t drawn_width_ = 0;  // terminal: the length of the line on screen
  bool line_open_ = false;       // terminal: a line without its '\n'
};

}  // namespace mpi::host
