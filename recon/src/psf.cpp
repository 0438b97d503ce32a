#include "mpi/recon/psf.hpp"

#include "mpi/recon/langevin.hpp"

#include <array>
#include <cmath>

namespace mpi::recon {

namespace {

// 2n / (2n+1)! for n = 1..10.
constexpr std::array<double, 10> kSeries = [] {
  std::array<double, 10> c{};
  for (int n = 1; n <= 10; ++n) {
    double factorial = 1.0;
    for (int k = 2; k <= 2 * n + 1; ++k) factorial *= k;
    c[static_cast<std::size_t>(n - 1)] = 2.0 * n / factorial;
  }
  return c;
}();

}  // namespace

double psf_tangential(double xi) noexcept { return langevin_derivative(xi); }

double psf_normal(double xi) noexcept {
  // Below |xi| = 1, coth(xi) - 1/xi cancels digits. There L(xi)/xi = (xi cosh xi - sinh xi) / (xi^2 sinh xi)
  // and xi cosh xi - sinh xi = sum_{n>=1} 2n xi^(2n+1) / (2n+1)!, a series of positive terms: no
  // cancellation, and ten terms reach 1e-19 relative at |xi| = 1.
  const double a = std::abs(xi);
  if (a < 1.0) {
    const double u = a * a;
    double series = 0.0;
    for (auto c = kSeries.rbegin(); c != kSeries.rend(); ++c) series = series * u + *c;
    return a == 0.0 ? series : series * (a / std::sinh(a));
  }
  return langevin(a) / a;
}

}  // namespace mpi::recon
