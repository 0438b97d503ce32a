#include "mpi/host/relax_run.hpp"

#include "mpi/host/relax_report.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/config/units.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace fs = std::filesystem;

RelaxSetup prepare_relax(const fs::path& plan_file, const fs::path& scanner_file) {
  RelaxSetup s;
  s.plan = load_relax_plan(plan_file);
  s.scanner = relax_scanner(s.plan, scanner_file);
  s.program = relax_program(s.plan, s.scanner);
  if (!s.plan.background_recording.empty() && !fs::exists(s.plan.background_recording)) {
    throw PlanError(s.plan.file.string() + ": [relax] background_recording: " + s.plan.background_recording.string() + " does not exist");
  }
  return s;
}

RelaxRun load_relax_background(const fs::path& path, const RelaxSetup& setup) {
  fs::path file = path;
  if (fs::is_directory(file)) file /= "relax.mdf";
  RelaxRun run;
  try {
    if (file.extension() == ".mpilink") {
      run = read_relax_capture(setup.program, setup.scanner, file);
    } else {
      run = read_relax_mdf(file);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("background recording " + file.string() + ": " + e.what());
  }
  if (run.cycles != setup.program.sweep_cycles() || run.cycle_samples != setup.program.cycle_samples ||
      run.channels <= setup.scanner.reference_adc_channel) {
    throw std::runtime_error("background recording " + file.string() + ": " + std::to_string(run.cycles) + " cycles of " +
                             std::to_string(run.cycle_samples) + " samples; the plan's sweep has " + std::to_string(setup.program.sweep_cycles()) +
                             " of " + std::to_string(setup.program.cycle_samples) + " (record it with the same sweep)");
  }
  return run;
}

RelaxOutcome run_relax(const RelaxCommand& command) {
  const RelaxSetup setup = prepare_relax(command.plan_file, command.scanner_file);
  const RelaxPlan& plan = setup.plan;
  std::error_code ec;
  fs::create_directories(command.out, ec);
  if (ec) throw std::runtime_error(command.out.string() + ": cannot create output folder: " + ec.message());

  RelaxLinkOptions link;
  link.host = command.host;
  link.port = command.port;
  link.receive_timeout = command.receive_timeout;
  link.interrupt = command.interrupt;

  std::optional<RelaxRun> background;
  std::string background_text = "none";
  if (!plan.background_recording.empty()) {
    background = load_relax_background(plan.background_recording, setup);
    background_text = plan.background_recording.string();
  } else if (plan.background_empty) {
    spdlog::info("empty acquisition: {} sweeps on the empty relaxometer", plan.sweeps);
    link.capture_file = command.out / "background.mpilink";
    background = run_relax_sweep(setup.program, setup.scanner, link);
    background_text = "empty acquisition (background.mpilink)";
    if (command.insert_sample) command.insert_sample();
  }
  spdlog::info("sample '{}': {} {} sweeps of +-{} mT at {} Hz", plan.sample.name, plan.sweeps, shape_name(plan.shape), plan.bias_amplitude_t * 1e3,
               plan.sweep_rate_hz);
  link.capture_file = command.out / "sample.mpilink";
  const RelaxRun sample = run_relax_sweep(setup.program, setup.scanner, link);

  RelaxMdfInfo info;
  info.sample_name = plan.sample.name;
  info.batch = plan.sample.batch;
  info.iron_ug = plan.sample.iron_ug;
  std::ostringstream description;
  description << "relaxometry of " << plan.sample.name << ": " << shape_name(plan.shape) << " bias sweep +-" << plan.bias_amplitude_t * 1e3 << " mT at "
              << plan.sweep_rate_hz << " Hz, drive " << plan.drive_amplitude_t * 1e3 << " mT; one frame per drive cycle"
              << (background ? "; background cycles first" : "");
  info.description = description.str();
  write_relax_mdf(command.out / "relax.mdf", sample, background ? &*background : nullptr, setup.scanner, setup.program, info);
  // Recorded first, then refused: a clipped acquisition stays in relax.mdf for inspection.
  check_relax_adc_range(sample, setup.scanner, "sample acquisition of '" + plan.sample.name + "'");
  if (background) check_relax_adc_range(*background, setup.scanner, "background acquisition (" + background_text + ")");

  recon::RelaxometryInput input;
  input.sample_name = plan.sample.name;
  input.iron_mass_ug = plan.sample.iron_ug;
  input.sample_rate_hz = sample.sample_rate_hz;
  input.drive_frequency_hz = sample.drive_frequency_hz;
  input.coil_sensitivity_t_per_a = setup.scanner.coil_sensitivity_t_per_a;
  input.notch.depth_db = setup.scanner.fundamental_suppression_db;
  input.sample = relax_cycles(sample, setup.program, setup.scanner);
  if (background) input.background = relax_cycles(*background, setup.program, setup.scanner);
  recon::RelaxometryOptions options;
  options.gradient_t_per_m = plan.gradient_t_per_m;
  RelaxOutcome outcome;
  outcome.result = recon::analyse_relaxometry(input, options);

  RelaxContext context;
  context.sample = plan.sample;
  context.plan_file = plan.file.string();
  context.scanner_name = setup.scanner.name;
  context.tracer_file = plan.tracer_file.string();
  context.shape = shape_name(plan.shape);
  context.drive_frequency_hz = sample.drive_frequency_hz;
  context.drive_amplitude_t = plan.drive_amplitude_t;
  context.bias_amplitude_t = plan.bias_amplitude_t;
  context.sweep_rate_hz = plan.sweep_rate_hz;
  context.sweeps = plan.sweeps;
  context.background = background_text;
  outcome.written = write_relax_result(outcome.result, context, command.out);
  outcome.written.emplace_back("relax.mdf");
  outcome.written.emplace_back("sample.mpilink");
  if (plan.background_empty) outcome.written.emplace_back("background.mpilink");

  const recon::RelaxometryResult& r = outcome.result;
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(3);
  s << "sample " << plan.sample.name << " (" << plan.sample.iron_ug << " ug Fe), " << r.cycles << " drive cycles, background: " << background_text << "\n";
  s << "PSF FWHM: rising " << r.rising.fwhm_mt << " mT, falling " << r.falling.fwhm_mt << " mT, mean " << r.fwhm_mean_mt << " mT";
  if (std::isfinite(r.fwhm_mm)) s << " (" << r.fwhm_mm << " mm at " << plan.gradient_t_per_m << " T/m)";
  s << "\n";
  s.unsetf(std::ios::fixed);
  s.precision(5);
  s << "PSF peak: " << r.psf_peak_a_m2_per_t << " A m^2/T (" << r.psf_peak_per_ug << " per ug Fe); peak offsets " << r.rising.peak_offset_mt << " / "
    << r.falling.peak_offset_mt << " mT\n";
  s << "relaxation time: centroid " << r.tau_centroid_s * 1e6 << " us, mirror symmetry " << r.tau_mirror_s * 1e6 << " us\n";
  s << "harmonics: A3/A1 " << r.harmonics.a3_over_a1 << ", A5/A3 " << r.harmonics.a5_over_a3 << ", decay " << r.harmonics.decay_db_per_order
    << " dB per order\n";
  outcome.summary = s.str();
  std::ofstream(command.out / "report.txt") << outcome.summary;
  outcome.written.emplace_back("report.txt");
  return outcome;
}

}  // namespace mpi::host

