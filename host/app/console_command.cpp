// mpi console: registered here; its work follows in its own change.
#include "command.hpp"

#include <iostream>

namespace mpi::cli {

Command add_console_command(CLI::App& mpi) {
  CLI::App* app = mpi.add_subcommand("console", "console");
  return {app, [] {
            std::cerr << "mpi console: not in this build\n";
            return kExitFailed;
          }};
}

}  // namespace mpi::cli
