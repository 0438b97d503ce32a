// Debye relaxation correction (REFERENCE 1.2): a signal relaxed in the time domain by the exact
// step-wise Debye filter (DebyeStep, on a 16x finer time grid, run into the periodic steady state) is
// corrected in the frequency domain; its x-space image must match the equilibrium one.
#include "mpi/recon/relaxation_correction.hpp"

#include "mpi/recon/relaxation.hpp"
#include "mpi/recon/xspace_gridding.hpp"
#include "xspace_synthetic.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

TEST(DebyeCorrection, RejectsBadInput) {
  EXPECT_THROW(DebyeCorrection(1, 1e6, 1e-6), std::invalid_argument);
  EXPECT_THROW(DebyeCorrection(100, 0.0, 1e-6), std::invalid_argument);
  EXPECT_THROW(DebyeCorrection(100, 1e6, -1e-6), std::invalid_argument);
  DebyeCorrection c(100, 1e6, 1e-6);
  std::vector<double> wrong(99);
  EXPECT_THROW(c.apply(wrong), std::invalid_argument);
}

TEST(DebyeCorrection, RestoresTheEquilibriumXSpaceImage) {
  const xspace_test::Cores cores;
  const Eigen::Matrix3d gradient = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
  const double fs = 10e6, coil = 1e-3, tau = 3e-6;
  const std::size_t period = 408, fine = 16;
  const DriveTrajectory drive({{Eigen::Vector3d::UnitX(), 0.012, fs / static_cast<double>(period), 0.0}});
  const std::vector<Eigen::Vector3d> coils{Eigen::Vector3d::UnitX()};
  const ParticleSignalModel model(cores.model(), {{Eigen::Vector3d(0.0017, 0.0, 0.0), 1e-12}, {Eigen::Vector3d(-0.004, 0.0, 0.0), 5e-13}},
                                  gradient, 0.1);
  const std::vector<double> equilibrium = xspace_test::receive_frame(model, drive, Eigen::Vector3d::Zero(), coils, coil, fs, period);
  const std::vector<double> fine_u =
      xspace_test::receive_frame(model, drive, Eigen::Vector3d::Zero(), coils, coil, fs * static_cast<double>(fine), period * fine);
  const DebyeStep step(tau, 1.0 / (fs * static_cast<double>(fine)));
  const std::size_t n_fine = period * fine;
  double y = 0.0;
  std::vector<double> relaxed(period);
  for (int cycle = 0; cycle < 8; ++cycle)
    for (std::size_t i = 0; i < n_fine; ++i) {
      if (cycle == 7 && i % fine == 0) relaxed[i / fine] = y;
      y = step(y, fine_u[i], fine_u[(i + 1) % n_fine]);
    }

  XSpaceGriddingConfig c;
  c.gradient_t_per_m = gradient;
  c.sample_rate_hz = fs;
  c.frame_samples = period;
  c.receive_directions = coils;
  c.grid.counts = {480, 1, 1};
  c.grid.pixel_m = Eigen::Vector3d(0.05e-3, 0.0, 0.0);
  c.grid.origin_m = Eigen::Vector3d(-0.012 + 0.025e-3, 0.0, 0.0);
  c.signal_scale = coil * cores.moment() * cores.k();
  c.weights = GriddingWeights::kNearest;
  const XSpaceGridding op(drive, c);
  std::vector<double> reference(op.image_size()), image(op.image_size());
  op.apply(equilibrium, reference);
  const double peak = *std::max_element(reference.begin(), reference.end());
  const auto max_error = [&](const std::vector<double>& signal) {
    op.apply(signal, image);
    double worst = 0.0;
    for (std::size_t p = 0; p < image.size(); ++p) worst = std::max(worst, std::abs(image[p] - reference[p]));
    return worst / peak;
  };
  EXPECT_GT(max_error(relaxed), 0.1);
  DebyeCorrection correction(period, fs, tau);
  std::vector<double> corrected = relaxed;
  correction.apply(corrected);
  const double error = max_error(corrected);
  RecordProperty("corrected_max_error_percent_of_peak", std::to_string(100.0 * error));
  EXPECT_LT(error, 0.01);
}

}  // namespace
}  // namespace mpi::recon
