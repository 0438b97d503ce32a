// Fuzz target: the firmware's command handling. Each input is a session of a controlling host: a stream
// of link frames whose Envelopes are handed to a fresh Sequencer the way the link server hands them over
// (Configure, Start, Resume, Stop, StatusRequest, Heartbeat, ClearFaults; Hello and HandOver as far as
// they concern the sequencer), with the board's logic simulated in step with the control tick on an
// in-memory register bus. The request id of each frame also says what the board does meanwhile and how
// many control ticks follow (command_input.hpp).
//
// Everything runs on the calling thread and depends on the input alone: no streaming or logic thread is
// started, so a scan reaches the end of its ramp-down and waits there for a streamer that never drains.
// The heartbeat period is long enough that no wall-clock timeout falls inside one input.
//
// As in the link server, a request that exceeds a limit of the link (mpi/protocol/limits.hpp) is refused
// before it reaches the sequencer.
//
// Checked on every input: each reply the firmware would send frames, parses as a valid Envelope and
// keeps to the limits of the link; the modes the sequencer documents follow its commands; the board never
// sees a drive or an amplifier switched off under a non-zero ramp factor, nor an enabled drive without
// its amplifier at the trigger.
#include "command_input.hpp"
#include "fake_register_bus.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/sequencer.hpp"
#include "mpi/firmware/streamer.hpp"
#include "mpi/firmware/wakeup.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/framing.hpp"
#include "mpi/protocol/limits.hpp"
#include "mpi/protocol/version.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

namespace v1 = mpi::link::v1;
namespace fw = mpi::firmware;
namespace protocol = mpi::protocol;
namespace regmap = mpi::drivers::regmap;
using mpi::drivers::testing::FakeRegisterBus;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "command_handler_fuzz: %s\n", what);
  std::abort();
}

constexpr std::uint32_t kDacClockHz = 125'000'000;
constexpr std::uint32_t kDecimation = 125;  // 1 MS/s
constexpr std::uint32_t kReceiveChannels = 1;
constexpr std::uint32_t kDriveChannels = 2;
constexpr std::uint32_t kOffsetChannels = 1;
constexpr std::uint32_t kRingLog2 = 12;
constexpr std::uint64_t kMaxTicksPerInput = 8192;
constexpr int kTicksAfterDisconnect = 8;

// Drive x and y at 2.5 MHz / 100 = 25 kHz, 20 mT at DAC full scale, 16 mT coil limit; one receive
// channel; one focus channel (50 mT at full scale, 40 mT limit, 100 us).
mpi::config::ScannerDescription fuzz_scanner() {
  mpi::config::ScannerDescription s;
  s.name = "fuzz board";
  s.board.dac_clock_hz = kDacClockHz;
  s.board.adc_decimation = kDecimation;
  s.board.ring_frames_log2 = kRingLog2;
  mpi::config::DriveChannelDescription x;
  x.name = "x";
  x.axis = {1.0, 0.0, 0.0};
  x.base_clock_hz = 2.5e6;
  x.divider = 100;
  x.dac_full_scale_v = 1.0;
  x.amplifier_gain_a_per_v = 10.0;
  x.coil_sensitivity_t_per_a = 2e-3;
  x.max_amplitude_t = 0.016;
  mpi::config::DriveChannelDescription y = x;
  y.name = "y";
  y.axis = {0.0, 1.0, 0.0};
  s.drive = {x, y};
  s.receive.sample_rate_hz = s.board.sample_rate_hz();
  mpi::config::ReceiveChannelDescription rx;
  rx.name = "rx_x";
  s.receive.channels = {rx};
  mpi::config::OffsetChannelDescription focus;
  focus.name = "focus_x";
  focus.tesla_per_full_scale = 0.05;
  focus.max_field_t = 0.04;
  focus.rl_time_constant_s = 100e-6;
  s.offset = {focus};
  // Heartbeats are checked against the wall clock: a period far beyond one input keeps runs repeatable.
  s.safety.watchdog_timeout_s = 1000.0;
  return s;
}

mpi::drivers::testing::FakeBoard fuzz_board() {
  mpi::drivers::testing::FakeBoard board;
  board.dac_clock_hz = kDacClockHz;
  board.adc_decimation = kDecimation;
  board.adc_channels = kReceiveChannels + kDriveChannels;
  board.ring_frames_log2 = kRingLog2;
  board.drive_channels = kDriveChannels;
  board.offset_channels = kOffsetChannels;
  board.temperature_sensors = 2;
  return board;
}

