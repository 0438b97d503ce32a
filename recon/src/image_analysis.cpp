#include "mpi/recon/image_analysis.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <sstream>

namespace mpi::recon {

namespace {

constexpr double kInsideTolerance_m = 1e-9;

std::string mm(double metres) {
  std::ostringstream s;
  s << metres * 1e3 << " mm";
  return s.str();
}

std::string mm3(const Eigen::Vector3d& v) {
  std::ostringstream s;
  s << "(" << v.x() * 1e3 << ", " << v.y() * 1e3 << ", " << v.z() * 1e3 << ") mm";
  return s.str();
}

const char* axis_name(std::size_t axis) { return axis == 0 ? "x" : axis == 1 ? "y" : "z"; }

// Nearest voxel index along one axis, or nullopt when the coordinate is outside by more than half a pixel.
std::optional<std::size_t> nearest_index(const AnalysisImage& image, std::size_t axis, double coordinate) {
  const std::size_t n = image.counts[axis];
  if (n == 1) return 0;  // a collapsed axis: every coordinate maps to its one voxel
  const double u = (coordinate - image.origin_m[static_cast<Eigen::Index>(axis)]) / image.pixel_m[static_cast<Eigen::Index>(axis)];
  const double r = std::round(u);
  if (u < -0.5 - 1e-9 || u > static_cast<double>(n) - 0.5 + 1e-9) return std::nullopt;
  return static_cast<std::size_t>(std::clamp(r, 0.0, static_cast<double>(n - 1)));
}

// ---- peak models: f(x) = A shape(x) + b with shape from the centre c and the FWHM w.

double model_value(PeakModel model, const std::array<double, 4>& p, double x) {
  const double d = x - p[1];
  const double w2 = p[2] * p[2];
  if (model == PeakModel::gaussian) return p[0] * std::exp(-4.0 * std::numbers::ln2 * d * d / w2) + p[3];
  return p[0] / (1.0 + 4.0 * d * d / w2) + p[3];
}

// The row of the Jacobian d f / d (A, c, w, b) at x.
Eigen::RowVector4d model_gradient(PeakModel model, const std::array<double, 4>& p, double x) {
  const double d = x - p[1];
  const double w = p[2];
  const double w2 = w * w;
  Eigen::RowVector4d g;
  if (model == PeakModel::gaussian) {
    const double k = 4.0 * std::numbers::ln2;
    const double e = std::exp(-k * d * d / w2);
    g << e, p[0] * e * 2.0 * k * d / w2, p[0] * e * 2.0 * k * d * d / (w2 * w), 1.0;
  } else {
    const double l = 1.0 / (1.0 + 4.0 * d * d / w2);
    g << l, p[0] * l * l * 8.0 * d / w2, p[0] * l * l * 8.0 * d * d / (w2 * w), 1.0;
  }
  return g;
}

double sum_of_squares(PeakModel model, const std::array<double, 4>& p, const std::vector<double>& x, const std::vector<double>& y) {
  double s = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = model_value(model, p, x[i]) - y[i];
    s += r * r;
  }
  return s;
}

}  // namespace

// ---- the image

Eigen::Vector3d AnalysisImage::centre_m(std::size_t voxel) const noexcept {
  const auto [ix, iy, iz] = indices(voxel);
  return origin_m + Eigen::Vector3d(static_cast<double>(ix) * pixel_m.x(), static_cast<double>(iy) * pixel_m.y(),
                                    static_cast<double>(iz) * pixel_m.z());
}

int AnalysisImage::dimensions() const noexcept {
  int d = 0;
  for (std::size_t n : counts) d += n > 1 ? 1 : 0;
  return d;
}

double AnalysisImage::voxel_measure() const noexcept {
  double m = 1.0;
  for (std::size_t a = 0; a < 3; ++a) {
    if (counts[a] > 1) m *= pixel_m[static_cast<Eigen::Index>(a)];
  }
  return m;
}

