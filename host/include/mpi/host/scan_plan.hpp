// A scan plan as the operator writes it (TOML), and the parts of the scanner description the host needs.
// Loading validates every value and reports errors as "FILE: [section] key: why" (or with line and column
// for syntax errors) through PlanError.
//
// A plan (configs/plans/*.toml):
//   tracer = "../tracers/single-core-30nm.toml"   # a tracer description file, relative to the plan
//   [sequence]        drive_frequency_hz, drive_amplitude_t, drive_phase_rad, periods_per_frame, frames,
//                     ramp_periods
//   [reconstruction]  pixel_mm, min_speed_fraction
//   [simulation]      phantom = "../phantoms/two-points.toml", seed, faults: read by the simulated scanner
//                     (the hardware-in-the-loop plant, mpi::config::load_plan_simulation); the host ignores it.
// The scanner description is the shared file format of mpi::config (configs/scanners/*.toml).
#pragma once

#include "mpi/recon/tracer.hpp"

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::host {

class PlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SequencePlan {
  double drive_frequency_hz = 25000.0;
  double drive_amplitude_t = 0.012;
  double drive_phase_rad = 0.0;
  std::uint32_t periods_per_frame = 25;
  std::uint32_t frames = 40;
  std::uint32_t ramp_periods = 25;
};

struct ReconstructionPlan {
  double pixel_m = 20e-6;
  double min_speed_fraction = 0.3;
};

struct ScanPlan {
  SequencePlan sequence;
  recon::Tracer tracer;                // the tracer file's single mode (1D x-space models one population)
  std::filesystem::path tracer_file;   // as resolved against the plan's folder
  ReconstructionPlan reconstruction;
};

// What the host's 1D reconstruction needs of the scanner description: the selection gradient along drive
// channel 0's axis e (e^T G e), receive channel 0's chain, and the ADC channel names.
struct ScannerDescription {
  double gradient_t_per_m = 2.0;            // along drive channel 0's axis
  double strongest_gradient_t_per_m = 2.0;  // eigenvalue of G of the largest magnitude (what the board reports)
  double coil_sensitivity_t_per_a = 1e-3;   // receive channel 0
  double lna_gain = 1.0;                    // receive channel 0
  double adc_full_scale_v = 1.0;
  std::vector<std::string> adc_channel_names;  // receive channels, then "ref_<drive name>"
};

// Loads a plan and the tracer file it names. Throws PlanError.
ScanPlan load_scan_plan(const std::filesystem::path& file);
// Loads and validates a scanner description (mpi::config) and keeps what the host needs. Throws PlanError
// with the description's message ("FILE: [[drive]] #1 (x) max_amplitude: ...").
ScannerDescription load_scanner_description(const std::filesystem::path& file);

}  // namespace mpi::host
