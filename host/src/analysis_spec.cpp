#include "mpi/host/analysis_spec.hpp"

#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace mpi::host {

namespace {

// The text of a value as written (strings without their quotes), for messages.
std::string text_of(const toml::node& node) {
  if (const auto s = node.value_exact<std::string>()) return *s;
  std::ostringstream out;
  if (const toml::array* a = node.as_array()) {
    out << *a;
  } else if (const toml::table* t = node.as_table()) {
    out << *t;
  } else if (const auto i = node.value_exact<std::int64_t>()) {
    out << *i;
  } else if (const auto d = node.value_exact<double>()) {
    out << *d;
  } else if (const auto b = node.value_exact<bool>()) {
    out << (*b ? "true" : "false");
  }
  return out.str();
}

// One table of the spec: named in messages as "FILE: SECTION key", refuses keys it was not asked for.
class Entry {
 public:
  Entry(const toml::table& table, std::string source, std::string section)
      : table_(table), source_(std::move(source)), section_(std::move(section)) {}

  void set_label(const std::string& label) { section_ += " (" + label + ")"; }

  [[noreturn]] void fail(std::string_view key, const std::string& why) const {
    throw AnalysisSpecError(source_ + ": " + section_ + " " + std::string(key) + ": " + why);
  }
  [[noreturn]] void fail_value(std::string_view key, const std::string& why) const {
    fail(key, why + ", got '" + text_of(*table_.get(key)) + "'");
  }

  const toml::node* node(std::string_view key) {
    known_.insert(std::string(key));
    return table_.get(key);
  }

  std::optional<std::string> string(std::string_view key, const std::string& what) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    const auto s = n->value_exact<std::string>();
    if (!s) fail_value(key, "must be a string (" + what + ")");
    return s;
  }

  std::optional<double> quantity(std::string_view key, config::Quantity kind, bool positive) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    double v = 0.0;
    if (const auto s = n->value_exact<std::string>()) {
      try {
        v = config::parse_quantity(*s, kind);
      } catch (const config::UnitError& e) {
        fail(key, e.what());
      }
    } else if (kind == config::Quantity::dimensionless && n->value<double>()) {
      v = *n->value<double>();
    } else {
      fail_value(key, "expected a " + config::describe(kind) + " written as a string with its unit, e.g. \"3 mm\"");
    }
    if (!std::isfinite(v) || (positive && v <= 0.0)) fail_value(key, "must be " + std::string(positive ? "positive" : "finite"));
    return v;
  }

  std::optional<Eigen::Vector3d> point(std::string_view key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    const toml::array* a = n->as_array();
    if (a == nullptr || a->size() != 3) fail_value(key, "expected three lengths [x, y, z], e.g. [\"-6 mm\", \"-6 mm\", \"0 mm\"]");
    Eigen::Vector3d v;
    for (std::size_t i = 0; i < 3; ++i) {
      const auto s = (*a)[i].value_exact<std::string>();
      if (!s) fail_value(key, "expected three lengths [x, y, z], each a string with its unit such as \"6 mm\"");
      try {
        v[static_cast<Eigen::Index>(i)] = config::parse_quantity(*s, config::Quantity::length);
      } catch (const config::UnitError& e) {
        fail(key, std::string("entry ") + std::to_string(i + 1) + ": " + e.what());
      }
    }
    return v;
  }

  void finish(const std::vector<std::string_view>& allowed) const {
    for (const auto& [key, value] : table_) {
      if (known_.count(std::string(key.str())) != 0) continue;
      std::string list;
      for (std::string_view k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
      throw AnalysisSpecError(source_ + ": " + section_ + " " + std::string(key.str()) + ": unknown key (allowed: " + list + ")");
    }
  }

 private:
  const toml::table& table_;
  std::string source_;
  std::string section_;
  std::set<std::string> known_;
};

