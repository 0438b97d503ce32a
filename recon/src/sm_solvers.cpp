#include "mpi/recon/sm_solvers.hpp"

#include <Eigen/Cholesky>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpi::recon {

namespace {

void check_matrix(const Eigen::MatrixXcd& s, const char* where) {
  if (s.rows() == 0 || s.cols() == 0) throw std::invalid_argument(std::string(where) + ": the system matrix is empty");
  if (!s.allFinite()) throw std::invalid_argument(std::string(where) + ": the system matrix is not finite");
}

void check_rhs(const Eigen::VectorXcd& u, Eigen::Index rows, const char* where) {
  if (u.size() != rows) {
    throw std::invalid_argument(std::string(where) + ": the measurement has " + std::to_string(u.size()) + " rows, the system matrix " +
                                std::to_string(rows));
  }
}

// Runs f(0) here and f(1) .. f(threads - 1) on their own threads.
template <class F>
void run_split(unsigned threads, F&& f) {
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(f, t);
  f(0u);
  for (std::thread& th : pool) th.join();
}

std::pair<Eigen::Index, Eigen::Index> share(Eigen::Index n, unsigned part, unsigned parts) {
  const Eigen::Index begin = n * part / parts;
  const Eigen::Index end = n * (part + 1) / parts;
  return {begin, end - begin};
}

}  // namespace

double tikhonov_lambda(const Eigen::MatrixXcd& s, double relative_lambda) {
  check_matrix(s, "Tikhonov lambda");
  if (!(relative_lambda >= 0.0 && std::isfinite(relative_lambda))) {
    throw std::invalid_argument("Tikhonov lambda: relative lambda must be finite and >= 0, got " + std::to_string(relative_lambda));
  }
  return relative_lambda * s.squaredNorm() / static_cast<double>(s.cols());
}

Eigen::MatrixXd stack_real(const Eigen::MatrixXcd& s) {
  Eigen::MatrixXd a(2 * s.rows(), s.cols());
  a.topRows(s.rows()) = s.real();
  a.bottomRows(s.rows()) = s.imag();
  return a;
}

// --- Kaczmarz ---

KaczmarzSolver::KaczmarzSolver(const Eigen::MatrixXcd& s, const KaczmarzOptions& options) : options_(options) {
  check_matrix(s, "Kaczmarz");
  if (options.iterations < 1) throw std::invalid_argument("Kaczmarz: iterations must be at least 1");
  lambda_ = tikhonov_lambda(s, options.relative_lambda);
  rows_ = stack_real(s);
  inverse_norm_ = (rows_.rowwise().squaredNorm().array() + lambda_).inverse();
  // A row that is zero (and lambda 0) does nothing.
  for (Eigen::Index i = 0; i < inverse_norm_.size(); ++i) {
    if (!std::isfinite(inverse_norm_(i))) inverse_norm_(i) = 0.0;
  }
  v_ = Eigen::VectorXd::Zero(rows_.rows());
  order_.resize(static_cast<std::size_t>(rows_.rows()));
  state_ = options.seed;
}

void KaczmarzSolver::solve(const Eigen::VectorXcd& u, Eigen::VectorXd& c) {
  check_rhs(u, rows_.rows() / 2, "Kaczmarz");
  stack_real(u, b_);
  if (c.size() != rows_.cols()) c.resize(rows_.cols());
  c.setZero();
  v_.setZero();
  const double sqrt_lambda = std::sqrt(lambda_);
  const auto m = static_cast<Eigen::Index>(order_.size());
  for (Eigen::Index i = 0; i < m; ++i) order_[static_cast<std::size_t>(i)] = i;
  for (int sweep = 0; sweep < options_.iterations; ++sweep) {
    if (options_.order == RowOrder::randomised) {
      // Fisher-Yates with splitmix64.
      for (std::size_t i = order_.size(); i > 1; --i) {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        std::swap(order_[i - 1], order_[z % i]);
      }
    }
    for (Eigen::Index k = 0; k < m; ++k) {
      const Eigen::Index i = order_[static_cast<std::size_t>(k)];
      const auto row = rows_.row(i);
      const double beta = (b_(i) - row.dot(c) - sqrt_lambda * v_(i)) * inverse_norm_(i);
      c.noalias() += beta * row.transpose();
      v_(i) += beta * sqrt_lambda;
    }
    if (options_.non_negative) c = c.cwiseMax(0.0);
  }
}

// --- CGNR ---

CgnrSolver::CgnrSolver(const Eigen::MatrixXcd& s, const CgnrOptions& options) : options_(options) {
  check_matrix(s, "CGNR");
  if (options.iterations < 1) throw std::invalid_argument("CGNR: iterations must be at least 1");
  if (!(options.tolerance >= 0.0)) throw std::invalid_argument("CGNR: tolerance must be >= 0");
  lambda_ = tikhonov_lambda(s, options.relative_lambda);
  a_ = stack_real(s);
}

int CgnrSolver::solve(const Eigen::VectorXcd& u, Eigen::VectorXd& c) {
  check_rhs(u, a_.rows() / 2, "CGNR");
  stack_real(u, b_);
  if (c.size() != a_.cols()) c.resize(a_.cols());
  c.setZero();
  r_.noalias() = a_.transpose() * b_;
  p_ = r_;
  double rr = r_.squaredNorm();
  const double stop = options_.tolerance * options_.tolerance * rr;
  int done = 0;
  while (done < options_.iterations && rr > stop && rr > 0.0) {
    q_.noalias() = a_ * p_;
    ap_.noalias() = a_.transpose() * q_;
    ap_ += lambda_ * p_;
    const double alpha = rr / p_.dot(ap_);
    c += alpha * p_;
    r_ -= alpha * ap_;
    const double next = r_.squaredNorm();
    p_ = r_ + (next / rr) * p_;
    rr = next;
    ++done;
  }
  if (options_.non_negative) c = c.cwiseMax(0.0);
  return done;
}

