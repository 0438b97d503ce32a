// Runs the reconstruction pipeline on its own thread: frames come in through a bounded channel and images
// come out. Replays block when the channel is full (every frame is reconstructed); live scans drop frames
// from this display path under load instead of holding up the link (the raw capture, teed off before,
// keeps them all), and the drops are counted. Per frame, the time from the arrival of its last sample at
// the host (Frame::arrival) to its image being ready is measured. At the end: the mean image of all
// reconstructed frames and the last one.
#pragma once

#include "mpi/host/background_stage.hpp"
#include "mpi/host/bounded_channel.hpp"
#include "mpi/host/frame.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/pipeline_system_matrix.hpp"
#include "mpi/host/scan_plan.hpp"

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mpi::host {

// Latency from a frame's last sample to its image, over the reconstructed frames.
struct LatencyStats {
  std::uint64_t count = 0;
  double median_s = 0.0;
  double p95_s = 0.0;  // nearest rank
  double max_s = 0.0;
};
LatencyStats latency_stats(std::vector<double> latencies_s);

struct ReconstructionResult {
  recon::Profile1D profile;           // 1D plans
  std::optional<GridImage> mean;      // plans naming a sequence
  std::optional<GridImage> last;
  std::uint64_t frames = 0;           // reconstructed
  std::uint64_t dropped = 0;          // dropped from the display path
  LatencyStats latency;
  std::string summary;                // what the pipeline built at scan start (system matrix: rows, build times)
  std::string background;             // the background subtracted (BackgroundFrame::description()); empty: none
};

// What the reconstruction thread reports after each frame (LiveScanOptions::on_frame): the counts, the
// frame's samples and its image. The pointers are valid only during the call; a receiver copies what it
// keeps (e.g. under a mutex, at the rate it displays) and returns at once: the call holds up the next frame.
struct LiveFrameEvent {
  std::uint64_t frames_done = 0;          // reconstructed so far, this one included
  std::uint64_t frames_planned = 0;       // the plan's frames
  std::uint64_t frames_dropped = 0;       // dropped from the display path so far
  const Frame* frame = nullptr;           // the frame's samples (interleaved ADC channels)
  const AcquisitionSetup* setup = nullptr;  // sample rate, realised drives
  const recon::Profile1D* profile = nullptr;  // 1D plans: this frame's profile (else null)
  const GridImage* image = nullptr;           // plans naming a sequence: this frame's image (else null)
};
using FrameHook = std::function<void(const LiveFrameEvent&)>;

class ReconstructionRunner {
 public:
  // `when_full`: block (replay) or drop_newest (live display path), with `capacity` frames of buffer.
  // A plan with [background] recording loads and averages it here (throws PlanError, background_stage.hpp);
  // start() checks it against the realised acquisition and the pipeline subtracts it from every frame.
  ReconstructionRunner(const ScanPlan& plan, const ScannerDescription& scanner, WhenFull when_full = WhenFull::block,
                       std::size_t capacity = 64);
  ~ReconstructionRunner();
  ReconstructionRunner(const ReconstructionRunner&) = delete;
  ReconstructionRunner& operator=(const ReconstructionRunner&) = delete;

  // Called on the reconstruction thread after each frame; set before start().
  void set_frame_hook(FrameHook hook) { hook_ = std::move(hook); }
  void start(const AcquisitionSetup& setup);  // builds the pipeline (validating it) and starts the thread
  // False if the frame was dropped (display path full) or the runner is closed.
  bool push(Frame&& frame);
  // Closes the input, waits for the last frame and returns the images; rethrows a stage's error.
  ReconstructionResult finish();
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_done_; }

 private:
  void run_1d(const Frame& frame);
  void run_grid(const Frame& frame);
  void report_frame(const Frame& frame);

  ScanPlan plan_;
  ScannerDescription scanner_;
  std::unique_ptr<BackgroundFrame> background_;
  std::unique_ptr<Pipeline1D> pipeline_1d_;
  std::unique_ptr<LissajousPipeline> pipeline_grid_;
  std::unique_ptr<SystemMatrixPipeline> pipeline_sm_;
  BoundedChannel<Frame> frames_;
  ProfileAccumulator profiles_;
  ImageAccumulator images_;
  std::vector<double> image_;
  std::vector<double> latencies_s_;
  std::uint64_t frames_done_ = 0;
  FrameHook hook_;
  AcquisitionSetup setup_;
  GridImage hook_image_;  // the latest grid image, handed to the hook
  recon::Profile1D last_profile_;  // 1D: the latest frame's profile, handed to the hook
  std::thread thread_;
  std::exception_ptr error_;
};

}  // namespace mpi::host
