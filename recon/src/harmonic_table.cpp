#include "mpi/recon/harmonic_table.hpp"

#include "harmonic_polar.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

// The vector helpers below pass 32-byte vectors by value; they are internal and inlined, so the note that
// this would change the ABI where AVX is off does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace mpi::recon {

// Branch-free (selects rather than jumps): the octant of a complex value is random from one table row to the
// next, and mispredicted branches cost more than the whole polynomial.
double fast_atan2(double y, double x) noexcept {
  constexpr double kPi = 3.14159265358979323846;
  constexpr double kTanPi8 = 0.41421356237309504880;
  const double ax = std::abs(x);
  const double ay = std::abs(y);
  const double hi = std::max(ax, ay);
  const double lo = std::min(ax, ay);
  // a = lo / hi in [0, 1]; above tan(pi/8), t = (a - 1) / (a + 1) = (lo - hi) / (lo + hi): one division.
  const bool upper = lo > kTanPi8 * hi;
  const double t = upper ? (lo - hi) / (lo + hi) : lo / (hi > 0.0 ? hi : 1.0);  // |t| <= tan(pi/8)
  const double t2 = t * t;
  const double t4 = t2 * t2;
  const double t8 = t4 * t4;
  // atan(t) = t sum_n (-1)^n t^(2n) / (2n + 1), n = 0..11, by Estrin's scheme in t^2 (short dependency chains).
  const double r0 = (1.0 - 1.0 / 3.0 * t2) + (1.0 / 5.0 - 1.0 / 7.0 * t2) * t4;
  const double r1 = (1.0 / 9.0 - 1.0 / 11.0 * t2) + (1.0 / 13.0 - 1.0 / 15.0 * t2) * t4;
  const double r2 = (1.0 / 17.0 - 1.0 / 19.0 * t2) + (1.0 / 21.0 - 1.0 / 23.0 * t2) * t4;
  const double p = r0 + t8 * (r1 + t8 * r2);
  double r = t * p + (upper ? 0.25 * kPi : 0.0);  // atan(lo / hi) in [0, pi/4]
  r = ay > ax ? 0.5 * kPi - r : r;
  r = std::signbit(x) ? kPi - r : r;
  r = (x != x || y != y) ? std::numeric_limits<double>::quiet_NaN() : r;
  return std::copysign(r, y);
}

