// A scan plan as the operator writes it (TOML), and the parts of the scanner description the host needs.
// Loading validates every value and reports errors as "FILE: [section] key: why" (or with line and column
// for syntax errors) through PlanError.
//
// A plan (configs/plans/*.toml):
//   tracer = "../tracers/single-core-30nm.toml"   # a tracer description file, relative to the plan
//   [sequence]        a 1D drive: drive_frequency_hz, drive_amplitude_t, drive_phase_rad, periods_per_frame,
//                     frames, ramp_periods;
//                     or a named sequence of the scanner description (1D, 2D or 3D Lissajous):
//                     name = "lissajous_2d", frames, ramp_periods (drive cycles) or ramp_ms (a time: a 3D cycle
//                     of 21.5 ms is longer than a scanner's safety ramp_time), optional periods_per_frame
//                     (default: the sequence's) and drive_phase_rad = { x = 0.0, ... } (default 0)
//   [reconstruction]  method = "xspace" (default) or "system-matrix" (named sequences only);
//                     pixel_mm; for a named sequence also fov_mm = [..] or counts = [..] (one entry per
//                     imaged axis, x y z order; default: the drive field's FOV);
//                     x-space: min_speed_fraction, weights = "linear" | "nearest";
//                     system-matrix (model-based S, SNR row selection, precomputed Tikhonov operator):
//                     relative_lambda (default 1e-3, relative to ||S||_F^2 / voxels), min_snr (default 2:
//                     a row's RMS over the voxels, with snr_iron_ug (default 1) of iron in a voxel, against
//                     the receive noise of one frame), min_frequency_khz (default 80),
//                     max_rows (default 0: no cap; else the strongest rows), non_negative (default false)
//   [background]      recording = "PATH": raw capture of an empty-bore scan of the same sequence (relative to
//                     the plan), averaged and subtracted from every frame (host/background_stage.hpp)
//   [simulation]      phantom = "../phantoms/two-points.toml", seed, faults: read by the simulated scanner
//                     (the hardware-in-the-loop plant, mpi::config::load_plan_simulation); the host ignores it.
// The scanner description is the shared file format of mpi::config (configs/scanners/*.toml).
#pragma once

#include "mpi/recon/tracer.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mpi::host {

class PlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SequencePlan {
  std::string name;  // a [[sequence]] of the scanner description; empty: the 1D drive values below
  std::vector<std::pair<std::string, double>> named_phases_rad;  // drive_phase_rad of a named sequence, per drive channel name
  bool periods_per_frame_given = false;
  double drive_frequency_hz = 25000.0;
  double drive_amplitude_t = 0.012;
  double drive_phase_rad = 0.0;
  std::uint32_t periods_per_frame = 25;
  std::uint32_t frames = 40;
  std::uint32_t ramp_periods = 25;
  double ramp_s = 0.0;  // named sequences: ramp_ms given (then ramp_periods is not used); 0: ramp_periods cycles
};

enum class ReconstructionMethod { xspace, system_matrix };

struct ReconstructionPlan {
  ReconstructionMethod method = ReconstructionMethod::xspace;
  double pixel_m = 20e-6;             // 1D default; 0.5 mm for a named sequence
  double min_speed_fraction = 0.3;
  std::vector<double> fov_m;          // per imaged axis (named sequences); empty: the drive field's FOV
  std::vector<std::uint32_t> counts;  // per imaged axis, instead of fov_m
  bool nearest_weights = false;       // weights = "nearest" (default "linear")
  // System matrix:
  double relative_lambda = 1e-3;      // lambda = relative_lambda ||S||_F^2 / voxels (REFERENCE 3.3)
  double min_snr = 2.0;               // rows with SNR >= this
  double snr_iron_kg = 1e-9;          // the iron per voxel the SNR refers to
  double min_frequency_hz = 80e3;     // rows at or above this frequency (skips the feedthrough region)
  std::uint32_t max_rows = 0;         // at most this many rows (highest SNR); 0 = no cap
  bool non_negative = false;          // clamp the image at 0
};

// [background] recording = "empty-bore/raw.mpilink": the raw capture of an earlier scan of the same sequence
// with an empty bore (relative to the plan). Its frames' mean is subtracted from every frame of the scan
// before reconstruction (host/background_stage.hpp). Empty: no background subtraction.
struct BackgroundPlan {
  std::filesystem::path recording;     // resolved against the plan's folder
};

struct ScanPlan {
  std::filesystem::path file;          // the plan file, for messages
  SequencePlan sequence;
  recon::Tracer tracer;                // the tracer file's single mode (1D x-space models one population)
  double tracer_tau_s = 0.0;           // its Debye time when the file gives one (relaxation = "given"), else 0
  std::filesystem::path tracer_file;   // as resolved against the plan's folder
  ReconstructionPlan reconstruction;
  BackgroundPlan background;
  [[nodiscard]] bool multi_dimensional() const noexcept { return !sequence.name.empty(); }
};

// What the host knows of a drive channel, a receive channel and a named sequence of the scanner.
struct DriveChannelInfo {
  std::string name;
  Eigen::Vector3d axis = Eigen::Vector3d::UnitX();  // unit vector of its field
  double base_clock_hz = 0.0;
  std::uint32_t divider = 1;
  [[nodiscard]] double frequency_hz() const noexcept { return base_clock_hz / divider; }
};
struct ReceiveChannelInfo {
  std::string name;
  Eigen::Vector3d axis = Eigen::Vector3d::UnitX();  // unit vector of its sensitivity
  double coil_sensitivity_t_per_a = 1e-3;
  double lna_gain = 1.0;
  double noise_density_v_per_sqrt_hz = 0.0;  // at the coil (before the LNA)
};
struct SequenceInfo {
  std::string name;
  std::vector<double> drive_amplitude_t;  // per drive channel, 0 where not driven
  std::uint32_t periods_per_frame = 1;
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
  // The whole description, for multi-dimensional scans:
  std::filesystem::path file;
  double sample_rate_hz = 0.0;
  Eigen::Matrix3d gradient_matrix_t_per_m = Eigen::Matrix3d::Zero();  // G, B = G r
  std::vector<DriveChannelInfo> drives;
  std::vector<ReceiveChannelInfo> receivers;
  std::vector<SequenceInfo> sequences;
};

// Loads a plan and the tracer file it names. Throws PlanError.
ScanPlan load_scan_plan(const std::filesystem::path& file);
// Loads and validates a scanner description (mpi::config) and keeps what the host needs. Throws PlanError
// with the description's message ("FILE: [[drive]] #1 (x) max_amplitude: ...").
ScannerDescription load_scanner_description(const std::filesystem::path& file);

}  // namespace mpi::host
