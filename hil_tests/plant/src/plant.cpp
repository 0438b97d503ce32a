// The plant's board logic: registers, trigger and stop, sequence table, safety, watchdog, temperatures,
// faults and robot. The physics (fields, particles, receive chain, pattern cache) is in plant_physics.cpp.
#include "mpi/hil/plant.hpp"

#include "mpi/hil/scanner_model.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace mpi::hil {

using namespace drivers::regmap;

namespace {

// SafetyStatus bits that stay set until the firmware writes them to SafetyClear.
constexpr std::uint32_t kLatchable = kAmplifierFault | kAdcOverrangeAny | kWatchdogExpired | kClockUnlocked;
constexpr double kKelvinAtZeroCelsius = 273.15;
// Thermal drift of a drive chain's gain (relative) and phase (rad) that a cached pattern tolerates before it
// is rebuilt: 1e-4 of 12 mT is 1.2 uT, far below the drive-field control's 0.1 % accuracy (REFERENCE 4).
constexpr double kDriftTolerance = 1e-4;
// Thermal time constant of offset coils (the scanner file gives none): they only cool.
constexpr double kOffsetCoilCoolingS = 120.0;

void check_register(const drivers::RegisterBlock& regs, std::uint32_t offset, std::uint32_t expected, const char* name) {
  const std::uint32_t value = regs.read32(offset);
  if (value != expected) {
    throw std::runtime_error(std::string("the shared-memory region's ") + name + " register holds " + std::to_string(value) +
                             " but the scanner description needs " + std::to_string(expected));
  }
}

std::uint64_t to_samples(double seconds, double fs) noexcept {
  const double s = std::round(seconds * fs);
  return s <= 0.0 ? 0 : static_cast<std::uint64_t>(s);
}

}  // namespace

