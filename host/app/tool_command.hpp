// Subcommands that are programs of their own (`mpi demo` runs mpi-demo, `mpi sim` runs mpi-sim, like git's
// external commands): they start the simulated scanner, which the host itself never links.
#pragma once

#include <string>
#include <vector>

namespace mpi::cli {

// Replaces this process by the program `name` with `args`; looks next to the running `mpi`, then in the
// build tree's tools folders, then on PATH. Returns only on failure (exit code 2 with a line naming where it
// looked).
int exec_tool(const std::string& name, const std::vector<std::string>& args);

// When the command line names a subcommand that is a program of its own (after an optional --key FILE),
// runs it with the rest of the line (--help included) and returns only on failure; returns -1 otherwise.
int run_tool_subcommand(int argc, char** argv);

}  // namespace mpi::cli
