#include "mpi/recon/xspace_gridding.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpi::recon {

std::size_t ImageGrid::pixels() const noexcept {
  return static_cast<std::size_t>(counts[0]) * static_cast<std::size_t>(counts[1]) * static_cast<std::size_t>(counts[2]);
}

std::size_t ImageGrid::index(int ix, int iy, int iz) const noexcept {
  return static_cast<std::size_t>(ix) +
         static_cast<std::size_t>(counts[0]) * (static_cast<std::size_t>(iy) + static_cast<std::size_t>(counts[1]) * static_cast<std::size_t>(iz));
}

Eigen::Vector3d ImageGrid::centre_m(std::size_t pixel) const noexcept {
  const auto nx = static_cast<std::size_t>(counts[0]);
  const auto ny = static_cast<std::size_t>(counts[1]);
  const Eigen::Vector3d idx(static_cast<double>(pixel % nx), static_cast<double>((pixel / nx) % ny),
                            static_cast<double>(pixel / (nx * ny)));
  return origin_m + idx.cwiseProduct(pixel_m);
}

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("XSpaceGridding: " + what); }

}  // namespace

void throw_if_invalid(const XSpaceGriddingConfig& c) {
  if (!c.gradient_t_per_m.allFinite() || std::abs(c.gradient_t_per_m.determinant()) < 1e-12)
    fail("gradient_t_per_m must be finite and invertible");
  if (!c.focus_field_t.allFinite()) fail("focus_field_t must be finite");
  if (!(c.sample_rate_hz > 0.0) || !std::isfinite(c.sample_rate_hz)) fail("sample_rate_hz must be positive");
  if (c.frame_samples == 0) fail("frame_samples must be positive");
  if (c.receive_directions.empty()) fail("receive_directions must name at least one channel");
  for (std::size_t i = 0; i < c.receive_directions.size(); ++i) {
    const Eigen::Vector3d& e = c.receive_directions[i];
    if (!e.allFinite() || std::abs(e.norm() - 1.0) > 1e-6)
      fail("receive_directions[" + std::to_string(i) + "] must be a unit vector");
  }
  for (int a = 0; a < 3; ++a) {
    const auto axis = static_cast<Eigen::Index>(a);
    if (c.grid.counts[static_cast<std::size_t>(a)] < 1) fail("grid.counts[" + std::to_string(a) + "] must be >= 1");
    if (!std::isfinite(c.grid.origin_m(axis))) fail("grid.origin_m[" + std::to_string(a) + "] must be finite");
    if (c.grid.counts[static_cast<std::size_t>(a)] > 1 && !(c.grid.pixel_m(axis) > 0.0 && std::isfinite(c.grid.pixel_m(axis))))
      fail("grid.pixel_m[" + std::to_string(a) + "] must be positive");
  }
  if (!(c.min_speed_fraction >= 0.0 && c.min_speed_fraction < 1.0)) fail("min_speed_fraction must be in [0, 1)");
  if (!(c.signal_scale != 0.0) || !std::isfinite(c.signal_scale)) fail("signal_scale must be finite and non-zero");
  if (c.pass_axis < 0 || c.pass_axis > 2) fail("pass_axis must be 0, 1 or 2");
}

Eigen::Matrix3Xd ffp_positions_m(const DriveTrajectory& drive, const XSpaceGriddingConfig& config) {
  throw_if_invalid(config);
  const Eigen::Matrix3d g_inv = config.gradient_t_per_m.inverse();
  Eigen::Matrix3Xd r(3, static_cast<Eigen::Index>(config.frame_samples));
  for (std::size_t i = 0; i < config.frame_samples; ++i) {
    const double t = static_cast<double>(config.first_sample + i) / config.sample_rate_hz;
    r.col(static_cast<Eigen::Index>(i)) = -g_inv * (drive.field_t(t) + config.focus_field_t);
  }
  return r;
}

