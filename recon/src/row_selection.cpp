#include "mpi/recon/row_selection.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mpi::recon {

Eigen::VectorXd row_snr_from_energy(const Eigen::VectorXd& mean_energy, const Eigen::VectorXd& noise) {
  if (mean_energy.size() != noise.size()) {
    throw std::invalid_argument("row SNR: " + std::to_string(mean_energy.size()) + " row energies but " +
                                std::to_string(noise.size()) + " noise values");
  }
  Eigen::VectorXd snr(mean_energy.size());
  for (Eigen::Index i = 0; i < snr.size(); ++i) {
    const double e = mean_energy(i), s = noise(i);
    if (!(e >= 0.0 && std::isfinite(e))) throw std::invalid_argument("row SNR: row " + std::to_string(i) + " energy is negative or not finite");
    if (!(s >= 0.0 && std::isfinite(s))) throw std::invalid_argument("row SNR: row " + std::to_string(i) + " noise is negative or not finite");
    snr(i) = s > 0.0 ? std::sqrt(e) / s : (e > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
  }
  return snr;
}

Eigen::VectorXd row_snr(const Eigen::MatrixXcd& matrix, const Eigen::VectorXd& noise) {
  const Eigen::VectorXd energy = matrix.cwiseAbs2().rowwise().sum() / static_cast<double>(std::max<Eigen::Index>(1, matrix.cols()));
  return row_snr_from_energy(energy, noise);
}

Eigen::VectorXd row_noise_from_background(std::span<const Eigen::MatrixXcd> background_spectra,
                                          std::span<const std::size_t> channels, std::span<const std::size_t> bins) {
  if (background_spectra.size() < 2) throw std::invalid_argument("row noise: needs at least 2 background frames");
  if (channels.size() != bins.size()) throw std::invalid_argument("row noise: channels and bins differ in size");
  const Eigen::MatrixXcd& first = background_spectra[0];
  for (std::size_t f = 1; f < background_spectra.size(); ++f) {
    if (background_spectra[f].rows() != first.rows() || background_spectra[f].cols() != first.cols()) {
      throw std::invalid_argument("row noise: background frame #" + std::to_string(f) + " differs in size from frame #0");
    }
  }
  Eigen::VectorXd noise(static_cast<Eigen::Index>(channels.size()));
  const double frames = static_cast<double>(background_spectra.size());
  for (std::size_t r = 0; r < channels.size(); ++r) {
    if (channels[r] >= static_cast<std::size_t>(first.cols()) || bins[r] >= static_cast<std::size_t>(first.rows())) {
      throw std::invalid_argument("row noise: row " + std::to_string(r) + " (channel " + std::to_string(channels[r]) + ", bin " +
                                  std::to_string(bins[r]) + ") lies outside the background spectra");
    }
    const auto c = static_cast<Eigen::Index>(channels[r]);
    const auto k = static_cast<Eigen::Index>(bins[r]);
    std::complex<double> mean = 0.0;
    for (const Eigen::MatrixXcd& b : background_spectra) mean += b(k, c);
    mean /= frames;
    double sum = 0.0;
    for (const Eigen::MatrixXcd& b : background_spectra) sum += std::norm(b(k, c) - mean);
    noise(static_cast<Eigen::Index>(r)) = std::sqrt(sum / (frames - 1.0));
  }
  return noise;
}

RowSelection select_rows(std::span<const double> frequencies_hz, std::span<const std::size_t> channels,
                         const Eigen::VectorXd& snr, const RowSelectionOptions& options) {
  if (frequencies_hz.size() != channels.size() || static_cast<std::size_t>(snr.size()) != channels.size()) {
    throw std::invalid_argument("row selection: " + std::to_string(frequencies_hz.size()) + " frequencies, " +
                                std::to_string(channels.size()) + " channels and " + std::to_string(snr.size()) +
                                " SNR values; expected one of each per row");
  }
  if (!(options.min_frequency_hz <= options.max_frequency_hz)) {
    throw std::invalid_argument("row selection: band is empty (min frequency above max frequency)");
  }
  if (std::isnan(options.min_snr)) throw std::invalid_argument("row selection: SNR threshold is NaN");
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < channels.size(); ++r) {
    const double f = frequencies_hz[r];
    if (f < options.min_frequency_hz || f > options.max_frequency_hz) continue;
    if (!options.channels.empty() &&
        std::find(options.channels.begin(), options.channels.end(), channels[r]) == options.channels.end()) {
      continue;
    }
    if (!(snr(static_cast<Eigen::Index>(r)) >= options.min_snr)) continue;
    rows.push_back(r);
  }
  if (options.max_rows > 0 && rows.size() > options.max_rows) {
    std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
      return snr(static_cast<Eigen::Index>(a)) > snr(static_cast<Eigen::Index>(b));
    });
    rows.resize(options.max_rows);
    std::sort(rows.begin(), rows.end());
  }
  RowSelection selection;
  selection.rows = std::move(rows);
  for (std::size_t r : selection.rows) selection.snr.push_back(snr(static_cast<Eigen::Index>(r)));
  return selection;
}

}  // namespace mpi::recon
