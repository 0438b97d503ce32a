#include "mpi/firmware/field_control_loop.hpp"

#include "mpi/drivers/register_map.hpp"
#include "mpi/firmware/scanner_limits.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <numeric>
#include <stdexcept>

namespace mpi::firmware {

using namespace drivers::regmap;

bool FieldControlLoop::is_fault(ControlVerdict verdict) noexcept {
  switch (verdict) {
    case ControlVerdict::dead_amplifier:
    case ControlVerdict::implausible:
    case ControlVerdict::field_cap:
    case ControlVerdict::diverging: return true;
    default: return false;
  }
}

void FieldControlLoop::disable(std::string reason) {
  control_.reset();
  reason_ = std::move(reason);
  block_frames_ = 0;
}

bool FieldControlLoop::configure(const config::ScannerDescription& scanner, const BoardGeometry& board,
                                 std::span<const FieldTarget> targets, drivers::RegisterBus& bus) {
  control_.reset();
  total_ = 0;
  updates_ = 0;
  std::size_t count = 0;
  for (const FieldTarget& t : targets) count = std::max<std::size_t>(count, t.channel + 1);
  if (count == 0) {
    disable("no drive channel configured");
    return false;
  }
  if (count != targets.size()) {
    disable("the configured drive channels are not contiguous from channel 0");
    return false;
  }
  if (count > kMaxControlledChannels) {
    disable(fmt::format("{} drive channels configured, the controller takes at most {}", count, kMaxControlledChannels));
    return false;
  }
  if (board.adc_channels < board.receive_channels + count) {
    disable(fmt::format("the board has {} ADC channels, no reference pickup for every drive channel", board.adc_channels));
    return false;
  }
  // A block holds whole periods of every channel: the least common multiple of the periods in samples.
  const double fs = board.adc_sample_rate_hz();
  std::uint64_t lcm = 1;
  for (std::size_t d = 0; d < count; ++d) {
    const double period = fs / scanner.drive[d].frequency_hz();
    const double whole = std::round(period);
    if (!(whole >= 1.0) || std::abs(period - whole) > 1e-9 * period) {
      disable(fmt::format("drive channel {}: the period is {} ADC samples, not a whole number", scanner.drive[d].name, period));
      return false;
    }
    lcm = std::lcm(lcm, static_cast<std::uint64_t>(whole));
  }
  const auto min_frames = static_cast<std::uint64_t>(std::ceil(kMinBlockSeconds * fs));
  const std::uint64_t block = lcm * std::max<std::uint64_t>(1, (min_frames + lcm - 1) / lcm);
  if (block * 4 > board.ring_frames || block > 0xFFFFFFFFULL) {
    disable(fmt::format("a control block of {} frames does not fit the ADC ring", block));
    return false;
  }
  try {
    DriveControlConfig config = drive_control_config(scanner, count, static_cast<std::uint32_t>(block));
    for (std::size_t d = 0; d < count; ++d) {
      const double full_scale = scanner.drive[d].tesla_per_full_scale();
      config.channels[d].dac_peak_limit = std::min(1.0, drive_limit_t(scanner, static_cast<unsigned>(d)) / full_scale);
    }
    control_.emplace(std::move(config));
  } catch (const std::invalid_argument& e) {
    disable(e.what());
    return false;
  }
  target_t_ = {};
  for (const FieldTarget& t : targets) {
    target_t_[t.channel] = t.amplitude_t;
    const ControlVerdict v = control_->set_target(t.channel, t.amplitude_t, t.phase_rad);
    if (v != ControlVerdict::ok) {
      disable(fmt::format("drive channel {}: the target is refused ({})", scanner.drive[t.channel].name, to_string(v)));
      return false;
    }
  }
  block_frames_ = static_cast<std::uint32_t>(block);
  block_.assign(block * board.adc_channels, 0);
  reason_.clear();
  write_dac(bus);
  return true;
}

void FieldControlLoop::write_dac(drivers::RegisterBus& bus) const noexcept {
  for (std::size_t d = 0; d < control_->channel_count(); ++d) {
    const DacComponent& c = control_->dac(d, 0);
    const auto ch = static_cast<unsigned>(d);
    bus.write64(dds_register(ch, 0, kDdsPhaseOffset), c.phase_offset & kPhaseMask);
    bus.write32(dds_register(ch, 0, kDdsAmplitude), c.amplitude_code);
  }
}

void FieldControlLoop::start_scan(std::uint64_t ramp_end) noexcept {
  next_block_ = ramp_end + block_frames_;
}

const FieldReportRecord& FieldControlLoop::report(std::size_t i) const noexcept {
  const std::uint64_t first = total_ - report_count();
  return history_[(first + i) % kHistory];
}

void FieldControlLoop::record(const ControlReport& report) noexcept {
  for (std::size_t d = 0; d < report.channel_count; ++d) {
    const ChannelControlReport& c = report.channels[d];
    FieldReportRecord& r = history_[total_ % kHistory];
    r.first_sample = report.first_sample;
    r.channel = static_cast<std::uint32_t>(d);
    r.target_t = target_t_[d];
    r.measured_t = c.measured_amplitude_t;
    r.measured_phase_rad = c.measured_phase_rad;
    const Complex applied = c.applied.value();
    r.applied_amplitude = std::abs(applied);
    r.applied_phase_rad = std::arg(applied);
    r.verdict = c.verdict;
    ++total_;
  }
}

std::optional<ControlFault> FieldControlLoop::tick(drivers::RegisterBus& bus, const drivers::AdcRing& ring, std::uint64_t wp) noexcept {
  if (!control_ || wp < next_block_ + block_frames_) return std::nullopt;
  // Behind by more than a block (a stalled tick): measure the latest whole block instead.
  if (wp - next_block_ > 2 * std::uint64_t{block_frames_}) next_block_ = wp - block_frames_;
  const std::uint64_t first = next_block_;
  if (ring.read(first, block_frames_, block_) != drivers::ErrorCode::ok) {
    next_block_ = wp;  // overwritten while copied: try the next block
    return std::nullopt;
  }
  const ControlReport& report = control_->update(block_, first);
  ++updates_;
  record(report);
  if (is_fault(report.verdict)) {
    int channel = -1;
    for (std::size_t d = 0; d < report.channel_count; ++d) {
      if (report.channels[d].verdict == report.verdict) {
        channel = static_cast<int>(d);
        break;
      }
    }
    return ControlFault{report.verdict, channel, first};
  }
  if (report.applied) {
    write_dac(bus);
    next_block_ = wp + block_frames_;  // skip the block in which the coil current settles
  } else {
    next_block_ = first + block_frames_;
  }
  return std::nullopt;
}

}  // namespace mpi::firmware
