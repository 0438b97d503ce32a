#include "mpi/hil/ramp.hpp"

#include <cmath>

namespace mpi::hil {

using drivers::regmap::RampCommand;

void Ramp::apply(RampCommand command, std::uint64_t sample, std::uint32_t ramp_samples) noexcept {
  if (command != RampCommand::up && command != RampCommand::down) return;
  const auto t = static_cast<double>(sample);
  start_ = factor(t);
  anchor_ = t;
  direction_ = command == RampCommand::up ? 1.0 : -1.0;
  duration_ = ramp_samples == 0 ? 1.0 : static_cast<double>(ramp_samples);
}

void Ramp::stop_at(std::uint64_t sample) noexcept {
  start_ = factor(static_cast<double>(sample));
  anchor_ = 0.0;
}

std::uint32_t Ramp::factor_q16(std::uint64_t sample) const noexcept {
  return static_cast<std::uint32_t>(std::lround(factor(static_cast<double>(sample)) * drivers::regmap::kRampFactorOne));
}

}  // namespace mpi::hil