// What the board's environment does while one frame is handled (command_input.hpp).
struct Conditions {
  bool interlock_open = false;
  bool instant_stop = false;
  bool over_temperature = false;
  bool amplifier_fault = false;
  bool clamped = false;
  bool silent = false;
  std::uint32_t frames_per_step = mpi::fuzz::kDefaultFramesPerStep;
};

Conditions conditions_of(std::uint64_t request_id) {
  Conditions c;
  c.interlock_open = (request_id & mpi::fuzz::kInterlockOpen) != 0;
  c.instant_stop = (request_id & mpi::fuzz::kInstantStop) != 0;
  c.over_temperature = (request_id & mpi::fuzz::kOverTemperature) != 0;
  c.amplifier_fault = (request_id & mpi::fuzz::kAmplifierFault) != 0;
  c.clamped = (request_id & mpi::fuzz::kClamped) != 0;
  c.silent = (request_id & mpi::fuzz::kLogicSilent) != 0;
  const auto frames = static_cast<std::uint32_t>((request_id >> mpi::fuzz::kFramesShift) & mpi::fuzz::kFramesMask);
  if (frames != 0) c.frames_per_step = frames;
  return c;
}

// The board's logic as register_map.hpp describes it, reduced to what the sequencer observes: trigger
// and write pointer, ramps and their factor, the sequence table's step index, the safety and drive
// status bits with their clear registers. The ADC ring is not filled.
class Logic {
 public:
  // Completes the identification registers (the in-memory bus leaves out the receive channels) and
  // publishes a board at rest with the interlock closed.
  explicit Logic(FakeRegisterBus& bus) : bus_(&bus) {
    bus_->poke32(regmap::kReceiveChannels, kReceiveChannels);
    publish_status(Conditions{});
  }

  // The status registers for `c`, taking the clears the firmware wrote; no time passes.
  void publish_status(const Conditions& c) {
    const std::uint32_t safety_clear = bus_->peek32(regmap::kSafetyClear);
    if (safety_clear != 0) {
      safety_latched_ &= ~safety_clear;
      bus_->poke32(regmap::kSafetyClear, 0);
    }
    for (unsigned ch = 0; ch < kDriveChannels; ++ch) {
      const std::uint32_t clear_reg = regmap::drive_register(ch, regmap::kDriveStatusClear);
      const std::uint32_t clear = bus_->peek32(clear_reg);
      if (clear != 0) {
        drive_status_[ch] &= ~clear;
        bus_->poke32(clear_reg, 0);
      }
    }
    if (c.amplifier_fault) {
      drive_status_[0] |= regmap::kDriveAmplifierFault;
      safety_latched_ |= regmap::kAmplifierFault;
    }
    if (c.clamped) drive_status_[1] |= regmap::kDriveClamped;
    for (unsigned ch = 0; ch < kDriveChannels; ++ch) bus_->poke32(regmap::drive_register(ch, regmap::kDriveStatus), drive_status_[ch]);
    const std::uint32_t safety = (c.interlock_open ? 0U : regmap::kInterlockClosed) | (c.instant_stop ? regmap::kInstantStop : 0U) |
                                 (c.over_temperature ? regmap::kOverTemperature : 0U) | safety_latched_;
    bus_->poke32(regmap::kSafetyStatus, safety);
    check_switching();
  }

