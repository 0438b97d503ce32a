// A 1D image (line profile) on a regular grid of pixel centres.
#pragma once

#include <cstddef>
#include <vector>

namespace mpi::recon {

struct Profile1D {
  double first_pixel_centre_m = 0.0;
  double pixel_m = 0.0;
  std::vector<double> values;   // the image; NaN where unsampled
  // The two scan directions apart (rising: FFP moving towards +x, falling: towards -x), NaN where
  // unsampled. values is their mean where both exist, otherwise the one that does.
  std::vector<double> rising;
  std::vector<double> falling;

  [[nodiscard]] double pixel_centre_m(std::size_t index) const noexcept {
    return first_pixel_centre_m + static_cast<double>(index) * pixel_m;
  }
};

}  // namespace mpi::recon