Plant::Plant(const PlantConfig& config, std::byte* region_base, PlantOptions options)
    : config_(config), options_(options), regs_(region_base), noise_(sine_) {
  const config::ScannerDescription& s = config_.scanner;
  if (s.drive.empty()) throw std::runtime_error("the scanner description has no drive channel");
  check_register(regs_, kMagic, kMagicValue, "Magic");
  check_register(regs_, kMapVersion, kMapVersionValue, "MapVersion");
  check_register(regs_, kDacClockHz, s.board.dac_clock_hz, "DacClockHz");
  check_register(regs_, kAdcDecimation, s.board.adc_decimation, "AdcDecimation");
  check_register(regs_, kDriveChannels, static_cast<std::uint32_t>(s.drive.size()), "DriveChannels");
  check_register(regs_, kOffsetChannels, static_cast<std::uint32_t>(s.offset.size()), "OffsetChannels");
  check_register(regs_, kReceiveChannels, static_cast<std::uint32_t>(s.receive.channels.size()), "ReceiveChannels");
  check_register(regs_, kTemperatureSensors, static_cast<std::uint32_t>(s.temperature_sensors.size()), "TemperatureSensors");
  channels_ = regs_.read32(kAdcChannels);
  if (channels_ < s.adc_channels() || channels_ > kMaxAdcChannels) {
    throw std::runtime_error("the shared-memory region has " + std::to_string(channels_) + " ADC channels, the scanner needs " +
                             std::to_string(s.adc_channels()));
  }
  base_ = region_base;
  ring_ = reinterpret_cast<std::int16_t*>(region_base + kRingOffsetBytes);  // NOLINT: DMA ring memory
  ring_mask_ = (std::uint64_t{1} << regs_.read32(kRingFramesLog2)) - 1U;
  receive_count_ = static_cast<unsigned>(s.receive.channels.size());
  drive_count_ = static_cast<unsigned>(s.drive.size());
  offset_count_ = static_cast<unsigned>(s.offset.size());
  sensor_count_ = static_cast<unsigned>(s.temperature_sensors.size());
  decimation_ = s.board.adc_decimation;
  fs_ = s.board.sample_rate_hz();
  samples_per_ms_ = std::max<std::uint64_t>(1, to_samples(1e-3, fs_));
  gradient_ = gradient_matrix(s.selection);
  zero_gradient_ = gradient_.cwiseAbs().maxCoeff() == 0.0;
  check_faults(config_.faults, s, "faults");

  const double half = 0.5 / fs_;
  const double ambient = s.safety.ambient_temperature_k;
  drives_.resize(drive_count_);
  for (unsigned d = 0; d < drive_count_; ++d) {
    Drive& dr = drives_[d];
    const auto& desc = s.drive[d];
    dr.tesla_per_full_scale = desc.tesla_per_full_scale();
    dr.distortion = desc.harmonic_distortion;
    dr.lag_step = recon::DebyeStep(desc.rl_time_constant_s, half);
    dr.axis = to_vector(desc.axis).normalized();
    dr.awg_codes.assign(kAwgMaxPoints, 0);
    dr.awg.assign(kAwgMaxPoints + 1, 0.0);
    regs_.write32(drive_register(d, kDriveDacLimit), static_cast<std::uint32_t>(kDacFullScale));  // reset value: no clamping
  }
  offsets_.resize(offset_count_);
  for (unsigned o = 0; o < offset_count_; ++o) {
    Offset& off = offsets_[o];
    const auto& desc = s.offset[o];
    off.tesla_per_full_scale = desc.tesla_per_full_scale;
    off.lag_step = recon::DebyeStep(desc.rl_time_constant_s, half);
    off.axis = to_vector(desc.axis).normalized();
    regs_.write32(offset_register(o, kOffsetDacLimit), static_cast<std::uint32_t>(kDacFullScale));
  }
  coil_temperature_k_.assign(drive_count_ + offset_count_, ambient);
  for (unsigned d = 0; d < drive_count_; ++d) update_drift(d);

  receives_.resize(receive_count_);
  for (unsigned c = 0; c < receive_count_; ++c) {
    const auto& desc = s.receive.channels[c];
    Receive& rc = receives_[c];
    rc.axis = to_vector(desc.axis).normalized();
    rc.moment_to_v = -desc.coil_sensitivity_t_per_a * fs_;
    rc.field_to_v = -desc.feedthrough_v_s_per_t * fs_;
    rc.noise_sigma_v = desc.noise_density_v_per_sqrt_hz * std::sqrt(fs_ / 2.0);
    rc.lna_gain = desc.lna_gain;
    // The notch sits at the frequency of the drive channel most aligned with this coil.
    unsigned best = 0;
    for (unsigned d = 1; d < drive_count_; ++d) {
      if (std::abs(drives_[d].axis.dot(rc.axis)) > std::abs(drives_[best].axis.dot(rc.axis))) best = d;
    }
    const double f0 = s.drive[best].frequency_hz();
    rc.notch_template = NotchFilter(f0, 0.1 * f0, desc.fundamental_suppression_db, fs_);
    rc.notch = rc.notch_template;
  }
  adc_codes_per_v_ = kDacFullScale / s.receive.adc_full_scale_v;
  adc_clear_mask_ = ~((std::int32_t{1} << (16U - std::clamp<std::uint32_t>(s.receive.adc_bits, 1, 16))) - 1);
  for (const auto& desc : s.drive) reference_v_per_t_.push_back(desc.reference_v_per_t);

  for (const auto& sensor : s.temperature_sensors) {
    std::size_t coil = coil_temperature_k_.size();
    for (unsigned d = 0; d < drive_count_; ++d) {
      if (s.drive[d].name == sensor.coil) coil = d;
    }
    for (unsigned o = 0; o < offset_count_; ++o) {
      if (s.offset[o].name == sensor.coil) coil = drive_count_ + o;
    }
    if (coil == coil_temperature_k_.size()) throw std::runtime_error("temperature sensor '" + sensor.name + "' is on an unknown coil '" + sensor.coil + "'");
    sensor_coil_.push_back(coil);
  }

  // Particles.
  const recon::TracerModel tracer = tracer_model(config_.tracer);
  std::vector<recon::ParticleSource> sources;
  double max_position_field = 0.0;
  const double gradient_norm = gradient_.norm();  // Frobenius norm bounds |G r| / |r|
  if (config_.phantom.robot) {
    const auto& robot = *config_.phantom.robot;
    robot_ = true;
    robot_positions_ = robot_positions(robot);
    sources = robot_sources(robot, config_.phantom.voxel_size_m, 0);
    const Eigen::Vector3d reach = to_vector(robot.centre_m).cwiseAbs() + 0.5 * to_vector(robot.fov_m).cwiseAbs();
    max_position_field = gradient_norm * (reach.norm() + robot.sample_edge_m);
  } else {
    sources = phantom_sources(config_.phantom);
  }
  for (const auto& src : sources) max_position_field = std::max(max_position_field, (gradient_ * src.position_m).norm());
  double max_field = max_position_field;
  for (const Drive& dr : drives_) {
    double harmonics = 0.0;  // the amplifier's harmonics add at most this fraction of each component
    for (double a : dr.distortion) harmonics += a;
    max_field += 1.2 * dr.tesla_per_full_scale * (1.0 + harmonics);
  }
  for (const Offset& off : offsets_) max_field += off.tesla_per_full_scale;
  model_ = std::make_unique<recon::ParticleSignalModel>(tracer, std::vector<recon::ParticleSource>{}, gradient_, max_field);
  set_sources(std::move(sources));
  if (!robot_) phantom_sources_ = model_->sources();
  modes_ = model_->modes();
  for (std::size_t i = 0; i < modes_; ++i) debye_.emplace_back(model_->tau_s(i), half);
  mu_prev_.assign(modes_, Eigen::Vector3d::Zero());
  eq_prev_.assign(modes_, Eigen::Vector3d::Zero());
  scratch_eq_.assign(2 * modes_, Eigen::Vector3d::Zero());
  scratch_scalar_.assign(2 * static_cast<std::size_t>(drive_count_), 0.0);
  frame_.assign(channels_, 0);
  inputs_.assign(channels_, 0.0);
  saturation_end_.assign(channels_, 0);

  // Scheduled faults, in time order.
  schedule_ = config_.faults;
  std::stable_sort(schedule_.begin(), schedule_.end(), [](const Fault& a, const Fault& b) { return a.at_s < b.at_s; });
  for (const Fault& f : schedule_) schedule_sample_.push_back(to_samples(f.at_s, fs_));

  if (options_.field_trace) {
    FieldTraceHeader header;
    header.scanner = s.name;
    header.sample_rate_hz = fs_;
    std::vector<double> frequencies;
    for (const auto& desc : s.drive) {
      header.drive_names.push_back(desc.name);
      frequencies.push_back(desc.frequency_hz());
    }
    for (const auto& desc : s.offset) header.offset_names.push_back(desc.name);
    header.block_samples = options_.field_trace_block_samples != 0 ? options_.field_trace_block_samples
                                                                   : default_field_trace_block(fs_, frequencies);
    trace_ = std::make_unique<FieldTrace>(std::move(header), options_.field_trace_max_blocks);
  }

  interlock_closed_ = s.safety.interlock_closed_at_start;
  publish();
}

