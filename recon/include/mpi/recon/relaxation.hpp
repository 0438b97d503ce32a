// Magnetic relaxation (REFERENCE 1.2): Brownian and Neel times, their combination, and the Debye model
// tau dM/dt + M = M_eq(t) as an exact discrete-time filter.
#pragma once

namespace mpi::recon {

// tau_B = 3 eta V_h / (kB T), V_h = pi d_h^3 / 6.
double brownian_relaxation_s(double hydrodynamic_diameter_m, double viscosity_pa_s, double temperature_k) noexcept;
// tau_N = tau_0 exp(K V / (kB T)), V = pi d^3 / 6 (magnetic core).
double neel_relaxation_s(double core_diameter_m, double anisotropy_j_per_m3, double temperature_k,
                         double attempt_time_s) noexcept;
// tau_N tau_B / (tau_N + tau_B); an infinite argument is "absent".
double effective_relaxation_s(double neel_s, double brownian_s) noexcept;

// The Debye response y of tau dy/dt + y = x(t), advanced one step of `step_s` at a time with x linear
// across each step (exact for such input): y1 = a y0 + b x0 + c x1, a = exp(-h/tau). tau = 0 passes x
// through. Works on any type with + and scalar * (double, Eigen vectors).
class DebyeStep {
 public:
  DebyeStep(double tau_s, double step_s) noexcept;
  template <class T>
  [[nodiscard]] T operator()(const T& y0, const T& x0, const T& x1) const noexcept {
    return a_ * y0 + b_ * x0 + c_ * x1;
  }
  [[nodiscard]] double a() const noexcept { return a_; }
  [[nodiscard]] double b() const noexcept { return b_; }
  [[nodiscard]] double c() const noexcept { return c_; }

 private:
  double a_ = 0.0;
  double b_ = 0.0;
  double c_ = 1.0;
};

}  // namespace mpi::recon
