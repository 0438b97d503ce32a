// mpi calibrate: a system-matrix calibration with the robot (host/calibration_run.hpp): the board over the
// link, the robot over its controller; writes DIR/system_matrix.mdf (MDF v2) and DIR/report.txt.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/calibration_plan.hpp"
#include "mpi/host/calibration_run.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/progress.hpp"
#include "mpi/host/scan_plan.hpp"

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace mpi::cli {

namespace {

struct CalibrateOptions {
  BoardOptions board;
  std::string robot = "127.0.0.1:7601";
  double move_timeout_s = 120.0;
  std::string scanner = "configs/scanners/preclinical-ffp.toml";
  std::string plan;
  std::string out = "calibration";
};

}  // namespace

Command add_calibrate_command(CLI::App& mpi) {
  auto o = std::make_shared<CalibrateOptions>();
  CLI::App* app = mpi.add_subcommand("calibrate", "system-matrix calibration with the robot: moves a delta sample over a grid, writes system_matrix.mdf");
  add_board_options(*app, o->board);
  app->add_option("--robot", o->robot, "the robot controller's address HOST:PORT (mpi sim prints it)")->capture_default_str();
  app->add_option("--move-timeout", o->move_timeout_s, "seconds one robot move may take")->check(CLI::Range(1.0, 3600.0))->capture_default_str();
  add_scanner_option(*app, o->scanner);
  app->add_option("--plan", o->plan, "calibration plan (TOML, e.g. configs/plans/preclinical-2d-calibration.toml)")->required();
  add_out_option(*app, o->out);
  return {app, [o] {
            namespace fs = std::filesystem;
            host::CalibrationPlan plan;
            host::ScannerDescription scanner;
            host::CalibrationOptions options;
            const int checked = run_step("calibrate", [&] {
              plan = host::load_calibration_plan(o->plan);
              scanner = host::load_scanner_description(o->scanner);
              host::check_calibration_plan(plan, scanner);
              const auto [board_host, board_port] = host::parse_address(o->board.address);
              const auto [robot_host, robot_port] = [&] {
                try {
                  return host::parse_address(o->robot);
                } catch (const std::invalid_argument& e) {
                  throw std::invalid_argument(std::string("--robot: ") + e.what());
                }
              }();
              prepare_output(o->out);
              options.board_host = board_host;
              options.board_port = board_port;
              options.board_timeout = o->board.timeout();
              options.robot_host = robot_host;
              options.robot_port = robot_port;
              options.move_timeout = std::chrono::milliseconds(static_cast<long>(o->move_timeout_s * 1000));
              options.out = o->out;
              return 0;
            });
            if (checked != 0) return checked == kExitFailed ? kExitBadInput : checked;  // nothing was started: all bad input
            install_interrupt_handlers();
            options.interrupt = &interrupt_flag();
            // A bar with rate and ETA on a terminal; otherwise a line per ~5 % of the positions on stdout.
            std::optional<host::Progress> bar;
            if (host::Progress::is_terminal(STDOUT_FILENO)) {
              options.progress = [&bar](std::size_t done, std::size_t total, std::size_t, double) {
                if (!bar) bar.emplace("calibrate", total, "positions", std::cout, true);
                bar->update(done);
              };
            } else {
              options.progress = [](std::size_t done, std::size_t total, std::size_t backgrounds, double elapsed_s) {
                if (host::calibration_progress_due(done, total)) std::cout << host::calibration_progress_line(done, total, backgrounds, elapsed_s) << std::endl;
              };
            }
            return run_step("calibrate", [&] {
              const host::CalibrationOutcome r = host::run_calibration(plan, scanner, options);
              if (bar) bar->finish();
              std::cout << r.report << "outputs in " << fs::absolute(o->out).lexically_normal().string() << ": system_matrix.mdf, report.txt\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
