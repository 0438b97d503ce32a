// mpi-firmware: the scanner-side daemon.
//   mpi-firmware --bus shm:NAME|dev:/dev/mem --scanner FILE --listen HOST:PORT --key FILE [--port-file PATH]
//                [--no-field-control] [--rt-priority 1..99] [--cpu-affinity LIST]
// Set-up errors print one line to stderr and exit with status 2.
#include "mpi/firmware/firmware.hpp"
#include "mpi/config/scanner_description.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

namespace {

constexpr int kSetupFailed = 2;

int setup_error(const std::string& message) {
  std::cerr << "mpi-firmware: " << message << std::endl;
  return kSetupFailed;
}

}  // namespace

int main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // stdout carries only the "listening" line; the log goes to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mpi-firmware"));

  CLI::App app{"MPI scanner firmware daemon: drive-field sequencer, acquisition streamer and link server"};
  std::string bus_spec;
  std::string scanner_file;
  std::string listen_text;
  std::string port_file;
  std::string key_file;
  app.add_option("--bus", bus_spec, "register bus: shm:NAME (hardware-in-the-loop plant) or dev:PATH (board device)")->required();
  app.add_option("--scanner", scanner_file, "scanner description (TOML)")->required();
  app.add_option("--listen", listen_text, "address to serve the link on, HOST:PORT (port 0: any free port)")->required();
  app.add_option("--port-file", port_file, "write the port number here once listening");
  app.add_option("--key", key_file, "the scanner's link key (hex, mode 0600: hosts must prove they hold it; mpi keygen makes one)")->required();
  bool no_field_control = false;
  app.add_flag("--no-field-control", no_field_control,
               "do not regulate the drive field from the reference pickups (e.g. a board streaming a test pattern)");
  int rt_priority = 0;
  app.add_option("--rt-priority", rt_priority,
                 "run the control and streaming threads with SCHED_FIFO at this priority (1..99); "
                 "without permission: a warning and normal scheduling")
      ->check(CLI::Range(1, 99));
  std::string cpu_affinity;
  app.add_option("--cpu-affinity", cpu_affinity, "pin the control and streaming threads to these CPUs, e.g. 1 or 0,1 or 0-3");
  mpi::firmware::ThreadPolicy thread_policy;
  try {
    app.parse(argc, argv);
    thread_policy.rt_priority = rt_priority;
    if (app.count("--cpu-affinity") > 0) thread_policy.cpus = mpi::firmware::parse_cpu_list(cpu_affinity);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return setup_error(e.what());
  } catch (const mpi::firmware::SetupError& e) {
    return setup_error(e.what());
  }

  std::unique_ptr<mpi::firmware::Firmware> firmware;
  try {
    const mpi::config::ScannerDescription scanner = mpi::config::load_scanner_description(scanner_file);
    const mpi::firmware::ListenAddress listen = mpi::firmware::parse_listen_address(listen_text);
    // A key others can read is refused: whoever holds it can energise the coils.
    mpi::protocol::Key key = mpi::protocol::load_key_file(key_file, true);
    auto bus = mpi::firmware::open_bus(bus_spec);
    try {
      firmware = std::make_unique<mpi::firmware::Firmware>(std::move(bus), scanner, listen, std::move(key));
    } catch (const mpi::firmware::SetupError& e) {
      const std::string message = e.what();
      // A scanner description that does not fit the board: name the file.
      if (message.starts_with("[")) return setup_error(scanner_file + ": " + message);
      throw;
    }
    firmware->set_field_control(!no_field_control);
    firmware->set_thread_policy(thread_policy);
    firmware->handle_signals();
  } catch (const std::exception& e) {
    return setup_error(e.what());
  }

  if (!port_file.empty()) {
    // Written whole (temporary file, then rename) before the "listening" line, so a reader that has seen
    // either finds the port.
    const std::string temporary = port_file + ".tmp";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << firmware->port() << '\n';
      if (!out) return setup_error("--port-file " + port_file + ": cannot write");
    }
    if (std::rename(temporary.c_str(), port_file.c_str()) != 0) return setup_error("--port-file " + port_file + ": cannot write");
  }
  std::cout << "firmware listening on " << firmware->listen_text() << std::endl;
  try {
    return firmware->run();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
