#include "mpi/recon/drive_field.hpp"

#include <cmath>
#include <numbers>

namespace mpi::recon {

double drive_field_t(const SineDrive& drive, double t_s) noexcept {
  return drive.amplitude_t * std::sin(2.0 * std::numbers::pi * drive.frequency_hz * t_s + drive.phase_rad);
}

double drive_field_rate_t_per_s(const SineDrive& drive, double t_s) noexcept {
  const double omega = 2.0 * std::numbers::pi * drive.frequency_hz;
  return drive.amplitude_t * omega * std::cos(omega * t_s + drive.phase_rad);
}

double ffp_position_m(double drive_field_t, double gradient_t_per_m) noexcept {
  return -drive_field_t / gradient_t_per_m;
}

double ffp_velocity_m_per_s(double drive_field_rate_t_per_s, double gradient_t_per_m) noexcept {
  return -drive_field_rate_t_per_s / gradient_t_per_m;
}

}  // namespace mpi::recon
