#include "block_arrow_solver.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mpi::recon {

BlockArrowSolver::BlockArrowSolver(const Eigen::SparseMatrix<double>& matrix, std::size_t core, std::size_t block_size,
                                   const std::vector<std::size_t>& order)
    : core_(core), block_size_(block_size), order_(order) {
  const auto n = static_cast<std::size_t>(matrix.cols());
  if (static_cast<std::size_t>(matrix.rows()) != n || core == 0 || core > n || order.size() != core ||
      (block_size == 0 ? n != core : (n - core) % block_size != 0)) {
    throw std::invalid_argument("block-arrow solver: the matrix does not split into the core and whole blocks");
  }
  std::vector<bool> seen(core, false);
  for (std::size_t p : order) {
    if (p >= core || seen[p]) throw std::invalid_argument("block-arrow solver: the core order is not a permutation");
    seen[p] = true;
  }
  const std::size_t count = block_size == 0 ? 0 : (n - core) / block_size;

  // The blocks: their own dense matrix and their coupling to the core.
  blocks_.resize(count);
  std::vector<long> slot(core, -1);
  for (std::size_t k = 0; k < count; ++k) {
    Block& b = blocks_[k];
    const std::size_t first = core + k * block_size;
    Eigen::MatrixXd own = Eigen::MatrixXd::Zero(static_cast<long>(block_size), static_cast<long>(block_size));
    for (std::size_t j = 0; j < block_size; ++j)
      for (Eigen::SparseMatrix<double>::InnerIterator it(matrix, static_cast<long>(first + j)); it; ++it) {
        const auto i = static_cast<std::size_t>(it.row());
        if (i < core) {
          b.rows.push_back(order[i]);
        } else if (i >= first && i < first + block_size) {
          own(static_cast<long>(i - first), static_cast<long>(j)) = it.value();
        } else {
          throw std::invalid_argument("block-arrow solver: block " + std::to_string(k) + " couples to another block");
        }
      }
    std::sort(b.rows.begin(), b.rows.end());
    b.rows.erase(std::unique(b.rows.begin(), b.rows.end()), b.rows.end());
    b.coupling = Eigen::MatrixXd::Zero(static_cast<long>(b.rows.size()), static_cast<long>(block_size));
    for (std::size_t r = 0; r < b.rows.size(); ++r) slot[b.rows[r]] = static_cast<long>(r);
    for (std::size_t j = 0; j < block_size; ++j)
      for (Eigen::SparseMatrix<double>::InnerIterator it(matrix, static_cast<long>(first + j)); it; ++it)
        if (static_cast<std::size_t>(it.row()) < core) b.coupling(slot[order[static_cast<std::size_t>(it.row())]], static_cast<long>(j)) += it.value();
    b.factor.compute(own);
    if (b.factor.info() != Eigen::Success) throw std::runtime_error("block-arrow solver: block " + std::to_string(k) + " is not positive definite");
    if (!b.rows.empty()) kd_ = std::max(kd_, b.rows.back() - b.rows.front());
  }
  // The core's own entries.
  for (std::size_t j = 0; j < core; ++j)
    for (Eigen::SparseMatrix<double>::InnerIterator it(matrix, static_cast<long>(j)); it; ++it)
      if (static_cast<std::size_t>(it.row()) < core) {
        const std::size_t a = order[static_cast<std::size_t>(it.row())], c = order[j];
        kd_ = std::max(kd_, a > c ? a - c : c - a);
      }

  panels_.resize((core + kPanel - 1) / kPanel);
  for (std::size_t p = 0; p < panels_.size(); ++p) {
    const std::size_t start = p * kPanel;
    const std::size_t cols = std::min(kPanel, core - start);
    const std::size_t rows = std::min(core - start, kPanel + kd_);
    panels_[p] = Eigen::MatrixXd::Zero(static_cast<long>(rows), static_cast<long>(cols));
  }
  for (std::size_t j = 0; j < core; ++j)
    for (Eigen::SparseMatrix<double>::InnerIterator it(matrix, static_cast<long>(j)); it; ++it) {
      if (static_cast<std::size_t>(it.row()) >= core) continue;
      const std::size_t a = order[static_cast<std::size_t>(it.row())], c = order[j];
      if (a >= c) at(a, c) += it.value();
    }
  // Schur complement: S -= B_k C_k^-1 B_k^T over each block's rows.
  for (const Block& b : blocks_) {
    if (b.rows.empty()) continue;
    const Eigen::MatrixXd w = b.factor.solve(b.coupling.transpose());  // C^-1 B^T
    const Eigen::MatrixXd update = b.coupling * w;
    for (std::size_t c = 0; c < b.rows.size(); ++c)
      for (std::size_t r = c; r < b.rows.size(); ++r) at(b.rows[r], b.rows[c]) -= update(static_cast<long>(r), static_cast<long>(c));
  }
  factor_band();
}

