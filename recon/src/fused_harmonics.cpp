#include "mpi/recon/fused_harmonics.hpp"

#include "harmonic_polar.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace mpi::recon {

namespace {

std::vector<std::size_t> bin_numbers(const std::vector<HarmonicBin>& bins) {
  std::vector<std::size_t> out;
  out.reserve(bins.size());
  for (const HarmonicBin& b : bins) out.push_back(b.bin);
  return out;
}

}  // namespace

FusedHarmonicExtractor::FusedHarmonicExtractor(FrameSpectrum& spectrum, std::vector<HarmonicBin> bins,
                                               std::size_t neighbour_half_width)
    : spectrum_(&spectrum),
      extractor_(spectrum.geometry(), std::move(bins), neighbour_half_width),
      table_bins_(bin_numbers(extractor_.bins())),
      with_neighbours_(table_bins_),
      table_selection_(spectrum.select_bins(table_bins_)) {
  // Neighbour bins that are not table bins get rows after the table's (a neighbour is never a table bin,
  // see HarmonicExtractor, but each is read once however many rows share it).
  std::unordered_map<std::size_t, std::size_t> row_of;
  neighbour_offsets_.push_back(0);
  for (std::size_t r = 0; r < table_bins_.size(); ++r) {
    for (std::size_t k : extractor_.neighbours(r)) {
      auto [it, inserted] = row_of.try_emplace(k, with_neighbours_.size());
      if (inserted) with_neighbours_.push_back(k);
      neighbour_rows_.push_back(it->second);
    }
    neighbour_offsets_.push_back(neighbour_rows_.size());
  }
  neighbour_selection_ = spectrum.select_bins(with_neighbours_);
  const auto rows = static_cast<Eigen::Index>(table_bins_.size());
  const auto cols = static_cast<Eigen::Index>(spectrum.channels());
  usable_.setConstant(rows, cols, true);
  work_.resize(static_cast<Eigen::Index>(with_neighbours_.size()), cols);
}

const std::vector<std::size_t>& FusedHarmonicExtractor::read_bins() const noexcept {
  return background_ ? table_bins_ : with_neighbours_;
}

void FusedHarmonicExtractor::set_background(const InterpolatedBackground& background) {
  if (background.bins() != spectrum_->bins() || background.channels() != spectrum_->channels()) {
    throw std::invalid_argument("FusedHarmonicExtractor::set_background: background is " +
                                std::to_string(background.bins()) + " x " + std::to_string(background.channels()) +
                                ", expected " + std::to_string(spectrum_->bins()) + " bins x " +
                                std::to_string(spectrum_->channels()) + " channels");
  }
  InterpolatedBackground selected = background.select(table_bins_);
  background_noise_ = selected.noise();  // throws with fewer than 3 frames, before anything changes
  background_inverse_noise_ = background_noise_.cwiseInverse();
  background_.emplace(std::move(selected));
}

void FusedHarmonicExtractor::clear_background() noexcept { background_.reset(); }

void FusedHarmonicExtractor::set_feedthrough(const FeedthroughFilter& filter) {
  if (filter.bins() != spectrum_->bins() || filter.channels() != spectrum_->channels()) {
    throw std::invalid_argument("FusedHarmonicExtractor::set_feedthrough: filter is for " +
                                std::to_string(filter.bins()) + " bins x " + std::to_string(filter.channels()) +
                                " channels, expected " + std::to_string(spectrum_->bins()) + " x " +
                                std::to_string(spectrum_->channels()));
  }
  usable_ = filter.table_mask(table_bins_);
  masked_.clear();
  for (Eigen::Index i = 0; i < usable_.size(); ++i) {
    if (!usable_(i)) masked_.push_back(static_cast<std::size_t>(i));
  }
}

FusedTable FusedHarmonicExtractor::make_table() const {
  FusedTable t;
  t.table = extractor_.make_table();
  t.value = Eigen::MatrixXcd::Zero(static_cast<Eigen::Index>(table_bins_.size()),
                                   static_cast<Eigen::Index>(spectrum_->channels()));
  t.usable = usable_;
  return t;
}

void FusedHarmonicExtractor::extract(std::span<const std::int16_t> codes, double volts_per_code,
                                     double centre_sample, FusedTable& out) {
  FrameSpectrum& fs = *spectrum_;
  fs.transform_unread(codes, volts_per_code);
  const std::size_t rows = table_bins_.size();
  const std::size_t channels = fs.channels();
  const auto r = static_cast<Eigen::Index>(rows);
  const auto cols = static_cast<Eigen::Index>(channels);
  // Resized only when the table did not come from make_table() (no allocation otherwise).
  HarmonicTable& table = out.table;
  if (table.bins.size() != rows) table.bins = extractor_.bins();
  table.amplitude.resize(r, cols);
  table.phase_rad.resize(r, cols);
  table.noise.resize(r, cols);
  table.snr.resize(r, cols);
  out.value.resize(r, cols);
  out.usable = usable_;

  if (background_) {
    fs.read_bins(table_selection_, out.value);
    background_->subtract(centre_sample, out.value);
  } else {
    fs.read_bins(neighbour_selection_, work_);
  }
  const Eigen::MatrixXcd& values = background_ ? out.value : work_;
  for (Eigen::Index c = 0; c < cols; ++c) {
    double* amplitude = table.amplitude.col(c).data();
    const std::complex<double>* v = values.col(c).data();
    if (phases_) {
      double* phase = table.phase_rad.col(c).data();
      for (std::size_t i = 0; i < rows; ++i) {
        amplitude[i] = v[i].real();
        phase[i] = v[i].imag();
      }
      detail::polar_in_place(amplitude, phase, rows);
    } else {
      double* imag = table.snr.col(c).data();  // scratch, overwritten below
      for (std::size_t i = 0; i < rows; ++i) {
        amplitude[i] = v[i].real();
        imag[i] = v[i].imag();
      }
      detail::magnitude_in_place(amplitude, imag, rows);
    }
    if (!background_) {
      double* noise = table.noise.col(c).data();
      for (std::size_t i = 0; i < rows; ++i) {
        const std::size_t begin = neighbour_offsets_[i];
        const std::size_t end = neighbour_offsets_[i + 1];
        double power = 0.0;
        for (std::size_t j = begin; j < end; ++j) power += std::norm(v[neighbour_rows_[j]]);
        noise[i] = end > begin ? std::sqrt(power / static_cast<double>(end - begin))
                               : std::numeric_limits<double>::quiet_NaN();
      }
    }
  }
  if (background_) {
    table.noise = background_noise_;
    table.snr = table.amplitude.cwiseProduct(background_inverse_noise_);
  } else {
    table.snr = table.amplitude.cwiseQuotient(table.noise);
    out.value = work_.topRows(r);
  }
  std::complex<double>* value = out.value.data();
  for (std::size_t i : masked_) value[i] = 0.0;
}

}  // namespace mpi::recon
