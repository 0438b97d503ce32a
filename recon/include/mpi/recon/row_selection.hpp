// Frequency (row) selection for system-matrix reconstruction (REFERENCE 3.3): SNR per row = RMS over the
// voxels of |S_ij| divided by the row's noise (the standard deviation of the background's complex value in
// that row, given or estimated from background frames), an SNR threshold, band limits (e.g. >= 80 kHz to
// skip the feedthrough region), a choice of receive channels and an optional cap on the count (strongest
// rows first).
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

namespace mpi::recon {

struct RowSelectionOptions {
  double min_snr = 0.0;                                             // keep rows with SNR >= this
  double min_frequency_hz = 0.0;                                    // band limits, inclusive
  double max_frequency_hz = std::numeric_limits<double>::infinity();
  std::vector<std::size_t> channels;                                // receive channels to use; empty = all
  std::size_t max_rows = 0;                                         // keep at most this many (highest SNR); 0 = no cap
};

struct RowSelection {
  std::vector<std::size_t> rows;  // indices of the selected rows, ascending
  std::vector<double> snr;        // their SNR
  [[nodiscard]] std::size_t count() const noexcept { return rows.size(); }
};

// SNR per row from the mean energy per voxel of each row (mean_j |S_ij|^2) and a noise standard deviation per
// row: sqrt(energy) / noise; a row with zero noise gets +inf when it has energy, 0 otherwise. Throws
// std::invalid_argument on a size mismatch or a negative or non-finite value.
Eigen::VectorXd row_snr_from_energy(const Eigen::VectorXd& mean_energy, const Eigen::VectorXd& noise);
// The same from a matrix (rows x voxels).
Eigen::VectorXd row_snr(const Eigen::MatrixXcd& matrix, const Eigen::VectorXd& noise);

// Noise per row from background frame spectra: for each row r, the standard deviation over frames of
// background(bin[r], channel[r]) (bins x channels spectra) (RMS of |b - mean b|, unbiased). Needs at least 2 frames of equal size.
Eigen::VectorXd row_noise_from_background(std::span<const Eigen::MatrixXcd> background_spectra,
                                          std::span<const std::size_t> channels, std::span<const std::size_t> bins);

// Rows whose frequency lies in the band, whose channel is chosen and whose SNR reaches the threshold; with
// max_rows, the highest-SNR ones among them. frequencies_hz, channels and snr are per row and of equal size.
RowSelection select_rows(std::span<const double> frequencies_hz, std::span<const std::size_t> channels,
                         const Eigen::VectorXd& snr, const RowSelectionOptions& options);

}  // namespace mpi::recon
