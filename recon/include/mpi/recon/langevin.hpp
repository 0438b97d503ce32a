// The Langevin function and its derivative: the equilibrium magnetisation curve of superparamagnetic
// particles, M(H) = n m L(xi), xi = mu0 m H / (kB T), and the shape of the 1D x-space PSF, L'(xi).
#pragma once

namespace mpi::recon {

// L(xi) = coth(xi) - 1/xi, with its series (to xi^5) near zero, where the closed form cancels digits.
double langevin(double xi) noexcept;
// L'(xi) = 1/xi^2 - 1/sinh^2(xi), with its series (to xi^4) near zero; L'(0) = 1/3.
double langevin_derivative(double xi) noexcept;

}  // namespace mpi::recon
