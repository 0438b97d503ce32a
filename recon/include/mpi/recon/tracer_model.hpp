// A tracer as the forward model sees it: one or more modes (populations of cores, e.g. the small and the
// large cores of a Resovist-like bimodal mix), each with its size distribution, its share of the iron and
// its Debye relaxation time.
#pragma once

#include "mpi/recon/tracer.hpp"

#include <string>
#include <vector>

namespace mpi::recon {

struct TracerMode {
  std::string name;
  Tracer tracer;               // cores; Tracer::dead_layer_m makes the magnetic diameter smaller
  double iron_fraction = 1.0;  // share of the tracer's iron in this mode
  double tau_s = 0.0;          // Debye relaxation time; 0 = equilibrium (Langevin) response
};

struct TracerModel {
  std::vector<TracerMode> modes;
};

// Empty when valid; otherwise what is wrong (no modes, fractions not summing to 1 within 1e-6, a bad mode).
std::string validate(const TracerModel& model);

}  // namespace mpi::recon
