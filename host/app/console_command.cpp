// mpi console: the live web console (docs/console.md). Serves a page on loopback that shows the board
// (as an observer), starts and stops scans of the plan (run_live_scan on a worker thread, the same outputs
// as `mpi scan`), draws the live image, the latest frame's harmonic spectrum and the newest relaxometry
// PSF under --out. Commands need the scanner's key, proven by the page; without it the page is read-only.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/link_client.hpp"
#include "mpi/host/scan_outputs.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/host/web_console.hpp"
#include "mpi/host/web_console_service.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace mpi::cli {

namespace {

struct ConsoleOptions {
  BoardOptions board;
  std::string scanner = "configs/scanners/demo-1d.toml";
  std::string plan;
  std::string out = "out";
  std::string listen = "127.0.0.1:8080";
};

// "ADDRESS:PORT" with port 0..65535 (0: a free port); IPv6 in brackets.
std::pair<std::string, std::uint16_t> parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::invalid_argument("--listen '" + text + "': expected ADDRESS:PORT (e.g. 127.0.0.1:8080, port 0 picks a free one)");
  }
  std::string address = text.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') address = address.substr(1, address.size() - 2);
  unsigned long port = 0;
  const std::string digits = text.substr(colon + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 5 || (port = std::stoul(digits)) > 65535) {
    throw std::invalid_argument("--listen '" + text + "': the port must be 0..65535");
  }
  return {address, static_cast<std::uint16_t>(port)};
}

}  // namespace

Command add_console_command(CLI::App& mpi) {
  auto o = std::make_shared<ConsoleOptions>();
  CLI::App* app = mpi.add_subcommand("console", "live web console: board status, start/stop scans, live image, spectrum and PSF in a browser");
  add_board_options(*app, o->board);
  add_scanner_option(*app, o->scanner);
  add_plan_option(*app, o->plan)->required();
  add_out_option(*app, o->out);
  app->add_option("--listen", o->listen, "address of the page ADDRESS:PORT (loopback by default; port 0: a free port, printed)")
      ->capture_default_str();
  return {app, [o] {
            namespace fs = std::filesystem;
            host::ConsoleServiceOptions service_options;
            host::WebConsoleOptions web_options;
            const int checked = run_step("console", [&] {
              service_options.plan = host::load_scan_plan(o->plan);
              service_options.scanner = host::load_scanner_description(o->scanner);
              host::check_plan_with_scanner(service_options.plan, service_options.scanner);
              prepare_output(o->out);
              service_options.out = o->out;
              const auto [host_name, port] = host::parse_address(o->board.address);
              service_options.host = host_name;
              service_options.port = port;
              service_options.receive_timeout = o->board.timeout();
              const auto [address, listen_port] = parse_listen(o->listen);
              web_options.address = address;
              web_options.port = listen_port;
              // The key the page must prove (the same file the link uses); a console without one is read-only.
              if (const char* file = std::getenv("MPI_LINK_KEY"); file != nullptr && *file != '\0') {
                try {
                  web_options.key = protocol::load_key_file(file, false);
                } catch (const std::exception& e) {
                  throw std::invalid_argument(std::string("--key: ") + e.what());
                }
              } else {
                std::cerr << "mpi console: no scanner key (--key or $MPI_LINK_KEY): the board cannot be reached and the page is read-only\n";
              }
              return 0;
            });
            if (checked != 0) return kExitBadInput;
            return run_step("console", [&] {
              host::ConsoleState state;
              state.set_session_info(service_options.plan.file.string(), o->scanner, fs::absolute(o->out).lexically_normal().string());
              std::optional<host::ConsoleService> service;
              service.emplace(state, service_options);
              host::WebConsole web(state, service->actions(), web_options);
              install_interrupt_handlers();
              web.start();
              std::cout << "console: " << web.url() << std::endl;
              service->start_observer();
              int ticks = 0;
              while (!interrupt_flag().load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                if (++ticks % 30 == 0) service->refresh_psf();  // a relaxometry run may have finished meanwhile
              }
              std::cout << "console: stopping" << (service->scan_running() ? " (the running scan is stopped and its outputs written)" : "")
                        << std::endl;
              web.stop();       // no page command reaches the service from here on
              service.reset();  // stops a running scan, writes its outputs, ends the observer
              return 0;
            });
          }};
}

}  // namespace mpi::cli