  // One step of the logic: `c.frames_per_step` ADC frames while acquisition runs.
  void step(const Conditions& c) {
    publish_status(c);
    if (c.silent) return;
    const bool run_bit = (bus_->peek32(regmap::kAcqControl) & regmap::kAcqRun) != 0;
    if (run_bit && !running_) {  // the trigger: sample counter to 0, then report running
      running_ = true;
      for (unsigned ch = 0; ch < kDriveChannels; ++ch) {
        if (enabled(ch) && !powered(ch)) fail("an enabled drive channel's amplifier was off at the trigger");
      }
      bus_->poke64(regmap::kWritePointer, 0);
      bus_->poke32(regmap::kAcqStatus, regmap::kAcqRunning);
    } else if (!run_bit && running_) {
      running_ = false;
      bus_->poke32(regmap::kAcqStatus, 0);
    }
    if (!running_) return;
    const std::uint64_t wp = bus_->peek64(regmap::kWritePointer);
    for (unsigned ch = 0; ch < kDriveChannels; ++ch) {
      const std::uint32_t command_reg = regmap::drive_register(ch, regmap::kDriveRampCommand);
      const auto command = static_cast<regmap::RampCommand>(bus_->peek32(command_reg));
      bus_->poke32(command_reg, 0);
      if (command == regmap::RampCommand::up || command == regmap::RampCommand::down) {
        direction_[ch] = command == regmap::RampCommand::up ? 1 : -1;
        bus_->poke64(regmap::drive_register(ch, regmap::kDriveRampEventSample), wp);
      }
      const double ramp = std::max<std::uint32_t>(1, bus_->peek32(regmap::drive_register(ch, regmap::kDriveRampSamples)));
      factor_[ch] = std::clamp(factor_[ch] + direction_[ch] * static_cast<double>(c.frames_per_step) / ramp, 0.0, 1.0);
      bus_->poke32(regmap::drive_register(ch, regmap::kDriveRampFactor),
                   static_cast<std::uint32_t>(std::lround(factor_[ch] * regmap::kRampFactorOne)));
    }
    const std::uint64_t next = wp + c.frames_per_step;
    bus_->poke64(regmap::kWritePointer, next);
    if ((bus_->peek32(regmap::kSeqControl) & regmap::kSeqEnable) != 0) {
      bus_->poke64(regmap::kSeqReadIndex, (next - 1) / std::max<std::uint32_t>(1, bus_->peek32(regmap::kSeqStepSamples)));
    }
  }

  // A drive or its amplifier switched off while its ramp factor is not zero is a hard cut of the field.
  void check_switching() {
    for (unsigned ch = 0; ch < kDriveChannels; ++ch) {
      const bool on = enabled(ch);
      const bool power = powered(ch);
      if (factor_[ch] > 0.0 && ((was_enabled_[ch] && !on) || (was_powered_[ch] && !power))) {
        fail("a drive channel or its amplifier was switched off under a non-zero ramp factor");
      }
      was_enabled_[ch] = on;
      was_powered_[ch] = power;
    }
  }

 private:
  [[nodiscard]] bool enabled(unsigned ch) const {
    return (bus_->peek32(regmap::drive_register(ch, regmap::kDriveControl)) & regmap::kDriveEnable) != 0;
  }
  [[nodiscard]] bool powered(unsigned ch) const {
    return (bus_->peek32(regmap::drive_register(ch, regmap::kDriveAmplifierControl)) & regmap::kAmplifierEnable) != 0;
  }

  FakeRegisterBus* bus_;
  bool running_ = false;
  std::uint32_t safety_latched_ = 0;
  std::array<std::uint32_t, kDriveChannels> drive_status_{};
  std::array<double, kDriveChannels> factor_{};
  std::array<int, kDriveChannels> direction_{};
  std::array<bool, kDriveChannels> was_enabled_{};
  std::array<bool, kDriveChannels> was_powered_{};
};

// Every reply goes out as a frame the host must be able to parse.
void check_reply(const v1::Envelope& reply) {
  std::string framed;
  if (!protocol::append_frame(reply, framed)) fail("a reply exceeds the frame limit");
  protocol::FrameDecoder decoder;
  decoder.feed(framed.data(), framed.size());
  std::span<const std::byte> payload;
  if (decoder.next(payload) != protocol::FrameDecoder::Result::frame) fail("a framed reply does not decode");
  v1::Envelope parsed;
  std::string error;
  if (!protocol::parse_envelope(payload, parsed, error)) {
    std::fprintf(stderr, "command_handler_fuzz: %s\n", error.c_str());
    fail("a reply does not parse as an Envelope");
  }
  if (const std::optional<protocol::LimitViolation> violation = protocol::check_limits(parsed)) {
    std::fprintf(stderr, "command_handler_fuzz: %s: %s\n", violation->field.c_str(), violation->detail.c_str());
    fail("a reply exceeds a limit of the link: the host would refuse it");
  }
}

void reply_error(std::uint64_t id, const fw::CommandResult& result) {
  if (result.ok()) fail("an error reply without an error code");
  if (result.message.empty()) fail("a refused command does not say why");
  v1::Envelope reply;
  reply.set_request_id(id);
  reply.mutable_error()->set_code(result.code);
  reply.mutable_error()->set_message(result.message);
  check_reply(reply);
}

// The board and the streamer, kept from input to input: a Streamer sizes its buffers for the largest
// chunk (megabytes), and making one for every input would take most of the time. Each input starts from
// the registers' power-on values and from a streamer in its initial state: the one kept while no input
// has touched it (never armed, never resumed), a new one otherwise.
class Board {
 public:
  Board() : bus_(fuzz_board()), power_on_(bus_.words()), queue_(std::size_t{1} << 16, 4) {}

