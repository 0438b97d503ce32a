// Physical constants (SI).
#pragma once

#include <numbers>

namespace mpi::recon {

inline constexpr double kMu0 = 4.0e-7 * std::numbers::pi;  // T m / A
inline constexpr double kBoltzmann = 1.380649e-23;         // J / K
// Half maximum of L'(xi) lies at xi = +-2.0805: the FWHM of the Langevin PSF in xi.
inline constexpr double kLangevinPsfFwhmXi = 4.1610;

}  // namespace mpi::recon
