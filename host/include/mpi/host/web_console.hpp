// The live web console of `mpi console` (docs/console.md): an HTTP server on loopback serving the page
// (host/web/, embedded at build time) and a WebSocket that pushes the board's status, the live image,
// the latest frame's harmonic spectrum and the newest relaxometry PSF, and takes the page's key proof
// and its start/stop commands.
//
// ConsoleState is what the page shows, filled from any thread (the board observer, the scan's
// reconstruction thread through on_frame, the scan worker) and read by the server's I/O thread as JSON.
// WebConsole is the server: one I/O thread, any number of browser sessions, each read-only until it
// proves it holds the scanner's key (console_auth.hpp).
#pragma once

#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/protocol/auth.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::host {

// The board as the console's observer connection last saw it.
struct BoardView {
  std::string connection = "connecting";  // "connecting", "connected", or "lost: <why>"
  std::string board;                      // server name and protocol version
  std::string mode;                       // BoardMode name ("BOARD_MODE_ARMED"), empty until known
  std::string state;                      // ScanState name
  std::uint64_t write_pointer = 0;
  std::uint64_t scan_id = 0;
  struct Drive {
    std::uint32_t channel = 0;
    std::string name;
    double frequency_hz = 0.0;     // as planned for the console's plan (0: not driven by it)
    double target_t = 0.0;         // from the board's latest field report (NaN: none yet)
    double measured_t = 0.0;
    double applied_amplitude = 0.0;
    std::string verdict;
  };
  std::vector<Drive> drives;
  struct Temperature {
    std::string name;
    double celsius = 0.0;
    double limit_celsius = 0.0;
  };
  std::vector<Temperature> temperatures;
  struct Fault {
    std::string kind;  // FaultKind name
    int channel = -1;
    std::uint64_t sample = 0;
    std::string message;
  };
  std::vector<Fault> faults;  // latched, oldest first
  double gradient_t_per_m = 0.0;  // the selection gradient the board reports (strongest axis)
};

// The console's own scan.
struct ScanView {
  std::string state = "idle";  // idle, running, stopping, done, failed
  std::string message;         // the outcome, or why it failed
  std::uint64_t frames = 0;    // reconstructed so far
  std::uint64_t planned = 0;
  std::uint64_t dropped = 0;   // dropped from the display path by the scan itself
};

// One 2D picture of an image for the page: a slice or a maximum intensity projection. Values are row-major
// (u fastest), NaN where unsampled.
struct ImagePlane {
  std::string name;             // "x-y", "MIP x-y", "slice x-y (z = 0.0 mm)", ...
  std::string u_axis, v_axis;   // "x", "y", "z"
  int nu = 0, nv = 0;
  double u0_mm = 0.0, v0_mm = 0.0;  // centre of the first pixel
  double du_mm = 0.0, dv_mm = 0.0;
  std::vector<double> values;
};
// The planes the page draws of a grid image: a 2D grid (one axis of one pixel) as itself; a 3D grid as its
// three maximum intensity projections (x-y, x-z, y-z) and its central x-y slice. A line (one axis of more
// than one pixel) is one plane of nv = 1.
std::vector<ImagePlane> display_planes(const GridImage& image);

// Levels of harmonics 1..count of `fundamental_hz` in ADC channel `channel` of interleaved int16 samples,
// in dB relative to a full-scale sine (amplitude 32767 codes): 20 log10(2 |X(f)| / (N * 32767)) with
// X(f) the DFT of the N samples at f = k * fundamental_hz (Goertzel). -200 dB floor for silence.
std::vector<double> harmonic_levels_dbfs(std::span<const std::int16_t> interleaved, std::uint32_t channels, std::uint32_t channel,
                                         double sample_rate_hz, double fundamental_hz, int count);

// A relaxometry PSF read from an `mpi relax` result folder's psf.csv.
struct PsfCurve {
  std::filesystem::path file;
  std::vector<double> field_mt, rising, falling;  // A m^2 / T
};
// The newest psf.csv (by modification time) under `folder`, searched to a depth of 3; nothing if none
// can be read.
std::optional<PsfCurve> newest_psf(const std::filesystem::path& folder);

class ConsoleState {
 public:
  explicit ConsoleState(std::chrono::milliseconds frame_copy_interval = std::chrono::milliseconds(40));

  void set_board(BoardView board);
  [[nodiscard]] BoardView board() const;
  void set_scan(ScanView scan);
  [[nodiscard]] ScanView scan() const;
  void set_psf(std::optional<PsfCurve> psf);
  // Fixed text about the session shown in the page's header (plan, scanner, output folder).
  void set_session_info(std::string plan, std::string scanner, std::string out);

  // The reconstruction thread's hook: counts every frame, copies the image and receive channel 0's
  // samples at most once per frame_copy_interval (the console's frames are dropped, never the scan's).
  void on_frame(const LiveFrameEvent& event);
  // Forgets the live image (a new scan starts).
  void clear_image();

  // The WebSocket messages (docs/console.md). image_json() and spectrum_json() return nothing when no
  // image newer than `seen` was copied; `seen` is updated.
  [[nodiscard]] std::string status_json() const;
  [[nodiscard]] std::optional<std::string> image_json(std::uint64_t& seen) const;
  [[nodiscard]] std::optional<std::string> spectrum_json(std::uint64_t& seen) const;
  [[nodiscard]] std::optional<std::string> psf_json(std::uint64_t& seen) const;

 private:
  struct Live {
    std::uint64_t sequence = 0;  // increases with every copy
    std::uint64_t frames_done = 0;
    std::uint64_t frames_planned = 0;
    bool grid = false;
    GridImage image;
    recon::Profile1D profile;
    std::vector<std::int16_t> channel0;
    double sample_rate_hz = 0.0;
    double fundamental_hz = 0.0;
  };
  mutable std::mutex mutex_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_copy_{};
  BoardView board_;
  ScanView scan_;
  Live live_;
  std::optional<PsfCurve> psf_;
  std::uint64_t psf_sequence_ = 0;
  std::string plan_, scanner_, out_;
};

// What the page's commands do; each throws std::runtime_error with the reason to show when it refuses.
struct ConsoleActions {
  std::function<void()> start;
  std::function<void()> stop;
};

struct WebConsoleOptions {
  std::string address = "127.0.0.1";  // IP address to bind (loopback by default)
  std::uint16_t port = 0;             // 0: a free port
  std::optional<protocol::Key> key;   // the scanner's key; none: no session can command
  std::size_t max_message_bytes = 16 * 1024;  // a larger WebSocket message closes the socket (1009)
  double image_rate_hz = 20.0;        // pushes of the live image and spectrum per second and session
  double status_rate_hz = 5.0;
};

class WebConsole {
 public:
  // Binds and listens; throws std::invalid_argument naming the address when it cannot. Serves once start()ed.
  WebConsole(ConsoleState& state, ConsoleActions actions, WebConsoleOptions options);
  ~WebConsole();  // stops
  WebConsole(const WebConsole&) = delete;
  WebConsole& operator=(const WebConsole&) = delete;

  void start();  // runs the I/O thread
  void stop();   // closes every session and joins the thread
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::string url() const;  // http://ADDRESS:PORT/

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The page's static files, embedded at build time (generated from host/web/).
struct WebAsset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};
std::span<const WebAsset> web_console_assets();

}  // namespace mpi::host