Plant::~Plant() = default;

void Plant::set_sources(std::vector<recon::ParticleSource> sources) {
  if (zero_gradient_ && sources.size() > 1) {
    // Without a gradient every source sees the same field: one source carries all the iron exactly.
    recon::ParticleSource all;
    for (const auto& src : sources) all.iron_kg += src.iron_kg;
    sources.assign(1, all);
  }
  model_->set_sources(std::move(sources));
}

// --- registers ---

std::uint64_t Plant::step(std::uint32_t max_frames) {
  poll();
  if (!running_) {
    idle(max_frames);
    publish();
    return 0;
  }
  std::uint64_t written = 0;
  while (written < max_frames || glitch_pending_ > 0) {
    const std::uint64_t p = phys_;
    if (events_done_ != p) {
      events_done_ = p;
      process_events(p);
    }
    std::uint64_t segment = next_event_after(p) - p;
    const bool discard = glitch_pending_ > 0;
    segment = std::min(segment, discard ? glitch_pending_ : max_frames - written);
    if (options_.counter_pattern) run_counter(p, segment, !discard);
    else if (cached_) run_cached(p, segment, !discard);
    else run_direct(p, segment, !discard);
    clock_ += segment;
    if (discard) glitch_pending_ -= segment;
    else written += segment;
  }
  publish();
  return written;
}

