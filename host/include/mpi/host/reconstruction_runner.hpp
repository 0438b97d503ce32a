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
#include <memory>
#include <optional>
#include <string>
#include <thread>
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

  void start(const AcquisitionSetup& setup);  // builds the pipeline (validating it) and starts the thread
  // False if the frame was dropped (display path full) or the runner is closed.
  bool push(Frame&& frame);
  // Closes the input, waits for the last frame and returns the images; rethrows a stage's error.
  ReconstructionResult finish();
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_done_; }

 private:
  void run_1d(const Frame& frame);
  void run_grid(const Frame& frame);

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
  std::thread thread_;
  std::exception_ptr error_;
};

}  // namespace mpi::host
