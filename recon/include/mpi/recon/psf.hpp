// The envelopes of the multi-dimensional Langevin point spread function (REFERENCE 2): along the FFP
// velocity the tangential part L'(xi), across it the normal part L(xi)/xi, xi = k |G r|. Both are 1/3 at
// xi = 0; the normal envelope is 2.275 times wider (FWHM).
#pragma once

namespace mpi::recon {

// L'(xi).
double psf_tangential(double xi) noexcept;
// L(xi) / xi, with its series near zero.
double psf_normal(double xi) noexcept;

}  // namespace mpi::recon
