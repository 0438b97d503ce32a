#include "mpi/config/tracer_description.hpp"

#include "mpi/config/units.hpp"
#include "toml_reader.hpp"

#include <cmath>
#include <cstdio>
#include <set>

namespace mpi::config {

namespace {

using detail::TableReader;

constexpr double kFractionTolerance = 1e-6;

void refuse_unless(TableReader& r, std::string_view key, bool used, std::string_view model) {
  if (!used && r.has(key)) {
    r.fail(key, "only used with relaxation = \"" + std::string(model) + "\"");
  }
}

TracerModeDescription read_mode(TableReader& r, std::size_t index, std::set<std::string>& names) {
  TracerModeDescription m;
  m.name = r.string("name", "mode " + std::to_string(index + 1));
  if (m.name.empty()) r.fail("name", "must not be empty");
  r.set_label(m.name);
  if (!names.insert(m.name).second) r.fail("name", "'" + m.name + "' is already the name of another mode");

  const auto fraction = r.optional_quantity("iron_fraction", Quantity::dimensionless);
  m.iron_fraction = fraction.value_or(1.0);
  if (!(m.iron_fraction > 0.0) || m.iron_fraction > 1.0) r.fail_value("iron_fraction", "must be in (0, 1]");

  m.core_diameter_m = r.positive_quantity("core_diameter", Quantity::length, std::nullopt);
  m.diameter_sigma = r.quantity("diameter_sigma", Quantity::dimensionless, m.diameter_sigma);
  if (m.diameter_sigma < 0.0 || m.diameter_sigma > 1.0) {
    r.fail_value("diameter_sigma", "must be in [0, 1] (sigma of ln d)");
  }
  m.dead_layer_m = r.quantity("dead_layer", Quantity::length, m.dead_layer_m);
  if (m.dead_layer_m < 0.0) r.fail_value("dead_layer", "must not be negative");
  if (2.0 * m.dead_layer_m >= m.core_diameter_m) {
    r.fail_value("dead_layer", "must be less than the core radius " +
                                   format_quantity(m.core_diameter_m / 2.0, Quantity::length) +
                                   " (nothing magnetic would be left)");
  }
  m.saturation_magnetisation_a_per_m =
      r.positive_quantity("saturation_magnetisation", Quantity::magnetisation, m.saturation_magnetisation_a_per_m);
  m.core_density_kg_per_m3 = r.positive_quantity("core_density", Quantity::density, m.core_density_kg_per_m3);
  m.iron_mass_fraction = r.quantity("iron_mass_fraction", Quantity::dimensionless, m.iron_mass_fraction);
  if (!(m.iron_mass_fraction > 0.0) || m.iron_mass_fraction > 1.0) {
    r.fail_value("iron_mass_fraction", "must be in (0, 1]");
  }

  const std::string relaxation = r.string("relaxation", "none");
  if (relaxation == "none") {
    m.relaxation = RelaxationModel::none;
  } else if (relaxation == "given") {
    m.relaxation = RelaxationModel::given;
  } else if (relaxation == "neel-brownian") {
    m.relaxation = RelaxationModel::neel_brownian;
  } else {
    r.fail_value("relaxation", "expected \"none\", \"given\" or \"neel-brownian\"");
  }
  const bool given = m.relaxation == RelaxationModel::given;
  const bool physical = m.relaxation == RelaxationModel::neel_brownian;
  refuse_unless(r, "tau", given, "given");
  for (const char* key : {"hydrodynamic_diameter", "viscosity", "anisotropy", "attempt_time"}) {
    refuse_unless(r, key, physical, "neel-brownian");
  }
  if (given) {
    m.tau_s = r.positive_quantity("tau", Quantity::time, std::nullopt);
  }
  if (physical) {
    m.hydrodynamic_diameter_m = r.positive_quantity("hydrodynamic_diameter", Quantity::length, std::nullopt);
    if (m.hydrodynamic_diameter_m < m.core_diameter_m) {
      r.fail_value("hydrodynamic_diameter", "must not be smaller than core_diameter = " +
                                                format_quantity(m.core_diameter_m, Quantity::length));
    }
    m.viscosity_pa_s = r.positive_quantity("viscosity", Quantity::viscosity, m.viscosity_pa_s);
    const auto anisotropy = r.optional_quantity("anisotropy", Quantity::energy_density);
    if (!anisotropy) r.fail_missing("anisotropy", "missing (relaxation = \"neel-brownian\" needs it, e.g. \"10 kJ/m^3\")");
    if (*anisotropy < 0.0) r.fail_value("anisotropy", "must not be negative");
    m.anisotropy_j_per_m3 = *anisotropy;
    m.attempt_time_s = r.positive_quantity("attempt_time", Quantity::time, m.attempt_time_s);
  }
  r.finish();
  return m;
}

}  // namespace

TracerDescription parse_tracer_description(std::string_view toml_text, const std::string& source) {
  const toml::table document = detail::parse_document(toml_text, source);
  TableReader root(document, source, "");
  auto t = root.sub_table("tracer", "[tracer]");
  if (!t) root.fail_missing("tracer", "missing table [tracer] with at least one [[tracer.mode]]");
  TracerDescription tracer;
  tracer.name = t->string("name", "");
  tracer.temperature_k = t->positive_quantity("temperature", Quantity::temperature, tracer.temperature_k);
  std::set<std::string> names;
  auto modes = t->table_array("mode", "[[tracer.mode]]");
  if (modes.empty()) t->fail_missing("mode", "missing: at least one [[tracer.mode]] is required");
  double sum = 0.0;
  for (std::size_t i = 0; i < modes.size(); ++i) {
    tracer.modes.push_back(read_mode(modes[i], i, names));
    sum += tracer.modes.back().iron_fraction;
  }
  if (std::fabs(sum - 1.0) > kFractionTolerance) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9g", sum);
    t->fail("mode", std::string("the iron_fraction of the modes sum to ") + text + ", not 1");
  }
  t->finish();
  root.finish();
  return tracer;
}

TracerDescription load_tracer_description(const std::filesystem::path& file) {
  return parse_tracer_description(detail::read_text_file(file), file.string());
}

}  // namespace mpi::config
