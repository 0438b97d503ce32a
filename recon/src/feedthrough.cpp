#include "mpi/recon/feedthrough.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mpi::recon {

FeedthroughFilter::FeedthroughFilter(const FrameGeometry& geometry, const FeedthroughOptions& options)
    : bins_(geometry.bins()) {
  const std::vector<std::size_t> drives = drive_bins(geometry);
  if (std::isnan(options.min_frequency_hz) || std::isnan(options.max_frequency_hz) || options.min_frequency_hz < 0.0 ||
      options.max_frequency_hz < options.min_frequency_hz) {
    throw std::invalid_argument("FeedthroughFilter: band [" + std::to_string(options.min_frequency_hz) + ", " +
                                std::to_string(options.max_frequency_hz) + "] Hz is not a valid band");
  }
  std::vector<char> mask(bins_, 0);
  if (options.dc) mask[0] = 1;
  for (std::size_t d : drives) {
    if (options.fundamentals) mask[d] = 1;
    if (options.second_harmonics && 2 * d < bins_) mask[2 * d] = 1;
  }
  const double df = geometry.bin_spacing_hz();
  for (std::size_t k = 0; k < bins_; ++k) {
    const double f = static_cast<double>(k) * df;
    if (f < options.min_frequency_hz || f > options.max_frequency_hz) mask[k] = 1;
  }
  suppressed_.assign(geometry.channels, mask);
  zero_list_.assign(geometry.channels, {});
  for (std::size_t c = 0; c < geometry.channels; ++c) {
    for (std::size_t k = 0; k < bins_; ++k) {
      if (mask[k] != 0) zero_list_[c].push_back(k);
    }
  }
}

void FeedthroughFilter::suppress(std::size_t bin, std::size_t channel) {
  if (bin >= bins_ || channel >= suppressed_.size()) {
    throw std::out_of_range("FeedthroughFilter::suppress: bin " + std::to_string(bin) + " of channel " +
                            std::to_string(channel) + " outside " + std::to_string(bins_) + " bins x " +
                            std::to_string(suppressed_.size()) + " channels");
  }
  if (suppressed_[channel][bin] != 0) return;
  suppressed_[channel][bin] = 1;
  auto& list = zero_list_[channel];
  std::size_t i = 0;
  while (i < list.size() && list[i] < bin) ++i;
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(i), bin);
}

bool FeedthroughFilter::usable(std::size_t bin, std::size_t channel) const {
  if (bin >= bins_ || channel >= suppressed_.size()) {
    throw std::out_of_range("FeedthroughFilter::usable: bin " + std::to_string(bin) + " of channel " +
                            std::to_string(channel) + " outside " + std::to_string(bins_) + " bins x " +
                            std::to_string(suppressed_.size()) + " channels");
  }
  return suppressed_[channel][bin] == 0;
}

std::vector<std::size_t> FeedthroughFilter::usable_bins(std::size_t channel) const {
  if (channel >= suppressed_.size()) {
    throw std::out_of_range("FeedthroughFilter::usable_bins: channel " + std::to_string(channel) + " of " +
                            std::to_string(suppressed_.size()));
  }
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < bins_; ++k) {
    if (suppressed_[channel][k] == 0) out.push_back(k);
  }
  return out;
}

Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> FeedthroughFilter::table_mask(
    std::span<const std::size_t> bins) const {
  Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> mask(static_cast<Eigen::Index>(bins.size()),
                                                          static_cast<Eigen::Index>(channels()));
  for (std::size_t i = 0; i < bins.size(); ++i) {
    if (bins[i] >= bins_) {
      throw std::out_of_range("FeedthroughFilter::table_mask: bin " + std::to_string(bins[i]) + " (entry " +
                              std::to_string(i) + ") outside " + std::to_string(bins_) + " bins");
    }
    for (std::size_t c = 0; c < channels(); ++c) {
      mask(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)) = suppressed_[c][bins[i]] == 0;
    }
  }
  return mask;
}

void FeedthroughFilter::apply(Eigen::Ref<Eigen::MatrixXcd> spectrum) const {
  if (spectrum.rows() != static_cast<Eigen::Index>(bins_) || spectrum.cols() != static_cast<Eigen::Index>(channels())) {
    throw std::invalid_argument("FeedthroughFilter::apply: spectrum is " + std::to_string(spectrum.rows()) + " x " +
                                std::to_string(spectrum.cols()) + ", expected " + std::to_string(bins_) + " bins x " +
                                std::to_string(channels()) + " channels");
  }
  for (std::size_t c = 0; c < zero_list_.size(); ++c) {
    const auto col = static_cast<Eigen::Index>(c);
    for (std::size_t k : zero_list_[c]) spectrum(static_cast<Eigen::Index>(k), col) = 0.0;
  }
}

}  // namespace mpi::recon
