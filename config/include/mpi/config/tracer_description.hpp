// The tracer description file (configs/tracers/*.toml): the particles' physics as a mix of modes, each a
// lognormal population of cores with its own magnetisation, dead layer and relaxation. Loading validates
// every value and refuses unknown keys; errors name the file, the key and why (ConfigError).
//
//   [tracer]
//   name = "single-core 30 nm"
//   temperature = "20 degC"
//   [[tracer.mode]]
//   name = "cores"
//   iron_fraction = 1.0                 # share of the tracer's iron in this mode (the shares sum to 1)
//   core_diameter = "30 nm"             # median physical core diameter
//   diameter_sigma = 0.1                # sigma of ln(d); 0 = monodisperse
//   dead_layer = "0.5 nm"               # magnetically dead shell: magnetic diameter = d - 2 * dead_layer
//   saturation_magnetisation = "480 kA/m"
//   relaxation = "none" | "given" | "neel-brownian"
//   tau = "3 us"                        # relaxation = "given"
//   hydrodynamic_diameter = "60 nm"     # relaxation = "neel-brownian"
//   viscosity = "1 mPa*s"
//   anisotropy = "10 kJ/m^3"
//   attempt_time = "1 ns"
#pragma once

#include "mpi/config/config_error.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::config {

enum class RelaxationModel { none, given, neel_brownian };

struct TracerModeDescription {
  std::string name;
  double iron_fraction = 1.0;
  double core_diameter_m = 30e-9;
  double diameter_sigma = 0.0;
  double dead_layer_m = 0.0;
  double saturation_magnetisation_a_per_m = 4.8e5;
  double core_density_kg_per_m3 = 5170.0;   // core_density = "5.17 g/cm^3" (magnetite)
  double iron_mass_fraction = 0.7236;       // iron_mass_fraction = 0.7236 (Fe3O4)
  RelaxationModel relaxation = RelaxationModel::none;
  double tau_s = 0.0;
  double hydrodynamic_diameter_m = 0.0;
  double viscosity_pa_s = 1e-3;
  double anisotropy_j_per_m3 = 0.0;
  double attempt_time_s = 1e-9;
};

struct TracerDescription {
  std::string name;
  double temperature_k = 293.15;
  std::vector<TracerModeDescription> modes;  // at least one
};

// The tracer lives in the document's [tracer] table; keys outside it are refused. `source` names the text in
// messages. Besides the checks above: iron fractions in (0, 1] summing to 1 (within 1e-6), tau only with
// "given", hydrodynamic_diameter (>= core_diameter), viscosity, anisotropy, attempt_time only with
// "neel-brownian" (hydrodynamic_diameter and anisotropy required there). Throws ConfigError.
TracerDescription parse_tracer_description(std::string_view toml_text, const std::string& source);
TracerDescription load_tracer_description(const std::filesystem::path& file);

}  // namespace mpi::config