void Plant::poll() noexcept {
  const bool run = (regs_.read32(kAcqControl) & kAcqRun) != 0;  // first: what the firmware wrote before run is seen
  for (unsigned d = 0; d < drive_count_; ++d) poll_drive(d);
  for (unsigned o = 0; o < offset_count_; ++o) {
    Offset& off = offsets_[o];
    const auto value = static_cast<std::int32_t>(regs_.read32(offset_register(o, kOffsetStaticValue)));
    const std::uint32_t limit = std::min<std::uint32_t>(regs_.read32(offset_register(o, kOffsetDacLimit)), kDacFullScale);
    if (value != off.static_value || limit != off.dac_limit) {
      off.static_value = value;
      off.dac_limit = limit;
      const std::int32_t lim = static_cast<std::int32_t>(limit);
      off.output = std::clamp(seq_active_ && running_ ? off.step_value : off.static_value, -lim, lim);
      const double target = off.output / static_cast<double>(kDacFullScale) * off.tesla_per_full_scale;
      if (target != off.target_t) {
        off.target_t = target;
        invalidate();
      }
    }
  }
  const std::uint32_t clear = regs_.take32(kSafetyClear);
  if (clear != 0) {
    latched_ &= ~(clear & kLatchable);
    if ((clear & kWatchdogExpired) != 0) last_kick_ = phys_;
  }
  const std::uint32_t kick = regs_.read32(kWatchdogKick);
  const std::uint32_t timeout = regs_.read32(kWatchdogTimeoutSamples);
  if (kick != watchdog_kick_ || timeout != watchdog_timeout_register_) {
    watchdog_kick_ = kick;
    watchdog_timeout_register_ = timeout;
    watchdog_timeout_ = static_cast<std::uint64_t>(std::llround(static_cast<double>(timeout) * options_.watchdog_time_scale));
    last_kick_ = phys_;
  }
  if (robot_) {
    const std::uint32_t target = regs_.read32(kRobotTarget);
    if (target != robot_target_ && (target < robot_positions_ || target == kRobotPark)) {
      robot_target_ = target;
      if (target == robot_position_) {
        robot_arrival_clock_ = kNever;
      } else {
        const auto& grid = config_.phantom.robot->grid;
        std::uint32_t steps = 0;
        if (target == kRobotPark || robot_position_ == kRobotPark) {
          // To or from the park position out of the bore: as long as the longest way across the grid.
          steps = std::max({grid[0], grid[1], grid[2]});
        } else {
          std::uint32_t a = robot_position_;
          std::uint32_t b = target;
          for (unsigned axis = 0; axis < 3; ++axis) {
            const std::uint32_t ia = a % grid[axis];
            const std::uint32_t ib = b % grid[axis];
            steps = std::max(steps, ia > ib ? ia - ib : ib - ia);
            a /= grid[axis];
            b /= grid[axis];
          }
        }
        robot_arrival_clock_ = clock_ + std::max<std::uint64_t>(1, to_samples(steps * config_.phantom.robot->move_time_s, fs_));
      }
    }
  }
  if (run && !running_) trigger();
  else if (!run && running_) stop();
}

