// The Langevin function and its derivative: the equilibrium magnetisation curve of superparamagnetic
// particles, M(H) = n m L(xi), xi = mu0 m H / (kB T), and the shape of the 1D x-space PSF, L'(xi).
#pragma once

namespace mpi::recon {

// L(xi) = coth(xi) - 1/xi, with the series xi/3 - xi^3/45 near zero.
double langevin(double xi) noexcept;
// L'(xi) = 1/xi^2 - 1/sinh^2(xi), with the series 1/3 - xi^2/15 near zero; L'(0) = 1/3.
double langevin_derivative(double xi) noexcept;

}  // namespace mpi::recon
