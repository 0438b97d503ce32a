#include "mpi/drivers/shared_memory_bus.hpp"

namespace mpi::drivers {

SharedMemoryBus::SharedMemoryBus(const std::string& region_name)
    : region_(SharedMemoryRegion::open(region_name)), block_(region_.base()) {}

}  // namespace mpi::drivers
