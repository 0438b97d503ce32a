#include "mpi/recon/harmonic_table.hpp"

#include "mpi/recon/background.hpp"
#include "mpi/recon/frame_spectrum.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
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

TEST(HarmonicTable, DriveHarmonicsOfOnePeriodFrame) {
  const FrameGeometry g = FrameGeometry::periodic(102, 1, 3, 2.5e6);
  const std::vector<HarmonicBin> h = drive_harmonics(g, 51);
  ASSERT_EQ(h.size(), 51u);
  for (int n = 1; n <= 51; ++n) {
    const HarmonicBin& b = h[static_cast<std::size_t>(n - 1)];
    EXPECT_EQ(b.bin, static_cast<std::size_t>(n));
    EXPECT_EQ(b.order, (std::array<int, 3>{n, 0, 0}));
    EXPECT_NEAR(b.frequency_hz, n * 2.5e6 / 102.0, 1e-6);
  }
  EXPECT_THROW(drive_harmonics(g, 52), std::invalid_argument);
  EXPECT_THROW(drive_harmonics(g, 0), std::invalid_argument);
  // 5 periods: harmonic n is bin 5 n.
  EXPECT_EQ(drive_harmonics(FrameGeometry::periodic(102, 5, 1, 2.5e6), 3)[2].bin, 15u);
}

TEST(HarmonicTable, AmplitudesAndPhasesOfHarmonics) {
  // 1D, 3 periods of 102 samples, 2 channels; harmonics 1..9 with known amplitudes and phases.
  const FrameGeometry g = FrameGeometry::periodic(102, 3, 2, 2.5e6);
  FrameSpectrum fs(g);
  HarmonicExtractor ex(g, drive_harmonics(g, 9));
  HarmonicTable t = ex.make_table();
  const std::size_t n = 306;
  std::vector<double> x(2 * n, 0.0);
  auto amp = [](int h, int c) { return (c == 0 ? 1.0 : 0.5) / (h * h); };
  auto ph = [](int h, int c) { return std::remainder(0.37 * h + 1.3 * c, 2.0 * kPi); };
  for (std::size_t j = 0; j < n; ++j) {
    for (int c = 0; c < 2; ++c) {
      for (int h = 1; h <= 9; ++h) {
        const double turns = static_cast<double>((3 * h * j) % n) / static_cast<double>(n);
        x[2 * j + c] += amp(h, c) * std::cos(2.0 * kPi * turns + ph(h, c));
      }
    }
  }
  ex.extract(fs.transform(std::span<const double>(x)), t);
  for (int c = 0; c < 2; ++c) {
    for (int h = 1; h <= 9; ++h) {
      EXPECT_NEAR(t.amplitude(h - 1, c), amp(h, c), 1e-12 * amp(h, c) + 1e-15) << h;
      EXPECT_NEAR(t.phase_rad(h - 1, c), ph(h, c), 1e-11) << h;
      // Noise-free: the neighbouring bins are empty, so the noise is ~0 and the SNR huge.
      EXPECT_LT(t.noise(h - 1, c), 1e-13);
    }
  }
}

