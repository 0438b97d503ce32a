#include "mpi/recon/forward_model.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

constexpr double kB = 1.380649e-23;

// Independent references in long double.
long double ref_langevin(long double x) {
  if (std::fabs(x) < 1e-3L) return x / 3.0L - x * x * x / 45.0L + 2.0L * std::pow(x, 5.0L) / 945.0L;
  if (std::fabs(x) > 100.0L) return (x > 0.0L ? 1.0L : -1.0L) - 1.0L / x;  // coth(100) = 1 - 3e-87
  return std::cosh(x) / std::sinh(x) - 1.0L / x;
}
long double ref_langevin_over_x(long double x) {
  if (std::fabs(x) < 1e-3L) return 1.0L / 3.0L - x * x / 45.0L + 2.0L * std::pow(x, 4.0L) / 945.0L;
  return ref_langevin(x) / x;
}
long double ref_langevin_derivative(long double x) {
  if (std::fabs(x) < 1e-2L) return 1.0L / 3.0L - x * x / 15.0L + 2.0L * std::pow(x, 4.0L) / 189.0L;
  const long double s = std::sinh(x);
  return 1.0L / (x * x) - 1.0L / (s * s);
}

double moment(double d, double ms) { return ms * std::numbers::pi * d * d * d / 6.0; }

// f(b) / b of a mode from its size classes, summed directly.
double reference_per_field(const Tracer& t, double b) {
  const ParticleEnsemble ensemble(t);
  const long double kt = kB * t.temperature_k;
  long double sum = 0.0L;
  for (const SizeClass& c : ensemble.classes()) {
    const long double m = c.moment_a_m2;
    sum += c.number_fraction * m * m / kt * ref_langevin_over_x(m * b / kt);
  }
  return static_cast<double>(sum);
}

TracerModel single(double d, double sigma = 0.0, double dead_layer = 0.0, double tau = 0.0) {
  TracerMode mode;
  mode.name = "cores";
  mode.tracer.core_diameter_m = d;
  mode.tracer.diameter_sigma = sigma;
  mode.tracer.dead_layer_m = dead_layer;
  mode.tracer.saturation_magnetisation_a_per_m = 4.8e5;
  mode.tracer.temperature_k = 300.0;
  mode.tau_s = tau;
  return {{mode}};
}

TracerModel bimodal() {
  TracerModel model = single(5e-9, 0.2);
  model.modes[0].name = "small";
  model.modes[0].iron_fraction = 0.7;
  TracerMode large = single(24e-9, 0.15, 0.5e-9, 3e-6).modes[0];
  large.name = "large";
  large.iron_fraction = 0.3;
  model.modes.push_back(large);
  return model;
}

const Eigen::Matrix3d kGradient = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();

double particles_per_kg(const Tracer& t) {
  // Monodisperse: one core of the physical diameter per particle.
  return 1.0 / (std::numbers::pi * std::pow(t.core_diameter_m, 3) / 6.0 * t.core_density_kg_per_m3 * t.iron_mass_fraction);
}

TEST(TracerModel, ValidatesModesAndFractions) {
  EXPECT_FALSE(validate(TracerModel{}).empty());
  EXPECT_TRUE(validate(bimodal()).empty());
  TracerModel sum = bimodal();
  sum.modes[1].iron_fraction = 0.2;
  EXPECT_NE(validate(sum).find("sum to 1"), std::string::npos);
  TracerModel bad = bimodal();
  bad.modes[1].tracer.core_diameter_m = -1.0;
  EXPECT_NE(validate(bad).find("large"), std::string::npos);
  TracerModel tau = single(30e-9);
  tau.modes[0].tau_s = -1e-6;
  EXPECT_FALSE(validate(tau).empty());
}

