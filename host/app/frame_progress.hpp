// Progress of work that goes frame by frame (scans, replays): a bar with rate and ETA on a terminal, a
// plain line every few seconds otherwise, on stderr so that stdout keeps the report.
#pragma once

#include "mpi/host/progress.hpp"
#include "mpi/host/reconstruction_runner.hpp"

#include <unistd.h>

#include <iostream>
#include <mutex>
#include <optional>
#include <string>

namespace mpi::cli {

class FrameProgress {
 public:
  explicit FrameProgress(std::string label) : label_(std::move(label)) {}

  // The hook for LiveScanOptions::on_frame and the replays; the total is the plan's frame count, known
  // with the first frame.
  host::FrameHook hook() {
    return [this](const host::LiveFrameEvent& e) {
      const std::lock_guard lock(mutex_);
      if (!progress_) progress_.emplace(label_, e.frames_planned, "frames", std::cerr, host::Progress::is_terminal(STDERR_FILENO));
      progress_->update(e.frames_done);
    };
  }

  // The final line (when any frame came).
  void finish() {
    const std::lock_guard lock(mutex_);
    if (progress_) progress_->finish();
  }

 private:
  std::string label_;
  std::mutex mutex_;
  std::optional<host::Progress> progress_;
};

}  // namespace mpi::cli
