// Harmonic tables: per receive channel, the amplitude, phase and signal-to-noise ratio of the drive
// harmonics n f0 (1D) or of the mixing frequencies sum_d m_d f_d of a multi-tone Lissajous frame
// (REFERENCE 3.1, 3.3), read from a FrameSpectrum's complex amplitude spectrum.
//
// Noise, in the units of the amplitude: the RMS magnitude of the noise at the bin, sqrt(E|n_k|^2). For white
// noise of standard deviation sigma per sample in a frame of N samples it is 2 sigma / sqrt(N) (each of the
// real and imaginary parts has standard deviation sigma sqrt(2 / N)). It is estimated either
//  - from background frames: the standard deviation over those frames of that bin's complex value
//    (BackgroundModel::noise(), sqrt(sum_m |c_m - mean|^2 / (M - 1))), or
//  - without background, from the neighbouring non-signal bins of the same frame: the RMS magnitude of the
//    bins within +-neighbour_half_width of the harmonic that are not in the table, not DC, not a drive
//    fundamental (feedthrough) and not the Nyquist bin. Where no such bin exists (e.g. a frame of one period,
//    where every bin is a harmonic) the noise and SNR are NaN.
// SNR = amplitude / noise.
#pragma once

#include "mpi/recon/frame_spectrum.hpp"

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <span>
#include <vector>

namespace mpi::recon {

// One frequency of the table: its bin, its frequency and its mixing orders m_d (f = sum_d m_d f_d over the
// geometry's drive frequencies; a 1D harmonic n is {n, 0, 0}).
struct HarmonicBin {
  std::size_t bin = 0;
  double frequency_hz = 0.0;
  std::array<int, 3> order{0, 0, 0};
};

// Harmonics 1..max_order of drive 0 (bins n * drive_bin). Throws std::invalid_argument for max_order < 1, a
// harmonic above the Nyquist bin (naming it) or an invalid geometry (see drive_bins).
std::vector<HarmonicBin> drive_harmonics(const FrameGeometry& geometry, int max_order);

// The mixing frequencies sum_d m_d f_d with sum_d |m_d| <= max_total_order (up to 3 drives) that fall on bins
// 1..N/2, sorted by bin, one entry per bin: where several orders land on the same bin the one of the lowest
// total order is kept (ties: the lexicographically smallest m). Throws std::invalid_argument for
// max_total_order < 1, more than 3 drives, or an invalid geometry.
std::vector<HarmonicBin> mixing_frequencies(const FrameGeometry& geometry, int max_total_order);

// atan2(y, x) in [-pi, pi] with an absolute error below 1e-10 rad (std::atan2's conventions for signed zeros),
// several times cheaper than std::atan2: reduction to |t| <= tan(pi/8) (octant and atan(a) = pi/4 +
// atan((a - 1) / (a + 1))), then the Taylor series of atan(t) to t^23 (truncation error < t^25 / 25 < 2e-11).
// Used for the table's phases. NaN in, NaN out.
double fast_atan2(double y, double x) noexcept;

// Rows follow `bins`, columns are receive channels.
struct HarmonicTable {
  std::vector<HarmonicBin> bins;
  Eigen::MatrixXd amplitude;  // peak amplitude of the cosine at that frequency (V for ADC input)
  Eigen::MatrixXd phase_rad;  // its phase at the frame's first sample, in (-pi, pi]
  Eigen::MatrixXd noise;      // RMS noise magnitude at that bin (see the file comment)
  Eigen::MatrixXd snr;        // amplitude / noise
};

// Reads harmonic tables from spectra of one geometry. The neighbour lists are built once; extract()
// does not allocate when given a table from make_table().
class HarmonicExtractor {
 public:
  // Throws std::invalid_argument for an invalid geometry, an empty bin list or a bin above N/2.
  HarmonicExtractor(const FrameGeometry& geometry, std::vector<HarmonicBin> bins, std::size_t neighbour_half_width = 8);

  [[nodiscard]] const std::vector<HarmonicBin>& bins() const noexcept { return bins_; }
  // The neighbouring bins whose RMS is the noise of table row `row` without background (see the file
  // comment), in the order they are summed. Throws std::out_of_range.
  [[nodiscard]] std::span<const std::size_t> neighbours(std::size_t row) const;
  // A table sized for this extractor (bins filled in, values zero).
  [[nodiscard]] HarmonicTable make_table() const;

  // Noise from the neighbouring non-signal bins of this spectrum.
  void extract(const Eigen::MatrixXcd& spectrum, HarmonicTable& table) const;
  // Noise from background frames: bin_noise is bins x channels (BackgroundModel::noise()).
  void extract(const Eigen::MatrixXcd& spectrum, const Eigen::MatrixXd& bin_noise, HarmonicTable& table) const;

 private:
  void check(const char* where, const Eigen::MatrixXcd& spectrum, HarmonicTable& table) const;
  void fill_amplitudes(const Eigen::MatrixXcd& spectrum, HarmonicTable& table) const;

  std::size_t spectrum_bins_ = 0;
  std::size_t channels_ = 0;
  std::vector<HarmonicBin> bins_;
  std::vector<std::size_t> neighbour_offsets_;  // neighbours of table row r: [offsets_[r], offsets_[r + 1])
  std::vector<std::size_t> neighbours_;
};

}  // namespace mpi::recon
