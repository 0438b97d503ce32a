#include "mpi/recon/fused_harmonics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon {
namespace {

using ::testing::HasSubstr;
constexpr double kPi = std::numbers::pi;
constexpr std::size_t kChannels = 3;
constexpr double kVoltsPerCode = 1.0 / 32768.0;

FrameGeometry geometry(int dims) {
  constexpr double rate = 2.5e6;
  if (dims == 1) return FrameGeometry::periodic(102, 10, kChannels, rate);  // 1020 = 2^2 3 5 17
  if (dims == 2) {
    const std::uint32_t d[] = {102, 96};
    return FrameGeometry::lissajous(d, 2.5e6, rate, 1632, kChannels);
  }
  const std::uint32_t d[] = {102, 96, 99};
  return FrameGeometry::lissajous(d, 2.5e6, rate, 53856, kChannels);
}

std::vector<HarmonicBin> table_bins(const FrameGeometry& g, int dims) {
  if (dims == 1) return drive_harmonics(g, 40);
  return mixing_frequencies(g, dims == 2 ? 12 : 8);
}

// Interleaved int16 frames: a drive tone, odd harmonics, a slowly changing offset tone and noise, with the
// codes' extremes present (sign extension of the conversion).
std::vector<std::int16_t> frame(const FrameGeometry& g, unsigned seed, double drift) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 30.0);
  const std::size_t n = g.samples_per_frame;
  std::vector<std::int16_t> out(n * kChannels);
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t c = 0; c < kChannels; ++c) {
      const double f0 = g.drive_frequencies_hz[c % g.drive_frequencies_hz.size()] / g.sample_rate_hz;
      const double t = static_cast<double>(j);
      double v = 9000.0 * std::sin(2.0 * kPi * f0 * t) + (200.0 + drift) * std::cos(2.0 * kPi * 5.0 * f0 * t + 0.3);
      for (int h = 3; h <= 9; h += 2) v += 3000.0 / (h * h) * std::cos(2.0 * kPi * h * f0 * t + 0.1 * h);
      out[j * kChannels + c] = static_cast<std::int16_t>(std::clamp(std::lround(v + noise(rng)), -32768L, 32767L));
    }
  }
  out[0] = -32768;
  out[4] = 32767;
  out[out.size() - 1] = -32768;
  return out;
}

struct Case {
  int dims;
  FftPrecision precision;
  FftAlgorithm algorithm;
  bool background;
};

std::string name(const Case& c) {
  return std::to_string(c.dims) + "D " + (c.precision == FftPrecision::single_precision ? "single" : "double") +
         (c.algorithm == FftAlgorithm::fftw ? " fftw" : " split") + (c.background ? " background" : " neighbours");
}