// Noise at a bin for white Gaussian noise of std sigma per sample in a frame of N samples:
//   X_k = sum_j n_j exp(-2 pi i j k / N), E|X_k|^2 = sum_j E n_j^2 = N sigma^2 (the phases have unit modulus,
//   the n_j are independent), and the amplitude spectrum is c_k = 2 X_k / N, so E|c_k|^2 = 4 sigma^2 / N.
//   Re c_k and Im c_k are independent with variance 2 sigma^2 / N each (std sigma sqrt(2/N)).
// The table's noise is sqrt(E|c_k|^2) = 2 sigma / sqrt(N), so a sinusoid of amplitude A has
//   SNR = A / (2 sigma / sqrt(N)) = A / (sigma sqrt(2/N)) / sqrt(2).
TEST(HarmonicTable, SnrOfSinusoidInWhiteNoiseMatchesTheory) {
  const std::size_t spp = 64, periods = 8, n = spp * periods;
  const double sigma = 0.1, a = 1.0;
  const FrameGeometry g = FrameGeometry::periodic(spp, periods, 1, 1.0e6);
  FrameSpectrum fs(g);
  HarmonicExtractor ex(g, drive_harmonics(g, 10));
  BackgroundModel bg(fs.bins(), 1);
  std::mt19937 rng(12345);
  std::normal_distribution<double> noise(0.0, sigma);
  std::vector<double> x(n);
  const int background_frames = 2000;
  for (int m = 0; m < background_frames; ++m) {
    for (double& v : x) v = noise(rng);
    bg.add(fs.transform(std::span<const double>(x)), frame_centre_sample(static_cast<std::uint64_t>(m) * n, n));
  }
  const double theory_noise = 2.0 * sigma / std::sqrt(static_cast<double>(n));
  const double theory_snr = a / theory_noise;
  ASSERT_NEAR(theory_snr, a / (sigma * std::sqrt(2.0 / static_cast<double>(n))) / std::sqrt(2.0), 1e-9);
  // Foreground: the 3rd harmonic (bin 24) plus noise.
  for (std::size_t j = 0; j < n; ++j) {
    x[j] = a * std::cos(2.0 * kPi * static_cast<double>((24 * j) % n) / static_cast<double>(n) + 0.5) + noise(rng);
  }
  HarmonicTable t = ex.make_table();
  const Eigen::MatrixXd bin_noise = bg.noise();
  ex.extract(fs.transform(std::span<const double>(x)), bin_noise, t);
  for (int h = 1; h <= 10; ++h) {
    EXPECT_NEAR(t.noise(h - 1, 0) / theory_noise, 1.0, 0.05) << "harmonic " << h;
  }
  EXPECT_NEAR(t.snr(2, 0) / theory_snr, 1.0, 0.05);
  EXPECT_NEAR(t.amplitude(2, 0), a, 0.02);
  EXPECT_NEAR(t.phase_rad(2, 0), 0.5, 0.02);
  EXPECT_LT(t.snr(4, 0), 5.0);  // a harmonic with no signal: SNR of order 1

  // Without background: the neighbouring non-harmonic bins give the same noise (averaged over frames, as one
  // frame has only 2 x 8 neighbour bins).
  HarmonicTable tn = ex.make_table();
  double sum = 0.0;
  const int frames = 300;
  for (int m = 0; m < frames; ++m) {
    for (std::size_t j = 0; j < n; ++j) {
      x[j] = a * std::cos(2.0 * kPi * static_cast<double>((24 * j) % n) / static_cast<double>(n)) + noise(rng);
    }
    ex.extract(fs.transform(std::span<const double>(x)), tn);
    sum += tn.noise(2, 0);
  }
  EXPECT_NEAR(sum / frames / theory_noise, 1.0, 0.05);
}

TEST(HarmonicTable, NoNeighboursInOnePeriodFrameGivesNaN) {
  const FrameGeometry g = FrameGeometry::periodic(102, 1, 1, 2.5e6);
  FrameSpectrum fs(g);
  HarmonicExtractor ex(g, drive_harmonics(g, 50));
  HarmonicTable t = ex.make_table();
  const std::vector<double> x(102, 1.0);
  ex.extract(fs.transform(std::span<const double>(x)), t);
  EXPECT_TRUE(std::isnan(t.noise(10, 0)));
  EXPECT_TRUE(std::isnan(t.snr(10, 0)));
}

