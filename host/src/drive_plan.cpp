#include "mpi/host/drive_plan.hpp"

#include "mpi/host/acquisition_stream.hpp"
#include "mpi/recon/lissajous.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace mpi::host {

namespace {

[[noreturn]] void fail(const ScanPlan& plan, const std::string& key, const std::string& why) {
  throw PlanError(plan.file.string() + ": [sequence] " + key + ": " + why);
}

}  // namespace

DrivePlan plan_drive(const ScanPlan& plan, const ScannerDescription& scanner, double sample_rate_hz) {
  DrivePlan out;
  out.periods_per_frame = plan.sequence.periods_per_frame;
  if (!plan.multi_dimensional()) {
    const SequencePlan& s = plan.sequence;
    out.drives.push_back({0, s.drive_frequency_hz, s.drive_amplitude_t, s.drive_phase_rad});
    try {
      out.cycle_samples = samples_per_period(sample_rate_hz, s.drive_frequency_hz);
    } catch (const std::exception& e) {
      fail(plan, "drive_frequency_hz", e.what());
    }
    out.ramp_samples = static_cast<std::uint32_t>(s.ramp_periods * out.cycle_samples);
    return out;
  }
  const SequenceInfo* sequence = nullptr;
  std::string names;
  for (const SequenceInfo& q : scanner.sequences) {
    if (q.name == plan.sequence.name) sequence = &q;
    names += (names.empty() ? "" : ", ") + q.name;
  }
  if (sequence == nullptr) {
    fail(plan, "name", "\"" + plan.sequence.name + "\" is not a [[sequence]] of " + scanner.file.string() + " (it has: " +
                           (names.empty() ? "none" : names) + ")");
  }
  if (!plan.sequence.periods_per_frame_given) out.periods_per_frame = sequence->periods_per_frame;
  for (const auto& [name, phase] : plan.sequence.named_phases_rad) {
    bool driven = false;
    for (std::size_t d = 0; d < scanner.drives.size(); ++d) {
      driven = driven || (scanner.drives[d].name == name && d < sequence->drive_amplitude_t.size() && sequence->drive_amplitude_t[d] > 0.0);
    }
    if (!driven) fail(plan, "drive_phase_rad." + name, "sequence \"" + sequence->name + "\" does not drive a channel of that name");
  }
  double base_clock = 0.0;
  for (std::size_t d = 0; d < scanner.drives.size() && d < sequence->drive_amplitude_t.size(); ++d) {
    const double amplitude = sequence->drive_amplitude_t[d];
    if (!(amplitude > 0.0)) continue;
    const DriveChannelInfo& channel = scanner.drives[d];
    double phase = 0.0;
    for (const auto& [name, p] : plan.sequence.named_phases_rad) {
      if (name == channel.name) phase = p;
    }
    if (base_clock != 0.0 && channel.base_clock_hz != base_clock) {
      fail(plan, "name", "sequence \"" + sequence->name + "\" drives channels of different base clocks; the host needs one");
    }
    base_clock = channel.base_clock_hz;
    out.drives.push_back({static_cast<std::uint32_t>(d), channel.frequency_hz(), amplitude, phase});
    out.dividers.push_back(channel.divider);
  }
  if (out.drives.empty()) fail(plan, "name", "sequence \"" + sequence->name + "\" drives no channel");
  try {
    out.cycle_samples = recon::lissajous_cycle_samples(out.dividers, base_clock, sample_rate_hz);
  } catch (const std::exception& e) {
    fail(plan, "name", "sequence \"" + sequence->name + "\": " + e.what());
  }
  const bool timed = plan.sequence.ramp_s > 0.0;
  const std::uint64_t ramp = timed ? static_cast<std::uint64_t>(std::max(1.0, std::round(plan.sequence.ramp_s * sample_rate_hz)))
                                   : std::uint64_t{plan.sequence.ramp_periods} * out.cycle_samples;
  if (ramp > UINT32_MAX) fail(plan, timed ? "ramp_ms" : "ramp_periods", "too long");
  out.ramp_samples = static_cast<std::uint32_t>(ramp);
  return out;
}

link::v1::Configure configure_request(const DrivePlan& drive) {
  link::v1::Configure c;
  for (const PlannedDrive& d : drive.drives) {
    auto* out = c.add_drive();
    out->set_channel(d.channel);
    out->set_frequency_hz(d.frequency_hz);
    out->set_amplitude_t(d.amplitude_t);
    out->set_phase_rad(d.phase_rad);
  }
  c.set_ramp_samples(drive.ramp_samples);
  return c;
}

void check_realised_drive(const DrivePlan& drive, const link::v1::ConfigureReply& reply) {
  if (static_cast<std::size_t>(reply.drive_size()) != drive.drives.size()) {
    throw std::runtime_error(fmt::format("the board realised {} drive channels, the plan asked for {}", reply.drive_size(), drive.drives.size()));
  }
  for (const PlannedDrive& want : drive.drives) {
    const link::v1::RealisedDriveChannel* got = nullptr;
    for (const auto& r : reply.drive()) {
      if (r.channel() == want.channel) got = &r;
    }
    if (got == nullptr) throw std::runtime_error(fmt::format("the board did not realise drive channel {}", want.channel));
    if (std::abs(got->frequency_hz() - want.frequency_hz) > 1e-6 * want.frequency_hz) {
      throw std::runtime_error(fmt::format("drive channel {}: the board plays {} Hz, the host computed {} Hz", want.channel,
                                           got->frequency_hz(), want.frequency_hz));
    }
    if (std::abs(got->amplitude_t() - want.amplitude_t) > 1e-3 * want.amplitude_t) {
      throw std::runtime_error(fmt::format("drive channel {}: the board realised {} T, the plan asked for {} T", want.channel,
                                           got->amplitude_t(), want.amplitude_t));
    }
    const double dphi = std::remainder(got->phase_rad() - want.phase_rad, 2.0 * std::numbers::pi);
    if (std::abs(dphi) > 1e-3) {
      throw std::runtime_error(fmt::format("drive channel {}: the board realised phase {} rad, the plan asked for {} rad", want.channel,
                                           got->phase_rad(), want.phase_rad));
    }
  }
  if (reply.cycle_samples() != drive.cycle_samples) {
    throw std::runtime_error(fmt::format("the board's drive cycle is {} samples, the host computed {} samples", reply.cycle_samples(),
                                         drive.cycle_samples));
  }
}

}  // namespace mpi::host
