#include "mpi/hil/moment_table.hpp"

#include "mpi/recon/constants.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mpi::hil {

namespace {

// Nodes per PSF width: cubic Hermite interpolation with exact slopes keeps the value error near 1e-8 and
// the slope error near 1e-6 of the peak at this density.
constexpr double kNodesPerFwhm = 64.0;
constexpr std::size_t kMinNodes = 1025;
constexpr std::size_t kMaxNodes = (std::size_t{1} << 20) + 1;

// The narrowest field PSF among the size classes that carry a noticeable share of the moment.
double narrowest_fwhm_t(const recon::ParticleEnsemble& ensemble) {
  double total = 0.0;
  for (const recon::SizeClass& c : ensemble.classes()) total += c.number_fraction * c.moment_a_m2;
  const double kt = recon::kBoltzmann * ensemble.tracer().temperature_k;
  double narrowest = 0.0;
  for (const recon::SizeClass& c : ensemble.classes()) {
    if (c.number_fraction * c.moment_a_m2 < 1e-6 * total) continue;
    const double fwhm = recon::kLangevinPsfFwhmXi * kt / c.moment_a_m2;
    if (narrowest == 0.0 || fwhm < narrowest) narrowest = fwhm;
  }
  return narrowest;
}

}  // namespace

double direct_total_moment(const std::vector<ParticleSource>& sources, const recon::ParticleEnsemble& ensemble,
                           double gradient_t_per_m, double drive_field_t) noexcept {
  double sum = 0.0;
  for (const ParticleSource& s : sources) sum += s.particles * ensemble.mean_moment_a_m2(gradient_t_per_m * s.x_m + drive_field_t);
  return sum;
}

MomentTable::MomentTable(const std::vector<ParticleSource>& sources, const recon::ParticleEnsemble& ensemble,
                         double gradient_t_per_m, double max_field_t) {
  if (!(max_field_t > 0.0) || !std::isfinite(max_field_t)) throw std::invalid_argument("moment table: the maximum drive field must be positive");
  const double half_range = 1.05 * max_field_t;
  const double wanted = narrowest_fwhm_t(ensemble) / kNodesPerFwhm;
  const auto by_width = static_cast<std::size_t>(std::ceil(2.0 * half_range / wanted)) + 1;
  const std::size_t nodes = std::clamp(by_width, kMinNodes, kMaxNodes);
  const double spacing = 2.0 * half_range / static_cast<double>(nodes - 1);

  first_field_t_ = -half_range;
  inverse_spacing_ = 1.0 / spacing;
  last_node_ = static_cast<double>(nodes - 1);
  last_interval_ = nodes - 2;
  data_.assign(2 * nodes, 0.0);
  for (std::size_t i = 0; i < nodes; ++i) {
    const double b = first_field_t_ + spacing * static_cast<double>(i);
    double value = 0.0;
    double slope = 0.0;
    for (const ParticleSource& s : sources) {
      const double field = gradient_t_per_m * s.x_m + b;
      value += s.particles * ensemble.mean_moment_a_m2(field);
      slope += s.particles * ensemble.mean_moment_slope(field);
    }
    data_[2 * i] = value;
    data_[2 * i + 1] = slope * spacing;
  }
}

}  // namespace mpi::hil
