#include "mpi/recon/frame_spectrum.hpp"

#include "mpi/recon/lissajous.hpp"

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

using ::testing::HasSubstr;
constexpr double kPi = std::numbers::pi;

struct Tone {
  std::size_t bin;
  double amplitude;
  double phase;
};

// x[j] = sum a cos(2 pi k j / N + phi), the angle reduced exactly through (k j) mod N.
std::vector<double> tones(const std::vector<Tone>& list, std::size_t n) {
  std::vector<double> x(n, 0.0);
  for (const Tone& t : list) {
    for (std::size_t j = 0; j < n; ++j) {
      const double turns = static_cast<double>((t.bin * j) % n) / static_cast<double>(n);
      x[j] += t.amplitude * std::cos(2.0 * kPi * turns + t.phase);
    }
  }
  return x;
}

// Plain DFT written out, scaled to complex amplitudes (2/N; 1/N at DC and Nyquist).
std::complex<double> amplitude_dft(const std::vector<double>& x, std::size_t k) {
  const std::size_t n = x.size();
  std::complex<double> s = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    const double turns = static_cast<double>((k * j) % n) / static_cast<double>(n);
    s += x[j] * std::polar(1.0, -2.0 * kPi * turns);
  }
  const bool edge = k == 0 || 2 * k == n;
  return s * ((edge ? 1.0 : 2.0) / static_cast<double>(n));
}

TEST(FrameSpectrum, SumOfCosinesOnBinsRecoveredExactlyAndWithoutLeakage) {
  // 4 periods of 64 samples: harmonic n of the drive is bin 4 n.
  const FrameGeometry g = FrameGeometry::periodic(64, 4, 2, 1.0e6);
  FrameSpectrum fs(g);
  ASSERT_EQ(fs.bins(), 129u);
  ASSERT_EQ(fs.drive_bin_indices(), std::vector<std::size_t>{4});
  const std::vector<Tone> ch0 = {{0, 0.25, 0.0}, {4, 1.0, 0.3}, {12, 0.31, -2.0}, {20, 0.07, 2.9}, {128, 0.5, 0.0}};
  const std::vector<Tone> ch1 = {{4, 2.0, -1.2}, {8, 0.5, 1.0}, {37, 0.125, 3.0}};
  const std::vector<double> x0 = tones(ch0, 256);
  const std::vector<double> x1 = tones(ch1, 256);
  std::vector<double> interleaved(512);
  for (std::size_t j = 0; j < 256; ++j) {
    interleaved[2 * j] = x0[j];
    interleaved[2 * j + 1] = x1[j];
  }
  const Eigen::MatrixXcd& s = fs.transform(std::span<const double>(interleaved));
  ASSERT_EQ(s.rows(), 129);
  ASSERT_EQ(s.cols(), 2);
  const double tol = 1e-12 * 2.0;  // relative to the largest amplitude
  for (int c = 0; c < 2; ++c) {
    const std::vector<Tone>& list = c == 0 ? ch0 : ch1;
    for (std::size_t k = 0; k < 129; ++k) {
      std::complex<double> want = 0.0;
      for (const Tone& t : list) {
        if (t.bin == k) want = std::polar(t.amplitude, t.phase);
      }
      EXPECT_NEAR(std::abs(s(static_cast<Eigen::Index>(k), c) - want), 0.0, tol) << "channel " << c << " bin " << k;
    }
  }
  // Channels given as columns give the same spectrum.
  Eigen::MatrixXd cols(256, 2);
  for (std::size_t j = 0; j < 256; ++j) {
    cols(static_cast<Eigen::Index>(j), 0) = x0[j];
    cols(static_cast<Eigen::Index>(j), 1) = x1[j];
  }
  const Eigen::MatrixXcd copy = s;
  EXPECT_LT((fs.transform_channels(cols) - copy).cwiseAbs().maxCoeff(), 1e-15);
}

