#include "mpi/recon/background.hpp"

#include <stdexcept>
#include <string>

namespace mpi::recon {

namespace {

void check_shape(const char* where, Eigen::Index rows, Eigen::Index cols, Eigen::Index want_rows, Eigen::Index want_cols) {
  if (rows != want_rows || cols != want_cols) {
    throw std::invalid_argument(std::string(where) + ": spectrum is " + std::to_string(rows) + " x " +
                                std::to_string(cols) + ", expected " + std::to_string(want_rows) + " bins x " +
                                std::to_string(want_cols) + " channels");
  }
}

}  // namespace

BackgroundModel::BackgroundModel(std::size_t bins, std::size_t channels) {
  if (bins == 0 || channels == 0) {
    throw std::invalid_argument("BackgroundModel: bins (" + std::to_string(bins) + ") and channels (" +
                                std::to_string(channels) + ") must be positive");
  }
  const auto r = static_cast<Eigen::Index>(bins);
  const auto c = static_cast<Eigen::Index>(channels);
  mean_ = Eigen::MatrixXcd::Zero(r, c);
  sum_sq_ = Eigen::MatrixXd::Zero(r, c);
  delta_ = Eigen::MatrixXcd::Zero(r, c);
}

void BackgroundModel::add(const Eigen::MatrixXcd& spectrum, double centre_sample) {
  check_shape("BackgroundModel::add", spectrum.rows(), spectrum.cols(), mean_.rows(), mean_.cols());
  ++frames_;
  const double inv = 1.0 / static_cast<double>(frames_);
  delta_ = spectrum - mean_;
  mean_ += inv * delta_;
  // Welford for complex values: |x - old mean|^2 (n - 1) / n == Re(conj(x - old mean) (x - new mean)).
  sum_sq_ += (delta_.conjugate().cwiseProduct(spectrum - mean_)).real();
  centre_sample_ += (centre_sample - centre_sample_) * inv;
}

void BackgroundModel::reset() noexcept {
  mean_.setZero();
  sum_sq_.setZero();
  frames_ = 0;
  centre_sample_ = 0.0;
}

Eigen::MatrixXd BackgroundModel::noise() const {
  if (frames_ < 2) {
    throw std::logic_error("BackgroundModel::noise: needs at least 2 background frames, has " + std::to_string(frames_));
  }
  return (sum_sq_ / static_cast<double>(frames_ - 1)).cwiseSqrt();
}

void BackgroundModel::subtract(Eigen::Ref<Eigen::MatrixXcd> spectrum) const {
  if (frames_ == 0) throw std::logic_error("BackgroundModel::subtract: no background frames added");
  check_shape("BackgroundModel::subtract", spectrum.rows(), spectrum.cols(), mean_.rows(), mean_.cols());
  spectrum -= mean_;
}

InterpolatedBackground::InterpolatedBackground(const BackgroundModel& before, const BackgroundModel& after)
    : before_(before.mean_),
      after_(after.mean_),
      sum_sq_(before.sum_sq_),
      frames_(before.frames_ + after.frames_),
      before_centre_(before.centre_sample_),
      after_centre_(after.centre_sample_) {
  if (before.frames_ == 0 || after.frames_ == 0) {
    throw std::invalid_argument("InterpolatedBackground: the block " + std::string(before.frames_ == 0 ? "before" : "after") +
                                " the foreground holds no frames");
  }
  if (before_.rows() != after_.rows() || before_.cols() != after_.cols()) {
    throw std::invalid_argument("InterpolatedBackground: blocks of different shapes (" + std::to_string(before_.rows()) +
                                " x " + std::to_string(before_.cols()) + " and " + std::to_string(after_.rows()) +
                                " x " + std::to_string(after_.cols()) + ")");
  }
  if (!(after_centre_ != before_centre_)) {
    throw std::invalid_argument("InterpolatedBackground: both blocks are centred at sample " +
                                std::to_string(before_centre_));
  }
  sum_sq_ += after.sum_sq_;
}

Eigen::MatrixXcd InterpolatedBackground::at(double centre_sample) const {
  const double w = (centre_sample - before_centre_) / (after_centre_ - before_centre_);
  return (1.0 - w) * before_ + w * after_;
}

void InterpolatedBackground::subtract(double centre_sample, Eigen::Ref<Eigen::MatrixXcd> spectrum) const {
  check_shape("InterpolatedBackground::subtract", spectrum.rows(), spectrum.cols(), before_.rows(), before_.cols());
  const double w = (centre_sample - before_centre_) / (after_centre_ - before_centre_);
  spectrum -= (1.0 - w) * before_ + w * after_;
}

Eigen::MatrixXd InterpolatedBackground::noise() const {
  if (frames_ < 3) {
    throw std::logic_error("InterpolatedBackground::noise: needs at least 3 background frames in all, has " +
                           std::to_string(frames_));
  }
  return (sum_sq_ / static_cast<double>(frames_ - 2)).cwiseSqrt();
}

InterpolatedBackground InterpolatedBackground::select(std::span<const std::size_t> bins) const {
  InterpolatedBackground out;
  const auto rows = static_cast<Eigen::Index>(bins.size());
  out.before_.resize(rows, before_.cols());
  out.after_.resize(rows, after_.cols());
  out.sum_sq_.resize(rows, sum_sq_.cols());
  for (std::size_t i = 0; i < bins.size(); ++i) {
    if (bins[i] >= static_cast<std::size_t>(before_.rows())) {
      throw std::invalid_argument("InterpolatedBackground::select: bin " + std::to_string(bins[i]) + " (entry " +
                                  std::to_string(i) + ") outside the background's " +
                                  std::to_string(before_.rows()) + " bins");
    }
    const auto r = static_cast<Eigen::Index>(i);
    const auto k = static_cast<Eigen::Index>(bins[i]);
    out.before_.row(r) = before_.row(k);
    out.after_.row(r) = after_.row(k);
    out.sum_sq_.row(r) = sum_sq_.row(k);
  }
  out.frames_ = frames_;
  out.before_centre_ = before_centre_;
  out.after_centre_ = after_centre_;
  return out;
}

}  // namespace mpi::recon
