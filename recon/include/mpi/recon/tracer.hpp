// A tracer: iron-oxide cores with a (lognormal) size distribution, and what follows from it: core
// moments, the ensemble's mean moment along an applied field, particles per unit iron mass, and the
// analytic PSF widths of REFERENCE 1.1. A magnetically dead surface shell (REFERENCE 1.1) makes the
// magnetic diameter d - 2 * dead_layer smaller than the physical one: the magnetic diameter sets the
// moments and PSF widths, the physical diameter the iron per particle.
#pragma once

#include <string>
#include <vector>

namespace mpi::recon {

struct Tracer {
  double core_diameter_m = 30e-9;                  // median physical core diameter
  double diameter_sigma = 0.0;                     // sigma of ln(d); 0 = monodisperse
  double saturation_magnetisation_a_per_m = 8e5;   // Ms of the core material
  double temperature_k = 293.15;
  double core_density_kg_per_m3 = 5170.0;          // magnetite
  double iron_mass_fraction = 0.7236;              // Fe3O4: 3 * 55.845 / 231.53
  double dead_layer_m = 0.0;                       // magnetically dead shell; below the median radius
};

// Checks the tracer's parameters; returns an empty string when valid, otherwise what is wrong.
std::string validate(const Tracer& tracer);

double core_volume_m3(double diameter_m) noexcept;
double core_moment_a_m2(double diameter_m, double saturation_magnetisation_a_per_m) noexcept;
// Magnetic diameter of a core of physical diameter d: max(0, d - 2 * dead_layer).
double magnetic_diameter_m(double physical_diameter_m, double dead_layer_m) noexcept;

// Number-weighted size classes of a tracer (Gauss-Hermite nodes in ln d; one class when monodisperse).
struct SizeClass {
  double diameter_m;           // physical core diameter (iron)
  double moment_a_m2;          // moment of the magnetic core
  double number_fraction;      // sums to 1 over the classes
  double magnetic_diameter_m;  // diameter_m - 2 * dead layer (0 when the shell takes the whole core)
};

class ParticleEnsemble {
 public:
  explicit ParticleEnsemble(const Tracer& tracer, int size_classes = 15);

  // Mean moment per particle along a field of flux density `field_t` (mu0 H, in T): sum_i w_i m_i L(xi_i).
  [[nodiscard]] double mean_moment_a_m2(double field_t) const noexcept;
  // Derivative of mean_moment with respect to field_t, in A m^2 / T.
  [[nodiscard]] double mean_moment_slope(double field_t) const noexcept;
  // Particles per kilogram of iron (from the number-weighted mean core volume).
  [[nodiscard]] double particles_per_kg_iron() const noexcept;
  [[nodiscard]] const std::vector<SizeClass>& classes() const noexcept { return classes_; }
  [[nodiscard]] const Tracer& tracer() const noexcept { return tracer_; }

 private:
  Tracer tracer_;
  std::vector<SizeClass> classes_;
};

// Field FWHM of the PSF of monodisperse cores: 4.1610 kB T / m (in T, i.e. mu0 * dH), m the moment of
// the median magnetic core.
double psf_fwhm_field_t(const Tracer& tracer) noexcept;
// Spatial FWHM for a gradient in T/m: psf_fwhm_field_t / G.
double psf_fwhm_m(const Tracer& tracer, double gradient_t_per_m) noexcept;

}  // namespace mpi::recon
