// mpi relax: relaxometry of a tracer sample on the relaxometer.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/link_client.hpp"
#include "mpi/host/relax_run.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace mpi::cli {

namespace {

struct RelaxOptions {
  BoardOptions board;
  std::string plan;
  std::string scanner = "configs/scanners/relaxometer.toml";
  std::string out = "out";
  bool no_wait = false;
};

}  // namespace

Command add_relax_command(CLI::App& mpi) {
  auto o = std::make_shared<RelaxOptions>();
  CLI::App* app = mpi.add_subcommand("relax", "relaxometry of a tracer sample: bias sweep, PSF, FWHM, sensitivity, relaxation time, harmonics");
  add_plan_option(*app, o->plan)->description("relaxometry plan (TOML, configs/plans/relax-*.toml)")->required();
  add_out_option(*app, o->out);
  add_board_options(*app, o->board);
  add_scanner_option(*app, o->scanner);
  app->add_flag("--no-wait", o->no_wait, "background = \"empty\": go on to the sample without waiting for Enter");
  return {app, [o] {
            host::RelaxCommand command;
            const int checked = run_step("relax", [&] {
              const auto [host_name, port] = host::parse_address(o->board.address);
              command.plan_file = o->plan;
              command.scanner_file = o->scanner;
              command.out = o->out;
              command.host = host_name;
              command.port = port;
              command.receive_timeout = o->board.timeout();
              (void)host::prepare_relax(command.plan_file, command.scanner_file);
              prepare_output(o->out);
              return 0;
            });
            if (checked != 0) return kExitBadInput;
            install_interrupt_handlers();
            command.interrupt = &interrupt_flag();
            if (!o->no_wait) {
              command.insert_sample = [] {
                std::cout << "empty acquisition done: put the sample in and press Enter" << std::endl;
                std::string line;
                if (!std::getline(std::cin, line)) {
                  throw std::runtime_error(
                      "standard input ended before the sample was confirmed in (the empty acquisition is in background.mpilink; use --no-wait for "
                      "unattended runs)");
                }
              };
            }
            return run_step("relax", [&] {
              const host::RelaxOutcome r = host::run_relax(command);
              std::cout << r.summary << "outputs in " << std::filesystem::absolute(o->out).lexically_normal().string() << ": ";
              for (std::size_t i = 0; i < r.written.size(); ++i) std::cout << (i ? ", " : "") << r.written[i];
              std::cout << '\n';
              return 0;
            });
          }};
}

}  // namespace mpi::cli
