#include "mpi/drivers/device_bus.hpp"

#include "mpi/drivers/register_map.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mpi::drivers {

using namespace regmap;

namespace {

void* map_window(int fd, std::uint64_t address, std::size_t bytes, const std::string& path) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(address));
  if (p == MAP_FAILED) throw std::runtime_error("device '" + path + "': cannot map window at " + std::to_string(address) + ": " + std::strerror(errno));
  return p;
}

template <typename T>
volatile T* at(void* base, std::uint32_t offset) noexcept {
  return reinterpret_cast<volatile T*>(static_cast<std::byte*>(base) + offset);  // NOLINT: device memory
}

}  // namespace

DeviceBus::DeviceBus(const DeviceWindows& w) {
  fd_ = ::open(w.device_path.c_str(), O_RDWR | O_SYNC);
  if (fd_ < 0) throw std::runtime_error("device '" + w.device_path + "': cannot open: " + std::strerror(errno));
  try {
    registers_ = map_window(fd_, w.register_address, kRegisterBlockBytes, w.device_path);
    const std::uint32_t magic = *at<std::uint32_t>(registers_, kMagic);
    if (magic != kMagicValue) throw std::runtime_error("device '" + w.device_path + "': no MPI board register map at the register window (bad magic)");
    const std::uint32_t log2 = *at<std::uint32_t>(registers_, kRingFramesLog2);
    const std::uint32_t channels = *at<std::uint32_t>(registers_, kAdcChannels);
    if (log2 > 28 || channels == 0 || channels > kMaxAdcChannels) throw std::runtime_error("device '" + w.device_path + "': implausible ring geometry");
    ring_bytes_ = (std::size_t{1} << log2) * channels * sizeof(std::int16_t);
    ring_ = map_window(fd_, w.ring_address, ring_bytes_, w.device_path);
  } catch (...) {
    if (registers_ != nullptr) ::munmap(registers_, kRegisterBlockBytes);
    ::close(fd_);
    throw;
  }
}

DeviceBus::~DeviceBus() {
  if (ring_ != nullptr) ::munmap(ring_, ring_bytes_);
  if (registers_ != nullptr) ::munmap(registers_, kRegisterBlockBytes);
  if (fd_ >= 0) ::close(fd_);
}

std::uint32_t DeviceBus::read32(std::uint32_t offset) const noexcept { return *at<std::uint32_t>(registers_, offset); }
void DeviceBus::write32(std::uint32_t offset, std::uint32_t value) noexcept { *at<std::uint32_t>(registers_, offset) = value; }
std::uint64_t DeviceBus::read64(std::uint32_t offset) const noexcept { return *at<std::uint64_t>(registers_, offset); }
void DeviceBus::write64(std::uint32_t offset, std::uint64_t value) noexcept { *at<std::uint64_t>(registers_, offset) = value; }

std::span<const std::int16_t> DeviceBus::ring() const noexcept {
  return {static_cast<const std::int16_t*>(ring_), ring_bytes_ / sizeof(std::int16_t)};
}

}  // namespace mpi::drivers
