#include "mpi/recon/profile_analysis.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>

namespace mpi::recon {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Profile1D sampled(const std::function<double(double)>& f, double first, double pixel, std::size_t n) {
  Profile1D p;
  p.first_pixel_centre_m = first;
  p.pixel_m = pixel;
  for (std::size_t i = 0; i < n; ++i) p.values.push_back(f(first + static_cast<double>(i) * pixel));
  p.rising = p.values;
  p.falling = p.values;
  return p;
}

double gaussian(double x, double centre, double sigma, double height) {
  return height * std::exp(-0.5 * (x - centre) * (x - centre) / (sigma * sigma));
}

TEST(FindPeaks, ParabolaRefinementIsExactOnAParabola) {
  const Profile1D p = sampled([](double x) { return 1.0 - 1e6 * (x - 0.013e-3) * (x - 0.013e-3); }, -0.2e-3, 0.05e-3, 9);
  const auto peaks = find_peaks(p, 0.0);
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_EQ(peaks[0].index, 4u);
  EXPECT_NEAR(peaks[0].position_m, 0.013e-3, 1e-12);
  EXPECT_NEAR(peaks[0].value, 1.0, 1e-12);
}

TEST(FindPeaks, FindsPeaksAboveThresholdSortedByPosition) {
  const auto f = [](double x) {
    return gaussian(x, 1.23e-3, 0.3e-3, 2.0) + gaussian(x, -2.07e-3, 0.3e-3, 1.0) + gaussian(x, 4.0e-3, 0.3e-3, 0.3);
  };
  const Profile1D p = sampled(f, -6e-3, 0.02e-3, 600);
  const auto peaks = find_peaks(p);  // 0.25 of 2.0: the 0.3 peak is dropped
  ASSERT_EQ(peaks.size(), 2u);
  EXPECT_NEAR(peaks[0].position_m, -2.07e-3, 1e-6);
  EXPECT_NEAR(peaks[1].position_m, 1.23e-3, 1e-6);
  EXPECT_NEAR(peaks[1].value, 2.0, 1e-3);
  EXPECT_EQ(find_peaks(p, 0.1).size(), 3u);
  EXPECT_THROW(find_peaks(p, 1.5), std::invalid_argument);
}

TEST(FindPeaks, EndsAndNonPositiveProfilesHaveNoPeaks) {
  const Profile1D rising_ramp = sampled([](double x) { return x; }, 0.0, 1.0, 10);
  EXPECT_TRUE(find_peaks(rising_ramp).empty());
  const Profile1D negative = sampled([](double x) { return -1.0 - x * x; }, -5.0, 1.0, 11);
  EXPECT_TRUE(find_peaks(negative).empty());
}

TEST(FwhmM, MatchesGaussianWidth) {
  const double sigma = 0.3e-3;
  const Profile1D p = sampled([&](double x) { return gaussian(x, 0.417e-3, sigma, 1.0); }, -3e-3, 0.02e-3, 300);
  const auto peaks = find_peaks(p);
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_NEAR(fwhm_m(p, peaks[0]), 2.0 * std::sqrt(2.0 * std::log(2.0)) * sigma, 0.002 * sigma);
}

TEST(FwhmM, IsNaNWithoutHalfMaximumCrossingAndThrowsForBadIndex) {
  const Profile1D p = sampled([](double x) { return gaussian(x, 0.0, 1.0, 1.0); }, -1.0, 0.1, 21);
  const auto peaks = find_peaks(p);
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_TRUE(std::isnan(fwhm_m(p, peaks[0])));
  Peak outside = peaks[0];
  outside.index = 21;
  EXPECT_THROW((void)fwhm_m(p, outside), std::invalid_argument);
}

TEST(ProfileAnalysis, SkipsNaNPixels) {
  const double sigma = 0.3e-3;
  const auto f = [&](double x) { return gaussian(x, -1.5e-3, sigma, 1.0) + gaussian(x, 1.5e-3, sigma, 1.0); };
  Profile1D p = sampled(f, -4e-3, 0.02e-3, 400);
  const auto clean = find_peaks(p);
  ASSERT_EQ(clean.size(), 2u);
  const double clean_fwhm = fwhm_m(p, clean[0]);
  const double clean_dip = dip_ratio(p, clean[0], clean[1]);
  // Unsampled pixels at the edges, beside a peak, on its half-maximum flank and at the dip.
  for (std::size_t i : {0u, 1u, 2u, 398u, 399u, 126u, 141u, 199u, 200u}) p.values[i] = kNaN;
  const auto peaks = find_peaks(p);
  ASSERT_EQ(peaks.size(), 2u);
  EXPECT_NEAR(peaks[0].position_m, -1.5e-3, 1e-6);
  EXPECT_NEAR(fwhm_m(p, peaks[0]), clean_fwhm, 0.01 * clean_fwhm);
  EXPECT_NEAR(dip_ratio(p, peaks[0], peaks[1]), clean_dip, 0.02 * clean_dip + 1e-6);
}

TEST(DipRatio, IsMinimumBetweenPeaksOverSmallerPeak) {
  const double sigma = 0.4e-3;
  const auto f = [&](double x) { return gaussian(x, -0.6e-3, sigma, 1.0) + gaussian(x, 0.6e-3, sigma, 0.8); };
  const Profile1D p = sampled(f, -3e-3, 0.01e-3, 600);
  const auto peaks = find_peaks(p);
  ASSERT_EQ(peaks.size(), 2u);
  // Minimum of f between the peaks, by dense search.
  double minimum = 10.0;
  for (double x = peaks[0].position_m; x <= peaks[1].position_m; x += 1e-7) minimum = std::min(minimum, f(x));
  EXPECT_NEAR(dip_ratio(p, peaks[0], peaks[1]), minimum / peaks[1].value, 1e-3);
  EXPECT_NEAR(dip_ratio(p, peaks[1], peaks[0]), minimum / peaks[1].value, 1e-3);
  EXPECT_DOUBLE_EQ(dip_ratio(p, peaks[0], peaks[0]), 1.0);
}

}  // namespace
}  // namespace mpi::recon
