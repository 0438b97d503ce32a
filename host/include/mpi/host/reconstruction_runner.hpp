// Runs the reconstruction pipeline on its own thread: frames come in through a bounded channel that
// blocks when full (every frame of the scan is reconstructed, live or replayed alike), and the mean
// image of all frames comes out at the end.
#pragma once

#include "mpi/host/bounded_channel.hpp"
#include "mpi/host/frame.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/scan_plan.hpp"

#include <exception>
#include <memory>
#include <thread>

namespace mpi::host {

class ReconstructionRunner {
 public:
  ReconstructionRunner(const ScanPlan& plan, const ScannerDescription& scanner);
  ~ReconstructionRunner();
  ReconstructionRunner(const ReconstructionRunner&) = delete;
  ReconstructionRunner& operator=(const ReconstructionRunner&) = delete;

  void start(const AcquisitionSetup& setup);  // builds the pipeline (validating it) and starts the thread
  void push(Frame&& frame);
  // Closes the input, waits for the last frame and returns the mean image; rethrows a stage's error.
  recon::Profile1D finish();
  [[nodiscard]] std::uint64_t frames() const noexcept { return accumulator_.frames(); }
  [[nodiscard]] const recon::XSpace1DConfig& xspace_config() const { return pipeline_->xspace_config(); }

 private:
  ScanPlan plan_;
  ScannerDescription scanner_;
  std::unique_ptr<Pipeline1D> pipeline_;
  BoundedChannel<Frame> frames_{64, WhenFull::block};
  ProfileAccumulator accumulator_;
  std::thread thread_;
  std::exception_ptr error_;
};

}  // namespace mpi::host
