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

}  // namespace mpi::cli
