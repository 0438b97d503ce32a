// Solvers for the system-matrix model S c = u (REFERENCE 3.3) with real concentrations c: the complex
// system is stacked as a real one, [Re S; Im S] c = [Re u; Im u], and regularised with Tikhonov's lambda,
//   minimise ||S c - u||^2 + lambda ||c||^2,   lambda = relative_lambda * ||S||_F^2 / N   (N voxels).
// - KaczmarzSolver: regularised Kaczmarz (ART) on the stacked rows, with the auxiliary variable that makes
//   it converge to the Tikhonov solution; cyclic row order (default) or a randomised order (a fresh
//   permutation per sweep from a fixed seed); optional projection onto c >= 0 after each sweep.
// - CgnrSolver: conjugate gradients on the regularised normal equations (S^T S + lambda I) c = S^T u of the
//   stacked system, matrix-free; optional projection onto c >= 0 of the result.
// - TikhonovOperator: the reconstruction operator R = (S^T S + lambda I)^-1 S^T of the stacked system,
//   precomputed once (Cholesky of the smaller Gram matrix, using (S^T S + lambda I)^-1 S^T =
//   S^T (S S^T + lambda I)^-1, or an SVD), so a frame is one matrix-vector product. R is stored in float;
//   apply() splits R's rows over two threads (a persistent worker) and does not allocate.
// Solvers keep their work buffers; one instance must not be used from two threads at once.
#pragma once

#include <Eigen/Core>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace mpi::recon {

// lambda = relative_lambda * ||S||_F^2 / cols(S). Throws std::invalid_argument for a negative or non-finite
// relative_lambda or an empty S.
double tikhonov_lambda(const Eigen::MatrixXcd& s, double relative_lambda);
// [Re S; Im S].
Eigen::MatrixXd stack_real(const Eigen::MatrixXcd& s);
// [Re u; Im u] into `out` (resized only when its size differs).
template <class Scalar>
void stack_real(const Eigen::VectorXcd& u, Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& out) {
  const Eigen::Index m = u.size();
  if (out.size() != 2 * m) out.resize(2 * m);
  out.head(m) = u.real().cast<Scalar>();
  out.tail(m) = u.imag().cast<Scalar>();
}

enum class RowOrder { cyclic, randomised };

struct KaczmarzOptions {
  int iterations = 3;              // sweeps over all rows
  double relative_lambda = 1e-3;
  bool non_negative = true;
  RowOrder order = RowOrder::cyclic;
  std::uint64_t seed = 1;          // of the randomised order
};

class KaczmarzSolver {
 public:
  // Throws std::invalid_argument for an empty S, a bad lambda or fewer than 1 iteration.
  KaczmarzSolver(const Eigen::MatrixXcd& s, const KaczmarzOptions& options);
  // c (resized to voxels when its size differs) from u (rows of S).
  void solve(const Eigen::VectorXcd& u, Eigen::VectorXd& c);
  [[nodiscard]] double lambda() const noexcept { return lambda_; }
  [[nodiscard]] const KaczmarzOptions& options() const noexcept { return options_; }

 private:
  KaczmarzOptions options_;
  double lambda_ = 0.0;
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows_;  // stacked S, row-major
  Eigen::VectorXd inverse_norm_;  // 1 / (||row||^2 + lambda)
  Eigen::VectorXd b_, v_;
  std::vector<Eigen::Index> order_;
  std::uint64_t state_ = 1;
};

struct CgnrOptions {
  int iterations = 50;
  double relative_lambda = 1e-3;
  double tolerance = 1e-10;        // stop when ||residual of the normal equations|| <= tolerance * ||S^T u||
  bool non_negative = false;       // clamp the result at 0
};

class CgnrSolver {
 public:
  CgnrSolver(const Eigen::MatrixXcd& s, const CgnrOptions& options);
  // Returns the iterations done.
  int solve(const Eigen::VectorXcd& u, Eigen::VectorXd& c);
  [[nodiscard]] double lambda() const noexcept { return lambda_; }

 private:
  CgnrOptions options_;
  double lambda_ = 0.0;
  Eigen::MatrixXd a_;  // stacked S
  Eigen::VectorXd b_, r_, p_, q_, ap_;
};

enum class TikhonovMethod { normal_equations, svd };

struct TikhonovOptions {
  double relative_lambda = 1e-3;
  TikhonovMethod method = TikhonovMethod::normal_equations;
  bool non_negative = false;       // clamp the result at 0 after the product
  unsigned build_threads = 2;
  bool keep_double = false;        // keep the double-precision operator too (apply_double)
};

class TikhonovOperator {
 public:
  // Throws std::invalid_argument for an empty S or a bad lambda; std::runtime_error when the Cholesky
  // factorisation fails (lambda 0 with a rank-deficient S: use the SVD).
  TikhonovOperator(const Eigen::MatrixXcd& s, const TikhonovOptions& options);
  ~TikhonovOperator();
  TikhonovOperator(const TikhonovOperator&) = delete;
  TikhonovOperator& operator=(const TikhonovOperator&) = delete;

  // c = R [Re u; Im u] in float on two threads; c resized only when its size differs.
  void apply(const Eigen::VectorXcd& u, Eigen::VectorXf& c);
  // The same product in double from the double-precision operator (a reference for the float path); throws
  // std::logic_error unless built with keep_double.
  void apply_double(const Eigen::VectorXcd& u, Eigen::VectorXd& c) const;

  [[nodiscard]] double lambda() const noexcept { return lambda_; }
  [[nodiscard]] Eigen::Index voxels() const noexcept { return r_.rows(); }
  [[nodiscard]] Eigen::Index stacked_rows() const noexcept { return r_.cols(); }
  [[nodiscard]] const Eigen::MatrixXd& operator_double() const noexcept { return r_double_; }

 private:
  void worker_loop();

  TikhonovOptions options_;
  double lambda_ = 0.0;
  Eigen::MatrixXd r_double_;
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r_;
  Eigen::VectorXf u_stacked_;
  Eigen::VectorXf* c_ = nullptr;
  Eigen::Index split_ = 0;
  // The worker computes rows [split_, voxels) of each product.
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::uint64_t job_ = 0, finished_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace mpi::recon
