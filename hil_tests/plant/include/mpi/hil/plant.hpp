// The hardware-in-the-loop plant: the acquisition board's logic and the physics of a 1D/2D/3D MPI scanner
// (or a relaxometer) behind the board's register map (drivers/include/mpi/drivers/register_map.hpp, whose
// header comment defines every register semantic implemented here), in a shared-memory region that the
// firmware opens through drivers::SharedMemoryBus. See hil_tests/plant/README.md for the full model.
//
// Time. ADC sample n sits at t_n = n / fs. The physics runs on a half-sample grid (points m = 2n at t_n,
// m = 2n + 1 at t_n + dt/2). The logic's state (registers, ramps, sequence step, faults) changes only at
// sample instants: a change applied at sample n acts from point 2n on.
//
// Drive chain of channel d (field along axis_d):
//   B_d(t) = tesla_per_full_scale_d * g_d(T) * clamp( sum_k E_k(t) sin(2 pi phase_k(t) + theta_d(T))
//            + E_awg(t) awg(phase_0(t) + theta_d / 2 pi) + E_dc(t), -DacLimit, +DacLimit )
// with phase_k from the exact 48-bit DDS arithmetic (exact on the half-sample grid), the AWG interpolated
// linearly, g_d(T) = 1 + gain_drift (T - T_ambient), theta_d(T) = amplifier_phase + phase_drift (T - T_ambient).
// E_k are the amplitudes the coil current actually carries: each follows its commanded value
//   x_k(t) = gate * ramp(t) * step_enable(t) * Amplitude_k / 65535 (AWG likewise, DC: gate * DcOffset / 32767,
//   gate = drive enabled and amplifier enabled and not dropped out)
// through a first-order lag of rl_time_constant (exact for input linear across each half sample), so that a
// change of amplitude, enable, ramp or amplifier state reaches the field smoothly: a dropped-out or disabled
// amplifier decays, it never cuts. In steady state E_k = x_k and B_d is the register map's out(t) shifted by
// the amplifier's (and the drift's) phase and scaled by the calibration. The DAC limit clamps the lagged
// output (kDriveClamped is set from the logic's own out(n) at sample instants).
// Coil temperature: first-order towards T_ambient + rise_at_limit * (amplitude / max_amplitude)^2 (amplitude^2
// = the sum of the squared component amplitudes, i.e. twice the mean square field), with the heating time
// constant when rising and the cooling one when falling, stepped every millisecond of sample time; sensors
// publish their coil's temperature. Offset channel o: field along its axis = code / 32767 *
// tesla_per_full_scale through a first-order lag of its rl_time_constant.
//
// Particles. B(t) = sum of drive and offset fields; mu_eq,mode(t) = ParticleSignalModel::equilibrium_moments;
// Debye per mode with DebyeStep on the half-sample grid. Receive channel c (integrate-and-dump):
//   u_c,n = -p_c e_c . (mu(t_n + dt/2) - mu(t_n - dt/2)) / dt - k_ft,c e_c . (B_D(t_n + dt/2) - B_D(t_n - dt/2)) / dt
// (B_D the drive field vector), then the analog fundamental notch (NotchFilter at the frequency of the drive
// channel with the largest |axis . e_c|, depth analog_suppression, bandwidth a tenth of that frequency),
// white noise (sigma = noise_density sqrt(fs / 2)), LNA gain and the ADC: code = round(u lna / full_scale
// 32767), clipped to int16 (overrange bits set), low (16 - adc_bits) bits cleared. Reference pickup of drive
// channel d (ADC channel receive_count + d): reference_v_per_t * B_d(t_n) through the same ADC.
//
// Speed. When the commanded fields are periodic and settled (no ramp running, lags within 1e-10 of their
// targets, temperatures' effect on gain and phase within 1e-4 of the cached values) the plant computes the
// pattern of N = lcm(component periods) samples once (the field and every mode's mu_eq at the 2N half-sample
// points) and replays it, running only Debye, projection, notch, noise and ADC per sample. It rebuilds when
// anything commanded changes, when an exact 48-bit phase drifts more than 1e-7 turn from the cached one, or
// when drift moves gain or phase beyond the tolerance. Decisions are taken only at sample instants fixed by
// the sample clock (millisecond boundaries, sequence steps, pattern repetitions, fault times), so the
// samples do not depend on how step() is chunked nor on the pace.
//
// Noise comes from a PRNG reseeded at every trigger from (seed, trigger count).
//
// Counter pattern (PlantOptions::counter_pattern): the board logic runs as always, but no physics: every ADC
// frame n (counted since the trigger) holds counter_pattern_sample(n, c, channels) in channel c, so that a
// receiver can check the index and order of every sample it gets.
#pragma once