TEST(FrameSpectrum, Int16CodesScaledByVoltsPerCode) {
  const FrameGeometry g = FrameGeometry::periodic(32, 3, 3, 2.0e6);  // 96 samples, 3 channels
  FrameSpectrum fs(g);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(-32768, 32767);
  std::vector<std::int16_t> codes(96 * 3);
  for (auto& v : codes) v = static_cast<std::int16_t>(code(rng));
  const std::vector<double> scale = {3.0e-5, -1.5e-4, 6.1e-5};
  const double common = 2.0 / 65536.0;
  const Eigen::MatrixXcd one = fs.transform(std::span<const std::int16_t>(codes), common);
  const Eigen::MatrixXcd per = fs.transform(std::span<const std::int16_t>(codes), std::span<const double>(scale));
  for (std::size_t c = 0; c < 3; ++c) {
    std::vector<double> volts_common(96);
    std::vector<double> volts(96);
    for (std::size_t j = 0; j < 96; ++j) {
      volts_common[j] = codes[j * 3 + c] * common;
      volts[j] = codes[j * 3 + c] * scale[c];
    }
    for (std::size_t k = 0; k < fs.bins(); ++k) {
      const auto row = static_cast<Eigen::Index>(k);
      const auto col = static_cast<Eigen::Index>(c);
      const std::complex<double> want_common = amplitude_dft(volts_common, k);
      const std::complex<double> want = amplitude_dft(volts, k);
      EXPECT_NEAR(std::abs(one(row, col) - want_common), 0.0, 1e-12 * 1.0) << c << " " << k;
      EXPECT_NEAR(std::abs(per(row, col) - want), 0.0, 1e-12 * 5.0) << c << " " << k;
    }
  }
  // A full-scale cosine in codes: amplitude in volts is codes * scale.
  FrameSpectrum one_ch(FrameGeometry::periodic(32, 3, 1, 2.0e6));
  std::vector<std::int16_t> cosine(96);
  for (std::size_t j = 0; j < 96; ++j) {
    cosine[j] = static_cast<std::int16_t>(std::lround(20000.0 * std::cos(2.0 * kPi * static_cast<double>((6 * j) % 96) / 96.0)));
  }
  const Eigen::MatrixXcd cs = one_ch.transform(std::span<const std::int16_t>(cosine), 1e-4);
  EXPECT_NEAR(std::abs(cs(6, 0)), 2.0, 1e-4 * 0.5);  // within half a code of rounding
  EXPECT_THROW(fs.transform(std::span<const std::int16_t>(codes), std::span<const double>(scale.data(), 2)),
               std::invalid_argument);
  EXPECT_THROW(fs.transform(std::span<const std::int16_t>(codes.data(), 95 * 3), common), std::invalid_argument);
}

TEST(FrameSpectrum, RefusesFramesThatAreNotWholeDrivePeriods) {
  FrameGeometry g;
  g.samples_per_frame = 100;  // 102 samples per period at 2.5 MS/s
  g.channels = 1;
  g.sample_rate_hz = 2.5e6;
  g.drive_frequencies_hz = {2.5e6 / 102.0};
  try {
    FrameSpectrum fs(g);
    FAIL() << "a frame of 100 samples with a 102-sample period was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("whole number of drive cycles"));
    EXPECT_THAT(e.what(), HasSubstr("drive 0"));
  }
  g.samples_per_frame = 204;
  EXPECT_NO_THROW(FrameSpectrum{g});
  // 2D: 1600 samples are not a whole number of cycles of the 96-divider drive.
  const std::uint32_t dividers[] = {102, 96};
  EXPECT_THROW(FrameSpectrum(FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1600, 2)), std::invalid_argument);
  FrameGeometry none = g;
  none.drive_frequencies_hz.clear();
  EXPECT_THROW(FrameSpectrum{none}, std::invalid_argument);
  FrameGeometry no_channels = g;
  no_channels.channels = 0;
  EXPECT_THROW(FrameSpectrum{no_channels}, std::invalid_argument);
}

TEST(FrameSpectrum, NonWholeWindowWouldLeak) {
  // The reason for refusing: the same cosine over 100 samples spreads over many bins.
  const std::size_t n = 100;
  std::vector<double> x(n);
  for (std::size_t j = 0; j < n; ++j) x[j] = std::cos(2.0 * kPi * static_cast<double>(j) / 102.0);
  EXPECT_GT(std::abs(amplitude_dft(x, 3)), 1e-3);
}

