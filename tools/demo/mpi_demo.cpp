// The demo: a simulated 1D MPI scan end to end. Starts the hardware-in-the-loop plant and the firmware
// daemon as processes on loopback, runs `mpi scan` against them, stops everything and says where the
// outputs are.
#include "mpi/hil/scenario.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"mpi-demo: plant + firmware + host, one simulated 1D scan on loopback"};
  std::string scanner = "configs/scanners/demo-1d.toml";
  std::string plan = "configs/plans/demo-1d-two-points.toml";
  std::string out = "demo-output";
  double pace = 1.0;
  app.add_option("--scanner", scanner, "scanner description")->check(CLI::ExistingFile)->capture_default_str();
  app.add_option("--plan", plan, "scan plan (its tracer and [simulation] phantom are the simulated sample)")->check(CLI::ExistingFile)->capture_default_str();
  app.add_option("--out", out, "output folder")->capture_default_str();
  app.add_option("--pace", pace, "plant speed: 1 = real time, 0 = as fast as it can")->check(CLI::Range(0.0, 100.0))->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Ctrl-C ends the scenario through the destructors below, so nothing is left running.
  std::signal(SIGINT, [](int) {});
  try {
    const std::filesystem::path out_dir = std::filesystem::absolute(out);
    std::cout << "demo: starting plant (simulated scanner) and firmware daemon on loopback\n" << std::flush;
    mpi::hil::ScenarioFiles files;
    files.scanner = scanner;
    files.plan = plan;
    files.work_dir = out_dir / "logs";
    files.plant_pace = pace;
    mpi::hil::Scenario scenario({MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE}, files);
    std::cout << "demo: firmware on 127.0.0.1:" << scenario.firmware_port() << ", board in shared memory " << scenario.shm_name()
              << "\ndemo: running mpi scan --plan " << plan << "\n"
              << std::flush;
    std::string output;
    const int code = scenario.run_scan(out_dir, &output);
    std::cout << output;
    const bool clean = scenario.stop();
    std::cout << "demo: plant and firmware stopped" << (clean ? "" : " (not cleanly: see the logs)") << "\n";
    if (code != 0) {
      std::cerr << "demo: mpi scan failed with exit code " << code << "; logs in " << (out_dir / "logs").string() << '\n';
      return 1;
    }
    const std::filesystem::path image = std::filesystem::exists(out_dir / "image.png") ? out_dir / "image.png" : out_dir / "profile.png";
    std::cout << "demo: done. Image: " << image.string() << "\n      logs: " << (out_dir / "logs").string() << '\n';
    return clean ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "demo: " << e.what() << '\n';
    return 1;
  }
}
