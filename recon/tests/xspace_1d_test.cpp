#include "mpi/recon/profile_analysis.hpp"
#include "mpi/recon/spectrum.hpp"
#include "mpi/recon/tracer.hpp"
#include "mpi/recon/xspace_1d.hpp"
#include "synthetic_1d.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon {
namespace {

using synthetic::PointSource;
using synthetic::Scanner1D;
using ::testing::HasSubstr;

constexpr std::size_t kSamplesPerPeriod = 625;  // 15.625 MS/s / 25 kHz
constexpr std::size_t kPeriods = 4;
constexpr std::uint64_t kFirstSample = 1250 + 137;  // not at a period boundary

Scanner1D scanner() {
  Scanner1D s;
  s.phase_rad = 0.3;
  return s;
}

SineDrive drive_of(const Scanner1D& s) { return {s.amplitude_t, s.frequency_hz, s.phase_rad}; }

XSpace1DConfig config_of(const Scanner1D& s) {
  XSpace1DConfig c;
  c.gradient_t_per_m = s.gradient_t_per_m;
  c.pixel_m = 0.02e-3;
  c.fov_min_m = -6e-3;
  c.fov_max_m = 6e-3;
  c.min_speed_fraction = 0.3;
  c.signal_scale = s.signal_scale();
  c.dc_recovery = true;
  return c;
}

Tracer tracer_of(const Scanner1D& s) {
  Tracer t;
  t.core_diameter_m = s.core_diameter_m;
  t.saturation_magnetisation_a_per_m = s.ms_a_per_m;
  t.temperature_k = s.temperature_k;
  return t;
}

// Simulate, remove the listed harmonics, reconstruct.
Profile1D scan(const Scanner1D& s, const std::vector<PointSource>& points, const XSpace1DConfig& config,
               const std::vector<int>& removed = {0, 1}, std::size_t samples_per_period = kSamplesPerPeriod) {
  std::vector<double> u = synthetic::receive_signal(s, points, kFirstSample, samples_per_period * kPeriods);
  remove_harmonics(u, kPeriods, removed);
  return reconstruct_xspace_1d(u, kFirstSample, s.sample_rate_hz, drive_of(s), config);
}

TEST(XSpace1D, PointSourceHasLangevinPsfAtItsPosition) {
  const Scanner1D s = scanner();
  const Profile1D image = scan(s, {{2.0e-3, 1.0}}, config_of(s));
  ASSERT_EQ(image.values.size(), 600u);
  EXPECT_NEAR(image.first_pixel_centre_m, -6e-3 + 0.01e-3, 1e-15);
  const std::vector<Peak> peaks = find_peaks(image);
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_NEAR(peaks[0].position_m, 2.0e-3, 0.05e-3);
  const double expected_fwhm = psf_fwhm_m(tracer_of(s), s.gradient_t_per_m);
  EXPECT_NEAR(expected_fwhm, 0.745e-3, 0.001e-3);
  EXPECT_NEAR(fwhm_m(image, peaks[0]), expected_fwhm, 0.03 * expected_fwhm);
  // One particle: rho * h peaks at L'(0) = 1/3 (less the small tail DC recovery takes out at the edges).
  EXPECT_NEAR(peaks[0].value, 1.0 / 3.0, 0.02 / 3.0);
  // Adiabatic particles: both scan directions see the same image.
  for (const auto* direction : {&image.rising, &image.falling}) {
    Profile1D one = image;
    one.values = *direction;
    const auto p = find_peaks(one);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NEAR(p[0].position_m, 2.0e-3, 0.05e-3);
  }
}

TEST(XSpace1D, PixelsOutsideTheSampledExtentAreNaN) {
  const Scanner1D s = scanner();
  const Profile1D image = scan(s, {{2.0e-3, 1.0}}, config_of(s));
  // Samples kept where |cos| >= 0.3: |x| <= A/G sqrt(1 - 0.09) = 5.724 mm.
  const double edge = 6e-3 * std::sqrt(1.0 - 0.09);
  for (std::size_t i = 0; i < image.values.size(); ++i) {
    const double x = image.pixel_centre_m(i);
    if (std::abs(x) < edge - 0.1e-3) {
      EXPECT_TRUE(std::isfinite(image.values[i])) << "pixel " << i;
      EXPECT_TRUE(std::isfinite(image.rising[i]) && std::isfinite(image.falling[i])) << "pixel " << i;
    }
    if (std::abs(x) > edge + 0.1e-3) {
      EXPECT_TRUE(std::isnan(image.values[i])) << "pixel " << i;
    }
  }
}

TEST(XSpace1D, GridHasTheWholePixelsOfTheFov) {
  const Scanner1D s = scanner();
  XSpace1DConfig config = config_of(s);
  config.fov_min_m = -7.5e-3;  // 15 mm / 0.03 mm is 499.99999999999994 in doubles: still 500 pixels
  config.fov_max_m = 7.5e-3;
  config.pixel_m = 0.03e-3;
  const std::vector<double> u(kSamplesPerPeriod, 0.0);
  Profile1D image = reconstruct_xspace_1d(u, 0, s.sample_rate_hz, drive_of(s), config);
  EXPECT_EQ(image.values.size(), 500u);
  EXPECT_EQ(image.rising.size(), 500u);
  EXPECT_EQ(image.falling.size(), 500u);
  EXPECT_NEAR(image.pixel_centre_m(499), 7.5e-3 - 0.015e-3, 1e-12);
  config.pixel_m = 0.04e-3;  // 375 whole pixels, the last 0.02 mm left out
  image = reconstruct_xspace_1d(u, 0, s.sample_rate_hz, drive_of(s), config);
  EXPECT_EQ(image.values.size(), 375u);
}

TEST(XSpace1D, ResolvesTwoPointsThreeMillimetresApart) {
  const Scanner1D s = scanner();
  const Profile1D image = scan(s, {{-1.5e-3, 1.0}, {1.5e-3, 1.0}}, config_of(s));
  const std::vector<Peak> peaks = find_peaks(image);
  ASSERT_EQ(peaks.size(), 2u);
  EXPECT_NEAR(peaks[0].position_m, -1.5e-3, 0.05e-3);
  EXPECT_NEAR(peaks[1].position_m, 1.5e-3, 0.05e-3);
  EXPECT_NEAR(peaks[0].value, peaks[1].value, 0.02 * peaks[1].value);
  EXPECT_LT(dip_ratio(image, peaks[0], peaks[1]), 0.5);
}

TEST(XSpace1D, NegativeGradientImagesThePointWhereItIs) {
  Scanner1D s = scanner();
  s.gradient_t_per_m = -2.0;
  const Profile1D image = scan(s, {{2.0e-3, 1.0}}, config_of(s));
  const auto peaks = find_peaks(image);
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_NEAR(peaks[0].position_m, 2.0e-3, 0.05e-3);
  EXPECT_NEAR(fwhm_m(image, peaks[0]), 0.745e-3, 0.03 * 0.745e-3);
}

TEST(XSpace1D, SparseSamplesLeaveNoHolesBetweenThem) {
  Scanner1D s = scanner();
  // 2.5 MS/s: 100 samples per period, up to 0.38 mm between samples (19 pixels, half the PSF width).
  s.sample_rate_hz = 2.5e6;
  const Profile1D image = scan(s, {{2.0e-3, 1.0}}, config_of(s), {0, 1}, 100);
  std::size_t first = image.values.size(), last = 0;
  for (std::size_t i = 0; i < image.values.size(); ++i) {
    if (std::isfinite(image.values[i])) {
      first = std::min(first, i);
      last = i;
    }
  }
  ASSERT_LT(first, last);
  EXPECT_LT(image.pixel_centre_m(first), -5.3e-3);
  EXPECT_GT(image.pixel_centre_m(last), 5.3e-3);
  for (std::size_t i = first; i <= last; ++i) EXPECT_TRUE(std::isfinite(image.values[i])) << "hole at pixel " << i;
  // Linear interpolation between samples this far apart blurs the peak, but it stays where it was.
  const auto peaks = find_peaks(image);
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_NEAR(peaks[0].position_m, 2.0e-3, 0.1e-3);
}

// A uniform line segment [a, b] of `per_m` particles per metre, as point sources 2 um apart.
constexpr double kSegmentA = -1.0e-3, kSegmentB = 2.5e-3, kPerMetre = 1e3;

std::vector<PointSource> segment_sources() {
  std::vector<PointSource> points;
  const int n = 1750;
  const double dx = (kSegmentB - kSegmentA) / n;
  for (int i = 0; i < n; ++i) points.push_back({kSegmentA + (i + 0.5) * dx, kPerMetre * dx});
  return points;
}

// (rho * h)(x) by Simpson's rule over the segment, 1 um steps.
double segment_convolved_with_psf(const Scanner1D& s, double x) {
  const int n = 3500;  // even
  const double dx = (kSegmentB - kSegmentA) / n;
  const double kg = s.k() * s.gradient_t_per_m;
  double sum = 0.0;
  for (int i = 0; i <= n; ++i) {
    const double w = (i == 0 || i == n) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0);
    sum += w * synthetic::reference_langevin_derivative(kg * (x - (kSegmentA + i * dx)));
  }
  return kPerMetre * sum * dx / 3.0;
}

