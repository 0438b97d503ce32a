// A calibration plan (configs/plans/*-calibration.toml): the sequence of a scan plan and a [calibration]
// table for a system-matrix calibration with the robot (mpi calibrate, calibration_run.hpp).
//
//   tracer = "../tracers/single-core-30nm.toml"   # the tracer of the delta sample (relative to the plan)
//   [sequence]                  as in a scan plan, a named sequence of the scanner: name, ramp_periods or
//                               ramp_ms, drive_phase_rad; periods_per_frame must be 1 (one frame per cycle)
//   [calibration]
//   grid = [9, 9, 1]            positions along x, y, z (each 1 .. 256, at most 100000 in all)
//   fov = ["24 mm", "24 mm", "2 mm"]       extent of the grid; positions at centre - fov/2 + (i + 0.5) fov/n
//   centre = ["0 mm", "0 mm", "0 mm"]      default 0
//   delta_sample = "50 ug"      iron of the robot's sample (1 ng .. 1 g)
//   sample_edge = "1 mm"        edge of the sample's cube (default 1 mm; recorded in the MDF file)
//   frames_per_position = 4     frames averaged at every position (1 .. 10000)
//   settle_frames = 2           frames skipped after the ramp-up (0 .. 1000, default 2)
//   background_frames = 16      frames of every background measurement with the robot parked (2 .. 100000)
//   park_every = 0              a background measurement every this many positions (0: only before and after)
//   min_frequency = "80 kHz"    the lowest frequency stored in the system matrix (default 80 kHz)
//   [simulation]                read by the simulated scanner only (its robot phantom)
//
// Every error is a PlanError naming the file, the table and the key: unknown keys and tables, values
// without or with a wrong unit, values out of range.
#pragma once

#include "mpi/host/scan_plan.hpp"

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

namespace mpi::host {

struct CalibrationSettings {
  std::array<std::uint32_t, 3> grid{1, 1, 1};
  Eigen::Vector3d fov_m = Eigen::Vector3d::Zero();
  Eigen::Vector3d centre_m = Eigen::Vector3d::Zero();
  double delta_iron_kg = 50e-9;
  double sample_edge_m = 1e-3;
  std::uint32_t frames_per_position = 4;
  std::uint32_t settle_frames = 2;
  std::uint32_t background_frames = 16;
  std::uint32_t park_every = 0;
  double min_frequency_hz = 80e3;

  [[nodiscard]] std::size_t positions() const noexcept { return std::size_t{grid[0]} * grid[1] * grid[2]; }
  // Centre of position `index` (x fastest), metres.
  [[nodiscard]] Eigen::Vector3d position_m(std::size_t index) const noexcept;
};

struct CalibrationPlan {
  std::filesystem::path file;
  ScanPlan scan;  // tracer and [sequence] (frames unused; no [reconstruction] or [background])
  CalibrationSettings calibration;
};

CalibrationPlan load_calibration_plan(const std::filesystem::path& file);
// The same from text; `file` names it in messages and resolves the tracer path.
CalibrationPlan parse_calibration_plan(const std::string& toml_text, const std::filesystem::path& file);

}  // namespace mpi::host
