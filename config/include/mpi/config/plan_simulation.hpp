// What a scan plan tells the simulated scanner: which tracer and phantom are in the bore, the noise seed
// and an optional schedule of faults. Read from the plan's top-level `tracer = "path"` and its [simulation]
// table; paths are relative to the plan file's folder.
//
//   tracer = "../tracers/single-core-30nm.toml"
//   [simulation]
//   phantom = "../phantoms/two-points.toml"   # required
//   seed = 1                                   # optional, default 1 (a whole number >= 0)
//   faults = "faults.toml"                     # optional
//
// The plan's other tables belong to other readers and are not looked at; unknown keys inside [simulation]
// are refused. Errors are ConfigError naming the file, the key and why.
#pragma once

#include "mpi/config/config_error.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mpi::config {

struct PlanSimulation {
  std::filesystem::path tracer_file;
  std::filesystem::path phantom_file;
  std::uint64_t seed = 1;
  std::filesystem::path faults_file;  // empty = none
};

PlanSimulation load_plan_simulation(const std::filesystem::path& plan_file);
// The same from text; `source` names it in messages, `base_dir` resolves the relative paths.
PlanSimulation parse_plan_simulation(std::string_view toml_text, const std::string& source,
                                     const std::filesystem::path& base_dir);

}  // namespace mpi::config