TEST(HarmonicTable, MixingFrequenciesOfPreclinical2dLissajous) {
  const std::uint32_t dividers[] = {102, 96};
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 1);
  const std::vector<HarmonicBin> mix = mixing_frequencies(g, 4);
  // Brute force over orders, written differently: for each bin the lowest total order |m1| + |m2| <= 4.
  std::vector<int> lowest(817, 99);
  for (int m1 = -4; m1 <= 4; ++m1) {
    for (int m2 = -4; m2 <= 4; ++m2) {
      const int bin = 16 * m1 + 17 * m2;
      if (std::abs(m1) + std::abs(m2) <= 4 && bin > 0) lowest[static_cast<std::size_t>(bin)] = std::min(lowest[static_cast<std::size_t>(bin)], std::abs(m1) + std::abs(m2));
    }
  }
  std::size_t count = 0;
  for (int v : lowest) count += v < 99 ? 1 : 0;
  ASSERT_EQ(mix.size(), count);
  const double f1 = 2.5e6 / 102.0, f2 = 2.5e6 / 96.0;
  for (const HarmonicBin& b : mix) {
    EXPECT_EQ(static_cast<int>(b.bin), 16 * b.order[0] + 17 * b.order[1]);
    EXPECT_EQ(std::abs(b.order[0]) + std::abs(b.order[1]), lowest[b.bin]);
    EXPECT_NEAR(b.frequency_hz, b.order[0] * f1 + b.order[1] * f2, 1e-6);
  }
  // A few by hand: f2 - f1 is bin 1, f1 + f2 bin 33, 2 f1 + f2 bin 49.
  auto find = [&](std::size_t bin) {
    for (const HarmonicBin& b : mix) {
      if (b.bin == bin) return b.order;
    }
    return std::array<int, 3>{99, 99, 99};
  };
  EXPECT_EQ(find(1), (std::array<int, 3>{-1, 1, 0}));
  EXPECT_EQ(find(33), (std::array<int, 3>{1, 1, 0}));
  EXPECT_EQ(find(49), (std::array<int, 3>{2, 1, 0}));

  // Amplitudes and phases read at those bins from a signal generated in Hz.
  FrameSpectrum fs(g);
  HarmonicExtractor ex(g, mix);
  HarmonicTable t = ex.make_table();
  std::vector<double> x(1632, 0.0);
  for (std::size_t j = 0; j < 1632; ++j) {
    const double tt = static_cast<double>(j) / 2.5e6;
    x[j] = 0.8 * std::cos(2.0 * kPi * (2 * f1 + f2) * tt - 0.7) + 0.2 * std::cos(2.0 * kPi * (f2 - f1) * tt + 1.9);
  }
  ex.extract(fs.transform(std::span<const double>(x)), t);
  for (std::size_t r = 0; r < mix.size(); ++r) {
    const auto row = static_cast<Eigen::Index>(r);
    if (mix[r].bin == 49) {
      EXPECT_NEAR(t.amplitude(row, 0), 0.8, 1e-10);
      EXPECT_NEAR(t.phase_rad(row, 0), -0.7, 1e-10);
    } else if (mix[r].bin == 1) {
      EXPECT_NEAR(t.amplitude(row, 0), 0.2, 1e-10);
      EXPECT_NEAR(t.phase_rad(row, 0), 1.9, 1e-9);
    } else {
      EXPECT_LT(t.amplitude(row, 0), 1e-10) << "bin " << mix[r].bin;
    }
  }
}

TEST(HarmonicTable, RejectsBadInput) {
  const FrameGeometry g = FrameGeometry::periodic(16, 2, 2, 1.0e6);
  EXPECT_THROW(HarmonicExtractor(g, {}), std::invalid_argument);
  EXPECT_THROW(HarmonicExtractor(g, {HarmonicBin{17, 0.0, {0, 0, 0}}}), std::invalid_argument);
  EXPECT_THROW(mixing_frequencies(g, 0), std::invalid_argument);
  HarmonicExtractor ex(g, drive_harmonics(g, 3));
  HarmonicTable t = ex.make_table();
  const Eigen::MatrixXcd wrong = Eigen::MatrixXcd::Zero(17, 1);
  EXPECT_THROW(ex.extract(wrong, t), std::invalid_argument);
  const Eigen::MatrixXcd right = Eigen::MatrixXcd::Zero(17, 2);
  EXPECT_THROW(ex.extract(right, Eigen::MatrixXd::Zero(16, 2), t), std::invalid_argument);
}

