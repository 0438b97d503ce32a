// One subcommand of the `mpi` command: its CLI11 sub-app (options bound to storage the command owns) and
// what runs once the command line is parsed. Each subcommand lives in host/app/<name>_command.cpp and is
// registered by mpi_main.cpp; the helpers below give every subcommand the same error and exit-code rules.
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

namespace mpi::cli {

struct Command {
  CLI::App* app = nullptr;    // the subcommand, added to the `mpi` app
  std::function<int()> run;   // runs it after parsing; returns the exit code
};

// Exit codes of every subcommand: 0 done, 1 the work failed (a scan fault, a lost link, a failed
// analysis), 2 bad input (a file, plan, option or address that is wrong; the message names it).
inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;

// Runs a subcommand's work: an exception becomes one line "mpi NAME: what" on stderr and exit code 2 for
// bad input (std::invalid_argument and the plan/description errors derived from it) or 1 otherwise.
int run_step(const std::string& name, const std::function<int()>& step);

// Creates the output folder; throws std::invalid_argument naming it when it cannot.
void prepare_output(const std::filesystem::path& out);

// Ctrl-C / SIGTERM set this flag (after install_interrupt_handlers()); long work polls it and stops cleanly.
const std::atomic<bool>& interrupt_flag();
void install_interrupt_handlers();

// The subcommands, in the order `mpi --help` lists them.
Command add_demo_command(CLI::App& mpi);
Command add_sim_command(CLI::App& mpi);
Command add_scan_command(CLI::App& mpi);
Command add_console_command(CLI::App& mpi);
Command add_status_command(CLI::App& mpi);
Command add_relax_command(CLI::App& mpi);
Command add_relax_compare_command(CLI::App& mpi);
Command add_harmonics_command(CLI::App& mpi);
Command add_calibrate_command(CLI::App& mpi);
Command add_replay_command(CLI::App& mpi);
Command add_reconstruct_command(CLI::App& mpi);
Command add_analyze_command(CLI::App& mpi);
Command add_inspect_command(CLI::App& mpi);
Command add_recover_command(CLI::App& mpi);
Command add_clear_faults_command(CLI::App& mpi);
Command add_keygen_command(CLI::App& mpi);

}  // namespace mpi::cli
