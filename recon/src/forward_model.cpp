#include "mpi/recon/forward_model.hpp"

#include "mpi/recon/constants.hpp"
#include "mpi/recon/langevin.hpp"
#include "mpi/recon/psf.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace mpi::recon {

namespace {

// phi(x) = L(x) / x (even, phi(0) = 1/3) and its derivative (used only for the slopes of the table's
// cubic pieces); series below 0.05, where the next term is below 1e-12 relative.
double phi(double x) noexcept { return psf_normal(x); }

double phi_derivative(double x) noexcept {
  if (std::abs(x) < 0.05) {
    const double x2 = x * x;
    return x * (-2.0 / 45.0 + x2 * (8.0 / 945.0 - x2 * 6.0 / 4725.0));
  }
  return (langevin_derivative(x) - phi(x)) / x;
}

// One tracer mode: g(b) = f(b) / b = sum_j w_j m_j^2 / (kB T) phi(m_j b / (kB T)), tabulated as cubic
// Hermite pieces on a grid in x = 1 + b / b0 whose cells are the binary octaves of x, each cut into
// 2^bits equal parts: uniform spacing b0 / 2^bits for b < b0, relative spacing 2^-bits above. The cell
// index and the position in the cell come from the bits of the double x (no logarithm in the hot loop).
struct ModeTable {
  double tau_s = 0.0;
  double particles_per_kg_iron = 0.0;  // of this mode, per kg of the tracer's iron (iron fraction included)
  std::vector<double> coefficient;     // w_j m_j^2 / (kB T)
  std::vector<double> scale;           // m_j / (kB T), per tesla
  double b0 = 1.0;
  double inv_b0 = 1.0;
  int bits = 6;
  int shift = 46;            // 52 - bits: mantissa bits below the cell index
  double t_scale = 0.0;      // 2^-shift
  std::uint64_t cells = 0;
  std::vector<std::array<double, 4>> cubic;  // per cell: p(t) = c0 + t (c1 + t (c2 + t c3)), t in [0, 1)

  [[nodiscard]] double direct(double b) const noexcept {
    double sum = 0.0;
    for (std::size_t j = 0; j < coefficient.size(); ++j) sum += coefficient[j] * phi(scale[j] * b);
    return sum;
  }
  [[nodiscard]] double direct_derivative(double b) const noexcept {
    double sum = 0.0;
    for (std::size_t j = 0; j < coefficient.size(); ++j) sum += coefficient[j] * scale[j] * phi_derivative(scale[j] * b);
    return sum;
  }
  // The table's hot-loop view, copied into locals so that the compiler keeps it in registers.
  struct View {
    double inv_b0;
    int bits;
    int shift;
    double t_scale;
    std::uint64_t cells;
    const std::array<double, 4>* cubic;
    const ModeTable* table;

    // b >= 0.
    [[nodiscard]] double operator()(double b) const noexcept {
      const double x = 1.0 + b * inv_b0;
      const auto u = std::bit_cast<std::uint64_t>(x);
      const std::uint64_t exponent = (u >> 52) - 1023u;
      const std::uint64_t mantissa = u & ((std::uint64_t{1} << 52) - 1u);
      const std::uint64_t cell = (exponent << bits) | (mantissa >> shift);
      if (cell >= cells) [[unlikely]] return table->direct(b);
      // Position in the cell: the mantissa bits below the index (< 2^52, exact as a signed conversion).
      const double t = static_cast<double>(static_cast<std::int64_t>(mantissa & ((std::uint64_t{1} << shift) - 1u))) * t_scale;
      const std::array<double, 4>& c = cubic[cell];
      return c[0] + t * (c[1] + t * (c[2] + t * c[3]));
    }
  };
  [[nodiscard]] View view() const noexcept { return {inv_b0, bits, shift, t_scale, cells, cubic.data(), this}; }
  [[nodiscard]] double lookup(double b) const noexcept { return view()(b); }

