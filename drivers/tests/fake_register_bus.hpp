// An in-memory RegisterBus for driver tests: a plain register block and an ADC ring in std::vectors,
// initialised with a board's identification registers. Tests play the logic's side by writing the
// registers and the ring directly, and can make the write pointer advance while a reader copies.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"
#include "mpi/drivers/register_map.hpp"

#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <span>
#include <vector>

namespace mpi::drivers {

// Lets GoogleTest print error codes by name.
inline void PrintTo(ErrorCode code, std::ostream* os) { *os << to_string(code); }

}  // namespace mpi::drivers

namespace mpi::drivers::testing {

struct FakeBoard {
  std::uint32_t dac_clock_hz = 125'000'000;
  std::uint32_t adc_decimation = 8;
  std::uint32_t adc_channels = 2;
  std::uint32_t ring_frames_log2 = 4;
  std::uint32_t drive_channels = 2;
  std::uint32_t offset_channels = 3;
  std::uint32_t temperature_sensors = 2;
};

class FakeRegisterBus final : public RegisterBus {
 public:
  explicit FakeRegisterBus(const FakeBoard& board = {})
      : words_(regmap::kRegisterBlockBytes / sizeof(std::uint64_t), 0),
        ring_((std::size_t{1} << board.ring_frames_log2) * board.adc_channels, 0) {
    poke32(regmap::kMagic, regmap::kMagicValue);
    poke32(regmap::kMapVersion, regmap::kMapVersionValue);
    poke32(regmap::kDacClockHz, board.dac_clock_hz);
    poke32(regmap::kAdcDecimation, board.adc_decimation);
    poke32(regmap::kAdcChannels, board.adc_channels);
    poke32(regmap::kRingFramesLog2, board.ring_frames_log2);
    poke32(regmap::kDriveChannels, board.drive_channels);
    poke32(regmap::kOffsetChannels, board.offset_channels);
    poke32(regmap::kTemperatureSensors, board.temperature_sensors);
  }

  [[nodiscard]] std::uint32_t read32(std::uint32_t offset) const noexcept override { return peek32(offset); }
  void write32(std::uint32_t offset, std::uint32_t value) noexcept override { poke32(offset, value); }

  [[nodiscard]] std::uint64_t read64(std::uint32_t offset) const noexcept override {
    if (offset == regmap::kWritePointer) {
      ++write_pointer_reads_;
      if (write_pointer_reads_ == bump_on_read_) poke64(regmap::kWritePointer, peek64(offset) + bump_by_);
    }
    return peek64(offset);
  }
  void write64(std::uint32_t offset, std::uint64_t value) noexcept override { poke64(offset, value); }

  [[nodiscard]] std::span<const std::int16_t> ring() const noexcept override {
    if (on_ring_access) on_ring_access();
    return ring_;
  }

  // --- the logic's side ---
  [[nodiscard]] std::uint32_t peek32(std::uint32_t offset) const {
    std::uint32_t v = 0;
    std::memcpy(&v, bytes() + offset, sizeof v);
    return v;
  }
  [[nodiscard]] std::uint64_t peek64(std::uint32_t offset) const {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes() + offset, sizeof v);
    return v;
  }
  void poke32(std::uint32_t offset, std::uint32_t value) const { std::memcpy(bytes() + offset, &value, sizeof value); }
  void poke64(std::uint32_t offset, std::uint64_t value) const { std::memcpy(bytes() + offset, &value, sizeof value); }
  [[nodiscard]] std::vector<std::int16_t>& ring_memory() { return ring_; }
  [[nodiscard]] const std::vector<std::uint64_t>& words() const { return words_; }

  // Just before the reader's `read_number`-th read of the write pointer (counting from 1), the write
  // pointer jumps ahead by `frames`: the logic wrote while the reader worked.
  void bump_write_pointer_on_read(unsigned read_number, std::uint64_t frames) {
    bump_on_read_ = read_number;
    bump_by_ = frames;
    write_pointer_reads_ = 0;
  }
  [[nodiscard]] unsigned write_pointer_reads() const { return write_pointer_reads_; }

  // Runs whenever the reader takes the ring, i.e. between its first look at the write pointer and its
  // copy: the logic's DMA writing into the ring before it publishes the new write pointer.
  std::function<void()> on_ring_access;

 private:
  [[nodiscard]] unsigned char* bytes() const { return reinterpret_cast<unsigned char*>(words_.data()); }

  // mutable: reads of the write pointer are counted and may trigger the simulated logic.
  mutable std::vector<std::uint64_t> words_;
  std::vector<std::int16_t> ring_;
  mutable unsigned write_pointer_reads_ = 0;
  unsigned bump_on_read_ = 0;
  std::uint64_t bump_by_ = 0;
};

}  // namespace mpi::drivers::testing
