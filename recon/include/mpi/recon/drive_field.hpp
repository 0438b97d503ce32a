// The 1D sinusoidal drive field and the field-free point (FFP) it moves.
//
// Drive: B_D(t) = amplitude_t * sin(2 pi f t + phase_rad), t in seconds since the acquisition trigger
// (sample 0). With a selection gradient G (T/m) the field along x is B(x, t) = G x + B_D(t), so the FFP
// sits at x = -B_D(t) / G and moves at -dB_D/dt / G.
#pragma once

namespace mpi::recon {

struct SineDrive {
  double amplitude_t = 0.0;   // peak drive field (mu0 H), T
  double frequency_hz = 0.0;
  double phase_rad = 0.0;     // phase at t = 0 (the trigger)
};

// B_D(t) in T.
double drive_field_t(const SineDrive& drive, double t_s) noexcept;
// dB_D/dt in T/s.
double drive_field_rate_t_per_s(const SineDrive& drive, double t_s) noexcept;

// FFP position x = -B_D / G, in m.
double ffp_position_m(double drive_field_t, double gradient_t_per_m) noexcept;
// FFP velocity v = -(dB_D/dt) / G, in m/s.
double ffp_velocity_m_per_s(double drive_field_rate_t_per_s, double gradient_t_per_m) noexcept;

}  // namespace mpi::recon
