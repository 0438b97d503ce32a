#include "mpi/recon/spectrum.hpp"

#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>
#include <string>

namespace mpi::recon {

namespace {

void check_periodic_signal(const char* where, std::size_t samples, std::size_t periods) {
  if (samples == 0) throw std::invalid_argument(std::string(where) + ": signal is empty");
  if (periods == 0) throw std::invalid_argument(std::string(where) + ": periods must be positive");
}

// The rFFT bin of a drive harmonic, checked against the Nyquist bin.
std::size_t harmonic_bin(const char* where, int order, std::size_t periods, std::size_t samples) {
  if (order < 0) {
    throw std::invalid_argument(std::string(where) + ": harmonic order " + std::to_string(order) + " is negative");
  }
  const std::size_t bin = static_cast<std::size_t>(order) * periods;
  if (bin > samples / 2) {
    throw std::invalid_argument(std::string(where) + ": harmonic " + std::to_string(order) + " (bin " +
                                std::to_string(bin) + ") lies above the Nyquist bin " +
                                std::to_string(samples / 2) + " of " + std::to_string(samples) + " samples");
  }
  return bin;
}

}  // namespace

std::vector<double> average_periods(std::span<const double> signal, std::size_t samples_per_period) {
  if (samples_per_period == 0) throw std::invalid_argument("average_periods: samples_per_period must be positive");
  if (signal.empty() || signal.size() % samples_per_period != 0) {
    throw std::invalid_argument("average_periods: signal of " + std::to_string(signal.size()) +
                                " samples is not a non-zero whole number of periods of " +
                                std::to_string(samples_per_period) + " samples");
  }
  const std::size_t periods = signal.size() / samples_per_period;
  std::vector<double> mean(samples_per_period, 0.0);
  for (std::size_t p = 0; p < periods; ++p) {
    const double* period = signal.data() + p * samples_per_period;
    for (std::size_t j = 0; j < samples_per_period; ++j) mean[j] += period[j];
  }
  const double scale = 1.0 / static_cast<double>(periods);
  for (double& v : mean) v *= scale;
  return mean;
}

void remove_harmonics(std::span<double> signal, std::size_t periods, std::span<const int> harmonics) {
  check_periodic_signal("remove_harmonics", signal.size(), periods);
  std::vector<std::size_t> bins;
  bins.reserve(harmonics.size());
  for (int order : harmonics) bins.push_back(harmonic_bin("remove_harmonics", order, periods, signal.size()));
  if (bins.empty()) return;
  RealFft fft(signal.size());
  std::vector<std::complex<double>> spectrum(fft.bins());
  fft.forward(signal, spectrum);
  for (std::size_t bin : bins) spectrum[bin] = 0.0;
  fft.inverse(spectrum, signal);
}

std::vector<Harmonic> harmonics(std::span<const double> signal, std::size_t periods, int max_order) {
  check_periodic_signal("harmonics", signal.size(), periods);
  if (max_order < 0) throw std::invalid_argument("harmonics: max_order " + std::to_string(max_order) + " is negative");
  harmonic_bin("harmonics", max_order, periods, signal.size());
  RealFft fft(signal.size());
  std::vector<std::complex<double>> spectrum(fft.bins());
  fft.forward(signal, spectrum);
  const std::size_t n = signal.size();
  std::vector<Harmonic> out;
  out.reserve(static_cast<std::size_t>(max_order) + 1);
  for (int order = 0; order <= max_order; ++order) {
    const std::size_t bin = static_cast<std::size_t>(order) * periods;
    const std::complex<double> x = spectrum[bin];
    // DC and (for even n) the Nyquist bin are real and hold the whole amplitude; other bins hold half.
    const bool real_bin = bin == 0 || 2 * bin == n;
    const double scale = (real_bin ? 1.0 : 2.0) / static_cast<double>(n);
    if (real_bin) {
      out.push_back({order, std::abs(x.real()) * scale, x.real() < 0.0 ? std::numbers::pi : 0.0});
    } else {
      out.push_back({order, std::abs(x) * scale, std::arg(x)});
    }
  }
  return out;
}

}  // namespace mpi::recon
