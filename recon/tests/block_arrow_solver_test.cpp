// The block-arrow solver of the relaxometry fit against a dense LDL^T of the same matrix (an independent
// reference), on random systems of the fit's shape: a core whose unknowns couple only within a band once
// reordered, and small blocks that couple to a stretch of the core and to nothing else.
#include "block_arrow_solver.hpp"

#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

struct System {
  Eigen::SparseMatrix<double> matrix;
  std::vector<std::size_t> order;
};

// A^T A + ridge for a random sparse A whose rows touch the core within `reach` banded positions and at
// most one block; the core's positions are scrambled by a random permutation (`order`).
System random_system(std::size_t core, std::size_t block_size, std::size_t blocks, std::size_t reach, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  System s;
  s.order.resize(core);
  std::iota(s.order.begin(), s.order.end(), std::size_t{0});
  std::shuffle(s.order.begin(), s.order.end(), rng);
  std::vector<std::size_t> unknown_at(core);  // inverse: banded position -> unknown
  for (std::size_t i = 0; i < core; ++i) unknown_at[s.order[i]] = i;
  const std::size_t n = core + blocks * block_size;
  std::vector<Eigen::Triplet<double>> trips;
  int row = 0;
  std::uniform_int_distribution<std::size_t> where(0, core - reach);
  for (std::size_t k = 0; k < blocks; ++k) {
    const std::size_t from = where(rng);
    for (int r = 0; r < 40; ++r, ++row) {
      for (int e = 0; e < 3; ++e) trips.emplace_back(row, static_cast<int>(unknown_at[from + rng() % reach]), value(rng));
      for (std::size_t j = 0; j < block_size; ++j) trips.emplace_back(row, static_cast<int>(core + k * block_size + j), value(rng));
    }
  }
  for (std::size_t p = 0; p + 2 < core; ++p, ++row) {  // a local second difference over the whole core
    trips.emplace_back(row, static_cast<int>(unknown_at[p]), 1.0);
    trips.emplace_back(row, static_cast<int>(unknown_at[p + 1]), -2.0);
    trips.emplace_back(row, static_cast<int>(unknown_at[p + 2]), 1.0);
  }
  Eigen::SparseMatrix<double> a(row, static_cast<int>(n));
  a.setFromTriplets(trips.begin(), trips.end());
  s.matrix = a.transpose() * a;
  Eigen::SparseMatrix<double> ridge(static_cast<int>(n), static_cast<int>(n));
  ridge.setIdentity();
  s.matrix += 1e-3 * ridge;
  return s;
}

TEST(BlockArrowSolver, MatchesADenseFactorisation) {
  for (const auto& [core, block_size, blocks, reach] : {std::tuple<std::size_t, std::size_t, std::size_t, std::size_t>{300, 5, 60, 40},
                                                        {1000, 7, 200, 150}, {97, 3, 10, 97}, {130, 0, 0, 9}}) {
    const System s = random_system(core, block_size, blocks, reach, static_cast<unsigned>(core));
    const BlockArrowSolver solver(s.matrix, core, block_size, s.order);
    EXPECT_LE(solver.bandwidth(), reach + 2) << core;
    const Eigen::MatrixXd dense(s.matrix);
    const Eigen::LDLT<Eigen::MatrixXd> reference(dense);
    std::mt19937 rng(7);
    std::normal_distribution<double> normal;
    Eigen::VectorXd rhs(dense.rows());
    for (Eigen::Index i = 0; i < rhs.size(); ++i) rhs(i) = normal(rng);
    const Eigen::VectorXd expected = reference.solve(rhs);
    const Eigen::VectorXd got = solver.solve(rhs);
    EXPECT_LT((got - expected).norm(), 1e-9 * expected.norm()) << "core " << core << ", blocks " << blocks;
    EXPECT_LT((dense * got - rhs).norm(), 1e-9 * rhs.norm()) << core;
  }
}

TEST(BlockArrowSolver, RefusesWhatDoesNotHaveTheStructure) {
  System s = random_system(50, 4, 5, 10, 3);
  // Two blocks coupled to each other.
  Eigen::SparseMatrix<double> coupled = s.matrix;
  coupled.coeffRef(50, 55) = 0.1;
  coupled.coeffRef(55, 50) = 0.1;
  EXPECT_THROW(BlockArrowSolver(coupled, 50, 4, s.order), std::invalid_argument);
  // Blocks that do not fill the rest, an order that is not a permutation.
  EXPECT_THROW(BlockArrowSolver(s.matrix, 50, 3, s.order), std::invalid_argument);
  std::vector<std::size_t> twice = s.order;
  twice[1] = twice[0];
  EXPECT_THROW(BlockArrowSolver(s.matrix, 50, 4, twice), std::invalid_argument);
  // Not positive definite: a negative diagonal in the core.
  Eigen::SparseMatrix<double> indefinite = s.matrix;
  indefinite.coeffRef(20, 20) = -5.0;
  EXPECT_THROW(BlockArrowSolver(indefinite, 50, 4, s.order), std::runtime_error);
  const BlockArrowSolver solver(s.matrix, 50, 4, s.order);
  EXPECT_THROW((void)solver.solve(Eigen::VectorXd::Zero(10)), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
