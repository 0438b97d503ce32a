// mpi: the operator's command. Plans and runs a scan against the firmware daemon, or replays a raw
// capture or a recorded MDF file offline through the same pipeline, or reconstructs MDF measurement and
// system-matrix files of any MPI software, and writes the image (CSV + PNG), the raw capture and a
// short report into an output folder.
#include "mpi/host/background_stage.hpp"
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/image_output.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/mdf_recorder.hpp"
#include "mpi/host/mdf_reconstruction.hpp"
#include "mpi/host/pipeline_system_matrix.hpp"
#include "mpi/host/profile_output.hpp"
#include "mpi/host/relax_report.hpp"
#include "mpi/host/relax_run.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/profile_analysis.hpp"
#include "mpi/recon/tracer.hpp"

#include "mpi/protocol/auth.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using namespace mpi;

std::atomic<bool> g_interrupt{false};

extern "C" void on_signal(int /*signal*/) { g_interrupt.store(true); }

std::string latency_line(const host::ScanOutcome& outcome) {
  std::ostringstream r;
  r.setf(std::ios::fixed);
  r.precision(3);
  r << "latency from a frame's last sample to its image (" << outcome.latency.count << " frames): median "
    << outcome.latency.median_s * 1e3 << " ms, p95 " << outcome.latency.p95_s * 1e3 << " ms, max " << outcome.latency.max_s * 1e3 << " ms\n";
  return r.str();
}

std::string report(const host::ScanOutcome& outcome, const host::ScanPlan& plan, const host::ScannerDescription& scanner) {
  std::ostringstream r;
  r.setf(std::ios::fixed);
  r.precision(4);
  r << "frames reconstructed: " << outcome.frames << " (dropped from display: " << outcome.dropped
    << ", discarded incomplete: " << outcome.counters.frames_discarded << ", gaps: " << outcome.counters.gaps
    << ", samples lost: " << outcome.counters.samples_lost << ")\n";
  r << latency_line(outcome);
  r << "background: " << (outcome.background.empty() ? "none subtracted" : outcome.background + ", subtracted from every frame") << "\n";
  if (outcome.mean_image) {
    r << "sequence " << plan.sequence.name << "; sampling " << outcome.sample_rate_hz / 1e6 << " MS/s\n";
    for (const auto& d : outcome.drives) {
      r << "drive along (" << d.direction.x() << ", " << d.direction.y() << ", " << d.direction.z() << "): " << d.frequency_hz << " Hz, "
        << d.amplitude_t * 1e3 << " mT, phase " << d.phase_rad << " rad\n";
    }
    const host::GridImage& image = *outcome.mean_image;
    const auto& g = image.grid;
    r << outcome.reconstruction_summary;
    r << "image grid: " << g.counts[0] << " x " << g.counts[1] << " x " << g.counts[2] << " pixels of " << g.pixel_m.x() * 1e3 << " mm\n";
    if (!image.values.empty()) {
      const auto peak = static_cast<std::size_t>(std::max_element(image.values.begin(), image.values.end()) - image.values.begin());
      const Eigen::Vector3d c = g.centre_m(peak) * 1e3;
      r << "peak at (" << c.x() << ", " << c.y() << ", " << c.z() << ") mm, value " << image.values[peak] << "\n";
    }
    return r.str();
  }
  r << "drive: " << outcome.drive_frequency_hz << " Hz, " << outcome.drive_amplitude_t * 1e3 << " mT; sampling "
    << outcome.sample_rate_hz / 1e6 << " MS/s\n";
  r << "analytic PSF FWHM: " << recon::psf_fwhm_m(plan.tracer, scanner.gradient_t_per_m) * 1e3 << " mm\n";
  const auto peaks = recon::find_peaks(outcome.image);
  for (const auto& peak : peaks) {
    r << "peak at x = " << peak.position_m * 1e3 << " mm, FWHM " << recon::fwhm_m(outcome.image, peak) * 1e3 << " mm\n";
  }
  for (std::size_t i = 1; i < peaks.size(); ++i) {
    r << "dip between peaks " << i << " and " << i + 1 << ": " << 100.0 * recon::dip_ratio(outcome.image, peaks[i - 1], peaks[i])
      << " % of the lower peak\n";
  }
  return r.str();
}

