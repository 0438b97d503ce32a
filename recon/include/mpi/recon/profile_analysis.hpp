// Image analysis of a 1D profile: peaks, their full width at half maximum, and the dip between two peaks
// (the resolution criterion). NaN pixels (unsampled) are skipped throughout.
#pragma once

#include "mpi/recon/profile_1d.hpp"

#include <cstddef>
#include <vector>

namespace mpi::recon {

struct Peak {
  double position_m;  // refined by a parabola through the peak pixel and its finite neighbours
  double value;       // the parabola's vertex value (>= the pixel's value)
  std::size_t index;  // the peak pixel
};

// Local maxima of profile.values above min_relative_height times the global maximum (which must be
// positive; otherwise there are no peaks), sorted by position. A maximum needs a finite neighbour on both
// sides, so the ends of the sampled extent are never peaks. Throws std::invalid_argument when
// min_relative_height is not in [0, 1].
std::vector<Peak> find_peaks(const Profile1D& profile, double min_relative_height = 0.25);

// Full width at half maximum (peak.value / 2) of a peak, from the first crossings of the half maximum on
// each side, located by linear interpolation between pixels. NaN when the profile does not fall below half
// maximum on one side. Throws std::invalid_argument when peak.index is outside the profile or NaN there.
double fwhm_m(const Profile1D& profile, const Peak& peak);

// The minimum of the profile between two peaks divided by the smaller peak value: < 1 means a dip,
// 1 when no pixel lies between them. Throws std::invalid_argument when an index is outside the profile.
double dip_ratio(const Profile1D& profile, const Peak& a, const Peak& b);

}  // namespace mpi::recon