void Plant::poll_drive(unsigned d) noexcept {
  Drive& dr = drives_[d];
  bool changed = false;
  const auto update = [&changed](auto& field, auto value) {
    if (field != value) {
      field = value;
      changed = true;
    }
  };
  update(dr.enabled, (regs_.read32(drive_register(d, kDriveControl)) & kDriveEnable) != 0);
  const bool amplifier = (regs_.read32(drive_register(d, kDriveAmplifierControl)) & kAmplifierEnable) != 0;
  if (!amplifier && dr.dropout && dr.dropout_end == kNever) dr.dropout = false;  // cycling the amplifier recovers it
  update(dr.amplifier, amplifier);
  for (unsigned k = 0; k < kDdsComponents; ++k) {
    DdsComponent c;
    c.increment = regs_.read64(dds_register(d, k, kDdsPhaseIncrement)) & kPhaseMask;
    c.offset = regs_.read64(dds_register(d, k, kDdsPhaseOffset)) & kPhaseMask;
    c.amplitude = std::min(regs_.read32(dds_register(d, k, kDdsAmplitude)), kAmplitudeFullScale);
    update(dr.dds[k], c);
  }
  update(dr.dc, static_cast<std::int32_t>(regs_.read32(drive_register(d, kDriveDcOffset))));
  update(dr.dac_limit, std::min<std::uint32_t>(regs_.read32(drive_register(d, kDriveDacLimit)), kDacFullScale));
  dr.ramp_samples = std::max<std::uint32_t>(1, regs_.read32(drive_register(d, kDriveRampSamples)));
  update(dr.awg_amplitude, std::min(regs_.read32(drive_register(d, kDriveAwgAmplitude)), kAmplitudeFullScale));
  const std::uint32_t points = std::min<std::uint32_t>(regs_.read32(drive_register(d, kDriveAwgPoints)), kAwgMaxPoints);
  bool awg_changed = points != dr.awg_points;
  for (std::uint32_t pair = 0; pair < (points + 1) / 2; ++pair) {
    const std::uint32_t word = regs_.read32(awg_word(d, pair));
    const auto lo = static_cast<std::int16_t>(word & 0xFFFFU);
    const auto hi = static_cast<std::int16_t>(word >> 16);
    if (dr.awg_codes[2 * pair] != lo) {
      dr.awg_codes[2 * pair] = lo;
      awg_changed = true;
    }
    if (2 * pair + 1 < points && dr.awg_codes[2 * pair + 1] != hi) {
      dr.awg_codes[2 * pair + 1] = hi;
      awg_changed = true;
    }
  }
  if (awg_changed) {
    dr.awg_points = points;
    double sum = 0.0;
    double peak = 0.0;
    for (std::uint32_t i = 0; i < points; ++i) {
      const double v = dr.awg_codes[i] / static_cast<double>(kDacFullScale);
      dr.awg[i] = v;
      sum += v * v;
      peak = std::max(peak, std::abs(v));
    }
    if (points > 0) dr.awg[points] = dr.awg[0];
    dr.awg_mean_square = points > 0 ? sum / points : 0.0;
    dr.awg_max_abs = peak;
    changed = true;
  }
  const std::uint32_t command = regs_.take32(drive_register(d, kDriveRampCommand));
  if (command == static_cast<std::uint32_t>(RampCommand::up) || command == static_cast<std::uint32_t>(RampCommand::down)) {
    if (running_) apply_ramp(d, static_cast<RampCommand>(command), phys_);
    else dr.pending_ramp = command;
  }
  dr.status &= ~regs_.take32(drive_register(d, kDriveStatusClear));  // the firmware cleared these
  if (changed) invalidate();
}

void Plant::apply_ramp(unsigned d, RampCommand command, std::uint64_t sample) noexcept {
  Drive& dr = drives_[d];
  dr.ramp.apply(command, sample, dr.ramp_samples);
  regs_.write64(drive_register(d, kDriveRampEventSample), sample - std::min(sample, slip_));
  invalidate();
}

void Plant::publish() noexcept {
  const std::uint64_t counter = phys_ - slip_;
  regs_.write32(kAcqStatus, running_ ? kAcqRunning : 0U);
  regs_.write32(kAdcOverrange, adc_overrange_);
  std::uint32_t safety = latched_;
  if (interlock_closed_) safety |= kInterlockClosed;
  if (instant_stop_) safety |= kInstantStop;
  if (over_temperature_) safety |= kOverTemperature;
  regs_.write32(kSafetyStatus, safety);
  regs_.write32(kClockSlipSamples, clock_slip_register_);
  for (unsigned d = 0; d < drive_count_; ++d) {
    Drive& dr = drives_[d];
    const double factor = dr.ramp.factor(running_ ? static_cast<double>(phys_) : 0.0);  // frozen while stopped
    regs_.write32(drive_register(d, kDriveRampFactor), static_cast<std::uint32_t>(std::lround(factor * kRampFactorOne)));
    regs_.write32(drive_register(d, kDriveStatus), dr.status);
  }
  for (unsigned o = 0; o < offset_count_; ++o) regs_.write32(offset_register(o, kOffsetOutput), static_cast<std::uint32_t>(offsets_[o].output));
  regs_.write64(kSeqReadIndex, seq_index_);
  regs_.write64(kSeqFirstLostSample, seq_first_lost_);
  regs_.write32(kSeqLostSteps, static_cast<std::uint32_t>(std::min<std::uint64_t>(seq_lost_, 0xFFFFFFFFU)));
  for (unsigned i = 0; i < sensor_count_; ++i) {
    const double celsius = coil_temperature_k_[sensor_coil_[i]] - kKelvinAtZeroCelsius;
    regs_.write32(temperature_register(i), static_cast<std::uint32_t>(static_cast<std::int32_t>(std::lround(celsius * 1000.0))));
  }
  regs_.write32(kRobotPosition, robot_position_);
  regs_.write32(kRobotStatus, robot_arrival_clock_ != kNever ? kRobotMoving : 0U);
  if (!stuck_ && running_) regs_.write64(kWritePointer, counter);
}