// Returns the names of the files written.
std::string write_outputs(const host::ScanOutcome& outcome, const host::ScanPlan& plan, const host::ScannerDescription& scanner,
                          const fs::path& out, const std::string& title) {
  std::string written;
  if (outcome.mean_image) {
    host::write_image_csv(*outcome.mean_image, out / "image.csv");
    host::write_image_png(*outcome.mean_image, out / "image.png", title + ", mean of " + std::to_string(outcome.frames) + " frames");
    host::write_image_csv(*outcome.last_image, out / "last_image.csv");
    host::write_image_png(*outcome.last_image, out / "last_image.png", title + ", last frame");
    written = "image.png, image.csv, last_image.png, last_image.csv";
  } else {
    host::write_profile_csv(outcome.image, out / "profile.csv");
    host::write_profile_png(outcome.image, out / "profile.png", title);
    written = "profile.png, profile.csv";
  }
  const std::string text = report(outcome, plan, scanner);
  std::ofstream(out / "report.txt") << text;
  std::cout << text;
  return written + ", report.txt";
}

// Errors of a plan that only show with the scanner (a sequence it does not have, a grid that does not fit).
void check_plan_with_scanner(const host::ScanPlan& plan, const host::ScannerDescription& scanner) {
  const host::DrivePlan drive = host::plan_drive(plan, scanner, scanner.sample_rate_hz);
  if (!plan.multi_dimensional()) return;
  std::vector<recon::DriveComponent> components;
  for (const host::PlannedDrive& d : drive.drives) {
    components.push_back({scanner.drives[d.channel].axis, d.amplitude_t, d.frequency_hz, d.phase_rad});
  }
  const recon::ImageGrid grid = host::plan_image_grid(plan, scanner.gradient_matrix_t_per_m, components);
  if (plan.reconstruction.method == host::ReconstructionMethod::system_matrix) {
    host::check_system_matrix_size(plan, scanner, grid, drive.samples_per_frame(), scanner.sample_rate_hz);
  }
}

// A plan's background recording: read and checked before the scan starts.
void check_background(const host::ScanPlan& plan, const host::ScannerDescription& scanner) {
  if (!plan.background.recording.empty()) (void)host::BackgroundFrame::load(plan, scanner);
}

host::LiveScanOptions options_for(const std::string& address, double timeout_s, const fs::path& out) {
  const auto [host_name, port] = host::parse_address(address);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  host::LiveScanOptions options;
  options.host = host_name;
  options.port = port;
  options.receive_timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  options.capture_file = out / "raw.mpilink";
  options.interrupt = &g_interrupt;
  return options;
}

// A static bias field for the harmonic calculator (same units as the drive; zero allowed).
double config_bias(const std::string& text) {
  std::string t = text;
  const std::size_t first = t.find_first_not_of(' ');
  if (first != std::string::npos && t.compare(first, std::string::npos, std::string("0")) == 0) return 0.0;
  if (t.find_first_of("123456789") == std::string::npos) return 0.0;  // "0 mT", "0.0 T"
  const bool negative = first != std::string::npos && t[first] == '-';
  if (negative) t.erase(first, 1);
  const double v = host::parse_drive_amplitude(t);
  return negative ? -v : v;
}

void prepare_output(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw std::runtime_error(out.string() + ": cannot create output folder: " + ec.message());
}

}  // namespace

// Runs one step of a subcommand: an exception becomes one line "PREFIX: what" on stderr and the exit code 2
// for bad input (std::invalid_argument: files, addresses, options) or 1 for anything else.
template <typename Step>
int run_step(const char* prefix, Step&& step) {
  try {
    return step();
  } catch (const std::invalid_argument& e) {
    std::cerr << prefix << ": " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << prefix << ": " << e.what() << '\n';
    return 1;
  }
}

