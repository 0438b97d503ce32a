#include "mpi/host/calibration_plan.hpp"

#include "plan_table.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <optional>

namespace mpi::host {

namespace {

using config::Quantity;

constexpr RaiseError kRaise = raise_error<PlanError>;

}  // namespace

Eigen::Vector3d CalibrationSettings::position_m(std::size_t index) const noexcept {
  const std::array<std::size_t, 3> i{index % grid[0], (index / grid[0]) % grid[1], index / (std::size_t{grid[0]} * grid[1])};
  Eigen::Vector3d p;
  for (int k = 0; k < 3; ++k) {
    const auto kk = static_cast<std::size_t>(k);
    p[k] = centre_m[k] - 0.5 * fov_m[k] + (static_cast<double>(i[kk]) + 0.5) * fov_m[k] / grid[kk];
  }
  return p;
}

CalibrationPlan parse_calibration_plan(const std::string& toml_text, const std::filesystem::path& file) {
  const std::string name = file.string();
  const toml::table root = parse_plan_toml(toml_text, name, kRaise);
  only_top_level(root, name, {"tracer", "sequence", "calibration", "simulation"},
                 "a calibration plan has tracer, [sequence], [calibration], [simulation]", kRaise);
  CalibrationPlan plan;
  plan.file = file;
  plan.scan.file = file;

  // The tracer: a file relative to the plan.
  const toml::node* tracer = root.get("tracer");
  const std::optional<std::string> tracer_path = tracer == nullptr ? std::nullopt : tracer->value_exact<std::string>();
  if (!tracer_path || tracer_path->empty()) {
    throw PlanError(name + ": tracer: missing or not a path (the delta sample's tracer file, e.g. tracer = \"../tracers/single-core-30nm.toml\")");
  }
  plan.scan.tracer_file = (file.parent_path() / *tracer_path).lexically_normal();
  try {
    (void)config::load_tracer_description(plan.scan.tracer_file);
  } catch (const config::ConfigError& e) {
    throw PlanError(name + ": tracer: " + e.what());
  }

  // The sequence: a named sequence of the scanner, one frame per cycle.
  const PlanTable seq(root, name, "sequence", kRaise);
  seq.only({"name", "ramp_periods", "ramp_ms", "periods_per_frame", "drive_phase_rad"});
  SequencePlan& s = plan.scan.sequence;
  s.name = seq.required_text("name");
  if (s.name.empty()) seq.fail("name", "must name a [[sequence]] of the scanner description, e.g. \"lissajous_2d\"");
  if (seq.has("ramp_ms") && seq.has("ramp_periods")) seq.fail("ramp_ms", "give either ramp_periods or ramp_ms, not both");
  s.ramp_periods = seq.count("ramp_periods", 10, 1, 1'000'000);
  s.ramp_s = seq.number("ramp_ms", 0.0, 1e-3, 1e4) * 1e-3;
  s.periods_per_frame_given = true;
  s.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1);
  s.named_phases_rad = seq.named_numbers("drive_phase_rad", -100.0, 100.0);
  s.frames = 1;
  s.drive_frequency_hz = 0.0;
  s.drive_amplitude_t = 0.0;

  // The calibration.
  const PlanTable cal(root, name, "calibration", kRaise);
  cal.only({"grid", "fov", "centre", "delta_sample", "sample_edge", "frames_per_position", "settle_frames", "background_frames", "park_every",
            "min_frequency"});
  CalibrationSettings& c = plan.calibration;
  c.grid = cal.counts3("grid", 1, 256);
  if (c.positions() > 100'000) cal.fail("grid", std::to_string(c.positions()) + " positions; at most 100000");
  const std::string xyz = "[\"24 mm\", \"24 mm\", \"2 mm\"] (x y z)";
  if (!cal.has("fov")) cal.fail("fov", "missing (e.g. fov = " + xyz + ")");
  const std::vector<double> fov = cal.quantities("fov", Quantity::length, 0.0, 1.0, 3, xyz);
  std::vector<double> centre = cal.quantities("centre", Quantity::length, -1.0, 1.0, 3, xyz);
  centre.resize(3, 0.0);
  for (int k = 0; k < 3; ++k) {
    c.fov_m[k] = fov[static_cast<std::size_t>(k)];
    c.centre_m[k] = centre[static_cast<std::size_t>(k)];
    if (!(c.fov_m[k] > 0.0)) cal.fail("fov[" + std::to_string(k) + "]", "must be more than 0 mm");
  }
  c.delta_iron_kg = cal.required_quantity("delta_sample", Quantity::mass, 1e-12, 1e-3, "50 ug");
  c.sample_edge_m = cal.quantity("sample_edge", Quantity::length, 1e-3, 1e-6, 0.05);
  c.frames_per_position = cal.count("frames_per_position", 4, 1, 10'000);
  c.settle_frames = cal.count("settle_frames", 2, 0, 1'000);
  c.background_frames = cal.count("background_frames", 16, 2, 100'000);
  c.park_every = cal.count("park_every", 0, 0, 100'000);
  c.min_frequency_hz = cal.quantity("min_frequency", Quantity::frequency, 80e3, 0.0, 100e6);

  (void)PlanTable(root, name, "simulation", kRaise, false);  // must be a table; read by mpi::config::load_plan_simulation
  return plan;
}

CalibrationPlan load_calibration_plan(const std::filesystem::path& file) {
  return parse_calibration_plan(read_plan_file(file, "calibration plan", kRaise), file);
}

}  // namespace mpi::host
