#include "mpi/hil/scanner_model.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace mpi::hil {
namespace {

constexpr double kB = 1.380649e-23;

config::TracerDescription three_modes() {
  config::TracerDescription t;
  t.name = "test";
  t.temperature_k = 300.0;
  config::TracerModeDescription none;
  none.name = "plain";
  none.iron_fraction = 0.5;
  none.core_diameter_m = 20e-9;
  none.diameter_sigma = 0.1;
  none.dead_layer_m = 0.5e-9;
  none.saturation_magnetisation_a_per_m = 4.5e5;
  none.core_density_kg_per_m3 = 4900.0;
  none.iron_mass_fraction = 0.7;
  config::TracerModeDescription given = none;
  given.name = "given";
  given.iron_fraction = 0.25;
  given.relaxation = config::RelaxationModel::given;
  given.tau_s = 3e-6;
  config::TracerModeDescription physical = none;
  physical.name = "neel-brownian";
  physical.iron_fraction = 0.25;
  physical.relaxation = config::RelaxationModel::neel_brownian;
  physical.core_diameter_m = 22e-9;
  physical.dead_layer_m = 1e-9;  // Neel at the 20 nm magnetic core
  physical.hydrodynamic_diameter_m = 50e-9;
  physical.viscosity_pa_s = 1e-3;
  physical.anisotropy_j_per_m3 = 1e4;
  physical.attempt_time_s = 1e-9;
  t.modes = {none, given, physical};
  return t;
}

TEST(TracerModel, CarriesEveryModeParameter) {
  const config::TracerDescription d = three_modes();
  const recon::TracerModel m = tracer_model(d);
  ASSERT_EQ(m.modes.size(), 3u);
  EXPECT_TRUE(recon::validate(m).empty());
  const recon::TracerMode& plain = m.modes[0];
  EXPECT_EQ(plain.name, "plain");
  EXPECT_DOUBLE_EQ(plain.iron_fraction, 0.5);
  EXPECT_DOUBLE_EQ(plain.tracer.core_diameter_m, 20e-9);
  EXPECT_DOUBLE_EQ(plain.tracer.diameter_sigma, 0.1);
  EXPECT_DOUBLE_EQ(plain.tracer.dead_layer_m, 0.5e-9);
  EXPECT_DOUBLE_EQ(plain.tracer.saturation_magnetisation_a_per_m, 4.5e5);
  EXPECT_DOUBLE_EQ(plain.tracer.core_density_kg_per_m3, 4900.0);
  EXPECT_DOUBLE_EQ(plain.tracer.iron_mass_fraction, 0.7);
  EXPECT_DOUBLE_EQ(plain.tracer.temperature_k, 300.0);
  EXPECT_EQ(plain.tau_s, 0.0);
  EXPECT_DOUBLE_EQ(m.modes[1].tau_s, 3e-6);
}

TEST(TracerModel, NeelBrownianTauFromMagneticAndHydrodynamicSizes) {
  const recon::TracerModel m = tracer_model(three_modes());
  // REFERENCE 1.2 with the 20 nm magnetic core (22 nm less 2 x 1 nm) and the 50 nm hydrodynamic size.
  const double t = 300.0;
  const double v_core = std::numbers::pi * std::pow(20e-9, 3) / 6.0;
  const double v_h = std::numbers::pi * std::pow(50e-9, 3) / 6.0;
  const double neel = 1e-9 * std::exp(1e4 * v_core / (kB * t));
  const double brown = 3.0 * 1e-3 * v_h / (kB * t);
  EXPECT_NEAR(m.modes[2].tau_s, neel * brown / (neel + brown), 1e-12 * neel);
  // About 16 us: Neel (~25 us) and Brownian (~47 us) in parallel.
  EXPECT_NEAR(m.modes[2].tau_s, 16e-6, 1e-6);
}

TEST(TracerModel, BlockedCoresLeaveBrownianRelaxation) {
  config::TracerDescription d = three_modes();
  d.modes[2].anisotropy_j_per_m3 = 1e6;  // exp overflows: Neel is absent
  const recon::TracerModel m = tracer_model(d);
  EXPECT_NEAR(m.modes[2].tau_s, 3.0 * 1e-3 * std::numbers::pi * std::pow(50e-9, 3) / 6.0 / (kB * 300.0), 1e-15);
}

TEST(Geometry, GradientMatrixIsRowMajorAndVectorsCopy) {
  config::SelectionDescription s;
  s.gradient_t_per_m = {{{-1.0, 0.1, 0.2}, {0.1, -1.0, 0.3}, {0.2, 0.3, 2.0}}};
  const Eigen::Matrix3d g = gradient_matrix(s);
  EXPECT_EQ(g(0, 1), 0.1);
  EXPECT_EQ(g(0, 2), 0.2);
  EXPECT_EQ(g(1, 2), 0.3);
  EXPECT_EQ(g(2, 2), 2.0);
  EXPECT_EQ(g.trace(), 0.0);
  config::SelectionDescription asym;
  asym.gradient_t_per_m = {{{0.0, 1.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}}};
  EXPECT_EQ(gradient_matrix(asym)(0, 1), 1.0);
  EXPECT_EQ(gradient_matrix(asym)(1, 0), 0.0);
  EXPECT_EQ(to_vector({1.0, -2.0, 3.5}), Eigen::Vector3d(1.0, -2.0, 3.5));
}

}  // namespace
}  // namespace mpi::hil
