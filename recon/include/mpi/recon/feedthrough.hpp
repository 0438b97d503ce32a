// Suppression of the feedthrough region of frame spectra (REFERENCE 3.2 step 1, 3.3): the direct
// feedthrough of the drive is orders of magnitude above the particle signal at the drive fundamentals (and,
// through amplifier distortion, their 2nd harmonics), and the analog filters distort the low band, so those
// bins are zeroed (x-space) or left out of the system matrix rows (f-space). A FeedthroughFilter holds the
// per-channel mask of usable bins of one frame geometry.
#pragma once

#include "mpi/recon/frame_spectrum.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

namespace mpi::recon {

struct FeedthroughOptions {
  bool dc = true;                 // bin 0
  bool fundamentals = true;       // the bins of every drive frequency
  bool second_harmonics = false;  // twice those bins (where below Nyquist)
  double min_frequency_hz = 0.0;  // band limit: bins below are unusable (e.g. 80e3, REFERENCE 2.1)
  double max_frequency_hz = std::numeric_limits<double>::infinity();  // bins above are unusable
};

class FeedthroughFilter {
 public:
  // The same mask on every channel. Throws std::invalid_argument for an invalid geometry (drive_bins) or a
  // negative, NaN or inverted band.
  FeedthroughFilter(const FrameGeometry& geometry, const FeedthroughOptions& options);

  // Marks one more bin of one channel unusable (e.g. a known interference line). Throws std::out_of_range.
  void suppress(std::size_t bin, std::size_t channel);

  [[nodiscard]] std::size_t bins() const noexcept { return bins_; }
  [[nodiscard]] std::size_t channels() const noexcept { return suppressed_.size(); }
  // Whether bin `bin` of `channel` may be used. Throws std::out_of_range.
  [[nodiscard]] bool usable(std::size_t bin, std::size_t channel) const;
  // The usable bins of a channel, ascending (the candidate system-matrix rows).
  [[nodiscard]] std::vector<std::size_t> usable_bins(std::size_t channel) const;
  // The mask on a table (the fused path, fused_harmonics.hpp): rows follow `bins`, columns are channels,
  // true where the bin may be used. Throws std::out_of_range naming a bin outside the spectrum.
  [[nodiscard]] Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> table_mask(std::span<const std::size_t> bins) const;
  // Zeroes the unusable bins of a spectrum (bins x channels), in place, without allocating. Throws
  // std::invalid_argument for another shape.
  void apply(Eigen::Ref<Eigen::MatrixXcd> spectrum) const;

 private:
  std::size_t bins_ = 0;
  std::vector<std::vector<char>> suppressed_;  // [channel][bin]
  std::vector<std::vector<std::size_t>> zero_list_;  // [channel]: the suppressed bins, ascending
};

}  // namespace mpi::recon
