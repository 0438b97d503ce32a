#include "mpi/recon/background.hpp"

#include "mpi/recon/frame_spectrum.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

constexpr double kPi = std::numbers::pi;

TEST(BackgroundModel, MeanAndNoiseMatchTwoPassFormulas) {
  std::mt19937 rng(3);
  std::normal_distribution<double> d(0.5, 2.0);
  const int frames = 7;
  std::vector<Eigen::MatrixXcd> spectra;
  BackgroundModel bg(5, 2);
  double centre_sum = 0.0;
  for (int m = 0; m < frames; ++m) {
    Eigen::MatrixXcd s(5, 2);
    for (Eigen::Index i = 0; i < s.size(); ++i) s(i) = {d(rng), d(rng)};
    spectra.push_back(s);
    bg.add(s, 100.0 * m + 7.5);
    centre_sum += 100.0 * m + 7.5;
  }
  EXPECT_EQ(bg.frames(), 7u);
  EXPECT_NEAR(bg.centre_sample(), centre_sum / frames, 1e-12);
  const Eigen::MatrixXd noise = bg.noise();
  for (Eigen::Index i = 0; i < 10; ++i) {
    std::complex<double> mean = 0.0;
    for (const auto& s : spectra) mean += s(i);
    mean /= frames;
    double ss = 0.0;
    for (const auto& s : spectra) ss += std::norm(s(i) - mean);
    EXPECT_NEAR(std::abs(bg.mean()(i) - mean), 0.0, 1e-13);
    EXPECT_NEAR(noise(i), std::sqrt(ss / (frames - 1)), 1e-13);
  }
  Eigen::MatrixXcd fg = spectra[0];
  bg.subtract(fg);
  EXPECT_NEAR(std::abs(fg(3) - (spectra[0](3) - bg.mean()(3))), 0.0, 1e-15);
  bg.reset();
  EXPECT_EQ(bg.frames(), 0u);
  EXPECT_THROW(bg.subtract(fg), std::logic_error);
  EXPECT_THROW(static_cast<void>(bg.noise()), std::logic_error);
  EXPECT_THROW(bg.add(Eigen::MatrixXcd::Zero(4, 2), 0.0), std::invalid_argument);
  EXPECT_THROW(BackgroundModel(0, 2), std::invalid_argument);
}

// A background that drifts linearly in time (feedthrough amplitude and an offset growing with the sample
// index, within frames too) is removed exactly by interpolating between a block before and a block after.
TEST(InterpolatedBackground, ExactForBackgroundDriftingLinearlyInTime) {
  const std::size_t spp = 50, periods = 2, n = spp * periods, channels = 2;
  const FrameGeometry g = FrameGeometry::periodic(spp, periods, channels, 2.5e6);
  FrameSpectrum fs(g);
  auto background = [&](std::uint64_t s, std::size_t c) {
    const double t = static_cast<double>(s);
    const double turns = static_cast<double>((2 * s) % n) / static_cast<double>(n);  // the drive, bin 2
    return (1.0 + 2e-4 * t) * std::cos(2.0 * kPi * turns + 0.3 * static_cast<double>(c)) + (0.05 - 1e-5 * t) +
           3e-6 * t * std::sin(2.0 * kPi * static_cast<double>((9 * s) % n) / static_cast<double>(n));
  };
  auto particle = [&](std::size_t j, std::size_t c) {
    const double turns = static_cast<double>((6 * j) % n) / static_cast<double>(n);
    return (c == 0 ? 0.01 : 0.004) * std::cos(2.0 * kPi * turns - 1.0);
  };
  std::vector<double> x(n * channels);
  auto frame = [&](std::uint64_t index, bool with_particle) -> const Eigen::MatrixXcd& {
    const std::uint64_t first = index * n;
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t c = 0; c < channels; ++c) {
        x[j * channels + c] = background(first + j, c) + (with_particle ? particle(j, c) : 0.0);
      }
    }
    return fs.transform(std::span<const double>(x));
  };
  BackgroundModel before(fs.bins(), channels);
  BackgroundModel after(fs.bins(), channels);
  for (std::uint64_t f = 0; f < 10; ++f) before.add(frame(f, false), frame_centre_sample(f * n, n));
  for (std::uint64_t f = 40; f < 46; ++f) after.add(frame(f, false), frame_centre_sample(f * n, n));
  const InterpolatedBackground interp(before, after);
  // The particle spectrum alone.
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t c = 0; c < channels; ++c) x[j * channels + c] = particle(j, c);
  }
  const Eigen::MatrixXcd want = fs.transform(std::span<const double>(x));
  for (std::uint64_t f : {12u, 20u, 33u, 50u}) {  // 50: extrapolated
    Eigen::MatrixXcd s = frame(f, true);
    interp.subtract(frame_centre_sample(f * n, n), s);
    EXPECT_LT((s - want).cwiseAbs().maxCoeff(), 1e-11) << "frame " << f;
    const Eigen::MatrixXcd bg_at = interp.at(frame_centre_sample(f * n, n));
    EXPECT_LT((frame(f, false) - bg_at).cwiseAbs().maxCoeff(), 1e-11) << "frame " << f;
  }
  // The plain mean of the block before does not follow the drift.
  Eigen::MatrixXcd s = frame(33, true);
  before.subtract(s);
  EXPECT_GT((s - want).cwiseAbs().maxCoeff(), 1e-3);
}

TEST(InterpolatedBackground, PooledNoiseAndErrors) {
  BackgroundModel a(3, 1);
  BackgroundModel b(3, 1);
  EXPECT_THROW(InterpolatedBackground(a, b), std::invalid_argument);
  const double va[] = {1.0, 2.0, 4.0};
  const double vb[] = {10.0, 13.0};
  for (double v : va) a.add(Eigen::MatrixXcd::Constant(3, 1, {v, -v}), 0.0);
  for (double v : vb) b.add(Eigen::MatrixXcd::Constant(3, 1, {v, 0.0}), 1000.0);
  const InterpolatedBackground ib(a, b);
  // Deviations: a: mean 7/3 (both parts), b: mean 11.5 (real only).
  double ss = 0.0;
  for (double v : va) ss += 2.0 * (v - 7.0 / 3.0) * (v - 7.0 / 3.0);
  for (double v : vb) ss += (v - 11.5) * (v - 11.5);
  EXPECT_NEAR(ib.noise()(1, 0), std::sqrt(ss / 3.0), 1e-12);
  EXPECT_NEAR(std::abs(ib.at(500.0)(0, 0) - std::complex<double>(0.5 * 7.0 / 3.0 + 0.5 * 11.5, -0.5 * 7.0 / 3.0)), 0.0, 1e-12);
  BackgroundModel same(3, 1);
  same.add(Eigen::MatrixXcd::Zero(3, 1), 0.0);
  EXPECT_THROW(InterpolatedBackground(a, same), std::invalid_argument);
  BackgroundModel other(4, 1);
  other.add(Eigen::MatrixXcd::Zero(4, 1), 10.0);
  EXPECT_THROW(InterpolatedBackground(a, other), std::invalid_argument);
  Eigen::MatrixXcd wrong = Eigen::MatrixXcd::Zero(4, 1);
  EXPECT_THROW(ib.subtract(0.0, wrong), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
