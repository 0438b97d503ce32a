// Runs a scan: live against the firmware daemon, or replayed from a raw capture. Both feed the same
// AcquisitionStream and ReconstructionRunner, so the same frames give bit-identical images.
#pragma once

#include "mpi/host/frame_assembler.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/recon/xspace_1d.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>
#include <stdexcept>
#include <string>

namespace mpi::host {

struct ScanOutcome {
  recon::Profile1D image;                 // 1D plans: the mean profile
  std::optional<GridImage> mean_image;    // plans naming a sequence: the mean image
  std::optional<GridImage> last_image;    // and the last frame's
  std::uint64_t frames = 0;               // reconstructed
  std::uint64_t dropped = 0;              // dropped from the display path (live, under load)
  LatencyStats latency;                   // from a frame's last sample at the host to its image
  std::string reconstruction_summary;     // what the pipeline built at scan start (system matrix)
  std::string background;                 // the background subtracted from every frame; empty: none
  std::vector<recon::DriveComponent> drives;  // named sequences: the realised drive channels
  AssemblyCounters counters;
  std::uint32_t chunk_flags = 0;     // OR of all chunk flags seen
  double sample_rate_hz = 0.0;
  double drive_frequency_hz = 0.0;   // as realised by the board
  double drive_amplitude_t = 0.0;
  std::string end_reason;
};

struct LiveScanOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7600;
  std::chrono::milliseconds receive_timeout{5000};
  std::filesystem::path capture_file;  // raw capture of everything received (empty: none)
  const std::atomic<bool>* interrupt = nullptr;  // set by the operator (Ctrl-C): stop the scan early
  // Frames queued for reconstruction before newer ones are dropped from display (never from the recording);
  // 0: as many as the scan acquires in kDisplayQueueSeconds, so a reconstruction thread held up for a moment
  // by other work on the machine catches up instead of dropping.
  std::size_t display_frames = 0;
  // A link lost during the scan (closed, reset, or silent for receive_timeout) is reconnected for this
  // long: the new connection takes the control back with the board's reclaim token and resumes the
  // stream at the first sample not received. Zero: no reconnect.
  std::chrono::milliseconds reconnect_window{10000};
  // Called on the reconstruction thread after every reconstructed frame (live display, e.g. the web
  // console): keep it cheap, copy what is kept and return (reconstruction_runner.hpp, LiveFrameEvent).
  // Empty: none.
  FrameHook on_frame;
};

inline constexpr double kDisplayQueueSeconds = 2.0;
// The display queue's depth for a plan: display_frames, or kDisplayQueueSeconds of its frames (at least 64).
std::size_t display_queue_frames(const ScanPlan& plan, const ScannerDescription& scanner, std::size_t display_frames);

// The board ended the scan with a safety fault (the message names each: kind, channel, sample index).
class ScanFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sends heartbeats every half heartbeat period the board asks for; throws ScanFault if a safety fault
// ended the scan.
ScanOutcome run_live_scan(const ScanPlan& plan, const ScannerDescription& scanner, const LiveScanOptions& options);
// Clears the board's latched faults (SAFE -> CONFIG); returns its Status. Throws LinkError with the
// board's reason if it refuses (not in SAFE, or a fault condition persists).
link::v1::Status clear_faults(const std::string& host, std::uint16_t port, std::chrono::milliseconds receive_timeout);
// on_frame (optional) is called after each frame, as in a live scan (progress).
ScanOutcome replay_capture(const ScanPlan& plan, const ScannerDescription& scanner, const std::filesystem::path& capture,
                           const FrameHook& on_frame = {});

}  // namespace mpi::host
