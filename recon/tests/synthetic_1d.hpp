// Test-only: receive signals of a 1D FFP scanner built directly from the physics, independent of the
// library's drive, Langevin and reconstruction code. Magnetisation of point sources from the Langevin
// function, differentiated numerically in time: u(t) = -p dM/dt.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace mpi::recon::synthetic {

struct PointSource {
  double x_m;
  double particles;
};

struct Scanner1D {
  double core_diameter_m = 30e-9;
  double ms_a_per_m = 8e5;
  double temperature_k = 293.15;
  double gradient_t_per_m = 2.0;
  double amplitude_t = 0.012;
  double frequency_hz = 25e3;
  double phase_rad = 0.0;
  double sample_rate_hz = 15.625e6;
  double coil_t_per_a = 1.0;

  [[nodiscard]] double moment() const {
    return ms_a_per_m * std::numbers::pi * core_diameter_m * core_diameter_m * core_diameter_m / 6.0;
  }
  [[nodiscard]] double k() const { return moment() / (1.380649e-23 * temperature_k); }
  // p m k: the x-space signal scale.
  [[nodiscard]] double signal_scale() const { return coil_t_per_a * moment() * k(); }
};

inline double reference_langevin(double x) {
  if (std::abs(x) < 1e-3) return x / 3.0 - x * x * x / 45.0 + 2.0 * std::pow(x, 5) / 945.0;
  return 1.0 / std::tanh(x) - 1.0 / x;
}

inline double reference_langevin_derivative(double x) {
  if (std::abs(x) < 1e-2) return 1.0 / 3.0 - x * x / 15.0 + 2.0 * std::pow(x, 4) / 189.0;
  const double s = std::sinh(x);
  return 1.0 / (x * x) - 1.0 / (s * s);
}

// Total moment along x at time t.
inline double magnetisation(const Scanner1D& s, const std::vector<PointSource>& points, double t) {
  const double drive = s.amplitude_t * std::sin(2.0 * std::numbers::pi * s.frequency_hz * t + s.phase_rad);
  const double m = s.moment(), k = s.k();
  double sum = 0.0;
  for (const PointSource& p : points) sum += p.particles * m * reference_langevin(k * (s.gradient_t_per_m * p.x_m + drive));
  return sum;
}

// Receive voltage at samples first_sample .. first_sample + count - 1 (central difference, step 1 ns).
inline std::vector<double> receive_signal(const Scanner1D& s, const std::vector<PointSource>& points,
                                          std::uint64_t first_sample, std::size_t count) {
  const double h = 1e-9;
  std::vector<double> u(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double t = static_cast<double>(first_sample + i) / s.sample_rate_hz;
    u[i] = -s.coil_t_per_a * (magnetisation(s, points, t + h) - magnetisation(s, points, t - h)) / (2.0 * h);
  }
  return u;
}

}  // namespace mpi::recon::synthetic
