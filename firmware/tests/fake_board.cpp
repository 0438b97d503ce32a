#include "fake_board.hpp"

#include "mpi/drivers/register_map.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace mpi::firmware::test {

config::ScannerDescription fake_board_scanner() {
  config::ScannerDescription s;
  s.name = "fake board";
  s.board.dac_clock_hz = FakeBoard::kDacClockHz;
  s.board.adc_decimation = FakeBoard::kDecimation;
  s.board.ring_frames_log2 = FakeBoard::kRingLog2;
  config::DriveChannelDescription x;
  x.name = "x";
  x.axis = {1.0, 0.0, 0.0};
  x.base_clock_hz = 2.5e6;
  x.divider = 100;
  x.dac_full_scale_v = 1.0;
  x.amplifier_gain_a_per_v = 10.0;
  x.coil_sensitivity_t_per_a = 2e-3;
  x.max_amplitude_t = 0.016;
  config::DriveChannelDescription y = x;
  y.name = "y";
  y.axis = {0.0, 1.0, 0.0};
  s.drive = {x, y};
  s.receive.sample_rate_hz = s.board.sample_rate_hz();
  config::ReceiveChannelDescription rx;
  rx.name = "rx_x";
  s.receive.channels = {rx};
  config::OffsetChannelDescription focus;
  focus.name = "focus_x";
  focus.tesla_per_full_scale = 0.05;
  focus.max_field_t = 0.04;
  focus.rl_time_constant_s = 100e-6;
  s.offset = {focus};
  return s;
}


using namespace drivers::regmap;

namespace {

std::string unique_name() {
  static std::atomic<int> counter{0};
  return "/mpi-fw-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

drivers::RegionGeometry region_geometry(const FakeBoard::Geometry& board) {
  drivers::RegionGeometry g;
  g.dac_clock_hz = board.dac_clock_hz;
  g.adc_decimation = board.adc_decimation;
  g.adc_channels = board.receive_channels + board.drive_channels;
  g.receive_channels = board.receive_channels;
  g.ring_frames_log2 = FakeBoard::kRingLog2;
  g.drive_channels = board.drive_channels;
  g.offset_channels = board.offset_channels;
  g.temperature_sensors = board.temperature_sensors;
  return g;
}

}  // namespace

std::int16_t pattern(std::uint64_t sample, unsigned channel) {
  const std::uint64_t mixed = (sample * 2654435761ULL + channel * 40503ULL + (sample >> 16)) & 0xFFFFU;
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(mixed));
}

FakeBoard::FakeBoard(const Geometry& geometry)
    : name_(unique_name()),
      geometry_(geometry),
      adc_channels_(geometry.receive_channels + geometry.drive_channels),
      region_(drivers::SharedMemoryRegion::create(name_, region_geometry(geometry))),
      regs_(region_.base()) {
  regs_.write32(drivers::regmap::kSafetyStatus, drivers::regmap::kInterlockClosed);  // the normal, safe state
  thread_ = std::thread([this] { run(); });
}

void FakeBoard::set_temperature(unsigned sensor, double celsius) noexcept {
  regs_.write32(drivers::regmap::temperature_register(sensor), static_cast<std::uint32_t>(static_cast<std::int32_t>(std::lround(celsius * 1000.0))));
}

FakeBoard::~FakeBoard() {
  quit_.store(true);
  if (thread_.joinable()) thread_.join();
}

StopObservation FakeBoard::last_stop() const {
  const std::lock_guard lock(mutex_);
  return last_stop_;
}