  // The left edge of a cell and its width, in tesla.
  [[nodiscard]] std::pair<double, double> cell_span(std::uint64_t cell) const noexcept {
    const auto octave = static_cast<int>(cell >> bits);
    const auto part = static_cast<double>(cell & ((std::uint64_t{1} << bits) - 1u));
    const double parts = std::ldexp(1.0, bits);
    const double x_left = std::ldexp(1.0 + part / parts, octave);
    const double width_x = std::ldexp(1.0 / parts, octave);
    return {(x_left - 1.0) * b0, width_x * b0};
  }

  void tabulate(double max_field_t, int grid_bits) {
    bits = grid_bits;
    shift = 52 - bits;
    t_scale = std::ldexp(1.0, -shift);
    const double x_max = 1.0 + max_field_t * inv_b0;
    const int octaves = std::ilogb(x_max) + 1;
    cells = static_cast<std::uint64_t>(octaves) << bits;
    cubic.assign(cells, {});
    for (std::uint64_t cell = 0; cell < cells; ++cell) {
      const auto [left, width] = cell_span(cell);
      const double y0 = direct(left), y1 = direct(left + width);
      const double d0 = direct_derivative(left) * width, d1 = direct_derivative(left + width) * width;
      cubic[cell] = {y0, d0, 3.0 * (y1 - y0) - 2.0 * d0 - d1, 2.0 * (y0 - y1) + d0 + d1};
    }
  }

  // Largest relative deviation of the table from the direct sum inside the cells.
  [[nodiscard]] double table_error() const noexcept {
    double worst = 0.0;
    for (std::uint64_t cell = 0; cell < cells; ++cell) {
      const auto [left, width] = cell_span(cell);
      for (double t : {0.21, 0.5, 0.79}) {
        const double b = left + t * width;
        const double exact = direct(b);
        if (exact > 0.0) worst = std::max(worst, std::abs(lookup(b) - exact) / exact);
      }
    }
    return worst;
  }
};

ModeTable make_table(const TracerMode& mode, double max_field_t) {
  const ParticleEnsemble ensemble(mode.tracer);
  ModeTable table;
  table.tau_s = mode.tau_s;
  table.particles_per_kg_iron = mode.iron_fraction * ensemble.particles_per_kg_iron();
  const double kt = kBoltzmann * mode.tracer.temperature_k;
  double narrowest = max_field_t;  // smallest kB T / m_j: the finest feature of g
  for (const SizeClass& c : ensemble.classes()) {
    if (!(c.moment_a_m2 > 0.0)) continue;  // the dead layer took the whole core
    table.coefficient.push_back(c.number_fraction * c.moment_a_m2 * c.moment_a_m2 / kt);
    table.scale.push_back(c.moment_a_m2 / kt);
    narrowest = std::min(narrowest, kt / c.moment_a_m2);
  }
  // At most 60 octaves above b0, whatever the size distribution.
  table.b0 = std::max(narrowest, std::ldexp(max_field_t, -60));
  table.inv_b0 = 1.0 / table.b0;
  // Refine until the cubic pieces are within 1e-8 of the direct sum (the contract is 1e-7).
  for (int grid_bits = 5;; ++grid_bits) {
    table.tabulate(max_field_t, grid_bits);
    if (grid_bits >= 12 || table.table_error() < 1e-8) break;
  }
  return table;
}

using Tables = std::vector<ModeTable>;

}  // namespace

struct ParticleSignalModel::Impl {
  std::shared_ptr<const Tables> tables;
  Eigen::Matrix3d gradient = Eigen::Matrix3d::Zero();
  std::vector<ParticleSource> sources;
  // Sources with iron, in arrays: the selection field G r_i and the particle count per mode.
  std::vector<double> gx, gy, gz;
  std::vector<std::vector<double>> particles;  // [mode][source]

