// What the hardware-in-the-loop plant takes as the physical truth of the simulated scanner: the scanner
// description (board, drive chains, selection field, offset channels, receive chain, sensors, safety), the
// tracer and the phantom in its bore, the noise seed and the scheduled faults.
#pragma once

#include "mpi/config/phantom_description.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/faults.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace mpi::hil {

struct PlantConfig {
  config::ScannerDescription scanner;
  config::TracerDescription tracer;
  config::PhantomDescription phantom;
  std::uint64_t seed = 1;
  std::vector<Fault> faults;  // scheduled, `at` counted from every trigger
};

// Loads the scanner, tracer and phantom files and, if given, a faults file. Throws config::ConfigError
// naming the file, the key and why (also for a fault naming a channel or sensor the scanner lacks).
PlantConfig load_plant_config(const std::filesystem::path& scanner_file, const std::filesystem::path& tracer_file,
                              const std::filesystem::path& phantom_file, std::uint64_t seed,
                              const std::filesystem::path& faults_file = {});

// The same from a scan plan (config::load_plan_simulation: tracer, phantom, seed, faults); a seed or a
// faults file given here replaces the plan's.
PlantConfig load_plant_config_from_plan(const std::filesystem::path& scanner_file, const std::filesystem::path& plan_file,
                                        std::optional<std::uint64_t> seed = std::nullopt,
                                        const std::filesystem::path& faults_file = {});

// Checks that every fault names channels and sensors the scanner has; `source` prefixes messages.
// Throws config::ConfigError.
void check_faults(const std::vector<Fault>& faults, const config::ScannerDescription& scanner, const std::string& source);

// The region geometry the scanner describes (for drivers::SharedMemoryRegion::create): ADC channels are the
// receive channels, then one reference pickup per drive channel.
drivers::RegionGeometry region_geometry(const config::ScannerDescription& scanner) noexcept;

}  // namespace mpi::hil
