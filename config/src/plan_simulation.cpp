#include "mpi/config/plan_simulation.hpp"

#include "toml_reader.hpp"

#include <limits>

namespace mpi::config {

namespace {

std::filesystem::path resolve(const std::filesystem::path& base_dir, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? p : base_dir / p;
}

std::string required_path(detail::TableReader& r, std::string_view key, std::string_view what) {
  const std::string path = r.string(key, "");
  if (!r.has(key)) r.fail_missing(key, "missing (the path of the " + std::string(what) + " file, relative to the plan)");
  if (path.empty()) r.fail(key, "must not be empty");
  return path;
}

}  // namespace

PlanSimulation parse_plan_simulation(std::string_view toml_text, const std::string& source,
                                     const std::filesystem::path& base_dir) {
  const toml::table document = detail::parse_document(toml_text, source);
  detail::TableReader root(document, source, "");
  PlanSimulation plan;
  plan.tracer_file = resolve(base_dir, required_path(root, "tracer", "tracer"));
  auto simulation = root.sub_table("simulation", "[simulation]");
  if (!simulation) root.fail_missing("simulation", "missing table [simulation] (phantom, seed, faults)");
  plan.phantom_file = resolve(base_dir, required_path(*simulation, "phantom", "phantom"));
  if (const auto seed = simulation->optional_integer("seed", 0, std::numeric_limits<std::int64_t>::max())) {
    plan.seed = static_cast<std::uint64_t>(*seed);
  }
  if (const auto faults = simulation->optional_string("faults")) {
    if (faults->empty()) simulation->fail("faults", "must not be empty (leave the key out for no faults)");
    plan.faults_file = resolve(base_dir, *faults);
  }
  simulation->finish();
  return plan;
}

PlanSimulation load_plan_simulation(const std::filesystem::path& plan_file) {
  return parse_plan_simulation(detail::read_text_file(plan_file), plan_file.string(), plan_file.parent_path());
}

}  // namespace mpi::config
