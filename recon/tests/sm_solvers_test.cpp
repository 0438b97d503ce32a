#include "mpi/recon/sm_solvers.hpp"

#include <Eigen/QR>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

namespace mpi::recon {
namespace {

struct Problem {
  Eigen::MatrixXcd s;
  Eigen::VectorXd c;
  Eigen::VectorXcd u;
};

// A random complex S, a known non-negative c and u = S c plus a little noise.
Problem random_problem(Eigen::Index rows, Eigen::Index cols, unsigned seed, double noise = 1e-3) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Problem p;
  p.s.resize(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i) {
    for (Eigen::Index j = 0; j < cols; ++j) p.s(i, j) = {normal(rng), normal(rng)};
  }
  p.c.resize(cols);
  for (Eigen::Index j = 0; j < cols; ++j) p.c(j) = uniform(rng) < 0.3 ? 0.0 : uniform(rng);
  p.u = p.s * p.c.cast<std::complex<double>>();
  for (Eigen::Index i = 0; i < rows; ++i) p.u(i) += noise * std::complex<double>(normal(rng), normal(rng));
  return p;
}

// The Tikhonov solution of the real-stacked system written out independently: the least-squares solution
// of the augmented system [Re S; Im S; sqrt(lambda) I] c = [Re u; Im u; 0] by a complete orthogonal
// decomposition, lambda = rel * sum |S_ij|^2 / N.
Eigen::VectorXd reference_tikhonov(const Eigen::MatrixXcd& s, const Eigen::VectorXcd& u, double relative_lambda) {
  const Eigen::Index m = s.rows(), n = s.cols();
  double frobenius2 = 0.0;
  for (Eigen::Index i = 0; i < m; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) frobenius2 += std::norm(s(i, j));
  }
  const double lambda = relative_lambda * frobenius2 / static_cast<double>(n);
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(2 * m + n, n);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(2 * m + n);
  for (Eigen::Index i = 0; i < m; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      a(2 * i, j) = s(i, j).real();
      a(2 * i + 1, j) = s(i, j).imag();
    }
    b(2 * i) = u(i).real();
    b(2 * i + 1) = u(i).imag();
  }
  for (Eigen::Index j = 0; j < n; ++j) a(2 * m + j, j) = std::sqrt(lambda);
  return a.completeOrthogonalDecomposition().solve(b);
}

double relative_error(const Eigen::VectorXd& x, const Eigen::VectorXd& ref) { return (x - ref).norm() / ref.norm(); }

TEST(TikhonovLambda, ScalesWithFrobeniusNormOverVoxels) {
  Eigen::MatrixXcd s(2, 4);
  s << std::complex<double>(1, 1), 0, 0, 0, 0, 2, 0, std::complex<double>(0, 3);
  // ||S||_F^2 = 2 + 4 + 9 = 15, N = 4.
  EXPECT_NEAR(tikhonov_lambda(s, 0.1), 0.1 * 15.0 / 4.0, 1e-15);
  EXPECT_THROW((void)tikhonov_lambda(s, -1.0), std::invalid_argument);
  EXPECT_THROW((void)tikhonov_lambda(Eigen::MatrixXcd(0, 3), 0.1), std::invalid_argument);
}

class TikhonovShapes : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(TikhonovShapes, OperatorMatchesClosedFormBothMethods) {
  const auto [rows, cols] = GetParam();
  const Problem p = random_problem(rows, cols, 7u + static_cast<unsigned>(rows));
  for (double rel : {1e-3, 1e-1}) {
    const Eigen::VectorXd ref = reference_tikhonov(p.s, p.u, rel);
    for (TikhonovMethod method : {TikhonovMethod::normal_equations, TikhonovMethod::svd}) {
      TikhonovOptions options;
      options.relative_lambda = rel;
      options.method = method;
      options.keep_double = true;
      TikhonovOperator op(p.s, options);
      Eigen::VectorXd c;
      op.apply_double(p.u, c);
      EXPECT_LT(relative_error(c, ref), 1e-9) << "rows " << rows << " cols " << cols << " rel " << rel;
      Eigen::VectorXf cf;
      op.apply(p.u, cf);
      const double float_error = relative_error(cf.cast<double>(), c);
      EXPECT_LT(float_error, 1e-5) << "float apply";
      RecordProperty("float_vs_double_relative_error", std::to_string(float_error));
    }
  }
}

