// mpi: the operator's command. One subcommand per task at the scanner (host/app/<name>_command.cpp):
// start the simulated scanner, scan, watch the board, run the web console, relaxometry, calibrate a system
// matrix, replay and reconstruct recordings, analyse images, inspect and recover MDF files.
#include "command.hpp"
#include "tool_command.hpp"

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace mpi::cli;
  if (const int code = run_tool_subcommand(argc, argv); code >= 0) return code;  // mpi demo, mpi sim
  CLI::App app{"mpi: run the MPI scanner, replay and reconstruct its recordings, and analyse the images"};
  app.require_subcommand(1);
  app.footer("`mpi SUBCOMMAND --help` describes each. Exit codes: 0 done, 1 the work failed, 2 bad input.\n"
             "Every subcommand that talks to the board proves it holds the scanner's link key (--key or $MPI_LINK_KEY).");
  // The scanner's link key: every command that connects to the board proves it holds it.
  std::string key_file;
  app.add_option("--key", key_file, "the scanner's link key file (default: $MPI_LINK_KEY)");
  app.fallthrough();

  const std::vector<Command> commands{
      add_demo_command(app),        add_sim_command(app),       add_scan_command(app),         add_console_command(app),
      add_status_command(app),      add_relax_command(app),     add_relax_compare_command(app), add_harmonics_command(app),
      add_calibrate_command(app),   add_replay_command(app),    add_reconstruct_command(app),   add_analyze_command(app),
      add_inspect_command(app),     add_recover_command(app),   add_clear_faults_command(app),  add_keygen_command(app),
  };

  // The first word that is not the key option must be a subcommand: name it when it is not one.
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--key") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    bool known = false;
    for (const Command& c : commands) known = known || c.app->get_name() == a;
    if (!known) {
      std::cerr << "mpi: '" << a << "' is not a subcommand; `mpi --help` lists them\n";
      return kExitBadInput;
    }
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and exit 0; an unknown subcommand or option, a missing or bad value is
    // bad input like any other (CLI11 names the option).
    return app.exit(e) == 0 ? 0 : kExitBadInput;
  }
  if (!key_file.empty()) ::setenv("MPI_LINK_KEY", key_file.c_str(), 1);
  for (const Command& c : commands) {
    if (c.app->parsed()) return c.run();
  }
  return kExitBadInput;
}