#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/hil/counter_pattern.hpp"
#include "mpi/hil/dds.hpp"
#include "mpi/hil/faults.hpp"
#include "mpi/hil/field_trace.hpp"
#include "mpi/hil/gaussian_noise.hpp"
#include "mpi/hil/notch_filter.hpp"
#include "mpi/hil/plant_config.hpp"
#include "mpi/hil/ramp.hpp"
#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/relaxation.hpp"

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace mpi::hil {

struct PlantOptions {
  bool caching = true;                             // false: every sample on the direct path (tests)
  bool record = false;                             // keep the total field at t_n and each ADC input (tests)
  std::uint64_t max_pattern_samples = 1U << 18;    // longer patterns run the direct path
  bool counter_pattern = false;                    // ADC frames carry counter_pattern_sample() instead of physics
  // The board's watchdog belongs to an external surveillance unit that measures wall-clock time. A plant
  // paced at X samples of time per wall-clock time stretches WatchdogTimeoutSamples by X so that the
  // timeout stays the same in wall-clock time; 0 (an unpaced plant has no wall-clock relation) leaves the
  // watchdog unsimulated. Tests that step the plant themselves keep 1: the timeout counts samples.
  double watchdog_time_scale = 1.0;
  // Field trace (field_trace.hpp): off by default (one untaken branch per sample). Block length in samples,
  // 0 = one period of the lowest drive frequency (default_field_trace_block); at most field_trace_max_blocks
  // blocks over all acquisitions are kept.
  bool field_trace = false;
  std::uint32_t field_trace_block_samples = 0;
  std::size_t field_trace_max_blocks = FieldTrace::kDefaultMaxBlocks;
};

struct PlantStatistics {
  std::uint64_t pattern_builds = 0;
  std::uint64_t pattern_samples = 0;    // N of the present pattern (0 when none)
  std::uint64_t cached_samples = 0;     // samples generated from a pattern
  std::uint64_t direct_samples = 0;     // samples generated on the direct path
  double build_seconds = 0.0;           // CPU time of all pattern builds
};

class Plant {
 public:
  // `region_base`: a region laid out by drivers::SharedMemoryRegion::create(name, region_geometry(scanner)).
  // Throws std::runtime_error when its identification registers disagree with the scanner,
  // config::ConfigError for a fault naming an unknown channel, std::invalid_argument for a tracer or
  // phantom the model rejects.
  Plant(const PlantConfig& config, std::byte* region_base, PlantOptions options = {});
  ~Plant();
  Plant(const Plant&) = delete;
  Plant& operator=(const Plant&) = delete;

  // One tick of the logic: reads what the firmware wrote (applied at the present sample), then, while
  // acquisition runs, generates `max_frames` ADC frames (returns how many were written); while stopped it
  // advances idle time by `max_frames` sample periods (coil cooling, robot motion) and returns 0.
  std::uint64_t step(std::uint32_t max_frames);

  // Applies a fault now (at the present sample). Throws std::invalid_argument for an unknown channel,
  // coil or sensor name.
  void inject(const Fault& fault);

  [[nodiscard]] bool running() const noexcept { return running_; }
  [[nodiscard]] std::uint64_t sample_index() const noexcept { return phys_ - slip_; }  // frames since the trigger
  [[nodiscard]] std::uint64_t physics_sample() const noexcept { return phys_; }        // includes clock slips
  [[nodiscard]] std::uint64_t trigger_count() const noexcept { return triggers_; }
  [[nodiscard]] double sample_rate_hz() const noexcept { return fs_; }
  [[nodiscard]] const PlantConfig& config() const noexcept { return config_; }
  [[nodiscard]] const PlantOptions& options() const noexcept { return options_; }
  [[nodiscard]] const recon::ParticleSignalModel& model() const noexcept { return *model_; }
  [[nodiscard]] PlantStatistics statistics() const noexcept { return stats_; }
  [[nodiscard]] bool pattern_active() const noexcept { return cached_; }
  // With options.field_trace: the trace of the field applied so far (the open block of a running
  // acquisition is not in it yet); nullptr otherwise.
  [[nodiscard]] const FieldTrace* field_trace() const noexcept { return trace_.get(); }
  // Closes the open block of a running acquisition so that field_trace() holds every sample generated so
  // far (before writing the trace at exit); a later sample starts a new block.
  void close_field_trace_block() noexcept;
  // Temperature of a coil (drive channels first, then offset channels), in K.
  [[nodiscard]] double coil_temperature_k(std::size_t coil) const { return coil_temperature_k_.at(coil); }

  // With options.record: the total applied field at t_n and the ADC input (V, before quantisation) of
  // frame n of the present acquisition. Throws std::out_of_range for a frame not recorded.
  [[nodiscard]] std::uint64_t recorded_samples() const noexcept { return recorded_fields_.size(); }
  [[nodiscard]] Eigen::Vector3d total_field_t(std::uint64_t n) const { return recorded_fields_.at(n); }
  [[nodiscard]] double adc_input_v(std::uint64_t n, unsigned channel) const {
    return recorded_inputs_.at(n * channels_ + channel);
  }

 private:
  static constexpr unsigned kLags = drivers::regmap::kDdsComponents + 2;  // sines, AWG, DC
  static constexpr unsigned kAwgLag = drivers::regmap::kDdsComponents;
  static constexpr unsigned kDcLag = drivers::regmap::kDdsComponents + 1;
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

  struct DdsComponent {
    std::uint64_t increment = 0;
    std::uint64_t offset = 0;
    std::uint32_t amplitude = 0;
    bool operator==(const DdsComponent&) const = default;
  };
  struct Drive {
    // logic (registers)
    std::array<DdsComponent, drivers::regmap::kDdsComponents> dds{};
    bool enabled = false;
    bool amplifier = false;
    std::uint32_t dac_limit = drivers::regmap::kDacFullScale;
    std::int32_t dc = 0;
    std::uint32_t awg_points = 0;
    std::uint32_t awg_amplitude = 0;
    std::vector<std::int16_t> awg_codes;   // as written
    std::vector<double> awg;               // awg_points + 1 values in units of 1 (wraps)
    double awg_mean_square = 0.0;
    double awg_max_abs = 0.0;
    std::uint32_t ramp_samples = 1;
    Ramp ramp;
    std::uint32_t pending_ramp = 0;
    std::uint32_t status = 0;              // latched DriveStatus bits
    bool dropout = false;
    std::uint64_t dropout_end = kNever;    // physics sample
    // analog
    std::array<double, kLags> lag{};       // E
    std::array<double, kLags> target{};    // x at the last point
    double gain = 1.0;                     // g(T)
    double phase_rad = 0.0;                // theta(T)
    std::uint64_t theta49 = 0;             // theta in 2^-49 turn
    // constants
    double tesla_per_full_scale = 0.0;
    std::vector<double> distortion;        // amplifier harmonics 2, 3, ...: amplitude relative to the fundamental
    recon::DebyeStep lag_step{0.0, 1.0};
    Eigen::Vector3d axis = Eigen::Vector3d::UnitX();
  };
  struct Offset {
    std::int32_t static_value = 0;
    std::uint32_t dac_limit = drivers::regmap::kDacFullScale;
    std::int32_t step_value = 0;
    std::int32_t output = 0;               // DAC code output now
    double field_t = 0.0;                  // lagged field
    double target_t = 0.0;
    double last_target_t = 0.0;            // target at the previous point
    double tesla_per_full_scale = 0.0;
    recon::DebyeStep lag_step{0.0, 1.0};
    Eigen::Vector3d axis = Eigen::Vector3d::UnitX();
  };
  struct Receive {
    Eigen::Vector3d axis = Eigen::Vector3d::UnitX();
    double moment_to_v = 0.0;      // -p fs
    double field_to_v = 0.0;       // -k fs
    double noise_sigma_v = 0.0;
    double lna_gain = 1.0;
    NotchFilter notch;
    NotchFilter notch_template;
  };
  struct Pattern {
    std::uint64_t start = 0;       // physics sample of index 0
    std::uint64_t samples = 0;     // N
    std::uint64_t check_period = 0;  // a multiple of N: phases are checked at these repetitions
    std::vector<Eigen::Vector3d> eq;       // [2N][modes]
    std::vector<Eigen::Vector3d> drive;    // [2N]: drive field vector
    std::vector<Eigen::Vector3d> total;    // [N]: total field at t_n (recording only)
    std::vector<double> scalar;            // [N][drives]: B_d at t_n
    std::vector<std::array<std::uint64_t, drivers::regmap::kDdsComponents>> phases;  // [drive] at start (48 bit)
    std::vector<double> gain;
    std::vector<double> phase_rad;
    std::vector<std::uint8_t> clamps;      // [drive]: the logic's output clamps somewhere in the pattern
    std::vector<std::array<std::uint8_t, drivers::regmap::kDdsComponents>> active;  // [drive]: components in use
  };

  // registers
  void poll() noexcept;
  void poll_drive(unsigned d) noexcept;
  void publish() noexcept;
  void trigger() noexcept;
  void stop() noexcept;
  void apply_ramp(unsigned d, drivers::regmap::RampCommand command, std::uint64_t sample) noexcept;
  // events at sample instants
  void process_events(std::uint64_t p);
  [[nodiscard]] std::uint64_t next_event_after(std::uint64_t p) const noexcept;
  void enter_step(std::uint64_t p) noexcept;
  void apply_fault(const Fault& fault, std::uint64_t p);
  void update_temperatures(double seconds) noexcept;
  void update_drift(unsigned d) noexcept;
  void robot_arrive();
  [[nodiscard]] std::vector<recon::ParticleSource> robot_here() const;
  void set_sample_holder(bool sample_in);
  void idle(std::uint64_t samples);
  // physics
  void invalidate() noexcept;
  [[nodiscard]] bool settled() const noexcept;
  [[nodiscard]] bool pattern_length(std::uint64_t& samples) const noexcept;
  [[nodiscard]] bool pattern_phases_match(std::uint64_t p) const noexcept;
  void try_build(std::uint64_t p);
  void build_pattern(std::uint64_t p, std::uint64_t samples);
  void compute_targets(std::int64_t m) noexcept;
  void advance_lags(std::int64_t m) noexcept;
  void snap_lags() noexcept;
  void evaluate_point(std::int64_t m, Eigen::Vector3d* eq, Eigen::Vector3d& drive_vec, Eigen::Vector3d& total,
                      double* scalars) const noexcept;
  [[nodiscard]] double analog_output(const Drive& drive, std::int64_t m) const noexcept;
  // The power amplifier's harmonic distortion at half-sample m: per sine component k of the output,
  // sum_h a_h * E_k * sin(h * (phase_k + theta)), in units of full scale (0 for a clean amplifier).
  [[nodiscard]] double amplifier_harmonics(const Drive& drive, std::int64_t m) const noexcept;
  [[nodiscard]] bool logic_clamps(const Drive& drive, std::uint64_t n) const noexcept;
  [[nodiscard]] bool may_clamp(const Drive& drive, double ramp_factor) const noexcept;
  [[nodiscard]] double awg_at(const Drive& drive, std::uint64_t phase49) const noexcept;
  [[nodiscard]] std::uint64_t half_phase(const Drive& drive, unsigned k, std::int64_t m) const noexcept;
  void start_fresh() noexcept;
  void run_direct(std::uint64_t p, std::uint64_t count, bool write) noexcept;
  void run_cached(std::uint64_t p, std::uint64_t count, bool write) noexcept;
  void run_counter(std::uint64_t p, std::uint64_t count, bool write) noexcept;
  void emit(std::uint64_t p, const Eigen::Vector3d* eq_even, const Eigen::Vector3d* eq_odd, const Eigen::Vector3d& drive_odd,
            const double* scalars_even, const Eigen::Vector3d& total_even, bool write) noexcept;
  [[nodiscard]] std::int16_t adc(double volts, unsigned channel) noexcept;
  void trace_sample(std::uint64_t p, const double* scalars) noexcept;
  void close_trace_block(std::uint64_t last) noexcept;
  void set_sources(std::vector<recon::ParticleSource> sources);

  PlantConfig config_;
  PlantOptions options_;
  drivers::RegisterBlock regs_;
  std::byte* base_ = nullptr;
  std::int16_t* ring_ = nullptr;
  std::uint64_t ring_mask_ = 0;
  unsigned channels_ = 0;
  unsigned receive_count_ = 0;
  unsigned drive_count_ = 0;
  unsigned offset_count_ = 0;
  unsigned sensor_count_ = 0;
  double fs_ = 0.0;
  std::uint32_t decimation_ = 1;
  std::uint64_t samples_per_ms_ = 1;
  Eigen::Matrix3d gradient_ = Eigen::Matrix3d::Zero();
  bool zero_gradient_ = false;

  std::unique_ptr<recon::ParticleSignalModel> model_;
  std::size_t modes_ = 0;
  std::vector<recon::DebyeStep> debye_;
  SineTable sine_;
  GaussianNoise noise_;

  std::vector<Drive> drives_;
  std::vector<Offset> offsets_;
  std::vector<Receive> receives_;
  std::vector<std::size_t> sensor_coil_;   // sensor -> coil index
  std::vector<double> coil_temperature_k_; // drive coils, then offset coils
  double adc_codes_per_v_ = 0.0;
  std::int32_t adc_clear_mask_ = 0;
  std::vector<double> reference_v_per_t_;

  // acquisition
  bool running_ = false;
  std::uint64_t triggers_ = 0;
  std::uint64_t phys_ = 0;         // physics sample (next to generate)
  std::uint64_t slip_ = 0;         // samples the ADC lost (clock glitches)
  std::uint64_t glitch_pending_ = 0;
  std::uint64_t events_done_ = kNever;
  std::uint64_t s_sync_ = 0;
  bool step_enable_ = true;
  bool seq_active_ = false;
  std::uint64_t seq_step_samples_ = 1;
  std::uint64_t seq_lost_ = 0;
  std::uint64_t seq_first_lost_ = 0;
  std::uint64_t seq_index_ = 0;
  std::uint32_t adc_overrange_ = 0;

  // safety
  std::uint32_t latched_ = 0;      // kAmplifierFault, kAdcOverrangeAny, kWatchdogExpired, kClockUnlocked
  bool interlock_closed_ = true;
  bool instant_stop_ = false;
  bool over_temperature_ = false;
  std::uint32_t watchdog_kick_ = 0;
  std::uint32_t watchdog_timeout_register_ = 0;   // WatchdogTimeoutSamples as written
  std::uint64_t watchdog_timeout_ = 0;            // in samples, scaled by options_.watchdog_time_scale
  std::uint64_t last_kick_ = 0;
  std::uint32_t clock_slip_register_ = 0;

  // faults
  std::vector<Fault> schedule_;    // config faults sorted by time
  std::vector<std::uint64_t> schedule_sample_;
  std::size_t schedule_next_ = 0;
  std::vector<std::uint64_t> saturation_end_;  // per ADC channel, physics sample
  std::uint64_t stuck_end_ = 0;
  bool stuck_ = false;

  // temperatures and idle time
  std::uint64_t idle_samples_ = 0;
  std::uint64_t clock_ = 0;        // samples of plant time, running or idle
  std::uint64_t clock_at_trigger_ = 0;

  // sample holder: out removes every particle source, in puts the phantom's back (a robot's at its present
  // position); the robot moves on while the holder is out
  bool sample_in_ = true;
  std::vector<recon::ParticleSource> phantom_sources_;   // the phantom's sources as given to the model (not robot)

  // robot
  bool robot_ = false;
  std::uint32_t robot_positions_ = 0;
  std::uint32_t robot_position_ = 0;
  std::uint32_t robot_target_ = 0;
  std::uint64_t robot_arrival_clock_ = kNever;

  // per-sample state shared by both paths
  std::vector<Eigen::Vector3d> mu_prev_;   // Debye output at the previous odd point
  std::vector<Eigen::Vector3d> eq_prev_;   // mu_eq at the previous odd point
  Eigen::Vector3d drive_prev_ = Eigen::Vector3d::Zero();
  std::vector<Eigen::Vector3d> scratch_eq_;
  std::vector<double> scratch_scalar_;
  std::vector<std::int16_t> frame_;
  std::vector<double> inputs_;

  // pattern cache
  bool cached_ = false;
  bool try_build_ = false;
  Pattern pattern_;
  PlantStatistics stats_;

  std::unique_ptr<FieldTrace> trace_;

  std::vector<Eigen::Vector3d> recorded_fields_;
  std::vector<double> recorded_inputs_;
};

}  // namespace mpi::hil
