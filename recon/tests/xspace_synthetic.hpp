// Test-only: multi-channel receive signals of point sources from the library's physical forward model
// (ParticleSignalModel: equilibrium moments), differentiated numerically along the field's path:
//   u_c(t) = -p e_c . dmu/dt,  dmu/dt = [mu(B + d b) - mu(B - d b)] / (2 d) |dB/dt|,  b = dB/dt / |dB/dt|.
// Also the scanner and tracer figures the x-space tests share.
#pragma once

#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/lissajous.hpp"

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace mpi::recon::xspace_test {

// Monodisperse magnetite-like cores; independent of the library's tracer code.
struct Cores {
  double diameter_m = 30e-9;
  double ms_a_per_m = 8e5;
  double temperature_k = 293.15;
  double density_kg_per_m3 = 5170.0;
  double iron_fraction = 0.7236;

  [[nodiscard]] double volume() const { return std::numbers::pi * diameter_m * diameter_m * diameter_m / 6.0; }
  [[nodiscard]] double moment() const { return ms_a_per_m * volume(); }
  [[nodiscard]] double k() const { return moment() / (1.380649e-23 * temperature_k); }
  [[nodiscard]] double particles_per_kg_iron() const { return 1.0 / (density_kg_per_m3 * volume() * iron_fraction); }
  [[nodiscard]] TracerModel model() const {
    TracerModel t;
    TracerMode mode;
    mode.name = "cores";
    mode.tracer.core_diameter_m = diameter_m;
    mode.tracer.saturation_magnetisation_a_per_m = ms_a_per_m;
    mode.tracer.temperature_k = temperature_k;
    mode.tracer.core_density_kg_per_m3 = density_kg_per_m3;
    mode.tracer.iron_mass_fraction = iron_fraction;
    t.modes.push_back(mode);
    return t;
  }
};

// Channel-major frame: channel c's sample i at [c * samples + i].
inline std::vector<double> receive_frame(const ParticleSignalModel& model, const DriveTrajectory& drive,
                                         const Eigen::Vector3d& focus_t, const std::vector<Eigen::Vector3d>& coils,
                                         double coil_t_per_a, double sample_rate_hz, std::size_t samples,
                                         std::uint64_t first_sample = 0) {
  const double step_t = 1e-6;
  std::vector<double> u(coils.size() * samples, 0.0);
  std::vector<Eigen::Vector3d> plus(model.modes()), minus(model.modes());
  for (std::size_t i = 0; i < samples; ++i) {
    const double t = static_cast<double>(first_sample + i) / sample_rate_hz;
    const Eigen::Vector3d b = drive.field_t(t) + focus_t;
    const Eigen::Vector3d rate = drive.field_rate_t_per_s(t);
    const double speed = rate.norm();
    if (speed == 0.0) continue;
    const Eigen::Vector3d dir = rate / speed;
    model.equilibrium_moments(b + step_t * dir, plus);
    model.equilibrium_moments(b - step_t * dir, minus);
    Eigen::Vector3d dmu = Eigen::Vector3d::Zero();
    for (std::size_t m = 0; m < plus.size(); ++m) dmu += (plus[m] - minus[m]) / (2.0 * step_t) * speed;
    for (std::size_t c = 0; c < coils.size(); ++c) u[c * samples + i] = -coil_t_per_a * coils[c].dot(dmu);
  }
  return u;
}

}  // namespace mpi::recon::xspace_test
