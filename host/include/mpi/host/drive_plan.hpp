// The drive a plan asks the board for, computed by the host from the plan and the scanner description:
// one channel for a 1D plan (its own frequency, amplitude and phase); for a named sequence every drive
// channel the sequence uses, at base clock / divider of that channel, the sequence's amplitude and the
// plan's phase (0 unless given). The host checks the board's ConfigureReply against it.
#pragma once

#include "mpi/host/scan_plan.hpp"
#include "mpi/link/v1/link.pb.h"

#include <cstdint>
#include <vector>

namespace mpi::host {

struct PlannedDrive {
  std::uint32_t channel = 0;
  double frequency_hz = 0.0;
  double amplitude_t = 0.0;
  double phase_rad = 0.0;
};

struct DrivePlan {
  std::vector<PlannedDrive> drives;        // ascending channel
  std::vector<std::uint32_t> dividers;     // of the driven channels (named sequences), same order
  std::uint64_t cycle_samples = 0;         // one cycle of all driven channels, in ADC samples
  std::uint32_t periods_per_frame = 1;     // cycles per frame
  std::uint32_t ramp_samples = 0;
  [[nodiscard]] std::uint64_t samples_per_frame() const noexcept { return cycle_samples * periods_per_frame; }
};

// Throws PlanError naming the plan file, [sequence] and the key for a sequence the scanner does not have,
// a phase for a channel it does not drive, or a drive that does not fit the sample clock.
DrivePlan plan_drive(const ScanPlan& plan, const ScannerDescription& scanner, double sample_rate_hz);

// The Configure request of that drive.
link::v1::Configure configure_request(const DrivePlan& drive);

// Checks the board's realised drive and cycle against the plan (same channels; frequency within 1e-6,
// amplitude within 0.1 %, phase within 1 mrad; the same cycle_samples). Throws std::runtime_error naming
// the channel and both values.
void check_realised_drive(const DrivePlan& drive, const link::v1::ConfigureReply& reply);

}  // namespace mpi::host