RoiSpec read_roi(const toml::table& table, const std::string& source, std::size_t number) {
  Entry e(table, source, "[[roi]] #" + std::to_string(number));
  RoiSpec spec;
  recon::Roi& roi = spec.roi;
  const auto name = e.string("name", "the region's name");
  if (!name || name->empty()) e.fail("name", "missing: every region needs a name (name = \"cube 1\")");
  roi.name = *name;
  e.set_label(roi.name);
  const std::string shape = e.string("shape", "\"box\", \"sphere\" or \"threshold\"").value_or("box");
  if (shape == "box") {
    roi.shape = recon::RoiShape::box;
  } else if (shape == "sphere") {
    roi.shape = recon::RoiShape::sphere;
  } else if (shape == "threshold") {
    roi.shape = recon::RoiShape::threshold;
  } else {
    e.fail_value("shape", "must be \"box\", \"sphere\" or \"threshold\"");
  }
  const auto centre = e.point("centre");
  if (!centre) e.fail("centre", "missing: the region's centre, e.g. centre = [\"-6 mm\", \"-6 mm\", \"0 mm\"]");
  roi.centre_m = *centre;
  const auto size = e.point("size");
  const auto radius = e.quantity("radius", config::Quantity::length, true);
  const auto fraction = e.quantity("fraction", config::Quantity::dimensionless, true);
  const auto margin = e.quantity("background_margin", config::Quantity::length, true);
  switch (roi.shape) {
    case recon::RoiShape::box:
      if (!size) e.fail("size", "missing: a box needs its edge lengths, e.g. size = [\"6 mm\", \"6 mm\", \"6 mm\"]");
      if (size->minCoeff() <= 0.0) e.fail_value("size", "every edge must be positive");
      if (radius) e.fail("radius", "is for a sphere or a threshold region, not a box (use size)");
      roi.size_m = *size;
      break;
    case recon::RoiShape::sphere:
      if (!radius) e.fail("radius", "missing: a sphere needs its radius, e.g. radius = \"3 mm\"");
      if (size) e.fail("size", "is for a box, not a sphere (use radius)");
      roi.radius_m = *radius;
      break;
    case recon::RoiShape::threshold:
      if (size) e.fail("size", "is for a box, not a threshold region (use radius to limit the search for its maximum)");
      if (margin) e.fail("background_margin", "is for box and sphere regions; a threshold region follows the signal");
      roi.radius_m = radius.value_or(0.0);
      break;
  }
  if (fraction) {
    if (roi.shape != recon::RoiShape::threshold) e.fail("fraction", "is for a threshold region only");
    if (*fraction >= 1.0) e.fail_value("fraction", "must lie between 0 and 1 (e.g. \"50 %\")");
    roi.threshold_fraction = *fraction;
  }
  roi.background_margin_m = margin.value_or(0.0);
  spec.known_iron_kg = e.quantity("iron", config::Quantity::mass, true);
  if (const auto volume = e.string("volume", "a volume such as \"8 uL\" or \"8 mm^3\"")) {
    try {
      spec.sample_volume_m3 = parse_volume_m3(*volume);
    } catch (const std::invalid_argument& ex) {
      e.fail("volume", ex.what());
    }
  }
  e.finish({"name", "shape", "centre", "size", "radius", "fraction", "background_margin", "iron", "volume"});
  return spec;
}

std::pair<double, std::string_view> split_number(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data()) return {std::nan(""), {}};
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return {v, unit};
}

}  // namespace

double parse_volume_m3(std::string_view text) {
  static const std::array<std::pair<std::string_view, double>, 9> kUnits{{{"m^3", 1.0},
                                                                          {"cm^3", 1e-6},
                                                                          {"mm^3", 1e-9},
                                                                          {"L", 1e-3},
                                                                          {"mL", 1e-6},
                                                                          {"uL", 1e-9},
                                                                          {"µL", 1e-9},
                                                                          {"nL", 1e-12},
                                                                          {"ml", 1e-6}}};
  const auto [v, unit] = split_number(text);
  const std::string allowed = "expected a volume (m^3, cm^3, mm^3, L, mL, uL, nL), got '" + std::string(text) + "'";
  if (!std::isfinite(v)) throw std::invalid_argument(allowed);
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      if (!(v > 0.0)) throw std::invalid_argument("a volume must be positive, got '" + std::string(text) + "'");
      return v * factor;
    }
  }
  throw std::invalid_argument(allowed);
}