XSpaceGridding::XSpaceGridding(const DriveTrajectory& drive, XSpaceGriddingConfig config) : config_(std::move(config)) {
  throw_if_invalid(config_);
  const XSpaceGriddingConfig& c = config_;
  const std::size_t n = c.frame_samples;
  const std::size_t channels = c.receive_directions.size();
  const Eigen::Matrix3d g_inv = c.gradient_t_per_m.inverse();

  // Pseudo-inverse of the coil directions: s = pinv(E) u.
  Eigen::MatrixXd e(static_cast<Eigen::Index>(channels), 3);
  for (std::size_t ch = 0; ch < channels; ++ch) e.row(static_cast<Eigen::Index>(ch)) = c.receive_directions[ch].transpose();
  const Eigen::MatrixXd e_pinv = e.completeOrthogonalDecomposition().pseudoInverse();  // 3 x C

  // FFP positions, velocities and field rates of the frame's samples.
  Eigen::Matrix3Xd position(3, static_cast<Eigen::Index>(n)), rate(3, static_cast<Eigen::Index>(n));
  Eigen::VectorXd speed(static_cast<Eigen::Index>(n));
  Eigen::VectorXd pass_velocity(static_cast<Eigen::Index>(n));
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(c.first_sample + i) / c.sample_rate_hz;
    const auto col = static_cast<Eigen::Index>(i);
    position.col(col) = -g_inv * (drive.field_t(t) + c.focus_field_t);
    rate.col(col) = drive.field_rate_t_per_s(t);
    const Eigen::Vector3d v = -g_inv * rate.col(col);
    speed(col) = v.norm();
    pass_velocity(col) = v(c.pass_axis);
  }
  const double peak_speed = speed.maxCoeff();
  if (!(peak_speed > 0.0) || !std::isfinite(peak_speed)) fail("the FFP does not move in the frame");
  const double min_speed = c.min_speed_fraction * peak_speed;

  const std::size_t pixels = c.grid.pixels();
  const std::size_t rows = c.separate_passes ? 2 * pixels : pixels;
  std::vector<Eigen::Triplet<double>> triplets;
  triplets.reserve(n * channels * 8);
  coverage_ = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(rows));
  kept_samples_ = 0;

  std::array<int, 3> base{};
  std::array<std::array<double, 2>, 3> axis_weight{};
  std::array<int, 3> span{};
  for (std::size_t i = 0; i < n; ++i) {
    const auto col = static_cast<Eigen::Index>(i);
    if (speed(col) < min_speed) continue;
    const double rate_norm = rate.col(col).norm();
    if (!(rate_norm > 0.0)) continue;
    // Pixel weights along each axis.
    bool inside = true;
    for (int a = 0; a < 3 && inside; ++a) {
      const auto ua = static_cast<std::size_t>(a);
      const int count = c.grid.counts[ua];
      if (count == 1) {
        base[ua] = 0;
        span[ua] = 1;
        axis_weight[ua] = {1.0, 0.0};
        continue;
      }
      const double u = (position(a, col) - c.grid.origin_m(a)) / c.grid.pixel_m(a);
      if (c.weights == GriddingWeights::kNearest) {
        const double r = std::floor(u + 0.5);
        if (r < 0.0 || r > static_cast<double>(count - 1)) inside = false;
        base[ua] = static_cast<int>(r);
        span[ua] = 1;
        axis_weight[ua] = {1.0, 0.0};
      } else {
        if (u < -1.0 || u > static_cast<double>(count)) {
          inside = false;
          break;
        }
        const double f = std::floor(u);
        base[ua] = static_cast<int>(f);
        span[ua] = 2;
        axis_weight[ua] = {1.0 - (u - f), u - f};
      }
    }
    if (!inside) continue;

    // Per-channel weights of rho_hat = -(b . pinv(E) u) / (scale |dB/dt|).
    const Eigen::Vector3d b = rate.col(col) / rate_norm;
    const Eigen::RowVectorXd channel_weight = -(b.transpose() * e_pinv) / (c.signal_scale * rate_norm);
    const std::size_t row_offset = (c.separate_passes && pass_velocity(col) < 0.0) ? pixels : 0;

    bool used = false;
    for (int dz = 0; dz < span[2]; ++dz) {
      const int iz = base[2] + dz;
      if (iz < 0 || iz >= c.grid.counts[2]) continue;
      for (int dy = 0; dy < span[1]; ++dy) {
        const int iy = base[1] + dy;
        if (iy < 0 || iy >= c.grid.counts[1]) continue;
        for (int dx = 0; dx < span[0]; ++dx) {
          const int ix = base[0] + dx;
          if (ix < 0 || ix >= c.grid.counts[0]) continue;
          const double w = axis_weight[0][static_cast<std::size_t>(dx)] * axis_weight[1][static_cast<std::size_t>(dy)] *
                           axis_weight[2][static_cast<std::size_t>(dz)];
          if (w <= 0.0) continue;
          const std::size_t row = row_offset + c.grid.index(ix, iy, iz);
          coverage_(static_cast<Eigen::Index>(row)) += w;
          for (std::size_t ch = 0; ch < channels; ++ch) {
            const double cw = channel_weight(static_cast<Eigen::Index>(ch));
            if (cw == 0.0) continue;
            triplets.emplace_back(static_cast<int>(row), static_cast<int>(ch * n + i), w * cw);
          }
          used = true;
        }
      }
    }
    if (used) ++kept_samples_;
  }
  if (kept_samples_ == 0) fail("no sample of the frame reaches the image grid");

  // Row normalisation: each pixel is the weighted mean of its samples.
  for (Eigen::Triplet<double>& t : triplets) {
    const double cov = coverage_(t.row());
    t = Eigen::Triplet<double>(t.row(), t.col(), t.value() / cov);
  }
  operator_.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(channels * n));
  operator_.setFromTriplets(triplets.begin(), triplets.end());
  operator_.makeCompressed();
}

std::size_t XSpaceGridding::input_size() const noexcept { return config_.receive_directions.size() * config_.frame_samples; }

std::size_t XSpaceGridding::image_size() const noexcept {
  return config_.separate_passes ? 2 * config_.grid.pixels() : config_.grid.pixels();
}

void XSpaceGridding::apply(std::span<const double> frame, std::span<double> image) const {
  if (frame.size() != input_size())
    fail("apply: frame has " + std::to_string(frame.size()) + " samples, expected " + std::to_string(input_size()));
  if (image.size() != image_size())
    fail("apply: image has " + std::to_string(image.size()) + " pixels, expected " + std::to_string(image_size()));
  const int* outer = operator_.outerIndexPtr();
  const int* inner = operator_.innerIndexPtr();
  const double* value = operator_.valuePtr();
  const double* in = frame.data();
  const std::size_t rows = image.size();
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    const int end = outer[r + 1];
    for (int k = outer[r]; k < end; ++k) sum += value[k] * in[inner[k]];
    image[r] = sum;
  }
}

}  // namespace mpi::recon