TEST(ParticleSignalModel, TableMatchesDirectSumOverWholeRange) {
  const double max_field = 0.15;
  for (const TracerModel& tracer : {single(30e-9), single(25e-9, 0.3), single(20e-9, 0.1, 1e-9), bimodal(), single(60e-9, 0.3)}) {
    const ParticleSignalModel model(tracer, {}, kGradient, max_field);
    for (std::size_t m = 0; m < model.modes(); ++m) {
      const Tracer& t = tracer.modes[m].tracer;
      // b -> 0: sum w m^2 / (3 kB T).
      const ParticleEnsemble ensemble(t);
      double at_zero = 0.0;
      for (const SizeClass& c : ensemble.classes()) at_zero += c.number_fraction * c.moment_a_m2 * c.moment_a_m2 / (3.0 * kB * t.temperature_k);
      EXPECT_NEAR(model.mean_moment_per_field(m, 0.0), at_zero, 1e-7 * at_zero);
      EXPECT_EQ(model.mean_moment_a_m2(m, 0.0), 0.0);
      double worst = 0.0, worst_b = 0.0;
      const auto check = [&](double b) {
        const double ref = reference_per_field(t, b);
        const double err = std::abs(model.mean_moment_per_field(m, b) - ref) / ref;
        if (err > worst) { worst = err; worst_b = b; }
        // f(b) = b g(b), odd in b.
        EXPECT_NEAR(model.mean_moment_a_m2(m, -b), -b * ref, 1e-7 * b * ref);
      };
      for (double e = -12.0; e <= std::log10(max_field); e += 0.01) check(std::pow(10.0, e));
      for (int i = 0; i <= 3000; ++i) check(max_field * i / 3000.0 + 1e-9);
      check(max_field);
      check(2.0 * max_field);  // beyond the table: direct
      check(7.0);
      EXPECT_LT(worst, 1e-7) << "mode " << m << " at b = " << worst_b;
    }
  }
}

TEST(ParticleSignalModel, SingleSourceIsAnalyticLangevinVector) {
  const TracerModel tracer = single(30e-9);
  const Tracer& t = tracer.modes[0].tracer;
  const ParticleSource source{Eigen::Vector3d(1e-3, -0.5e-3, 0.7e-3), 2e-9};
  const ParticleSignalModel model(tracer, {source}, kGradient, 0.1);
  ASSERT_EQ(model.modes(), 1u);
  const double m = moment(30e-9, 4.8e5);
  const double n = 2e-9 * particles_per_kg(t);
  for (const Eigen::Vector3d& b : {Eigen::Vector3d(12e-3, 0.0, 0.0), Eigen::Vector3d(0.3e-3, -2e-3, 5e-3),
                                   Eigen::Vector3d(-1e-3, 0.5e-3, -1.4e-3), Eigen::Vector3d(-1e-3, 0.5e-3, -1.4e-3 + 1e-9)}) {
    const Eigen::Vector3d v = kGradient * source.position_m + b;
    const auto xi = static_cast<long double>(m * v.norm() / (kB * t.temperature_k));
    const Eigen::Vector3d expected = n * m * static_cast<double>(ref_langevin(xi)) * v / v.norm();
    std::array<Eigen::Vector3d, 1> out;
    model.equilibrium_moments(b, out);
    EXPECT_LT((out[0] - expected).norm(), 1e-7 * expected.norm()) << b.transpose();
  }
}

