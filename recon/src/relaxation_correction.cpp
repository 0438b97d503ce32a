#include "mpi/recon/relaxation_correction.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace mpi::recon {

DebyeCorrection::DebyeCorrection(std::size_t frame_samples, double sample_rate_hz, double tau_s, double cutoff_hz)
    : fft_(frame_samples < 2 ? 2 : frame_samples) {
  if (frame_samples < 2) throw std::invalid_argument("DebyeCorrection: frame_samples must be >= 2");
  if (!(sample_rate_hz > 0.0) || !std::isfinite(sample_rate_hz))
    throw std::invalid_argument("DebyeCorrection: sample_rate_hz must be positive");
  if (!(tau_s >= 0.0) || !std::isfinite(tau_s)) throw std::invalid_argument("DebyeCorrection: tau_s must be >= 0");
  if (!(cutoff_hz >= 0.0) || !std::isfinite(cutoff_hz))
    throw std::invalid_argument("DebyeCorrection: cutoff_hz must be >= 0");
  const std::size_t bins = fft_.bins();
  factor_.resize(bins);
  bins_.resize(bins);
  for (std::size_t k = 0; k < bins; ++k) {
    const double f = static_cast<double>(k) * sample_rate_hz / static_cast<double>(frame_samples);
    factor_[k] = (cutoff_hz > 0.0 && f > cutoff_hz) ? std::complex<double>(0.0, 0.0)
                                                    : std::complex<double>(1.0, 2.0 * std::numbers::pi * f * tau_s);
  }
  // For an even frame the Nyquist bin is real: j 2 pi f tau there has no real-signal counterpart.
  if (frame_samples % 2 == 0) factor_[bins - 1] = std::complex<double>(factor_[bins - 1].real(), 0.0);
}

void DebyeCorrection::apply(std::span<double> signal) {
  if (signal.size() != fft_.size())
    throw std::invalid_argument("DebyeCorrection::apply: signal has " + std::to_string(signal.size()) +
                                " samples, expected " + std::to_string(fft_.size()));
  fft_.forward(signal, bins_);
  for (std::size_t k = 0; k < bins_.size(); ++k) bins_[k] *= factor_[k];
  fft_.inverse(bins_, signal);
}

}  // namespace mpi::recon
