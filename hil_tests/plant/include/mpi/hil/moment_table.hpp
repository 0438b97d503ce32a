// The phantom's total moment along x as a function of the drive field. In a 1D FFP scanner the field at a
// source at x is B(x, t) = G x + B_D(t), so the total moment
//   mu(B_D) = sum_i n_i * mean_moment_a_m2(G x_i + B_D)
// depends only on the scalar B_D. MomentTable tabulates it (with its slope) once per phantom on a grid fine
// against the sharpest PSF of the tracer and interpolates with cubic Hermite polynomials.
#pragma once

#include "mpi/hil/phantom.hpp"
#include "mpi/recon/tracer.hpp"

#include <cstddef>
#include <vector>

namespace mpi::hil {

// The direct sum over all sources (no table), in A m^2.
double direct_total_moment(const std::vector<ParticleSource>& sources, const recon::ParticleEnsemble& ensemble,
                           double gradient_t_per_m, double drive_field_t) noexcept;

class MomentTable {
 public:
  // Tabulates over [-1.05, 1.05] * max_field_t. Throws std::invalid_argument for a non-positive field.
  MomentTable(const std::vector<ParticleSource>& sources, const recon::ParticleEnsemble& ensemble,
              double gradient_t_per_m, double max_field_t);

  // mu(B_D) in A m^2; fields beyond the table's range are clamped to its ends.
  [[nodiscard]] double operator()(double drive_field_t) const noexcept {
    double u = (drive_field_t - first_field_t_) * inverse_spacing_;
    if (u < 0.0) u = 0.0;
    if (u > last_node_) u = last_node_;
    auto i = static_cast<std::size_t>(u);
    if (i > last_interval_) i = last_interval_;
    const double t = u - static_cast<double>(i);
    const double* p = &data_[2 * i];  // value, slope * spacing at node i; then the same at node i + 1
    const double s = 1.0 - t;
    return s * s * ((1.0 + 2.0 * t) * p[0] + t * p[1]) + t * t * ((3.0 - 2.0 * t) * p[2] - s * p[3]);
  }

  [[nodiscard]] double first_field_t() const noexcept { return first_field_t_; }
  [[nodiscard]] double last_field_t() const noexcept { return first_field_t_ + last_node_ / inverse_spacing_; }
  [[nodiscard]] double spacing_t() const noexcept { return 1.0 / inverse_spacing_; }
  [[nodiscard]] std::size_t size() const noexcept { return data_.size() / 2; }

 private:
  double first_field_t_ = 0.0;
  double inverse_spacing_ = 1.0;
  double last_node_ = 0.0;          // index of the last node
  std::size_t last_interval_ = 0;   // index of the first node of the last interval
  std::vector<double> data_;
};

}  // namespace mpi::hil