void Plant::trigger() noexcept {
  running_ = true;
  ++triggers_;
  phys_ = 0;
  slip_ = 0;
  glitch_pending_ = 0;
  events_done_ = kNever;
  s_sync_ = 0;
  clock_at_trigger_ = clock_;
  regs_.write64(kWritePointer, 0);
  adc_overrange_ = 0;
  clock_slip_register_ = 0;
  noise_.seed(config_.seed, triggers_);
  for (Receive& rc : receives_) rc.notch = rc.notch_template;
  seq_active_ = (regs_.read32(kSeqControl) & kSeqEnable) != 0;
  seq_step_samples_ = std::max<std::uint32_t>(1, regs_.read32(kSeqStepSamples));
  seq_lost_ = 0;
  seq_first_lost_ = 0;
  seq_index_ = 0;
  step_enable_ = true;
  for (unsigned d = 0; d < drive_count_; ++d) {
    Drive& dr = drives_[d];
    if (dr.dropout && dr.dropout_end != kNever) dr.dropout = false;
    dr.dropout_end = dr.dropout ? kNever : dr.dropout_end;
    if (dr.pending_ramp != 0) {
      apply_ramp(d, static_cast<RampCommand>(dr.pending_ramp), 0);
      dr.pending_ramp = 0;
    }
  }
  std::fill(saturation_end_.begin(), saturation_end_.end(), 0);
  stuck_ = false;
  schedule_next_ = 0;
  last_kick_ = 0;
  cached_ = false;
  try_build_ = false;
  recorded_fields_.clear();
  recorded_inputs_.clear();
  if (trace_) trace_->begin_scan(triggers_);
  start_fresh();
}

void Plant::stop() noexcept {
  running_ = false;
  if (trace_ && phys_ > 0) close_trace_block(phys_ - 1);  // the partial last block, before the ramps freeze
  for (Drive& dr : drives_) dr.ramp.stop_at(phys_);
  cached_ = false;
}

// --- events at sample instants ---

void Plant::process_events(std::uint64_t p) {
  if (seq_active_ && p % seq_step_samples_ == 0) enter_step(p);
  while (schedule_next_ < schedule_.size() && schedule_sample_[schedule_next_] <= p) apply_fault(schedule_[schedule_next_++], p);
  for (Drive& dr : drives_) {
    if (dr.dropout && dr.dropout_end <= p) {
      dr.dropout = false;
      dr.dropout_end = kNever;
      invalidate();
    }
  }
  if (stuck_ && stuck_end_ <= p) stuck_ = false;  // the pointer jumps with the next frame
  if (watchdog_timeout_ > 0 && (latched_ & kWatchdogExpired) == 0 && p >= last_kick_ + watchdog_timeout_) {
    latched_ |= kWatchdogExpired;
    for (unsigned d = 0; d < drive_count_; ++d) apply_ramp(d, RampCommand::down, p);
  }
  if (robot_arrival_clock_ != kNever && clock_at_trigger_ + p >= robot_arrival_clock_) robot_arrive();
  if (p % samples_per_ms_ == 0) {
    if (p > 0) update_temperatures(static_cast<double>(samples_per_ms_) / fs_);
    try_build_ = true;
  }
  if (cached_ && p != pattern_.start && (p - pattern_.start) % pattern_.check_period == 0 && !pattern_phases_match(p)) {
    invalidate();
    try_build_ = true;
  }
  if (try_build_) {
    try_build_ = false;
    try_build(p);
  }
}

std::uint64_t Plant::next_event_after(std::uint64_t p) const noexcept {
  std::uint64_t next = (p / samples_per_ms_ + 1) * samples_per_ms_;
  const auto consider = [&next, p](std::uint64_t at) {
    if (at > p && at < next) next = at;
  };
  if (seq_active_) consider((p / seq_step_samples_ + 1) * seq_step_samples_);
  if (schedule_next_ < schedule_.size()) consider(std::max(schedule_sample_[schedule_next_], p + 1));
  for (const Drive& dr : drives_) {
    if (dr.dropout && dr.dropout_end != kNever) consider(std::max(dr.dropout_end, p + 1));
  }
  if (stuck_) consider(std::max(stuck_end_, p + 1));
  if (watchdog_timeout_ > 0 && (latched_ & kWatchdogExpired) == 0) consider(std::max(last_kick_ + watchdog_timeout_, p + 1));
  if (robot_arrival_clock_ != kNever) consider(std::max(robot_arrival_clock_ - std::min(robot_arrival_clock_, clock_at_trigger_), p + 1));
  if (cached_) consider(pattern_.start + ((p - pattern_.start) / pattern_.check_period + 1) * pattern_.check_period);
  return next;
}

