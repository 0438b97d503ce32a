#include "mpi/recon/langevin.hpp"

#include <cmath>

namespace mpi::recon {

double langevin(double xi) noexcept {
  const double a = std::abs(xi);
  // Series to xi^5 below 1e-2 (truncation < 1e-17 relative): coth(xi) - 1/xi cancels digits there.
  if (a < 1e-2) {
    const double x2 = xi * xi;
    return xi * (1.0 / 3.0 - x2 * (1.0 / 45.0 - x2 * 2.0 / 945.0));
  }
  if (a > 40.0) return std::copysign(1.0, xi) - 1.0 / xi;  // coth(40) = 1 to double precision
  return 1.0 / std::tanh(xi) - 1.0 / xi;
}

double langevin_derivative(double xi) noexcept {
  const double a = std::abs(xi);
  // Below 2e-2 the two 1/x^2-sized terms cancel; the series to xi^4 is exact there to 1e-13 relative.
  if (a < 2e-2) {
    const double x2 = xi * xi;
    return 1.0 / 3.0 - x2 * (1.0 / 15.0 - x2 * 2.0 / 189.0);
  }
  if (a > 40.0) return 1.0 / (xi * xi);  // 1/sinh^2(40) < 1e-34
  const double s = std::sinh(xi);
  return 1.0 / (xi * xi) - 1.0 / (s * s);
}

}  // namespace mpi::recon
