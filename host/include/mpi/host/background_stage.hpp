// Background subtraction (REFERENCE 3.3): a scan of the same sequence with an empty bore records what the
// scanner adds to every frame without particles: the drive feedthrough that survived the analog filters,
// the power amplifiers' harmonic distortion carried through the same feedthrough, and any other stable
// signal of the receive chain. The plan names its raw capture ([background] recording = "PATH");
// BackgroundFrame assembles that capture's frames with the same AcquisitionStream and FrameAssembler as a
// live scan and averages them, and the pipelines' to-volts stage subtracts the mean from every frame.
//
// The mean is kept in the time domain, per sample of the frame and ADC channel (exact integer sums of the
// int16 codes, divided once): the pipelines differ in what they do next (1D x-space averages periods in
// the time domain, 2D/3D x-space grids time samples, the system matrix transforms to a spectrum), and every
// one of those steps is linear, so one mean frame subtracted before them equals the per-bin mean of the
// spectra (recon::BackgroundModel) subtracted after the transform, for any frame length, without a
// transform per background frame and without a spectrum in the x-space paths. Frames of both scans start
// a whole number of drive cycles after the trigger, so the background is in phase with the scan's frames.
#pragma once

#include "mpi/host/frame.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/scan_plan.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace mpi::host {

class BackgroundFrame {
 public:
  // Reads plan.background.recording, assembles and averages every complete frame in it. Throws PlanError
  // naming the plan, [background] recording, the capture file and the reason: missing or unreadable,
  // truncated or corrupt, no complete frame, a drive other than the plan's sequence (channels, frequencies,
  // amplitudes), a frame length or ADC channel count other than the scan's.
  static BackgroundFrame load(const ScanPlan& plan, const ScannerDescription& scanner);
  // From mean codes directly (tests): interleaved like Frame::samples, samples_per_frame * channels values.
  BackgroundFrame(std::filesystem::path file, const AcquisitionSetup& setup, std::vector<double> mean_codes, std::uint64_t frames);

  // Checks that the scan's realised acquisition is the one recorded: sample rate, samples per frame, ADC
  // channels, the driven channels with their frequencies and amplitudes. Throws PlanError naming the file
  // and the difference.
  void check_matches(const AcquisitionSetup& scan) const;

  // The mean ADC code of sample `sample` of the frame in ADC channel `channel`.
  [[nodiscard]] double code(std::size_t sample, std::size_t channel) const noexcept { return mean_[sample * channels_ + channel]; }
  [[nodiscard]] std::span<const double> mean_codes() const noexcept { return mean_; }
  [[nodiscard]] std::size_t samples_per_frame() const noexcept { return samples_per_frame_; }
  [[nodiscard]] std::size_t channels() const noexcept { return channels_; }
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  [[nodiscard]] const AcquisitionSetup& setup() const noexcept { return setup_; }
  // One line for the report: "background: FILE, mean of N frames of S samples x C channels (time domain)".
  [[nodiscard]] std::string description() const;
  // Throws std::runtime_error unless `frame` has this background's shape (the stage's own check).
  void check_frame(const Frame& frame) const;

 private:
  std::filesystem::path file_;
  AcquisitionSetup setup_;
  std::vector<double> mean_;  // interleaved: [sample * channels + channel]
  std::size_t samples_per_frame_ = 0;
  std::size_t channels_ = 0;
  std::uint64_t frames_ = 0;
};

}  // namespace mpi::host