void Plant::enter_step(std::uint64_t p) noexcept {
  const std::uint64_t k = p / seq_step_samples_;
  seq_index_ = k;
  if (k >= regs_.read64(kSeqWriteCount)) {
    // Lost: the outputs hold their previous values.
    if (seq_lost_ == 0) seq_first_lost_ = p - std::min(p, slip_);
    ++seq_lost_;
    return;
  }
  const auto slot = static_cast<unsigned>(k % kSeqSlots);
  const std::uint32_t flags = regs_.read32(seq_slot_register(slot, kStepFlags));
  const bool enable = (flags & kStepEnable) != 0;
  if (enable != step_enable_) {
    step_enable_ = enable;
    invalidate();
  }
  for (unsigned o = 0; o < offset_count_; ++o) {
    Offset& off = offsets_[o];
    off.step_value = static_cast<std::int32_t>(regs_.read32(seq_value_register(slot, o)));
    const auto lim = static_cast<std::int32_t>(off.dac_limit);
    off.output = std::clamp(off.step_value, -lim, lim);
    const double target = off.output / static_cast<double>(kDacFullScale) * off.tesla_per_full_scale;
    if (target != off.target_t) {
      off.target_t = target;
      invalidate();
    }
  }
  if ((flags & kStepResync) != 0) {
    s_sync_ = p;
    if (cached_ && !pattern_phases_match(p)) invalidate();
  }
}

void Plant::update_drift(unsigned d) noexcept {
  Drive& dr = drives_[d];
  const auto& desc = config_.scanner.drive[d];
  const double rise = coil_temperature_k_[d] - config_.scanner.safety.ambient_temperature_k;
  dr.gain = 1.0 + desc.gain_drift_per_k * rise;
  dr.phase_rad = desc.amplifier_phase_rad + desc.phase_drift_rad_per_k * rise;
  double turns = dr.phase_rad / (2.0 * std::numbers::pi);
  turns -= std::floor(turns);
  dr.theta49 = static_cast<std::uint64_t>(std::llround(std::ldexp(turns, kHalfPhaseBits))) & kHalfPhaseMask;
  if (cached_ && (std::abs(dr.gain - pattern_.gain[d]) > kDriftTolerance || std::abs(dr.phase_rad - pattern_.phase_rad[d]) > kDriftTolerance)) {
    invalidate();
    try_build_ = true;
  }
}

void Plant::update_temperatures(double seconds) noexcept {
  const auto& s = config_.scanner;
  const double ambient = s.safety.ambient_temperature_k;
  for (unsigned d = 0; d < drive_count_; ++d) {
    const Drive& dr = drives_[d];
    const auto& desc = s.drive[d];
    double square = 0.0;
    if (running_) {
      for (unsigned k = 0; k < kDdsComponents; ++k) square += dr.lag[k] * dr.lag[k];
      square += 2.0 * dr.awg_mean_square * dr.lag[kAwgLag] * dr.lag[kAwgLag] + 2.0 * dr.lag[kDcLag] * dr.lag[kDcLag];
    }
    const double ratio = dr.tesla_per_full_scale / desc.max_amplitude_t;
    const double target = ambient + desc.temperature_rise_at_limit_k * ratio * ratio * square;
    double& t = coil_temperature_k_[d];
    const double tau = target > t ? desc.heating_time_constant_s : desc.cooling_time_constant_s;
    t = target + (t - target) * std::exp(-seconds / tau);
    update_drift(d);
  }
  for (unsigned o = 0; o < offset_count_; ++o) {
    double& t = coil_temperature_k_[drive_count_ + o];
    t = ambient + (t - ambient) * std::exp(-seconds / kOffsetCoilCoolingS);
  }
  over_temperature_ = false;
  for (unsigned i = 0; i < sensor_count_; ++i) {
    if (coil_temperature_k_[sensor_coil_[i]] > s.temperature_sensors[i].limit_k) over_temperature_ = true;
  }
}

