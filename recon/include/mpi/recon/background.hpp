// Background correction of frame spectra (REFERENCE 3.3): frames taken with no sample in the bore hold the
// feedthrough that survived the filters, the receive chain's own signals and the noise. A BackgroundModel
// averages the spectra of one block of such frames (and their spread, the per-bin noise for SNRs); an
// InterpolatedBackground subtracts the background interpolated linearly, by sample index, between a block
// taken before and a block taken after the foreground, which follows a background drifting linearly in
// time exactly.
//
// Spectra are FrameSpectrum outputs (bins x channels, complex<double>). The transform is linear, so
// subtracting in the spectrum is the same as subtracting the mean background time signal first.
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <span>

namespace mpi::recon {

class BackgroundModel {
 public:
  // Throws std::invalid_argument for zero bins or channels.
  BackgroundModel(std::size_t bins, std::size_t channels);

  // Adds one background frame whose centre lies at `centre_sample` (frame_centre_sample()). Running mean and
  // spread (Welford); no allocation. Throws std::invalid_argument for a spectrum of another shape.
  void add(const Eigen::MatrixXcd& spectrum, double centre_sample);
  void reset() noexcept;

  [[nodiscard]] std::size_t frames() const noexcept { return frames_; }
  [[nodiscard]] std::size_t bins() const noexcept { return static_cast<std::size_t>(mean_.rows()); }
  [[nodiscard]] std::size_t channels() const noexcept { return static_cast<std::size_t>(mean_.cols()); }
  // Mean spectrum of the frames added (zero before the first).
  [[nodiscard]] const Eigen::MatrixXcd& mean() const noexcept { return mean_; }
  // Mean centre sample of the frames added: the time the mean belongs to.
  [[nodiscard]] double centre_sample() const noexcept { return centre_sample_; }
  // Per-bin noise: the standard deviation over the frames of the complex value,
  // sqrt(sum_m |c_m - mean|^2 / (frames - 1)). Throws std::logic_error with fewer than 2 frames.
  [[nodiscard]] Eigen::MatrixXd noise() const;
  // spectrum -= mean(). Throws std::logic_error with no frames, std::invalid_argument for another shape.
  void subtract(Eigen::Ref<Eigen::MatrixXcd> spectrum) const;

 private:
  friend class InterpolatedBackground;
  Eigen::MatrixXcd mean_;
  Eigen::MatrixXd sum_sq_;     // sum_m |c_m - mean|^2
  Eigen::MatrixXcd delta_;     // scratch
  std::size_t frames_ = 0;
  double centre_sample_ = 0.0;
};

class InterpolatedBackground {
 public:
  // Takes the means of a block before and a block after (copied). Throws std::invalid_argument when either
  // is empty, their shapes differ, or their centre samples coincide.
  InterpolatedBackground(const BackgroundModel& before, const BackgroundModel& after);

  // The background at a frame centred at `centre_sample`: before + w (after - before) with
  // w = (centre - before centre) / (after centre - before centre); linear extrapolation outside.
  [[nodiscard]] Eigen::MatrixXcd at(double centre_sample) const;
  // spectrum -= at(centre_sample), without allocating. Throws std::invalid_argument for another shape.
  void subtract(double centre_sample, Eigen::Ref<Eigen::MatrixXcd> spectrum) const;
  // Pooled per-bin noise of both blocks, sqrt((S_before + S_after) / (M_before + M_after - 2)), where S is
  // each block's sum of squared deviations from its own mean. Throws std::logic_error with fewer than 3
  // frames in all.
  [[nodiscard]] Eigen::MatrixXd noise() const;
  // The same background kept for a few bins only: row i of the result is bin bins[i] (the fused path,
  // fused_harmonics.hpp, subtracts it from those bins alone). Throws std::invalid_argument naming a bin out
  // of range.
  [[nodiscard]] InterpolatedBackground select(std::span<const std::size_t> bins) const;
  [[nodiscard]] std::size_t bins() const noexcept { return static_cast<std::size_t>(before_.rows()); }
  [[nodiscard]] std::size_t channels() const noexcept { return static_cast<std::size_t>(before_.cols()); }

 private:
  InterpolatedBackground() = default;
  Eigen::MatrixXcd before_;
  Eigen::MatrixXcd after_;
  Eigen::MatrixXd sum_sq_;
  std::size_t frames_ = 0;
  double before_centre_ = 0.0;
  double after_centre_ = 0.0;
};

}  // namespace mpi::recon