// --- precomputed Tikhonov operator ---

TikhonovOperator::TikhonovOperator(const Eigen::MatrixXcd& s, const TikhonovOptions& options) : options_(options) {
  check_matrix(s, "Tikhonov operator");
  if (options.build_threads == 0) throw std::invalid_argument("Tikhonov operator: build threads must be at least 1");
  lambda_ = tikhonov_lambda(s, options.relative_lambda);
  const Eigen::MatrixXd a = stack_real(s);
  const Eigen::Index m = a.rows(), n = a.cols();
  const unsigned threads = options.build_threads;
  Eigen::MatrixXd r(n, m);
  if (options.method == TikhonovMethod::svd) {
    const Eigen::BDCSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Eigen::VectorXd& sigma = svd.singularValues();
    Eigen::VectorXd filter(sigma.size());
    const double floor = sigma.size() > 0 ? sigma(0) * 1e-14 : 0.0;
    for (Eigen::Index i = 0; i < sigma.size(); ++i) {
      const double d = sigma(i) * sigma(i) + lambda_;
      filter(i) = sigma(i) > floor && d > 0.0 ? sigma(i) / d : 0.0;
    }
    const Eigen::MatrixXd vf = svd.matrixV() * filter.asDiagonal();
    run_split(threads, [&](unsigned t) {
      const auto [begin, count] = share(n, t, threads);
      r.middleRows(begin, count).noalias() = vf.middleRows(begin, count) * svd.matrixU().transpose();
    });
  } else if (m <= n) {
    // R = A^T (A A^T + lambda I)^-1: the m x m Gram matrix.
    Eigen::MatrixXd g(m, m);
    run_split(threads, [&](unsigned t) {
      const auto [begin, count] = share(m, t, threads);
      g.middleRows(begin, count).noalias() = a.middleRows(begin, count) * a.transpose();
    });
    g.diagonal().array() += lambda_;
    const Eigen::LLT<Eigen::MatrixXd> llt(g);
    if (llt.info() != Eigen::Success) {
      throw std::runtime_error("Tikhonov operator: the Gram matrix S S^T + lambda I is not positive definite (lambda " +
                               std::to_string(lambda_) + "); use a larger lambda or the SVD");
    }
    // (A A^T + lambda I)^-1 A, columns split over the threads; R is its transpose.
    Eigen::MatrixXd x(m, n);
    run_split(threads, [&](unsigned t) {
      const auto [begin, count] = share(n, t, threads);
      x.middleCols(begin, count) = llt.solve(a.middleCols(begin, count));
    });
    r = x.transpose();
  } else {
    // R = (A^T A + lambda I)^-1 A^T: the n x n Gram matrix.
    Eigen::MatrixXd g(n, n);
    run_split(threads, [&](unsigned t) {
      const auto [begin, count] = share(n, t, threads);
      g.middleRows(begin, count).noalias() = a.transpose().middleRows(begin, count) * a;
    });
    g.diagonal().array() += lambda_;
    const Eigen::LLT<Eigen::MatrixXd> llt(g);
    if (llt.info() != Eigen::Success) {
      throw std::runtime_error("Tikhonov operator: the Gram matrix S^T S + lambda I is not positive definite (lambda " +
                               std::to_string(lambda_) + "); use a larger lambda or the SVD");
    }
    const Eigen::MatrixXd at = a.transpose();
    run_split(threads, [&](unsigned t) {
      const auto [begin, count] = share(m, t, threads);
      r.middleCols(begin, count) = llt.solve(at.middleCols(begin, count));
    });
  }
  r_ = r.cast<float>();
  if (options.keep_double) r_double_ = std::move(r);
  u_stacked_.resize(m);
  split_ = n / 2;
  worker_ = std::thread([this] { worker_loop(); });
}

TikhonovOperator::~TikhonovOperator() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  worker_.join();
}

void TikhonovOperator::worker_loop() {
  std::uint64_t seen = 0;
  for (;;) {
    Eigen::VectorXf* c = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || job_ != seen; });
      if (stop_) return;
      seen = job_;
      c = c_;
    }
    const Eigen::Index rest = r_.rows() - split_;
    c->segment(split_, rest).noalias() = r_.bottomRows(rest) * u_stacked_;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      finished_ = seen;
    }
    done_.notify_one();
  }
}

void TikhonovOperator::apply(const Eigen::VectorXcd& u, Eigen::VectorXf& c) {
  check_rhs(u, r_.cols() / 2, "Tikhonov operator");
  stack_real(u, u_stacked_);
  if (c.size() != r_.rows()) c.resize(r_.rows());
  std::uint64_t job = 0;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    c_ = &c;
    job = ++job_;
  }
  wake_.notify_one();
  c.head(split_).noalias() = r_.topRows(split_) * u_stacked_;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return finished_ == job; });
  }
  if (options_.non_negative) c = c.cwiseMax(0.0f);
}

void TikhonovOperator::apply_double(const Eigen::VectorXcd& u, Eigen::VectorXd& c) const {
  if (r_double_.size() == 0) throw std::logic_error("Tikhonov operator: built without keep_double, no double-precision operator");
  check_rhs(u, r_double_.cols() / 2, "Tikhonov operator");
  Eigen::VectorXd b;
  stack_real(u, b);
  c.noalias() = r_double_ * b;
  if (options_.non_negative) c = c.cwiseMax(0.0);
}

}  // namespace mpi::recon
