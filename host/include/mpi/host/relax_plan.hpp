// A relaxometry plan (configs/plans/relax-*.toml) for a magnetic particle spectrometer / relaxometer
// (topology "mps", REFERENCE.md 2.3): one drive channel plus a slow bias sweep along the same axis, no
// gradient. The host turns the sweep into a scan program of one-drive-cycle steps (link.proto ScanProgram):
// every drive cycle sees one bias value.
//
//   tracer = "../tracers/single-core-30nm.toml"   # the plant's tracer (the host only reports its name)
//   [relax]
//   drive_amplitude = "15 mT"        # 5 .. 20 mT (and at most the drive channel's max_amplitude)
//   drive_channel = "x"              # default: the scanner's first [[drive]]
//   bias_channel = "bias"            # default: the scanner's first [[offset]]
//   bias_amplitude = "40 mT"         # the sweep runs from -amplitude to +amplitude and back
//   sweep_rate = "10 Hz"             # full up-and-down sweeps per second, at most 20 Hz
//   shape = "triangle"               # triangle | sine | stepped
//   levels = 41                      # stepped: bias levels per direction (2 .. 1001)
//   sweeps = 2                       # up-and-down sweeps recorded (1 .. 1000)
//   ramp = "10 ms"                   # drive ramp and bias ramp to the sweep's start (default 10 ms)
//   background = "empty"             # "empty": first the same sweep on the empty relaxometer; "none"
//   background_recording = "path"    # or: the result folder / relax.mdf of an earlier empty run
//   gradient = "2 T/m"               # optional: also report the FWHM in mm for this gradient
//   [sample]
//   name = "batch 7 clustered"       # required
//   iron_ug = 10.0                   # iron mass in ug (> 0): sensitivity per ug Fe
//   core_size_nm = 17.0              # optional
//   batch = "B7"  notes = "..."      # optional
//   [simulation]                     # read by the simulated scanner only (mpi::config::load_plan_simulation)
//
// Errors are PlanError naming the file, the table and the key.
#pragma once

#include "mpi/host/scan_plan.hpp"
#include "mpi/link/v1/link.pb.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mpi::host {

enum class SweepShape { triangle, sine, stepped };

struct SampleInfo {
  std::string name;
  double iron_ug = 0.0;
  double core_size_nm = 0.0;  // 0: not given
  std::string batch;
  std::string notes;
};

struct RelaxPlan {
  std::filesystem::path file;
  std::filesystem::path tracer_file;  // as resolved (empty: none named)
  std::string drive_channel;          // empty: the scanner's first
  std::string bias_channel;           // empty: the scanner's first offset channel
  double drive_amplitude_t = 0.015;
  double bias_amplitude_t = 0.040;
  double sweep_rate_hz = 10.0;
  SweepShape shape = SweepShape::triangle;
  std::uint32_t levels = 41;
  std::uint32_t sweeps = 2;
  double ramp_s = 10e-3;
  bool background_empty = false;                  // background = "empty"
  std::filesystem::path background_recording;     // resolved against the plan's folder
  double gradient_t_per_m = 0.0;                  // 0: no FWHM in mm
  SampleInfo sample;
};

// What the relaxometry run needs of the scanner description (configs/scanners/relaxometer.toml).
struct RelaxScanner {
  std::filesystem::path file;
  std::string name;
  std::string manufacturer;
  std::string topology;               // "mps", "ffp", "ffl"
  double sample_rate_hz = 0.0;
  double adc_full_scale_v = 1.0;
  std::uint32_t adc_channels = 0;
  std::uint32_t drive_index = 0;      // the plan's drive channel
  std::string drive_name;
  double drive_frequency_hz = 0.0;
  std::uint32_t drive_divider = 1;
  double drive_base_clock_hz = 0.0;
  double drive_max_amplitude_t = 0.0;
  double reference_v_per_t = 0.0;     // the drive channel's reference pickup
  std::uint32_t reference_adc_channel = 0;
  std::uint32_t bias_index = 0;       // offset channel
  std::string bias_name;
  double bias_max_t = 0.0;
  double bias_full_scale_t = 0.0;
  double bias_time_constant_s = 0.0;
  std::uint32_t cycle_samples = 0;    // ADC samples per drive cycle
  // Receive channel 0: the signal.
  std::string receive_name;
  double coil_sensitivity_t_per_a = 0.0;
  double lna_gain = 1.0;
  double fundamental_suppression_db = 0.0;
  double ramp_time_s = 10e-3;         // [safety] ramp_time
};

// Loads and validates a relaxometry plan. Throws PlanError ("FILE: [relax] key: why").
RelaxPlan load_relax_plan(const std::filesystem::path& file);
// Parses the plan from text; `file` names it in messages and resolves relative paths.
RelaxPlan parse_relax_plan(const std::string& toml_text, const std::filesystem::path& file);

// Loads the scanner description and picks the plan's channels; checks the plan against it (amplitudes
// within the channels' limits, whole samples per drive cycle, program size). Throws PlanError.
RelaxScanner relax_scanner(const RelaxPlan& plan, const std::filesystem::path& scanner_file);

// The bias of every drive cycle of one up-and-down sweep, starting at -amplitude (triangle: linear up
// then down; sine: -A cos; stepped: `levels` flat levels up, then down). Its length is the number of drive
// cycles per sweep, round(drive frequency / sweep rate) (even).
std::vector<double> sweep_bias_t(const RelaxPlan& plan, double drive_frequency_hz);

// The program: a ramp-up segment taking the bias from 0 to -amplitude, one SWEEP segment of one sweep's
// steps (one per drive cycle) repeated `sweeps` times, and the firmware's own ramp to zero afterwards.
struct RelaxProgram {
  link::v1::Configure configure;
  std::uint64_t ramp_steps = 0;        // steps (cycles) of the ramp-up segment
  std::vector<double> sweep_bias_t;    // one sweep, per cycle
  std::uint32_t sweeps = 0;
  std::uint32_t cycle_samples = 0;
  [[nodiscard]] std::uint64_t sweep_first_sample() const noexcept { return ramp_steps * cycle_samples; }
  [[nodiscard]] std::uint64_t sweep_cycles() const noexcept { return sweep_bias_t.size() * sweeps; }
};
RelaxProgram relax_program(const RelaxPlan& plan, const RelaxScanner& scanner);

const char* shape_name(SweepShape shape);

}  // namespace mpi::host