TEST(HarmonicTable, FastAtan2MatchesStdAtan2) {
  double worst = 0.0;
  for (int i = -20000; i <= 20000; ++i) {
    const double angle = kPi * static_cast<double>(i) / 20000.0;
    for (double r : {1e-300, 1e-6, 1.0, 3.7e5}) {
      const double y = r * std::sin(angle);
      const double x = r * std::cos(angle);
      worst = std::max(worst, std::abs(fast_atan2(y, x) - std::atan2(y, x)));
    }
  }
  EXPECT_LT(worst, 1e-10);
  // Octant boundaries and signed zeros follow std::atan2.
  for (double y : {0.0, -0.0, 1.0, -1.0, 0.41421356237309503, -2.414213562373095}) {
    for (double x : {0.0, -0.0, 1.0, -1.0, 2.414213562373095, -0.41421356237309503}) {
      EXPECT_NEAR(fast_atan2(y, x), std::atan2(y, x), 1e-10) << "y " << y << " x " << x;
      EXPECT_EQ(std::signbit(fast_atan2(y, x)), std::signbit(std::atan2(y, x))) << "y " << y << " x " << x;
    }
  }
  EXPECT_TRUE(std::isnan(fast_atan2(std::nan(""), 1.0)));
  EXPECT_TRUE(std::isnan(fast_atan2(1.0, std::nan(""))));
}

}  // namespace
}  // namespace mpi::recon

namespace mpi::recon {
namespace {

// The table's phases come from a 4-wide vector form of fast_atan2: every octant, signed zeros, NaN and
// table lengths that leave a remainder after the groups of four.
TEST(HarmonicTable, TablePhasesAndAmplitudesMatchStdAtan2AndAbs) {
  const FrameGeometry g = FrameGeometry::periodic(64, 1, 2, 2.5e6);
  for (int rows : {1, 4, 7, 31}) {
    HarmonicExtractor extractor(g, drive_harmonics(g, rows));
    HarmonicTable table = extractor.make_table();
    Eigen::MatrixXcd spectrum = Eigen::MatrixXcd::Zero(33, 2);
    std::mt19937 rng(static_cast<unsigned>(rows));
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    const double special[] = {0.0, -0.0, 1.0, -1.0, 1e-300, -3.0};
    for (Eigen::Index k = 1; k <= rows; ++k) {
      for (Eigen::Index c = 0; c < 2; ++c) {
        const auto i = static_cast<std::size_t>(k + c);
        spectrum(k, c) = i % 3 == 0 ? std::complex<double>(special[i % 6], special[(i / 3) % 6])
                                    : std::complex<double>(u(rng), u(rng));
      }
    }
    spectrum(1, 1) = {std::nan(""), 1.0};
    extractor.extract(spectrum, table);
    for (Eigen::Index r = 0; r < rows; ++r) {
      for (Eigen::Index c = 0; c < 2; ++c) {
        const std::complex<double> v = spectrum(r + 1, c);
        if (std::isnan(v.real())) {
          EXPECT_TRUE(std::isnan(table.phase_rad(r, c)));
          continue;
        }
        const double want = std::atan2(v.imag(), v.real());
        EXPECT_NEAR(table.phase_rad(r, c), want, 1e-10) << "row " << r << " channel " << c;
        EXPECT_EQ(std::signbit(table.phase_rad(r, c)), std::signbit(want)) << "row " << r << " channel " << c;
        EXPECT_NEAR(table.amplitude(r, c), std::abs(v), 1e-15 * (1.0 + std::abs(v)));
      }
    }
  }
}

}  // namespace
}  // namespace mpi::recon
