#include "mpi/recon/spectrum.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mpi::recon {
namespace {

using ::testing::HasSubstr;
constexpr double kPi = std::numbers::pi;

std::vector<double> random_signal(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist;
  std::vector<double> x(n);
  for (double& v : x) v = dist(rng);
  return x;
}

TEST(RealFft, ForwardMatchesDirectDft) {
  for (std::size_t n : {1u, 2u, 12u, 15u, 64u}) {
    const std::vector<double> x = random_signal(n, static_cast<unsigned>(n));
    RealFft fft(n);
    ASSERT_EQ(fft.bins(), n / 2 + 1);
    std::vector<std::complex<double>> out(fft.bins());
    fft.forward(x, out);
    for (std::size_t k = 0; k < fft.bins(); ++k) {
      std::complex<double> ref = 0.0;
      for (std::size_t j = 0; j < n; ++j) ref += x[j] * std::polar(1.0, -2.0 * kPi * static_cast<double>(j * k) / static_cast<double>(n));
      EXPECT_NEAR(out[k].real(), ref.real(), 1e-12 * static_cast<double>(n)) << "n " << n << " bin " << k;
      EXPECT_NEAR(out[k].imag(), ref.imag(), 1e-12 * static_cast<double>(n)) << "n " << n << " bin " << k;
    }
  }
}

TEST(RealFft, InverseUndoesForward) {
  for (std::size_t n : {7u, 625u, 1000u, 2500u}) {
    const std::vector<double> x = random_signal(n, 3);
    RealFft fft(n);
    std::vector<std::complex<double>> spectrum(fft.bins());
    std::vector<double> back(n);
    fft.forward(x, spectrum);
    fft.inverse(spectrum, back);
    for (std::size_t j = 0; j < n; ++j) EXPECT_NEAR(back[j], x[j], 1e-12) << "n " << n << " sample " << j;
  }
}

TEST(RealFft, MovesAndRejectsWrongSizes) {
  RealFft a(16);
  RealFft b(std::move(a));
  EXPECT_EQ(b.size(), 16u);
  RealFft c(4);
  c = std::move(b);
  EXPECT_EQ(c.size(), 16u);
  std::vector<double> x(16, 1.0);
  std::vector<std::complex<double>> out(9);
  c.forward(x, out);
  EXPECT_NEAR(out[0].real(), 16.0, 1e-12);
  std::vector<std::complex<double>> too_short(8);
  EXPECT_THROW(c.forward(x, too_short), std::invalid_argument);
  std::vector<double> wrong(15);
  EXPECT_THROW(c.inverse(out, wrong), std::invalid_argument);
  EXPECT_THROW(RealFft{0}, std::invalid_argument);
}

TEST(RealFft, PlansConcurrentlyFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &ok] {
      for (int i = 0; i < 20; ++i) {
        const std::size_t n = 100 + static_cast<std::size_t>(t * 20 + i);
        RealFft fft(n);
        std::vector<double> x(n, 2.0), back(n);
        std::vector<std::complex<double>> s(fft.bins());
        fft.forward(x, s);
        fft.inverse(s, back);
        if (std::abs(back[n / 2] - 2.0) < 1e-12) ++ok[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 20);
}

// A sum of drive harmonics k = 0..kMaxOrder with known amplitudes and phases, over whole periods.
constexpr int kMaxOrder = 9;
struct Component {
  int order;
  double amplitude;
  double phase;
};

std::vector<Component> components() {
  std::vector<Component> c;
  for (int k = 0; k <= kMaxOrder; ++k) c.push_back({k, 1.0 / (1.0 + k), k == 0 ? 0.0 : 0.37 * k - 1.2});
  c[0].amplitude = -0.8;  // a negative DC
  return c;
}

std::vector<double> synthesise(std::size_t samples_per_period, std::size_t periods, const std::vector<Component>& comps,
                               const std::vector<int>& skip = {}) {
  std::vector<double> x(samples_per_period * periods, 0.0);
  for (std::size_t j = 0; j < x.size(); ++j) {
    const double cycles = static_cast<double>(j) / static_cast<double>(samples_per_period);
    for (const Component& c : comps) {
      if (std::find(skip.begin(), skip.end(), c.order) != skip.end()) continue;
      x[j] += c.amplitude * std::cos(2.0 * kPi * c.order * cycles + c.phase);
    }
  }
  return x;
}

TEST(RemoveHarmonics, RemovesExactlyTheListedOnes) {
  const std::size_t spp = 50, periods = 4;
  const auto comps = components();
  std::vector<double> x = synthesise(spp, periods, comps);
  // A component between drive harmonics (bin 6 = 1.5 f0) must survive.
  for (std::size_t j = 0; j < x.size(); ++j) x[j] += 0.3 * std::sin(2.0 * kPi * 6.0 * static_cast<double>(j) / static_cast<double>(x.size()));
  const std::vector<int> removed{0, 1, 3, 8};
  remove_harmonics(x, periods, removed);
  const std::vector<double> expected_base = synthesise(spp, periods, comps, removed);
  for (std::size_t j = 0; j < x.size(); ++j) {
    const double expected = expected_base[j] + 0.3 * std::sin(2.0 * kPi * 6.0 * static_cast<double>(j) / static_cast<double>(x.size()));
    EXPECT_NEAR(x[j], expected, 1e-12) << "sample " << j;
  }
}

TEST(RemoveHarmonics, RejectsBadArguments) {
  std::vector<double> x(100, 1.0);
  const std::vector<int> negative{-1};
  const std::vector<int> above_nyquist{26};
  const std::vector<int> fine{0, 1};
  try {
    remove_harmonics(x, 2, above_nyquist);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("harmonic 26"));
  }
  EXPECT_THROW(remove_harmonics(x, 2, negative), std::invalid_argument);
  EXPECT_THROW(remove_harmonics(x, 0, fine), std::invalid_argument);
  std::vector<double> empty;
  EXPECT_THROW(remove_harmonics(empty, 1, fine), std::invalid_argument);
}

TEST(Harmonics, RecoverAmplitudesAndPhases) {
  const std::size_t spp = 64, periods = 3;
  const auto comps = components();
  const std::vector<double> x = synthesise(spp, periods, comps);
  const std::vector<Harmonic> h = harmonics(x, periods, kMaxOrder + 2);
  ASSERT_EQ(h.size(), static_cast<std::size_t>(kMaxOrder + 3));
  EXPECT_EQ(h[0].order, 0);
  EXPECT_NEAR(h[0].amplitude, 0.8, 1e-12);
  EXPECT_NEAR(std::abs(h[0].phase_rad), kPi, 1e-12);  // negative DC
  for (int k = 1; k <= kMaxOrder; ++k) {
    const auto& hk = h[static_cast<std::size_t>(k)];
    EXPECT_EQ(hk.order, k);
    EXPECT_NEAR(hk.amplitude, comps[static_cast<std::size_t>(k)].amplitude, 1e-12) << "order " << k;
    EXPECT_NEAR(std::remainder(hk.phase_rad - comps[static_cast<std::size_t>(k)].phase, 2.0 * kPi), 0.0, 1e-10) << "order " << k;
  }
  EXPECT_NEAR(h[kMaxOrder + 1].amplitude, 0.0, 1e-12);
  EXPECT_THROW(harmonics(x, periods, 33), std::invalid_argument);  // bin 99 > 96
  EXPECT_THROW(harmonics(x, periods, -1), std::invalid_argument);
}

TEST(Harmonics, NyquistHarmonicHasFullAmplitude) {
  // 4 samples per period, harmonic 2 at Nyquist: cos(pi j) sampled exactly.
  std::vector<double> x(8);
  for (std::size_t j = 0; j < x.size(); ++j) x[j] = 0.5 * std::cos(kPi * static_cast<double>(j));
  const auto h = harmonics(x, 2, 2);
  EXPECT_NEAR(h[2].amplitude, 0.5, 1e-12);
  EXPECT_NEAR(h[2].phase_rad, 0.0, 1e-12);
}

TEST(AveragePeriods, AveragesWholePeriods) {
  const std::size_t spp = 10, periods = 5;
  std::vector<double> x(spp * periods);
  for (std::size_t p = 0; p < periods; ++p) {
    for (std::size_t j = 0; j < spp; ++j) x[p * spp + j] = std::sin(0.3 * static_cast<double>(j)) + static_cast<double>(p);
  }
  const std::vector<double> mean = average_periods(x, spp);
  ASSERT_EQ(mean.size(), spp);
  for (std::size_t j = 0; j < spp; ++j) EXPECT_NEAR(mean[j], std::sin(0.3 * static_cast<double>(j)) + 2.0, 1e-14);
  EXPECT_THROW(average_periods(std::span<const double>(x).first(25), spp), std::invalid_argument);
  EXPECT_THROW(average_periods(x, 0), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
