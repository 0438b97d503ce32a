#include "mpi/firmware/sequencer.hpp"

#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/safety_io.hpp"
#include "mpi/config/config_error.hpp"
#include "mpi/firmware/scanner_limits.hpp"
#include "mpi/protocol/framing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <cmath>
#include <numbers>

namespace mpi::firmware {

namespace v1 = link::v1;
using namespace drivers::regmap;

const char* to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::stop_requested: return "stop requested";
    case StopReason::max_samples: return "max_samples reached";
    case StopReason::controller_lost: return "controller link lost";
    case StopReason::shutdown: return "firmware shutting down";
    case StopReason::no_trigger: return "acquisition did not start (the board did not acknowledge the trigger)";
    case StopReason::safety_fault: return "safety fault";
    case StopReason::program_complete: return "scan program complete";
  }
  return "unknown";
}

const char* to_string(v1::BoardMode mode) noexcept {
  switch (mode) {
    case v1::BOARD_MODE_CONFIG: return "CONFIG";
    case v1::BOARD_MODE_ARMED: return "ARMED";
    case v1::BOARD_MODE_RUNNING: return "RUNNING";
    case v1::BOARD_MODE_SAFE: return "SAFE";
    default: return "UNSPECIFIED";
  }
}

std::string describe(const LatchedFault& fault, const config::ScannerDescription& scanner) {
  std::string what;
  switch (fault.kind) {
    case v1::FAULT_KIND_HEARTBEAT_LOST: what = fmt::format("host heartbeat lost ({} periods missed)", Sequencer::kMissedHeartbeats); break;
    case v1::FAULT_KIND_LINK_LOST: what = "controlling host's link lost"; break;
    case v1::FAULT_KIND_INSTANT_STOP: what = "instant stop pressed"; break;
    case v1::FAULT_KIND_OVER_TEMPERATURE: what = "over-temperature"; break;
    case v1::FAULT_KIND_AMPLIFIER: what = "amplifier fault"; break;
    case v1::FAULT_KIND_INTERLOCK_OPEN: what = "interlock opened"; break;
    case v1::FAULT_KIND_WATCHDOG: what = "board watchdog expired"; break;
    case v1::FAULT_KIND_FIELD_CONTROL: what = "drive-field control"; break;
    case v1::FAULT_KIND_OUT_OF_LIMIT: what = "output commanded beyond its limit (clamped by the logic)"; break;
    default: what = "unknown fault"; break;
  }
  if (fault.control != ControlVerdict::ok) what = fmt::format("drive-field control: {}", to_string(fault.control));
  if (fault.channel >= 0) {
    const auto ch = static_cast<std::size_t>(fault.channel);
    what += " on drive channel " + (ch < scanner.drive.size() ? scanner.drive[ch].name : std::to_string(ch));
  }
  return what + " at sample " + std::to_string(fault.sample);
}

BoardGeometry read_board_geometry(const drivers::RegisterBus& bus) noexcept {
  BoardGeometry g;
  g.dac_clock_hz = bus.read32(kDacClockHz);
  g.adc_decimation = bus.read32(kAdcDecimation);
  g.adc_channels = bus.read32(kAdcChannels);
  g.ring_frames = std::uint64_t{1} << std::min<std::uint32_t>(bus.read32(kRingFramesLog2), 40);
  g.drive_channels = std::min<std::uint32_t>(bus.read32(kDriveChannels), kMaxDriveChannels);
  g.receive_channels = bus.read32(kReceiveChannels);
  g.offset_channels = std::min<std::uint32_t>(bus.read32(kOffsetChannels), drivers::regmap::kMaxOffsetChannels);
  return g;
}