Eigen::Vector3d parse_point_m(std::string_view text, const std::string& what) {
  std::vector<std::string_view> parts;
  for (std::string_view rest = text;;) {
    const std::size_t comma = rest.find(',');
    parts.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (parts.size() != 3) throw std::invalid_argument(what + " '" + std::string(text) + "': expected three lengths \"X mm,Y mm,Z mm\"");
  Eigen::Vector3d p;
  for (std::size_t i = 0; i < 3; ++i) {
    try {
      p[static_cast<Eigen::Index>(i)] = config::parse_quantity(parts[i], config::Quantity::length);
    } catch (const config::UnitError& e) {
      throw std::invalid_argument(what + " '" + std::string(text) + "': coordinate " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return p;
}

AnalysisSpec parse_analysis_spec(std::string_view toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw AnalysisSpecError(source + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": not valid TOML: " +
                            std::string(e.description()));
  }
  AnalysisSpec spec;
  for (const auto& [key, value] : root) {
    if (key.str() != "roi" && key.str() != "calibration") {
      throw AnalysisSpecError(source + ": " + std::string(key.str()) + ": unknown key (allowed: [[roi]], [calibration])");
    }
  }
  if (const toml::node* rois = root.get("roi")) {
    const toml::array* a = rois->as_array();
    if (a == nullptr || !a->is_array_of_tables()) throw AnalysisSpecError(source + ": roi: must be an array of tables ([[roi]] entries)");
    std::size_t number = 0;
    for (const toml::node& item : *a) {
      spec.rois.push_back(read_roi(*item.as_table(), source, ++number));
      for (std::size_t k = 0; k + 1 < spec.rois.size(); ++k) {
        if (spec.rois[k].roi.name == spec.rois.back().roi.name) {
          throw AnalysisSpecError(source + ": [[roi]] #" + std::to_string(number) + " name: '" + spec.rois.back().roi.name +
                                  "' is already the name of [[roi]] #" + std::to_string(k + 1) + "; names must be unique");
        }
      }
    }
  }
  if (const toml::node* cal = root.get("calibration")) {
    const toml::table* t = cal->as_table();
    if (t == nullptr) throw AnalysisSpecError(source + ": calibration: must be a table ([calibration])");
    Entry e(*t, source, "[calibration]");
    CalibrationSpec c;
    const auto reference = e.string("reference", "the name of a [[roi]]");
    if (!reference) e.fail("reference", "missing: the name of the [[roi]] of known iron");
    const bool found = std::any_of(spec.rois.begin(), spec.rois.end(), [&](const RoiSpec& r) { return r.roi.name == *reference; });
    if (!found) {
      std::string names;
      for (const auto& r : spec.rois) names += (names.empty() ? "'" : ", '") + r.roi.name + "'";
      e.fail_value("reference", "must name a [[roi]] of this file (" + (names.empty() ? std::string("there are none") : names) + ")");
    }
    c.reference = *reference;
    const auto iron = e.quantity("iron", config::Quantity::mass, true);
    if (!iron) e.fail("iron", "missing: the iron in the reference region, e.g. iron = \"44.7 ug\"");
    c.iron_kg = *iron;
    e.finish({"reference", "iron"});
    spec.calibration = c;
  }
  if (spec.rois.empty()) throw AnalysisSpecError(source + ": no [[roi]] entries: nothing to analyse");
  return spec;
}

AnalysisSpec load_analysis_spec(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw AnalysisSpecError(file.string() + ": cannot read the analysis spec");
  std::stringstream s;
  s << in.rdbuf();
  return parse_analysis_spec(s.str(), file.string());
}

}  // namespace mpi::host
