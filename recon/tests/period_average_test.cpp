// Period averaging of interleaved frames: the plain mean, computed here channel by channel, and the
// identity that makes it the cheap route to 1D harmonics: the rFFT of P whole periods at bin k P, scaled
// to amplitude, equals the rFFT of the period average at bin k.
#include "mpi/recon/period_average.hpp"

#include "mpi/recon/frame_spectrum.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <vector>

namespace mpi::recon {
namespace {

constexpr std::size_t kPeriod = 102;
constexpr std::size_t kChannels = 3;

// P periods of a periodic signal (odd harmonics, per-channel phases) plus Gaussian noise, as int16 codes.
std::vector<std::int16_t> frame(std::size_t periods, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 300.0);
  std::vector<std::int16_t> out(periods * kPeriod * kChannels);
  for (std::size_t j = 0; j < periods * kPeriod; ++j) {
    const double phase = 2.0 * std::numbers::pi * static_cast<double>(j % kPeriod) / kPeriod;
    for (std::size_t c = 0; c < kChannels; ++c) {
      double v = 9000.0 * std::sin(phase + 0.3 * static_cast<double>(c));
      for (int h = 3; h <= 15; h += 2) v += 6000.0 / (h * h) * std::cos(h * phase + 0.2 * h);
      out[j * kChannels + c] = static_cast<std::int16_t>(std::lround(v + noise(rng)));
    }
  }
  return out;
}

TEST(PeriodAverage, IsTheMeanOfThePeriodsPerChannel) {
  const std::size_t periods = 37;
  const std::vector<std::int16_t> codes = frame(periods, 1);
  std::vector<double> out(kPeriod * kChannels);
  average_periods_interleaved(codes, kChannels, kPeriod, 2.0, out);
  for (std::size_t c = 0; c < kChannels; ++c) {
    for (std::size_t i = 0; i < kPeriod; ++i) {
      long double sum = 0.0L;
      for (std::size_t p = 0; p < periods; ++p) sum += codes[(p * kPeriod + i) * kChannels + c];
      EXPECT_NEAR(out[i * kChannels + c], static_cast<double>(2.0L * sum / periods), 1e-13 * 32768.0 * 2.0) << "channel " << c << " sample " << i;
    }
  }
}

TEST(PeriodAverage, HarmonicsOfTheAverageAreThoseOfTheWholeWindow) {
  const std::size_t periods = 100;
  const std::vector<std::int16_t> codes = frame(periods, 2);
  FrameSpectrum whole(FrameGeometry::periodic(kPeriod, periods, kChannels, 2.5e6));
  FrameSpectrum one(FrameGeometry::periodic(kPeriod, 1, kChannels, 2.5e6));
  const Eigen::MatrixXcd full = whole.transform(codes, 1.0 / 32768.0);
  std::vector<double> average(kPeriod * kChannels);
  average_periods_interleaved(codes, kChannels, kPeriod, 1.0 / 32768.0, average);
  const Eigen::MatrixXcd& folded = one.transform(average);
  for (std::size_t c = 0; c < kChannels; ++c) {
    for (std::size_t k = 1; k < kPeriod / 2; ++k) {
      const std::complex<double> a = full(static_cast<Eigen::Index>(k * periods), static_cast<Eigen::Index>(c));
      const std::complex<double> b = folded(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(c));
      EXPECT_NEAR(std::abs(a - b), 0.0, 1e-12 + 1e-9 * std::abs(a)) << "channel " << c << " harmonic " << k;
    }
  }
}

TEST(PeriodAverage, BadShapesAreRefused) {
  const std::vector<std::int16_t> codes = frame(2, 3);
  std::vector<double> out(kPeriod * kChannels);
  EXPECT_THROW(average_periods_interleaved(codes, 0, kPeriod, 1.0, out), std::invalid_argument);
  EXPECT_THROW(average_periods_interleaved(codes, kChannels, 0, 1.0, out), std::invalid_argument);
  EXPECT_THROW(average_periods_interleaved(std::span(codes).first(codes.size() - 3), kChannels, kPeriod, 1.0, out),
               std::invalid_argument);
  EXPECT_THROW(average_periods_interleaved({}, kChannels, kPeriod, 1.0, out), std::invalid_argument);
  std::vector<double> small(kPeriod);
  EXPECT_THROW(average_periods_interleaved(codes, kChannels, kPeriod, 1.0, small), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
