// mpi-sim: the simulated scanner as a standing service. Starts the hardware-in-the-loop plant (board logic
// and scanner physics in shared memory) and the firmware daemon on it for a scanner description and a plan
// (its tracer and [simulation] phantom), and, when the phantom has a calibration robot, the robot's
// controller on TCP (robot_server.hpp). Prints one line per service and runs until SIGINT or SIGTERM:
//
//   firmware 127.0.0.1:7600
//   robot 127.0.0.1:7601        (only with a robot phantom)
//   key /tmp/mpi-sim-1234/link.key
//   shm /mpi-hil-1234-0
//   work /tmp/mpi-sim-1234
//
// Exit codes: 0 stopped cleanly, 1 a service failed, 2 bad options or files (one line naming them).
#include "robot_server.hpp"

#include "mpi/config/phantom_description.hpp"
#include "mpi/config/plan_simulation.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/protocol/auth.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace mpi;

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*signal*/) { g_stop.store(true); }

struct Address {
  std::string host;
  std::uint16_t port = 0;
};

// "HOST:PORT" with an IP address and a port 0..65535; throws std::invalid_argument naming the option.
Address parse_listen(const std::string& option, const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument(option + " '" + text + "': expected HOST:PORT, e.g. 127.0.0.1:7600");
  Address a;
  a.host = text.substr(0, colon);
  unsigned port = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(first, last, port);
  if (first == last || ec != std::errc{} || end != last || port > 65535) {
    throw std::invalid_argument(option + " '" + text + "': the port must be a number 0..65535");
  }
  a.port = static_cast<std::uint16_t>(port);
  boost::system::error_code bad;
  (void)boost::asio::ip::make_address(a.host, bad);
  if (bad) throw std::invalid_argument(option + " '" + text + "': '" + a.host + "' is not an IP address");
  return a;
}

// A fixed port must be free before the firmware is started (it would only log that it cannot listen).
void check_port_free(const std::string& option, const Address& a) {
  if (a.port == 0) return;
  namespace ip = boost::asio::ip;
  boost::asio::io_context io;
  ip::tcp::acceptor acceptor(io);
  const ip::tcp::endpoint endpoint(ip::make_address(a.host), a.port);
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) throw std::invalid_argument(option + " " + a.host + ":" + std::to_string(a.port) + ": " + ec.message());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpi-sim: the simulated scanner (plant + firmware, and its calibration robot) as a service on loopback"};
  std::string scanner_file, plan_file, key_file, faults_file, work_dir;
  std::string listen = "127.0.0.1:7600";
  std::string robot_listen;
  double pace = 1.0;
  app.add_option("--scanner", scanner_file, "scanner description (TOML)")->required();
  app.add_option("--plan", plan_file, "plan: its tracer and [simulation] phantom are what the scanner holds")->required();
  app.add_option("--pace", pace, "plant speed: 1 = real time, 0 = as fast as it can")->check(CLI::Range(0.0, 100.0))->capture_default_str();
  app.add_option("--listen", listen, "the firmware's address HOST:PORT (port 0: a free one)")->capture_default_str();
  app.add_option("--robot-listen", robot_listen, "the robot controller's address HOST:PORT (default 127.0.0.1:0 with a robot phantom)");
  app.add_option("--key", key_file, "the scanner's link key file (default: a new one in the work folder)");
  app.add_option("--faults", faults_file, "scheduled faults for the plant (TOML; default: the plan's)");
  app.add_option("--work", work_dir, "folder for the logs and the key (default: a new folder in the temporary directory)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  std::optional<config::RobotDescription> robot;
  Address firmware_address, robot_address{"127.0.0.1", 0};
  fs::path work;
  try {
    firmware_address = parse_listen("--listen", listen);
    if (!robot_listen.empty()) robot_address = parse_listen("--robot-listen", robot_listen);
    (void)config::load_scanner_description(scanner_file);
    const config::PlanSimulation simulation = config::load_plan_simulation(plan_file);
    robot = config::load_phantom_description(simulation.phantom_file).robot;
    if (!robot && !robot_listen.empty()) {
      throw std::invalid_argument("--robot-listen: the plan's phantom " + simulation.phantom_file.string() + " has no [phantom.robot]");
    }
    if (!faults_file.empty() && !fs::is_regular_file(faults_file)) throw std::invalid_argument("--faults " + faults_file + ": no such file");
    if (!key_file.empty()) (void)protocol::load_key_file(key_file);
    check_port_free("--listen", firmware_address);
    if (robot) check_port_free("--robot-listen", robot_address);
    work = work_dir.empty() ? fs::temp_directory_path() / ("mpi-sim-" + std::to_string(::getpid())) : fs::path(work_dir);
    std::error_code ec;
    fs::create_directories(work, ec);
    if (ec) throw std::invalid_argument("--work " + work.string() + ": cannot create the folder: " + ec.message());
    work = fs::absolute(work);
    if (key_file.empty()) {
      key_file = (work / "link.key").string();
      if (!fs::exists(key_file)) protocol::write_key_file(key_file);
    }
    key_file = fs::absolute(key_file).string();
  } catch (const std::exception& e) {
    std::cerr << "mpi-sim: " << e.what() << '\n';
    return 2;
  }

  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  try {
    hil::ScenarioFiles files;
    files.scanner = scanner_file;
    files.plan = plan_file;
    files.work_dir = work;
    files.plant_pace = pace;
    files.faults = faults_file;
    files.firmware_listen = firmware_address.host + ":" + std::to_string(firmware_address.port);
    files.key_file = key_file;
    hil::Scenario scenario({MPI_PLANT_EXE, MPI_FIRMWARE_EXE, ""}, files);
    std::unique_ptr<drivers::SharedMemoryBus> bus;
    std::unique_ptr<sim::RobotServer> server;
    if (robot) {
      bus = std::make_unique<drivers::SharedMemoryBus>(scenario.shm_name());
      // The longest move (across the grid or to the park position) at this pace, with margin.
      const double longest_s = robot->move_time_s * std::max({robot->grid[0], robot->grid[1], robot->grid[2]});
      const double timeout_s = 10.0 + (pace > 0.0 ? 4.0 * longest_s / pace : longest_s);
      server = std::make_unique<sim::RobotServer>(robot_address.host, robot_address.port, *robot, *bus,
                                                  std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)));
    }
    std::cout << "firmware " << firmware_address.host << ':' << scenario.firmware_port() << '\n';
    if (server) std::cout << "robot " << robot_address.host << ':' << server->port() << '\n';
    std::cout << "key " << key_file << '\n' << "shm " << scenario.shm_name() << '\n' << "work " << work.string() << '\n' << std::flush;
    while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (server) server->stop();
    server.reset();
    bus.reset();
    const bool clean = scenario.stop();
    std::cerr << "mpi-sim: stopped" << (clean ? "" : " (plant or firmware did not exit cleanly: see the logs in " + work.string() + ")") << '\n';
    return clean ? 0 : 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "mpi-sim: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "mpi-sim: " << e.what() << " (logs in " << work.string() << ")\n";
    return 1;
  }
}