struct Comparison {
  double max_abs_diff = 0.0;
  double mean_diff = 0.0;
  double max_dev_from_mean_diff = 0.0;
};

Comparison compare(const Profile1D& image, const std::vector<double>& reference) {
  Comparison c;
  std::vector<double> diffs;
  for (std::size_t i = 0; i < image.values.size(); ++i) {
    if (!std::isfinite(image.values[i])) continue;
    diffs.push_back(image.values[i] - reference[i]);
    c.max_abs_diff = std::max(c.max_abs_diff, std::abs(diffs.back()));
  }
  for (double d : diffs) c.mean_diff += d / static_cast<double>(diffs.size());
  for (double d : diffs) c.max_dev_from_mean_diff = std::max(c.max_dev_from_mean_diff, std::abs(d - c.mean_diff));
  return c;
}

TEST(XSpace1D, UniformSegmentIsTheSegmentConvolvedWithThePsf) {
  const Scanner1D s = scanner();
  const std::vector<PointSource> sources = segment_sources();
  XSpace1DConfig config = config_of(s);
  config.pixel_m = 0.05e-3;
  std::vector<double> reference(240);
  for (std::size_t i = 0; i < reference.size(); ++i) {
    reference[i] = segment_convolved_with_psf(s, config.fov_min_m + (static_cast<double>(i) + 0.5) * config.pixel_m);
  }
  // The numerical convolution against its closed form, lambda [L(kG(x - a)) - L(kG(x - b))] / (kG).
  const double kg = s.k() * s.gradient_t_per_m;
  for (double x : {-3e-3, 0.0, 0.75e-3, 2.5e-3, 4e-3}) {
    const double closed = kPerMetre * (synthetic::reference_langevin(kg * (x - kSegmentA)) - synthetic::reference_langevin(kg * (x - kSegmentB))) / kg;
    ASSERT_NEAR(segment_convolved_with_psf(s, x), closed, 1e-6 * closed) << "x = " << x;
  }
  // Scale for tolerances: an infinitely long line would image at kPerMetre * integral of h = 2 kPerMetre / (kG).
  const double plateau = kPerMetre * 2.0 / kg;

  std::vector<double> u = synthetic::receive_signal(s, sources, kFirstSample, kSamplesPerPeriod * kPeriods);

  // Only DC removed, no DC recovery: the image is rho * h itself.
  {
    std::vector<double> v = u;
    const std::vector<int> dc{0};
    remove_harmonics(v, kPeriods, dc);
    XSpace1DConfig raw = config;
    raw.dc_recovery = false;
    const Comparison c = compare(reconstruct_xspace_1d(v, kFirstSample, s.sample_rate_hz, drive_of(s), raw), reference);
    EXPECT_LT(c.max_abs_diff, 0.01 * plateau);
  }
  // Fundamental removed: the image loses a constant; without DC recovery it is off by that constant only.
  std::vector<double> v = u;
  const std::vector<int> dc_and_fundamental{0, 1};
  remove_harmonics(v, kPeriods, dc_and_fundamental);
  {
    XSpace1DConfig raw = config;
    raw.dc_recovery = false;
    const Comparison c = compare(reconstruct_xspace_1d(v, kFirstSample, s.sample_rate_hz, drive_of(s), raw), reference);
    EXPECT_LT(c.max_dev_from_mean_diff, 0.01 * plateau);
    EXPECT_GT(std::abs(c.mean_diff), 0.1 * plateau);
  }
  // With DC recovery the constant comes back up to the true image's (small) mean at the sampled edges.
  {
    const Profile1D image = reconstruct_xspace_1d(v, kFirstSample, s.sample_rate_hz, drive_of(s), config);
    const Comparison c = compare(image, reference);
    EXPECT_LT(c.max_dev_from_mean_diff, 0.01 * plateau);
    EXPECT_LT(std::abs(c.mean_diff), 0.04 * plateau);
    // The edge mean of the truth, over the outermost 5 % of the sampled extent, is what it removes.
    std::size_t first = image.values.size(), last = 0;
    for (std::size_t i = 0; i < image.values.size(); ++i) {
      if (std::isfinite(image.values[i])) {
        first = std::min(first, i);
        last = i;
      }
    }
    const auto edge = static_cast<std::size_t>(std::ceil(0.05 * static_cast<double>(last - first + 1)));
    double edge_mean = 0.0;
    for (std::size_t i = 0; i < edge; ++i) edge_mean += (reference[first + i] + reference[last - i]) / (2.0 * static_cast<double>(edge));
    EXPECT_NEAR(c.mean_diff, -edge_mean, 0.005 * plateau);
  }
}

