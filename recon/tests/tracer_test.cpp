#include "mpi/recon/tracer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace mpi::recon {
namespace {

constexpr double kB = 1.380649e-23;

TEST(Tracer, CoreMomentIsMsTimesSphereVolume) {
  // Sphere of radius 15 nm: 4/3 pi r^3.
  EXPECT_NEAR(core_volume_m3(30e-9), 4.0 / 3.0 * std::numbers::pi * std::pow(15e-9, 3), 1e-36);
  EXPECT_NEAR(core_moment_a_m2(30e-9, 8e5), 1.1309733552923252e-17, 1e-28);
  EXPECT_NEAR(core_moment_a_m2(25e-9, 4.46e5) / core_moment_a_m2(30e-9, 8e5), 4.46 / 8.0 * std::pow(25.0 / 30.0, 3), 1e-12);
}

TEST(Tracer, PsfWidthsReproduceReferenceWorkedValues) {
  Tracer a;
  a.core_diameter_m = 30e-9;
  a.saturation_magnetisation_a_per_m = 8e5;
  a.temperature_k = 293.15;
  EXPECT_NEAR(psf_fwhm_field_t(a), 1.489e-3, 0.005 * 1.489e-3);
  EXPECT_NEAR(psf_fwhm_m(a, 2.0), 0.745e-3, 0.005 * 0.745e-3);

  Tracer b;
  b.core_diameter_m = 25e-9;
  b.saturation_magnetisation_a_per_m = 4.46e5;
  b.temperature_k = 310.0;
  EXPECT_NEAR(psf_fwhm_field_t(b), 4.88e-3, 0.005 * 4.88e-3);
  EXPECT_NEAR(psf_fwhm_m(b, 6.3), 0.775e-3, 0.005 * 0.775e-3);
}

// Mean moment along a field of a lognormal ensemble by brute force: trapezoid over z = ln(d/d_med)/sigma
// with the standard normal density, out to 12 sigma.
double brute_force_mean_moment(const Tracer& t, double field_t) {
  const int n = 24001;
  const double z_max = 12.0, dz = 2.0 * z_max / (n - 1);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double z = -z_max + i * dz;
    const double d = t.core_diameter_m * std::exp(t.diameter_sigma * z);
    const double m = t.saturation_magnetisation_a_per_m * std::numbers::pi * d * d * d / 6.0;
    const double xi = m * field_t / (kB * t.temperature_k);
    const double lang = std::abs(xi) < 1e-4 ? xi / 3.0 : 1.0 / std::tanh(xi) - 1.0 / xi;
    const double w = (i == 0 || i == n - 1) ? 0.5 : 1.0;
    sum += w * std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi) * m * lang;
  }
  return sum * dz;
}

TEST(ParticleEnsemble, LognormalMeanMomentMatchesNumericalIntegration) {
  for (double sigma : {0.1, 0.2, 0.3}) {
    Tracer t;
    t.core_diameter_m = 25e-9;
    t.diameter_sigma = sigma;
    t.saturation_magnetisation_a_per_m = 4.8e5;
    t.temperature_k = 300.0;
    const ParticleEnsemble ensemble(t);       // 15 size classes
    const ParticleEnsemble fine(t, 40);
    for (double field : {-20e-3, 1e-5, 1e-4, 1e-3, 3e-3, 12e-3, 0.1, 1.0}) {
      const double ref = brute_force_mean_moment(t, field);
      // 15 Gauss-Hermite classes: ~1e-5 relative at sigma 0.3 where L turns over across the distribution.
      EXPECT_NEAR(ensemble.mean_moment_a_m2(field), ref, 5e-5 * std::abs(ref)) << "sigma " << sigma << " field " << field;
      // The quadrature converges to the integral with more classes.
      EXPECT_NEAR(fine.mean_moment_a_m2(field), ref, 1e-8 * std::abs(ref)) << "sigma " << sigma << " field " << field;
    }
    // Saturation: the number-weighted mean moment, m_med exp(9 sigma^2 / 2).
    const double m_med = core_moment_a_m2(t.core_diameter_m, t.saturation_magnetisation_a_per_m);
    EXPECT_NEAR(ensemble.mean_moment_a_m2(1e4), m_med * std::exp(4.5 * sigma * sigma), 1e-6 * m_med);
  }
}