namespace mpi::host {

double parse_drive_amplitude(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == ' ') t.pop_back();
  double value = 0.0;
  const auto oersted = [&t](const std::string& unit, double factor, double& out) {
    if (t.size() <= unit.size() || t.compare(t.size() - unit.size(), unit.size(), unit) != 0) return false;
    const std::string number = t.substr(0, t.size() - unit.size());
    char* end = nullptr;
    out = std::strtod(number.c_str(), &end);
    while (end != nullptr && *end == ' ') ++end;
    if (end == number.c_str() || *end != '\0') throw std::invalid_argument("--drive '" + t + "': not a number before " + unit);
    out *= factor;
    return true;
  };
  if (!oersted("kOe", 0.1, value) && !oersted("Oe", 1e-4, value)) {
    try {
      value = config::parse_quantity(t, config::Quantity::flux_density);
    } catch (const config::UnitError& e) {
      throw std::invalid_argument("--drive '" + text + "': " + e.what() + " or a field in Oe, kOe (150 Oe = 15 mT)");
    }
  }
  if (!(value > 0.0) || !std::isfinite(value)) throw std::invalid_argument("--drive '" + text + "': must be above zero");
  return value;
}

recon::MhCurve tracer_mh_curve(const fs::path& tracer_file, double max_field_t) {
  config::TracerDescription d;
  try {
    d = config::load_tracer_description(tracer_file);
  } catch (const config::ConfigError& e) {
    throw std::invalid_argument(e.what());
  }
  if (d.modes.size() != 1) {
    throw std::invalid_argument(tracer_file.string() + ": " + std::to_string(d.modes.size()) +
                                " modes; the built-in Langevin curve takes a tracer with a single mode (or give its M(H) curve with --mh)");
  }
  const config::TracerModeDescription& m = d.modes.front();
  recon::Tracer t;
  t.core_diameter_m = m.core_diameter_m;
  t.diameter_sigma = m.diameter_sigma;
  t.saturation_magnetisation_a_per_m = m.saturation_magnetisation_a_per_m;
  t.temperature_k = d.temperature_k;
  t.core_density_kg_per_m3 = m.core_density_kg_per_m3;
  t.iron_mass_fraction = m.iron_mass_fraction;
  t.dead_layer_m = m.dead_layer_m;
  recon::MhCurve curve = recon::langevin_mh_curve(t, max_field_t, 4001);
  curve.source = tracer_file.filename().string() + " (Langevin)";
  return curve;
}

}  // namespace mpi::host
