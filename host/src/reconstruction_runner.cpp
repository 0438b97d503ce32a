#include "mpi/host/reconstruction_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace mpi::host {

LatencyStats latency_stats(std::vector<double> v) {
  LatencyStats s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const auto rank = [&v](double q) {
    const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(k, 1, v.size()) - 1];
  };
  s.median_s = v.size() % 2 == 1 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  s.p95_s = rank(0.95);
  s.max_s = v.back();
  return s;
}

ReconstructionRunner::ReconstructionRunner(const ScanPlan& plan, const ScannerDescription& scanner, WhenFull when_full, std::size_t capacity)
    : plan_(plan), scanner_(scanner), frames_(capacity, when_full) {
  if (!plan_.background.recording.empty()) background_ = std::make_unique<BackgroundFrame>(BackgroundFrame::load(plan_, scanner_));
}

ReconstructionRunner::~ReconstructionRunner() {
  frames_.close();
  if (thread_.joinable()) thread_.join();
}

void ReconstructionRunner::start(const AcquisitionSetup& setup) {
  if (thread_.joinable()) throw std::logic_error("reconstruction already started");
  if (plan_.multi_dimensional() && plan_.reconstruction.method == ReconstructionMethod::system_matrix) {
    pipeline_sm_ = std::make_unique<SystemMatrixPipeline>(plan_, scanner_, setup);
    image_.assign(pipeline_sm_->image_size(), 0.0);
  } else if (plan_.multi_dimensional()) {
    pipeline_grid_ = std::make_unique<LissajousPipeline>(plan_, scanner_, setup);
    image_.assign(pipeline_grid_->image_size(), 0.0);
  } else {
    pipeline_1d_ = std::make_unique<Pipeline1D>(plan_, scanner_, setup);
  }
  if (background_) {
    background_->check_matches(setup);
    if (pipeline_sm_) pipeline_sm_->set_background(background_.get());
    else if (pipeline_grid_) pipeline_grid_->set_background(background_.get());
    else pipeline_1d_->set_background(background_.get());
  }
  setup_ = setup;
  if (pipeline_sm_) hook_image_.grid = pipeline_sm_->grid();
  else if (pipeline_grid_) hook_image_.grid = pipeline_grid_->grid();
  latencies_s_.reserve(std::min<std::size_t>(plan_.sequence.frames, 10'000'000));
  thread_ = std::thread([this] {
    while (auto frame = frames_.pop()) {
      if (error_) continue;  // keep draining so the producer never blocks forever
      try {
        if (pipeline_grid_ || pipeline_sm_) run_grid(*frame);
        else run_1d(*frame);
        latencies_s_.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - frame->arrival).count());
        ++frames_done_;
        if (hook_) report_frame(*frame);
      } catch (...) {
        error_ = std::current_exception();
      }
    }
  });
}

void ReconstructionRunner::run_1d(const Frame& frame) {
  recon::Profile1D profile = pipeline_1d_->process(frame);
  profiles_.add(profile);
  if (hook_) last_profile_ = std::move(profile);
}

void ReconstructionRunner::run_grid(const Frame& frame) {
  if (pipeline_sm_) pipeline_sm_->process(frame, image_);
  else pipeline_grid_->process(frame, image_);
  images_.add(image_);
}

void ReconstructionRunner::report_frame(const Frame& frame) {
  LiveFrameEvent event;
  event.frames_done = frames_done_;
  event.frames_planned = plan_.sequence.frames;
  event.frames_dropped = frames_.dropped();
  event.frame = &frame;
  event.setup = &setup_;
  if (pipeline_grid_ || pipeline_sm_) {
    hook_image_.values.swap(image_);  // lend the image without a copy, and take it back after the call
    event.image = &hook_image_;
    try {
      hook_(event);
    } catch (...) {
      hook_image_.values.swap(image_);
      throw;
    }
    hook_image_.values.swap(image_);
  } else {
    event.profile = &last_profile_;
    hook_(event);
  }
}

bool ReconstructionRunner::push(Frame&& frame) {
  if (!thread_.joinable()) throw std::logic_error("frame before the reconstruction was started");
  return frames_.push(std::move(frame));
}

ReconstructionResult ReconstructionRunner::finish() {
  frames_.close();
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
  if (frames_done_ == 0) throw std::runtime_error("no complete frame was acquired");
  ReconstructionResult r;
  r.frames = frames_done_;
  r.dropped = frames_.dropped();
  r.latency = latency_stats(latencies_s_);
  if (background_) r.background = background_->description();
  if (pipeline_sm_) {
    r.mean = GridImage{pipeline_sm_->grid(), images_.mean()};
    r.last = GridImage{pipeline_sm_->grid(), image_};
    r.summary = pipeline_sm_->summary().text();
  } else if (pipeline_grid_) {
    r.mean = GridImage{pipeline_grid_->grid(), images_.mean()};
    r.last = GridImage{pipeline_grid_->grid(), image_};
  } else {
    r.profile = profiles_.mean();
  }
  return r;
}

}  // namespace mpi::host
