#include "mpi/host/calibration_plan.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>

namespace mpi::host {

namespace {

using config::Quantity;

// One table of the plan: every error names file, table and key.
class Table {
 public:
  Table(const toml::table& root, std::string file, std::string name, bool required) : file_(std::move(file)), name_(std::move(name)) {
    const toml::node* node = root.get(name_);
    if (node == nullptr) {
      if (required) throw PlanError(file_ + ": [" + name_ + "]: missing table");
      return;
    }
    table_ = node->as_table();
    if (table_ == nullptr) throw PlanError(file_ + ": [" + name_ + "]: must be a table");
  }

  [[nodiscard]] const toml::node* get(const std::string& key) const { return table_ == nullptr ? nullptr : table_->get(key); }
  [[nodiscard]] bool has(const std::string& key) const { return get(key) != nullptr; }

  void only(std::initializer_list<std::string_view> known) const {
    if (table_ == nullptr) return;
    for (const auto& [key, value] : *table_) {
      bool listed = false;
      for (const std::string_view k : known) listed = listed || key.str() == k;
      if (!listed) fail(std::string(key.str()), "unknown key");
    }
  }

  std::string text(const std::string& key, bool required) const {
    const toml::node* node = get(key);
    if (node == nullptr) {
      if (required) fail(key, "missing");
      return {};
    }
    const std::optional<std::string> v = node->value_exact<std::string>();
    if (!v) fail(key, "must be a string");
    return *v;
  }

  std::uint32_t count(const std::string& key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi, bool required = false) const {
    const toml::node* node = get(key);
    if (node == nullptr) {
      if (required) fail(key, "missing");
      return fallback;
    }
    return whole(key, *node, lo, hi);
  }

  double number(const std::string& key, double fallback, double lo, double hi) const {
    const toml::node* node = get(key);
    if (node == nullptr) return fallback;
    const std::optional<double> v = node->value<double>();
    if (!v) fail(key, "must be a number");
    if (!std::isfinite(*v) || *v < lo || *v > hi) {
      std::ostringstream why;
      why << "= " << *v << " is outside [" << lo << ", " << hi << "]";
      fail(key, why.str());
    }
    return *v;
  }

  // "50 ug" of `kind` within [lo, hi] (SI).
  double quantity(const std::string& key, Quantity kind, double fallback, double lo, double hi, bool required = false) const {
    const toml::node* node = get(key);
    if (node == nullptr) {
      if (required) fail(key, "missing");
      return fallback;
    }
    return quantity_of(key, *node, kind, lo, hi);
  }

  // Three quantities ["24 mm", "24 mm", "2 mm"], x y z.
  std::array<double, 3> quantities3(const std::string& key, Quantity kind, std::array<double, 3> fallback, double lo, double hi,
                                    bool required = false) const {
    const toml::node* node = get(key);
    if (node == nullptr) {
      if (required) fail(key, "missing");
      return fallback;
    }
    const toml::array* a = node->as_array();
    if (a == nullptr || a->size() != 3) fail(key, "must be three values with units, x y z (e.g. [\"24 mm\", \"24 mm\", \"2 mm\"])");
    std::array<double, 3> out{};
    for (std::size_t k = 0; k < 3; ++k) out[k] = quantity_of(key + "[" + std::to_string(k) + "]", *a->get(k), kind, lo, hi);
    return out;
  }

  std::array<std::uint32_t, 3> counts3(const std::string& key, std::uint32_t lo, std::uint32_t hi) const {
    const toml::node* node = get(key);
    if (node == nullptr) fail(key, "missing");
    const toml::array* a = node->as_array();
    if (a == nullptr || a->size() != 3) fail(key, "must be three whole numbers, x y z (e.g. [9, 9, 1])");
    std::array<std::uint32_t, 3> out{};
    for (std::size_t k = 0; k < 3; ++k) out[k] = whole(key + "[" + std::to_string(k) + "]", *a->get(k), lo, hi);
    return out;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw PlanError(file_ + ": [" + name_ + "] " + key + ": " + why);
  }