Sequencer::Sequencer(drivers::RegisterBus& bus, const config::ScannerDescription& scanner, Streamer& streamer)
    : bus_(&bus),
      scanner_(scanner),
      streamer_(&streamer),
      board_(read_board_geometry(bus)),
      ring_(bus),
      offset_sequence_(bus, drivers::SequenceCapacity{.segments = kMaxProgramSegments, .steps = kMaxProgramSteps}) {
  if (scanner_.drive.size() < board_.drive_channels) throw std::invalid_argument("the scanner description has fewer drive channels than the board");
  // The watchdog counts ADC samples while acquisition runs; kicked every tick, it expires only if the
  // control thread stalls for the whole timeout (see README: a plant running faster than real time can
  // expire it).
  const double timeout_samples = std::max(0.0, scanner_.safety.watchdog_timeout_s) * board_.adc_sample_rate_hz();
  drivers::SafetyIo(*bus_).set_watchdog_timeout(static_cast<std::uint32_t>(std::min(timeout_samples, 4.0e9)));
  heartbeat_timeout_ = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(kMissedHeartbeats * scanner_.safety.watchdog_timeout_s));
  // After a ramp reaches zero the coil currents still decay with their RL time constants: acquisition
  // runs on for kSettleTimeConstants of the slowest coil, so the stream ends at zero field.
  double slowest = 0.0;
  for (const config::DriveChannelDescription& d : scanner_.drive) slowest = std::max(slowest, d.rl_time_constant_s);
  for (const config::OffsetChannelDescription& o : scanner_.offset) slowest = std::max(slowest, o.rl_time_constant_s);
  settle_samples_ = static_cast<std::uint64_t>(std::ceil(kSettleTimeConstants * slowest * board_.adc_sample_rate_hz()));
}

CommandResult Sequencer::refuse(const char* command, const char* allowed) const {
  return CommandResult::error(v1::ERROR_NOT_ALLOWED,
                              fmt::format("{} is accepted in {}, the board is in {}", command, allowed, to_string(mode_locked())));
}

v1::BoardMode Sequencer::mode_locked() const noexcept {
  switch (phase_) {
    case Phase::idle: return safe_ ? v1::BOARD_MODE_SAFE : v1::BOARD_MODE_CONFIG;
    case Phase::configured: return safe_ ? v1::BOARD_MODE_SAFE : v1::BOARD_MODE_ARMED;
    default: return v1::BOARD_MODE_RUNNING;
  }
}

v1::BoardMode Sequencer::mode() const {
  const std::lock_guard lock(mutex_);
  return mode_locked();
}

std::vector<LatchedFault> Sequencer::faults() const {
  const std::lock_guard lock(mutex_);
  return {faults_.begin(), faults_.begin() + static_cast<std::ptrdiff_t>(fault_count_)};
}

void Sequencer::heartbeat() noexcept {
  last_heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_release);
}

CommandResult Sequencer::clear_faults() {
  const std::lock_guard lock(mutex_);
  if (mode_locked() != v1::BOARD_MODE_SAFE) return refuse("ClearFaults", "SAFE");
  drivers::SafetyIo io(*bus_);
  drivers::SafetyStatus latched;
  latched.amplifier_fault = true;
  latched.watchdog_expired = true;
  io.clear_latched(latched);
  drivers::DriveStatus drive_bits;
  drive_bits.amplifier_fault = true;
  drive_bits.clamped = true;
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) drivers::DriveChannel(*bus_, ch).clear_status(drive_bits);
  const drivers::SafetyStatus now = io.status();
  const char* persists = !now.interlock_closed ? "the interlock is open"
                         : now.instant_stop    ? "the instant stop is pressed"
                         : now.over_temperature ? "a temperature sensor is above its limit"
                                                : nullptr;
  if (persists != nullptr) return CommandResult::error(v1::ERROR_HARDWARE, fmt::format("ClearFaults: {}; the faults stay latched", persists));
  fault_count_ = 0;
  safe_ = false;
  configured_ = {};
  phase_ = Phase::idle;
  return {};
}

