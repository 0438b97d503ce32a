// Test harness: a Plant on its own shared-memory region, its registers written the way the firmware writes
// them, and independent evaluations of the register map's formulas for the checks.
#pragma once

#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/plant.hpp"
#include "mpi/hil/plant_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

namespace mpi::hil::test {

namespace rm = drivers::regmap;

inline std::string unique_region_name() {
  static std::atomic<int> counter{0};
  return "/mpi_plant_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// A small two-axis FFP scanner: 80 MHz DAC clock, decimation 32 (2.5 MS/s), drive x and y, one focus
// channel along x, receive coils along x and y, sensors on both drive coils. Periods of 2^k samples are
// exact in the 48-bit DDS (increment 2^43 / P).
inline config::ScannerDescription small_scanner() {
  config::ScannerDescription s;
  s.name = "test";
  s.board = {80'000'000, 32, 14};
  for (int d = 0; d < 2; ++d) {
    config::DriveChannelDescription ch;
    ch.name = d == 0 ? "x" : "y";
    ch.axis = d == 0 ? config::Vec3{1, 0, 0} : config::Vec3{0, 1, 0};
    ch.base_clock_hz = 2.5e6;
    ch.divider = d == 0 ? 128 : 64;
    ch.dac_full_scale_v = 1.0;
    ch.amplifier_gain_a_per_v = 10.0;
    ch.coil_sensitivity_t_per_a = 2e-3;  // 20 mT at full scale
    ch.amplifier_phase_rad = 0.0;
    ch.rl_time_constant_s = 20e-6;
    ch.max_amplitude_t = 16e-3;
    ch.reference_v_per_t = 40.0;
    ch.temperature_rise_at_limit_k = 20.0;
    ch.heating_time_constant_s = 0.05;
    ch.cooling_time_constant_s = 0.1;
    s.drive.push_back(ch);
  }
  s.selection.topology = config::Topology::ffp;
  s.selection.gradient_t_per_m = {config::Vec3{-1, 0, 0}, config::Vec3{0, -1, 0}, config::Vec3{0, 0, 2}};
  config::OffsetChannelDescription focus;
  focus.name = "focus_x";
  focus.axis = {1, 0, 0};
  focus.tesla_per_full_scale = 50e-3;
  focus.max_field_t = 40e-3;
  focus.rl_time_constant_s = 50e-6;
  s.offset.push_back(focus);
  s.receive.sample_rate_hz = 2.5e6;
  s.receive.adc_bits = 16;
  s.receive.adc_full_scale_v = 1.0;
  for (int c = 0; c < 2; ++c) {
    config::ReceiveChannelDescription rx;
    rx.name = c == 0 ? "rx_x" : "rx_y";
    rx.axis = c == 0 ? config::Vec3{1, 0, 0} : config::Vec3{0, 1, 0};
    rx.coil_sensitivity_t_per_a = 1.5e-3;
    rx.lna_gain = 100.0;
    s.receive.channels.push_back(rx);
  }
  s.temperature_sensors.push_back({"coil_x", "x", 333.15});
  s.temperature_sensors.push_back({"coil_y", "y", 333.15});
  s.safety.ambient_temperature_k = 295.15;
  return s;
}

inline config::TracerDescription single_core(double tau_s = 0.0) {
  config::TracerDescription t;
  t.name = "30 nm";
  t.temperature_k = 293.15;
  config::TracerModeDescription mode;
  mode.name = "cores";
  mode.core_diameter_m = 30e-9;
  mode.saturation_magnetisation_a_per_m = 8e5;
  if (tau_s > 0.0) {
    mode.relaxation = config::RelaxationModel::given;
    mode.tau_s = tau_s;
  }
  t.modes.push_back(mode);
  return t;
}

inline config::PhantomDescription points(std::vector<config::Vec3> positions, double iron_kg = 10e-9) {
  config::PhantomDescription p;
  p.name = "points";
  for (const auto& r : positions) p.points.push_back({r, iron_kg});
  return p;
}

inline PlantConfig small_config() {
  PlantConfig c;
  c.scanner = small_scanner();
  c.tracer = single_core();
  c.phantom = points({{0.5e-3, -0.3e-3, 0.0}, {-1e-3, 0.7e-3, 0.2e-3}});
  c.seed = 7;
  return c;
}

// 48-bit increment of a period of `period` samples at decimation 32 (exact for powers of two).
inline std::uint64_t increment_for_period(std::uint64_t period, std::uint32_t decimation = 32) {
  return (std::uint64_t{1} << 48) / (period * decimation);
}

struct PlantRig {
  explicit PlantRig(const PlantConfig& c, PlantOptions options = {.caching = true, .record = true})
      : config(c),
        region(drivers::SharedMemoryRegion::create(unique_region_name(), region_geometry(c.scanner))),
        regs(region.base()),
        plant(c, region.base(), options) {}

  // DDS component `k` of drive channel `d`, as the firmware writes it.
  void dds(unsigned d, unsigned k, std::uint64_t increment, std::uint32_t amplitude, std::uint64_t offset = 0) const {
    regs.write64(rm::dds_register(d, k, rm::kDdsPhaseIncrement), increment);
    regs.write64(rm::dds_register(d, k, rm::kDdsPhaseOffset), offset);
    regs.write32(rm::dds_register(d, k, rm::kDdsAmplitude), amplitude);
  }
  // Enables channel d and its amplifier, with a ramp of `ramp_samples` commanded up.
  void switch_on(unsigned d, std::uint32_t ramp_samples = 1, bool ramp_up = true) const {
    regs.write32(rm::drive_register(d, rm::kDriveRampSamples), ramp_samples);
    if (ramp_up) regs.write32(rm::drive_register(d, rm::kDriveRampCommand), static_cast<std::uint32_t>(rm::RampCommand::up));
    regs.write32(rm::drive_register(d, rm::kDriveAmplifierControl), rm::kAmplifierEnable);
    regs.write32(rm::drive_register(d, rm::kDriveControl), rm::kDriveEnable);
  }
  void ramp(unsigned d, rm::RampCommand command) const {
    regs.write32(rm::drive_register(d, rm::kDriveRampCommand), static_cast<std::uint32_t>(command));
  }
  void start() { regs.write32(rm::kAcqControl, rm::kAcqRun); }
  void stop() { regs.write32(rm::kAcqControl, 0); }
  // Steps until `frames` more frames are written, in blocks of `block`.
  void run(std::uint64_t frames, std::uint32_t block = 1000) {
    std::uint64_t done = 0;
    while (done < frames) done += plant.step(static_cast<std::uint32_t>(std::min<std::uint64_t>(block, frames - done)));
  }
  [[nodiscard]] std::int16_t sample(std::uint64_t n, unsigned channel) const {
    const std::uint64_t frames = std::uint64_t{1} << config.scanner.board.ring_frames_log2;
    const unsigned channels = config.scanner.adc_channels();
    return region.ring()[(n % frames) * channels + channel];
  }
  [[nodiscard]] std::uint32_t safety() const { return regs.read32(rm::kSafetyStatus); }

  PlantConfig config;
  drivers::SharedMemoryRegion region;
  drivers::RegisterBlock regs;
  Plant plant;
};

// --- independent formulas, in long double ---

inline long double turns_at(std::uint64_t offset, std::uint64_t increment, std::uint32_t decimation, long double t_samples) {
  const long double two48 = std::ldexp(1.0L, 48);
  const long double turns = (static_cast<long double>(offset) + t_samples * decimation * static_cast<long double>(increment)) / two48;
  return turns - std::floor(turns);
}

inline long double sine_of_turns(long double turns, long double extra_rad = 0.0L) {
  return std::sin(2.0L * std::numbers::pi_v<long double> * turns + extra_rad);
}

}  // namespace mpi::hil::test