TEST(FrameSpectrum, PreclinicalLissajousMixingFrequenciesFallOnBins) {
  const std::uint32_t dividers[] = {102, 96};
  ASSERT_EQ(lissajous_cycle_samples(dividers, 2.5e6, 2.5e6), 1632u);
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 2);
  FrameSpectrum fs(g);
  ASSERT_EQ(fs.drive_bin_indices(), (std::vector<std::size_t>{16, 17}));
  // Mixing tones m1 f1 + m2 f2 generated from their frequencies in Hz (not from bins).
  struct Mix {
    int m1, m2;
    double a, phi;
  };
  const std::vector<Mix> mixes = {{3, 0, 1.0, 0.4}, {2, 1, 0.5, -1.0}, {-1, 2, 0.3, 2.0}, {5, -4, 0.2, 1.1}, {7, 8, 0.05, -2.5}};
  const double f1 = 2.5e6 / 102.0;
  const double f2 = 2.5e6 / 96.0;
  std::vector<double> x(1632 * 2, 0.0);
  for (std::size_t j = 0; j < 1632; ++j) {
    const double t = static_cast<double>(j) / 2.5e6;
    for (const Mix& m : mixes) x[2 * j] += m.a * std::cos(2.0 * kPi * (m.m1 * f1 + m.m2 * f2) * t + m.phi);
    x[2 * j + 1] = 0.1 * std::sin(2.0 * kPi * f2 * t);  // the y drive's feedthrough
  }
  const Eigen::MatrixXcd& s = fs.transform(std::span<const double>(x));
  std::vector<std::complex<double>> want(fs.bins(), 0.0);
  for (const Mix& m : mixes) {
    const int bin = 16 * m.m1 + 17 * m.m2;
    ASSERT_GT(bin, 0);
    want[static_cast<std::size_t>(bin)] += std::polar(m.a, m.phi);
  }
  for (std::size_t k = 0; k < fs.bins(); ++k) {
    EXPECT_NEAR(std::abs(s(static_cast<Eigen::Index>(k), 0) - want[k]), 0.0, 1e-10) << "bin " << k;
  }
  EXPECT_NEAR(std::abs(s(17, 1) - std::polar(0.1, -kPi / 2)), 0.0, 1e-12);
  EXPECT_NEAR(fs.bin_frequency_hz(17), f2, 1e-9);
  EXPECT_NEAR(g.frame_duration_s(), 652.8e-6, 1e-15);
}

TEST(FrameSpectrum, ThreeDimensionalPreclinicalFrame) {
  const std::uint32_t dividers[] = {102, 96, 99};
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 53856, 3);
  EXPECT_EQ(drive_bins(g), (std::vector<std::size_t>{528, 561, 544}));
  EXPECT_EQ(g.bins(), 26929u);
}

TEST(FrameSpectrum, MovedAnalyserKeepsWorking) {
  FrameSpectrum a(FrameGeometry::periodic(16, 2, 1, 1.0e6));
  FrameSpectrum b(std::move(a));
  const std::vector<double> x = tones({{6, 0.75, 1.0}}, 32);
  EXPECT_NEAR(std::abs(b.transform(std::span<const double>(x))(6, 0) - std::polar(0.75, 1.0)), 0.0, 1e-14);
  FrameSpectrum c(FrameGeometry::periodic(8, 1, 2, 1.0e6));
  c = std::move(b);
  EXPECT_NEAR(std::abs(c.transform(std::span<const double>(x))(6, 0) - std::polar(0.75, 1.0)), 0.0, 1e-14);
  EXPECT_DOUBLE_EQ(frame_centre_sample(1000, 32), 1015.5);
}

TEST(FrameSpectrum, SinglePrecisionAgreesWithExactTonesAndDoublePrecision) {
  // A 2D preclinical frame (1632 samples, 3 channels) of int16 codes holding known tones near full scale.
  const std::uint32_t dividers[] = {102, 96};
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 3);
  FrameSpectrum single(g, FftPlanning::estimate, FftPrecision::single_precision);
  FrameSpectrum twin(g, FftPlanning::estimate, FftPrecision::double_precision);
  EXPECT_EQ(single.precision(), FftPrecision::single_precision);
  const std::vector<Tone> list = {{16, 12000.0, 0.4}, {17, 5000.0, -1.0}, {48, 800.0, 2.0}, {301, 37.0, -2.5}};
  const std::size_t n = 1632;
  std::vector<std::int16_t> codes(n * 3);
  std::vector<double> rounded(n * 3);
  for (std::size_t c = 0; c < 3; ++c) {
    const std::vector<double> x = tones(list, n);
    for (std::size_t j = 0; j < n; ++j) {
      codes[j * 3 + c] = static_cast<std::int16_t>(std::lround(x[j] * (1.0 - 0.2 * static_cast<double>(c))));
      rounded[j * 3 + c] = codes[j * 3 + c];
    }
  }
  const double vpc = 1.0 / 32768.0;
  const Eigen::MatrixXcd a = single.transform(std::span<const std::int16_t>(codes), vpc);
  const Eigen::MatrixXcd b = twin.transform(std::span<const std::int16_t>(codes), vpc);
  // Float: relative error of order eps_float log2(N) = 6e-8 * 11 of the largest amplitude (0.37 V).
  const double largest = 12000.0 * vpc;
  const double tol = 2e-6 * largest;
  for (std::size_t c = 0; c < 3; ++c) {
    std::vector<double> ch(n);
    for (std::size_t j = 0; j < n; ++j) ch[j] = rounded[j * 3 + c] * vpc;
    for (std::size_t k : {std::size_t{0}, std::size_t{16}, std::size_t{17}, std::size_t{48}, std::size_t{301},
                          std::size_t{500}, std::size_t{816}}) {
      const auto kk = static_cast<Eigen::Index>(k);
      const auto cc = static_cast<Eigen::Index>(c);
      const std::complex<double> want = amplitude_dft(ch, k);  // the plain DFT of the same codes
      EXPECT_NEAR(std::abs(a(kk, cc) - want), 0.0, tol) << "channel " << c << " bin " << k;
    }
  }
  EXPECT_LT((a - b).cwiseAbs().maxCoeff(), tol);
  EXPECT_GT((a - b).cwiseAbs().maxCoeff(), 0.0);  // it really is a different arithmetic
}