 private:
  std::uint32_t whole(const std::string& key, const toml::node& node, std::uint32_t lo, std::uint32_t hi) const {
    const std::optional<std::int64_t> v = node.value_exact<std::int64_t>();
    if (!v) fail(key, "must be a whole number");
    if (*v < lo || *v > hi) fail(key, "= " + std::to_string(*v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<std::uint32_t>(*v);
  }

  double quantity_of(const std::string& key, const toml::node& node, Quantity kind, double lo, double hi) const {
    const std::optional<std::string> s = node.value_exact<std::string>();
    if (!s) fail(key, "must be a string with its unit, e.g. \"" + config::format_quantity(lo > 0.0 ? lo : hi, kind) + "\"");
    double v = 0.0;
    try {
      v = config::parse_quantity(*s, kind);
    } catch (const config::UnitError& e) {
      fail(key, e.what());
    }
    if (!(v >= lo && v <= hi)) {
      fail(key, "'" + *s + "' is outside [" + config::format_quantity(lo, kind) + ", " + config::format_quantity(hi, kind) + "]");
    }
    return v;
  }

  std::string file_;
  std::string name_;
  const toml::table* table_ = nullptr;
};

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
  toml::table root;
  try {
    root = toml::parse(toml_text, name);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << name << ": line " << e.source().begin.line << " col " << e.source().begin.column << ": " << e.description();
    throw PlanError(msg.str());
  }
  for (const auto& [key, value] : root) {
    const std::string_view k = key.str();
    if (k == "tracer" || k == "sequence" || k == "calibration" || k == "simulation") continue;
    throw PlanError(name + ": " + std::string(k) + ": unknown key (a calibration plan has tracer, [sequence], [calibration], [simulation])");
  }
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
  const Table seq(root, name, "sequence", true);
  seq.only({"name", "ramp_periods", "ramp_ms", "periods_per_frame", "drive_phase_rad"});
  SequencePlan& s = plan.scan.sequence;
  s.name = seq.text("name", true);
  if (s.name.empty()) seq.fail("name", "must name a [[sequence]] of the scanner description, e.g. \"lissajous_2d\"");
  if (seq.has("ramp_ms") && seq.has("ramp_periods")) seq.fail("ramp_ms", "give either ramp_periods or ramp_ms, not both");
  s.ramp_periods = seq.count("ramp_periods", 10, 1, 1'000'000);
  s.ramp_s = seq.number("ramp_ms", 0.0, 1e-3, 1e4) * 1e-3;
  s.periods_per_frame_given = true;
  s.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1);
  if (const toml::node* phases = seq.get("drive_phase_rad")) {
    const toml::table* t = phases->as_table();
    if (t == nullptr) seq.fail("drive_phase_rad", "must be a table of numbers per drive channel name, e.g. { x = 0.0, y = 1.57 }");
    for (const auto& [channel, value] : *t) {
      const std::optional<double> v = value.value<double>();
      if (!v || !std::isfinite(*v) || std::abs(*v) > 100.0) seq.fail("drive_phase_rad." + std::string(channel.str()), "must be a number in [-100, 100]");
      s.named_phases_rad.emplace_back(std::string(channel.str()), *v);
    }
  }
  s.frames = 1;
  s.drive_frequency_hz = 0.0;
  s.drive_amplitude_t = 0.0;

  // The calibration.
  const Table cal(root, name, "calibration", true);
  cal.only({"grid", "fov", "centre", "delta_sample", "sample_edge", "frames_per_position", "settle_frames", "background_frames", "park_every",
            "min_frequency"});
  CalibrationSettings& c = plan.calibration;
  c.grid = cal.counts3("grid", 1, 256);
  if (c.positions() > 100'000) cal.fail("grid", std::to_string(c.positions()) + " positions; at most 100000");
  const std::array<double, 3> fov = cal.quantities3("fov", Quantity::length, {0, 0, 0}, 0.0, 1.0, true);
  const std::array<double, 3> centre = cal.quantities3("centre", Quantity::length, {0, 0, 0}, -1.0, 1.0);
  for (int k = 0; k < 3; ++k) {
    c.fov_m[k] = fov[static_cast<std::size_t>(k)];
    c.centre_m[k] = centre[static_cast<std::size_t>(k)];
    if (!(c.fov_m[k] > 0.0)) cal.fail("fov[" + std::to_string(k) + "]", "must be more than 0 mm");
  }
  c.delta_iron_kg = cal.quantity("delta_sample", Quantity::mass, 50e-9, 1e-12, 1e-3, true);
  c.sample_edge_m = cal.quantity("sample_edge", Quantity::length, 1e-3, 1e-6, 0.05);
  c.frames_per_position = cal.count("frames_per_position", 4, 1, 10'000);
  c.settle_frames = cal.count("settle_frames", 2, 0, 1'000);
  c.background_frames = cal.count("background_frames", 16, 2, 100'000);
  c.park_every = cal.count("park_every", 0, 0, 100'000);
  c.min_frequency_hz = cal.quantity("min_frequency", Quantity::frequency, 80e3, 0.0, 100e6);

  const Table sim(root, name, "simulation", false);  // the simulated scanner's (mpi::config::load_plan_simulation)
  (void)sim;
  return plan;
}

CalibrationPlan load_calibration_plan(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw PlanError(file.string() + ": cannot read the calibration plan");
  std::stringstream text;
  text << in.rdbuf();
  return parse_calibration_plan(text.str(), file);
}

}  // namespace mpi::host