namespace {

// fast_atan2 on 4 doubles at once (GCC vector extensions; AVX2/FMA where the CPU has it, see below).
using V4 = double __attribute__((vector_size(32)));
using I4 = long long __attribute__((vector_size(32)));

inline __attribute__((always_inline)) V4 atan2_v4(V4 y, V4 x) noexcept {
  constexpr double kPi = 3.14159265358979323846;
  constexpr double kTanPi8 = 0.41421356237309504880;
  constexpr long long kSign = static_cast<long long>(0x8000000000000000ULL);
  const V4 ax = reinterpret_cast<V4>(reinterpret_cast<I4>(x) & ~kSign);
  const V4 ay = reinterpret_cast<V4>(reinterpret_cast<I4>(y) & ~kSign);
  const I4 steep = ay > ax;
  const V4 hi = steep ? ay : ax;
  const V4 lo = steep ? ax : ay;
  const V4 one = V4{} + 1.0;
  const I4 upper = lo > kTanPi8 * hi;
  const V4 t = (upper ? lo - hi : lo) / (upper ? lo + hi : (hi > 0.0 ? hi : one));
  const V4 t2 = t * t;
  const V4 t4 = t2 * t2;
  const V4 t8 = t4 * t4;
  const V4 r0 = (1.0 - 1.0 / 3.0 * t2) + (1.0 / 5.0 - 1.0 / 7.0 * t2) * t4;
  const V4 r1 = (1.0 / 9.0 - 1.0 / 11.0 * t2) + (1.0 / 13.0 - 1.0 / 15.0 * t2) * t4;
  const V4 r2 = (1.0 / 17.0 - 1.0 / 19.0 * t2) + (1.0 / 21.0 - 1.0 / 23.0 * t2) * t4;
  const V4 p = r0 + t8 * (r1 + t8 * r2);
  V4 r = t * p + (upper ? V4{} + 0.25 * kPi : V4{});
  r = steep ? 0.5 * kPi - r : r;
  r = (reinterpret_cast<I4>(x) < 0) ? kPi - r : r;  // sign bit of x (also -0 and -NaN)
  r = ((x != x) | (y != y)) ? V4{} + std::numeric_limits<double>::quiet_NaN() : r;
  return reinterpret_cast<V4>((reinterpret_cast<I4>(r) & ~kSign) | (reinterpret_cast<I4>(y) & kSign));
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MPI_RECON_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MPI_RECON_CLONES
#endif

}  // namespace

namespace detail {

// The magnitudes' square roots are of sums of squares (never negative), so errno is never set: without
// math-errno the compiler may use the vector square root.
MPI_RECON_CLONES __attribute__((optimize("no-math-errno"))) void polar_in_place(double* amplitude, double* phase,
                                                                               std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    V4 re;
    V4 im;
    std::memcpy(&re, amplitude + i, sizeof(V4));
    std::memcpy(&im, phase + i, sizeof(V4));
    const V4 norm = re * re + im * im;
    const V4 ph = atan2_v4(im, re);
    const V4 amp = {std::sqrt(norm[0]), std::sqrt(norm[1]), std::sqrt(norm[2]), std::sqrt(norm[3])};
    std::memcpy(amplitude + i, &amp, sizeof(V4));
    std::memcpy(phase + i, &ph, sizeof(V4));
  }
  for (; i < n; ++i) {
    const double re = amplitude[i];
    const double im = phase[i];
    amplitude[i] = std::sqrt(re * re + im * im);
    phase[i] = fast_atan2(im, re);
  }
}

MPI_RECON_CLONES __attribute__((optimize("no-math-errno"))) void magnitude_in_place(double* amplitude,
                                                                                   const double* imag,
                                                                                   std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) amplitude[i] = std::sqrt(amplitude[i] * amplitude[i] + imag[i] * imag[i]);
}

}  // namespace detail

std::vector<HarmonicBin> drive_harmonics(const FrameGeometry& geometry, int max_order) {
  const std::vector<std::size_t> drives = drive_bins(geometry);
  if (max_order < 1) {
    throw std::invalid_argument("drive_harmonics: max_order " + std::to_string(max_order) + " must be at least 1");
  }
  const std::size_t nyquist = geometry.samples_per_frame / 2;
  std::vector<HarmonicBin> out;
  out.reserve(static_cast<std::size_t>(max_order));
  for (int n = 1; n <= max_order; ++n) {
    const std::size_t bin = static_cast<std::size_t>(n) * drives[0];
    if (bin > nyquist) {
      throw std::invalid_argument("drive_harmonics: harmonic " + std::to_string(n) + " (bin " + std::to_string(bin) +
                                  ") lies above the Nyquist bin " + std::to_string(nyquist));
    }
    out.push_back({bin, static_cast<double>(bin) * geometry.bin_spacing_hz(), {n, 0, 0}});
  }
  return out;
}

