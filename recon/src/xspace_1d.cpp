#include "mpi/recon/xspace_1d.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Upper bound on the image size: a guard against a pixel step given in the wrong unit.
constexpr double kMaxPixels = 1e7;
// DC recovery uses the outermost fraction of the sampled extent on each side.
constexpr double kDcEdgeFraction = 0.05;

[[noreturn]] void bad(const std::string& field, const std::string& rule, double got) {
  std::ostringstream os;
  os << "x-space 1D: " << field << ' ' << rule << " (got " << got << ')';
  throw std::invalid_argument(os.str());
}

// Whole pixels in the FOV; a ratio within rounding of an integer counts as that integer.
std::size_t pixel_count(const XSpace1DConfig& c) {
  const double ratio = (c.fov_max_m - c.fov_min_m) / c.pixel_m;
  const double nearest = std::round(ratio);
  return static_cast<std::size_t>(std::abs(ratio - nearest) <= 1e-6 * std::max(1.0, ratio) ? nearest : std::floor(ratio));
}

// Per-direction accumulation of half-cycle values on the pixel grid.
struct DirectionGrid {
  std::vector<double> sum;
  std::vector<int> hits;

  explicit DirectionGrid(std::size_t n) : sum(n, 0.0), hits(n, 0) {}

  [[nodiscard]] std::vector<double> mean() const {
    std::vector<double> out(sum.size(), kNaN);
    for (std::size_t i = 0; i < sum.size(); ++i) {
      if (hits[i] > 0) out[i] = sum[i] / hits[i];
    }
    return out;
  }
};

// One half-cycle: samples (x ascending) of a single scan direction.
struct HalfCycle {
  std::vector<double> x;
  std::vector<double> value;
  int direction = 0;  // +1 rising, -1 falling

  void clear() {
    x.clear();
    value.clear();
    direction = 0;
  }
};

// Interpolates a half-cycle linearly onto the pixel centres it spans.
void grid_half_cycle(HalfCycle& hc, double first_centre_m, double pixel_m, DirectionGrid& grid) {
  if (hc.x.size() < 2) return;
  if (hc.x.front() > hc.x.back()) {
    std::reverse(hc.x.begin(), hc.x.end());
    std::reverse(hc.value.begin(), hc.value.end());
  }
  const auto n = static_cast<double>(grid.sum.size());
  double lo = std::ceil((hc.x.front() - first_centre_m) / pixel_m);
  double hi = std::floor((hc.x.back() - first_centre_m) / pixel_m);
  lo = std::max(lo, 0.0);
  hi = std::min(hi, n - 1.0);
  if (hi < lo) return;
  std::size_t j = 0;
  const std::size_t last_pair = hc.x.size() - 2;
  for (auto i = static_cast<std::size_t>(lo); i <= static_cast<std::size_t>(hi); ++i) {
    const double c = first_centre_m + static_cast<double>(i) * pixel_m;
    while (j < last_pair && hc.x[j + 1] < c) ++j;
    const double dx = hc.x[j + 1] - hc.x[j];
    const double w = dx > 0.0 ? std::clamp((c - hc.x[j]) / dx, 0.0, 1.0) : 0.0;
    grid.sum[i] += (1.0 - w) * hc.value[j] + w * hc.value[j + 1];
    grid.hits[i] += 1;
  }
}

// Shifts an image so that the mean over the outermost 5 % of its sampled extent on each side is zero.
void recover_dc(std::vector<double>& image) {
  std::size_t first = image.size(), last = 0;
  for (std::size_t i = 0; i < image.size(); ++i) {
    if (std::isfinite(image[i])) {
      first = std::min(first, i);
      last = i;
    }
  }
  if (first >= image.size()) return;
  const std::size_t extent = last - first + 1;
  const auto edge = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(kDcEdgeFraction * static_cast<double>(extent))));
  double sum = 0.0;
  int count = 0;
  for (std::size_t i = first; i <= last; ++i) {
    const bool outer = i < first + edge || i + edge > last;
    if (outer && std::isfinite(image[i])) {
      sum += image[i];
      ++count;
    }
  }
  if (count == 0) return;
  const double offset = sum / count;
  for (double& v : image) {
    if (std::isfinite(v)) v -= offset;
  }
}

}  // namespace

