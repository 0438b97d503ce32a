#include "mpi/host/reconstruction_runner.hpp"

#include <stdexcept>

namespace mpi::host {

ReconstructionRunner::ReconstructionRunner(const ScanPlan& plan, const ScannerDescription& scanner) : plan_(plan), scanner_(scanner) {}

ReconstructionRunner::~ReconstructionRunner() {
  frames_.close();
  if (thread_.joinable()) thread_.join();
}

void ReconstructionRunner::start(const AcquisitionSetup& setup) {
  if (thread_.joinable()) throw std::logic_error("reconstruction already started");
  pipeline_ = std::make_unique<Pipeline1D>(plan_, scanner_, setup);
  thread_ = std::thread([this] {
    while (auto frame = frames_.pop()) {
      if (error_) continue;  // keep draining so the producer never blocks forever
      try {
        accumulator_.add(pipeline_->process(*frame));
      } catch (...) {
        error_ = std::current_exception();
      }
    }
  });
}

void ReconstructionRunner::push(Frame&& frame) {
  if (!thread_.joinable()) throw std::logic_error("frame before the reconstruction was started");
  frames_.push(std::move(frame));
}

recon::Profile1D ReconstructionRunner::finish() {
  frames_.close();
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
  if (accumulator_.frames() == 0) throw std::runtime_error("no complete frame was acquired");
  return accumulator_.mean();
}

}  // namespace mpi::host
