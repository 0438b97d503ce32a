#include "mpi/recon/pfov_stitching.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("stitch_partial_fovs: " + what); }

}  // namespace

StitchedImage stitch_partial_fovs(const std::array<int, 3>& counts, std::span<const PartialFovImage> pfovs,
                                  int edge_pixels) {
  if (pfovs.empty()) fail("no partial FOVs");
  if (edge_pixels < 1) fail("edge_pixels must be >= 1");
  for (int a = 0; a < 3; ++a)
    if (counts[static_cast<std::size_t>(a)] < 1) fail("counts[" + std::to_string(a) + "] must be >= 1");
  const std::size_t pixels = static_cast<std::size_t>(counts[0]) * static_cast<std::size_t>(counts[1]) *
                             static_cast<std::size_t>(counts[2]);
  const auto np = static_cast<Eigen::Index>(pixels);
  const auto n = static_cast<Eigen::Index>(pfovs.size());
  for (Eigen::Index k = 0; k < n; ++k) {
    const PartialFovImage& p = pfovs[static_cast<std::size_t>(k)];
    const std::string which = "pfov " + std::to_string(k);
    if (p.image.size() != np || p.coverage.size() != np)
      fail(which + ": image and coverage must have " + std::to_string(pixels) + " pixels");
    if (!p.image.allFinite() || !p.coverage.allFinite() || (p.coverage.array() < 0.0).any())
      fail(which + ": values must be finite and coverage non-negative");
  }

  StitchedImage out;
  out.coverage = Eigen::VectorXd::Zero(np);
  for (const PartialFovImage& p : pfovs) out.coverage += p.coverage;

  // Outer edge of the union: the first edge_pixels covered pixels from each end of every grid line.
  std::vector<char> edge(pixels, 0);
  const std::array<std::size_t, 3> stride{1, static_cast<std::size_t>(counts[0]),
                                          static_cast<std::size_t>(counts[0]) * static_cast<std::size_t>(counts[1])};
  for (std::size_t a = 0; a < 3; ++a) {
    const int len = counts[a];
    if (len < 2) continue;
    for (std::size_t start = 0; start < pixels; ++start) {
      // A line starts at every pixel whose coordinate along a is 0.
      if ((start / stride[a]) % static_cast<std::size_t>(len) != 0) continue;
      int marked = 0;
      for (int i = 0; i < len && marked < edge_pixels; ++i) {
        const std::size_t p = start + static_cast<std::size_t>(i) * stride[a];
        if (out.coverage(static_cast<Eigen::Index>(p)) > 0.0) { edge[p] = 1; ++marked; }
      }
      marked = 0;
      for (int i = len - 1; i >= 0 && marked < edge_pixels; --i) {
        const std::size_t p = start + static_cast<std::size_t>(i) * stride[a];
        if (out.coverage(static_cast<Eigen::Index>(p)) > 0.0) { edge[p] = 1; ++marked; }
      }
    }
  }

  // Normal equations of the least-squares problem in the offsets.
  Eigen::MatrixXd normal = Eigen::MatrixXd::Zero(n, n);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(n);
  std::vector<Eigen::Index> covering;
  covering.reserve(pfovs.size());
  for (Eigen::Index p = 0; p < np; ++p) {
    covering.clear();
    for (Eigen::Index k = 0; k < n; ++k)
      if (pfovs[static_cast<std::size_t>(k)].coverage(p) > 0.0) covering.push_back(k);
    for (std::size_t a = 0; a < covering.size(); ++a) {
      const Eigen::Index j = covering[a];
      const double vj = pfovs[static_cast<std::size_t>(j)].image(p);
      for (std::size_t b = a + 1; b < covering.size(); ++b) {
        const Eigen::Index k = covering[b];
        const double diff = pfovs[static_cast<std::size_t>(k)].image(p) - vj;  // d_j - d_k = diff
        normal(j, j) += 1.0;
        normal(k, k) += 1.0;
        normal(j, k) -= 1.0;
        normal(k, j) -= 1.0;
        rhs(j) += diff;
        rhs(k) -= diff;
      }
      if (edge[static_cast<std::size_t>(p)] != 0) {  // d_j = -img_j
        normal(j, j) += 1.0;
        rhs(j) -= vj;
      }
    }
  }
  const Eigen::FullPivLU<Eigen::MatrixXd> lu(normal);
  if (lu.rank() < n) fail("the offsets are not determined: some pFOVs overlap neither the others nor the outer edge");
  out.offsets = lu.solve(rhs);

  out.image = Eigen::VectorXd::Zero(np);
  for (Eigen::Index k = 0; k < n; ++k) {
    const PartialFovImage& pf = pfovs[static_cast<std::size_t>(k)];
    out.image.array() += pf.coverage.array() * (pf.image.array() + out.offsets(k));
  }
  for (Eigen::Index p = 0; p < np; ++p) out.image(p) = out.coverage(p) > 0.0 ? out.image(p) / out.coverage(p) : 0.0;
  return out;
}

}  // namespace mpi::recon
