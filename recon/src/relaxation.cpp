#include "mpi/recon/relaxation.hpp"

#include "mpi/recon/constants.hpp"
#include "mpi/recon/tracer.hpp"

#include <cmath>
#include <limits>

namespace mpi::recon {

double brownian_relaxation_s(double hydrodynamic_diameter_m, double viscosity_pa_s, double temperature_k) noexcept {
  return 3.0 * viscosity_pa_s * core_volume_m3(hydrodynamic_diameter_m) / (kBoltzmann * temperature_k);
}

double neel_relaxation_s(double core_diameter_m, double anisotropy_j_per_m3, double temperature_k,
                         double attempt_time_s) noexcept {
  // exp overflows to +inf for blocked particles: "absent" for effective_relaxation_s.
  return attempt_time_s * std::exp(anisotropy_j_per_m3 * core_volume_m3(core_diameter_m) / (kBoltzmann * temperature_k));
}

double effective_relaxation_s(double neel_s, double brownian_s) noexcept {
  if (std::isinf(neel_s)) return brownian_s;
  if (std::isinf(brownian_s)) return neel_s;
  const double sum = neel_s + brownian_s;
  return sum > 0.0 ? neel_s * brownian_s / sum : 0.0;
}

DebyeStep::DebyeStep(double tau_s, double step_s) noexcept {
  if (!(tau_s > 0.0)) return;  // no relaxation: y1 = x1
  if (!(step_s > 0.0)) {       // no time passes: y1 = y0
    a_ = 1.0;
    c_ = 0.0;
    return;
  }
  // Exact solution of tau y' + y = x0 + (x1 - x0) t / h over one step:
  //   y1 = a y0 + (q - a) x0 + (1 - q) x1,  a = exp(-h/tau),  q = (1 - a) tau / h.
  const double r = step_s / tau_s;
  a_ = std::exp(-r);
  const double q = -std::expm1(-r) / r;  // (1 - a) / r without cancellation for small r
  b_ = q - a_;
  c_ = 1.0 - q;
}

}  // namespace mpi::recon
