#include "mpi/firmware/scanner_limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

namespace mpi::firmware {

double drive_limit_t(const config::ScannerDescription& scanner, std::size_t channel) noexcept {
  if (channel >= scanner.drive.size()) return 0.0;
  return std::min(scanner.drive[channel].max_amplitude_t, scanner.safety.max_field_t);
}

std::vector<std::string> adc_channel_names(const config::ScannerDescription& scanner) {
  std::vector<std::string> names;
  names.reserve(scanner.adc_channels());
  for (const config::ReceiveChannelDescription& r : scanner.receive.channels) names.push_back(r.name);
  for (const config::DriveChannelDescription& d : scanner.drive) names.push_back("ref_" + d.name);
  return names;
}

double strongest_gradient_t_per_m(const config::ScannerDescription& scanner) noexcept {
  // Eigenvalues of the symmetric 3x3 matrix in closed form (trigonometric solution of the characteristic
  // cubic), after symmetrising to be safe against rounding in the file.
  const config::Mat3& g = scanner.selection.gradient_t_per_m;
  std::array<std::array<double, 3>, 3> a{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) a[i][j] = 0.5 * (g[i][j] + g[j][i]);
  }
  const double p1 = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
  std::array<double, 3> eig{a[0][0], a[1][1], a[2][2]};
  if (p1 > 0.0) {
    const double q = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
    const double p2 = (a[0][0] - q) * (a[0][0] - q) + (a[1][1] - q) * (a[1][1] - q) + (a[2][2] - q) * (a[2][2] - q) + 2.0 * p1;
    const double p = std::sqrt(p2 / 6.0);
    std::array<std::array<double, 3>, 3> b{};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) b[i][j] = (a[i][j] - (i == j ? q : 0.0)) / p;
    }
    const double det = b[0][0] * (b[1][1] * b[2][2] - b[1][2] * b[2][1]) - b[0][1] * (b[1][0] * b[2][2] - b[1][2] * b[2][0]) +
                       b[0][2] * (b[1][0] * b[2][1] - b[1][1] * b[2][0]);
    const double phi = std::acos(std::clamp(det / 2.0, -1.0, 1.0)) / 3.0;
    eig[0] = q + 2.0 * p * std::cos(phi);
    eig[2] = q + 2.0 * p * std::cos(phi + 2.0 * std::numbers::pi / 3.0);
    eig[1] = 3.0 * q - eig[0] - eig[2];
  }
  double strongest = 0.0;
  for (const double e : eig) {
    if (std::abs(e) > std::abs(strongest)) strongest = e;
  }
  return strongest;
}

std::string board_mismatch(const config::ScannerDescription& scanner, const BoardGeometry& board) {
  const auto differs = [](const char* key, auto described, auto reported) {
    return fmt::format("{}: the scanner description says {}, the board reports {}", key, described, reported);
  };
  if (static_cast<double>(scanner.board.dac_clock_hz) != board.dac_clock_hz) {
    return differs("[board] dac_clock", fmt::format("{} Hz", scanner.board.dac_clock_hz), fmt::format("{} Hz", board.dac_clock_hz));
  }
  if (scanner.board.adc_decimation != board.adc_decimation) {
    return differs("[board] adc_decimation", scanner.board.adc_decimation, board.adc_decimation);
  }
  if (scanner.drive.size() != board.drive_channels) {
    return differs("[[drive]]", fmt::format("{} drive channel(s)", scanner.drive.size()), fmt::format("{}", board.drive_channels));
  }
  if (scanner.receive.channels.size() != board.receive_channels) {
    return differs("[[receive.channel]]", fmt::format("{} receive channel(s)", scanner.receive.channels.size()),
                   fmt::format("{}", board.receive_channels));
  }
  if (scanner.offset.size() > board.offset_channels) {
    return differs("[[offset]]", fmt::format("{} offset channel(s)", scanner.offset.size()), fmt::format("{}", board.offset_channels));
  }
  if (scanner.adc_channels() != board.adc_channels) {
    return differs("[[receive.channel]]", fmt::format("{} ADC channels (receive channels and one reference per drive)", scanner.adc_channels()),
                   fmt::format("{}", board.adc_channels));
  }
  return {};
}

}  // namespace mpi::firmware
