// The rules every `mpi` subcommand shares: one error line naming what and where, exit 2 for bad input and
// 1 for failed work; the output folder; Ctrl-C.
#include "command.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/host/scan_plan.hpp"

#include <csignal>
#include <iostream>
#include <stdexcept>

namespace mpi::cli {

namespace {

std::atomic<bool> g_interrupt{false};

extern "C" void on_signal(int /*signal*/) { g_interrupt.store(true); }

}  // namespace

int run_step(const std::string& name, const std::function<int()>& step) {
  try {
    return step();
  } catch (const std::invalid_argument& e) {
    std::cerr << "mpi " << name << ": " << e.what() << '\n';
    return kExitBadInput;
  } catch (const host::PlanError& e) {
    std::cerr << "mpi " << name << ": " << e.what() << '\n';
    return kExitBadInput;
  } catch (const config::ConfigError& e) {
    std::cerr << "mpi " << name << ": " << e.what() << '\n';
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "mpi " << name << ": " << e.what() << '\n';
    return kExitFailed;
  }
}

void prepare_output(const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw std::invalid_argument(out.string() + ": cannot create output folder: " + ec.message());
}

const std::atomic<bool>& interrupt_flag() { return g_interrupt; }

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

}  // namespace mpi::cli
