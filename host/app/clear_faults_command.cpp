// mpi clear-faults: SAFE back to CONFIG once no fault condition persists.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/link_client.hpp"
#include "mpi/host/scan_controller.hpp"

#include <iostream>
#include <memory>

namespace mpi::cli {

Command add_clear_faults_command(CLI::App& mpi) {
  auto o = std::make_shared<BoardOptions>();
  CLI::App* app = mpi.add_subcommand("clear-faults", "clear the board's latched safety faults (SAFE -> CONFIG)");
  add_board_options(*app, *o);
  return {app, [o] {
            return run_step("clear-faults", [&] {
              const auto [host_name, port] = host::parse_address(o->address);
              const link::v1::Status status = host::clear_faults(host_name, port, o->timeout());
              std::cout << "faults cleared; the board is in " << link::v1::BoardMode_Name(status.mode()) << '\n';
              return 0;
            });
          }};
}

}  // namespace mpi::cli
