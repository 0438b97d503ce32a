// `mpi relax`: a relaxometry measurement from plan to report. Loads and checks the plan and the scanner
// description, runs the empty acquisition first when the plan asks for one (or reads the background
// recording it names), runs the sample's sweep, analyses it (mpi/recon/relaxometry.hpp) and writes the
// result folder (relax_report.hpp) and the raw data as MDF (relax.mdf, topology MPS).
#pragma once

#include "mpi/host/relax_acquisition.hpp"
#include "mpi/host/relax_plan.hpp"
#include "mpi/recon/harmonic_calculator.hpp"
#include "mpi/recon/relaxometry.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mpi::host {

struct RelaxCommand {
  std::filesystem::path plan_file;
  std::filesystem::path scanner_file = "configs/scanners/relaxometer.toml";
  std::filesystem::path out;
  std::string host = "127.0.0.1";
  std::uint16_t port = 7600;
  std::chrono::milliseconds receive_timeout{5000};
  const std::atomic<bool>* interrupt = nullptr;
  // Called between the empty acquisition and the sample's (background = "empty"): the operator puts the
  // sample in. Empty: go on at once.
  std::function<void()> insert_sample;
};

struct RelaxOutcome {
  recon::RelaxometryResult result;
  std::vector<std::string> written;
  std::string summary;  // a few lines for the operator (also report.txt)
};

// Everything that can be checked before the scan (plan, scanner, background recording). Throws PlanError
// or std::runtime_error naming the file.
struct RelaxSetup {
  RelaxPlan plan;
  RelaxScanner scanner;
  RelaxProgram program;
};
RelaxSetup prepare_relax(const std::filesystem::path& plan_file, const std::filesystem::path& scanner_file);

// A background recording: a result folder of an earlier `mpi relax` (its relax.mdf), an MDF file or a raw
// capture (.mpilink) of the same sweep. Throws naming the file when it cannot be read or does not match.
RelaxRun load_relax_background(const std::filesystem::path& path, const RelaxSetup& setup);

RelaxOutcome run_relax(const RelaxCommand& command);

}  // namespace mpi::host

namespace mpi::host {

// A drive amplitude as the harmonic calculator takes it: a flux density ("15 mT", "0.015 T") or a field in
// oersted ("150 Oe" = 15 mT). Throws std::invalid_argument naming the text and the units accepted.
double parse_drive_amplitude(const std::string& text);

// The Langevin M(H) curve of a tracer description file with one mode (configs/tracers/*.toml), per particle,
// over +-max_field_t. Throws std::invalid_argument naming the file.
recon::MhCurve tracer_mh_curve(const std::filesystem::path& tracer_file, double max_field_t);

}  // namespace mpi::host
