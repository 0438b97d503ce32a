// Partial-FOV stitching with DC recovery (REFERENCE 3.2 step 5). Removing the drive fundamental from the
// signal removes a constant from each partial FOV's (pFOV) x-space image: the weighted mean of the true
// image over that pFOV. Given images of overlapping pFOVs (focus field offsets) on one common grid, the
// unknown constants d_k are solved jointly by least squares from
//   img_j(p) + d_j = img_k(p) + d_k   for every pixel p covered by both pFOV j and pFOV k, and
//   img_k(p) + d_k = 0                for the outer-edge pixels p of the union of the pFOVs,
// the outer edge being the first `edge_pixels` covered pixels from each end of every grid line along each
// axis with more than one pixel (the union's outline; holes inside do not count). The stitched image is
// then the coverage-weighted mean of the corrected pFOV images. Removing the 2nd harmonic as well would
// remove a linear term per pFOV, which this does not recover.
#pragma once

#include <Eigen/Core>
#include <array>
#include <span>

namespace mpi::recon {

struct PartialFovImage {
  Eigen::VectorXd image;     // on the common grid (x fastest), 0 where not covered
  Eigen::VectorXd coverage;  // > 0 where this pFOV has data (XSpaceGridding::coverage()), else 0
};

struct StitchedImage {
  Eigen::VectorXd image;     // corrected, overlaps averaged; 0 where no pFOV reaches
  Eigen::VectorXd coverage;  // summed coverage of all pFOVs
  Eigen::VectorXd offsets;   // d_k added to each pFOV image
};

// counts: the common grid's pixels per axis (x fastest). Throws std::invalid_argument for no pFOVs,
// sizes that do not match the grid, negative or non-finite values, edge_pixels < 1, or pFOVs whose
// offsets are not determined (a group that overlaps neither another pFOV nor the outer edge).
StitchedImage stitch_partial_fovs(const std::array<int, 3>& counts, std::span<const PartialFovImage> pfovs,
                                  int edge_pixels = 1);

}  // namespace mpi::recon
