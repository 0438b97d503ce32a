// MDF files (REFERENCE 5) as a source of the host's reconstruction.
//
// reconstruct_mdf: system-matrix reconstruction (REFERENCE 3.3) of a measurement file written by any MPI
// software with a system matrix (calibration) file written by any MPI software:
//   measurement frames (canonical layout, flags undone by recon::mdf::read_mdf)
//     --background--> foreground frames minus the mean of the background frames (when the file has any)
//     --spectrum----> per frame the rows of S: (period, channel, bin) at the frequency indices of S, in the
//                     system matrix's own convention (a frequency-domain calibration file: the unnormalised
//                     DFT X_k, as MDF tools store it; a time-domain one: 2 X_k / V like recon::FrameSpectrum)
//     --rows--------> rows whose calibration SNR (or, without one, SNR from the calibration's background
//                     frames, or else relative row energy) reaches min_snr, optionally the strongest max_rows
//     --solve-------> Tikhonov operator, Kaczmarz (real or non-negative) or CGNR with lambda relative to
//                     ||S||_F^2 / voxels --> image on the calibration grid (amount relative to the delta sample)
// The files must agree: drive base frequency and dividers, receive channels, sampling points (or frequency
// count), periods per frame; otherwise MdfInputError names both files and the field.
//
// replay_mdf: the frames of a file that `mpi scan` recorded run through the same AcquisitionStream,
// FrameAssembler and ReconstructionRunner as a live scan, with the plan, scanner and tracer texts the file
// stores (/_mpi/plan, /_mpi/scanner, /_mpi/tracer; a relative background recording resolved against the
// folder of /_mpi/planFile) unless the caller gives others. The acquisition set-up is rebuilt from the file as
// a HelloReply and ConfigureReply: sample rate 2 * bandwidth, ADC channels numChannels, per driven channel
// strength (T), phase and frequency (the realised DDS frequency /_mpi/driveFrequency where stored, else
// baseFrequency / divider, which can differ from the played one in the last bits), frames starting at
// /_mpi/firstFrameSample (else the plan's ramp). Int16 codes are recovered exactly from the physical values
// through dataConversionFactor, and each frame goes in as one chunk at its /_mpi/frameFirstSample (else
// firstFrameSample + i * samples per frame), in acquisition order. Images are bit-identical to the live ones
// when the file holds the realised drive exactly and the live scan dropped no frame from display.
#pragma once

#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_plan.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace mpi::host {

// Bad or mismatched input files (the command exits with 2). The message names the file(s) and the field.
class MdfInputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class MdfSolver { tikhonov, kaczmarz, kaczmarz_nonneg, cgnr };
// "tikhonov", "kaczmarz", "kaczmarz-nonneg", "cgnr"; throws MdfInputError otherwise.
MdfSolver parse_mdf_solver(const std::string& name);
const char* to_string(MdfSolver solver) noexcept;

struct MdfReconstructionOptions {
  MdfSolver solver = MdfSolver::tikhonov;
  double relative_lambda = 1e-3;  // lambda = relative_lambda ||S_selected||_F^2 / voxels
  int iterations = 0;             // 0: the solver's default (Kaczmarz 10 sweeps, CGNR 50)
  double min_snr = 2.0;
  std::size_t max_rows = 0;       // 0: no cap
  // Foreground frames [first_frame, last_frame) in acquisition order; nullopt: all.
  std::optional<std::size_t> first_frame, last_frame;
  bool average = false;           // reconstruct the mean of the selected frames once
  // Called after each frame solved with (frames solved, frames to solve): progress. Empty: none.
  std::function<void(std::size_t, std::size_t)> on_frame;
};

struct MdfReconstruction {
  GridImage mean;                 // mean of the frame images (or the image of the mean frame)
  GridImage last;                 // of the last selected frame (= mean with average)
  std::size_t frames = 0;         // foreground frames used
  std::size_t background_frames = 0;  // measurement background frames averaged and subtracted
  std::size_t rows = 0;           // rows of S
  std::size_t selected_rows = 0;
  std::string row_rule;           // how rows were ranked (calibration SNR, background SNR, energy)
  double lambda = 0.0;            // absolute
  double seconds = 0.0;           // reading, selecting, building and solving
  std::string report;             // report.txt text
};

// Throws MdfInputError for a missing, unreadable or non-MDF file, mismatched files or bad options.
MdfReconstruction reconstruct_mdf(const std::filesystem::path& measurement, const std::filesystem::path& system_matrix,
                                  const MdfReconstructionOptions& options);

// The image grid of a calibration grid (same centres, x fastest).
recon::ImageGrid image_grid_of(const recon::VoxelGrid& grid);

// "a:b" (0-based, b excluded; either side may be empty) into options.first_frame/last_frame.
void parse_frame_range(const std::string& text, MdfReconstructionOptions& options);

struct MdfReplay {
  ScanOutcome outcome;
  ScanPlan plan;
  ScannerDescription scanner;
  std::size_t file_frames = 0;    // frames in the file
  double acquisition_s = 0.0;     // the frames' duration at the sample rate
  double wall_s = 0.0;            // the replay's duration
  [[nodiscard]] double speed() const noexcept { return wall_s > 0.0 ? acquisition_s / wall_s : 0.0; }
};

// Empty plan/scanner: the texts stored in the file. Throws MdfInputError (or PlanError) for a file without
// the texts it needs, frames that are not time-domain ADC codes, or a set-up that does not fit the plan.
// on_frame (optional) is called after each frame, as in a live scan (progress).
MdfReplay replay_mdf(const std::filesystem::path& file, const std::filesystem::path& plan_file = {},
                     const std::filesystem::path& scanner_file = {}, const FrameHook& on_frame = {});

}  // namespace mpi::host
