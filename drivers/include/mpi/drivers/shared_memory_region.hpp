// A POSIX shared-memory region laid out as the board's register block followed by the ADC ring
// (register_map.hpp). The hardware-in-the-loop plant creates and owns it; the firmware opens it through
// SharedMemoryBus. Set-up errors throw std::runtime_error with a message naming the region.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace mpi::drivers {

struct RegionGeometry {
  std::uint32_t dac_clock_hz = 125'000'000;
  std::uint32_t adc_decimation = 8;
  std::uint32_t adc_channels = 2;
  std::uint32_t ring_frames_log2 = 22;
  std::uint32_t drive_channels = 1;
  std::uint32_t offset_channels = 0;
  std::uint32_t receive_channels = 1;      // ADC channels [0, receive_channels) are receive coils
  std::uint32_t temperature_sensors = 0;
};

class SharedMemoryRegion {
 public:
  // Creates (exclusively) and initialises a region: identification registers set, everything else zero.
  static SharedMemoryRegion create(const std::string& name, const RegionGeometry& geometry);
  // Opens an existing region and checks its magic and map version.
  static SharedMemoryRegion open(const std::string& name);

  SharedMemoryRegion(SharedMemoryRegion&& other) noexcept;
  SharedMemoryRegion& operator=(SharedMemoryRegion&& other) noexcept;
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;
  ~SharedMemoryRegion();  // unmaps; the creator also unlinks the name

  [[nodiscard]] std::byte* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::span<std::int16_t> ring() const noexcept;

 private:
  SharedMemoryRegion(std::string name, std::byte* base, std::size_t size, bool owner) noexcept;
  void release() noexcept;

  std::string name_;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  bool owner_ = false;
};

}  // namespace mpi::drivers