std::vector<HarmonicBin> mixing_frequencies(const FrameGeometry& geometry, int max_total_order) {
  const std::vector<std::size_t> drives = drive_bins(geometry);
  if (drives.size() > 3) {
    throw std::invalid_argument("mixing_frequencies: " + std::to_string(drives.size()) +
                                " drive frequencies given, at most 3 supported");
  }
  if (max_total_order < 1) {
    throw std::invalid_argument("mixing_frequencies: max_total_order " + std::to_string(max_total_order) +
                                " must be at least 1");
  }
  const auto nyquist = static_cast<long long>(geometry.samples_per_frame / 2);
  const int m = max_total_order;
  const int r1 = drives.size() > 1 ? m : 0;
  const int r2 = drives.size() > 2 ? m : 0;
  auto k = [&](std::size_t d) { return d < drives.size() ? static_cast<long long>(drives[d]) : 0LL; };
  // bin -> (total order, orders): the lowest total order wins, then the smallest orders (enumeration order).
  std::map<long long, std::pair<int, std::array<int, 3>>> best;
  for (int a = -m; a <= m; ++a) {
    for (int b = -r1; b <= r1; ++b) {
      for (int c = -r2; c <= r2; ++c) {
        const int total = std::abs(a) + std::abs(b) + std::abs(c);
        if (total > m) continue;
        const long long bin = a * k(0) + b * k(1) + c * k(2);
        if (bin < 1 || bin > nyquist) continue;
        const auto it = best.find(bin);
        if (it == best.end() || total < it->second.first) best[bin] = {total, {a, b, c}};
      }
    }
  }
  std::vector<HarmonicBin> out;
  out.reserve(best.size());
  for (const auto& [bin, entry] : best) {
    const auto b = static_cast<std::size_t>(bin);
    out.push_back({b, static_cast<double>(b) * geometry.bin_spacing_hz(), entry.second});
  }
  return out;
}

HarmonicExtractor::HarmonicExtractor(const FrameGeometry& geometry, std::vector<HarmonicBin> bins,
                                     std::size_t neighbour_half_width)
    : spectrum_bins_(geometry.bins()), channels_(geometry.channels), bins_(std::move(bins)) {
  const std::vector<std::size_t> drives = drive_bins(geometry);
  if (bins_.empty()) throw std::invalid_argument("HarmonicExtractor: no harmonic bins given");
  const std::size_t nyquist = geometry.samples_per_frame / 2;
  std::vector<char> excluded(spectrum_bins_, 0);
  for (std::size_t r = 0; r < bins_.size(); ++r) {
    if (bins_[r].bin > nyquist) {
      throw std::invalid_argument("HarmonicExtractor: bin " + std::to_string(bins_[r].bin) + " (row " +
                                  std::to_string(r) + ") lies above the Nyquist bin " + std::to_string(nyquist));
    }
    excluded[bins_[r].bin] = 1;
  }
  excluded[0] = 1;
  for (std::size_t d : drives) excluded[d] = 1;
  if (geometry.samples_per_frame % 2 == 0) excluded[nyquist] = 1;
  neighbour_offsets_.reserve(bins_.size() + 1);
  neighbour_offsets_.push_back(0);
  for (const HarmonicBin& h : bins_) {
    const std::size_t lo = h.bin > neighbour_half_width ? h.bin - neighbour_half_width : 0;
    const std::size_t hi = std::min(nyquist, h.bin + neighbour_half_width);
    for (std::size_t j = lo; j <= hi; ++j) {
      if (excluded[j] == 0) neighbours_.push_back(j);
    }
    neighbour_offsets_.push_back(neighbours_.size());
  }
}

std::span<const std::size_t> HarmonicExtractor::neighbours(std::size_t row) const {
  if (row >= bins_.size()) {
    throw std::out_of_range("HarmonicExtractor::neighbours: row " + std::to_string(row) + " of " +
                            std::to_string(bins_.size()));
  }
  return std::span<const std::size_t>(neighbours_).subspan(neighbour_offsets_[row],
                                                           neighbour_offsets_[row + 1] - neighbour_offsets_[row]);
}

HarmonicTable HarmonicExtractor::make_table() const {
  HarmonicTable t;
  t.bins = bins_;
  const auto rows = static_cast<Eigen::Index>(bins_.size());
  const auto cols = static_cast<Eigen::Index>(channels_);
  t.amplitude = Eigen::MatrixXd::Zero(rows, cols);
  t.phase_rad = Eigen::MatrixXd::Zero(rows, cols);
  t.noise = Eigen::MatrixXd::Zero(rows, cols);
  t.snr = Eigen::MatrixXd::Zero(rows, cols);
  return t;
}

