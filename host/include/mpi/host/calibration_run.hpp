// A system-matrix calibration with the robot (mpi calibrate): the host controls the board over the link
// and the robot over its controller's line protocol (robot_client.hpp).
//
//   configure the plan's sequence (checked against the board's realised drive)
//   PARK, background: background_frames frames with the sample out of the bore
//   for every grid position (x fastest, serpentine rows): MOVE, frames_per_position frames at full field
//     after settle_frames, averaged, one spectrum (recon::FrameSpectrum, every ADC channel, receive channels
//     in volts at the coil like `mpi scan`'s scan.mdf); every park_every positions PARK and a background
//   PARK, background
//   S = (position spectrum - background interpolated linearly in position count between the background
//       measurements before and after it) / delta sample iron (recon::CalibrationSystemMatrixBuilder)
//   row SNR = RMS of the row over the voxels / the row's noise (standard deviation of single background
//       frames / sqrt(frames_per_position))
//   DIR/system_matrix.mdf: MDF v2, frequency domain (the unnormalised DFT, bins >= min_frequency),
//       foreground frames background corrected in grid order, then the background measurements (each the
//       mean of frames_per_position frames, flagged), calibration/snr, size, fov, positions, delta sample
//   DIR/report.txt: grid, frames, rows, SNR summary, time
//
// The file is written as system_matrix.mdf.part and renamed when complete. An interrupt (options.interrupt)
// or a failure stops the work, parks the robot (best effort), removes the partial file and leaves no
// system_matrix.mdf.
#pragma once

#include "mpi/host/calibration_plan.hpp"
#include "mpi/host/scan_plan.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

namespace mpi::host {

// The run stopped on request (Ctrl-C); the robot was parked where it could be.
class CalibrationInterrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CalibrationOptions {
  std::string board_host = "127.0.0.1";
  std::uint16_t board_port = 7600;
  std::chrono::milliseconds board_timeout{5000};  // connect and per-acquisition receive
  std::string robot_host = "127.0.0.1";
  std::uint16_t robot_port = 7601;
  std::chrono::milliseconds move_timeout{120000};  // one robot move or park
  std::filesystem::path out;                       // the output folder (exists)
  const std::atomic<bool>* interrupt = nullptr;
  // Called after each position with the positions done and planned; a plain-text report should print
  // calibration_progress_line() once per ~5 % (calibration_progress_due()).
  std::function<void(std::size_t done, std::size_t total, std::size_t backgrounds, double elapsed_s)> progress;
};

// "calibrate: 6/81 positions (7 %), 2 background measurements, 3.1 s".
std::string calibration_progress_line(std::size_t done, std::size_t total, std::size_t backgrounds, double elapsed_s);
// Whether `done` of `total` positions completes another ~5 % (and the last one).
bool calibration_progress_due(std::size_t done, std::size_t total);

struct CalibrationOutcome {
  std::filesystem::path system_matrix;  // DIR/system_matrix.mdf
  std::filesystem::path report_file;    // DIR/report.txt
  std::size_t positions = 0;
  std::size_t background_measurements = 0;
  std::size_t frames = 0;               // frames acquired in all (positions and backgrounds)
  std::size_t rows = 0;                 // stored rows (channels x bins >= min_frequency)
  double max_snr = 0.0;
  double median_snr = 0.0;              // of the stored rows of the receive channels
  std::size_t rows_snr_10 = 0;          // stored rows with SNR >= 10
  double seconds = 0.0;
  std::string report;                   // the text of report.txt
};

// Throws PlanError for a plan the scanner cannot play, CalibrationInterrupted, RobotError, LinkError and
// std::runtime_error for failed work.
CalibrationOutcome run_calibration(const CalibrationPlan& plan, const ScannerDescription& scanner, const CalibrationOptions& options);

// Checks a calibration plan against the scanner before anything moves (the sequence exists and fits the
// sample clock, one frame per cycle). Throws PlanError.
void check_calibration_plan(const CalibrationPlan& plan, const ScannerDescription& scanner);

}  // namespace mpi::host
