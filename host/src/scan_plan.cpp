#include "mpi/host/scan_plan.hpp"

#include <toml++/toml.h>

#include <cmath>
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
      why << "= " << *v << " is outside [" << lo << ", " << hi << "]";
      fail(key, why.str());
    }
    return *v;
  }

  std::uint32_t count(const std::string& key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi) const {
    const toml::node* node = table_->get(key);
    if (node == nullptr) return fallback;
    const std::optional<std::int64_t> v = node->value_exact<std::int64_t>();
    if (!v) fail(key, "must be an integer");
    if (*v < lo || *v > hi) fail(key, "= " + std::to_string(*v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
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

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw PlanError(file_ + ": [" + name_ + "] " + key + ": " + why);
  }

 private:
  [[noreturn]] void fail_section(const std::string& why) const { throw PlanError(file_ + ": [" + name_ + "]: " + why); }
  std::string file_;
  std::string name_;
  const toml::table* table_ = nullptr;
};

}  // namespace

ScanPlan load_scan_plan(const std::filesystem::path& file) {
  const toml::table root = parse(file);
  const std::string name = file.string();
  ScanPlan plan;
  const Section seq(root, name, "sequence");
  plan.sequence.drive_frequency_hz = seq.number("drive_frequency_hz", 0, 100.0, 1e6, true);
  plan.sequence.drive_amplitude_t = seq.number("drive_amplitude_t", 0, 1e-5, 0.1, true);
  plan.sequence.drive_phase_rad = seq.number("drive_phase_rad", 0.0, -100.0, 100.0);
  plan.sequence.periods_per_frame = seq.count("periods_per_frame", 1, 1, 1'000'000);
  plan.sequence.frames = seq.count("frames", 1, 1, 10'000'000);
  plan.sequence.ramp_periods = seq.count("ramp_periods", 25, 1, 1'000'000);

  const Section tracer(root, name, "tracer");
  plan.tracer.core_diameter_m = tracer.number("core_diameter_nm", 0, 1.0, 200.0, true) * 1e-9;
  plan.tracer.diameter_sigma = tracer.number("diameter_sigma", 0.0, 0.0, 1.0);
  plan.tracer.saturation_magnetisation_a_per_m = tracer.number("saturation_magnetisation_a_per_m", 0, 1e3, 2e6, true);
  plan.tracer.temperature_k = tracer.number("temperature_k", 293.15, 1.0, 1000.0);

  if (root.get("reconstruction") != nullptr) {
    const Section rec(root, name, "reconstruction");
    plan.reconstruction.pixel_m = rec.number("pixel_mm", 0.02, 1e-4, 10.0) * 1e-3;
    plan.reconstruction.min_speed_fraction = rec.number("min_speed_fraction", 0.3, 0.0, 0.95);
  }
  return plan;
}

ScannerDescription load_scanner_description(const std::filesystem::path& file) {
  const toml::table root = parse(file);
  const std::string name = file.string();
  ScannerDescription s;
  const Section board(root, name, "board");
  s.adc_channel_names = board.strings("adc_channel_names");
  const Section selection(root, name, "selection");
  s.gradient_t_per_m = selection.number("gradient_t_per_m", 0, 0.01, 100.0, true);
  const Section receive(root, name, "receive");
  s.coil_sensitivity_t_per_a = receive.number("coil_sensitivity_t_per_a", 0, 1e-9, 1.0, true);
  s.lna_gain = receive.number("lna_gain", 1.0, 1e-3, 1e6);
  s.adc_full_scale_v = receive.number("adc_full_scale_v", 1.0, 1e-3, 100.0);
  return s;
}

}  // namespace mpi::host
