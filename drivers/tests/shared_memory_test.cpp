// SharedMemoryRegion and SharedMemoryBus: the plant creates a region laid out as the register map, the
// firmware opens it by name and sees the same registers and ring; bad regions are refused by name.
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/drivers/shared_memory_region.hpp"

#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mpi::drivers {
namespace {

using ::testing::HasSubstr;

std::string unique_name() {
  static std::atomic<int> counter{0};
  return "mpi_drivers_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

RegionGeometry small_geometry() {
  RegionGeometry g;
  g.dac_clock_hz = 250'000'000;
  g.adc_decimation = 16;
  g.adc_channels = 3;
  g.ring_frames_log2 = 10;
  g.drive_channels = 2;
  return g;
}

// The message of the std::runtime_error that `f` throws; fails the test if it throws nothing.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no std::runtime_error thrown";
  return {};
}

// A bare POSIX shared-memory object, not made by SharedMemoryRegion; unlinked at scope end.
class RawShm {
 public:
  RawShm(const std::string& name, std::size_t bytes) : name_("/" + name) {
    const int fd = ::shm_open(name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) throw std::runtime_error("test: cannot create " + name_);
    const bool sized = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0;
    void* p = sized ? ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (p == MAP_FAILED) {
      ::shm_unlink(name_.c_str());
      throw std::runtime_error("test: cannot map " + name_);
    }
    base_ = static_cast<std::byte*>(p);
    bytes_ = bytes;
  }
  ~RawShm() {
    ::munmap(base_, bytes_);
    ::shm_unlink(name_.c_str());
  }
  RawShm(const RawShm&) = delete;
  RawShm& operator=(const RawShm&) = delete;
  [[nodiscard]] std::byte* base() const { return base_; }

