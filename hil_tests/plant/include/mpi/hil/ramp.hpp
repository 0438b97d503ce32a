// The logic's linear ramp of a drive channel's amplitude factor (register_map.hpp): a command starts a
// ramp from the present factor towards 1 (up) or 0 (down) at 1/RampSamples per sample. The factor is a
// continuous, piecewise-linear function of the sample time t (in samples since the trigger): it holds its
// value up to the sample at which the command was applied and then moves linearly until it reaches 0 or 1.
#pragma once

#include "mpi/drivers/register_map.hpp"

#include <cstdint>

namespace mpi::hil {

class Ramp {
 public:
  // Applies `command` (up or down; hold is ignored) at `sample` with a full-scale duration of
  // `ramp_samples` samples (0 is taken as 1).
  void apply(drivers::regmap::RampCommand command, std::uint64_t sample, std::uint32_t ramp_samples) noexcept;
  // Freezes the factor reached at `sample` (acquisition stops there) and re-anchors the ramp so that it
  // continues from that value at sample 0 of the next acquisition.
  void stop_at(std::uint64_t sample) noexcept;

  // Factor at sample time t (samples since the trigger, fractional allowed), 0..1.
  [[nodiscard]] double factor(double t) const noexcept {
    if (direction_ == 0 || t <= anchor_) return start_;
    const double f = start_ + direction_ * (t - anchor_) / duration_;
    return f < 0.0 ? 0.0 : (f > 1.0 ? 1.0 : f);
  }
  // True when the factor no longer changes from sample time t on (holding, or a ramp that reached its end).
  [[nodiscard]] bool settled_from(double t) const noexcept {
    if (direction_ == 0.0) return true;
    const double f = factor(t);
    return t >= anchor_ && ((direction_ > 0.0 && f == 1.0) || (direction_ < 0.0 && f == 0.0));
  }
  // Factor in Q16 (65536 = 1), as the RampFactor register reports it.
  [[nodiscard]] std::uint32_t factor_q16(std::uint64_t sample) const noexcept;

 private:
  double start_ = 0.0;     // factor at the anchor
  double anchor_ = 0.0;    // sample at which the present segment started
  double direction_ = 0.0; // +1 up, -1 down, 0 holding
  double duration_ = 1.0;  // RampSamples of the present segment
};

}  // namespace mpi::hil
