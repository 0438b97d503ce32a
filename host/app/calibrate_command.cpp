// mpi calibrate: registered here; its work follows in its own change.
#include "command.hpp"

#include <iostream>

namespace mpi::cli {

Command add_calibrate_command(CLI::App& mpi) {
  CLI::App* app = mpi.add_subcommand("calibrate", "calibrate");
  return {app, [] {
            std::cerr << "mpi calibrate: not in this build\n";
            return kExitFailed;
          }};
}

}  // namespace mpi::cli
