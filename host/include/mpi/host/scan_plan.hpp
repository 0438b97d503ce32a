// A scan plan as the operator writes it (TOML), and the parts of the scanner description the host needs.
// Loading validates every value and reports errors as "FILE: [section] key: why" (or with line and column
// for syntax errors) through PlanError.
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
  recon::Tracer tracer;
  ReconstructionPlan reconstruction;
};

// What the host needs of the scanner description: the selection gradient and the receive chain.
struct ScannerDescription {
  double gradient_t_per_m = 2.0;
  double coil_sensitivity_t_per_a = 1e-3;
  double lna_gain = 1.0;
  double adc_full_scale_v = 1.0;
  std::vector<std::string> adc_channel_names;
};

ScanPlan load_scan_plan(const std::filesystem::path& file);
ScannerDescription load_scanner_description(const std::filesystem::path& file);

}  // namespace mpi::host
