// Driver for one offset (gradient/focus) DAC channel (register map v2): the static DAC code it outputs
// while the sequence table is disabled, the peak DAC code the logic clamps it to (also in table steps),
// and the code it outputs now. Every call is noexcept and allocation-free.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"

#include <cstdint>

namespace mpi::drivers {

class OffsetChannel {
 public:
  // `channel` must be below the board's OffsetChannels register; check with valid() before use.
  OffsetChannel(RegisterBus& bus, unsigned channel) noexcept;

  [[nodiscard]] bool valid() const noexcept;
  // The DAC code (-kDacFullScale..kDacFullScale) output while the sequence table is disabled.
  [[nodiscard]] ErrorCode set_static_value(std::int32_t code) noexcept;
  // The same as a fraction of full scale (-1..1), rounded to the nearest code.
  [[nodiscard]] ErrorCode set_static_fraction(double fraction) noexcept;
  [[nodiscard]] std::int32_t static_value() const noexcept;
  // The peak DAC code (0..kDacFullScale) the logic clamps the channel's output to.
  [[nodiscard]] ErrorCode set_dac_limit(std::uint32_t peak_code) noexcept;
  [[nodiscard]] std::uint32_t dac_limit() const noexcept;
  // The DAC code the channel outputs now, as the logic reports it.
  [[nodiscard]] std::int32_t output() const noexcept;

 private:
  [[nodiscard]] std::uint32_t reg(std::uint32_t r) const noexcept;
  RegisterBus* bus_;
  unsigned channel_;
};

}  // namespace mpi::drivers
