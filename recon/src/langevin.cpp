#include "mpi/recon/langevin.hpp"

#include <cmath>

namespace mpi::recon {

double langevin(double xi) noexcept {
  const double a = std::abs(xi);
  if (a < 1e-4) return xi / 3.0 - xi * xi * xi / 45.0;
  if (a > 40.0) return std::copysign(1.0, xi) - 1.0 / xi;  // coth(40) = 1 to double precision
  return 1.0 / std::tanh(xi) - 1.0 / xi;
}

double langevin_derivative(double xi) noexcept {
  const double a = std::abs(xi);
  // Below ~1e-3 the difference of the two 1/x^2-sized terms loses all digits; the series is exact there
  // to O(xi^4) = 1e-12.
  if (a < 1e-3) return 1.0 / 3.0 - xi * xi / 15.0;
  if (a > 40.0) return 1.0 / (xi * xi);  // 1/sinh^2(40) < 1e-34
  const double s = std::sinh(xi);
  return 1.0 / (xi * xi) - 1.0 / (s * s);
}

}  // namespace mpi::recon
