// mpi inspect: summary and conformance check of an MDF file.
#include "command.hpp"

#include "mpi/host/mdf_recorder.hpp"

#include <iostream>
#include <memory>

namespace mpi::cli {

Command add_inspect_command(CLI::App& mpi) {
  auto file = std::make_shared<std::string>();
  CLI::App* app = mpi.add_subcommand("inspect", "summary and conformance check of an MDF file (exit 1 on errors)");
  app->add_option("FILE", *file, "MDF file")->required();
  return {app, [file] {
            return run_step("inspect", [&] {
              host::Inspection r;
              try {
                r = host::inspect_mdf(*file);
              } catch (const std::exception& e) {
                throw std::invalid_argument(e.what());
              }
              std::cout << r.text;
              return r.errors > 0 ? kExitFailed : 0;
            });
          }};
}

}  // namespace mpi::cli
