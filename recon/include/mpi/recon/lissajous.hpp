// Multi-axis sinusoidal drive fields (1D, 2D, 3D Lissajous trajectories, REFERENCE 2): each component is
// A sin(2 pi f t + phase) along a direction, the convention of the board's DDS generators. With a
// selection gradient G the field-free point sits where G r + B = 0. Frequencies come from a base clock
// and integer dividers; the pattern repeats after lcm(dividers) clock cycles.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <vector>

namespace mpi::recon {

struct DriveComponent {
  Eigen::Vector3d direction;  // unit vector of the field (not normalised here: the field is A d)
  double amplitude_t;
  double frequency_hz;
  double phase_rad;
};

class DriveTrajectory {
 public:
  // Throws std::invalid_argument for a non-finite value or a negative frequency.
  explicit DriveTrajectory(std::vector<DriveComponent> components);
  // sum A sin(2 pi f t + phase) d, in T.
  [[nodiscard]] Eigen::Vector3d field_t(double t) const;
  // Its time derivative, in T/s.
  [[nodiscard]] Eigen::Vector3d field_rate_t_per_s(double t) const;
  [[nodiscard]] const std::vector<DriveComponent>& components() const noexcept { return components_; }

 private:
  std::vector<DriveComponent> components_;
};

// The field-free point -G^-1 B of the selection gradient G (T/m) and a homogeneous field B (T).
// Throws std::invalid_argument for a singular gradient.
Eigen::Vector3d ffp_position_m(const Eigen::Matrix3d& gradient, const Eigen::Vector3d& applied_field_t);

// Samples in one repetition of the pattern: lcm(dividers) base-clock cycles at sample_rate / base_clock
// samples per cycle. Throws std::invalid_argument when that is not a whole number of samples (within
// 1e-9), for no dividers, a zero divider, non-positive rates or overflow.
std::uint64_t lissajous_cycle_samples(std::span<const std::uint32_t> dividers, double base_clock_hz, double sample_rate_hz);

}  // namespace mpi::recon
