#include "mpi/hil/phantom.hpp"

#include <cmath>
#include <stdexcept>

namespace mpi::hil {

std::vector<ParticleSource> discretise(const Phantom& phantom, const recon::ParticleEnsemble& ensemble,
                                       double gradient_t_per_m) {
  if (!(gradient_t_per_m > 0.0)) throw std::invalid_argument("phantom: the selection gradient must be positive");
  const double per_kg = ensemble.particles_per_kg_iron();
  const double max_spacing_m = recon::psf_fwhm_m(ensemble.tracer(), gradient_t_per_m) / 20.0;
  std::vector<ParticleSource> sources;
  for (const PointSource& p : phantom.points) sources.push_back({p.x_m, p.iron_kg * per_kg});
  for (const LineSource& line : phantom.lines) {
    const double length = line.to_m - line.from_m;
    // Composite Simpson: an even number of intervals, weights h/3 * (1, 4, 2, 4, ..., 4, 1).
    auto intervals = static_cast<std::size_t>(std::ceil(std::abs(length) / max_spacing_m));
    if (intervals < 2) intervals = 2;
    if (intervals % 2 != 0) ++intervals;
    const double h = length / static_cast<double>(intervals);
    const double density = line.iron_kg_per_m * per_kg;  // particles per metre
    for (std::size_t i = 0; i <= intervals; ++i) {
      const double weight = (i == 0 || i == intervals) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0);
      sources.push_back({line.from_m + h * static_cast<double>(i), density * std::abs(h) / 3.0 * weight});
    }
  }
  return sources;
}

}  // namespace mpi::hil