// Full path (spectrum -> background -> table -> feedthrough) against the fused path, frame by frame.
void compare(const Case& k) {
  SCOPED_TRACE(name(k));
  const FrameGeometry g = geometry(k.dims);
  const double tol = k.precision == FftPrecision::single_precision ? 1e-5 : 1e-12;
  FrameSpectrum full(g, FftPlanning::estimate, k.precision, k.algorithm);
  FrameSpectrum fused_fs(g, FftPlanning::estimate, k.precision, k.algorithm);
  if (k.algorithm == FftAlgorithm::automatic) {
    ASSERT_EQ(full.split_prime(), 17U);
  } else {
    ASSERT_EQ(full.split_prime(), 0U);
  }
  const std::vector<HarmonicBin> bins = table_bins(g, k.dims);
  HarmonicExtractor extractor(g, bins);
  HarmonicTable table = extractor.make_table();
  FusedHarmonicExtractor fused(fused_fs, bins);
  FeedthroughOptions options;
  options.min_frequency_hz = 80e3;
  options.second_harmonics = true;
  FeedthroughFilter feedthrough(g, options);
  feedthrough.suppress(bins[bins.size() / 2].bin, 1);
  fused.set_feedthrough(feedthrough);
  const std::size_t n = g.samples_per_frame;
  std::unique_ptr<InterpolatedBackground> background;
  Eigen::MatrixXd noise;
  if (k.background) {
    BackgroundModel before(g.bins(), kChannels);
    BackgroundModel after(g.bins(), kChannels);
    for (unsigned f = 0; f < 6; ++f) {
      const std::uint64_t first = (f < 3 ? f : f + 20) * n;
      (f < 3 ? before : after).add(full.transform(frame(g, 100 + f, 50.0 * f), kVoltsPerCode),
                                   frame_centre_sample(first, n));
    }
    background = std::make_unique<InterpolatedBackground>(before, after);
    noise = background->noise();
    fused.set_background(*background);
    EXPECT_EQ(fused.read_bins().size(), bins.size());
  } else {
    EXPECT_GT(fused.read_bins().size(), bins.size());
  }
  FusedTable out = fused.make_table();
  for (unsigned f = 0; f < 2; ++f) {
    const std::vector<std::int16_t> codes = frame(g, f + 1, 150.0 + 40.0 * f);
    const double centre = frame_centre_sample((5 + f) * n, n);
    Eigen::MatrixXcd& s = full.transform(codes, kVoltsPerCode);
    if (background) {
      background->subtract(centre, s);
      extractor.extract(s, noise, table);
    } else {
      extractor.extract(s, table);
    }
    feedthrough.apply(s);
    fused.extract(codes, kVoltsPerCode, centre, out);
    std::size_t masked = 0;
    for (std::size_t c = 0; c < kChannels; ++c) {
      const auto col = static_cast<Eigen::Index>(c);
      const double scale = s.col(col).cwiseAbs().maxCoeff();
      const double noise_scale = table.noise.col(col).maxCoeff();
      ASSERT_GT(scale, 0.0);
      for (std::size_t r = 0; r < bins.size(); ++r) {
        const auto row = static_cast<Eigen::Index>(r);
        const std::complex<double> want = s(static_cast<Eigen::Index>(bins[r].bin), col);
        ASSERT_LE(std::abs(out.value(row, col) - want), tol * scale) << "row " << r << " channel " << c;
        ASSERT_EQ(out.usable(row, col), feedthrough.usable(bins[r].bin, c));
        if (!out.usable(row, col)) {
          ++masked;
          EXPECT_EQ(out.value(row, col), std::complex<double>(0.0));
        }
        const double a = table.amplitude(row, col);
        ASSERT_NEAR(out.table.amplitude(row, col), a, tol * scale) << "row " << r << " channel " << c;
        if (a > 1e-3 * scale) {
          const double d = std::remainder(out.table.phase_rad(row, col) - table.phase_rad(row, col), 2.0 * kPi);
          ASSERT_LE(std::abs(d), 1e3 * tol) << "row " << r << " channel " << c;
        }
        ASSERT_NEAR(out.table.noise(row, col), table.noise(row, col), tol * noise_scale);
        ASSERT_NEAR(out.table.snr(row, col), table.snr(row, col), 10.0 * tol * std::abs(table.snr(row, col)) + 1e-300)
            << "row " << r << " channel " << c;
      }
    }
    EXPECT_GT(masked, 0U);  // the test covers the mask
  }
}

TEST(FusedHarmonics, EqualsFullPathOnSplitAndFftwWithAndWithoutBackground) {
  for (int dims : {1, 2, 3}) {
    for (FftPrecision p : {FftPrecision::double_precision, FftPrecision::single_precision}) {
      for (FftAlgorithm a : {FftAlgorithm::automatic, FftAlgorithm::fftw}) {
        for (bool bg : {false, true}) compare({dims, p, a, bg});
      }
    }
  }
}

// Without phases the table's phases are left alone and everything else is the same.
TEST(FusedHarmonics, WithoutPhasesTheRestOfTheTableIsUnchanged) {
  const FrameGeometry g = geometry(2);
  FrameSpectrum fs(g, FftPlanning::estimate, FftPrecision::single_precision);
  FusedHarmonicExtractor fused(fs, mixing_frequencies(g, 12));
  FusedTable with = fused.make_table();
  FusedTable without = fused.make_table();
  without.table.phase_rad.setConstant(7.0);
  const std::vector<std::int16_t> codes = frame(g, 9, 0.0);
  fused.extract(codes, kVoltsPerCode, 0.0, with);
  fused.set_phases(false);
  EXPECT_FALSE(fused.phases());
  fused.extract(codes, kVoltsPerCode, 0.0, without);
  EXPECT_TRUE((without.table.phase_rad.array() == 7.0).all());
  EXPECT_FALSE((with.table.phase_rad.array() == 0.0).all());
  for (Eigen::Index i = 0; i < with.value.size(); ++i) {
    EXPECT_EQ(without.value(i), with.value(i));
    EXPECT_NEAR(without.table.amplitude(i), std::abs(with.value(i)), 1e-15 * (1.0 + std::abs(with.value(i))));
    EXPECT_EQ(without.table.noise(i), with.table.noise(i));
    EXPECT_NEAR(without.table.snr(i), with.table.snr(i), 1e-14 * std::abs(with.table.snr(i)));
  }
}