void throw_if_invalid(const AnalysisImage& image) {
  if (image.size() == 0 || image.values.empty()) throw std::invalid_argument("the image is empty");
  if (image.values.size() != image.size()) {
    throw std::invalid_argument("the image has " + std::to_string(image.values.size()) + " values for " + std::to_string(image.counts[0]) +
                                " x " + std::to_string(image.counts[1]) + " x " + std::to_string(image.counts[2]) + " voxels");
  }
  for (std::size_t a = 0; a < 3; ++a) {
    const double p = image.pixel_m[static_cast<Eigen::Index>(a)];
    if (image.counts[a] > 1 && !(std::isfinite(p) && p > 0.0)) {
      throw std::invalid_argument(std::string("the image's pixel size along ") + axis_name(a) + " is not positive");
    }
  }
  for (std::size_t i = 0; i < image.values.size(); ++i) {
    if (!std::isfinite(image.values[i])) {
      throw std::invalid_argument("the image's value at " + mm3(image.centre_m(i)) + " is not finite");
    }
  }
}

AnalysisImage image_from_samples(std::span<const Eigen::Vector3d> centres_m, std::span<const double> values) {
  if (centres_m.empty()) throw std::invalid_argument("the image is empty (no voxels)");
  if (centres_m.size() != values.size()) throw std::invalid_argument("the image has a different number of positions and values");
  AnalysisImage image;
  std::array<std::vector<double>, 3> grid;
  for (std::size_t a = 0; a < 3; ++a) {
    std::vector<double> c;
    c.reserve(centres_m.size());
    for (const auto& p : centres_m) {
      const double v = p[static_cast<Eigen::Index>(a)];
      if (!std::isfinite(v)) throw std::invalid_argument(std::string("a voxel's ") + axis_name(a) + " coordinate is not finite");
      c.push_back(v);
    }
    std::sort(c.begin(), c.end());
    // Distinct coordinates: values closer than 1 nm are the same.
    std::vector<double> distinct;
    for (double v : c) {
      if (distinct.empty() || v - distinct.back() > 1e-9) distinct.push_back(v);
    }
    const std::size_t n = distinct.size();
    image.counts[a] = n;
    image.origin_m[static_cast<Eigen::Index>(a)] = distinct.front();
    if (n > 1) {
      const double pitch = (distinct.back() - distinct.front()) / static_cast<double>(n - 1);
      for (std::size_t k = 0; k < n; ++k) {
        if (std::abs(distinct[k] - (distinct.front() + static_cast<double>(k) * pitch)) > 1e-6 * pitch) {
          throw std::invalid_argument(std::string("the voxel centres along ") + axis_name(a) + " are not evenly spaced (" + mm(distinct[k]) +
                                      " is not on the pitch of " + mm(pitch) + ")");
        }
      }
      image.pixel_m[static_cast<Eigen::Index>(a)] = pitch;
    }
    grid[a] = std::move(distinct);
  }
  if (image.size() != centres_m.size()) {
    throw std::invalid_argument("the image has " + std::to_string(centres_m.size()) + " voxels, but its coordinates span a grid of " +
                                std::to_string(image.counts[0]) + " x " + std::to_string(image.counts[1]) + " x " +
                                std::to_string(image.counts[2]) + " = " + std::to_string(image.size()));
  }
  image.values.assign(image.size(), std::numeric_limits<double>::quiet_NaN());
  std::vector<bool> seen(image.size(), false);
  for (std::size_t i = 0; i < centres_m.size(); ++i) {
    std::array<std::size_t, 3> idx{};
    for (std::size_t a = 0; a < 3; ++a) idx[a] = *nearest_index(image, a, centres_m[i][static_cast<Eigen::Index>(a)]);
    const std::size_t at = image.index(idx[0], idx[1], idx[2]);
    if (seen[at]) throw std::invalid_argument("the voxel at " + mm3(centres_m[i]) + " is given twice");
    seen[at] = true;
    image.values[at] = values[i];
  }
  throw_if_invalid(image);
  return image;
}

// ---- profiles

std::size_t max_voxel(const AnalysisImage& image) {
  throw_if_invalid(image);
  return static_cast<std::size_t>(std::max_element(image.values.begin(), image.values.end()) - image.values.begin());
}

