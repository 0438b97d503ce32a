// The receive chain's analog suppression of the drive fundamental, as a second-order notch evaluated at the
// ADC rate: H(z) = ((1 + g) + (1 - g) A(z)) / 2 with A the second-order allpass
//   A(z) = (k2 + k1 (1 + k2) z^-1 + z^-2) / (1 + k1 (1 + k2) z^-1 + k2 z^-2),
//   k1 = -cos(w0), k2 = (1 - tan(w_bw / 2)) / (1 + tan(w_bw / 2)),
// so that |H| = g = 10^(-depth_db / 20) exactly at the centre frequency w0, H = 1 at DC and Nyquist, and the
// notch is w_bw wide (where the response is halfway between g and 1 in power for g = 0). depth_db = 0 is the
// identity.
#pragma once

#include <cmath>
#include <numbers>

namespace mpi::hil {

class NotchFilter {
 public:
  NotchFilter() = default;
  // Centre and bandwidth in Hz at sample rate fs; depth in dB (>= 0).
  NotchFilter(double centre_hz, double bandwidth_hz, double depth_db, double sample_rate_hz) noexcept {
    if (!(depth_db > 0.0)) return;
    const double g = std::pow(10.0, -depth_db / 20.0);
    const double w0 = 2.0 * std::numbers::pi * centre_hz / sample_rate_hz;
    const double t = std::tan(std::numbers::pi * bandwidth_hz / sample_rate_hz);
    const double k2 = (1.0 - t) / (1.0 + t);
    const double a1 = -std::cos(w0) * (1.0 + k2);
    a1_ = a1;
    a2_ = k2;
    b0_ = 0.5 * (1.0 + g) + 0.5 * (1.0 - g) * k2;
    b1_ = a1;
    b2_ = 0.5 * (1.0 + g) * k2 + 0.5 * (1.0 - g);
    identity_ = false;
  }

  void reset() noexcept { s1_ = s2_ = 0.0; }
  [[nodiscard]] bool identity() const noexcept { return identity_; }

  // One sample through the filter (transposed direct form II).
  double operator()(double x) noexcept {
    if (identity_) return x;
    const double y = b0_ * x + s1_;
    s1_ = b1_ * x - a1_ * y + s2_;
    s2_ = b2_ * x - a2_ * y;
    return y;
  }

 private:
  bool identity_ = true;
  double b0_ = 1.0, b1_ = 0.0, b2_ = 0.0, a1_ = 0.0, a2_ = 0.0;
  double s1_ = 0.0, s2_ = 0.0;
};

}  // namespace mpi::hil
