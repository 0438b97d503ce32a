// Fused harmonic extraction (REFERENCE 3.1, 3.3): a reconstruction needs only its table's bins (drive
// harmonics, Lissajous mixing frequencies, the selected system-matrix rows: a few thousand of the 26929 bins
// of a 3D frame), so instead of spectrum -> background -> table -> feedthrough over the whole spectrum, a
// FusedHarmonicExtractor reads only the table's bins (and, for the noise estimate without background, their
// neighbours) straight from the transform's buffers (FrameSpectrum::transform_unread / read_bins), subtracts
// a background kept per table bin and applies the feedthrough suppression as a mask on the table.
//
// The result equals the full path
//   s = fs.transform(codes, volts_per_code);
//   background.subtract(centre_sample, s);            // when a background is set
//   extractor.extract(s, background.noise(), table);  // or extract(s, table) without background
//   feedthrough.apply(s);                             // when a feedthrough filter is set
// with value(r, c) == s(bins[r].bin, c) (tested to 1e-12 relative in double precision, 1e-5 in single).
#pragma once

#include "mpi/recon/background.hpp"
#include "mpi/recon/feedthrough.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/harmonic_table.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace mpi::recon {

struct FusedTable {
  // Amplitude, phase, noise and SNR of the background-subtracted values (as HarmonicExtractor; the
  // feedthrough mask does not change them).
  HarmonicTable table;
  // Background-subtracted complex values, rows follow table.bins, columns are channels; zero where the
  // feedthrough mask marks the bin unusable.
  Eigen::MatrixXcd value;
  // The feedthrough mask: true where the bin may be used (all true without a filter).
  Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> usable;
};

class FusedHarmonicExtractor {
 public:
  // Binds to `spectrum` (which must outlive the extractor and is used for every frame: one extractor per
  // core) and builds the bin selections once. Throws std::invalid_argument for an empty bin list or a bin
  // above N/2 (naming it).
  FusedHarmonicExtractor(FrameSpectrum& spectrum, std::vector<HarmonicBin> bins,
                         std::size_t neighbour_half_width = 8);

  [[nodiscard]] const std::vector<HarmonicBin>& bins() const noexcept { return extractor_.bins(); }
  // The bins read per frame: the table's bins, followed without background by the neighbour bins of the
  // noise estimate.
  [[nodiscard]] const std::vector<std::size_t>& read_bins() const noexcept;

  // Keeps the background of a full spectrum (bins x channels) for the table's bins only; from then on the
  // noise comes from the background (InterpolatedBackground::noise()) and only the table's bins are read.
  // Throws std::invalid_argument for a background of another shape, std::logic_error with fewer than 3
  // background frames.
  void set_background(const InterpolatedBackground& background);
  // Back to no background: noise from the neighbouring bins.
  void clear_background() noexcept;
  [[nodiscard]] bool has_background() const noexcept { return background_.has_value(); }
  // Takes the filter's mask on the table's bins. Throws std::invalid_argument for a filter of another shape.
  void set_feedthrough(const FeedthroughFilter& filter);

  // Whether extract() computes the table's phases (default true). A reconstruction from the complex values
  // may not need them: without, table.phase_rad is left as it is and the amplitudes, noise and SNR are
  // filled as before (the phases are the dearest part of the table).
  void set_phases(bool on) noexcept { phases_ = on; }
  [[nodiscard]] bool phases() const noexcept { return phases_; }

  // A table sized for this extractor (bins filled in, values zero, every bin usable).
  [[nodiscard]] FusedTable make_table() const;

  // One frame of interleaved int16 codes (FrameSpectrum::transform's format) whose centre lies at
  // `centre_sample` (frame_centre_sample(); ignored without background). No allocation with a table from
  // make_table(). Throws std::invalid_argument for a frame of the wrong length or a non-finite factor.
  void extract(std::span<const std::int16_t> interleaved_codes, double volts_per_code, double centre_sample,
               FusedTable& out);

 private:
  FrameSpectrum* spectrum_;
  HarmonicExtractor extractor_;
  std::vector<std::size_t> table_bins_;
  std::vector<std::size_t> with_neighbours_;
  FrameSpectrum::BinSelection table_selection_;
  FrameSpectrum::BinSelection neighbour_selection_;
  std::vector<std::size_t> neighbour_rows_;     // row r's neighbours: rows of with_neighbours_
  std::vector<std::size_t> neighbour_offsets_;  // [offsets_[r], offsets_[r + 1])
  std::optional<InterpolatedBackground> background_;  // table bins only
  Eigen::MatrixXd background_noise_;                  // table rows x channels
  Eigen::MatrixXd background_inverse_noise_;          // its reciprocals (SNR by multiplication)
  Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> usable_;
  std::vector<std::size_t> masked_;  // column-major indices of the unusable table entries
  Eigen::MatrixXcd work_;  // the values read: read_bins() rows x channels
  bool phases_ = true;
};

}  // namespace mpi::recon