// The edge bins (DC and Nyquist take 1/N, not 2/N) and the conjugated half of the split read like the full
// spectrum.
TEST(FusedHarmonics, ReadBinsMatchesTheFullSpectrumAtEveryBin) {
  const FrameGeometry g = geometry(2);
  for (FftPrecision p : {FftPrecision::double_precision, FftPrecision::single_precision}) {
    for (FftAlgorithm a : {FftAlgorithm::automatic, FftAlgorithm::fftw}) {
      FrameSpectrum fs(g, FftPlanning::estimate, p, a);
      std::vector<std::size_t> all(g.bins());
      for (std::size_t k = 0; k < all.size(); ++k) all[k] = all.size() - 1 - k;
      const FrameSpectrum::BinSelection sel = fs.select_bins(all);
      const std::vector<std::int16_t> codes = frame(g, 7, 0.0);
      const Eigen::MatrixXcd want = fs.transform(codes, kVoltsPerCode);
      fs.transform_unread(codes, kVoltsPerCode);
      Eigen::MatrixXcd got;
      fs.read_bins(sel, got);
      ASSERT_EQ(got.rows(), static_cast<Eigen::Index>(all.size()));
      ASSERT_EQ(got.cols(), static_cast<Eigen::Index>(kChannels));
      for (std::size_t k = 0; k < all.size(); ++k) {
        for (Eigen::Index c = 0; c < 3; ++c) {
          ASSERT_EQ(got(static_cast<Eigen::Index>(k), c), want(static_cast<Eigen::Index>(all[k]), c))
              << "bin " << all[k];
        }
      }
    }
  }
}

// The vectorised conversion of the board's codes (single precision, split) against the double-precision whole
// frame transform of the same codes, full-scale codes included.
TEST(FusedHarmonics, Int16ConversionOnTheSplitMatchesTheWholeFrameTransform) {
  for (int dims : {1, 2}) {  // 1020 samples leave a remainder after groups of 8
  const FrameGeometry g = geometry(dims);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> code(-32768, 32767);
  std::vector<std::int16_t> codes(g.samples_per_frame * kChannels);
  for (auto& c : codes) c = static_cast<std::int16_t>(code(rng));
  codes[1] = -32768;
  codes[2] = 32767;
  FrameSpectrum split(g, FftPlanning::estimate, FftPrecision::single_precision);
  FrameSpectrum whole(g, FftPlanning::estimate, FftPrecision::double_precision, FftAlgorithm::fftw);
  ASSERT_EQ(split.split_prime(), 17U);
  const Eigen::MatrixXcd a = split.transform(codes, kVoltsPerCode);
  const Eigen::MatrixXcd& b = whole.transform(codes, kVoltsPerCode);
  // Random full-scale codes: each bin's magnitude is about 2 sqrt(1/3 N) / N volts; single precision
  // rounding is about 1e-7 of the whole signal.
  const double scale = std::sqrt(b.cwiseAbs2().colwise().sum().maxCoeff());
  EXPECT_LE((a - b).cwiseAbs().maxCoeff(), 1e-5 * scale);
  EXPECT_GT((a - b).cwiseAbs().maxCoeff(), 0.0);  // single precision really ran
  }
}