bool Sequencer::latch(v1::FaultKind kind, int channel, std::uint64_t sample, ControlVerdict control) noexcept {
  for (std::size_t i = 0; i < fault_count_; ++i) {
    if (faults_[i].kind == kind && faults_[i].channel == channel) return false;
  }
  if (fault_count_ < kMaxFaults) faults_[fault_count_++] = LatchedFault{kind, channel, sample, control};
  faults_total_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void Sequencer::supervise() noexcept {
  drivers::SafetyIo io(*bus_);
  io.kick_watchdog();
  if (phase_ == Phase::idle || (safe_ && phase_ == Phase::configured)) return;  // nothing powered
  const std::uint64_t wp = bus_->read64(kWritePointer);
  const drivers::SafetyStatus status = io.status();
  bool fault = false;
  if (status.instant_stop) fault |= latch(v1::FAULT_KIND_INSTANT_STOP, -1, wp);
  if (!status.interlock_closed) fault |= latch(v1::FAULT_KIND_INTERLOCK_OPEN, -1, wp);
  if (status.over_temperature) fault |= latch(v1::FAULT_KIND_OVER_TEMPERATURE, -1, wp);
  if (status.watchdog_expired) fault |= latch(v1::FAULT_KIND_WATCHDOG, -1, wp);
  bool channel_amplifier = false;
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (!configured_[ch]) continue;
    const drivers::DriveStatus drive = drivers::DriveChannel(*bus_, ch).status();
    if (drive.amplifier_fault) {
      fault |= latch(v1::FAULT_KIND_AMPLIFIER, static_cast<int>(ch), wp);
      channel_amplifier = true;
    }
    // The logic held an output at its calibrated limit: something commanded more than the coil may take.
    if (drive.clamped && phase_ != Phase::configured) fault |= latch(v1::FAULT_KIND_OUT_OF_LIMIT, static_cast<int>(ch), wp);
  }
  // The board-wide bit without a channel's: wait one tick, the channel's status may be published later.
  const bool board_amplifier = status.amplifier_fault && !channel_amplifier;
  if (board_amplifier && amplifier_pending_) {
    bool any = false;
    for (std::size_t i = 0; i < fault_count_; ++i) any |= faults_[i].kind == v1::FAULT_KIND_AMPLIFIER;
    if (!any) fault |= latch(v1::FAULT_KIND_AMPLIFIER, -1, wp);
  }
  amplifier_pending_ = board_amplifier;
  if (supervised_ && phase_ == Phase::running) {
    const auto last = std::chrono::steady_clock::duration(last_heartbeat_.load(std::memory_order_acquire));
    if (std::chrono::steady_clock::now().time_since_epoch() - last > heartbeat_timeout_) fault |= latch(v1::FAULT_KIND_HEARTBEAT_LOST, -1, wp);
  }
  if (supervised_ && owner_lost_) {
    owner_lost_ = false;
    if (phase_ == Phase::running) fault |= latch(v1::FAULT_KIND_LINK_LOST, -1, wp);
  }
  if (!fault) return;
  safe_ = true;
  if (phase_ == Phase::configured) {
    power_down_configured();
    return;
  }
  if (triggered_) streamer_->mark_fault(wp);
  begin_ramp_down(StopReason::safety_fault);
}