LineProfile line_profile(const AnalysisImage& image, Axis axis, const std::optional<Eigen::Vector3d>& through_m) {
  throw_if_invalid(image);
  const auto a = static_cast<std::size_t>(axis);
  if (image.counts[a] < 2) throw std::invalid_argument(std::string("the image has a single voxel along ") + axis_name(a) + ": no profile along it");
  std::array<std::size_t, 3> idx{};
  if (through_m) {
    for (std::size_t k = 0; k < 3; ++k) {
      const auto i = nearest_index(image, k, (*through_m)[static_cast<Eigen::Index>(k)]);
      if (!i) throw std::invalid_argument("the point " + mm3(*through_m) + " lies outside the image along " + axis_name(k));
      idx[k] = *i;
    }
  } else {
    idx = image.indices(max_voxel(image));
  }
  LineProfile p;
  p.axis = axis;
  p.through_m = image.centre_m(image.index(idx[0], idx[1], idx[2]));
  for (std::size_t i = 0; i < image.counts[a]; ++i) {
    idx[a] = i;
    const std::size_t at = image.index(idx[0], idx[1], idx[2]);
    p.position_m.push_back(image.centre_m(at)[static_cast<Eigen::Index>(a)]);
    p.values.push_back(image.values[at]);
  }
  return p;
}

// ---- fits

const char* to_string(PeakModel model) noexcept { return model == PeakModel::gaussian ? "gaussian" : "lorentzian"; }

double PeakFit::operator()(double x) const noexcept { return model_value(model, parameters, x); }

PeakFit fit_peak(std::span<const double> x_in, std::span<const double> y_in, PeakModel model) {
  if (x_in.size() != y_in.size()) throw std::invalid_argument("peak fit: positions and values differ in number");
  std::vector<double> x, y;
  for (std::size_t i = 0; i < x_in.size(); ++i) {
    if (!std::isfinite(x_in[i])) throw std::invalid_argument("peak fit: a position is not finite");
    if (std::isnan(y_in[i])) continue;
    if (!std::isfinite(y_in[i])) throw std::invalid_argument("peak fit: a value is infinite");
    x.push_back(x_in[i]);
    y.push_back(y_in[i]);
  }
  const std::size_t n = x.size();
  if (n < 5) throw std::invalid_argument("peak fit: " + std::to_string(n) + " points, at least 5 are needed for 4 parameters");
  const auto [lo_it, hi_it] = std::minmax_element(y.begin(), y.end());
  const double lo = *lo_it, hi = *hi_it;
  if (!(hi > lo)) throw std::invalid_argument("peak fit: all values are equal, there is no peak");
  const auto [xlo_it, xhi_it] = std::minmax_element(x.begin(), x.end());
  const double span = *xhi_it - *xlo_it;
  if (!(span > 0.0)) throw std::invalid_argument("peak fit: all positions are equal");

  // Start: the maximum, the minimum as offset, the extent above half maximum as width (at least one pitch).
  const std::size_t top = static_cast<std::size_t>(hi_it - y.begin());
  std::array<double, 4> p{hi - lo, x[top], 0.0, lo};
  double above_lo = x[top], above_hi = x[top];
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] >= lo + 0.5 * (hi - lo)) {
      above_lo = std::min(above_lo, x[i]);
      above_hi = std::max(above_hi, x[i]);
    }
  }
  const double pitch = span / static_cast<double>(n - 1);
  p[2] = std::max(above_hi - above_lo, pitch);

  PeakFit fit;
  fit.model = model;
  fit.points = n;
  double cost = sum_of_squares(model, p, x, y);
  double mu = 1e-3;
  bool converged = false;
  Eigen::MatrixXd jac(static_cast<Eigen::Index>(n), 4);
  Eigen::VectorXd r(static_cast<Eigen::Index>(n));
  constexpr std::size_t kMaxIterations = 500;
  for (std::size_t it = 0; it < kMaxIterations && !converged; ++it) {
    fit.iterations = it + 1;
    for (std::size_t i = 0; i < n; ++i) {
      const auto row = static_cast<Eigen::Index>(i);
      jac.row(row) = model_gradient(model, p, x[i]);
      r(row) = model_value(model, p, x[i]) - y[i];
    }
    const Eigen::Matrix4d jtj = jac.transpose() * jac;
    const Eigen::Vector4d jtr = jac.transpose() * r;
    // Try steps with growing damping until one lowers the cost.
    bool improved = false;
    for (int attempt = 0; attempt < 60 && !improved; ++attempt) {
      Eigen::Matrix4d a = jtj;
      for (int k = 0; k < 4; ++k) a(k, k) += mu * std::max(jtj(k, k), 1e-300);
      const Eigen::Vector4d step = a.ldlt().solve(-jtr);
      if (!step.allFinite()) {
        mu *= 10.0;
        continue;
      }
      std::array<double, 4> q{p[0] + step(0), p[1] + step(1), p[2] + step(2), p[3] + step(3)};
      if (q[2] == 0.0) {
        mu *= 10.0;
        continue;
      }
      const double c = sum_of_squares(model, q, x, y);
      if (std::isfinite(c) && c <= cost) {
        const double relative_drop = cost > 0.0 ? (cost - c) / cost : 0.0;
        double relative_step = 0.0;
        for (int k = 0; k < 4; ++k) {
          const double scale = k == 1 ? std::abs(p[2]) : std::max(std::abs(p[k]), k == 2 ? pitch : std::abs(hi - lo));
          relative_step = std::max(relative_step, std::abs(step(k)) / scale);
        }
        p = q;
        cost = c;
        mu = std::max(mu / 3.0, 1e-12);
        improved = true;
        if (relative_drop < 1e-12 || relative_step < 1e-10 || c == 0.0) converged = true;
      } else {
        mu *= 4.0;
      }
      if (mu > 1e16) break;
    }
    if (!improved) converged = true;  // no step lowers the cost: at a minimum (within rounding)
    if (std::abs(p[2]) < 0.05 * pitch) {
      throw FitError(std::string(to_string(model)) + " fit: the width shrinks below a twentieth of the sampling pitch (the data "
                     "prefer a narrower peak than the pixels resolve; the FWHM is not determined)");
    }
  }
  if (!converged) throw FitError(std::string(to_string(model)) + " fit did not converge in " + std::to_string(kMaxIterations) + " iterations");
  p[2] = std::abs(p[2]);  // the models depend on fwhm^2 only
  if (!std::isfinite(p[0]) || !std::isfinite(p[1]) || !std::isfinite(p[3]) || !std::isfinite(p[2]) || p[2] == 0.0) {
    throw FitError(std::string(to_string(model)) + " fit diverged");
  }
  // Covariance: s^2 (J^T J)^-1 at the solution.
  for (std::size_t i = 0; i < n; ++i) jac.row(static_cast<Eigen::Index>(i)) = model_gradient(model, p, x[i]);
  const Eigen::Matrix4d jtj = jac.transpose() * jac;
  Eigen::FullPivLU<Eigen::Matrix4d> lu(jtj);
  lu.setThreshold(1e-12);
  if (lu.rank() < 4) {
    throw FitError(std::string(to_string(model)) + " fit: the parameters are not determined by the data (singular normal matrix; "
                   "is the peak wider than the profile or narrower than a pixel?)");
  }
  const Eigen::Matrix4d inverse = lu.inverse();
  const double s2 = cost / static_cast<double>(n - 4);
  double mean = 0.0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(n);
  double total = 0.0;
  for (double v : y) total += (v - mean) * (v - mean);
  fit.parameters = p;
  for (int k = 0; k < 4; ++k) fit.standard_errors[static_cast<std::size_t>(k)] = std::sqrt(std::max(s2 * inverse(k, k), 0.0));
  fit.r_squared = 1.0 - cost / total;
  fit.residual_rms = std::sqrt(s2);
  return fit;
}

