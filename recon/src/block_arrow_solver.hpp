// Solver for symmetric positive definite normal equations with a block-arrow structure, as the
// relaxometry fit produces (relaxometry.cpp): a "core" of unknowns (the moment curves on a field grid)
// that couple only over a limited distance once reordered, plus many small blocks (each drive cycle's
// own unknowns) that couple to the core and to nothing else. A general sparse LDL^T eliminates the small
// blocks and fills in the core densely, one non-supernodal column at a time; here the blocks are
// eliminated explicitly (Schur complement, each block a small dense Cholesky) and the core, a band
// matrix after the permutation, is factored by a blocked band Cholesky (dense panels, GEMM updates).
//
//   [ N   B ] [z]   [a]      S = N - sum_k B_k C_k^-1 B_k^T,  S z = a - sum_k B_k C_k^-1 b_k,
//   [ B^T C ] [c] = [b]      c_k = C_k^-1 (b_k - B_k^T z).
#pragma once

#include <Eigen/Dense>
#include <Eigen/SparseCore>

#include <cstddef>
#include <vector>

namespace mpi::recon {

class BlockArrowSolver {
 public:
  // `matrix`: the whole symmetric matrix (both triangles stored), `core` leading unknowns, then blocks of
  // `block_size` unknowns each (matrix.cols() - core must be a multiple). `order[i]` is the position of
  // core unknown i in the banded order (a permutation of 0..core-1). Throws std::invalid_argument when
  // the structure does not hold (a block coupled to another block) or std::runtime_error when the matrix
  // is not positive definite.
  BlockArrowSolver(const Eigen::SparseMatrix<double>& matrix, std::size_t core, std::size_t block_size,
                   const std::vector<std::size_t>& order);

  [[nodiscard]] Eigen::VectorXd solve(const Eigen::VectorXd& rhs) const;
  // Half bandwidth of the core's Schur complement in the banded order.
  [[nodiscard]] std::size_t bandwidth() const noexcept { return kd_; }

 private:
  struct Block {
    std::vector<std::size_t> rows;  // banded core positions it couples to, ascending
    Eigen::MatrixXd coupling;       // rows.size() x block_size: B_k in those rows
    Eigen::LLT<Eigen::MatrixXd> factor;
  };
  [[nodiscard]] std::size_t panel_of(std::size_t position) const noexcept { return position / kPanel; }
  double& at(std::size_t row, std::size_t col);  // banded positions, row >= col, row - col <= kd_
  void factor_band();

  static constexpr std::size_t kPanel = 64;
  std::size_t core_ = 0, block_size_ = 0, kd_ = 0;
  std::vector<std::size_t> order_;
  std::vector<Block> blocks_;
  // Panel p: columns [p kPanel, p kPanel + cols), rows [p kPanel, p kPanel + rows) of the band's lower
  // triangle, dense; after factor_band() the Cholesky factor L in the same place.
  std::vector<Eigen::MatrixXd> panels_;
};

}  // namespace mpi::recon
