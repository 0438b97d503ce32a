// mpi keygen FILE: makes a scanner's link key.
#include "command.hpp"

#include "mpi/protocol/auth.hpp"

#include <iostream>
#include <memory>

namespace mpi::cli {

Command add_keygen_command(CLI::App& mpi) {
  auto file = std::make_shared<std::string>();
  CLI::App* app = mpi.add_subcommand("keygen", "make a scanner's link key file (random 256-bit key, hex, mode 0600) for mpi-firmware --key and mpi --key");
  app->add_option("FILE", *file, "key file to create (an existing file is never overwritten)")->required();
  return {app, [file] {
            return run_step("keygen", [&] {
              try {
                protocol::write_key_file(*file);
              } catch (const std::exception& e) {
                throw std::invalid_argument(e.what());
              }
              std::cout << "link key written to " << *file << " (mode 0600): give it to mpi-firmware --key and mpi --key\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