double& BlockArrowSolver::at(std::size_t row, std::size_t col) {
  const std::size_t p = panel_of(col);
  return panels_[p](static_cast<long>(row - p * kPanel), static_cast<long>(col - p * kPanel));
}

void BlockArrowSolver::factor_band() {
  for (std::size_t p = 0; p < panels_.size(); ++p) {
    Eigen::MatrixXd& panel = panels_[p];
    const long cols = panel.cols(), rows = panel.rows();
    Eigen::Ref<Eigen::MatrixXd> top = panel.topRows(cols);
    const Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> diagonal(top);  // in place: L in the lower triangle
    if (diagonal.info() != Eigen::Success) {
      throw std::runtime_error("block-arrow solver: the core is not positive definite (near unknown " + std::to_string(p * kPanel) + ")");
    }
    if (rows == cols) continue;
    auto below = panel.bottomRows(rows - cols);
    panel.topRows(cols).triangularView<Eigen::Lower>().transpose().solveInPlace<Eigen::OnTheRight>(below);
    // Trailing update of the later panels that these rows reach.
    const std::size_t start = p * kPanel, end = start + static_cast<std::size_t>(rows);
    for (std::size_t q = p + 1; q < panels_.size() && q * kPanel < end; ++q) {
      const auto offset = static_cast<long>(q * kPanel - start);
      const long height = static_cast<long>(end - q * kPanel);
      const long width = std::min(panels_[q].cols(), height);
      panels_[q].block(0, 0, height, width).noalias() -= panel.block(offset, 0, height, cols) * panel.block(offset, 0, width, cols).transpose();
    }
  }
}

Eigen::VectorXd BlockArrowSolver::solve(const Eigen::VectorXd& rhs) const {
  if (static_cast<std::size_t>(rhs.size()) != core_ + blocks_.size() * block_size_) {
    throw std::invalid_argument("block-arrow solver: right-hand side of the wrong length");
  }
  Eigen::VectorXd z(static_cast<long>(core_));
  for (std::size_t i = 0; i < core_; ++i) z(static_cast<long>(order_[i])) = rhs(static_cast<long>(i));
  std::vector<Eigen::VectorXd> reduced(blocks_.size());
  for (std::size_t k = 0; k < blocks_.size(); ++k) {
    const Block& b = blocks_[k];
    reduced[k] = b.factor.solve(rhs.segment(static_cast<long>(core_ + k * block_size_), static_cast<long>(block_size_)));
    const Eigen::VectorXd moved = b.coupling * reduced[k];
    for (std::size_t r = 0; r < b.rows.size(); ++r) z(static_cast<long>(b.rows[r])) -= moved(static_cast<long>(r));
  }
  // L y = z, then L^T x = y, panel by panel.
  for (std::size_t p = 0; p < panels_.size(); ++p) {
    const Eigen::MatrixXd& panel = panels_[p];
    const long cols = panel.cols(), rows = panel.rows(), start = static_cast<long>(p * kPanel);
    panel.topRows(cols).triangularView<Eigen::Lower>().solveInPlace(z.segment(start, cols));
    if (rows > cols) z.segment(start + cols, rows - cols).noalias() -= panel.bottomRows(rows - cols) * z.segment(start, cols);
  }
  for (std::size_t p = panels_.size(); p-- > 0;) {
    const Eigen::MatrixXd& panel = panels_[p];
    const long cols = panel.cols(), rows = panel.rows(), start = static_cast<long>(p * kPanel);
    if (rows > cols) z.segment(start, cols).noalias() -= panel.bottomRows(rows - cols).transpose() * z.segment(start + cols, rows - cols);
    panel.topRows(cols).triangularView<Eigen::Lower>().transpose().solveInPlace(z.segment(start, cols));
  }
  Eigen::VectorXd x(rhs.size());
  for (std::size_t i = 0; i < core_; ++i) x(static_cast<long>(i)) = z(static_cast<long>(order_[i]));
  for (std::size_t k = 0; k < blocks_.size(); ++k) {
    const Block& b = blocks_[k];
    Eigen::VectorXd coupled(static_cast<long>(b.rows.size()));
    for (std::size_t r = 0; r < b.rows.size(); ++r) coupled(static_cast<long>(r)) = z(static_cast<long>(b.rows[r]));
    x.segment(static_cast<long>(core_ + k * block_size_), static_cast<long>(block_size_)) = reduced[k] - b.factor.solve(b.coupling.transpose() * coupled);
  }
  return x;
}

}  // namespace mpi::recon