// Fewer stacked rows than voxels (the S S^T route) and more (the S^T S route).
INSTANTIATE_TEST_SUITE_P(Shapes, TikhonovShapes, ::testing::Values(std::pair{12, 40}, std::pair{40, 25}));

TEST(TikhonovOperator, NonNegativeClampAndErrors) {
  const Problem p = random_problem(20, 30, 3u, 0.5);
  TikhonovOptions options;
  options.non_negative = true;
  TikhonovOperator op(p.s, options);
  Eigen::VectorXf c;
  for (int frame = 0; frame < 3; ++frame) {
    op.apply(p.u, c);
    EXPECT_GE(c.minCoeff(), 0.0f);
  }
  EXPECT_THROW(op.apply(Eigen::VectorXcd::Zero(19), c), std::invalid_argument);
  Eigen::VectorXd cd;
  EXPECT_THROW(op.apply_double(p.u, cd), std::logic_error);  // built without keep_double
  TikhonovOptions no_lambda;
  no_lambda.relative_lambda = 0.0;
  // S = 0 with lambda 0: the Gram matrix is singular.
  EXPECT_THROW(TikhonovOperator(Eigen::MatrixXcd::Zero(3, 5), no_lambda), std::runtime_error);
  EXPECT_THROW(TikhonovOperator(Eigen::MatrixXcd(0, 5), options), std::invalid_argument);
}

TEST(Cgnr, ConvergesToClosedForm) {
  const Problem p = random_problem(30, 40, 11u);
  const Eigen::VectorXd ref = reference_tikhonov(p.s, p.u, 1e-2);
  CgnrOptions options;
  options.relative_lambda = 1e-2;
  options.iterations = 200;
  options.tolerance = 1e-14;
  CgnrSolver solver(p.s, options);
  Eigen::VectorXd c;
  const int done = solver.solve(p.u, c);
  EXPECT_GT(done, 1);
  EXPECT_LT(relative_error(c, ref), 1e-8);
}

TEST(Kaczmarz, ConvergesToClosedFormAsIterationsGrow) {
  const Problem p = random_problem(30, 20, 5u);
  const Eigen::VectorXd ref = reference_tikhonov(p.s, p.u, 1e-1);
  for (RowOrder order : {RowOrder::cyclic, RowOrder::randomised}) {
    double previous = 1e300;
    for (int iterations : {1, 3, 10, 30, 1000}) {
      KaczmarzOptions options;
      options.relative_lambda = 1e-1;
      options.iterations = iterations;
      options.non_negative = false;
      options.order = order;
      KaczmarzSolver solver(p.s, options);
      Eigen::VectorXd c;
      solver.solve(p.u, c);
      const double error = relative_error(c, ref);
      EXPECT_TRUE(error < previous * 1.01 || error < 1e-12) << iterations << " iterations: " << error;
      previous = error;
    }
    EXPECT_LT(previous, 1e-6) << (order == RowOrder::cyclic ? "cyclic" : "randomised");
  }
}

TEST(Kaczmarz, NonNegativeAndCloseToTruthForConsistentData) {
  const Problem p = random_problem(60, 20, 9u, 1e-4);
  KaczmarzOptions options;
  options.relative_lambda = 1e-6;
  options.iterations = 100;
  options.non_negative = true;
  KaczmarzSolver solver(p.s, options);
  Eigen::VectorXd c;
  solver.solve(p.u, c);
  EXPECT_GE(c.minCoeff(), 0.0);
  EXPECT_LT(relative_error(c, p.c), 1e-3);
  // A noisy right-hand side: still non-negative, and the solution is reused without reallocation.
  const Problem noisy = random_problem(60, 20, 9u, 1.0);
  const double* before = c.data();
  solver.solve(noisy.u, c);
  EXPECT_GE(c.minCoeff(), 0.0);
  EXPECT_EQ(before, c.data());
  EXPECT_THROW(solver.solve(Eigen::VectorXcd::Zero(3), c), std::invalid_argument);
  KaczmarzOptions bad;
  bad.iterations = 0;
  EXPECT_THROW(KaczmarzSolver(p.s, bad), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
