// mpi status: the board's mode, scan, faults, drive-field control and temperatures, as a read-only observer.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/board_status.hpp"
#include "mpi/host/link_client.hpp"

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

namespace mpi::cli {

namespace {

struct StatusOptions {
  BoardOptions board;
  double watch_s = 0.0;
};

}  // namespace

Command add_status_command(CLI::App& mpi) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* app = mpi.add_subcommand("status", "the board's mode, scan, faults, drive-field control and temperatures (read-only observer)");
  add_board_options(*app, o->board);
  app->add_option("--watch", o->watch_s, "print again every this many seconds until Ctrl-C (0: once)")->check(CLI::Range(0.0, 3600.0))->capture_default_str();
  return {app, [o] {
            std::pair<std::string, std::uint16_t> address;
            if (const int checked = run_step("status", [&] {
                  address = host::parse_address(o->board.address);
                  return 0;
                });
                checked != 0) {
              return checked;
            }
            install_interrupt_handlers();
            return run_step("status", [&] {
              for (;;) {
                const host::BoardSnapshot s = host::read_board_status(address.first, address.second, o->board.timeout());
                std::cout << host::format_board_status(s) << std::flush;
                if (o->watch_s <= 0.0) return 0;
                const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o->watch_s);
                while (std::chrono::steady_clock::now() < until) {
                  if (interrupt_flag().load()) return 0;
                  std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
                std::cout << '\n';
              }
            });
          }};
}

}  // namespace mpi::cli