  void reset() {
    // Only the few registers an input wrote differ from their power-on values.
    const std::vector<std::uint64_t>& now = bus_.words();
    for (auto at = std::mismatch(now.begin(), now.end(), power_on_.begin()); at.first != now.end();
         at = std::mismatch(at.first + 1, now.end(), at.second + 1)) {
      bus_.poke64(static_cast<std::uint32_t>(static_cast<std::size_t>(at.first - now.begin()) * sizeof(std::uint64_t)), *at.second);
    }
    const bool untouched = streamer_ && streamer_->scan_id() == 0 && streamer_->idle() && streamer_->resumes() == 0 &&
                           streamer_->next_sample() == 0 && streamer_->end_sample() == 0;
    if (!untouched) {
      streamer_.reset();
      streamer_.emplace(bus_, queue_, wakeup_);
    }
  }

  [[nodiscard]] FakeRegisterBus& bus() noexcept { return bus_; }
  [[nodiscard]] fw::Streamer& streamer() noexcept { return *streamer_; }

 private:
  FakeRegisterBus bus_;
  std::vector<std::uint64_t> power_on_;
  // Only the streaming thread uses the queue and the wake-up, and none runs.
  fw::FrameQueue queue_;
  fw::Wakeup wakeup_;
  std::optional<fw::Streamer> streamer_;
};

class Session {
 public:
  explicit Session(Board& board)
      : bus_(board.bus()), logic_(bus_), streamer_(board.streamer()), sequencer_(bus_, scanner_, streamer_) {}

  // Handles one frame's Envelope; false when the link server would close the connection.
  bool handle(const v1::Envelope& request) {
    const std::uint64_t id = request.request_id();
    conditions_ = conditions_of(id);
    logic_.publish_status(conditions_);
    if ((id & mpi::fuzz::kLinkLost) != 0) sequencer_.controller_lost(owner_);
    sequencer_.set_field_control((id & mpi::fuzz::kFieldControl) != 0);
    const bool open = dispatch(request);
    logic_.check_switching();
    run_ticks(id & mpi::fuzz::kTicksMask);
    return open;
  }

  // The connection closes (end of input or a malformed frame): the link server reports the controller
  // lost, and the control tick ramps its scan down.
  void disconnect() {
    sequencer_.controller_lost(owner_);
    run_ticks(kTicksAfterDisconnect);
  }

 private:
  void run_ticks(std::uint64_t ticks) {
    for (std::uint64_t i = 0; i < ticks && ticks_ < kMaxTicksPerInput; ++i, ++ticks_) {
      logic_.step(conditions_);
      sequencer_.tick();
      logic_.check_switching();
    }
  }

  void reply_status(std::uint64_t id) {
    v1::Envelope reply;
    reply.set_request_id(id);
    sequencer_.fill_status(*reply.mutable_status());
    if (reply.status().mode() != sequencer_.mode()) fail("Status reports another mode than the sequencer");
    if (static_cast<std::size_t>(reply.status().faults_size()) != sequencer_.faults().size()) fail("Status lists another number of faults");
    check_reply(reply);
  }

  // The link server's checks of a Resume (link_server.cpp), then the streamer's rewind.
  fw::CommandResult resume(const v1::Resume& request) {
    using R = fw::CommandResult;
    const std::uint64_t latest = sequencer_.latest_scan_id();
    const std::uint64_t from = request.from_sample();
    if (latest == 0) return R::error(v1::ERROR_NOT_ALLOWED, "Resume: no scan has been started");
    if (request.scan_id() != 0 && request.scan_id() != latest) return R::error(v1::ERROR_INVALID_ARGUMENT, "Resume: not the latest scan");
    if (streamer_.scan_id() != latest) return R::error(v1::ERROR_NOT_ALLOWED, "Resume: the scan has not begun acquiring yet");
    const std::uint64_t end = streamer_.end_sample();
    v1::Status status;
    sequencer_.fill_status(status);
    if (end != UINT64_MAX && from > end) return R::error(v1::ERROR_INVALID_ARGUMENT, "Resume: beyond the end of the scan");
    if (end == UINT64_MAX && from > status.write_pointer()) return R::error(v1::ERROR_INVALID_ARGUMENT, "Resume: beyond the write pointer");
    if (from < streamer_.oldest_resumable(status.write_pointer())) return R::error(v1::ERROR_INVALID_ARGUMENT, "Resume: no longer in the ring");
    const std::uint32_t before = streamer_.resumes();
    if (streamer_.resume(from) != before + 1) fail("the streamer did not count the resume");
    if (streamer_.idle()) fail("the streamer is idle with a resume pending");
    return {};
  }

