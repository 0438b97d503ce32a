// mpi harmonics: the harmonic spectrum of an M(H) curve (measured, or a tracer's Langevin curve) under a
// sinusoidal drive.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/relax_report.hpp"
#include "mpi/host/relax_run.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/harmonic_calculator.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace mpi::cli {

namespace {

struct HarmonicsOptions {
  std::string mh;
  std::string tracer;
  std::string drive = "15 mT";
  std::string bias = "0 mT";
  std::string quantity = "signal";
  int max_harmonic = 15;
  std::string out = "out";
};

// A static bias field (same units as the drive; zero and negative values allowed).
double bias_field(const std::string& text) {
  std::string t = text;
  const std::size_t first = t.find_first_not_of(' ');
  if (first != std::string::npos && t.compare(first, std::string::npos, std::string("0")) == 0) return 0.0;
  if (t.find_first_of("123456789") == std::string::npos) return 0.0;  // "0 mT", "0.0 T"
  const bool negative = first != std::string::npos && t[first] == '-';
  if (negative) t.erase(first, 1);
  const double v = host::parse_drive_amplitude(t);
  return negative ? -v : v;
}

recon::HarmonicCalculatorOptions calculator_options(const HarmonicsOptions& o) {
  recon::HarmonicCalculatorOptions options;
  options.drive_amplitude_t = host::parse_drive_amplitude(o.drive);
  options.bias_t = bias_field(o.bias);
  options.max_harmonic = o.max_harmonic;
  options.points_per_period = std::max(8192, 8 * o.max_harmonic);
  if (o.quantity == "signal") {
    options.quantity = recon::HarmonicQuantity::induced_signal;
  } else if (o.quantity == "magnetisation") {
    options.quantity = recon::HarmonicQuantity::magnetisation;
  } else {
    throw std::invalid_argument("--quantity '" + o.quantity + "': one of signal, magnetisation");
  }
  return options;
}

}  // namespace

Command add_harmonics_command(CLI::App& mpi) {
  auto o = std::make_shared<HarmonicsOptions>();
  CLI::App* app = mpi.add_subcommand("harmonics", "harmonic spectrum of an M(H) curve under a sinusoidal drive");
  auto* mh = app->add_option("--mh", o->mh, "M(H) curve (CSV: H and M columns with units, e.g. H_mT,M_Am2 or H_Oe,M_emu)");
  auto* tracer = app->add_option("--tracer", o->tracer, "tracer description (TOML): its Langevin curve");
  mh->excludes(tracer);
  app->add_option("--drive", o->drive, "drive amplitude (\"15 mT\", \"150 Oe\")")->capture_default_str();
  app->add_option("--bias", o->bias, "static bias field")->capture_default_str();
  app->add_option("--max-harmonic", o->max_harmonic, "highest harmonic")->check(CLI::Range(3, 100))->capture_default_str();
  app->add_option("--quantity", o->quantity, "signal (induced voltage, dM/dt) | magnetisation (M(t))")->capture_default_str();
  add_out_option(*app, o->out);
  return {app, [o] {
            return run_step("harmonics", [&] {
              recon::HarmonicCalculatorOptions options;
              recon::MhCurve curve;
              try {
                options = calculator_options(*o);
                if (!o->mh.empty()) {
                  curve = recon::read_mh_csv(o->mh);
                } else if (!o->tracer.empty()) {
                  curve = host::tracer_mh_curve(o->tracer, 2.0 * (options.drive_amplitude_t + std::abs(options.bias_t)));
                } else {
                  throw std::invalid_argument("give --mh CURVE.csv or --tracer FILE");
                }
              } catch (const std::exception& e) {
                throw std::invalid_argument(e.what());
              }
              const recon::HarmonicSpectrum spectrum = recon::harmonic_spectrum(curve, options);
              prepare_output(o->out);
              const std::string title = "harmonic spectrum of " + curve.source + ", drive " + o->drive;
              (void)host::write_harmonic_spectrum(spectrum, title, o->out);
              std::cout << std::ifstream(std::filesystem::path(o->out) / "spectrum.csv").rdbuf() << "outputs in "
                        << std::filesystem::absolute(o->out).lexically_normal().string() << ": spectrum.csv, spectrum.png\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