TEST(FrameSpectrum, SinglePrecisionMovedAnalyserKeepsWorking) {
  const FrameGeometry g = FrameGeometry::periodic(32, 2, 1, 1.0e6);
  FrameSpectrum first(g, FftPlanning::estimate, FftPrecision::single_precision);
  FrameSpectrum moved(std::move(first));
  const std::vector<double> x = tones({{2, 1.0, 0.5}, {6, 0.25, -1.0}}, 64);
  const Eigen::MatrixXcd& s = moved.transform_channels(Eigen::Map<const Eigen::MatrixXd>(x.data(), 64, 1));
  EXPECT_NEAR(std::abs(s(2, 0) - std::polar(1.0, 0.5)), 0.0, 1e-6);
  EXPECT_NEAR(std::abs(s(6, 0) - std::polar(0.25, -1.0)), 0.0, 1e-6);
  EXPECT_NEAR(std::abs(s(4, 0)), 0.0, 1e-6);
}

}  // namespace
}  // namespace mpi::recon

namespace mpi::recon {
namespace {

TEST(FrameSpectrumPrimeFactorSplit, ChoosesALargePrimeThatDividesOnce) {
  EXPECT_EQ(prime_factor_split(1632), 17u);   // 2D frame, 17 x 96
  EXPECT_EQ(prime_factor_split(53856), 17u);  // 3D frame, 17 x 3168
  EXPECT_EQ(prime_factor_split(1020), 17u);   // ten periods of 102
  EXPECT_EQ(prime_factor_split(19 * 40), 19u);
  EXPECT_EQ(prime_factor_split(17 * 19 * 8), 19u);  // the largest prime
  EXPECT_EQ(prime_factor_split(102), 0u);           // m = 6: too short to pay
  EXPECT_EQ(prime_factor_split(17), 0u);
  EXPECT_EQ(prime_factor_split(17 * 17 * 8), 0u);  // 17 divides twice: not coprime
  EXPECT_EQ(prime_factor_split(67 * 16), 0u);      // above the largest supported prime
  EXPECT_EQ(prime_factor_split(13 * 64), 0u);      // FFTW has fast code for 13
  EXPECT_EQ(prime_factor_split(4096), 0u);
  EXPECT_EQ(prime_factor_split(1), 0u);
}

// Random samples on every channel; the split's spectrum against the plain DFT, bin by bin.
void expect_split_matches_dft(std::size_t n, std::size_t channels, std::size_t prime, FftPrecision precision,
                              double tolerance) {
  const FrameGeometry g = FrameGeometry::periodic(n, 1, channels, 2.5e6);
  FrameSpectrum fs(g, FftPlanning::estimate, precision);
  ASSERT_EQ(fs.split_prime(), prime);
  std::mt19937 rng(static_cast<unsigned>(n + channels));
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> interleaved(n * channels);
  for (double& v : interleaved) v = u(rng);
  const FrameSpectrum::Matrix& s = fs.transform(interleaved);
  double worst = 0.0;
  double largest = 0.0;
  for (std::size_t c = 0; c < channels; ++c) {
    std::vector<double> x(n);
    for (std::size_t j = 0; j < n; ++j) x[j] = interleaved[j * channels + c];
    for (std::size_t k = 0; k < fs.bins(); ++k) {
      const std::complex<double> want = amplitude_dft(x, k);
      worst = std::max(worst, std::abs(s(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(c)) - want));
      largest = std::max(largest, std::abs(want));
    }
  }
  EXPECT_LT(worst, tolerance * largest) << n << " samples, " << channels << " channels";
}

TEST(FrameSpectrumPrimeFactorSplit, DoublePrecisionMatchesPlainDft) {
  expect_split_matches_dft(1632, 3, 17, FftPrecision::double_precision, 1e-12);
  expect_split_matches_dft(19 * 40, 2, 19, FftPrecision::double_precision, 1e-12);
  expect_split_matches_dft(17 * 15, 1, 17, FftPrecision::double_precision, 1e-12);  // odd n: no Nyquist bin
  expect_split_matches_dft(61 * 10, 3, 61, FftPrecision::double_precision, 1e-12);
  expect_split_matches_dft(23 * 9, 3, 23, FftPrecision::double_precision, 1e-12);  // columns not a multiple of 4
}

TEST(FrameSpectrumPrimeFactorSplit, SinglePrecisionMatchesPlainDft) {
  expect_split_matches_dft(1632, 3, 17, FftPrecision::single_precision, 1e-5);
  expect_split_matches_dft(17 * 15, 1, 17, FftPrecision::single_precision, 1e-5);
  expect_split_matches_dft(23 * 9, 3, 23, FftPrecision::single_precision, 1e-5);
}

// Every input path of the split gives the spectrum of the whole-frame FFTW transform.
TEST(FrameSpectrumPrimeFactorSplit, EveryInputPathAgreesWithTheWholeFrameTransform) {
  const std::uint32_t dividers[] = {102, 96};
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 3);
  FrameSpectrum split(g);
  FrameSpectrum whole(g, FftPlanning::estimate, FftPrecision::double_precision, FftAlgorithm::fftw);
  ASSERT_EQ(split.split_prime(), 17u);
  ASSERT_EQ(whole.split_prime(), 0u);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(-32768, 32767);
  std::vector<std::int16_t> codes(1632 * 3);
  for (auto& v : codes) v = static_cast<std::int16_t>(code(rng));
  const double tol = 1e-12;
  EXPECT_TRUE(split.transform(codes, 1e-4).isApprox(whole.transform(codes, 1e-4), tol));
  const std::vector<double> per_channel = {1e-4, -2e-4, 3e-5};
  EXPECT_TRUE(split.transform(codes, per_channel).isApprox(whole.transform(codes, per_channel), tol));
  std::vector<double> volts(codes.begin(), codes.end());
  EXPECT_TRUE(split.transform(volts).isApprox(whole.transform(volts), tol));
  Eigen::MatrixXd columns(1632, 3);
  for (Eigen::Index j = 0; j < 1632; ++j) {
    for (Eigen::Index c = 0; c < 3; ++c) columns(j, c) = volts[static_cast<std::size_t>(j * 3 + c)];
  }
  EXPECT_TRUE(split.transform_channels(columns).isApprox(whole.transform_channels(columns), tol));
  // Moved, the split analyser keeps its tables and buffers.
  FrameSpectrum moved(std::move(split));
  EXPECT_EQ(moved.split_prime(), 17u);
  EXPECT_TRUE(moved.transform(volts).isApprox(whole.transform(volts), tol));
  FrameSpectrum assigned(FrameGeometry::periodic(96, 1, 3, 2.5e6));
  assigned = std::move(moved);
  EXPECT_TRUE(assigned.transform(volts).isApprox(whole.transform(volts), tol));
}

TEST(FrameSpectrumPrimeFactorSplit, BadInputIsRefusedOnTheSplitPathToo) {
  const std::uint32_t dividers[] = {102, 96};
  FrameSpectrum fs(FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 3));
  ASSERT_EQ(fs.split_prime(), 17u);
  const std::vector<std::int16_t> short_frame(1632 * 3 - 1);
  EXPECT_THAT([&] { fs.transform(short_frame, 1.0); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("expected 4896 samples")));
  const std::vector<std::int16_t> frame(1632 * 3);
  EXPECT_THAT([&] { fs.transform(frame, std::nan("")); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("volts_per_code is not finite")));
}

}  // namespace
}  // namespace mpi::recon
