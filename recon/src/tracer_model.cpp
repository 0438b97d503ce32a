#include "mpi/recon/tracer_model.hpp"

#include <cmath>
#include <string>

namespace mpi::recon {

std::string validate(const TracerModel& model) {
  if (model.modes.empty()) return "a tracer model needs at least one mode";
  double fractions = 0.0;
  for (std::size_t i = 0; i < model.modes.size(); ++i) {
    const TracerMode& mode = model.modes[i];
    const std::string where = "mode #" + std::to_string(i + 1) + (mode.name.empty() ? "" : " (" + mode.name + ")");
    if (const std::string why = validate(mode.tracer); !why.empty()) return where + ": " + why;
    if (!(mode.iron_fraction > 0.0 && mode.iron_fraction <= 1.0)) return where + ": iron fraction must be in (0, 1]";
    if (!(mode.tau_s >= 0.0 && std::isfinite(mode.tau_s))) return where + ": relaxation time must be finite and >= 0";
    fractions += mode.iron_fraction;
  }
  if (std::abs(fractions - 1.0) > 1e-6) {
    return "iron fractions of the modes must sum to 1, they sum to " + std::to_string(fractions);
  }
  return {};
}

}  // namespace mpi::recon