CommandResult Sequencer::configure(const v1::Configure& request, v1::ConfigureReply& reply) {
  using R = CommandResult;
  {
    const std::lock_guard lock(mutex_);
    if (shutting_down_) return R::error(v1::ERROR_NOT_ALLOWED, "Configure: the firmware is shutting down");
    if ((phase_ != Phase::idle && phase_ != Phase::configured) || safe_) return refuse("Configure", "CONFIG or ARMED");
  }
  // Validation reads only the configuration and fixed board geometry.
  if (request.drive_size() == 0) return R::error(v1::ERROR_INVALID_ARGUMENT, "drive: at least one drive channel must be configured");
  const double nyquist_hz = board_.adc_sample_rate_hz() / 2.0;
  std::array<int, kMaxDriveChannels> seen{};
  seen.fill(-1);
  for (int i = 0; i < request.drive_size(); ++i) {
    const v1::DriveChannelConfig& d = request.drive(i);
    const std::string name = fmt::format("drive[{}]", i);
    if (d.channel() >= board_.drive_channels) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.channel = {} does not exist: the board has {} drive channel(s)", name,
                                                              d.channel(), board_.drive_channels));
    }
    if (seen[d.channel()] >= 0) {
      return R::error(v1::ERROR_INVALID_ARGUMENT,
                      fmt::format("{}.channel = {} is already configured by drive[{}]", name, d.channel(), seen[d.channel()]));
    }
    seen[d.channel()] = i;
    const config::DriveChannelDescription& coil = scanner_.drive[d.channel()];
    const double f = d.frequency_hz();
    if (!std::isfinite(f) || !(f > 0.0)) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.frequency_hz = {} Hz must be positive", name, f));
    }
    const double own_f = coil.frequency_hz();
    if (std::abs(f - own_f) > kDriveFrequencyTolerance * own_f) {
      return R::error(v1::ERROR_INVALID_ARGUMENT,
                      fmt::format("{}.frequency_hz = {} Hz is not the frequency of drive channel {} ({} Hz within {} %: its drive chain is "
                                  "matched to it)",
                                  name, f, coil.name, own_f, kDriveFrequencyTolerance * 100.0));
    }
    if (!(f < nyquist_hz)) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.frequency_hz = {} Hz is not below the ADC Nyquist frequency {} Hz", name, f, nyquist_hz));
    }
    const double a = d.amplitude_t();
    if (!std::isfinite(a) || !(a > 0.0)) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.amplitude_t = {} T must be positive", name, a));
    }
    if (a > coil.max_amplitude_t) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.amplitude_t = {} T exceeds the limit {} T (max_amplitude of drive channel {})",
                                                              name, a, coil.max_amplitude_t, coil.name));
    }
    if (a > scanner_.safety.max_field_t) {
      return R::error(v1::ERROR_INVALID_ARGUMENT,
                      fmt::format("{}.amplitude_t = {} T exceeds the limit {} T (the hard field cap of [safety])", name, a, scanner_.safety.max_field_t));
    }
    if (a > coil.tesla_per_full_scale()) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.amplitude_t = {} T exceeds the limit {} T (DAC full scale of drive channel {})",
                                                              name, a, coil.tesla_per_full_scale(), coil.name));
    }
    const double slew = 2.0 * std::numbers::pi * f * a;
    if (coil.max_slew_t_per_s > 0.0 && slew > coil.max_slew_t_per_s) {
      return R::error(v1::ERROR_INVALID_ARGUMENT,
                      fmt::format("{}: peak slew rate 2 pi f A = {} T/s exceeds the limit {} T/s (max_slew of drive channel {})", name, slew,
                                  coil.max_slew_t_per_s, coil.name));
    }
    if (!std::isfinite(d.phase_rad())) {
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("{}.phase_rad = {} must be finite", name, d.phase_rad()));
    }
  }
  if (request.ramp_samples() == 0) return R::error(v1::ERROR_INVALID_ARGUMENT, "ramp_samples = 0: the ramp must last at least 1 sample");
  const std::uint32_t max_chunk = max_chunk_samples(board_.adc_channels);
  const std::uint32_t chunk = request.chunk_samples() == 0 ? std::min(kDefaultChunkSamples, max_chunk) : request.chunk_samples();
  if (chunk > max_chunk) {
    return R::error(v1::ERROR_INVALID_ARGUMENT,
                    fmt::format("chunk_samples = {} exceeds the maximum {} (a chunk of {} channels must fit one {}-byte frame)",
                                request.chunk_samples(), max_chunk, board_.adc_channels, protocol::kMaxFrameBytes));
  }

  const double ramp_limit_samples = scanner_.safety.ramp_time_s * board_.adc_sample_rate_hz();
  if (scanner_.safety.ramp_time_s > 0.0 && request.ramp_samples() > ramp_limit_samples) {
    return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("ramp_samples = {} exceeds the ramp time of [safety] ramp_time = {} s ({} samples): "
                                                            "a fault must ramp the drive down within it",
                                                            request.ramp_samples(), scanner_.safety.ramp_time_s, ramp_limit_samples));
  }

  std::vector<bool> wanted(board_.drive_channels, false);
  for (const v1::DriveChannelConfig& d : request.drive()) wanted[d.channel()] = true;
  std::uint64_t cycle_samples = 0;
  try {
    cycle_samples = drive_cycle_samples(scanner_, wanted);
  } catch (const config::ConfigError& e) {
    return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("drive: {}", e.what()));
  }
  const bool with_program = request.has_program() && request.program().segments_size() > 0;
  CompiledProgram program;
  if (with_program) {
    const std::string error = compile_program(request.program(), scanner_, board_.offset_channels, cycle_samples, request.ramp_samples(),
                                              board_.adc_sample_rate_hz(), program);
    if (!error.empty()) return R::error(v1::ERROR_INVALID_ARGUMENT, error);
  }

  const std::lock_guard lock(mutex_);
  if ((phase_ != Phase::idle && phase_ != Phase::configured) || safe_) return refuse("Configure", "CONFIG or ARMED");
  if (with_program) {
    try {
      offset_sequence_.load(program.segments);
      offset_sequence_.enable_tail(program.tail_ramp_steps);
    } catch (const std::exception& e) {
      phase_ = Phase::idle;
      configured_ = {};
      program_loaded_ = false;
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("program: {}", e.what()));
    }
    program_ = std::move(program);
  } else {
    offset_sequence_.stop();
    program_ = CompiledProgram{};
  }
  program_loaded_ = with_program;
  reply.Clear();
  std::array<bool, kMaxDriveChannels> configured{};
  for (int i = 0; i < request.drive_size(); ++i) {
    const v1::DriveChannelConfig& d = request.drive(i);
    const double full_scale_t = scanner_.drive[d.channel()].tesla_per_full_scale();
    drivers::DriveChannel channel(*bus_, d.channel());
    drivers::DriveSettings settings;
    settings.frequency_hz = d.frequency_hz();
    settings.amplitude_full_scale = d.amplitude_t() / full_scale_t;
    settings.phase_rad = d.phase_rad();
    settings.ramp_samples = request.ramp_samples();
    drivers::RealisedDrive realised;
    drivers::ErrorCode code = channel.configure(settings, realised);
    if (code == drivers::ErrorCode::ok) {
      // The logic clamps the output at the channel's limit, whatever is written to its DDS later.
      code = channel.set_dac_limit(drivers::DriveChannel::dac_limit_for(drive_limit_t(scanner_, d.channel()) / full_scale_t));
    }
    if (code != drivers::ErrorCode::ok) {
      phase_ = Phase::idle;
      configured_ = {};
      return R::error(v1::ERROR_INVALID_ARGUMENT, fmt::format("drive[{}]: {}", i, drivers::to_string(code)));
    }
    configured[d.channel()] = true;
    v1::RealisedDriveChannel* out = reply.add_drive();
    out->set_channel(d.channel());
    out->set_frequency_hz(realised.frequency_hz);
    out->set_amplitude_t(realised.amplitude_full_scale * full_scale_t);
    out->set_phase_rad(realised.phase_rad);
    out->set_phase_increment(realised.phase_increment);
  }
  if (field_control_enabled_) {
    std::vector<FieldTarget> targets;
    for (const v1::DriveChannelConfig& d : request.drive()) targets.push_back({d.channel(), d.amplitude_t(), d.phase_rad()});
    control_loop_.configure(scanner_, board_, targets, *bus_);
  } else {
    control_loop_.disable("drive-field control is off");
  }
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) drivers::DriveChannel(*bus_, ch).enable_amplifier(configured[ch]);
  configured_ = configured;
  ramp_samples_ = request.ramp_samples();
  chunk_samples_ = chunk;
  reply.set_ramp_samples(ramp_samples_);
  reply.set_chunk_samples(chunk_samples_);
  reply.set_cycle_samples(cycle_samples);
  if (program_loaded_) {
    for (const ProgramSegment& segment : program_.layout) {
      v1::RealisedSegment* out = reply.add_segments();
      out->set_role(segment.role);
      out->set_label(segment.label);
      out->set_first_sample(segment.first_sample);
      out->set_sample_count(segment.sample_count);
    }
    reply.set_program_end_sample(program_.end_sample());
  }
  phase_ = Phase::configured;
  return {};
}