void throw_if_invalid(const XSpace1DConfig& c) {
  if (!(std::isfinite(c.gradient_t_per_m) && c.gradient_t_per_m != 0.0)) bad("gradient_t_per_m", "must be finite and non-zero", c.gradient_t_per_m);
  if (!(std::isfinite(c.pixel_m) && c.pixel_m > 0.0)) bad("pixel_m", "must be positive and finite", c.pixel_m);
  if (!std::isfinite(c.fov_min_m)) bad("fov_min_m", "must be finite", c.fov_min_m);
  if (!std::isfinite(c.fov_max_m)) bad("fov_max_m", "must be finite", c.fov_max_m);
  if (!(c.fov_max_m > c.fov_min_m)) bad("fov_max_m", "must exceed fov_min_m " + std::to_string(c.fov_min_m) + " (empty FOV)", c.fov_max_m);
  const double pixels = (c.fov_max_m - c.fov_min_m) / c.pixel_m;
  if (pixels > kMaxPixels) bad("pixel_m", "gives more than 1e7 pixels over the FOV", c.pixel_m);
  if (pixel_count(c) == 0) bad("pixel_m", "is larger than the FOV (fov_max_m - fov_min_m); no pixel fits", c.pixel_m);
  if (!(c.min_speed_fraction >= 0.0 && c.min_speed_fraction < 1.0)) bad("min_speed_fraction", "must be in [0, 1)", c.min_speed_fraction);
  if (!(std::isfinite(c.signal_scale) && c.signal_scale != 0.0)) bad("signal_scale", "must be finite and non-zero", c.signal_scale);
}

Profile1D reconstruct_xspace_1d(std::span<const double> signal_v, std::uint64_t first_sample, double sample_rate_hz,
                                const SineDrive& drive, const XSpace1DConfig& config) {
  throw_if_invalid(config);
  if (!(std::isfinite(sample_rate_hz) && sample_rate_hz > 0.0)) bad("sample_rate_hz", "must be positive and finite", sample_rate_hz);
  if (!(std::isfinite(drive.amplitude_t) && drive.amplitude_t != 0.0)) bad("drive.amplitude_t", "must be finite and non-zero", drive.amplitude_t);
  if (!(std::isfinite(drive.frequency_hz) && drive.frequency_hz > 0.0)) bad("drive.frequency_hz", "must be positive and finite", drive.frequency_hz);
  if (!std::isfinite(drive.phase_rad)) bad("drive.phase_rad", "must be finite", drive.phase_rad);
  for (std::size_t i = 0; i < signal_v.size(); ++i) {
    if (!std::isfinite(signal_v[i])) bad("signal_v[" + std::to_string(i) + "]", "must be finite", signal_v[i]);
  }

  const std::size_t n = pixel_count(config);
  const double first_centre = config.fov_min_m + 0.5 * config.pixel_m;
  const double g = config.gradient_t_per_m;
  const double peak_rate = std::abs(drive.amplitude_t) * 2.0 * std::numbers::pi * drive.frequency_hz;
  const double min_rate = config.min_speed_fraction * peak_rate;  // |v| = |dB_D/dt| / |G|

  DirectionGrid rising(n), falling(n);
  HalfCycle hc;
  auto flush = [&] {
    if (hc.direction > 0) grid_half_cycle(hc, first_centre, config.pixel_m, rising);
    if (hc.direction < 0) grid_half_cycle(hc, first_centre, config.pixel_m, falling);
    hc.clear();
  };
  for (std::size_t i = 0; i < signal_v.size(); ++i) {
    const double t = static_cast<double>(first_sample + i) / sample_rate_hz;
    const double rate = drive_field_rate_t_per_s(drive, t);
    if (rate == 0.0 || std::abs(rate) < min_rate) {
      flush();
      continue;
    }
    const int direction = ffp_velocity_m_per_s(rate, g) > 0.0 ? 1 : -1;
    if (direction != hc.direction) flush();
    hc.direction = direction;
    hc.x.push_back(ffp_position_m(drive_field_t(drive, t), g));
    hc.value.push_back(signal_v[i] / (-config.signal_scale * rate));
  }
  flush();

  Profile1D out;
  out.first_pixel_centre_m = first_centre;
  out.pixel_m = config.pixel_m;
  out.rising = rising.mean();
  out.falling = falling.mean();
  if (config.dc_recovery) {
    recover_dc(out.rising);
    recover_dc(out.falling);
  }
  out.values.assign(n, kNaN);
  for (std::size_t i = 0; i < n; ++i) {
    const double r = out.rising[i], f = out.falling[i];
    if (std::isfinite(r) && std::isfinite(f)) out.values[i] = 0.5 * (r + f);
    else if (std::isfinite(r)) out.values[i] = r;
    else if (std::isfinite(f)) out.values[i] = f;
  }
  return out;
}

}  // namespace mpi::recon
