#include "mpi/recon/feedthrough.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

Eigen::MatrixXcd ramp(Eigen::Index bins, Eigen::Index channels) {
  Eigen::MatrixXcd s(bins, channels);
  for (Eigen::Index c = 0; c < channels; ++c) {
    for (Eigen::Index k = 0; k < bins; ++k) s(k, c) = {1.0 + static_cast<double>(k), 0.5 + static_cast<double>(c)};
  }
  return s;
}

TEST(FeedthroughFilter, ZeroesDriveFundamentalsAndSecondHarmonics) {
  const std::uint32_t dividers[] = {102, 96};  // bins 16 and 17 of a 1632-sample frame
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 2);
  FeedthroughOptions o;
  o.second_harmonics = true;
  const FeedthroughFilter f(g, o);
  const Eigen::MatrixXcd in = ramp(817, 2);
  Eigen::MatrixXcd s = in;
  f.apply(s);
  const std::vector<Eigen::Index> zeroed = {0, 16, 17, 32, 34};
  for (Eigen::Index c = 0; c < 2; ++c) {
    for (Eigen::Index k = 0; k < 817; ++k) {
      const bool z = std::find(zeroed.begin(), zeroed.end(), k) != zeroed.end();
      EXPECT_EQ(s(k, c), z ? std::complex<double>(0.0) : in(k, c)) << "bin " << k << " channel " << c;
      EXPECT_EQ(f.usable(static_cast<std::size_t>(k), static_cast<std::size_t>(c)), !z);
    }
  }
  EXPECT_EQ(f.usable_bins(1).size(), 817u - 5u);
  o.second_harmonics = false;
  Eigen::MatrixXcd s2 = in;
  FeedthroughFilter(g, o).apply(s2);
  EXPECT_EQ(s2(32, 0), in(32, 0));
  EXPECT_EQ(s2(16, 1), std::complex<double>(0.0));
}

TEST(FeedthroughFilter, BandLimitDropsBinsBelow80kHz) {
  const std::uint32_t dividers[] = {102, 96};
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 3);
  FeedthroughOptions o;
  o.min_frequency_hz = 80e3;
  o.max_frequency_hz = 1.0e6;
  FeedthroughFilter f(g, o);
  const double df = 2.5e6 / 1632.0;
  const Eigen::MatrixXcd in = ramp(817, 3);
  Eigen::MatrixXcd s = in;
  f.apply(s);
  for (Eigen::Index k = 0; k < 817; ++k) {
    const double hz = static_cast<double>(k) * df;
    const bool keep = hz >= 80e3 && hz <= 1.0e6;
    for (Eigen::Index c = 0; c < 3; ++c) EXPECT_EQ(s(k, c), keep ? in(k, c) : std::complex<double>(0.0)) << k;
  }
  EXPECT_EQ(f.usable_bins(0).front(), 53u);  // 52 * 1531.9 Hz = 79.7 kHz
  // An extra line on one channel only.
  f.suppress(100, 2);
  Eigen::MatrixXcd s3 = in;
  f.apply(s3);
  EXPECT_EQ(s3(100, 2), std::complex<double>(0.0));
  EXPECT_EQ(s3(100, 1), in(100, 1));
  EXPECT_FALSE(f.usable(100, 2));
  EXPECT_THROW(f.suppress(817, 0), std::out_of_range);
  Eigen::MatrixXcd two_channels = Eigen::MatrixXcd::Zero(817, 2);
  EXPECT_THROW(f.apply(two_channels), std::invalid_argument);
}

TEST(FeedthroughFilter, RejectsInvalidBand) {
  const FrameGeometry g = FrameGeometry::periodic(102, 1, 1, 2.5e6);
  FeedthroughOptions o;
  o.min_frequency_hz = 2e5;
  o.max_frequency_hz = 1e5;
  EXPECT_THROW(FeedthroughFilter(g, o), std::invalid_argument);
  o.min_frequency_hz = -1.0;
  o.max_frequency_hz = 1e5;
  EXPECT_THROW(FeedthroughFilter(g, o), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