int main(int argc, char** argv) {
  CLI::App app{"mpi: run and replay magnetic particle imaging scans"};
  app.require_subcommand(1);
  std::string scanner_file = "configs/scanners/demo-1d.toml";
  std::string plan_file;
  std::string out_dir = "out";

  auto* scan = app.add_subcommand("scan", "run a scan against the firmware daemon and reconstruct it live");
  std::string address = "127.0.0.1:7600";
  double timeout_s = 5.0;
  scan->add_option("--connect", address, "firmware daemon address HOST:PORT")->capture_default_str();
  scan->add_option("--scanner", scanner_file, "scanner description (TOML)")->capture_default_str();
  scan->add_option("--plan", plan_file, "scan plan (TOML)")->required();
  scan->add_option("--out", out_dir, "output folder")->capture_default_str();
  scan->add_option("--timeout", timeout_s, "seconds to wait for data before giving up")->check(CLI::Range(0.1, 600.0));

  auto* replay = app.add_subcommand("replay", "reconstruct a raw capture or a recorded MDF file offline through the live pipeline");
  std::string capture_file;
  std::string replay_mdf_file;
  auto* capture_opt = replay->add_option("--capture", capture_file, "raw capture (raw.mpilink) written by mpi scan");
  auto* mdf_opt = replay->add_option("--mdf", replay_mdf_file, "MDF file (scan.mdf) written by mpi scan");
  capture_opt->excludes(mdf_opt);
  replay->add_option("--scanner", scanner_file, "scanner description (TOML; --mdf: default the one stored in the file)")->capture_default_str();
  replay->add_option("--plan", plan_file, "scan plan (TOML; required with --capture, --mdf: default the one stored in the file)");
  replay->add_option("--out", out_dir, "output folder")->capture_default_str();

  auto* rec = app.add_subcommand("reconstruct", "system-matrix reconstruction of an MDF measurement with an MDF system matrix of any MPI tool");
  std::string rec_measurement, rec_system_matrix, rec_solver = "tikhonov", rec_frames;
  host::MdfReconstructionOptions rec_options;
  rec->add_option("--measurement", rec_measurement, "measurement (MDF)")->required();
  rec->add_option("--system-matrix", rec_system_matrix, "system matrix / calibration (MDF)")->required();
  rec->add_option("--out", out_dir, "output folder")->capture_default_str();
  rec->add_option("--solver", rec_solver, "tikhonov | kaczmarz | kaczmarz-nonneg | cgnr")->capture_default_str();
  rec->add_option("--lambda", rec_options.relative_lambda, "Tikhonov lambda relative to ||S||_F^2 / voxels")->capture_default_str();
  rec->add_option("--iterations", rec_options.iterations, "Kaczmarz sweeps / CGNR iterations (0: 10 / 50)")->capture_default_str();
  rec->add_option("--min-snr", rec_options.min_snr, "rows with calibration SNR at least this")->capture_default_str();
  rec->add_option("--max-rows", rec_options.max_rows, "at most this many rows, highest SNR first (0: no cap)")->capture_default_str();
  rec->add_option("--frames", rec_frames, "foreground frames a:b (0-based, b excluded; default all)");
  rec->add_flag("--average", rec_options.average, "average the frames before reconstructing (one solve)");

  auto* clear = app.add_subcommand("clear-faults", "clear the board's latched safety faults (SAFE -> CONFIG)");
  clear->add_option("--connect", address, "firmware daemon address HOST:PORT")->capture_default_str();

  auto* recover = app.add_subcommand("recover", "finish an MDF recording left incomplete by a crash or kill from its journal");
  std::string recover_file;
  recover->add_option("FILE", recover_file, "the incomplete recording (scan.mdf; its raw.mpilink next to it)")->required();
  auto* inspect = app.add_subcommand("inspect", "summary and conformance check of an MDF file (exit 1 on errors)");
  std::string inspect_file;
  inspect->add_option("FILE", inspect_file, "MDF file")->required();

  auto* relax = app.add_subcommand("relax", "relaxometry of a tracer sample: bias sweep, PSF, FWHM, sensitivity, relaxation time, harmonics");
  std::string relax_scanner_file = "configs/scanners/relaxometer.toml";
  bool relax_no_wait = false;
  relax->add_option("--plan", plan_file, "relaxometry plan (TOML, configs/plans/relax-*.toml)")->required();
  relax->add_option("--out", out_dir, "output folder")->capture_default_str();
  relax->add_option("--connect", address, "firmware daemon address HOST:PORT")->capture_default_str();
  relax->add_option("--scanner", relax_scanner_file, "scanner description (TOML)")->capture_default_str();
  relax->add_option("--timeout", timeout_s, "seconds to wait for data before giving up")->check(CLI::Range(0.1, 600.0));
  relax->add_flag("--no-wait", relax_no_wait, "background = \"empty\": go on to the sample without waiting for Enter");

  auto* relax_compare = app.add_subcommand("relax-compare", "compare relaxometry results of several samples (the first is the reference)");
  std::vector<std::string> compare_dirs;
  relax_compare->add_option("DIR", compare_dirs, "result folders of mpi relax")->required();
  relax_compare->add_option("--out", out_dir, "output folder")->capture_default_str();

  auto* harmonics = app.add_subcommand("harmonics", "harmonic spectrum of an M(H) curve under a sinusoidal drive");
  std::string mh_file, tracer_file, drive_text = "15 mT", bias_text = "0 mT", quantity = "signal";
  int max_harmonic = 15;
  auto* mh_opt = harmonics->add_option("--mh", mh_file, "M(H) curve (CSV: H and M columns with units, e.g. H_mT,M_Am2 or H_Oe,M_emu)");
  auto* tracer_opt = harmonics->add_option("--tracer", tracer_file, "tracer description (TOML): its Langevin curve");
  mh_opt->excludes(tracer_opt);
  harmonics->add_option("--drive", drive_text, "drive amplitude (\"15 mT\", \"150 Oe\")")->capture_default_str();
  harmonics->add_option("--bias", bias_text, "static bias field")->capture_default_str();
  harmonics->add_option("--max-harmonic", max_harmonic, "highest harmonic")->check(CLI::Range(3, 100))->capture_default_str();
  harmonics->add_option("--quantity", quantity, "signal (induced voltage, dM/dt) | magnetisation (M(t))")->capture_default_str();
  harmonics->add_option("--out", out_dir, "output folder")->capture_default_str();

  auto* keygen = app.add_subcommand("keygen", "make a scanner's link key file (random 256-bit key, hex, mode 0600) for mpi-firmware --key and mpi --key");
  std::string keygen_file;
  keygen->add_option("FILE", keygen_file, "key file to create (an existing file is never overwritten)")->required();

  // The scanner's link key: every command that connects to the board proves it holds it.
  std::string key_file;
  app.add_option("--key", key_file, "the scanner's link key file (default: $MPI_LINK_KEY)");
  app.fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!key_file.empty()) ::setenv("MPI_LINK_KEY", key_file.c_str(), 1);

  if (keygen->parsed()) {
    try {
      protocol::write_key_file(keygen_file);
    } catch (const std::exception& e) {
      std::cerr << "mpi keygen: " << e.what() << '\n';
      return 2;
    }
    std::cout << "link key written to " << keygen_file << " (mode 0600): give it to mpi-firmware --key and mpi --key\n";
    return 0;
  }

  if (relax->parsed()) {
    host::RelaxCommand command;
    try {
      const auto [host_name, port] = host::parse_address(address);
      command.plan_file = plan_file;
      command.scanner_file = relax_scanner_file;
      command.out = out_dir;
      command.host = host_name;
      command.port = port;
      command.receive_timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
      (void)host::prepare_relax(command.plan_file, command.scanner_file);
      prepare_output(out_dir);
    } catch (const std::exception& e) {
      std::cerr << "mpi relax: " << e.what() << '\n';
      return 2;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    command.interrupt = &g_interrupt;
    if (!relax_no_wait) {
      command.insert_sample = [] {
        std::cout << "empty acquisition done: put the sample in and press Enter" << std::endl;
        std::string line;
        if (!std::getline(std::cin, line)) {
          throw std::runtime_error("standard input ended before the sample was confirmed in (the empty acquisition is in background.mpilink; use --no-wait for unattended runs)");
        }
      };
    }
    return run_step("mpi relax", [&] {
      const host::RelaxOutcome r = host::run_relax(command);
      std::cout << r.summary << "outputs in " << fs::absolute(out_dir).lexically_normal().string() << ": ";
      for (std::size_t i = 0; i < r.written.size(); ++i) std::cout << (i ? ", " : "") << r.written[i];
      std::cout << '\n';
      return 0;
    });
  }
  if (relax_compare->parsed()) {
    try {
      std::vector<recon::RelaxometryResult> results;
      for (const std::string& d : compare_dirs) results.push_back(host::read_relax_result(d));
      prepare_output(out_dir);
      const std::vector<std::string> written = host::write_relax_comparison(results, out_dir);
      std::cout << std::ifstream(fs::path(out_dir) / "comparison.csv").rdbuf() << "outputs in " << fs::absolute(out_dir).lexically_normal().string() << ": ";
      for (std::size_t i = 0; i < written.size(); ++i) std::cout << (i ? ", " : "") << written[i];
      std::cout << '\n';
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "mpi relax-compare: " << e.what() << '\n';
      return 2;
    }
  }
  if (harmonics->parsed()) {
    try {
      recon::HarmonicCalculatorOptions options;
      options.drive_amplitude_t = host::parse_drive_amplitude(drive_text);
      options.bias_t = config_bias(bias_text);
      options.max_harmonic = max_harmonic;
      options.points_per_period = std::max(8192, 8 * max_harmonic);
      if (quantity == "signal") {
        options.quantity = recon::HarmonicQuantity::induced_signal;
      } else if (quantity == "magnetisation") {
        options.quantity = recon::HarmonicQuantity::magnetisation;
      } else {
        throw std::invalid_argument("--quantity '" + quantity + "': one of signal, magnetisation");
      }
      recon::MhCurve curve;
      if (!mh_file.empty()) {
        curve = recon::read_mh_csv(mh_file);
      } else if (!tracer_file.empty()) {
        curve = host::tracer_mh_curve(tracer_file, 2.0 * (options.drive_amplitude_t + std::abs(options.bias_t)));
      } else {
        throw std::invalid_argument("give --mh CURVE.csv or --tracer FILE");
      }
      const recon::HarmonicSpectrum spectrum = recon::harmonic_spectrum(curve, options);
      prepare_output(out_dir);
      const std::string title = "harmonic spectrum of " + curve.source + ", drive " + drive_text;
      const std::vector<std::string> written = host::write_harmonic_spectrum(spectrum, title, out_dir);
      std::cout << std::ifstream(fs::path(out_dir) / "spectrum.csv").rdbuf() << "outputs in " << fs::absolute(out_dir).lexically_normal().string()
                << ": spectrum.csv, spectrum.png\n";
      (void)written;
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "mpi harmonics: " << e.what() << '\n';
      return 2;
    }
  }

  if (recover->parsed()) {
    try {
      const host::RecordingSummary r = host::finish_recording(recover_file);
      std::cout << "recovered " << r.frames << " frames (" << r.background_frames << " background, " << r.faults << " fault events) into "
                << recover_file << '\n';
      if (r.journal_cut) std::cout << "the journal ends inside a record (" << r.journal_note << "); every complete frame before it is kept\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "mpi recover: " << e.what() << '\n';
      return 2;
    }
  }
  if (inspect->parsed()) {
    try {
      const host::Inspection r = host::inspect_mdf(inspect_file);
      std::cout << r.text;
      return r.errors > 0 ? 1 : 0;
    } catch (const std::exception& e) {
      std::cerr << "mpi inspect: " << e.what() << '\n';
      return 2;
    }
  }

  if (clear->parsed()) {
    return run_step("mpi", [&] {
      const auto [host_name, port] = host::parse_address(address);
      const link::v1::Status status = host::clear_faults(host_name, port, std::chrono::milliseconds(5000));
      std::cout << "faults cleared; the board is in " << link::v1::BoardMode_Name(status.mode()) << '\n';
      return 0;
    });
  }

  if (rec->parsed()) {
    return run_step("mpi", [&] {
      rec_options.solver = host::parse_mdf_solver(rec_solver);
      if (!rec_frames.empty()) host::parse_frame_range(rec_frames, rec_options);
      prepare_output(out_dir);
      const host::MdfReconstruction r = host::reconstruct_mdf(rec_measurement, rec_system_matrix, rec_options);
      const fs::path out(out_dir);
      const std::string title = "system matrix (" + fs::path(rec_system_matrix).filename().string() + "), " +
                                fs::path(rec_measurement).filename().string();
      host::write_image_csv(r.mean, out / "image.csv");
      host::write_image_png(r.mean, out / "image.png", title + ", mean of " + std::to_string(r.frames) + " frames");
      host::write_image_csv(r.last, out / "last_image.csv");
      host::write_image_png(r.last, out / "last_image.png", title + (rec_options.average ? ", mean frame" : ", last frame"));
      std::ofstream(out / "report.txt") << r.report;
      std::cout << r.report << "outputs in " << fs::absolute(out).lexically_normal().string()
                << ": image.png, image.csv, last_image.png, last_image.csv, report.txt\n";
      return 0;
    });
  }

  if (replay->parsed() && !replay_mdf_file.empty()) {
    host::MdfReplay r;
    try {
      prepare_output(out_dir);
      const bool scanner_given = replay->get_option("--scanner")->count() > 0;
      r = host::replay_mdf(replay_mdf_file, plan_file, scanner_given ? fs::path(scanner_file) : fs::path());
    } catch (const std::invalid_argument& e) {  // bad files, plans and scanner descriptions
      std::cerr << "mpi: " << e.what() << '\n';
      return 2;
    } catch (const host::PlanError& e) {
      std::cerr << "mpi: " << e.what() << '\n';
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "mpi: " << e.what() << '\n';
      return 1;
    }
    try {
      const fs::path out(out_dir);
      const bool sm = r.plan.reconstruction.method == host::ReconstructionMethod::system_matrix;
      const std::string method = r.plan.multi_dimensional() ? (sm ? "system matrix (" : "x-space (") + r.plan.sequence.name + ")" : "1D x-space";
      const std::string written = write_outputs(r.outcome, r.plan, r.scanner, out, method + ", replay of " + fs::path(replay_mdf_file).filename().string());
      std::ostringstream speed;
      speed << "replay of " << r.file_frames << " recorded frames (" << r.acquisition_s << " s of acquisition) in " << r.wall_s << " s: "
            << r.speed() << " x real time\n";
      std::ofstream(out / "report.txt", std::ios::app) << speed.str();
      std::cout << speed.str() << "outputs in " << fs::absolute(out).lexically_normal().string() << ": " << written << '\n';
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "mpi: " << e.what() << '\n';
      return 1;
    }
  }

  host::ScanPlan plan;
  host::ScannerDescription scanner;
  try {
    if (replay->parsed() && capture_file.empty()) throw std::invalid_argument("replay: give --capture FILE (with --plan) or --mdf FILE");
    if (plan_file.empty()) throw std::invalid_argument("--plan is required");
    plan = host::load_scan_plan(plan_file);
    scanner = host::load_scanner_description(scanner_file);
    check_plan_with_scanner(plan, scanner);
    check_background(plan, scanner);
    prepare_output(out_dir);
  } catch (const std::exception& e) {
    std::cerr << "mpi: " << e.what() << '\n';
    return 2;
  }

  return run_step("mpi", [&] {
    const fs::path out(out_dir);
    const bool sm = plan.reconstruction.method == host::ReconstructionMethod::system_matrix;
    const std::string method = plan.multi_dimensional() ? (sm ? "system matrix (" : "x-space (") + plan.sequence.name + ")" : "1D x-space";
    std::string written;
    if (scan->parsed()) {
      const host::ScanOutcome outcome = host::run_live_scan(plan, scanner, options_for(address, timeout_s, out));
      written = write_outputs(outcome, plan, scanner, out, method + ", live scan");
    } else {
      const host::ScanOutcome outcome = host::replay_capture(plan, scanner, capture_file);
      written = write_outputs(outcome, plan, scanner, out, method + ", replay of " + fs::path(capture_file).filename().string());
    }
    std::cout << "outputs in " << fs::absolute(out).lexically_normal().string() << ": " << written
              << (scan->parsed() ? ", raw.mpilink, scan.mdf" : "") << '\n';
    return 0;
  });
}
