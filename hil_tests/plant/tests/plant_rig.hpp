// Test harness: a Plant on its own shared-memory region, driven through the firmware's drivers
// (SharedMemoryBus, DriveChannel, AdcRing), and independent evaluations of the physics for the checks.
#pragma once

#include "mpi/drivers/adc_ring.hpp"
#include "mpi/drivers/drive_channel.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/plant.hpp"
#include "mpi/hil/plant_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

namespace mpi::hil::test {

inline std::string unique_region_name() {
  static std::atomic<int> counter{0};
  return "/mpi_plant_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// A scanner like configs/scanner-1d.toml with a small ring, no noise and no feedthrough, and a plan with
// two monodisperse 30 nm point sources 3 mm apart.
inline PlantConfig quiet_config() {
  PlantConfig c;
  c.board = {125'000'000, 8, 2, 15, 1};
  c.tesla_per_full_scale = 0.020;
  c.gradient_t_per_m = 2.0;
  c.receive = {1.5e-3, 50.0, 1.0, 0.0, 0.0, 50.0};
  c.tracer.core_diameter_m = 30e-9;
  c.tracer.diameter_sigma = 0.0;
  c.tracer.saturation_magnetisation_a_per_m = 8e5;
  c.tracer.temperature_k = 293.15;
  c.phantom.points = {{-1.5e-3, 10e-9}, {1.5e-3, 10e-9}};
  c.seed = 1;
  return c;
}

struct PlantRig {
  explicit PlantRig(const PlantConfig& c)
      : config(c),
        region(drivers::SharedMemoryRegion::create(unique_region_name(), region_geometry(c))),
        plant(c, region.base()),
        bus(region.name()),
        drive(bus, 0),
        ring(bus) {}

  // Configures drive channel 0 like the firmware: DDS settings, enable.
  drivers::RealisedDrive configure(double frequency_hz, double amplitude_fs, double phase_rad, std::uint32_t ramp_samples) {
    drivers::RealisedDrive realised;
    const drivers::DriveSettings settings{frequency_hz, amplitude_fs, phase_rad, ramp_samples};
    EXPECT_EQ(drive.configure(settings, realised), drivers::ErrorCode::ok);
    drive.enable(true);
    return realised;
  }
  void start() { bus.write32(drivers::regmap::kAcqControl, drivers::regmap::kAcqRun); }
  void stop() { bus.write32(drivers::regmap::kAcqControl, 0); }
  // Steps until `frames` more frames are generated, in blocks of `block`.
  void run(std::uint64_t frames, std::uint32_t block) {
    std::uint64_t done = 0;
    while (done < frames) done += plant.step(static_cast<std::uint32_t>(std::min<std::uint64_t>(block, frames - done)));
  }
  std::vector<std::int16_t> read(std::uint64_t first, std::uint32_t count) const {
    std::vector<std::int16_t> out(std::size_t{count} * ring.channels());
    EXPECT_EQ(ring.read(first, count, out), drivers::ErrorCode::ok);
    return out;
  }

  PlantConfig config;
  drivers::SharedMemoryRegion region;
  Plant plant;
  drivers::SharedMemoryBus bus;
  drivers::DriveChannel drive;
  drivers::AdcRing ring;
};

// --- independent physics, in long double, straight from the formulas ---

// The register map's DDS formula at sample n, offset by `half` (+-0.5 or 0) samples.
inline long double dds_turns(std::uint64_t offset, std::uint64_t increment, std::uint32_t decimation, std::uint64_t n, long double half) {
  const std::uint64_t step = std::uint64_t{decimation} * increment;
  const std::uint64_t integer = (offset + (n * step)) & drivers::regmap::kPhaseMask;  // exact: no overflow in the tested ranges
  const long double two48 = std::ldexp(1.0L, 48);
  long double turns = (static_cast<long double>(integer) + half * static_cast<long double>(step)) / two48;
  return turns - std::floor(turns);
}

inline long double ramp_up_factor(long double t, long double ramp_samples) {
  return std::clamp(t / ramp_samples, 0.0L, 1.0L);
}

inline long double drive_field(const PlantConfig& c, const drivers::RealisedDrive& d, std::uint64_t n, long double half, long double ramp) {
  const long double turns = dds_turns(d.phase_offset, d.phase_increment, c.board.adc_decimation, n, half);
  return static_cast<long double>(c.tesla_per_full_scale) * d.amplitude_code / 65535.0L * ramp *
         std::sin(2.0L * std::numbers::pi_v<long double> * turns);
}

inline long double langevin_ld(long double x) {
  if (std::fabs(x) < 1e-4L) return x / 3.0L - x * x * x / 45.0L;
  return std::cosh(x) / std::sinh(x) - 1.0L / x;
}

// Particles in `iron_kg` of monodisperse magnetite-like cores (Tracer's density and iron fraction).
inline long double particles_of(const recon::Tracer& t, long double iron_kg) {
  const long double d = t.core_diameter_m;
  const long double volume = std::numbers::pi_v<long double> * d * d * d / 6.0L;
  return iron_kg / (volume * t.core_density_kg_per_m3 * t.iron_mass_fraction);
}

inline long double core_moment(const recon::Tracer& t) {
  const long double d = t.core_diameter_m;
  return t.saturation_magnetisation_a_per_m * std::numbers::pi_v<long double> * d * d * d / 6.0L;
}

inline long double kt_of(const recon::Tracer& t) { return 1.380649e-23L * t.temperature_k; }

inline std::int16_t code_of(long double codes) {
  return static_cast<std::int16_t>(std::clamp(std::round(codes), -32768.0L, 32767.0L));
}

}  // namespace mpi::hil::test
