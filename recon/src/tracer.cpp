#include "mpi/recon/tracer.hpp"

#include "mpi/recon/constants.hpp"
#include "mpi/recon/langevin.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace mpi::recon {

namespace {

// Nodes and weights of Gauss-Hermite quadrature (physicists' weight exp(-x^2)) by Newton iteration on
// the Hermite recurrence; weights normalised to sum to 1.
void gauss_hermite(int n, std::vector<double>& x, std::vector<double>& w) {
  x.assign(static_cast<std::size_t>(n), 0.0);
  w.assign(static_cast<std::size_t>(n), 0.0);
  const double pi_m4 = std::pow(std::numbers::pi, -0.25);
  const int half = (n + 1) / 2;
  double z = 0.0;
  for (int i = 0; i < half; ++i) {
    if (i == 0) z = std::sqrt(2.0 * n + 1.0) - 1.85575 * std::pow(2.0 * n + 1.0, -1.0 / 6.0);
    else if (i == 1) z -= 1.14 * std::pow(static_cast<double>(n), 0.426) / z;
    else if (i == 2) z = 1.86 * z - 0.86 * x[0];
    else if (i == 3) z = 1.91 * z - 0.91 * x[1];
    else z = 2.0 * z - x[static_cast<std::size_t>(i - 2)];
    double pp = 0.0;
    for (int iter = 0; iter < 100; ++iter) {
      double p1 = pi_m4, p2 = 0.0;
      for (int j = 0; j < n; ++j) {
        const double p3 = p2;
        p2 = p1;
        p1 = z * std::sqrt(2.0 / (j + 1)) * p2 - std::sqrt(static_cast<double>(j) / (j + 1)) * p3;
      }
      pp = std::sqrt(2.0 * n) * p2;
      const double dz = p1 / pp;
      z -= dz;
      if (std::abs(dz) < 1e-14) break;
    }
    x[static_cast<std::size_t>(i)] = z;
    x[static_cast<std::size_t>(n - 1 - i)] = -z;
    w[static_cast<std::size_t>(i)] = 2.0 / (pp * pp);
    w[static_cast<std::size_t>(n - 1 - i)] = w[static_cast<std::size_t>(i)];
  }
  double sum = 0.0;
  for (double v : w) sum += v;
  for (double& v : w) v /= sum;
}

}  // namespace

std::string validate(const Tracer& t) {
  if (!(t.core_diameter_m > 0.0 && t.core_diameter_m < 1e-6)) return "core diameter must be in (0, 1 um)";
  if (!(t.diameter_sigma >= 0.0 && t.diameter_sigma <= 1.0)) return "diameter sigma must be in [0, 1]";
  if (!(t.saturation_magnetisation_a_per_m > 0.0 && t.saturation_magnetisation_a_per_m < 2e6)) return "saturation magnetisation must be in (0, 2e6) A/m";
  if (!(t.temperature_k > 0.0 && t.temperature_k < 1000.0)) return "temperature must be in (0, 1000) K";
  if (!(t.core_density_kg_per_m3 > 0.0)) return "core density must be positive";
  if (!(t.iron_mass_fraction > 0.0 && t.iron_mass_fraction <= 1.0)) return "iron mass fraction must be in (0, 1]";
  if (!(t.dead_layer_m >= 0.0 && 2.0 * t.dead_layer_m < t.core_diameter_m)) return "dead layer must be in [0, core radius)";
  return {};
}

double core_volume_m3(double d) noexcept { return std::numbers::pi * d * d * d / 6.0; }

double core_moment_a_m2(double d, double ms) noexcept { return ms * core_volume_m3(d); }

double magnetic_diameter_m(double d, double dead_layer) noexcept { return std::max(0.0, d - 2.0 * dead_layer); }

ParticleEnsemble::ParticleEnsemble(const Tracer& tracer, int size_classes) : tracer_(tracer) {
  if (const std::string why = validate(tracer); !why.empty()) throw std::invalid_argument("tracer: " + why);
  const auto size_class = [&tracer](double d, double fraction) {
    const double dm = magnetic_diameter_m(d, tracer.dead_layer_m);
    return SizeClass{d, core_moment_a_m2(dm, tracer.saturation_magnetisation_a_per_m), fraction, dm};
  };
  if (tracer.diameter_sigma == 0.0 || size_classes <= 1) {
    classes_.push_back(size_class(tracer.core_diameter_m, 1.0));
    return;
  }
  std::vector<double> x, w;
  gauss_hermite(size_classes, x, w);
  for (std::size_t i = 0; i < x.size(); ++i) {
    // ln d ~ N(ln d_med, sigma^2): ln d = ln d_med + sqrt(2) sigma x
    const double d = tracer.core_diameter_m * std::exp(std::numbers::sqrt2 * tracer.diameter_sigma * x[i]);
    classes_.push_back(size_class(d, w[i]));
  }
}

double ParticleEnsemble::mean_moment_a_m2(double field_t) const noexcept {
  const double kt = kBoltzmann * tracer_.temperature_k;
  double sum = 0.0;
  for (const SizeClass& c : classes_) sum += c.number_fraction * c.moment_a_m2 * langevin(c.moment_a_m2 * field_t / kt);
  return sum;
}

double ParticleEnsemble::mean_moment_slope(double field_t) const noexcept {
  const double kt = kBoltzmann * tracer_.temperature_k;
  double sum = 0.0;
  for (const SizeClass& c : classes_) {
    const double k = c.moment_a_m2 / kt;
    sum += c.number_fraction * c.moment_a_m2 * k * langevin_derivative(k * field_t);
  }
  return sum;
}

double ParticleEnsemble::particles_per_kg_iron() const noexcept {
  double mean_volume = 0.0;
  for (const SizeClass& c : classes_) mean_volume += c.number_fraction * core_volume_m3(c.diameter_m);
  return 1.0 / (mean_volume * tracer_.core_density_kg_per_m3 * tracer_.iron_mass_fraction);
}

double psf_fwhm_field_t(const Tracer& t) noexcept {
  const double dm = magnetic_diameter_m(t.core_diameter_m, t.dead_layer_m);
  return kLangevinPsfFwhmXi * kBoltzmann * t.temperature_k / core_moment_a_m2(dm, t.saturation_magnetisation_a_per_m);
}

double psf_fwhm_m(const Tracer& t, double gradient_t_per_m) noexcept { return psf_fwhm_field_t(t) / gradient_t_per_m; }

}  // namespace mpi::recon