TEST(FusedHarmonics, BadInputIsRefusedWithAMessage) {
  const FrameGeometry g = geometry(2);
  FrameSpectrum fs(g);
  const std::size_t nyquist = g.samples_per_frame / 2;
  // Bins out of range.
  const std::vector<std::size_t> bad = {3, nyquist + 1};
  try {
    (void)fs.select_bins(bad);
    FAIL() << "select_bins accepted a bin above Nyquist";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("bin " + std::to_string(nyquist + 1)));
    EXPECT_THAT(e.what(), HasSubstr("entry 1"));
  }
  std::vector<HarmonicBin> table = {{5, 0.0, {}}, {nyquist + 3, 0.0, {}}};
  try {
    FusedHarmonicExtractor f(fs, table);
    FAIL() << "FusedHarmonicExtractor accepted a bin above Nyquist";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("bin " + std::to_string(nyquist + 3)));
  }
  EXPECT_THROW(FusedHarmonicExtractor(fs, {}), std::invalid_argument);

  FusedHarmonicExtractor fused(fs, mixing_frequencies(g, 6));
  FusedTable out = fused.make_table();
  // Wrong frame length.
  const std::vector<std::int16_t> shorter(g.samples_per_frame * kChannels - 3);
  try {
    fused.extract(shorter, kVoltsPerCode, 0.0, out);
    FAIL() << "extract accepted a short frame";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("expected " + std::to_string(g.samples_per_frame * kChannels)));
  }
  const std::vector<std::int16_t> codes(g.samples_per_frame * kChannels, 1);
  EXPECT_THROW(fused.extract(codes, std::nan(""), 0.0, out), std::invalid_argument);

  // Reading before a transform_unread, or after a full transform.
  const FrameSpectrum::BinSelection sel = fs.select_bins(std::vector<std::size_t>{1, 2});
  Eigen::MatrixXcd values;
  FrameSpectrum fresh(g);
  EXPECT_THROW(fresh.read_bins(fresh.select_bins(std::vector<std::size_t>{1}), values), std::logic_error);
  (void)fs.transform(codes, kVoltsPerCode);
  try {
    fs.read_bins(sel, values);
    FAIL() << "read_bins after transform()";
  } catch (const std::logic_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("transform_unread"));
  }
  // A selection of another layout.
  FrameSpectrum other(geometry(1));
  other.transform_unread(std::vector<std::int16_t>(geometry(1).samples_per_frame * kChannels), kVoltsPerCode);
  try {
    other.read_bins(sel, values);
    FAIL() << "read_bins accepted a selection of another layout";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("1632"));
  }
  FrameSpectrum single(g, FftPlanning::estimate, FftPrecision::single_precision);
  single.transform_unread(codes, kVoltsPerCode);
  EXPECT_THROW(single.read_bins(sel, values), std::invalid_argument);

  // Background and feedthrough of another shape; too few background frames.
  const FrameGeometry g1 = geometry(1);
  FrameSpectrum fs1(g1);
  BackgroundModel b1(g1.bins(), kChannels);
  BackgroundModel a1(g1.bins(), kChannels);
  for (unsigned f = 0; f < 2; ++f) {
    b1.add(fs1.transform(frame(g1, f, 0.0), kVoltsPerCode), static_cast<double>(f));
    a1.add(fs1.transform(frame(g1, f + 5, 0.0), kVoltsPerCode), 100.0 + f);
  }
  const InterpolatedBackground wrong_shape(b1, a1);
  try {
    fused.set_background(wrong_shape);
    FAIL() << "set_background accepted a background of another shape";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("expected " + std::to_string(g.bins()) + " bins"));
  }
  BackgroundModel b2(g.bins(), kChannels);
  BackgroundModel a2(g.bins(), kChannels);
  b2.add(fs.transform(codes, kVoltsPerCode), 0.0);
  a2.add(fs.transform(codes, kVoltsPerCode), 100.0);
  EXPECT_THROW(fused.set_background(InterpolatedBackground(b2, a2)), std::logic_error);
  EXPECT_FALSE(fused.has_background());
  const std::vector<std::size_t> beyond = {1, g1.bins()};
  try {
    (void)wrong_shape.select(beyond);
    FAIL() << "select accepted a bin outside the background";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("bin " + std::to_string(g1.bins())));
  }
  const FeedthroughFilter ft1(g1, FeedthroughOptions{});
  EXPECT_THROW(fused.set_feedthrough(ft1), std::invalid_argument);
  try {
    (void)ft1.table_mask(beyond);
    FAIL() << "table_mask accepted a bin outside the spectrum";
  } catch (const std::out_of_range& e) {
    EXPECT_THAT(e.what(), HasSubstr("bin " + std::to_string(g1.bins())));
  }
}

}  // namespace
}  // namespace mpi::recon