TEST(ParticleSignalModel, ModesAndSourcesSuperpose) {
  const TracerModel tracer = bimodal();
  const std::vector<ParticleSource> a{{Eigen::Vector3d(1e-3, 2e-3, -1e-3), 1e-9}};
  const std::vector<ParticleSource> b{{Eigen::Vector3d(-3e-3, 0.5e-3, 2e-3), 3e-9}};
  std::vector<ParticleSource> both = a;
  both.push_back(b[0]);
  const ParticleSignalModel model_a(tracer, a, kGradient, 0.1), model_b(tracer, b, kGradient, 0.1), model_ab(tracer, both, kGradient, 0.1);
  // Each mode alone, with all of the iron: the mixture is the fraction-weighted sum.
  TracerModel small{{tracer.modes[0]}}, large{{tracer.modes[1]}};
  small.modes[0].iron_fraction = 1.0;
  large.modes[0].iron_fraction = 1.0;
  const ParticleSignalModel model_small(small, both, kGradient, 0.1), model_large(large, both, kGradient, 0.1);
  EXPECT_DOUBLE_EQ(model_ab.tau_s(0), 0.0);
  EXPECT_DOUBLE_EQ(model_ab.tau_s(1), 3e-6);
  const Eigen::Vector3d field(4e-3, -3e-3, 1e-3);
  std::array<Eigen::Vector3d, 2> ma, mb, mab;
  std::array<Eigen::Vector3d, 1> ms, ml;
  model_a.equilibrium_moments(field, ma);
  model_b.equilibrium_moments(field, mb);
  model_ab.equilibrium_moments(field, mab);
  model_small.equilibrium_moments(field, ms);
  model_large.equilibrium_moments(field, ml);
  for (std::size_t m = 0; m < 2; ++m) EXPECT_LT((mab[m] - ma[m] - mb[m]).norm(), 1e-12 * mab[m].norm());
  EXPECT_LT((mab[0] - 0.7 * ms[0]).norm(), 1e-12 * mab[0].norm());
  EXPECT_LT((mab[1] - 0.3 * ml[0]).norm(), 1e-12 * mab[1].norm());
}

TEST(ParticleSignalModel, GradientActsAsFieldGr) {
  const TracerModel tracer = single(25e-9, 0.1);
  const Eigen::Vector3d r(2e-3, -1e-3, 1.5e-3);
  const ParticleSignalModel at_r(tracer, {{r, 1e-9}}, kGradient, 0.1);
  const ParticleSignalModel at_origin(tracer, {{Eigen::Vector3d::Zero(), 1e-9}}, kGradient, 0.1);
  std::array<Eigen::Vector3d, 1> a, b;
  at_r.equilibrium_moments(Eigen::Vector3d::Zero(), a);
  at_origin.equilibrium_moments(kGradient * r, b);
  EXPECT_LT((a[0] - b[0]).norm(), 1e-14 * b[0].norm());
  // Along G r = (-2, 1, 3) mT.
  EXPECT_LT(a[0].normalized().cross(Eigen::Vector3d(-2.0, 1.0, 3.0).normalized()).norm(), 1e-14);
  // The field-free point: no moment.
  at_r.equilibrium_moments(-kGradient * r, a);
  EXPECT_EQ(a[0].norm(), 0.0);
}