void Plant::idle(std::uint64_t samples) {
  clock_ += samples;
  idle_samples_ += samples;
  const std::uint64_t steps = idle_samples_ / samples_per_ms_;
  idle_samples_ %= samples_per_ms_;
  // Cooling while stopped: at most one update per call of 100 ms steps beyond the first second.
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(steps, 1000); ++i) update_temperatures(static_cast<double>(samples_per_ms_) / fs_);
  if (steps > 1000) update_temperatures(static_cast<double>((steps - 1000) * samples_per_ms_) / fs_);
  if (robot_arrival_clock_ != kNever && clock_ >= robot_arrival_clock_) robot_arrive();
}

void Plant::robot_arrive() {
  robot_position_ = robot_target_;
  robot_arrival_clock_ = kNever;
  if (!sample_in_) return;  // the holder is empty: the robot carries no sample
  set_sources(robot_here());
  invalidate();
}

// The robot's sample where the robot is; none when parked (out of the bore, far beyond the FOV and the
// receive coils: no signal).
std::vector<recon::ParticleSource> Plant::robot_here() const {
  if (robot_position_ == kRobotPark) return {};
  return robot_sources(*config_.phantom.robot, config_.phantom.voxel_size_m, robot_position_);
}

void Plant::set_sample_holder(bool sample_in) {
  if (sample_in == sample_in_) return;
  sample_in_ = sample_in;
  if (!sample_in) set_sources({});
  else if (robot_) set_sources(robot_here());
  else set_sources(phantom_sources_);
  invalidate();
}

// --- faults ---

void Plant::apply_fault(const Fault& f, std::uint64_t p) {
  const auto& s = config_.scanner;
  switch (f.kind) {
    case FaultKind::amplifier_dropout:
      for (unsigned d = 0; d < drive_count_; ++d) {
        if (s.drive[d].name != f.channel) continue;
        Drive& dr = drives_[d];
        dr.dropout = true;
        dr.dropout_end = f.duration_s > 0.0 ? p + std::max<std::uint64_t>(1, to_samples(f.duration_s, fs_)) : kNever;
        dr.status |= kDriveAmplifierFault;
        latched_ |= kAmplifierFault;
        invalidate();
      }
      break;
    case FaultKind::over_temperature: {
      std::string coil = f.channel;
      for (unsigned i = 0; i < sensor_count_; ++i) {
        if (!f.sensor.empty() && s.temperature_sensors[i].name == f.sensor) coil = s.temperature_sensors[i].coil;
      }
      for (unsigned d = 0; d < drive_count_; ++d) {
        if (s.drive[d].name == coil) {
          coil_temperature_k_[d] = f.temperature_k;
          update_drift(d);
        }
      }
      for (unsigned o = 0; o < offset_count_; ++o) {
        if (s.offset[o].name == coil) coil_temperature_k_[drive_count_ + o] = f.temperature_k;
      }
      for (unsigned i = 0; i < sensor_count_; ++i) {
        if (coil_temperature_k_[sensor_coil_[i]] > s.temperature_sensors[i].limit_k) over_temperature_ = true;
      }
      break;
    }
    case FaultKind::adc_saturation: {
      const std::uint64_t end = p + std::max<std::uint64_t>(1, to_samples(f.duration_s, fs_));
      for (unsigned c = 0; c < receive_count_; ++c) {
        if (s.receive.channels[c].name == f.channel) saturation_end_[c] = end;
      }
      for (unsigned d = 0; d < drive_count_; ++d) {
        if ("ref_" + s.drive[d].name == f.channel) saturation_end_[receive_count_ + d] = end;
      }
      break;
    }
    case FaultKind::clock_glitch:
      glitch_pending_ += f.samples;
      clock_slip_register_ += f.samples;
      latched_ |= kClockUnlocked;
      break;
    case FaultKind::stuck_pointer:
      stuck_ = true;
      stuck_end_ = p + std::max<std::uint64_t>(1, to_samples(f.duration_s, fs_));
      break;
    case FaultKind::interlock:
      interlock_closed_ = !f.engage;
      break;
    case FaultKind::instant_stop:
      instant_stop_ = f.engage;
      break;
    case FaultKind::sample_holder:
      set_sample_holder(f.sample_in);
      break;
  }
}

void Plant::inject(const Fault& fault) {
  try {
    check_faults({fault}, config_.scanner, "command");
  } catch (const config::ConfigError& e) {
    throw std::invalid_argument(e.what());
  }
  apply_fault(fault, phys_);
  publish();
}

}  // namespace mpi::hil