CommandResult Sequencer::start(const v1::Start& request, std::uint64_t owner, std::uint64_t& scan_id, bool supervised) {
  const std::lock_guard lock(mutex_);
  if (shutting_down_) return CommandResult::error(v1::ERROR_NOT_ALLOWED, "Start: the firmware is shutting down");
  if (phase_ != Phase::configured || safe_ || !streamer_->idle()) return refuse("Start", "ARMED");
  supervised_ = supervised;
  heartbeat();
  ++scan_id_;
  scan_id = scan_id_;
  owner_ = owner;
  owner_lost_ = false;
  max_samples_ = request.max_samples();
  triggered_ = false;
  stop_pending_ = false;
  has_scanned_ = true;
  ramp_down_known_ = false;
  ramp_down_start_sample_ = 0;
  wait_ticks_ = 0;
  if (program_loaded_) {
    const drivers::ErrorCode code = offset_sequence_.start(program_.step_samples, program_.look_ahead_steps);
    if (code != drivers::ErrorCode::ok) {
      return CommandResult::error(v1::ERROR_HARDWARE, fmt::format("Start: the offset sequence table refused the program: {}", drivers::to_string(code)));
    }
  }
  control_loop_.start_scan(ramp_samples_);
  // Amplifiers on (off since the last scan ended), ramp (it applies at the trigger, sample 0), then
  // enable, then trigger.
  drivers::DriveStatus stale;  // a clamp from before this scan is not this scan's
  stale.clamped = true;
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).clear_status(stale);
  }
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).enable_amplifier(true);
  }
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).ramp_up();
  }
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).enable(true);
  }
  bus_->write32(kAcqControl, bus_->read32(kAcqControl) | kAcqRun);
  phase_ = Phase::running;
  return {};
}