 private:
  std::string name_;
  std::byte* base_ = nullptr;
  std::size_t bytes_ = 0;
};

TEST(SharedMemory, BusSeesTheIdentificationRegisters) {
  const std::string name = unique_name();
  const auto region = SharedMemoryRegion::create(name, small_geometry());
  EXPECT_EQ(region.name(), "/" + name);
  EXPECT_EQ(region.size(), regmap::kRegisterBlockBytes + 1024U * 3U * 2U);

  SharedMemoryBus bus(name);
  EXPECT_EQ(bus.read32(0x000), 0x4D504942U);  // "MPIB"
  EXPECT_EQ(bus.read32(regmap::kMagic), regmap::kMagicValue);
  EXPECT_EQ(bus.read32(regmap::kMapVersion), regmap::kMapVersionValue);
  EXPECT_EQ(bus.read32(regmap::kDacClockHz), 250'000'000U);
  EXPECT_EQ(bus.read32(regmap::kAdcDecimation), 16U);
  EXPECT_EQ(bus.read32(regmap::kAdcChannels), 3U);
  EXPECT_EQ(bus.read32(regmap::kRingFramesLog2), 10U);
  EXPECT_EQ(bus.read32(regmap::kDriveChannels), 2U);
  EXPECT_EQ(bus.read64(regmap::kWritePointer), 0U);
  EXPECT_EQ(bus.read32(regmap::kAcqControl), 0U);
  EXPECT_EQ(bus.ring().size(), 1024U * 3U);
}

TEST(SharedMemory, BothSidesShareRegistersAndRing) {
  const std::string name = unique_name();
  const auto region = SharedMemoryRegion::create(name, small_geometry());
  SharedMemoryBus bus(name);
  const RegisterBlock plant(region.base());

  bus.write32(regmap::kAcqControl, regmap::kAcqRun);
  EXPECT_EQ(plant.read32(regmap::kAcqControl), regmap::kAcqRun);
  plant.write64(regmap::kWritePointer, (std::uint64_t{1} << 40) + 7);
  EXPECT_EQ(bus.read64(regmap::kWritePointer), (std::uint64_t{1} << 40) + 7);

  region.ring()[0] = -32768;
  region.ring()[1024 * 3 - 1] = 12345;
  EXPECT_EQ(bus.ring()[0], -32768);
  EXPECT_EQ(bus.ring()[1024 * 3 - 1], 12345);
  // The ring starts right after the register block.
  EXPECT_EQ(reinterpret_cast<const std::byte*>(region.ring().data()), region.base() + regmap::kRingOffsetBytes);
}

TEST(SharedMemory, OpeningAMissingRegionSaysItDoesNotExist) {
  const std::string name = unique_name();
  const std::string message = error_of([&] { SharedMemoryBus bus(name); });
  EXPECT_THAT(message, HasSubstr("does not exist"));
  EXPECT_THAT(message, HasSubstr(name));
  EXPECT_THAT(error_of([&] { (void)SharedMemoryRegion::open(name); }), HasSubstr("does not exist"));
}

TEST(SharedMemory, CreatingAnExistingNameIsRefused) {
  const std::string name = unique_name();
  const auto region = SharedMemoryRegion::create(name, small_geometry());
  const std::string message = error_of([&] { (void)SharedMemoryRegion::create(name, small_geometry()); });
  EXPECT_THAT(message, HasSubstr(name));
  EXPECT_THAT(message, HasSubstr("cannot create"));
  // The first region is unharmed.
  SharedMemoryBus bus(name);
  EXPECT_EQ(bus.read32(regmap::kAdcChannels), 3U);
}

TEST(SharedMemory, RegionWithBadMagicIsRefused) {
  const std::string name = unique_name();
  const RawShm raw(name, regmap::shared_region_bytes(10, 2));  // all zeros: no magic
  const std::string message = error_of([&] { SharedMemoryBus bus(name); });
  EXPECT_THAT(message, HasSubstr("bad magic"));
  EXPECT_THAT(message, HasSubstr(name));
}

TEST(SharedMemory, RegionWithOverwrittenMagicIsRefused) {
  const std::string name = unique_name();
  const auto region = SharedMemoryRegion::create(name, small_geometry());
  RegisterBlock(region.base()).write32(regmap::kMagic, 0x4D504943U);
  EXPECT_THAT(error_of([&] { SharedMemoryBus bus(name); }), HasSubstr("bad magic"));
}

TEST(SharedMemory, RegionOfAnotherMapVersionIsRefused) {
  const std::string name = unique_name();
  const auto region = SharedMemoryRegion::create(name, small_geometry());
  RegisterBlock(region.base()).write32(regmap::kMapVersion, regmap::kMapVersionValue + 1);
  const std::string message = error_of([&] { SharedMemoryBus bus(name); });
  EXPECT_THAT(message, HasSubstr("version"));
  EXPECT_THAT(message, HasSubstr(std::to_string(regmap::kMapVersionValue + 1)));
}

TEST(SharedMemory, RegionTooSmallForItsRingIsRefused) {
  const std::string name = unique_name();
  const RawShm raw(name, regmap::kRegisterBlockBytes + 64);
  const RegisterBlock regs(raw.base());
  regs.write32(regmap::kMapVersion, regmap::kMapVersionValue);
  regs.write32(regmap::kAdcChannels, 2);
  regs.write32(regmap::kRingFramesLog2, 10);
  regs.write32(regmap::kMagic, regmap::kMagicValue);
  EXPECT_THAT(error_of([&] { SharedMemoryBus bus(name); }), HasSubstr("smaller than its ring geometry"));
}

TEST(SharedMemory, RegionTooSmallForTheRegisterMapIsRefused) {
  const std::string name = unique_name();
  const RawShm raw(name, 64);
  EXPECT_THAT(error_of([&] { SharedMemoryBus bus(name); }), HasSubstr("too small"));
}

TEST(SharedMemory, CreatorUnlinksOnDestruction) {
  const std::string name = unique_name();
  {
    const auto region = SharedMemoryRegion::create(name, small_geometry());
    { SharedMemoryBus opener(name); }  // an opener going away leaves the region in place
    SharedMemoryBus again(name);
    EXPECT_EQ(again.read32(regmap::kMagic), regmap::kMagicValue);
  }
  EXPECT_THAT(error_of([&] { SharedMemoryBus bus(name); }), HasSubstr("does not exist"));
}

TEST(SharedMemory, MovedRegionUnlinksOnce) {
  const std::string name = unique_name();
  {
    auto first = SharedMemoryRegion::create(name, small_geometry());
    {
      const SharedMemoryRegion moved(std::move(first));
      EXPECT_EQ(first.base(), nullptr);  // NOLINT: inspecting the moved-from state on purpose
      SharedMemoryBus bus(name);
      EXPECT_EQ(bus.read32(regmap::kDriveChannels), 2U);
    }
    EXPECT_THAT(error_of([&] { SharedMemoryBus bus(name); }), HasSubstr("does not exist"));
  }
}

TEST(SharedMemory, NameWithLeadingSlashIsTheSameRegion) {
  const std::string name = unique_name();
  const auto region = SharedMemoryRegion::create("/" + name, small_geometry());
  SharedMemoryBus bus(name);
  EXPECT_EQ(bus.read32(regmap::kMagic), regmap::kMagicValue);
}

TEST(SharedMemory, ImplausibleGeometryIsRefused) {
  const auto refused = [](RegionGeometry g) {
    const std::string name = unique_name();
    const std::string message = error_of([&] { (void)SharedMemoryRegion::create(name, g); });
    EXPECT_THAT(message, HasSubstr(name));
    EXPECT_THAT(error_of([&] { (void)SharedMemoryRegion::open(name); }), HasSubstr("does not exist"))
        << "a refused region must not be left behind";
    return message;
  };
  auto g = small_geometry();
  g.adc_channels = 0;
  EXPECT_THAT(refused(g), HasSubstr("ADC channel"));
  g = small_geometry();
  g.adc_channels = regmap::kMaxAdcChannels + 1;
  EXPECT_THAT(refused(g), HasSubstr("ADC channel"));
  g = small_geometry();
  g.drive_channels = 0;
  EXPECT_THAT(refused(g), HasSubstr("drive channel"));
  g = small_geometry();
  g.ring_frames_log2 = 9;
  EXPECT_THAT(refused(g), HasSubstr("ring size"));
  g = small_geometry();
  g.adc_decimation = 0;
  EXPECT_THAT(refused(g), HasSubstr("decimation"));
  g = small_geometry();
  g.offset_channels = regmap::kMaxOffsetChannels + 1;
  EXPECT_THAT(refused(g), HasSubstr("offset channel"));
  g = small_geometry();
  g.temperature_sensors = regmap::kMaxTemperatureSensors + 1;
  EXPECT_THAT(refused(g), HasSubstr("temperature sensor"));
  g = small_geometry();
  g.receive_channels = g.adc_channels + 1;
  EXPECT_THAT(refused(g), HasSubstr("receive channels"));
}

TEST(SharedMemory, ChannelCountsOfMapVersion2AreIdentified) {
  const std::string name = unique_name();
  auto g = small_geometry();
  g.offset_channels = 3;
  g.receive_channels = 1;
  g.temperature_sensors = 5;
  const auto region = SharedMemoryRegion::create(name, g);
  SharedMemoryBus bus(name);
  EXPECT_EQ(bus.read32(0x01C), 3U);  // kOffsetChannels
  EXPECT_EQ(bus.read32(0x020), 1U);  // kReceiveChannels: ADC channel 1 and 2 are the drives' reference pickups
  EXPECT_EQ(bus.read32(0x024), 5U);  // kTemperatureSensors
  EXPECT_EQ(bus.read32(regmap::kMapVersion), 2U);
}

}  // namespace
}  // namespace mpi::drivers
