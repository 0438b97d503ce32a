#include "mpi/host/relax_plan.hpp"

#include "plan_table.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <numbers>

namespace mpi::host {

namespace {

// Firmware limit on the distinct steps of a program (firmware/scan_program.hpp kMaxProgramSteps).
constexpr std::size_t kMaxProgramSteps = 65536;

constexpr RaiseError kRaise = raise_error<PlanError>;

}  // namespace

const char* shape_name(SweepShape shape) {
  switch (shape) {
    case SweepShape::triangle: return "triangle";
    case SweepShape::sine: return "sine";
    case SweepShape::stepped: return "stepped";
  }
  return "?";
}

RelaxPlan parse_relax_plan(const std::string& toml_text, const std::filesystem::path& file) {
  const std::string name = file.string();
  const toml::table root = parse_plan_toml(toml_text, name, kRaise);
  only_top_level(root, name, {"tracer", "relax", "sample", "simulation"}, "a relaxometry plan has tracer, [relax], [sample], [simulation]", kRaise);
  RelaxPlan plan;
  plan.file = file;
  if (const toml::node* t = root.get("tracer"); t != nullptr) {
    const std::optional<std::string> path = t->value_exact<std::string>();
    if (!path || path->empty()) throw PlanError(name + ": tracer: must be the path of a tracer file relative to the plan");
    plan.tracer_file = (file.parent_path() / *path).lexically_normal();
  }

  const PlanTable relax(root, name, "relax", kRaise);
  relax.only({"drive_amplitude", "drive_channel", "bias_channel", "bias_amplitude", "sweep_rate", "shape", "levels", "sweeps", "ramp",
              "background", "background_recording", "gradient"});
  using config::Quantity;
  plan.drive_amplitude_t = relax.required_quantity("drive_amplitude", Quantity::flux_density, 0.005, 0.020, "15 mT");
  plan.drive_channel = relax.text("drive_channel", "");
  plan.bias_channel = relax.text("bias_channel", "");
  plan.bias_amplitude_t = relax.required_quantity("bias_amplitude", Quantity::flux_density, 1e-3, 0.1, "40 mT");
  plan.sweep_rate_hz = relax.required_quantity("sweep_rate", Quantity::frequency, 0.1, 20.0, "10 Hz");
  const std::string shape = relax.text("shape", "triangle");
  if (shape == "triangle") {
    plan.shape = SweepShape::triangle;
  } else if (shape == "sine") {
    plan.shape = SweepShape::sine;
  } else if (shape == "stepped") {
    plan.shape = SweepShape::stepped;
  } else {
    relax.fail("shape", "'" + shape + "' is not one of triangle, sine, stepped");
  }
  if (relax.has("levels") && plan.shape != SweepShape::stepped) relax.fail("levels", "only for shape = \"stepped\"");
  plan.levels = relax.count("levels", 41, 2, 1001);
  plan.sweeps = relax.count("sweeps", 2, 1, 1000);
  plan.ramp_s = relax.quantity("ramp", Quantity::time, 10e-3, 1e-3, 1.0);
  const std::string background = relax.text("background", "none");
  if (background == "empty") {
    plan.background_empty = true;
  } else if (background != "none") {
    relax.fail("background", "'" + background + "' is not one of empty, none");
  }
  if (relax.has("background_recording")) {
    if (plan.background_empty) relax.fail("background_recording", "give either background = \"empty\" or background_recording, not both");
    const std::string path = relax.text("background_recording", "");
    if (path.empty()) relax.fail("background_recording", "must be a path (a result folder of mpi relax, or its relax.mdf)");
    plan.background_recording = (file.parent_path() / path).lexically_normal();
  }
  plan.gradient_t_per_m = relax.quantity("gradient", Quantity::gradient, 0.0, 1e-3, 100.0);

  const PlanTable sample(root, name, "sample", kRaise);
  sample.only({"name", "iron_ug", "core_size_nm", "batch", "notes"});
  plan.sample.name = sample.required_text("name");
  if (plan.sample.name.empty()) sample.fail("name", "must not be empty");
  plan.sample.iron_ug = sample.required_number("iron_ug", 1e-6, 1e9);
  if (!(plan.sample.iron_ug > 0.0)) sample.fail("iron_ug", "must be above 0");
  plan.sample.core_size_nm = sample.number("core_size_nm", 0.0, 0.1, 1e4);
  plan.sample.batch = sample.text("batch", "");
  plan.sample.notes = sample.text("notes", "");
  return plan;
}

RelaxPlan load_relax_plan(const std::filesystem::path& file) {
  return parse_relax_plan(read_plan_file(file, "relaxometry plan", kRaise), file);
}

RelaxScanner relax_scanner(const RelaxPlan& plan, const std::filesystem::path& scanner_file) {
  config::ScannerDescription d;
  try {
    d = config::load_scanner_description(scanner_file);
  } catch (const config::ConfigError& e) {
    throw PlanError(e.what());
  }
  const std::string sname = scanner_file.string();
  const std::string pname = plan.file.string();
  if (d.drive.empty()) throw PlanError(sname + ": [[drive]]: a relaxometer needs a drive channel");
  if (d.offset.empty()) throw PlanError(sname + ": [[offset]]: a relaxometer needs a bias (offset) channel for the sweep");
  if (d.receive.channels.empty()) throw PlanError(sname + ": [[receive.channel]]: a relaxometer needs a receive channel");
  RelaxScanner s;
  s.file = scanner_file;
  s.name = d.name;
  s.manufacturer = d.manufacturer;
  s.topology = d.selection.topology == config::Topology::mps ? "mps" : d.selection.topology == config::Topology::ffl ? "ffl" : "ffp";
  s.sample_rate_hz = d.receive.sample_rate_hz;
  s.adc_full_scale_v = d.receive.adc_full_scale_v;
  s.adc_channels = d.adc_channels();
  int drive = 0;
  if (!plan.drive_channel.empty()) {
    drive = d.find_drive_channel(plan.drive_channel);
    if (drive < 0) throw PlanError(pname + ": [relax] drive_channel: the scanner " + sname + " has no drive channel '" + plan.drive_channel + "'");
  }
  int bias = 0;
  if (!plan.bias_channel.empty()) {
    bias = d.find_offset_channel(plan.bias_channel);
    if (bias < 0) throw PlanError(pname + ": [relax] bias_channel: the scanner " + sname + " has no offset channel '" + plan.bias_channel + "'");
  }
  const config::DriveChannelDescription& dr = d.drive[static_cast<std::size_t>(drive)];
  const config::OffsetChannelDescription& of = d.offset[static_cast<std::size_t>(bias)];
  s.drive_index = static_cast<std::uint32_t>(drive);
  s.drive_name = dr.name;
  s.drive_frequency_hz = dr.frequency_hz();
  s.drive_divider = dr.divider;
  s.drive_base_clock_hz = dr.base_clock_hz;
  s.drive_max_amplitude_t = std::min(dr.max_amplitude_t, d.safety.max_field_t);
  s.reference_v_per_t = dr.reference_v_per_t;
  s.reference_adc_channel = static_cast<std::uint32_t>(d.receive.channels.size()) + s.drive_index;
  s.bias_index = static_cast<std::uint32_t>(bias);
  s.bias_name = of.name;
  s.bias_max_t = std::min(of.max_field_t, of.tesla_per_full_scale);
  s.bias_full_scale_t = of.tesla_per_full_scale;
  s.bias_time_constant_s = of.rl_time_constant_s;
  const config::ReceiveChannelDescription& rx = d.receive.channels.front();
  s.receive_name = rx.name;
  s.coil_sensitivity_t_per_a = rx.coil_sensitivity_t_per_a;
  s.lna_gain = rx.lna_gain;
  s.fundamental_suppression_db = rx.fundamental_suppression_db;
  s.ramp_time_s = d.safety.ramp_time_s;
  const double cycle = s.sample_rate_hz * dr.divider / dr.base_clock_hz;
  if (std::abs(cycle - std::round(cycle)) > 1e-9 * cycle || cycle < 4) {
    throw PlanError(sname + ": [[drive]] " + dr.name + ": a drive cycle is not a whole number of ADC samples (" + std::to_string(cycle) + ")");
  }
  s.cycle_samples = static_cast<std::uint32_t>(std::lround(cycle));

  if (plan.drive_amplitude_t > s.drive_max_amplitude_t * (1 + 1e-12)) {
    throw PlanError(pname + ": [relax] drive_amplitude: " + config::format_quantity(plan.drive_amplitude_t, config::Quantity::flux_density) +
                    " exceeds the limit " + config::format_quantity(s.drive_max_amplitude_t, config::Quantity::flux_density) +
                    " of drive channel " + dr.name + " (" + sname + ")");
  }
  if (plan.bias_amplitude_t > s.bias_max_t * (1 + 1e-12)) {
    throw PlanError(pname + ": [relax] bias_amplitude: " + config::format_quantity(plan.bias_amplitude_t, config::Quantity::flux_density) +
                    " exceeds the limit " + config::format_quantity(s.bias_max_t, config::Quantity::flux_density) + " of offset channel " +
                    of.name + " (" + sname + ")");
  }
  const double cycles_per_sweep = s.drive_frequency_hz / plan.sweep_rate_hz;
  if (cycles_per_sweep + 64 > static_cast<double>(kMaxProgramSteps)) {
    throw PlanError(pname + ": [relax] sweep_rate: one sweep of " + std::to_string(std::lround(cycles_per_sweep)) +
                    " drive cycles exceeds the scan program's limit of " + std::to_string(kMaxProgramSteps) + " steps: sweep faster");
  }
  if (plan.shape == SweepShape::stepped && cycles_per_sweep < 2.0 * plan.levels) {
    throw PlanError(pname + ": [relax] levels: " + std::to_string(plan.levels) + " levels per direction need at least " +
                    std::to_string(2 * plan.levels) + " drive cycles per sweep; the sweep rate gives " +
                    std::to_string(std::lround(cycles_per_sweep)));
  }
  if (cycles_per_sweep < 16) throw PlanError(pname + ": [relax] sweep_rate: too fast for the drive (fewer than 16 drive cycles per sweep)");
  return s;
}

std::vector<double> sweep_bias_t(const RelaxPlan& plan, double drive_frequency_hz) {
  std::size_t n = static_cast<std::size_t>(std::lround(drive_frequency_hz / plan.sweep_rate_hz));
  n += n % 2;
  const std::size_t half = n / 2;
  const double a = plan.bias_amplitude_t;
  std::vector<double> bias(n);
  for (std::size_t k = 0; k < n; ++k) {
    switch (plan.shape) {
      case SweepShape::triangle: {
        // Up over the first half (both ends included), down over the second.
        const double u = k < half ? static_cast<double>(k) / static_cast<double>(half - 1)
                                  : 1.0 - static_cast<double>(k - half) / static_cast<double>(half - 1);
        bias[k] = -a + 2.0 * a * u;
        break;
      }
      case SweepShape::sine:
        bias[k] = -a * std::cos(2.0 * std::numbers::pi * (static_cast<double>(k) + 0.5) / static_cast<double>(n));
        break;
      case SweepShape::stepped: {
        const std::size_t within = k < half ? k : k - half;
        auto level = static_cast<std::size_t>(within * plan.levels / half);
        if (k >= half) level = plan.levels - 1 - level;
        bias[k] = -a + 2.0 * a * static_cast<double>(level) / static_cast<double>(plan.levels - 1);
        break;
      }
    }
  }
  return bias;
}

RelaxProgram relax_program(const RelaxPlan& plan, const RelaxScanner& scanner) {
  RelaxProgram out;
  out.cycle_samples = scanner.cycle_samples;
  out.sweeps = plan.sweeps;
  out.sweep_bias_t = sweep_bias_t(plan, scanner.drive_frequency_hz);
  const double cycle_s = scanner.cycle_samples / scanner.sample_rate_hz;
  // The ramp-up segment lasts the drive's ramp plus 10 time constants of the bias coil.
  const double ramp_s = std::max(plan.ramp_s, scanner.ramp_time_s);
  out.ramp_steps = static_cast<std::uint64_t>(std::ceil((ramp_s + 10.0 * scanner.bias_time_constant_s) / cycle_s));
  out.ramp_steps = std::max<std::uint64_t>(out.ramp_steps, 2);

  link::v1::Configure& c = out.configure;
  link::v1::DriveChannelConfig* d = c.add_drive();
  d->set_channel(scanner.drive_index);
  d->set_frequency_hz(scanner.drive_frequency_hz);
  d->set_amplitude_t(plan.drive_amplitude_t);
  d->set_phase_rad(0.0);
  c.set_ramp_samples(static_cast<std::uint32_t>(std::lround(plan.ramp_s * scanner.sample_rate_hz)));
  link::v1::ScanProgram* p = c.mutable_program();
  p->set_step_samples(scanner.cycle_samples);
  link::v1::ScanSegment* ramp = p->add_segments();
  ramp->set_role(link::v1::SEGMENT_ROLE_RAMP_UP);
  ramp->set_repetitions(1);
  ramp->set_label("bias to the sweep's start");
  ramp->mutable_sweep()->set_offset_channel(scanner.bias_index);
  ramp->mutable_sweep()->set_from_t(0.0);
  ramp->mutable_sweep()->set_to_t(out.sweep_bias_t.front());
  ramp->mutable_sweep()->set_steps(static_cast<std::uint32_t>(out.ramp_steps));
  link::v1::ScanSegment* sweep = p->add_segments();
  sweep->set_role(link::v1::SEGMENT_ROLE_SWEEP);
  sweep->set_repetitions(plan.sweeps);
  sweep->set_label(std::string(shape_name(plan.shape)) + " bias sweep");
  for (const double b : out.sweep_bias_t) {
    link::v1::OffsetStep* step = sweep->add_steps();
    for (std::uint32_t o = 0; o < scanner.bias_index; ++o) step->add_field_t(0.0);
    step->add_field_t(b);
  }
  return out;
}

}  // namespace mpi::host