TEST(ParticleEnsemble, SlopeIsTheDerivativeOfMeanMoment) {
  Tracer t;
  t.diameter_sigma = 0.2;
  const ParticleEnsemble ensemble(t);
  for (double field : {-5e-3, 0.0, 0.3e-3, 2e-3, 10e-3}) {
    const double h = 1e-7;
    const double fd = (ensemble.mean_moment_a_m2(field + h) - ensemble.mean_moment_a_m2(field - h)) / (2.0 * h);
    EXPECT_NEAR(ensemble.mean_moment_slope(field), fd, 1e-6 * std::abs(ensemble.mean_moment_slope(0.0)));
  }
}

TEST(ParticleEnsemble, MonodisperseHasOneClassAndIronCount) {
  const Tracer t;
  const ParticleEnsemble ensemble(t);
  ASSERT_EQ(ensemble.classes().size(), 1u);
  const double per_particle_iron = core_volume_m3(t.core_diameter_m) * t.core_density_kg_per_m3 * t.iron_mass_fraction;
  EXPECT_NEAR(ensemble.particles_per_kg_iron() * per_particle_iron, 1.0, 1e-12);
}

TEST(ParticleEnsemble, RejectsBadTracer) {
  Tracer t;
  t.core_diameter_m = -1.0;
  EXPECT_FALSE(validate(t).empty());
  EXPECT_THROW(ParticleEnsemble{t}, std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon

namespace mpi::recon {
namespace {

TEST(Tracer, DeadLayerShrinksTheMomentNotTheIron) {
  Tracer t;
  t.core_diameter_m = 20e-9;
  t.dead_layer_m = 1e-9;
  t.saturation_magnetisation_a_per_m = 4.8e5;
  const ParticleEnsemble ensemble(t);
  ASSERT_EQ(ensemble.classes().size(), 1u);
  const SizeClass& c = ensemble.classes()[0];
  EXPECT_DOUBLE_EQ(c.diameter_m, 20e-9);
  EXPECT_NEAR(c.magnetic_diameter_m, 18e-9, 1e-22);
  EXPECT_NEAR(c.moment_a_m2, 4.8e5 * std::numbers::pi * std::pow(18e-9, 3) / 6.0, 1e-30);
  // Iron per particle from the 20 nm core.
  EXPECT_NEAR(ensemble.particles_per_kg_iron() * std::numbers::pi * std::pow(20e-9, 3) / 6.0 * t.core_density_kg_per_m3 *
                  t.iron_mass_fraction, 1.0, 1e-12);
  // The PSF widens as the magnetic core shrinks: (20/18)^3.
  Tracer bare = t;
  bare.dead_layer_m = 0.0;
  EXPECT_NEAR(psf_fwhm_field_t(t) / psf_fwhm_field_t(bare), std::pow(20.0 / 18.0, 3), 1e-12);
}

TEST(Tracer, DeadLayerMustBeSmallerThanTheRadius) {
  Tracer t;
  t.core_diameter_m = 20e-9;
  t.dead_layer_m = 10e-9;
  EXPECT_FALSE(validate(t).empty());
  t.dead_layer_m = -1e-9;
  EXPECT_FALSE(validate(t).empty());
  t.dead_layer_m = 9.9e-9;
  EXPECT_TRUE(validate(t).empty());
}

TEST(Tracer, DeadLayerCanSwallowSmallClassesOfADistribution) {
  Tracer t;
  t.core_diameter_m = 8e-9;
  t.diameter_sigma = 0.5;
  t.dead_layer_m = 1.5e-9;
  const ParticleEnsemble ensemble(t);
  bool swallowed = false;
  for (const SizeClass& c : ensemble.classes()) {
    EXPECT_GE(c.moment_a_m2, 0.0);
    EXPECT_NEAR(c.magnetic_diameter_m, std::max(0.0, c.diameter_m - 3e-9), 1e-22);
    swallowed = swallowed || c.moment_a_m2 == 0.0;
  }
  EXPECT_TRUE(swallowed);
}

}  // namespace
}  // namespace mpi::recon
