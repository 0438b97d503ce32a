// What the firmware takes from the scanner description: channel names, per-channel limits, the strongest
// gradient axis (checked against eigenvalues known by construction) and the board check.
#include "mpi/firmware/scanner_limits.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace mpi::firmware {
namespace {

config::ScannerDescription two_channel_scanner() {
  config::ScannerDescription s;
  s.board.dac_clock_hz = 125'000'000;
  s.board.adc_decimation = 8;
  config::DriveChannelDescription x;
  x.name = "x";
  x.max_amplitude_t = 0.016;
  config::DriveChannelDescription y = x;
  y.name = "y";
  y.max_amplitude_t = 0.050;
  s.drive = {x, y};
  config::ReceiveChannelDescription rx;
  rx.name = "rx_x";
  config::ReceiveChannelDescription ry = rx;
  ry.name = "rx_y";
  s.receive.channels = {rx, ry};
  s.safety.max_field_t = 0.040;
  return s;
}

BoardGeometry matching_board() {
  BoardGeometry b;
  b.dac_clock_hz = 125e6;
  b.adc_decimation = 8;
  b.drive_channels = 2;
  b.receive_channels = 2;
  b.adc_channels = 4;
  return b;
}

// R diag(l0, l1, l2) R^T for a rotation R about the axis (1, 2, 3) by 0.7 rad (Rodrigues' formula).
config::Mat3 rotated_diagonal(double l0, double l1, double l2) {
  const double n = std::sqrt(14.0);
  const double k[3] = {1.0 / n, 2.0 / n, 3.0 / n};
  const double c = std::cos(0.7);
  const double s = std::sin(0.7);
  double r[3][3];
  const double cross[3][3] = {{0, -k[2], k[1]}, {k[2], 0, -k[0]}, {-k[1], k[0], 0}};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) r[i][j] = (i == j ? c : 0.0) + s * cross[i][j] + (1.0 - c) * k[i] * k[j];
  }
  const double l[3] = {l0, l1, l2};
  config::Mat3 m{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int q = 0; q < 3; ++q) m[i][j] += r[i][q] * l[q] * r[j][q];
    }
  }
  return m;
}

TEST(ScannerLimits, AdcChannelNamesAreReceiveChannelsThenReferences) {
  const auto names = adc_channel_names(two_channel_scanner());
  ASSERT_EQ(names.size(), 4U);
  EXPECT_EQ(names[0], "rx_x");
  EXPECT_EQ(names[1], "rx_y");
  EXPECT_EQ(names[2], "ref_x");
  EXPECT_EQ(names[3], "ref_y");
}

TEST(ScannerLimits, DriveLimitIsTheLowerOfCoilLimitAndFieldCap) {
  const auto s = two_channel_scanner();
  EXPECT_DOUBLE_EQ(drive_limit_t(s, 0), 0.016);  // the coil
  EXPECT_DOUBLE_EQ(drive_limit_t(s, 1), 0.040);  // the [safety] cap
  EXPECT_DOUBLE_EQ(drive_limit_t(s, 2), 0.0);    // no such channel
}

TEST(ScannerLimits, StrongestGradientIsTheLargestEigenvalueWithItsSign) {
  auto s = two_channel_scanner();
  s.selection.gradient_t_per_m = {{{-1.0, 0.0, 0.0}, {0.0, -1.0, 0.0}, {0.0, 0.0, 2.0}}};
  EXPECT_NEAR(strongest_gradient_t_per_m(s), 2.0, 1e-12);
  s.selection.gradient_t_per_m = {{{2.0, 0.0, 0.0}, {0.0, -1.0, 0.0}, {0.0, 0.0, -1.0}}};
  EXPECT_NEAR(strongest_gradient_t_per_m(s), 2.0, 1e-12);
  s.selection.gradient_t_per_m = {{{6.0, 0.0, 0.0}, {0.0, -3.0, 0.0}, {0.0, 0.0, -3.0}}};
  EXPECT_NEAR(strongest_gradient_t_per_m(s), 6.0, 1e-12);
  s.selection.gradient_t_per_m = rotated_diagonal(1.2, 0.8, -2.0);
  EXPECT_NEAR(strongest_gradient_t_per_m(s), -2.0, 1e-12);
  s.selection.gradient_t_per_m = rotated_diagonal(-0.5, 2.5, -2.0);
  EXPECT_NEAR(strongest_gradient_t_per_m(s), 2.5, 1e-12);
  s.selection.gradient_t_per_m = {};
  EXPECT_EQ(strongest_gradient_t_per_m(s), 0.0);  // a spectrometer
}

TEST(ScannerLimits, MatchingBoardHasNoMismatch) { EXPECT_EQ(board_mismatch(two_channel_scanner(), matching_board()), ""); }

TEST(ScannerLimits, EachBoardMismatchNamesTheKeyAndBothValues) {
  const auto s = two_channel_scanner();
  BoardGeometry b = matching_board();
  b.adc_decimation = 125;
  EXPECT_EQ(board_mismatch(s, b), "[board] adc_decimation: the scanner description says 8, the board reports 125");
  b = matching_board();
  b.dac_clock_hz = 250e6;
  EXPECT_EQ(board_mismatch(s, b), "[board] dac_clock: the scanner description says 125000000 Hz, the board reports 250000000 Hz");
  b = matching_board();
  b.drive_channels = 1;
  EXPECT_EQ(board_mismatch(s, b), "[[drive]]: the scanner description says 2 drive channel(s), the board reports 1");
  b = matching_board();
  b.receive_channels = 1;
  EXPECT_EQ(board_mismatch(s, b), "[[receive.channel]]: the scanner description says 2 receive channel(s), the board reports 1");
  b = matching_board();
  b.adc_channels = 3;
  EXPECT_NE(board_mismatch(s, b).find("4 ADC channels"), std::string::npos) << board_mismatch(s, b);
}

TEST(ScannerLimits, ReferencePickupFollowsTheReceiveChannels) {
  const BoardGeometry b = matching_board();
  EXPECT_EQ(b.reference_channel(0), 2U);
  EXPECT_EQ(b.reference_channel(1), 3U);
}

}  // namespace
}  // namespace mpi::firmware
