// The tabulated total moment agrees with the direct sum over the sources; the phantom's discretisation
// carries the right number of particles at the required spacing.
#include "mpi/hil/moment_table.hpp"
#include "mpi/hil/phantom.hpp"
#include "mpi/recon/tracer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace mpi::hil {
namespace {

recon::Tracer tracer(double d_nm, double sigma) {
  recon::Tracer t;
  t.core_diameter_m = d_nm * 1e-9;
  t.diameter_sigma = sigma;
  t.saturation_magnetisation_a_per_m = 8e5;
  t.temperature_k = 293.15;
  return t;
}

Phantom mixed_phantom() {
  Phantom p;
  p.points = {{-1.5e-3, 10e-9}, {1.5e-3, 10e-9}, {6e-3, 1e-9}};
  p.lines = {{-5e-3, -2e-3, 2e-6}};
  return p;
}

// Compares the table with the direct sum at random fields: values, and differences over half-sample
// field steps (what the receive signal is made of).
void expect_table_matches_direct_sum(const recon::Tracer& t, const Phantom& phantom) {
  const double g = 2.0;
  const double bmax = 0.020;
  const recon::ParticleEnsemble ensemble(t);
  const std::vector<ParticleSource> sources = discretise(phantom, ensemble, g);
  const MomentTable table(sources, ensemble, g, bmax);
  EXPECT_LE(table.first_field_t(), -1.05 * bmax + 1e-15);
  EXPECT_GE(table.last_field_t(), 1.05 * bmax - 1e-15);

  double saturation = 0;
  for (const ParticleSource& s : sources) saturation += s.particles;
  double mean_m = 0;
  for (const recon::SizeClass& c : ensemble.classes()) mean_m += c.number_fraction * c.moment_a_m2;
  saturation *= mean_m;
  // Largest slope d mu / dB, to scale the difference check.
  double slope = 0;
  for (double b = -bmax; b <= bmax; b += bmax / 2000) {
    slope = std::max(slope, std::abs(direct_total_moment(sources, ensemble, g, b + 1e-7) - direct_total_moment(sources, ensemble, g, b - 1e-7)) / 2e-7);
  }

  std::mt19937_64 rng(11);
  constexpr double kLargestStep = 1.2e-4;  // half-sample field steps of the drive reach ~1e-4 T
  std::uniform_real_distribution<double> field(-1.05 * bmax, 1.05 * bmax - kLargestStep);
  std::uniform_real_distribution<double> step(1e-7, kLargestStep);
  double worst_value = 0, worst_difference = 0;
  for (int i = 0; i < 5000; ++i) {
    const double b = field(rng);
    const double db = step(rng);
    const double direct = direct_total_moment(sources, ensemble, g, b);
    worst_value = std::max(worst_value, std::abs(table(b) - direct) / saturation);
    const double direct_diff = direct_total_moment(sources, ensemble, g, b + db) - direct;
    const double table_diff = table(b + db) - table(b);
    worst_difference = std::max(worst_difference, std::abs(table_diff - direct_diff) / (slope * db));
  }
  EXPECT_LT(worst_value, 1e-8) << "table nodes " << table.size();
  EXPECT_LT(worst_difference, 1e-5) << "table nodes " << table.size();
}

TEST(MomentTable, MatchesTheDirectSumForMonodisperseCores) {
  expect_table_matches_direct_sum(tracer(30.0, 0.0), mixed_phantom());
}

TEST(MomentTable, MatchesTheDirectSumForALognormalSizeDistribution) {
  expect_table_matches_direct_sum(tracer(25.0, 0.15), mixed_phantom());
}

TEST(MomentTable, EmptyPhantomHasNoMoment) {
  const recon::ParticleEnsemble ensemble(tracer(30.0, 0.0));
  const MomentTable table({}, ensemble, 2.0, 0.02);
  EXPECT_EQ(table(0.01), 0.0);
}

TEST(MomentTable, RejectsANonPositiveField) {
  const recon::ParticleEnsemble ensemble(tracer(30.0, 0.0));
  EXPECT_THROW(MomentTable({}, ensemble, 2.0, 0.0), std::invalid_argument);
}

TEST(Phantom, LinesCarryTheirIronAtFineSpacing) {
  const recon::Tracer t = tracer(30.0, 0.0);
  const recon::ParticleEnsemble ensemble(t);
  Phantom p;
  p.points = {{1e-3, 4e-9}};
  p.lines = {{2e-3, -3e-3, 1.5e-6}};  // 5 mm drawn backwards, 1.5 ug/mm
  const std::vector<ParticleSource> sources = discretise(p, ensemble, 2.0);
  // Particles per kg of iron from first principles: kg of iron per particle = rho * Fe fraction * pi d^3 / 6.
  const double per_kg = 1.0 / (t.core_density_kg_per_m3 * t.iron_mass_fraction * 3.14159265358979323846 * std::pow(30e-9, 3) / 6.0);
  ASSERT_GE(sources.size(), 3U);
  EXPECT_DOUBLE_EQ(sources[0].x_m, 1e-3);
  EXPECT_NEAR(sources[0].particles / (4e-9 * per_kg), 1.0, 1e-12);
  double line_particles = 0, widest = 0;
  for (std::size_t i = 1; i < sources.size(); ++i) {
    line_particles += sources[i].particles;
    EXPECT_GE(sources[i].x_m, -3e-3 - 1e-15);
    EXPECT_LE(sources[i].x_m, 2e-3 + 1e-15);
    if (i > 1) widest = std::max(widest, std::abs(sources[i].x_m - sources[i - 1].x_m));
  }
  EXPECT_NEAR(line_particles / (5e-3 * 1.5e-6 * per_kg), 1.0, 1e-12);
  // 0.745 mm PSF at 30 nm, 8e5 A/m, 293.15 K and 2 T/m (REFERENCE 1.1): spacing at most 1/20 of it.
  EXPECT_LE(widest, 0.745e-3 / 20.0);
  EXPECT_GT(widest, 0.745e-3 / 40.0);
}

}  // namespace
}  // namespace mpi::hil
