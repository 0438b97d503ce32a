// The physical forward model of the particles in a scanner: iron sources at positions r_i in the selection
// field G r_i plus a homogeneous applied field B (drive + focus/bias, flux density in T). Each tracer mode's
// equilibrium total moment is
//   mu_mode(B) = sum_i N_i,mode * f_mode(|G r_i + B|) * (G r_i + B) / |G r_i + B|
// with N_i,mode the particles of that mode in source i (from its iron mass) and f_mode(b) the ensemble's
// mean moment along a field of magnitude b (Langevin over the mode's size classes, tabulated with a
// relative error below 1e-7). Debye relaxation (tau dmu/dt + mu = mu_eq) is linear and is applied by the
// caller to each mode's total with DebyeStep. The receive voltage of a coil of sensitivity p (T/A) along
// unit vector e is u = -p e . d(sum_mode mu_mode)/dt (REFERENCE 2).
#pragma once

#include "mpi/recon/tracer_model.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace mpi::recon {

struct ParticleSource {
  Eigen::Vector3d position_m = Eigen::Vector3d::Zero();
  double iron_kg = 0.0;
};

class ParticleSignalModel {
 public:
  // `max_field_t` bounds |G r_i + B| over the sources and the fields that will be applied (the table's
  // range; larger fields are evaluated directly, slower). Throws std::invalid_argument for an invalid
  // tracer model, a negative iron mass or a non-finite position.
  ParticleSignalModel(const TracerModel& tracer, std::vector<ParticleSource> sources,
                      const Eigen::Matrix3d& gradient_t_per_m, double max_field_t);

  [[nodiscard]] std::size_t modes() const noexcept;
  [[nodiscard]] double tau_s(std::size_t mode) const noexcept;
  [[nodiscard]] const std::vector<ParticleSource>& sources() const noexcept;
  // Replaces the sources (a calibration robot moved its sample) without tabulating the tracer again.
  void set_sources(std::vector<ParticleSource> sources);

  // Equilibrium total moment of every mode for the applied field; out.size() == modes(). A m^2.
  void equilibrium_moments(const Eigen::Vector3d& applied_field_t, std::span<Eigen::Vector3d> out) const noexcept;

  // Mean moment of one particle of `mode` along a field of magnitude b, and f(b)/b (finite at b = 0).
  [[nodiscard]] double mean_moment_a_m2(std::size_t mode, double field_t) const noexcept;
  [[nodiscard]] double mean_moment_per_field(std::size_t mode, double field_t) const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mpi::recon
