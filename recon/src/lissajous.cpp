#include "mpi/recon/lissajous.hpp"

#include <Eigen/LU>

#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mpi::recon {

DriveTrajectory::DriveTrajectory(std::vector<DriveComponent> components) : components_(std::move(components)) {
  for (std::size_t i = 0; i < components_.size(); ++i) {
    const DriveComponent& c = components_[i];
    const std::string where = "drive component #" + std::to_string(i);
    if (!c.direction.allFinite()) throw std::invalid_argument(where + ": direction is not finite");
    if (!std::isfinite(c.amplitude_t)) throw std::invalid_argument(where + ": amplitude is not finite");
    if (!(c.frequency_hz >= 0.0 && std::isfinite(c.frequency_hz))) {
      throw std::invalid_argument(where + ": frequency must be finite and >= 0");
    }
    if (!std::isfinite(c.phase_rad)) throw std::invalid_argument(where + ": phase is not finite");
  }
}

Eigen::Vector3d DriveTrajectory::field_t(double t) const {
  Eigen::Vector3d b = Eigen::Vector3d::Zero();
  for (const DriveComponent& c : components_) {
    b += c.amplitude_t * std::sin(2.0 * std::numbers::pi * c.frequency_hz * t + c.phase_rad) * c.direction;
  }
  return b;
}

Eigen::Vector3d DriveTrajectory::field_rate_t_per_s(double t) const {
  Eigen::Vector3d rate = Eigen::Vector3d::Zero();
  for (const DriveComponent& c : components_) {
    const double omega = 2.0 * std::numbers::pi * c.frequency_hz;
    rate += c.amplitude_t * omega * std::cos(omega * t + c.phase_rad) * c.direction;
  }
  return rate;
}

Eigen::Vector3d ffp_position_m(const Eigen::Matrix3d& gradient, const Eigen::Vector3d& applied_field_t) {
  if (!gradient.allFinite()) throw std::invalid_argument("field-free point: gradient is not finite");
  const Eigen::FullPivLU<Eigen::Matrix3d> lu(gradient);
  if (!lu.isInvertible()) {
    throw std::invalid_argument("field-free point: the selection gradient is singular (no unique field-free point)");
  }
  return -lu.solve(applied_field_t);
}

std::uint64_t lissajous_cycle_samples(std::span<const std::uint32_t> dividers, double base_clock_hz, double sample_rate_hz) {
  if (dividers.empty()) throw std::invalid_argument("Lissajous cycle: no dividers");
  if (!(base_clock_hz > 0.0 && std::isfinite(base_clock_hz))) throw std::invalid_argument("Lissajous cycle: base clock must be positive");
  if (!(sample_rate_hz > 0.0 && std::isfinite(sample_rate_hz))) throw std::invalid_argument("Lissajous cycle: sample rate must be positive");
  std::uint64_t cycle = 1;
  for (std::size_t i = 0; i < dividers.size(); ++i) {
    if (dividers[i] == 0) throw std::invalid_argument("Lissajous cycle: divider #" + std::to_string(i) + " is 0");
    const std::uint64_t g = std::gcd(cycle, std::uint64_t{dividers[i]});
    const std::uint64_t factor = dividers[i] / g;
    if (cycle > std::numeric_limits<std::uint64_t>::max() / factor) throw std::invalid_argument("Lissajous cycle: lcm of the dividers overflows");
    cycle *= factor;
  }
  const double samples = static_cast<double>(cycle) * sample_rate_hz / base_clock_hz;
  const double whole = std::round(samples);
  if (!(whole >= 1.0) || std::abs(samples - whole) > 1e-9 * std::max(1.0, samples) || whole > 9.0e15) {
    throw std::invalid_argument("Lissajous cycle: lcm of the dividers (" + std::to_string(cycle) + " clock cycles) is " +
                                std::to_string(samples) + " samples, not a whole number");
  }
  return static_cast<std::uint64_t>(whole);
}

}  // namespace mpi::recon
