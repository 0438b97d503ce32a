#include "mpi/hil/scanner_model.hpp"

#include "mpi/recon/relaxation.hpp"
#include "mpi/recon/tracer.hpp"

namespace mpi::hil {

recon::TracerModel tracer_model(const config::TracerDescription& tracer) {
  recon::TracerModel model;
  for (const config::TracerModeDescription& d : tracer.modes) {
    recon::TracerMode mode;
    mode.name = d.name;
    mode.tracer.core_diameter_m = d.core_diameter_m;
    mode.tracer.diameter_sigma = d.diameter_sigma;
    mode.tracer.saturation_magnetisation_a_per_m = d.saturation_magnetisation_a_per_m;
    mode.tracer.temperature_k = tracer.temperature_k;
    mode.tracer.core_density_kg_per_m3 = d.core_density_kg_per_m3;
    mode.tracer.iron_mass_fraction = d.iron_mass_fraction;
    mode.tracer.dead_layer_m = d.dead_layer_m;
    mode.iron_fraction = d.iron_fraction;
    switch (d.relaxation) {
      case config::RelaxationModel::none:
        mode.tau_s = 0.0;
        break;
      case config::RelaxationModel::given:
        mode.tau_s = d.tau_s;
        break;
      case config::RelaxationModel::neel_brownian: {
        const double neel = recon::neel_relaxation_s(recon::magnetic_diameter_m(d.core_diameter_m, d.dead_layer_m),
                                                     d.anisotropy_j_per_m3, tracer.temperature_k, d.attempt_time_s);
        const double brownian = recon::brownian_relaxation_s(d.hydrodynamic_diameter_m, d.viscosity_pa_s, tracer.temperature_k);
        mode.tau_s = recon::effective_relaxation_s(neel, brownian);
        break;
      }
    }
    model.modes.push_back(std::move(mode));
  }
  return model;
}

Eigen::Matrix3d gradient_matrix(const config::SelectionDescription& selection) {
  Eigen::Matrix3d g;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) g(r, c) = selection.gradient_t_per_m[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
  }
  return g;
}

Eigen::Vector3d to_vector(const config::Vec3& v) { return {v[0], v[1], v[2]}; }

}  // namespace mpi::hil