  void place(std::vector<ParticleSource> given) {
    for (std::size_t i = 0; i < given.size(); ++i) {
      const ParticleSource& s = given[i];
      if (!s.position_m.allFinite()) {
        throw std::invalid_argument("particle source #" + std::to_string(i) + ": position is not finite");
      }
      if (!(s.iron_kg >= 0.0 && std::isfinite(s.iron_kg))) {
        throw std::invalid_argument("particle source #" + std::to_string(i) + ": iron mass must be finite and >= 0, got " +
                                    std::to_string(s.iron_kg) + " kg");
      }
    }
    sources = std::move(given);
    gx.clear();
    gy.clear();
    gz.clear();
    particles.assign(tables->size(), {});
    for (const ParticleSource& s : sources) {
      if (s.iron_kg == 0.0) continue;
      const Eigen::Vector3d g = gradient * s.position_m;
      gx.push_back(g.x());
      gy.push_back(g.y());
      gz.push_back(g.z());
      for (std::size_t m = 0; m < tables->size(); ++m) particles[m].push_back(s.iron_kg * (*tables)[m].particles_per_kg_iron);
    }
  }
};

ParticleSignalModel::ParticleSignalModel(const TracerModel& tracer, std::vector<ParticleSource> sources,
                                         const Eigen::Matrix3d& gradient_t_per_m, double max_field_t) {
  if (const std::string why = validate(tracer); !why.empty()) throw std::invalid_argument("tracer model: " + why);
  if (!gradient_t_per_m.allFinite()) throw std::invalid_argument("particle signal model: gradient is not finite");
  if (!(max_field_t > 0.0 && std::isfinite(max_field_t))) {
    throw std::invalid_argument("particle signal model: max_field_t must be finite and positive, got " + std::to_string(max_field_t));
  }
  auto tables = std::make_shared<Tables>();
  for (const TracerMode& mode : tracer.modes) tables->push_back(make_table(mode, max_field_t));
  impl_ = std::make_shared<Impl>();
  impl_->tables = std::move(tables);
  impl_->gradient = gradient_t_per_m;
  impl_->place(std::move(sources));
}

std::size_t ParticleSignalModel::modes() const noexcept { return impl_->tables->size(); }

double ParticleSignalModel::tau_s(std::size_t mode) const noexcept {
  return mode < modes() ? (*impl_->tables)[mode].tau_s : 0.0;
}

const std::vector<ParticleSource>& ParticleSignalModel::sources() const noexcept { return impl_->sources; }

void ParticleSignalModel::set_sources(std::vector<ParticleSource> sources) {
  // A new state sharing the tables: copies of this model keep their own sources.
  auto next = std::make_shared<Impl>();
  next->tables = impl_->tables;
  next->gradient = impl_->gradient;
  next->place(std::move(sources));
  impl_ = std::move(next);
}

void ParticleSignalModel::equilibrium_moments(const Eigen::Vector3d& applied_field_t,
                                              std::span<Eigen::Vector3d> out) const noexcept {
  const Impl& s = *impl_;
  const double bx = applied_field_t.x(), by = applied_field_t.y(), bz = applied_field_t.z();
  const std::size_t n = s.gx.size();
  const double* gx = s.gx.data();
  const double* gy = s.gy.data();
  const double* gz = s.gz.data();
  const std::size_t count = std::min(out.size(), s.tables->size());
  for (std::size_t m = 0; m < count; ++m) {
    const ModeTable::View table = (*s.tables)[m].view();
    const double* particles = s.particles[m].data();
    double ax = 0.0, ay = 0.0, az = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double vx = gx[i] + bx, vy = gy[i] + by, vz = gz[i] + bz;
      const double b = std::sqrt(vx * vx + vy * vy + vz * vz);
      const double w = particles[i] * table(b);
      ax += w * vx;
      ay += w * vy;
      az += w * vz;
    }
    out[m] = Eigen::Vector3d(ax, ay, az);
  }
  for (std::size_t m = count; m < out.size(); ++m) out[m] = Eigen::Vector3d::Zero();
}

double ParticleSignalModel::mean_moment_a_m2(std::size_t mode, double field_t) const noexcept {
  return mode < modes() ? field_t * (*impl_->tables)[mode].lookup(std::abs(field_t)) : 0.0;
}

double ParticleSignalModel::mean_moment_per_field(std::size_t mode, double field_t) const noexcept {
  return mode < modes() ? (*impl_->tables)[mode].lookup(std::abs(field_t)) : 0.0;
}

}  // namespace mpi::recon