void Sequencer::stop(StopReason reason) {
  const std::lock_guard lock(mutex_);
  begin_ramp_down(reason);
}

void Sequencer::controller_lost(std::uint64_t owner) {
  const std::lock_guard lock(mutex_);
  if (owner == owner_ && phase_ == Phase::running) owner_lost_ = true;  // the control tick ramps down
}

void Sequencer::transfer_control(std::uint64_t owner, std::uint64_t successor, bool supervised) {
  {
    const std::lock_guard lock(mutex_);
    if (owner != owner_) return;
    owner_ = successor;
    supervised_ = supervised;  // a loss already reported (owner_lost_) still ends the scan
  }
  heartbeat();
}

void Sequencer::shutdown() {
  const std::lock_guard lock(mutex_);
  shutting_down_ = true;
  if (phase_ == Phase::idle || phase_ == Phase::configured) {
    bus_->write32(kAcqControl, bus_->read32(kAcqControl) & ~kAcqRun);  // no scan: make sure acquisition is stopped
  }
  begin_ramp_down(StopReason::shutdown);
}

bool Sequencer::scanning() const {
  const std::lock_guard lock(mutex_);
  return phase_ != Phase::idle && phase_ != Phase::configured;
}

v1::ScanState Sequencer::state() const {
  const std::lock_guard lock(mutex_);
  return state_locked();
}

v1::ScanState Sequencer::state_locked() const noexcept {
  switch (phase_) {
    case Phase::idle: return safe_ ? v1::SCAN_STATE_SAFE : v1::SCAN_STATE_IDLE;
    case Phase::configured: return safe_ ? v1::SCAN_STATE_SAFE : v1::SCAN_STATE_CONFIGURED;
    case Phase::running:
      return (triggered_ && bus_->read64(kWritePointer) >= ramp_samples_) ? v1::SCAN_STATE_RUNNING : v1::SCAN_STATE_RAMPING_UP;
    case Phase::ramping_down:
    case Phase::draining:
    case Phase::ending: return v1::SCAN_STATE_RAMPING_DOWN;
  }
  return v1::SCAN_STATE_UNSPECIFIED;
}

