// 1D x-space reconstruction (REFERENCE 3.2, steps 2-5). Step 1, removing the drive feedthrough, is the
// caller's: remove_harmonics (spectrum.hpp) with harmonics 0 and 1 before reconstructing.
//
// Normalisation: a point of n particles of moment m at x_i, seen by a receive coil of sensitivity p (T/A),
// gives u(t) = -p n m k L'(k G (x_i - x_ffp(t))) dB_D/dt with k = m / (kB T). The caller passes
// signal_scale = p m k (for a size distribution p * sum_i w_i m_i^2 / (kB T)), and the image is
//   rho_hat(x_ffp(t)) = u(t) / (-signal_scale * dB_D/dt(t)) = (rho * h)(x_ffp),  h(x) = L'(k G x).
#pragma once

#include "mpi/recon/drive_field.hpp"
#include "mpi/recon/profile_1d.hpp"

#include <cstdint>
#include <span>

namespace mpi::recon {

struct XSpace1DConfig {
  double gradient_t_per_m = 0.0;     // selection gradient along x (non-zero; may be negative)
  double pixel_m = 0.0;              // image grid step
  double fov_min_m = 0.0;            // image extent; pixel centres at fov_min + (i + 0.5) * pixel,
  double fov_max_m = 0.0;            //   floor((fov_max - fov_min) / pixel) pixels
  double min_speed_fraction = 0.3;   // drop samples where |v_FFP| < fraction * peak |v_FFP|, in [0, 1)
  double signal_scale = 0.0;         // p m k, see above (non-zero)
  bool dc_recovery = true;           // restore the constant removed with the fundamental (see below)
};

// Throws std::invalid_argument naming the field when the configuration cannot be used.
void throw_if_invalid(const XSpace1DConfig& config);

// Reconstructs a 1D image from one receive channel. Sample i of signal_v is at
// t = (first_sample + i) / sample_rate_hz. Samples are velocity-compensated, those slower than
// min_speed_fraction of the peak FFP speed dropped, and each half-cycle (a run of samples with one scan
// direction, monotonic in x) is interpolated linearly onto the pixel centres it spans; pixels hit by several
// half-cycles of a direction are averaged. With dc_recovery each direction is shifted so that the mean over
// the outermost 5 % of its sampled extent on each side is zero (a single partial FOV).
// Throws std::invalid_argument for a bad config, drive, sample rate or a non-finite sample.
Profile1D reconstruct_xspace_1d(std::span<const double> signal_v, std::uint64_t first_sample,
                                double sample_rate_hz, const SineDrive& drive, const XSpace1DConfig& config);

}  // namespace mpi::recon
