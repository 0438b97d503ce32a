#include "mpi/recon/profile_analysis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace mpi::recon {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool finite_at(const Profile1D& p, std::size_t i) { return i < p.values.size() && std::isfinite(p.values[i]); }

std::optional<std::size_t> previous_finite(const Profile1D& p, std::size_t i) {
  while (i > 0) {
    --i;
    if (std::isfinite(p.values[i])) return i;
  }
  return std::nullopt;
}

std::optional<std::size_t> next_finite(const Profile1D& p, std::size_t i) {
  for (++i; i < p.values.size(); ++i) {
    if (std::isfinite(p.values[i])) return i;
  }
  return std::nullopt;
}

void check_peak(const char* where, const Profile1D& p, const Peak& peak) {
  if (!finite_at(p, peak.index)) {
    throw std::invalid_argument(std::string(where) + ": peak index " + std::to_string(peak.index) +
                                " is outside the profile of " + std::to_string(p.values.size()) +
                                " pixels or on an unsampled pixel");
  }
}

// Vertex of the parabola through three points (x in metres relative to the middle one).
Peak refine(const Profile1D& p, std::size_t left, std::size_t mid, std::size_t right) {
  const double x1 = p.pixel_centre_m(mid);
  const double x0 = p.pixel_centre_m(left) - x1, x2 = p.pixel_centre_m(right) - x1;
  const double y0 = p.values[left], y1 = p.values[mid], y2 = p.values[right];
  // y = a x^2 + b x + y1 through (x0, y0), (0, y1), (x2, y2).
  const double s0 = (y1 - y0) / (0.0 - x0), s2 = (y2 - y1) / x2;
  const double a = (s2 - s0) / (x2 - x0);
  const double b = s0 - a * x0;
  if (!(a < 0.0)) return {x1, y1, mid};
  const double xv = std::clamp(-b / (2.0 * a), x0, x2);
  return {x1 + xv, y1 + b * xv + a * xv * xv, mid};
}

// Linear-interpolated position where the profile crosses `level` walking away from `from` in `step`.
double half_crossing(const Profile1D& p, std::size_t from, double level, bool leftwards) {
  std::size_t inside = from;
  for (;;) {
    const auto next = leftwards ? previous_finite(p, inside) : next_finite(p, inside);
    if (!next) return kNaN;
    const double v = p.values[*next];
    if (v <= level) {
      const double vi = p.values[inside];
      const double xi = p.pixel_centre_m(inside), xn = p.pixel_centre_m(*next);
      const double w = vi == v ? 0.0 : (vi - level) / (vi - v);
      return xi + w * (xn - xi);
    }
    inside = *next;
  }
}

}  // namespace

std::vector<Peak> find_peaks(const Profile1D& p, double min_relative_height) {
  if (!(min_relative_height >= 0.0 && min_relative_height <= 1.0)) {
    throw std::invalid_argument("find_peaks: min_relative_height must be in [0, 1] (got " +
                                std::to_string(min_relative_height) + ")");
  }
  double global_max = -std::numeric_limits<double>::infinity();
  for (double v : p.values) {
    if (std::isfinite(v)) global_max = std::max(global_max, v);
  }
  std::vector<Peak> peaks;
  if (!(global_max > 0.0)) return peaks;
  const double threshold = min_relative_height * global_max;
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    const double v = p.values[i];
    if (!std::isfinite(v) || v < threshold) continue;
    const auto left = previous_finite(p, i);
    const auto right = next_finite(p, i);
    if (!left || !right) continue;
    // Strict on the left, not on the right: a flat top counts once, at its first pixel.
    if (v > p.values[*left] && v >= p.values[*right]) peaks.push_back(refine(p, *left, i, *right));
  }
  std::sort(peaks.begin(), peaks.end(), [](const Peak& a, const Peak& b) { return a.position_m < b.position_m; });
  return peaks;
}

double fwhm_m(const Profile1D& p, const Peak& peak) {
  check_peak("fwhm_m", p, peak);
  const double half = 0.5 * peak.value;
  const double left = half_crossing(p, peak.index, half, true);
  const double right = half_crossing(p, peak.index, half, false);
  return right - left;
}

double dip_ratio(const Profile1D& p, const Peak& a, const Peak& b) {
  check_peak("dip_ratio", p, a);
  check_peak("dip_ratio", p, b);
  const std::size_t lo = std::min(a.index, b.index), hi = std::max(a.index, b.index);
  const double smaller = std::min(a.value, b.value);
  double dip = smaller;
  for (std::size_t i = lo + 1; i < hi; ++i) {
    if (std::isfinite(p.values[i])) dip = std::min(dip, p.values[i]);
  }
  return dip / smaller;
}

}  // namespace mpi::recon
