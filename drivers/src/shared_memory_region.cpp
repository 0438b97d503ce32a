#include "mpi/drivers/shared_memory_region.hpp"

#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace mpi::drivers {

using namespace regmap;

namespace {

std::string posix_name(const std::string& name) { return name.starts_with('/') ? name : "/" + name; }

[[noreturn]] void fail(const std::string& name, const std::string& what, int err) {
  throw std::runtime_error("shared memory '" + name + "': " + what + ": " + std::strerror(err));
}

std::byte* map(int fd, std::size_t size, const std::string& name) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    fail(name, "cannot map", err);
  }
  ::close(fd);
  return static_cast<std::byte*>(p);
}

}  // namespace

// cppcheck-suppress passedByValue ; the name is moved into the member
SharedMemoryRegion::SharedMemoryRegion(std::string name, std::byte* base, std::size_t size, bool owner) noexcept
    : name_(std::move(name)), base_(base), size_(size), owner_(owner) {}

SharedMemoryRegion SharedMemoryRegion::create(const std::string& name, const RegionGeometry& g) {
  if (g.adc_channels == 0 || g.adc_channels > kMaxAdcChannels) throw std::runtime_error("shared memory '" + name + "': ADC channel count must be 1.." + std::to_string(kMaxAdcChannels));
  if (g.drive_channels == 0 || g.drive_channels > kMaxDriveChannels) throw std::runtime_error("shared memory '" + name + "': drive channel count must be 1.." + std::to_string(kMaxDriveChannels));
  if (g.offset_channels > kMaxOffsetChannels) throw std::runtime_error("shared memory '" + name + "': offset channel count must be 0.." + std::to_string(kMaxOffsetChannels));
  if (g.temperature_sensors > kMaxTemperatureSensors) throw std::runtime_error("shared memory '" + name + "': temperature sensor count must be 0.." + std::to_string(kMaxTemperatureSensors));
  if (g.receive_channels > g.adc_channels) throw std::runtime_error("shared memory '" + name + "': more receive channels than ADC channels");
  if (g.ring_frames_log2 < 10 || g.ring_frames_log2 > 28) throw std::runtime_error("shared memory '" + name + "': ring size must be 2^10..2^28 frames");
  if (g.adc_decimation == 0 || g.dac_clock_hz == 0) throw std::runtime_error("shared memory '" + name + "': DAC clock and ADC decimation must be positive");
  const std::string pname = posix_name(name);
  const int fd = ::shm_open(pname.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) fail(name, "cannot create", errno);
  const std::size_t size = shared_region_bytes(g.ring_frames_log2, g.adc_channels);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ::close(fd);
    ::shm_unlink(pname.c_str());
    fail(name, "cannot size", err);
  }
  std::byte* base = nullptr;
  try {
    base = map(fd, size, name);
  } catch (...) {
    ::shm_unlink(pname.c_str());
    throw;
  }
  const RegisterBlock regs(base);
  regs.write32(kDacClockHz, g.dac_clock_hz);
  regs.write32(kAdcDecimation, g.adc_decimation);
  regs.write32(kAdcChannels, g.adc_channels);
  regs.write32(kRingFramesLog2, g.ring_frames_log2);
  regs.write32(kDriveChannels, g.drive_channels);
  regs.write32(kOffsetChannels, g.offset_channels);
  regs.write32(kReceiveChannels, g.receive_channels);
  regs.write32(kTemperatureSensors, g.temperature_sensors);
  regs.write32(kMapVersion, kMapVersionValue);
  regs.write32(kMagic, kMagicValue);  // last: the region is complete once the magic is there
  return SharedMemoryRegion(pname, base, size, true);
}

SharedMemoryRegion SharedMemoryRegion::open(const std::string& name) {
  const std::string pname = posix_name(name);
  const int fd = ::shm_open(pname.c_str(), O_RDWR, 0);
  if (fd < 0) {
    if (errno == ENOENT) throw std::runtime_error("shared memory '" + name + "' does not exist (is the plant running?)");
    fail(name, "cannot open", errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < kRegisterBlockBytes) {
    ::close(fd);
    throw std::runtime_error("shared memory '" + name + "' is too small to hold the register map");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  std::byte* base = map(fd, size, name);
  SharedMemoryRegion region(pname, base, size, false);
  const RegisterBlock regs(base);
  if (regs.read32(kMagic) != kMagicValue) throw std::runtime_error("shared memory '" + name + "' is not an MPI board register map (bad magic)");
  if (regs.read32(kMapVersion) != kMapVersionValue) {
    throw std::runtime_error("shared memory '" + name + "' has register map version " + std::to_string(regs.read32(kMapVersion)) +
                             ", expected " + std::to_string(kMapVersionValue));
  }
  const std::uint32_t log2 = regs.read32(kRingFramesLog2);
  const std::uint32_t channels = regs.read32(kAdcChannels);
  if (log2 > 28 || channels == 0 || channels > kMaxAdcChannels || shared_region_bytes(log2, channels) > size) {
    throw std::runtime_error("shared memory '" + name + "' is smaller than its ring geometry says");
  }
  return region;
}

SharedMemoryRegion::SharedMemoryRegion(SharedMemoryRegion&& other) noexcept
    : name_(std::move(other.name_)), base_(std::exchange(other.base_, nullptr)), size_(other.size_), owner_(std::exchange(other.owner_, false)) {}

SharedMemoryRegion& SharedMemoryRegion::operator=(SharedMemoryRegion&& other) noexcept {
  if (this != &other) {
    release();
    name_ = std::move(other.name_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = other.size_;
    owner_ = std::exchange(other.owner_, false);
  }
  return *this;
}

SharedMemoryRegion::~SharedMemoryRegion() { release(); }

void SharedMemoryRegion::release() noexcept {
  if (base_ != nullptr) ::munmap(base_, size_);
  if (owner_) ::shm_unlink(name_.c_str());
  base_ = nullptr;
  owner_ = false;
}

std::span<std::int16_t> SharedMemoryRegion::ring() const noexcept {
  const RegisterBlock regs(base_);
  const std::size_t samples = (std::size_t{1} << regs.read32(kRingFramesLog2)) * regs.read32(kAdcChannels);
  return {reinterpret_cast<std::int16_t*>(base_ + kRingOffsetBytes), samples};  // NOLINT: DMA ring memory
}

}  // namespace mpi::drivers
