#include "mpi/host/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace mpi::host {

namespace {

std::int64_t to_ns(std::chrono::steady_clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

}  // namespace

Progress::Progress(std::string label, std::uint64_t total, std::string unit, std::ostream& out, bool terminal, Clock clock,
                   ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      out_(out),
      terminal_(terminal),
      clock_(clock ? std::move(clock) : Clock{[] { return std::chrono::steady_clock::now(); }}),
      options_(options),
      start_(clock_()),
      next_due_ns_(terminal ? 0 : to_ns(options.line_interval)) {}

Progress::~Progress() {
  const std::lock_guard lock(mutex_);
  if (line_open_) {
    out_ << '\n';
    out_.flush();
  }
}

void Progress::update(std::uint64_t done) {
  if (finished_.load(std::memory_order_relaxed)) return;
  std::uint64_t seen = done_.load(std::memory_order_relaxed);
  while (done > seen && !done_.compare_exchange_weak(seen, done, std::memory_order_relaxed)) {
  }
  maybe_print();
}

void Progress::advance(std::uint64_t n) {
  if (finished_.load(std::memory_order_relaxed)) return;
  done_.fetch_add(n, std::memory_order_relaxed);
  maybe_print();
}

void Progress::maybe_print() {
  const std::int64_t now = to_ns(clock_() - start_);
  std::int64_t due = next_due_ns_.load(std::memory_order_relaxed);
  if (now < due) return;
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(terminal_ ? options_.redraw_interval : options_.line_interval);
  // Only the caller that moves the deadline on prints: one line per interval however many threads update.
  if (!next_due_ns_.compare_exchange_strong(due, now + interval.count(), std::memory_order_relaxed)) return;
  const std::lock_guard lock(mutex_);
  if (finished_.load(std::memory_order_relaxed)) return;
  print(false);
}

void Progress::finish() {
  const std::lock_guard lock(mutex_);
  if (finished_.exchange(true)) return;
  print(true);
}

void Progress::print(bool final) {
  const double elapsed = std::chrono::duration<double>(clock_() - start_).count();
  std::string line = text(done_.load(std::memory_order_relaxed), elapsed, final);
  if (terminal_) {
    const std::size_t width = line.size();
    if (width < drawn_width_) line.append(drawn_width_ - width, ' ');  // wipe the rest of a longer line
    drawn_width_ = width;
    out_ << '\r' << line;
    if (final) out_ << '\n';
    line_open_ = !final;
  } else {
    out_ << line << '\n';
  }
  out_.flush();
}

std::string Progress::text(std::uint64_t done, double elapsed_s, bool final) const {
  std::string s = label_;
  if (terminal_ && total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const auto filled = static_cast<int>(std::floor(fraction * options_.bar_width));
    s += " [" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(options_.bar_width - filled), '.') + "] ";
  } else {
    s += ": ";
  }
  s += std::to_string(done);
  if (total_ > 0) s += "/" + std::to_string(total_);
  s += " " + unit_;
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  if (elapsed_s > 0) s += ", " + format_rate(rate) + " " + unit_ + "/s";
  if (final) {
    char text[32];
    if (elapsed_s < 10) std::snprintf(text, sizeof text, "%.1f s", elapsed_s);
    s += ", done in " + (elapsed_s < 10 ? std::string(text) : format_eta(elapsed_s));
  } else if (total_ > 0) {
    if (done >= total_) s += ", ETA 0 s";
    else if (rate > 0) s += ", ETA " + format_eta(static_cast<double>(total_ - done) / rate);
  }
  return s;
}

std::string Progress::format_rate(double r) {
  char text[48];
  if (!std::isfinite(r) || r <= 0) return "0";
  if (r >= 100) {
    const double unit = std::pow(10.0, std::floor(std::log10(r)) - 2);  // keeps three significant digits
    std::snprintf(text, sizeof text, "%.0f", std::round(r / unit) * unit);
  } else if (r >= 10) {
    std::snprintf(text, sizeof text, "%.1f", r);
  } else if (r >= 1) {
    std::snprintf(text, sizeof text, "%.2f", r);
  } else {
    const int decimals = std::min(12, 2 - static_cast<int>(std::floor(std::log10(r))));
    std::snprintf(text, sizeof text, "%.*f", decimals, r);
  }
  return text;
}

std::string Progress::format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::uint64_t>(std::ceil(seconds - 1e-9));
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
}

bool Progress::is_terminal(int fd) noexcept { return ::isatty(fd) != 0; }

}  // namespace mpi::host
