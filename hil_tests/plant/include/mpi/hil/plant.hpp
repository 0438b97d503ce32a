// The hardware-in-the-loop plant: the acquisition board's logic and the physics of a 1D FFP scanner behind
// the board's register map (drivers/include/mpi/drivers/register_map.hpp), in a shared-memory region that
// the firmware opens through drivers::SharedMemoryBus.
//
// Each step() is one tick of the logic: it consumes what the firmware wrote (acquisition run bit, ramp
// commands, drive enable and DDS settings), then, while acquisition runs, generates ADC frames into the
// ring, publishing the write pointer (a release store) after each frame is written, so that a reader that
// sees the pointer at w knows that only the slot of frame w - ring_frames may be changing under it.
//
// Physics per ADC frame n, t_n = n / fs, dt = 1 / fs (drive channel 0 drives the x coil):
//   B_D(t)  = tesla_per_full_scale * Amplitude / 65535 * ramp(t) * sin(2 pi phase(t))   (0 when disabled)
//   mu(B_D) = sum_i n_i * mean_moment(G x_i + B_D)                                      (MomentTable)
//   channel 0 (receive coil, integrate-and-dump over [t_n - dt/2, t_n + dt/2]):
//     u_n = -p (mu(B_D(t_n + dt/2)) - mu(B_D(t_n - dt/2))) / dt
//           - k_ft (B_D(t_n + dt/2) - B_D(t_n - dt/2)) / dt + noise,  code = u_n * lna_gain / full scale
//   channel 1 (reference pickup): u = reference_v_per_t * B_D(t_n), code = u / full scale
//   further ADC channels read 0.
// The value at t_n - dt/2 is carried over from the previous sample, so settings written by the firmware take
// effect at a sample boundary. Noise comes from a PRNG reseeded at every trigger from (seed, trigger count),
// so the samples depend only on the commands and the sample index at which they arrive, not on the pace.
#pragma once

#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/dds.hpp"
#include "mpi/hil/gaussian_noise.hpp"
#include "mpi/hil/moment_table.hpp"
#include "mpi/hil/phantom.hpp"
#include "mpi/hil/plant_config.hpp"
#include "mpi/hil/ramp.hpp"
#include "mpi/recon/tracer.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mpi::hil {

// The region geometry the scanner file describes (for SharedMemoryRegion::create).
drivers::RegionGeometry region_geometry(const PlantConfig& config) noexcept;

class Plant {
 public:
  // `region_base` is a region laid out by drivers::SharedMemoryRegion::create with region_geometry(config);
  // throws std::runtime_error when its identification registers disagree with the config, and
  // std::invalid_argument for a tracer the model rejects.
  Plant(const PlantConfig& config, std::byte* region_base);
  Plant(const Plant&) = delete;
  Plant& operator=(const Plant&) = delete;

  // One tick of the logic; generates at most `max_frames` frames while acquisition runs.
  // Returns the number of frames generated.
  std::uint64_t step(std::uint32_t max_frames) noexcept;

  [[nodiscard]] bool running() const noexcept { return running_; }
  [[nodiscard]] std::uint64_t sample_index() const noexcept { return sample_; }  // frames since the trigger
  [[nodiscard]] std::uint64_t trigger_count() const noexcept { return triggers_; }
  [[nodiscard]] double sample_rate_hz() const noexcept { return sample_rate_hz_; }
  [[nodiscard]] const PlantConfig& config() const noexcept { return config_; }
  [[nodiscard]] const recon::ParticleEnsemble& ensemble() const noexcept { return ensemble_; }
  [[nodiscard]] const std::vector<ParticleSource>& sources() const noexcept { return sources_; }
  [[nodiscard]] const MomentTable& moment_table() const noexcept { return table_; }

 private:
  void trigger() noexcept;
  void stop() noexcept;
  void take_ramp_commands() noexcept;
  std::uint64_t generate(std::uint32_t max_frames) noexcept;
  template <bool kSettledRamp, bool kNoisy>
  void generate_frames(std::uint64_t first, std::uint32_t count, double scale, std::uint64_t phase_offset,
                       std::uint64_t phase_step_per_sample) noexcept;

  PlantConfig config_;
  drivers::RegisterBlock regs_;
  std::int16_t* ring_;
  std::uint64_t ring_mask_;
  std::uint32_t channels_;
  double sample_rate_hz_;

  recon::ParticleEnsemble ensemble_;
  std::vector<ParticleSource> sources_;
  MomentTable table_;
  SineTable sine_;

  // Scale factors from volts to ADC codes.
  double receive_codes_per_v_;
  double reference_codes_per_v_;
  double noise_sigma_v_;
  GaussianNoise noise_;

  std::array<Ramp, drivers::regmap::kMaxDriveChannels> ramps_{};
  std::array<std::uint32_t, drivers::regmap::kMaxDriveChannels> pending_{};  // ramp commands while stopped

  bool running_ = false;
  bool fresh_ = true;           // no field value carried over yet (just triggered)
  std::uint64_t sample_ = 0;    // next frame to generate
  std::uint64_t triggers_ = 0;
  double field_before_t_ = 0.0;   // B_D half a sample before sample_
  double moment_before_ = 0.0;    // mu(B_D) at the same time
};

}  // namespace mpi::hil
