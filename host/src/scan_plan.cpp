#include "mpi/host/scan_plan.hpp"

#include "plan_table.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/config/units.hpp"

#include <Eigen/Eigenvalues>
#include <toml++/toml.h>

#include <cmath>

namespace mpi::host {

namespace {

constexpr RaiseError kRaise = raise_error<PlanError>;

// The plan's tracer file, as a recon::Tracer for 1D x-space: exactly one mode.
recon::Tracer single_mode_tracer(const toml::table& root, const std::filesystem::path& plan_file, std::filesystem::path& resolved,
                                 double& tau_s) {
  const std::string name = plan_file.string();
  const toml::node* node = root.get("tracer");
  if (node == nullptr) throw PlanError(name + ": tracer: missing (the tracer file, e.g. tracer = \"../tracers/single-core-30nm.toml\")");
  const std::optional<std::string> path = node->value_exact<std::string>();
  if (!path || path->empty()) {
    throw PlanError(name + ": tracer: must be the path of a tracer file relative to the plan (e.g. tracer = \"../tracers/single-core-30nm.toml\")");
  }
  resolved = (plan_file.parent_path() / *path).lexically_normal();
  config::TracerDescription description;
  try {
    description = config::load_tracer_description(resolved);
  } catch (const config::ConfigError& e) {
    throw PlanError(name + ": tracer: " + e.what());
  }
  if (description.modes.size() != 1) {
    throw PlanError(name + ": tracer: '" + *path + "' has " + std::to_string(description.modes.size()) +
                    " modes; 1D x-space reconstruction needs a tracer with a single mode");
  }
  const config::TracerModeDescription& mode = description.modes.front();
  tau_s = mode.relaxation == config::RelaxationModel::given ? mode.tau_s : 0.0;
  recon::Tracer tracer;
  tracer.core_diameter_m = mode.core_diameter_m;
  tracer.diameter_sigma = mode.diameter_sigma;
  tracer.saturation_magnetisation_a_per_m = mode.saturation_magnetisation_a_per_m;
  tracer.temperature_k = description.temperature_k;
  tracer.core_density_kg_per_m3 = mode.core_density_kg_per_m3;
  tracer.iron_mass_fraction = mode.iron_mass_fraction;
  tracer.dead_layer_m = mode.dead_layer_m;
  if (const std::string why = recon::validate(tracer); !why.empty()) throw PlanError(name + ": tracer: '" + *path + "': " + why);
  return tracer;
}

}  // namespace

ScanPlan load_scan_plan(const std::filesystem::path& file) {
  const std::string name = file.string();
  const toml::table root = parse_plan_toml(read_plan_file(file, "scan plan", kRaise), name, kRaise);
  if (root.get("phantom") != nullptr) {
    throw PlanError(name + ": [phantom]: not part of a plan any more: the phantom is a file of its own, named in "
                    "[simulation] phantom = \"../phantoms/NAME.toml\"");
  }
  only_top_level(root, name, {"tracer", "sequence", "reconstruction", "simulation", "background"},
                 "a plan has tracer, [sequence], [reconstruction], [background], [simulation]", kRaise);
  ScanPlan plan;
  plan.file = file;
  const PlanTable seq(root, name, "sequence", kRaise);
  if (seq.has("name")) {
    // A named sequence of the scanner description: the drive values come from there.
    seq.only({"name", "frames", "ramp_periods", "ramp", "ramp_ms", "periods_per_frame", "drive_phase", "drive_phase_rad"});
    plan.sequence.name = seq.text("name", "");
    if (plan.sequence.name.empty()) seq.fail("name", "must name a [[sequence]] of the scanner description, e.g. \"lissajous_2d\"");
    plan.sequence.frames = seq.count("frames", 1, 1, 100'000'000);
    plan.sequence.ramp_periods = seq.count("ramp_periods", 10, 1, 1'000'000);
    for (const char* ramp : {"ramp", "ramp_ms"}) {
      if (seq.has(ramp) && seq.has("ramp_periods")) seq.fail(ramp, std::string("give either ramp_periods or ") + ramp + ", not both");
    }
    plan.sequence.ramp_s = seq.quantity("ramp", config::Quantity::time, 0.0, 1e-6, 10.0, {"ramp_ms", 1e-3});
    plan.sequence.periods_per_frame_given = seq.has("periods_per_frame");
    plan.sequence.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1'000'000);
    plan.sequence.named_phases_rad = seq.named_angles("drive_phase", "drive_phase_rad");
    plan.sequence.drive_frequency_hz = 0.0;
    plan.sequence.drive_amplitude_t = 0.0;
    plan.reconstruction.pixel_m = 0.5e-3;
  } else {
    seq.only({"drive_frequency", "drive_frequency_hz", "drive_amplitude", "drive_amplitude_t", "drive_phase", "drive_phase_rad", "periods_per_frame",
              "frames", "ramp_periods"});
    plan.sequence.drive_frequency_hz = seq.required_quantity("drive_frequency", config::Quantity::frequency, 100.0, 1e6, "25 kHz", {"drive_frequency_hz"});
    plan.sequence.drive_amplitude_t = seq.required_quantity("drive_amplitude", config::Quantity::flux_density, 1e-5, 0.1, "12 mT", {"drive_amplitude_t"});
    plan.sequence.drive_phase_rad = seq.quantity("drive_phase", config::Quantity::angle, 0.0, -100.0, 100.0, {"drive_phase_rad"});
    plan.sequence.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1'000'000);
    plan.sequence.frames = seq.count("frames", 1, 1, 10'000'000);
    plan.sequence.ramp_periods = seq.count("ramp_periods", 25, 1, 1'000'000);
  }

  plan.tracer = single_mode_tracer(root, file, plan.tracer_file, plan.tracer_tau_s);

  if (root.get("background") != nullptr) {
    const PlanTable bg(root, name, "background", kRaise);
    bg.only({"recording"});
    const std::string recording = bg.text("recording", "");
    if (recording.empty()) {
      bg.fail("recording", "missing: the raw capture (raw.mpilink) of an empty-bore scan of the same sequence, relative to the plan");
    }
    plan.background.recording = (file.parent_path() / recording).lexically_normal();
  }

  if (root.get("reconstruction") != nullptr) {
    const PlanTable rec(root, name, "reconstruction", kRaise);
    const std::string method = rec.text("method", "xspace");
    if (method != "xspace" && method != "system-matrix") {
      rec.fail("method", "\"" + method + "\" is not a reconstruction method (use \"xspace\" or \"system-matrix\")");
    }
    const bool sm = method == "system-matrix";
    if (sm && !plan.multi_dimensional()) {
      rec.fail("method", "\"system-matrix\" needs a plan that names a sequence ([sequence] name = \"lissajous_2d\"); 1D plans use \"xspace\"");
    }
    if (sm) {
      plan.reconstruction.method = ReconstructionMethod::system_matrix;
      for (const char* key : {"min_speed_fraction", "weights"}) {
        if (rec.has(key)) rec.fail(key, "only for method = \"xspace\"");
      }
      rec.only({"method", "pixel", "pixel_mm", "fov", "fov_mm", "counts", "relative_lambda", "min_snr", "snr_iron", "snr_iron_ug", "min_frequency",
                "min_frequency_khz", "max_rows", "non_negative"});
    } else if (plan.multi_dimensional()) {
      for (const char* key : {"relative_lambda", "min_snr", "snr_iron", "snr_iron_ug", "min_frequency", "min_frequency_khz", "max_rows", "non_negative"}) {
        if (rec.has(key)) rec.fail(key, "only for method = \"system-matrix\"");
      }
      rec.only({"method", "pixel", "pixel_mm", "min_speed_fraction", "fov", "fov_mm", "counts", "weights"});
    } else {
      for (const char* key : {"fov", "fov_mm", "counts", "weights"}) {
        if (rec.has(key)) rec.fail(key, "only for a plan that names a sequence ([sequence] name = \"lissajous_2d\"); a 1D plan images the drive's FOV");
      }
      rec.only({"method", "pixel", "pixel_mm", "min_speed_fraction"});
    }
    plan.reconstruction.relative_lambda = rec.number("relative_lambda", 1e-3, 0.0, 1e6);
    plan.reconstruction.min_snr = rec.number("min_snr", 2.0, 1e-6, 1e9);
    plan.reconstruction.snr_iron_kg = rec.quantity("snr_iron", config::Quantity::mass, 1e-9, 1e-18, 1.0, {"snr_iron_ug", 1e-9});
    plan.reconstruction.min_frequency_hz = rec.quantity("min_frequency", config::Quantity::frequency, 80e3, 0.0, 1e8, {"min_frequency_khz", 1e3});
    plan.reconstruction.max_rows = rec.count("max_rows", 0, 0, 10'000'000);
    plan.reconstruction.non_negative = rec.flag("non_negative", false);
    plan.reconstruction.pixel_m = rec.quantity("pixel", config::Quantity::length, plan.reconstruction.pixel_m, 1e-7, 10e-3, {"pixel_mm", 1e-3});
    plan.reconstruction.min_speed_fraction = rec.number("min_speed_fraction", 0.3, 0.0, 0.95);
    for (const char* fov : {"fov", "fov_mm"}) {
      if (rec.has(fov) && rec.has("counts")) rec.fail("counts", std::string("give either ") + fov + " or counts, not both");
    }
    plan.reconstruction.fov_m = rec.quantities("fov", config::Quantity::length, 1e-6, 10.0, 0, "[\"24 mm\", \"24 mm\"]", {"fov_mm", 1e-3});
    for (const double c : rec.numbers("counts", 1.0, 4096.0)) {
      if (c != std::floor(c)) rec.fail("counts", "entries must be whole numbers of pixels");
      plan.reconstruction.counts.push_back(static_cast<std::uint32_t>(c));
    }
    const std::string weights = rec.text("weights", "linear");
    if (weights != "linear" && weights != "nearest") rec.fail("weights", "\"" + weights + "\" is not one of \"linear\", \"nearest\"");
    plan.reconstruction.nearest_weights = weights == "nearest";
  }
  return plan;
}

