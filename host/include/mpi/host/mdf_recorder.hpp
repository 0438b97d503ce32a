// Crash-safe MDF recording of a scan.
//
// The raw capture (raw.mpilink, raw_capture.hpp) is the recording's journal: every link message is on disk
// within RawCaptureWriter's flush bound as it arrives. At scan start, once the board has answered Configure,
// begin_recording() writes scan.mdf with all the metadata and the custom fields
//   /_mpi/recording = "incomplete", /_mpi/journal = "raw.mpilink" (relative to the file's folder),
//   /_mpi/plan, /_mpi/scanner, /_mpi/tracer (the TOML texts), /_mpi/planFile, /_mpi/journalFingerprint
//   (the board's HelloReply and ConfigureReply), /_mpi/firstFrameSample, /_mpi/plannedFrames, /_mpi/sampleRate,
//   /_mpi/driveFrequency (the realised DDS frequencies, per drive channel).
// At the end finish_recording() reads the journal through the same FrameAssembler the live path uses and
// writes every complete frame received (frame index below the plan's frame count, in order) as int16 codes
// with dataConversionFactor, N x J x C x V contiguous, isBackgroundFrame from the scan program's background
// segments, the per-frame drive field from the board's FieldReports (/acquisition/_appliedField and
// _measuredField), faults and stream discontinuities as /_faults, and /_mpi/frameFirstSample (N). It writes
// FILE.tmp and renames it over FILE, so scan.mdf is always either the incomplete file or the complete one.
// `mpi recover` calls the same finish_recording() on a file left behind by a crash or a kill.
#pragma once

#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/recon/mdf.hpp"

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace mpi::host {

// A recording that cannot be begun, finished or recovered; the message names the file and the reason.
class RecordingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a recording needs of the scan's start.
struct RecordingStart {
  const ScanPlan* plan = nullptr;
  const ScannerDescription* scanner = nullptr;
  link::v1::HelloReply hello;
  link::v1::ConfigureReply configure;
  AcquisitionSetup setup;
  std::string start_time;  // yyyy-mm-ddThh:mm:ss.sss (UTC); empty: now
};

// The metadata of the recording at scan start (no measurement): study, experiment, scanner, tracer,
// acquisition, drive field (realised), receiver. Throws RecordingError naming the file that fails to load.
recon::mdf::File recording_metadata(const RecordingStart& start);

// Writes `mdf` (incomplete) for a scan whose journal is `journal` (same folder). Throws RecordingError.
void begin_recording(const std::filesystem::path& mdf, const std::filesystem::path& journal, const RecordingStart& start);

struct RecordingSummary {
  std::uint64_t frames = 0;             // complete frames written
  std::uint64_t background_frames = 0;
  std::uint64_t faults = 0;             // rows of /_faults
  bool journal_cut = false;             // the journal ended inside a record (crash or kill)
  std::string journal_note;             // why the journal reading stopped early (empty: clean end)
};

// Finalises an incomplete recording from its journal. Throws RecordingError when `mdf` is not an MDF
// file, is not a recording of `mpi scan`, is already complete, its journal is missing, or the journal
// belongs to another scan.
RecordingSummary finish_recording(const std::filesystem::path& mdf);

// /_mpi/recording of a file ("incomplete", "complete"), empty when the file has none. Throws RecordingError
// when the file is not an HDF5 file.
std::string recording_state(const std::filesystem::path& mdf);

// `mpi inspect`: a summary of the file and the findings of recon::mdf::check_mdf.
struct Inspection {
  std::string text;
  std::size_t errors = 0;
  std::size_t warnings = 0;
};
Inspection inspect_mdf(const std::filesystem::path& mdf);

}  // namespace mpi::host