IndexRange peak_fit_window(std::span<const double> values, std::optional<std::size_t> peak) {
  const std::size_t n = values.size();
  double lo = std::numeric_limits<double>::infinity();
  std::size_t top = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(values[i])) continue;
    lo = std::min(lo, values[i]);
    if (top == n || values[i] > values[top]) top = i;
  }
  if (top == n) throw std::invalid_argument("peak window: the profile has no finite value");
  if (peak) {
    if (*peak >= n || std::isnan(values[*peak])) throw std::invalid_argument("peak window: the peak index is outside the profile or NaN there");
    top = *peak;
  }
  const double half = lo + 0.5 * (values[top] - lo);
  const auto below = [&](std::size_t i) { return std::isnan(values[i]) || values[i] < half; };
  std::size_t l = top, r = top;
  while (l > 0 && !below(l - 1)) --l;
  while (r + 1 < n && !below(r + 1)) ++r;
  const std::size_t reach = 3 * std::max<std::size_t>({top - l, r - top, 1});
  std::size_t first = l, last = r;
  for (std::size_t k = 0; k < reach && first > 0 && below(first - 1); ++k) --first;
  for (std::size_t k = 0; k < reach && last + 1 < n && below(last + 1); ++k) ++last;
  return {first, last};
}

// ---- regions of interest

