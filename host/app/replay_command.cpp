// mpi replay: a raw capture or a recorded MDF file through the live pipeline, offline.
#include "command.hpp"
#include "command_options.hpp"
#include "frame_progress.hpp"

#include "mpi/host/mdf_reconstruction.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_outputs.hpp"
#include "mpi/host/scan_plan.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace mpi::cli {

namespace {

struct ReplayOptions {
  std::string capture;
  std::string mdf;
  std::string scanner = "configs/scanners/demo-1d.toml";
  std::string plan;
  std::string out = "out";
  bool scanner_given = false;
};

namespace fs = std::filesystem;

int replay_mdf(const ReplayOptions& o) {
  host::MdfReplay r;
  FrameProgress progress("replay");
  const int loaded = run_step("replay", [&] {
    prepare_output(o.out);
    r = host::replay_mdf(o.mdf, o.plan, o.scanner_given ? fs::path(o.scanner) : fs::path(), progress.hook());
    progress.finish();
    return 0;
  });
  if (loaded != 0) return loaded;
  return run_step("replay", [&] {
    const fs::path out(o.out);
    const std::string written = host::write_scan_outputs(r.outcome, r.plan, r.scanner, out,
                                                         host::method_title(r.plan) + ", replay of " + fs::path(o.mdf).filename().string());
    std::ostringstream speed;
    speed << "replay of " << r.file_frames << " recorded frames (" << r.acquisition_s << " s of acquisition) in " << r.wall_s << " s: "
          << r.speed() << " x real time\n";
    std::ofstream(out / "report.txt", std::ios::app) << speed.str();
    std::cout << speed.str() << "outputs in " << fs::absolute(out).lexically_normal().string() << ": " << written << '\n';
    return 0;
  });
}

int replay_capture(const ReplayOptions& o) {
  host::ScanPlan plan;
  host::ScannerDescription scanner;
  const int loaded = run_step("replay", [&] {
    if (o.plan.empty()) throw std::invalid_argument("--capture needs --plan (the plan the capture was scanned with)");
    plan = host::load_scan_plan(o.plan);
    scanner = host::load_scanner_description(o.scanner);
    host::check_plan_with_scanner(plan, scanner);
    prepare_output(o.out);
    return 0;
  });
  if (loaded != 0) return kExitBadInput;
  return run_step("replay", [&] {
    const fs::path out(o.out);
    FrameProgress progress("replay");
    const host::ScanOutcome outcome = host::replay_capture(plan, scanner, o.capture, progress.hook());
    progress.finish();
    const std::string written =
        host::write_scan_outputs(outcome, plan, scanner, out, host::method_title(plan) + ", replay of " + fs::path(o.capture).filename().string());
    std::cout << "outputs in " << fs::absolute(out).lexically_normal().string() << ": " << written << '\n';
    return 0;
  });
}

}  // namespace

Command add_replay_command(CLI::App& mpi) {
  auto o = std::make_shared<ReplayOptions>();
  CLI::App* app = mpi.add_subcommand("replay", "reconstruct a raw capture or a recorded MDF file offline through the live pipeline");
  auto* capture = app->add_option("--capture", o->capture, "raw capture (raw.mpilink) written by mpi scan");
  auto* mdf = app->add_option("--mdf", o->mdf, "MDF file (scan.mdf) written by mpi scan");
  capture->excludes(mdf);
  auto* scanner = add_scanner_option(*app, o->scanner);
  scanner->description("scanner description (TOML; with --mdf: default the one stored in the file)");
  add_plan_option(*app, o->plan)->description("scan plan (TOML; required with --capture; with --mdf: default the one stored in the file)");
  add_out_option(*app, o->out);
  return {app, [o, scanner] {
            o->scanner_given = scanner->count() > 0;
            if (!o->mdf.empty()) return replay_mdf(*o);
            if (o->capture.empty()) {
              std::cerr << "mpi replay: give --capture FILE (with --plan) or --mdf FILE\n";
              return kExitBadInput;
            }
            return replay_capture(*o);
          }};
}

}  // namespace mpi::cli