void Sequencer::fill_status(v1::Status& status) const {
  const std::lock_guard lock(mutex_);
  status.set_state(state_locked());
  status.set_mode(mode_locked());
  status.set_scan_id(scan_id_);
  for (std::size_t i = 0; i < fault_count_; ++i) {
    v1::Fault* out = status.add_faults();
    out->set_kind(faults_[i].kind);
    out->set_channel(faults_[i].channel);
    out->set_sample(faults_[i].sample);
    out->set_message(describe(faults_[i], scanner_));
  }
  status.set_write_pointer(bus_->read64(kWritePointer));
  status.set_next_sample(streamer_->next_sample());
  status.set_overwritten_events(streamer_->overwritten_events());
  status.set_corrupted_events(streamer_->corrupted_events());
  status.set_ramp_up_end_sample(has_scanned_ ? ramp_samples_ : 0);
  status.set_ramp_down_start_sample(ramp_down_known_ ? ramp_down_start_sample_ : 0);
  std::string fault = shutting_down_ ? "firmware shutting down" : "";
  for (std::size_t i = 0; i < fault_count_; ++i) fault += (fault.empty() ? "" : "; ") + describe(faults_[i], scanner_);
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    const drivers::DriveStatus drive = drivers::DriveChannel(*bus_, ch).status();
    const auto add = [&fault](const std::string& what) { fault += (fault.empty() ? "" : "; ") + what; };
    if (drive.amplifier_fault) add("drive channel " + scanner_.drive[ch].name + ": amplifier fault");
    if (drive.clamped) add("drive channel " + scanner_.drive[ch].name + ": output clamped at the DAC limit");
  }
  if (!fault.empty()) status.set_fault(fault);
  for (std::size_t i = 0; i < control_loop_.report_count(); ++i) {
    const FieldReportRecord& r = control_loop_.report(i);
    v1::FieldReport* out = status.add_last_field();
    out->set_first_sample(r.first_sample);
    out->set_channel(r.channel);
    out->set_target_t(r.target_t);
    out->set_measured_t(r.measured_t);
    out->set_measured_phase_rad(r.measured_phase_rad);
    out->set_applied_amplitude(r.applied_amplitude);
    out->set_applied_phase_rad(r.applied_phase_rad);
    out->set_verdict(std::string(to_string(r.verdict)));
  }
  const drivers::SafetyIo io(*bus_);
  const unsigned sensors = std::min<unsigned>(io.temperature_sensors(), static_cast<unsigned>(scanner_.temperature_sensors.size()));
  for (unsigned s = 0; s < sensors; ++s) {
    double celsius = 0.0;
    if (io.temperature_celsius(s, celsius) != drivers::ErrorCode::ok) continue;
    v1::Temperature* out = status.add_temperatures();
    out->set_name(scanner_.temperature_sensors[s].name);
    out->set_celsius(celsius);
    out->set_limit_celsius(scanner_.temperature_sensors[s].limit_k - 273.15);
  }
}

void Sequencer::set_field_control(bool on) {
  const std::lock_guard lock(mutex_);
  field_control_enabled_ = on;
}

std::uint64_t Sequencer::field_reports_since(std::uint64_t seen, std::vector<FieldReportRecord>& out) const {
  const std::lock_guard lock(mutex_);
  const std::uint64_t total = control_loop_.reports_total();
  const std::size_t held = control_loop_.report_count();
  const std::uint64_t first_held = total - held;
  for (std::size_t i = 0; i < held; ++i) {
    if (first_held + i >= seen) out.push_back(control_loop_.report(i));
  }
  return total;
}

std::uint64_t Sequencer::latest_scan_id() const {
  const std::lock_guard lock(mutex_);
  return scan_id_;
}

std::string Sequencer::field_control_state() const {
  const std::lock_guard lock(mutex_);
  return control_loop_.reason();
}

void Sequencer::run_field_control() noexcept {
  // Only at full field: after the ramp-up and before any ramp-down (the loop's first block starts a
  // block after the ramp-up ends).
  if (phase_ != Phase::running || !triggered_ || stop_pending_ || safe_) return;
  const std::uint64_t wp = bus_->read64(kWritePointer);
  const std::optional<ControlFault> fault = control_loop_.tick(*bus_, ring_, wp);
  if (!fault) return;
  latch(v1::FAULT_KIND_FIELD_CONTROL, fault->channel, fault->sample, fault->verdict);
  safe_ = true;
  streamer_->mark_fault(wp);
  begin_ramp_down(StopReason::safety_fault);
}

bool Sequencer::acquisition_running() const noexcept { return (bus_->read32(kAcqStatus) & kAcqRunning) != 0; }

void Sequencer::begin_ramp_down(StopReason reason) noexcept {
  if (phase_ != Phase::running) return;  // not scanning, or already ending
  if (!triggered_) {
    // The ramp-up applies at the trigger; a ramp-down must come after it.
    if (!stop_pending_) reason_ = reason;
    stop_pending_ = true;
    return;
  }
  reason_ = reason;
  const std::uint64_t wp = bus_->read64(kWritePointer);
  ramp_down_command_sample_ = wp;
  streamer_->mark_ramp_down(wp);  // before the command, so the streamer flags every ramp sample
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).ramp_down();
  }
  if (program_loaded_) offset_sequence_.ramp_down_now();  // after the steps already written
  phase_ = Phase::ramping_down;
}

