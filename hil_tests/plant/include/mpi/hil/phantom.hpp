// The simulated sample in the bore of a 1D scanner: point sources and uniform line sources of iron along x,
// and their discretisation into weighted particle sources for the signal model.
#pragma once

#include "mpi/recon/tracer.hpp"

#include <vector>

namespace mpi::hil {

struct PointSource {
  double x_m = 0.0;
  double iron_kg = 0.0;
};

struct LineSource {
  double from_m = 0.0;
  double to_m = 0.0;
  double iron_kg_per_m = 0.0;
};

struct Phantom {
  std::vector<PointSource> points;
  std::vector<LineSource> lines;
};

// A number of particles at one position.
struct ParticleSource {
  double x_m;
  double particles;
};

// Points become one source each; each line becomes composite-Simpson nodes (an even number of intervals,
// spacing at most psf_fwhm_m(tracer, gradient) / 20) weighted so that the nodes carry the line's
// particles exactly. Particle counts from iron mass through ParticleEnsemble::particles_per_kg_iron().
std::vector<ParticleSource> discretise(const Phantom& phantom, const recon::ParticleEnsemble& ensemble,
                                       double gradient_t_per_m);

}  // namespace mpi::hil
