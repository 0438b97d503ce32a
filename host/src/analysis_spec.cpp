#include "mpi/host/analysis_spec.hpp"

#include "plan_table.hpp"

#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
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

constexpr RaiseError kRaise = raise_error<AnalysisSpecError>;

// Lengths and iron amounts of a spec: within the bounds below, then positive where the shape needs it.
constexpr double kMaxLengthM = 10.0;
constexpr double kMaxIronKg = 1.0;

[[noreturn]] void fail_written(const PlanTable& t, const std::string& key, const std::string& why) {
  t.fail(key, why + ", got '" + text_of(*t.get(key)) + "'");
}

// A value with its unit that must be above 0 when given.
std::optional<double> positive(const PlanTable& t, const std::string& key, config::Quantity kind, double hi) {
  const std::optional<double> v = t.optional_quantity(key, kind, 0.0, hi);
  if (v && !(*v > 0.0)) fail_written(t, key, "must be positive");
  return v;
}

// Three lengths [x, y, z] when given.
std::optional<Eigen::Vector3d> point(const PlanTable& t, const std::string& key, double lo) {
  const std::vector<double> v = t.quantities(key, config::Quantity::length, lo, kMaxLengthM, 3, "[\"-6 mm\", \"-6 mm\", \"0 mm\"] (x y z)");
  if (v.empty()) return std::nullopt;
  return Eigen::Vector3d(v[0], v[1], v[2]);
}

RoiSpec read_roi(const toml::table& table, const std::string& source, std::size_t number) {
  PlanTable e = PlanTable::entry(table, source, "[[roi]] #" + std::to_string(number), kRaise);
  RoiSpec spec;
  recon::Roi& roi = spec.roi;
  const auto name = e.optional_text("name");
  if (!name || name->empty()) e.fail("name", "missing: every region needs a name (name = \"cube 1\")");
  roi.name = *name;
  e.add_label(roi.name);
  e.only({"name", "shape", "centre", "size", "radius", "fraction", "background_margin", "iron", "volume"});
  const std::string shape = e.text("shape", "box");
  if (shape == "box") {
    roi.shape = recon::RoiShape::box;
  } else if (shape == "sphere") {
    roi.shape = recon::RoiShape::sphere;
  } else if (shape == "threshold") {
    roi.shape = recon::RoiShape::threshold;
  } else {
    fail_written(e, "shape", "must be \"box\", \"sphere\" or \"threshold\"");
  }
  const auto centre = point(e, "centre", -kMaxLengthM);
  if (!centre) e.fail("centre", "missing: the region's centre, e.g. centre = [\"-6 mm\", \"-6 mm\", \"0 mm\"]");
  roi.centre_m = *centre;
  const auto size = point(e, "size", 0.0);
  const auto radius = positive(e, "radius", config::Quantity::length, kMaxLengthM);
  const auto fraction = positive(e, "fraction", config::Quantity::dimensionless, 1.0);
  const auto margin = positive(e, "background_margin", config::Quantity::length, kMaxLengthM);
  switch (roi.shape) {
    case recon::RoiShape::box:
      if (!size) e.fail("size", "missing: a box needs its edge lengths, e.g. size = [\"6 mm\", \"6 mm\", \"6 mm\"]");
      if (size->minCoeff() <= 0.0) fail_written(e, "size", "every edge must be positive");
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
    if (*fraction >= 1.0) fail_written(e, "fraction", "must lie between 0 and 1 (e.g. \"50 %\")");
    roi.threshold_fraction = *fraction;
  }
  roi.background_margin_m = margin.value_or(0.0);
  spec.known_iron_kg = positive(e, "iron", config::Quantity::mass, kMaxIronKg);
  if (const auto volume = e.optional_text("volume")) {
    try {
      spec.sample_volume_m3 = parse_volume_m3(*volume);
    } catch (const std::invalid_argument& ex) {
      e.fail("volume", ex.what());
    }
  }
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
  const toml::table root = parse_plan_toml(toml_text, source, kRaise);
  only_top_level(root, source, {"roi", "calibration"}, "allowed: [[roi]], [calibration]", kRaise);
  AnalysisSpec spec;
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
  if (const PlanTable e(root, source, "calibration", kRaise, false); e.present()) {
    e.only({"reference", "iron"});
    CalibrationSpec c;
    const auto reference = e.optional_text("reference");
    if (!reference) e.fail("reference", "missing: the name of the [[roi]] of known iron");
    const bool found = std::any_of(spec.rois.begin(), spec.rois.end(), [&](const RoiSpec& r) { return r.roi.name == *reference; });
    if (!found) {
      std::string names;
      for (const auto& r : spec.rois) names += (names.empty() ? "'" : ", '") + r.roi.name + "'";
      fail_written(e, "reference", "must name a [[roi]] of this file (" + (names.empty() ? std::string("there are none") : names) + ")");
    }
    c.reference = *reference;
    const auto iron = positive(e, "iron", config::Quantity::mass, kMaxIronKg);
    if (!iron) e.fail("iron", "missing: the iron in the reference region, e.g. iron = \"44.7 ug\"");
    c.iron_kg = *iron;
    spec.calibration = c;
  }
  if (spec.rois.empty()) throw AnalysisSpecError(source + ": no [[roi]] entries: nothing to analyse");
  return spec;
}

AnalysisSpec load_analysis_spec(const std::filesystem::path& file) {
  return parse_analysis_spec(read_plan_file(file, "analysis spec", kRaise), file.string());
}

}  // namespace mpi::host
