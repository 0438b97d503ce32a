#include "mpi/host/scan_plan.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/config/units.hpp"

#include <Eigen/Eigenvalues>
#include <toml++/toml.h>

#include <cmath>
#include <initializer_list>
#include <sstream>

namespace mpi::host {

namespace {

toml::table parse(const std::filesystem::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    const auto& where = e.source().begin;
    if (where.line == 0) {
      msg << file.string() << ": cannot read: " << e.description();
    } else {
      msg << file.string() << ": line " << where.line << " col " << where.column << ": " << e.description();
    }
    throw PlanError(msg.str());
  }
}

// Reads numbers from one section and names file, section and key in every error.
class Section {
 public:
  Section(const toml::table& root, std::string file, std::string name) : file_(std::move(file)), name_(std::move(name)) {
    const toml::node* node = root.get(name_);
    if (node == nullptr) fail_section("missing section");
    table_ = node->as_table();
    if (table_ == nullptr) fail_section("must be a table");
  }

  double number(const std::string& key, double fallback, double lo, double hi, bool required = false) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) {
      if (required) fail(key, "missing");
      return fallback;
    }
    const std::optional<double> v = node->value<double>();
    if (!v) fail(key, "must be a number");
    if (!std::isfinite(*v) || *v < lo || *v > hi) {
      std::ostringstream why;
      why << "= " << *v << " is outside the allowed range [" << lo << ", " << hi << "]";
      fail(key, why.str());
    }
    return *v;
  }

  // A value written with its unit ("25 kHz") as a quantity of `kind`, in SI units within [lo, hi].
  // `legacy` is the key's older spelling: a plain number in the unit its name ends with (pixel_mm = 1.0),
  // which times `legacy_si` is SI; plans recorded in older MDF files use it. `example` shows the spelling
  // in the message when a required key is missing.
  double quantity(const std::string& key, config::Quantity kind, double fallback, double lo, double hi, const std::string& legacy = {},
                  double legacy_si = 1.0, const char* example = nullptr) const {
    const bool old_spelling = !legacy.empty() && has(legacy);
    if (old_spelling && has(key)) fail(legacy, "give " + key + " (a value with its unit) or the older " + legacy + ", not both");
    if (old_spelling) return number(legacy, fallback / legacy_si, lo / legacy_si, hi / legacy_si) * legacy_si;
    const toml::node* node = table_->get(key);
    if (node == nullptr) {
      if (example != nullptr) fail(key, std::string("missing (e.g. ") + key + " = \"" + example + "\")");
      return fallback;
    }
    return value_of(key, *node, kind, lo, hi);
  }

  // An array of values with units (fov = ["24 mm", "24 mm"]), each within [lo, hi]; empty when absent.
  std::vector<double> quantities(const std::string& key, config::Quantity kind, double lo, double hi, const std::string& legacy,
                                 double legacy_si) const {
    const bool old_spelling = has(legacy);
    if (old_spelling && has(key)) fail(legacy, "give " + key + " (values with their units) or the older " + legacy + ", not both");
    if (old_spelling) {
      std::vector<double> out = numbers(legacy, lo / legacy_si, hi / legacy_si);
      for (double& v : out) v *= legacy_si;
      return out;
    }
    std::vector<double> out;
    const toml::node* node = table_->get(key);
    if (node == nullptr) return out;
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) fail(key, "must be a non-empty array of values with units, e.g. [\"24 mm\", \"24 mm\"]");
    for (std::size_t i = 0; i < array->size(); ++i) out.push_back(value_of(key + "[" + std::to_string(i) + "]", *array->get(i), kind, lo, hi));
    return out;
  }

  // A table of angles per drive channel ({ x = "0 rad", y = "90 deg" }); the older drive_phase_rad takes numbers in rad.
  std::vector<std::pair<std::string, double>> named_angles(const std::string& key, const std::string& legacy) const {
    if (has(legacy) && has(key)) fail(legacy, "give " + key + " (angles with their units) or the older " + legacy + ", not both");
    if (has(legacy)) return named_numbers(legacy, -100.0, 100.0);
    std::vector<std::pair<std::string, double>> out;
    const toml::node* node = table_->get(key);
    if (node == nullptr) return out;
    const toml::table* table = node->as_table();
    if (table == nullptr) fail(key, "must be a table of angles per drive channel name, e.g. { x = \"0 deg\", y = \"90 deg\" }");
    for (const auto& [name, value] : *table) {
      const std::string k = key + "." + std::string(name.str());
      out.emplace_back(std::string(name.str()), value_of(k, value, config::Quantity::angle, -100.0, 100.0));
    }
    return out;
  }

  std::uint32_t count(const std::string& key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return fallback;
    const std::optional<std::int64_t> v = node->value_exact<std::int64_t>();
    if (!v) fail(key, "must be an integer");
    if (*v < lo || *v > hi) {
      fail(key, "= " + std::to_string(*v) + " is outside the allowed range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return static_cast<std::uint32_t>(*v);
  }

  std::vector<std::string> strings(const std::string& key) const {
    std::vector<std::string> out;
    const toml::node* node = table_->get(key);
    if (node == nullptr) return out;
    const toml::array* array = node->as_array();
    if (array == nullptr) fail(key, "must be an array of strings");
    for (const toml::node& item : *array) {
      const std::optional<std::string> s = item.value<std::string>();
      if (!s) fail(key, "must be an array of strings");
      out.push_back(*s);
    }
    return out;
  }

  bool has(const std::string& key) const { return table_->get(key) != nullptr; }

  bool flag(const std::string& key, bool fallback) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return fallback;
    const std::optional<bool> v = node->value_exact<bool>();
    if (!v) fail(key, "must be true or false");
    return *v;
  }

  std::string text(const std::string& key, const std::string& fallback) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return fallback;
    const std::optional<std::string> v = node->value_exact<std::string>();
    if (!v) fail(key, "must be a string");
    return *v;
  }

  // An array of numbers, each in [lo, hi].
  std::vector<double> numbers(const std::string& key, double lo, double hi) const {
    std::vector<double> out;
    const toml::node* node = table_->get(key);
    if (node == nullptr) return out;
    const toml::array* array = node->as_array();
    if (array == nullptr || array->empty()) fail(key, "must be a non-empty array of numbers");
    for (const toml::node& item : *array) {
      const std::optional<double> v = item.value<double>();
      if (!v) fail(key, "must be a non-empty array of numbers");
      if (!std::isfinite(*v) || *v < lo || *v > hi) {
        std::ostringstream why;
        why << "entry " << *v << " is outside the allowed range [" << lo << ", " << hi << "]";
        fail(key, why.str());
      }
      out.push_back(*v);
    }
    return out;
  }

  // A table of numbers keyed by name ({ x = 0.1, y = 0.2 }).
  std::vector<std::pair<std::string, double>> named_numbers(const std::string& key, double lo, double hi) const {
    std::vector<std::pair<std::string, double>> out;
    const toml::node* node = table_->get(key);
    if (node == nullptr) return out;
    const toml::table* table = node->as_table();
    if (table == nullptr) fail(key, "must be a table of numbers per drive channel name, e.g. { x = 0.0, y = 1.57 }");
    for (const auto& [name, value] : *table) {
      const std::optional<double> v = value.value<double>();
      if (!v) fail(key + "." + std::string(name.str()), "must be a number");
      if (!std::isfinite(*v) || *v < lo || *v > hi) fail(key + "." + std::string(name.str()), "is outside the allowed range");
      out.emplace_back(std::string(name.str()), *v);
    }
    return out;
  }

  // Refuses keys of the section other than `known`.
  void only(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : *table_) {
      bool listed = false;
      for (const std::string_view k : known) listed = listed || key.str() == k;
      if (!listed) fail(std::string(key.str()), "unknown key");
    }
  }

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw PlanError(file_ + ": [" + name_ + "] " + key + ": " + why);
  }

 private:
  [[noreturn]] void fail_section(const std::string& why) const { throw PlanError(file_ + ": [" + name_ + "]: " + why); }

 private:
  double value_of(const std::string& key, const toml::node& node, config::Quantity kind, double lo, double hi) const {
    const std::optional<std::string> text = node.value_exact<std::string>();
    if (!text) fail(key, "must be a value with its unit in quotes, e.g. \"" + config::format_quantity(hi, kind) + "\": a " + config::describe(kind));
    double v = 0.0;
    try {
      v = config::parse_quantity(*text, kind);
    } catch (const config::UnitError& e) {
      fail_value(key, *text, e.what());
    }
    if (v < lo || v > hi) {
      fail_value(key, *text, "outside the allowed range " + config::format_quantity(lo, kind) + " to " + config::format_quantity(hi, kind));
    }
    return v;
  }

  [[noreturn]] void fail_value(const std::string& key, const std::string& text, const std::string& why) const {
    throw PlanError(file_ + ": [" + name_ + "] " + key + " = \"" + text + "\": " + why);
  }

  std::string file_;
  std::string name_;
  const toml::table* table_ = nullptr;
};

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
  const toml::table root = parse(file);
  const std::string name = file.string();
  for (const auto& [key, value] : root) {
    const std::string_view k = key.str();
    if (k == "tracer" || k == "sequence" || k == "reconstruction" || k == "simulation" || k == "background") continue;
    if (k == "phantom") {
      throw PlanError(name + ": [phantom]: not part of a plan any more: the phantom is a file of its own, named in "
                      "[simulation] phantom = \"../phantoms/NAME.toml\"");
    }
    throw PlanError(name + ": " + std::string(k) + ": unknown key (a plan has tracer, [sequence], [reconstruction], [background], [simulation])");
  }
  ScanPlan plan;
  plan.file = file;
  const Section seq(root, name, "sequence");
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
    plan.sequence.ramp_s = seq.quantity("ramp", config::Quantity::time, 0.0, 1e-6, 10.0, "ramp_ms", 1e-3);
    plan.sequence.periods_per_frame_given = seq.has("periods_per_frame");
    plan.sequence.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1'000'000);
    plan.sequence.named_phases_rad = seq.named_angles("drive_phase", "drive_phase_rad");
    plan.sequence.drive_frequency_hz = 0.0;
    plan.sequence.drive_amplitude_t = 0.0;
    plan.reconstruction.pixel_m = 0.5e-3;
  } else {
    seq.only({"drive_frequency", "drive_frequency_hz", "drive_amplitude", "drive_amplitude_t", "drive_phase", "drive_phase_rad", "periods_per_frame",
              "frames", "ramp_periods"});
    plan.sequence.drive_frequency_hz = seq.quantity("drive_frequency", config::Quantity::frequency, 0.0, 100.0, 1e6, "drive_frequency_hz", 1.0, "25 kHz");
    plan.sequence.drive_amplitude_t = seq.quantity("drive_amplitude", config::Quantity::flux_density, 0.0, 1e-5, 0.1, "drive_amplitude_t", 1.0, "12 mT");
    plan.sequence.drive_phase_rad = seq.quantity("drive_phase", config::Quantity::angle, 0.0, -100.0, 100.0, "drive_phase_rad", 1.0);
    plan.sequence.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1'000'000);
    plan.sequence.frames = seq.count("frames", 1, 1, 10'000'000);
    plan.sequence.ramp_periods = seq.count("ramp_periods", 25, 1, 1'000'000);
  }

  plan.tracer = single_mode_tracer(root, file, plan.tracer_file, plan.tracer_tau_s);

  if (root.get("background") != nullptr) {
    const Section bg(root, name, "background");
    bg.only({"recording"});
    const std::string recording = bg.text("recording", "");
    if (recording.empty()) {
      bg.fail("recording", "missing: the raw capture (raw.mpilink) of an empty-bore scan of the same sequence, relative to the plan");
    }
    plan.background.recording = (file.parent_path() / recording).lexically_normal();
  }

  if (root.get("reconstruction") != nullptr) {
    const Section rec(root, name, "reconstruction");
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
    plan.reconstruction.snr_iron_kg = rec.quantity("snr_iron", config::Quantity::mass, 1e-9, 1e-18, 1.0, "snr_iron_ug", 1e-9);
    plan.reconstruction.min_frequency_hz = rec.quantity("min_frequency", config::Quantity::frequency, 80e3, 0.0, 1e8, "min_frequency_khz", 1e3);
    plan.reconstruction.max_rows = rec.count("max_rows", 0, 0, 10'000'000);
    plan.reconstruction.non_negative = rec.flag("non_negative", false);
    plan.reconstruction.pixel_m = rec.quantity("pixel", config::Quantity::length, plan.reconstruction.pixel_m, 1e-7, 10e-3, "pixel_mm", 1e-3);
    plan.reconstruction.min_speed_fraction = rec.number("min_speed_fraction", 0.3, 0.0, 0.95);
    for (const char* fov : {"fov", "fov_mm"}) {
      if (rec.has(fov) && rec.has("counts")) rec.fail("counts", std::string("give either ") + fov + " or counts, not both");
    }
    plan.reconstruction.fov_m = rec.quantities("fov", config::Quantity::length, 1e-6, 10.0, "fov_mm", 1e-3);
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
