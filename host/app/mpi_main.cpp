// mpi: the operator's command. Plans and runs a scan against the firmware daemon, or replays a raw
// capture offline through the same pipeline, and writes the image (CSV + PNG), the raw capture and a
// short report into an output folder.
#include "mpi/host/link_client.hpp"
#include "mpi/host/profile_output.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/profile_analysis.hpp"
#include "mpi/recon/tracer.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
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

std::string report(const host::ScanOutcome& outcome, const host::ScanPlan& plan, const host::ScannerDescription& scanner) {
  std::ostringstream r;
  r.setf(std::ios::fixed);
  r.precision(4);
  r << "frames reconstructed: " << outcome.frames << " (discarded incomplete: " << outcome.counters.frames_discarded
    << ", gaps: " << outcome.counters.gaps << ", samples lost: " << outcome.counters.samples_lost << ")\n";
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

void write_outputs(const host::ScanOutcome& outcome, const host::ScanPlan& plan, const host::ScannerDescription& scanner,
                   const fs::path& out, const std::string& title) {
  host::write_profile_csv(outcome.image, out / "profile.csv");
  host::write_profile_png(outcome.image, out / "profile.png", title);
  const std::string text = report(outcome, plan, scanner);
  std::ofstream(out / "report.txt") << text;
  std::cout << text;
}

void prepare_output(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw std::runtime_error(out.string() + ": cannot create output folder: " + ec.message());
}

}  // namespace

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

  auto* replay = app.add_subcommand("replay", "reconstruct a raw capture offline through the live pipeline");
  std::string capture_file;
  replay->add_option("--capture", capture_file, "raw capture (raw.mpilink) written by mpi scan")->required();
  replay->add_option("--scanner", scanner_file, "scanner description (TOML)")->capture_default_str();
  replay->add_option("--plan", plan_file, "scan plan (TOML)")->required();
  replay->add_option("--out", out_dir, "output folder")->capture_default_str();

  auto* clear = app.add_subcommand("clear-faults", "clear the board's latched safety faults (SAFE -> CONFIG)");
  clear->add_option("--connect", address, "firmware daemon address HOST:PORT")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (clear->parsed()) {
    try {
      const auto [host_name, port] = host::parse_address(address);
      const link::v1::Status status = host::clear_faults(host_name, port, std::chrono::milliseconds(5000));
      std::cout << "faults cleared; the board is in " << link::v1::BoardMode_Name(status.mode()) << '\n';
      return 0;
    } catch (const std::invalid_argument& e) {
      std::cerr << "mpi: " << e.what() << '\n';
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "mpi: " << e.what() << '\n';
      return 1;
    }
  }

  host::ScanPlan plan;
  host::ScannerDescription scanner;
  try {
    plan = host::load_scan_plan(plan_file);
    scanner = host::load_scanner_description(scanner_file);
    prepare_output(out_dir);
  } catch (const std::exception& e) {
    std::cerr << "mpi: " << e.what() << '\n';
    return 2;
  }

  try {
    const fs::path out(out_dir);
    if (scan->parsed()) {
      const auto [host_name, port] = host::parse_address(address);
      std::signal(SIGINT, on_signal);
      std::signal(SIGTERM, on_signal);
      host::LiveScanOptions options;
      options.host = host_name;
      options.port = port;
      options.receive_timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
      options.capture_file = out / "raw.mpilink";
      options.interrupt = &g_interrupt;
      const host::ScanOutcome outcome = host::run_live_scan(plan, scanner, options);
      write_outputs(outcome, plan, scanner, out, "1D x-space, live scan");
    } else {
      const host::ScanOutcome outcome = host::replay_capture(plan, scanner, capture_file);
      write_outputs(outcome, plan, scanner, out, "1D x-space, replay of " + fs::path(capture_file).filename().string());
    }
    std::cout << "outputs in " << fs::absolute(out).lexically_normal().string() << ": profile.png, profile.csv, report.txt"
              << (scan->parsed() ? ", raw.mpilink" : "") << '\n';
    return 0;
  } catch (const std::invalid_argument& e) {
    std::cerr << "mpi: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "mpi: " << e.what() << '\n';
    return 1;
  }
}