ScannerDescription load_scanner_description(const std::filesystem::path& file) {
  config::ScannerDescription d;
  try {
    d = config::load_scanner_description(file);
  } catch (const config::ConfigError& e) {
    throw PlanError(e.what());
  }
  const std::string name = file.string();
  if (d.drive.empty()) throw PlanError(name + ": [[drive]]: the host's 1D reconstruction needs a drive channel");
  if (d.receive.channels.empty()) throw PlanError(name + ": [[receive.channel]]: the host's 1D reconstruction needs a receive channel");
  Eigen::Matrix3d g;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) g(i, j) = d.selection.gradient_t_per_m[i][j];
  }
  const config::Vec3& axis = d.drive.front().axis;
  const Eigen::Vector3d e = Eigen::Vector3d(axis[0], axis[1], axis[2]).normalized();
  ScannerDescription s;
  s.gradient_t_per_m = e.dot(g * e);
  if (!(std::abs(s.gradient_t_per_m) > 0.0)) {
    throw PlanError(name + ": [selection] gradient: zero along the axis of drive channel " + d.drive.front().name +
                    ": no field-free point moves along it for 1D x-space");
  }
  const Eigen::Vector3d eigenvalues = Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d>(0.5 * (g + g.transpose()), Eigen::EigenvaluesOnly).eigenvalues();
  s.strongest_gradient_t_per_m = 0.0;
  for (const double v : eigenvalues) {
    if (std::abs(v) > std::abs(s.strongest_gradient_t_per_m)) s.strongest_gradient_t_per_m = v;
  }
  const config::ReceiveChannelDescription& rx = d.receive.channels.front();
  s.coil_sensitivity_t_per_a = rx.coil_sensitivity_t_per_a;
  s.lna_gain = rx.lna_gain;
  s.adc_full_scale_v = d.receive.adc_full_scale_v;
  for (const config::ReceiveChannelDescription& r : d.receive.channels) s.adc_channel_names.push_back(r.name);
  for (const config::DriveChannelDescription& drive : d.drive) s.adc_channel_names.push_back("ref_" + drive.name);
  s.file = file;
  s.sample_rate_hz = d.receive.sample_rate_hz;
  s.gradient_matrix_t_per_m = g;
  const auto vec = [](const config::Vec3& v) { return Eigen::Vector3d(v[0], v[1], v[2]).normalized(); };
  for (const config::DriveChannelDescription& drive : d.drive) {
    s.drives.push_back({drive.name, vec(drive.axis), drive.base_clock_hz, drive.divider});
  }
  for (const config::ReceiveChannelDescription& r : d.receive.channels) {
    s.receivers.push_back({r.name, vec(r.axis), r.coil_sensitivity_t_per_a, r.lna_gain, r.noise_density_v_per_sqrt_hz});
  }
  for (const config::SequenceDescription& q : d.sequences) s.sequences.push_back({q.name, q.drive_amplitude_t, q.periods_per_frame});
  return s;
}

}  // namespace mpi::host