void Sequencer::power_down_configured() noexcept {
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).enable(false);
  }
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (configured_[ch]) drivers::DriveChannel(*bus_, ch).enable_amplifier(false);
  }
}

std::uint64_t Sequencer::offsets_zero_sample() const noexcept {
  return offset_sequence_.tail_zero_step() * program_.step_samples + settle_samples_;
}

bool Sequencer::ramp_down_complete() const noexcept {
  // The logic has applied our ramp-down (event at or after the command) and brought the factor to zero;
  // the offsets' tail has reached zero and their coils have settled.
  const std::uint64_t wp = bus_->read64(kWritePointer);
  if (program_loaded_ && wp < offsets_zero_sample()) return false;
  for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
    if (!configured_[ch]) continue;
    const drivers::DriveChannel channel(*bus_, ch);
    const std::uint64_t event = channel.ramp_event_sample();
    if (channel.ramp_factor() != 0.0 || event < ramp_down_command_sample_ || wp <= event) return false;
    if (wp < event + ramp_samples_ + settle_samples_) return false;  // the coil current has decayed
  }
  return true;
}

void Sequencer::tick() noexcept {
  const std::lock_guard lock(mutex_);
  bus_->write32(kAliveCounter, ++alive_);
  supervise();

  if (owner_lost_) {
    owner_lost_ = false;
    begin_ramp_down(StopReason::controller_lost);
  }

  if (program_loaded_ && phase_ != Phase::idle && phase_ != Phase::configured) offset_sequence_.refill();

  switch (phase_) {
    case Phase::idle:
    case Phase::configured:
      break;
    case Phase::running:
      if (!triggered_) {
        if (acquisition_running()) {
          triggered_ = true;
          streamer_->arm(scan_id_, chunk_samples_, ramp_samples_);
        } else if (++wait_ticks_ >= kTriggerTimeoutTicks) {
          // The board never started: nothing was driven (the ramp applies only at the trigger).
          reason_ = StopReason::no_trigger;
          power_down_configured();
          if (program_loaded_) offset_sequence_.stop();
          streamer_->arm(scan_id_, chunk_samples_, ramp_samples_);
          streamer_->finish_at(0);
          phase_ = Phase::draining;
          break;
        } else {
          break;
        }
      }
      run_field_control();
      if (phase_ != Phase::running) break;
      if (stop_pending_) {
        begin_ramp_down(reason_);
      } else if (max_samples_ != 0 && bus_->read64(kWritePointer) >= std::uint64_t{ramp_samples_} + max_samples_) {
        begin_ramp_down(StopReason::max_samples);
      } else if (program_loaded_ && bus_->read64(kWritePointer) >= program_.end_sample()) {
        begin_ramp_down(StopReason::program_complete);  // the table's tail already ramps the offsets
      }
      break;
    case Phase::ramping_down:
      if (ramp_down_complete()) {
        power_down_configured();
        for (unsigned ch = 0; ch < board_.drive_channels; ++ch) {
          if (configured_[ch]) {
            ramp_down_start_sample_ = drivers::DriveChannel(*bus_, ch).ramp_event_sample();
            break;
          }
        }
        ramp_down_known_ = true;
        streamer_->finish_at(bus_->read64(kWritePointer));
        phase_ = Phase::draining;
      }
      break;
    case Phase::draining:
      if (streamer_->drained()) {
        bus_->write32(kAcqControl, bus_->read32(kAcqControl) & ~kAcqRun);
        StreamEndInfo info;
        info.ramp_up_end_sample = ramp_samples_;
        info.ramp_down_start_sample = ramp_down_known_ ? ramp_down_start_sample_ : 0;
        info.reason = to_string(reason_);
        streamer_->send_end(info);
        wait_ticks_ = 0;
        phase_ = Phase::ending;
      }
      break;
    case Phase::ending:
      ++wait_ticks_;
      if (streamer_->idle() && (!acquisition_running() || wait_ticks_ >= kStopAckTimeoutTicks)) {
        if (program_loaded_) offset_sequence_.stop();  // the next scan starts the table afresh
        phase_ = Phase::configured;
      }
      break;
  }
}

Streamer& Sequencer::streamer() const noexcept { return *streamer_; }

}  // namespace mpi::firmware