const char* to_string(RoiShape shape) noexcept {
  switch (shape) {
    case RoiShape::box: return "box";
    case RoiShape::sphere: return "sphere";
    case RoiShape::threshold: return "threshold";
  }
  return "?";
}

namespace {

void check_roi(const Roi& roi) {
  const std::string who = "region '" + roi.name + "': ";
  if (!roi.centre_m.allFinite()) throw std::invalid_argument(who + "its centre is not finite");
  if (!(std::isfinite(roi.background_margin_m) && roi.background_margin_m >= 0.0)) {
    throw std::invalid_argument(who + "the background margin must be >= 0");
  }
  switch (roi.shape) {
    case RoiShape::box:
      if (!(roi.size_m.allFinite() && roi.size_m.minCoeff() > 0.0)) throw std::invalid_argument(who + "a box needs three positive edge lengths");
      break;
    case RoiShape::sphere:
      if (!(std::isfinite(roi.radius_m) && roi.radius_m > 0.0)) throw std::invalid_argument(who + "a sphere needs a positive radius");
      break;
    case RoiShape::threshold:
      if (!(roi.threshold_fraction > 0.0 && roi.threshold_fraction < 1.0)) {
        throw std::invalid_argument(who + "the threshold fraction must lie in (0, 1)");
      }
      if (!(std::isfinite(roi.radius_m) && roi.radius_m >= 0.0)) throw std::invalid_argument(who + "the search radius must be >= 0");
      if (roi.background_margin_m > 0.0) {
        throw std::invalid_argument(who + "a threshold region follows the signal; a background margin is only for box and sphere regions");
      }
      break;
  }
}

// Is the point inside the box / sphere grown by `grow` on every side?
bool inside(const Roi& roi, const Eigen::Vector3d& point, double grow) {
  const Eigen::Vector3d d = (point - roi.centre_m).cwiseAbs();
  if (roi.shape == RoiShape::box) return (d.array() <= 0.5 * roi.size_m.array() + grow + kInsideTolerance_m).all();
  return d.norm() <= roi.radius_m + grow + kInsideTolerance_m;
}

std::vector<std::size_t> threshold_region(const AnalysisImage& image, const Roi& roi) {
  std::array<std::size_t, 3> at{};
  for (std::size_t k = 0; k < 3; ++k) {
    const auto i = nearest_index(image, k, roi.centre_m[static_cast<Eigen::Index>(k)]);
    if (!i) throw std::invalid_argument("region '" + roi.name + "': its centre " + mm3(roi.centre_m) + " lies outside the image");
    at[k] = *i;
  }
  const auto within_search = [&](std::size_t voxel) {
    return roi.radius_m <= 0.0 || (image.centre_m(voxel) - roi.centre_m).norm() <= roi.radius_m + kInsideTolerance_m;
  };
  std::size_t peak = image.index(at[0], at[1], at[2]);
  for (;;) {  // climb to the largest neighbour while it is larger
    const auto c = image.indices(peak);
    std::size_t best = peak;
    for (int dz = -1; dz <= 1; ++dz) {
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const std::array<long, 3> q{static_cast<long>(c[0]) + dx, static_cast<long>(c[1]) + dy, static_cast<long>(c[2]) + dz};
          bool ok = true;
          for (std::size_t k = 0; k < 3; ++k) ok = ok && q[k] >= 0 && q[k] < static_cast<long>(image.counts[k]);
          if (!ok) continue;
          const std::size_t v = image.index(static_cast<std::size_t>(q[0]), static_cast<std::size_t>(q[1]), static_cast<std::size_t>(q[2]));
          if (image.values[v] > image.values[best] && within_search(v)) best = v;
        }
      }
    }
    if (best == peak) break;
    peak = best;
  }
  const double maximum = image.values[peak];
  if (!(maximum > 0.0)) throw std::invalid_argument("region '" + roi.name + "': the local maximum near its centre is not positive");
  const double level = roi.threshold_fraction * maximum;
  std::vector<bool> in(image.size(), false);
  std::vector<std::size_t> stack{peak}, region;
  in[peak] = true;
  while (!stack.empty()) {
    const std::size_t v = stack.back();
    stack.pop_back();
    region.push_back(v);
    const auto c = image.indices(v);
    for (std::size_t k = 0; k < 3; ++k) {
      for (int s : {-1, 1}) {
        std::array<std::size_t, 3> q = c;
        if (s < 0 && q[k] == 0) continue;
        if (s > 0 && q[k] + 1 >= image.counts[k]) continue;
        q[k] = s < 0 ? q[k] - 1 : q[k] + 1;
        const std::size_t u = image.index(q[0], q[1], q[2]);
        if (!in[u] && image.values[u] >= level) {
          in[u] = true;
          stack.push_back(u);
        }
      }
    }
  }
  std::sort(region.begin(), region.end());
  return region;
}

}  // namespace

