// mpi analyze: registered here; its work follows in its own change.
#include "command.hpp"

#include <iostream>

namespace mpi::cli {

Command add_analyze_command(CLI::App& mpi) {
  CLI::App* app = mpi.add_subcommand("analyze", "analyze");
  return {app, [] {
            std::cerr << "mpi analyze: not in this build\n";
            return kExitFailed;
          }};
}

}  // namespace mpi::cli