TEST(ParticleSignalModel, JacobianHasTangentialAndNormalEigenvalues) {
  // d mu / dB = N m^2/(kB T) [L'(xi) e e^T + L(xi)/xi (I - e e^T)], e = v/|v|: the 2D/3D PSF (REFERENCE 2).
  const TracerModel tracer = single(30e-9);
  const Tracer& t = tracer.modes[0].tracer;
  const Eigen::Vector3d r(0.4e-3, -0.2e-3, 0.1e-3);
  const ParticleSignalModel model(tracer, {{r, 1e-9}}, kGradient, 0.1);
  const double m = moment(30e-9, 4.8e5);
  const double kt = kB * t.temperature_k;
  const double scale = 1e-9 * particles_per_kg(t) * m * m / kt;
  for (const Eigen::Vector3d& b : {Eigen::Vector3d(0.1e-3, 0.3e-3, -0.1e-3), Eigen::Vector3d(-0.6e-3, 0.1e-3, 0.2e-3),
                                   Eigen::Vector3d(1.0e-3, 0.0, 0.0)}) {
    const Eigen::Vector3d v = kGradient * r + b;
    const double xi = m * v.norm() / kt;
    Eigen::Matrix3d jacobian;
    const double h = 1e-7;
    for (int k = 0; k < 3; ++k) {
      std::array<Eigen::Vector3d, 1> plus, minus;
      model.equilibrium_moments(b + h * Eigen::Vector3d::Unit(k), plus);
      model.equilibrium_moments(b - h * Eigen::Vector3d::Unit(k), minus);
      jacobian.col(k) = (plus[0] - minus[0]) / (2.0 * h);
    }
    EXPECT_LT((jacobian - jacobian.transpose()).norm(), 1e-4 * jacobian.norm());
    const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eigen(0.5 * (jacobian + jacobian.transpose()));
    // Eigenvalues ascending: L'(xi) < L(xi)/xi for xi > 0; the smallest belongs to the field direction.
    const auto tangential = static_cast<double>(ref_langevin_derivative(xi));
    const auto normal = static_cast<double>(ref_langevin_over_x(xi));
    EXPECT_NEAR(eigen.eigenvalues()(0) / scale, tangential, 1e-4 * normal) << "xi " << xi;
    EXPECT_NEAR(eigen.eigenvalues()(1) / scale, normal, 1e-4 * normal) << "xi " << xi;
    EXPECT_NEAR(eigen.eigenvalues()(2) / scale, normal, 1e-4 * normal) << "xi " << xi;
    EXPECT_GT(std::abs(eigen.eigenvectors().col(0).dot(v.normalized())), 1.0 - 1e-6);
  }
}

TEST(ParticleSignalModel, SetSourcesKeepsTheTablesAndCopiesApart) {
  const TracerModel tracer = bimodal();
  const std::vector<ParticleSource> first{{Eigen::Vector3d(1e-3, 0.0, 0.0), 1e-9}};
  const std::vector<ParticleSource> second{{Eigen::Vector3d(0.0, 2e-3, 1e-3), 2e-9}, {Eigen::Vector3d(0.0, -2e-3, 0.0), 0.0}};
  ParticleSignalModel model(tracer, first, kGradient, 0.1);
  const ParticleSignalModel copy = model;
  model.set_sources(second);
  ASSERT_EQ(model.sources().size(), 2u);
  EXPECT_EQ(copy.sources().size(), 1u);
  const ParticleSignalModel fresh(tracer, second, kGradient, 0.1);
  const ParticleSignalModel fresh_first(tracer, first, kGradient, 0.1);
  const Eigen::Vector3d field(3e-3, 1e-3, -2e-3);
  std::array<Eigen::Vector3d, 2> a, b, c, d;
  model.equilibrium_moments(field, a);
  fresh.equilibrium_moments(field, b);
  copy.equilibrium_moments(field, c);
  fresh_first.equilibrium_moments(field, d);
  for (std::size_t m = 0; m < 2; ++m) {
    EXPECT_EQ(a[m], b[m]);
    EXPECT_EQ(c[m], d[m]);
    EXPECT_NE(a[m], c[m]);
  }
}

TEST(ParticleSignalModel, RejectsBadInput) {
  const TracerModel tracer = single(30e-9);
  EXPECT_THROW(ParticleSignalModel(TracerModel{}, {}, kGradient, 0.1), std::invalid_argument);
  EXPECT_THROW(ParticleSignalModel(tracer, {{Eigen::Vector3d::Zero(), -1e-9}}, kGradient, 0.1), std::invalid_argument);
  EXPECT_THROW(ParticleSignalModel(tracer, {{Eigen::Vector3d(NAN, 0.0, 0.0), 1e-9}}, kGradient, 0.1), std::invalid_argument);
  EXPECT_THROW(ParticleSignalModel(tracer, {}, kGradient, 0.0), std::invalid_argument);
  ParticleSignalModel model(tracer, {}, kGradient, 0.1);
  EXPECT_THROW(model.set_sources({{Eigen::Vector3d::Zero(), NAN}}), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