std::vector<std::size_t> roi_voxels(const AnalysisImage& image, const Roi& roi) {
  throw_if_invalid(image);
  check_roi(roi);
  if (roi.shape == RoiShape::threshold) return threshold_region(image, roi);
  std::vector<std::size_t> out;
  for (std::size_t v = 0; v < image.size(); ++v) {
    if (inside(roi, image.centre_m(v), 0.0)) out.push_back(v);
  }
  if (out.empty()) {
    throw std::invalid_argument("region '" + roi.name + "' (" + to_string(roi.shape) + " at " + mm3(roi.centre_m) +
                                ") holds no voxel of the image");
  }
  return out;
}

RoiStats roi_statistics(const AnalysisImage& image, const Roi& roi) {
  const std::vector<std::size_t> voxels = roi_voxels(image, roi);
  RoiStats s;
  s.name = roi.name;
  s.voxels = voxels.size();
  s.peak = -std::numeric_limits<double>::infinity();
  for (std::size_t v : voxels) {
    s.sum += image.values[v];
    if (image.values[v] > s.peak) {
      s.peak = image.values[v];
      s.peak_at_m = image.centre_m(v);
    }
  }
  s.mean = s.sum / static_cast<double>(s.voxels);
  s.voxel_measure = image.voxel_measure();
  s.integral = s.sum * s.voxel_measure;
  s.net_sum = s.sum;
  if (roi.background_margin_m > 0.0) {
    double background = 0.0;
    for (std::size_t v = 0; v < image.size(); ++v) {
      const Eigen::Vector3d c = image.centre_m(v);
      if (inside(roi, c, roi.background_margin_m) && !inside(roi, c, 0.0)) {
        background += image.values[v];
        ++s.background_voxels;
      }
    }
    if (s.background_voxels == 0) {
      throw std::invalid_argument("region '" + roi.name + "': no voxel of the image lies in its background shell of " +
                                  mm(roi.background_margin_m) + " (make the margin larger than a pixel)");
    }
    s.background_mean = background / static_cast<double>(s.background_voxels);
    s.net_sum = s.sum - static_cast<double>(s.voxels) * s.background_mean;
  }
  return s;
}

// ---- iron

IronCalibration calibrate_iron(const RoiStats& reference, double iron_kg) {
  if (!(std::isfinite(iron_kg) && iron_kg > 0.0)) throw std::invalid_argument("calibration: the reference iron must be positive");
  if (!(std::isfinite(reference.net_sum) && reference.net_sum > 0.0)) {
    throw std::invalid_argument("calibration: the reference region '" + reference.name + "' has no positive signal (net sum " +
                                std::to_string(reference.net_sum) + ")");
  }
  IronCalibration c;
  c.reference = reference.name;
  c.reference_signal = reference.net_sum;
  c.reference_iron_kg = iron_kg;
  c.signal_per_kg = reference.net_sum / iron_kg;
  return c;
}

double quantify_iron_kg(const IronCalibration& calibration, const RoiStats& roi) {
  if (!(calibration.signal_per_kg > 0.0)) throw std::invalid_argument("quantification: the calibration has no positive signal per iron");
  return roi.net_sum / calibration.signal_per_kg;
}

double iron_concentration_mol_per_m3(double iron_kg, double volume_m3) {
  if (!(std::isfinite(volume_m3) && volume_m3 > 0.0)) throw std::invalid_argument("concentration: the volume must be positive");
  return iron_kg / kIronMolarMassKgPerMol / volume_m3;
}

}  // namespace mpi::recon