void expect_rejected(const std::function<void(XSpace1DConfig&)>& spoil, const std::string& field) {
  const Scanner1D s = scanner();
  XSpace1DConfig config = config_of(s);
  spoil(config);
  const std::vector<double> u(100, 0.0);
  try {
    (void)reconstruct_xspace_1d(u, 0, s.sample_rate_hz, drive_of(s), config);
    ADD_FAILURE() << "accepted a bad " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr(field));
  }
}

TEST(XSpace1D, BadConfigThrowsNamingTheField) {
  expect_rejected([](XSpace1DConfig& c) { c.pixel_m = 0.0; }, "pixel_m");
  expect_rejected([](XSpace1DConfig& c) { c.pixel_m = -1e-4; }, "pixel_m");
  expect_rejected([](XSpace1DConfig& c) { c.pixel_m = 1.0; }, "pixel_m");
  expect_rejected([](XSpace1DConfig& c) { c.pixel_m = 1e-12; }, "pixel_m");
  expect_rejected([](XSpace1DConfig& c) { c.fov_max_m = c.fov_min_m; }, "fov_max_m");
  expect_rejected([](XSpace1DConfig& c) { c.fov_min_m = std::nan(""); }, "fov_min_m");
  expect_rejected([](XSpace1DConfig& c) { c.gradient_t_per_m = 0.0; }, "gradient_t_per_m");
  expect_rejected([](XSpace1DConfig& c) { c.min_speed_fraction = 1.0; }, "min_speed_fraction");
  expect_rejected([](XSpace1DConfig& c) { c.min_speed_fraction = -0.1; }, "min_speed_fraction");
  expect_rejected([](XSpace1DConfig& c) { c.signal_scale = 0.0; }, "signal_scale");
  const XSpace1DConfig unset{};
  EXPECT_THROW(throw_if_invalid(unset), std::invalid_argument);
  EXPECT_NO_THROW(throw_if_invalid(config_of(scanner())));
}

TEST(XSpace1D, BadDriveSampleRateOrSampleThrowsNamingIt) {
  const Scanner1D s = scanner();
  const XSpace1DConfig config = config_of(s);
  std::vector<double> u(100, 0.0);
  const auto message = [&](double rate, SineDrive d) -> std::string {
    try {
      (void)reconstruct_xspace_1d(u, 0, rate, d, config);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_THAT(message(0.0, drive_of(s)), HasSubstr("sample_rate_hz"));
  EXPECT_THAT(message(s.sample_rate_hz, {0.0, 25e3, 0.0}), HasSubstr("drive.amplitude_t"));
  EXPECT_THAT(message(s.sample_rate_hz, {0.012, -1.0, 0.0}), HasSubstr("drive.frequency_hz"));
  u[42] = std::nan("");
  EXPECT_THAT(message(s.sample_rate_hz, drive_of(s)), HasSubstr("signal_v[42]"));
}

}  // namespace
}  // namespace mpi::recon