void HarmonicExtractor::check(const char* where, const Eigen::MatrixXcd& spectrum, HarmonicTable& table) const {
  if (spectrum.rows() != static_cast<Eigen::Index>(spectrum_bins_) ||
      spectrum.cols() != static_cast<Eigen::Index>(channels_)) {
    throw std::invalid_argument(std::string("HarmonicExtractor::") + where + ": spectrum is " +
                                std::to_string(spectrum.rows()) + " x " + std::to_string(spectrum.cols()) +
                                ", expected " + std::to_string(spectrum_bins_) + " bins x " +
                                std::to_string(channels_) + " channels");
  }
  const auto rows = static_cast<Eigen::Index>(bins_.size());
  const auto cols = static_cast<Eigen::Index>(channels_);
  // Resized only when the caller did not use make_table() (no allocation otherwise).
  if (table.bins.size() != bins_.size()) table.bins = bins_;
  table.amplitude.resize(rows, cols);
  table.phase_rad.resize(rows, cols);
  table.noise.resize(rows, cols);
  table.snr.resize(rows, cols);
}

void HarmonicExtractor::fill_amplitudes(const Eigen::MatrixXcd& spectrum, HarmonicTable& table) const {
  const std::size_t rows = bins_.size();
  for (Eigen::Index c = 0; c < static_cast<Eigen::Index>(channels_); ++c) {
    double* amplitude = table.amplitude.col(c).data();
    double* phase = table.phase_rad.col(c).data();
    const std::complex<double>* column = spectrum.col(c).data();
    for (std::size_t r = 0; r < rows; ++r) {
      const std::complex<double> v = column[bins_[r].bin];
      amplitude[r] = v.real();
      phase[r] = v.imag();
    }
    detail::polar_in_place(amplitude, phase, rows);
  }
}

void HarmonicExtractor::extract(const Eigen::MatrixXcd& spectrum, HarmonicTable& table) const {
  check("extract", spectrum, table);
  fill_amplitudes(spectrum, table);
  for (Eigen::Index c = 0; c < static_cast<Eigen::Index>(channels_); ++c) {
    for (std::size_t r = 0; r < bins_.size(); ++r) {
      const std::size_t begin = neighbour_offsets_[r];
      const std::size_t end = neighbour_offsets_[r + 1];
      double power = 0.0;
      for (std::size_t i = begin; i < end; ++i) power += std::norm(spectrum(static_cast<Eigen::Index>(neighbours_[i]), c));
      const double noise = end > begin ? std::sqrt(power / static_cast<double>(end - begin))
                                       : std::numeric_limits<double>::quiet_NaN();
      const auto row = static_cast<Eigen::Index>(r);
      table.noise(row, c) = noise;
      table.snr(row, c) = table.amplitude(row, c) / noise;
    }
  }
}

void HarmonicExtractor::extract(const Eigen::MatrixXcd& spectrum, const Eigen::MatrixXd& bin_noise,
                                HarmonicTable& table) const {
  check("extract", spectrum, table);
  if (bin_noise.rows() != spectrum.rows() || bin_noise.cols() != spectrum.cols()) {
    throw std::invalid_argument("HarmonicExtractor::extract: background noise is " + std::to_string(bin_noise.rows()) +
                                " x " + std::to_string(bin_noise.cols()) + ", expected " +
                                std::to_string(spectrum.rows()) + " x " + std::to_string(spectrum.cols()));
  }
  fill_amplitudes(spectrum, table);
  for (Eigen::Index c = 0; c < static_cast<Eigen::Index>(channels_); ++c) {
    for (std::size_t r = 0; r < bins_.size(); ++r) {
      const auto row = static_cast<Eigen::Index>(r);
      const double noise = bin_noise(static_cast<Eigen::Index>(bins_[r].bin), c);
      table.noise(row, c) = noise;
      table.snr(row, c) = table.amplitude(row, c) / noise;
    }
  }
}

}  // namespace mpi::recon
