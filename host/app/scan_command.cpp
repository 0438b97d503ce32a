// mpi scan: runs a scan against the firmware daemon, reconstructs it live and records it.
#include "command.hpp"
#include "command_options.hpp"
#include "frame_progress.hpp"

#include "mpi/host/link_client.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_outputs.hpp"
#include "mpi/host/scan_plan.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace mpi::cli {

namespace {

struct ScanOptions {
  BoardOptions board;
  std::string scanner = "configs/scanners/demo-1d.toml";
  std::string plan;
  std::string out = "out";
};

}  // namespace

Command add_scan_command(CLI::App& mpi) {
  auto o = std::make_shared<ScanOptions>();
  CLI::App* app = mpi.add_subcommand("scan", "run a scan against the firmware daemon, reconstruct it live and record it (raw.mpilink, scan.mdf)");
  add_board_options(*app, o->board);
  add_scanner_option(*app, o->scanner);
  add_plan_option(*app, o->plan)->required();
  add_out_option(*app, o->out);
  return {app, [o] {
            namespace fs = std::filesystem;
            host::ScanPlan plan;
            host::ScannerDescription scanner;
            host::LiveScanOptions options;
            const int checked = run_step("scan", [&] {
              plan = host::load_scan_plan(o->plan);
              scanner = host::load_scanner_description(o->scanner);
              host::check_plan_with_scanner(plan, scanner);
              prepare_output(o->out);
              const auto [host_name, port] = host::parse_address(o->board.address);
              options.host = host_name;
              options.port = port;
              options.receive_timeout = o->board.timeout();
              options.capture_file = fs::path(o->out) / "raw.mpilink";
              return 0;
            });
            if (checked != 0) return checked == kExitFailed ? kExitBadInput : checked;  // nothing was started: all bad input
            install_interrupt_handlers();
            options.interrupt = &interrupt_flag();
            FrameProgress progress("scan");
            options.on_frame = progress.hook();
            return run_step("scan", [&] {
              const host::ScanOutcome outcome = host::run_live_scan(plan, scanner, options);
              progress.finish();
              const fs::path out(o->out);
              const std::string written = host::write_scan_outputs(outcome, plan, scanner, out, host::method_title(plan) + ", live scan");
              std::cout << "outputs in " << fs::absolute(out).lexically_normal().string() << ": " << written << ", raw.mpilink, scan.mdf\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