  bool dispatch(const v1::Envelope& request) {
    const std::uint64_t id = request.request_id();
    switch (request.body_case()) {
      case v1::Envelope::kHello: {
        const v1::Hello& hello = request.hello();
        if (hello.protocol_major() != protocol::kProtocolMajor) {
          reply_error(id, fw::CommandResult::error(v1::ERROR_VERSION_MISMATCH, "protocol major version not supported"));
          return false;
        }
        supervised_ = std::find(hello.capabilities().begin(), hello.capabilities().end(), "heartbeat") != hello.capabilities().end();
        return true;
      }
      case v1::Envelope::kConfigure: {
        v1::Envelope reply;
        reply.set_request_id(id);
        const fw::CommandResult result = sequencer_.configure(request.configure(), *reply.mutable_configure_reply());
        if (!result.ok()) {
          reply_error(id, result);
          return true;
        }
        if (sequencer_.mode() != v1::BOARD_MODE_ARMED) fail("a configured board is not ARMED");
        if (reply.configure_reply().drive_size() != request.configure().drive_size()) fail("ConfigureReply lists another number of channels");
        check_reply(reply);
        return true;
      }
      case v1::Envelope::kStart: {
        std::uint64_t scan_id = 0;
        const std::uint64_t before = sequencer_.latest_scan_id();
        const fw::CommandResult result = sequencer_.start(request.start(), owner_, scan_id, supervised_);
        if (!result.ok()) {
          reply_error(id, result);
          return true;
        }
        if (scan_id != before + 1 || sequencer_.latest_scan_id() != scan_id) fail("a started scan did not get the next scan id");
        if (!sequencer_.scanning()) fail("a started scan is not scanning");
        reply_status(id);
        return true;
      }
      case v1::Envelope::kResume: {
        const fw::CommandResult result = resume(request.resume());
        if (!result.ok()) {
          reply_error(id, result);
          return true;
        }
        reply_status(id);
        return true;
      }
      case v1::Envelope::kStop:
        sequencer_.stop(fw::StopReason::stop_requested);
        reply_status(id);
        return true;
      case v1::Envelope::kStatusRequest:
        reply_status(id);
        return true;
      case v1::Envelope::kHeartbeat:
        sequencer_.heartbeat();
        return true;
      case v1::Envelope::kClearFaults: {
        const fw::CommandResult result = sequencer_.clear_faults();
        if (!result.ok()) {
          reply_error(id, result);
          return true;
        }
        if (sequencer_.mode() != v1::BOARD_MODE_CONFIG || !sequencer_.faults().empty()) fail("ClearFaults did not leave SAFE for CONFIG");
        reply_status(id);
        return true;
      }
      case v1::Envelope::kHandOver:
        // The control passes to another session: later commands come from it, the old owner's scan stays.
        owner_ = request.hand_over().session_id();
        reply_status(id);
        return true;
      default:
        reply_error(id, fw::CommandResult::error(v1::ERROR_NOT_ALLOWED, "not a request the firmware accepts"));
        return true;
    }
  }

  mpi::config::ScannerDescription scanner_ = fuzz_scanner();
  FakeRegisterBus& bus_;
  Logic logic_;
  fw::Streamer& streamer_;
  fw::Sequencer sequencer_;
  Conditions conditions_;
  std::uint64_t owner_ = 1;
  bool supervised_ = false;
  std::uint64_t ticks_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Board board;
  board.reset();
  Session session(board);
  protocol::FrameDecoder decoder;
  decoder.feed(data, size);
  for (;;) {
    std::span<const std::byte> payload;
    const protocol::FrameDecoder::Result result = decoder.next(payload);
    if (result != protocol::FrameDecoder::Result::frame) break;  // need_more: end of input; oversized: closed
    v1::Envelope request;
    std::string error;
    if (!protocol::parse_envelope(payload, request, error)) break;  // malformed: the connection is closed
    if (protocol::check_limits(request)) continue;                   // refused with ERROR_LIMIT_EXCEEDED
    if (!session.handle(request)) break;
  }
  session.disconnect();
  return 0;
}
