// Multi-dimensional x-space reconstruction (REFERENCE 3.2, steps 2-4) for 1D, 2D and 3D FFP trajectories
// through a sparse operator that is built once per trajectory and applied to every frame.
//
// Signal model. A point of n particles of moment m at r_i, with the FFP at r_f, sees the field
// H = G (r_i - r_f); its equilibrium moment changes as
//   dmu/dt = n m k [ L'(xi) P_par + L(xi)/xi P_perp ] dB/dt,   xi = k |H|,  k = m / (kB T),
// with P_par / P_perp the projectors along / across H and dB/dt the rate of the drive field. A receive
// coil of sensitivity p along unit vector e sees u = -p e . dmu/dt.
//
// Reconstruction of one sample. The channels' voltages are combined into the signal vector
// s = pinv(E) u (E: the coils' unit directions as rows; for orthonormal coils s = sum_c u_c e_c), projected
// onto the scan direction b = (dB/dt) / |dB/dt| and divided by the scan speed:
//   rho_hat(r_f) = -(b . s) / (signal_scale |dB/dt|)
//                = sum_i n_i [ L'(xi) cos^2 a + L(xi)/xi sin^2 a ],  a = angle between H and b,
// i.e. the tangential image of REFERENCE 3.2 step 2 in particles (peak n/3 for a point), with the caller's
// signal_scale = p m k (p sum_j w_j m_j^2 / (kB T) for a size distribution). dB/dt = -G v_FFP, so b is the
// FFP velocity direction mapped through the gradient (the same direction as v_FFP when G is isotropic in
// the scan plane, e.g. the xy plane of G = diag(-1, -1, 2)), and |dB/dt| is |v_FFP| in field units, which
// makes the image independent of the gradient's strength.
//
// Gridding. Samples whose FFP speed |v_FFP| is below min_speed_fraction of the frame's peak are dropped.
// Each kept sample is assigned to pixels with weights w: kNearest gives weight 1 to the pixel containing
// the FFP; kLinear gives the (bi/tri)linear interpolation weights of the 2^d pixel centres around it (a
// "splat": it fills pixels between trajectory lines at the cost of a blur of about one pixel). Each pixel is
// the weighted mean of its samples' rho_hat (row-normalised by the summed weight, the pixel's coverage);
// pixels no sample reaches are 0 with coverage 0. Rising and falling passes (the sign of the FFP velocity
// along pass_axis) can be kept apart for relaxation correction: the image then holds two stacked images.
//
// The feedthrough (the drive fundamentals in every channel) must be removed by the caller before
// (remove_harmonics in spectrum.hpp); that removes a constant per partial FOV, restored by pfov_stitching.
#pragma once

#include "mpi/recon/lissajous.hpp"

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mpi::recon {

// A regular image grid. Pixel (i, j, l) has its centre at origin_m + (i, j, l) .* pixel_m. An axis with
// count 1 is collapsed: the image is a projection along it and every FFP position is accepted along it
// (its pixel size is then ignored). pixel_m must be positive on the other axes.
struct ImageGrid {
  Eigen::Vector3d origin_m = Eigen::Vector3d::Zero();  // centre of pixel (0, 0, 0)
  Eigen::Vector3d pixel_m = Eigen::Vector3d::Zero();
  std::array<int, 3> counts{1, 1, 1};                  // x fastest in the pixel index

  [[nodiscard]] std::size_t pixels() const noexcept;
  [[nodiscard]] std::size_t index(int ix, int iy, int iz) const noexcept;
  [[nodiscard]] Eigen::Vector3d centre_m(std::size_t pixel) const noexcept;
};

enum class GriddingWeights { kNearest, kLinear };

struct XSpaceGriddingConfig {
  Eigen::Matrix3d gradient_t_per_m = Eigen::Matrix3d::Zero();  // selection gradient G (invertible)
  Eigen::Vector3d focus_field_t = Eigen::Vector3d::Zero();     // constant focus/offset field (shifts the pFOV)
  double sample_rate_hz = 0.0;
  std::size_t frame_samples = 0;
  std::uint64_t first_sample = 0;   // sample i of a frame is at t = (first_sample + i) / sample_rate_hz
  std::vector<Eigen::Vector3d> receive_directions;  // one unit vector per channel, in channel order
  ImageGrid grid;
  double min_speed_fraction = 0.3;  // in [0, 1)
  double signal_scale = 1.0;        // p m k (see above); non-zero
  GriddingWeights weights = GriddingWeights::kLinear;
  bool separate_passes = false;     // two images: FFP velocity along pass_axis > 0, then < 0
  int pass_axis = 0;                // 0, 1 or 2
};

// Throws std::invalid_argument naming the field when the configuration cannot be used.
void throw_if_invalid(const XSpaceGriddingConfig& config);

class XSpaceGridding {
 public:
  // Precomputes the operator. Throws std::invalid_argument for a bad configuration, a trajectory without
  // motion or a frame in which no sample reaches the grid.
  XSpaceGridding(const DriveTrajectory& drive, XSpaceGriddingConfig config);

  // Channel-major frame: channel c's sample i at [c * frame_samples + i]; size channels() * frame_samples.
  // image.size() == image_size(). One sparse mat-vec, no allocation. Throws std::invalid_argument on a
  // size mismatch.
  void apply(std::span<const double> frame, std::span<double> image) const;

  [[nodiscard]] std::size_t channels() const noexcept { return config_.receive_directions.size(); }
  [[nodiscard]] std::size_t input_size() const noexcept;
  // grid.pixels(), or twice that with separate_passes (rising pass first).
  [[nodiscard]] std::size_t image_size() const noexcept;
  // Summed gridding weight of each image pixel (0 where no sample landed).
  [[nodiscard]] const Eigen::VectorXd& coverage() const noexcept { return coverage_; }
  // Samples kept by the speed threshold.
  [[nodiscard]] std::size_t kept_samples() const noexcept { return kept_samples_; }
  // Row-major operator, image_size() x input_size().
  [[nodiscard]] const Eigen::SparseMatrix<double, Eigen::RowMajor>& matrix() const noexcept { return operator_; }
  [[nodiscard]] const XSpaceGriddingConfig& config() const noexcept { return config_; }

 private:
  XSpaceGriddingConfig config_;
  Eigen::SparseMatrix<double, Eigen::RowMajor> operator_;
  Eigen::VectorXd coverage_;
  std::size_t kept_samples_ = 0;
};

// FFP position -G^-1 (B_drive(t) + focus) of every sample of the frame (3 x frame_samples), for display
// and tests.
Eigen::Matrix3Xd ffp_positions_m(const DriveTrajectory& drive, const XSpaceGriddingConfig& config);

}  // namespace mpi::recon