bool FakeBoard::wait_for_stops(std::uint64_t count, int timeout_ms) const {
  for (int i = 0; i < timeout_ms; ++i) {
    if (stops_.load() >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return stops_.load() >= count;
}

void FakeBoard::produce(std::uint64_t first, std::uint64_t count) {
  const auto ring = region_.ring();
  const std::uint64_t frames = std::uint64_t{1} << kRingLog2;
  for (std::uint64_t n = first; n < first + count; ++n) {
    const std::uint64_t slot = n & (frames - 1U);
    for (unsigned c = 0; c < adc_channels_; ++c) ring[slot * adc_channels_ + c] = pattern(n, c);
  }
}

void FakeBoard::run() {
  bool running = false;
  const unsigned drives = geometry_.drive_channels;
  std::array<double, kMaxDriveChannels> factor{};
  std::array<int, kMaxDriveChannels> direction{};
  std::array<bool, kMaxDriveChannels> ramped_down{};
  std::array<bool, kMaxDriveChannels> was_enabled{};
  std::array<bool, kMaxDriveChannels> was_powered{};
  while (!quit_.load()) {
    std::this_thread::sleep_for(std::chrono::microseconds(250));
    const bool run_bit = (regs_.read32(kAcqControl) & kAcqRun) != 0;
    if (!producing_.load()) continue;
    if (run_bit && !running) {  // trigger: counter to 0, then report running
      running = true;
      for (unsigned ch = 0; ch < drives; ++ch) {
        const bool enabled = (regs_.read32(drive_register(ch, kDriveControl)) & kDriveEnable) != 0;
        const bool powered = (regs_.read32(drive_register(ch, kDriveAmplifierControl)) & kAmplifierEnable) != 0;
        if (enabled && !powered) unpowered_triggers_.fetch_add(1);
      }
      regs_.write64(kWritePointer, 0);
      ramped_down.fill(false);
      regs_.write32(kAcqStatus, kAcqRunning);
    } else if (!run_bit && running) {
      running = false;
      StopObservation seen;
      seen.write_pointer = regs_.read64(kWritePointer);
      for (unsigned ch = 0; ch < drives; ++ch) {
        seen.ramp_factor[ch] = regs_.read32(drive_register(ch, kDriveRampFactor));
        seen.enabled[ch] = (regs_.read32(drive_register(ch, kDriveControl)) & kDriveEnable) != 0;
        seen.amplifier_enabled[ch] = (regs_.read32(drive_register(ch, kDriveAmplifierControl)) & kAmplifierEnable) != 0;
        seen.ramped_down[ch] = ramped_down[ch];
        seen.down_event_sample[ch] = regs_.read64(drive_register(ch, kDriveRampEventSample));
      }
      {
        const std::lock_guard lock(mutex_);
        last_stop_ = seen;
      }
      regs_.write32(kAcqStatus, 0);
      stops_.fetch_add(1);
    }
    // A drive or its amplifier switched off while the ramp factor is not zero is a hard cut.
    for (unsigned ch = 0; ch < drives; ++ch) {
      const bool enabled = (regs_.read32(drive_register(ch, kDriveControl)) & kDriveEnable) != 0;
      const bool powered = (regs_.read32(drive_register(ch, kDriveAmplifierControl)) & kAmplifierEnable) != 0;
      if (was_enabled[ch] && !enabled && factor[ch] > 0.0) hard_cuts_.fetch_add(1);
      if (was_powered[ch] && !powered && factor[ch] > 0.0) hard_cuts_.fetch_add(1);
      was_enabled[ch] = enabled;
      was_powered[ch] = powered;
    }
    if (!running) continue;

    const std::uint64_t wp = regs_.read64(kWritePointer);
    for (unsigned ch = 0; ch < drives; ++ch) {
      const auto command = static_cast<RampCommand>(regs_.take32(drive_register(ch, kDriveRampCommand)));
      if (command == RampCommand::up || command == RampCommand::down) {
        direction[ch] = command == RampCommand::up ? 1 : -1;
        if (command == RampCommand::down) ramped_down[ch] = true;
        regs_.write64(drive_register(ch, kDriveRampEventSample), wp);
      }
    }
    std::uint64_t count = kBlockFrames;
    if (const std::uint64_t jump = jump_.exchange(0); jump != 0) {
      const std::uint64_t frames = std::uint64_t{1} << kRingLog2;
      produce(wp + jump - std::min(jump, frames), std::min(jump, frames));
      count = jump;
    } else {
      produce(wp, count);
    }
    for (unsigned ch = 0; ch < drives; ++ch) {
      const double ramp = std::max<std::uint32_t>(1, regs_.read32(drive_register(ch, kDriveRampSamples)));
      factor[ch] = std::clamp(factor[ch] + direction[ch] * static_cast<double>(count) / ramp, 0.0, 1.0);
      regs_.write32(drive_register(ch, kDriveRampFactor), static_cast<std::uint32_t>(std::lround(factor[ch] * kRampFactorOne)));
    }
    regs_.write64(kWritePointer, wp + count);
    // The sequence table's step index (the table's outputs are not modelled).
    if ((regs_.read32(kSeqControl) & kSeqEnable) != 0) {
      regs_.write64(kSeqReadIndex, (wp + count - 1) / std::max<std::uint32_t>(1, regs_.read32(kSeqStepSamples)));
    }
  }
}

}  // namespace mpi::firmware::test

namespace mpi::firmware::test {

void FakeBoard::set_safety_status(std::uint32_t bits) noexcept { regs_.write32(drivers::regmap::kSafetyStatus, bits); }

void FakeBoard::set_amplifier_fault(unsigned channel, bool on) noexcept {
  using namespace drivers::regmap;
  const std::uint32_t reg = drive_register(channel, kDriveStatus);
  const std::uint32_t bits = regs_.read32(reg);
  regs_.write32(reg, on ? (bits | kDriveAmplifierFault) : (bits & ~kDriveAmplifierFault));
}

void FakeBoard::set_clamped(unsigned channel, bool on) noexcept {
  using namespace drivers::regmap;
  const std::uint32_t reg = drive_register(channel, kDriveStatus);
  const std::uint32_t bits = regs_.read32(reg);
  regs_.write32(reg, on ? (bits | kDriveClamped) : (bits & ~kDriveClamped));
}

}  // namespace mpi::firmware::test
