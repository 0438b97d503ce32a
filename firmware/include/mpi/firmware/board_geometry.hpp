// The board's geometry as its identification registers report it (register_map.hpp).
#pragma once

#include "mpi/drivers/register_bus.hpp"

#include <cstdint>

namespace mpi::firmware {

struct BoardGeometry {
  double dac_clock_hz = 0.0;
  std::uint32_t adc_decimation = 0;
  std::uint32_t adc_channels = 0;
  std::uint64_t ring_frames = 0;
  std::uint32_t drive_channels = 0;
  std::uint32_t receive_channels = 0;  // ADC channels [0, receive_channels) are receive coils
  std::uint32_t offset_channels = 0;   // gradient/focus/bias channels of the sequence table

  [[nodiscard]] double adc_sample_rate_hz() const noexcept { return dac_clock_hz / adc_decimation; }
  // The ADC channel that carries the reference pickup (the coil field) of drive channel `drive`.
  [[nodiscard]] std::uint32_t reference_channel(std::uint32_t drive) const noexcept { return receive_channels + drive; }
};

BoardGeometry read_board_geometry(const drivers::RegisterBus& bus) noexcept;

}  // namespace mpi::firmware
