// Options several `mpi` subcommands share, spelt and explained the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <string>

namespace mpi::cli {

inline constexpr const char* kDefaultAddress = "127.0.0.1:7600";

// --connect HOST:PORT and --timeout SECONDS: the firmware daemon.
struct BoardOptions {
  std::string address = kDefaultAddress;
  double timeout_s = 5.0;
  [[nodiscard]] std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)); }
};

inline void add_board_options(CLI::App& app, BoardOptions& o) {
  app.add_option("--connect", o.address, "firmware daemon address HOST:PORT")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds to wait for the board before giving up")->check(CLI::Range(0.1, 600.0))->capture_default_str();
}

inline CLI::Option* add_out_option(CLI::App& app, std::string& out) {
  return app.add_option("--out", out, "output folder (created if missing)")->capture_default_str();
}

inline CLI::Option* add_scanner_option(CLI::App& app, std::string& scanner) {
  return app.add_option("--scanner", scanner, "scanner description (TOML, configs/scanners/*.toml)")->capture_default_str();
}

inline CLI::Option* add_plan_option(CLI::App& app, std::string& plan) {
  return app.add_option("--plan", plan, "scan plan (TOML, configs/plans/*.toml)");
}

}  // namespace mpi::cli
