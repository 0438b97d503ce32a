// Files of the end-to-end scenarios: reading outputs, a fresh work folder per test, and the shipped demo
// plan adapted to a test (absolute tracer and phantom paths, its own number of frames).
#pragma once

#include "mpi/hil/scenario.hpp"

#include <unistd.h>

#include <filesystem>
#include <vector>
#include <utility>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mpi::hil::test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// An empty folder of its own for test `name` of `suite` (removed first if a previous run left it).
inline std::filesystem::path fresh_work_dir(const std::string& suite, const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("mpi-hil-" + suite + "-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// configs/plans/demo-1d-two-points.toml written to dir/plan.toml with `frames` frames (1 ms each) and its
// relative paths ("../tracers/...", "../phantoms/...") made absolute.
inline std::filesystem::path demo_plan_with_frames(const std::filesystem::path& source_dir, const std::filesystem::path& dir,
                                                   int frames) {
  std::string plan = read_file(source_dir / "configs/plans/demo-1d-two-points.toml");
  const std::size_t at = plan.find("\nframes =");
  if (at == std::string::npos) throw std::runtime_error("the shipped plan has no 'frames' line");
  plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, "frames = " + std::to_string(frames));
  for (std::size_t k = plan.find("\"../"); k != std::string::npos; k = plan.find("\"../", k + 1)) {
    plan.replace(k + 1, 3, (source_dir / "configs").string() + "/");
  }
  const std::filesystem::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

// A shipped plan with some of its `key = ...` lines replaced whole (each key must be there), written to
// dir/plan.toml.
inline std::filesystem::path plan_with_lines(const std::filesystem::path& shipped, const std::filesystem::path& dir,
                                             const std::vector<std::pair<std::string, std::string>>& lines) {
  std::string plan = read_file(shipped);
  for (const auto& [key, line] : lines) {
    const std::size_t at = plan.find("\n" + key + " =");
    if (at == std::string::npos) throw std::runtime_error(shipped.string() + " has no '" + key + "' line");
    plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, line);
  }
  const std::filesystem::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

// configs/plans/preclinical-2d-point.toml with `frames` frames, the ideal 30 nm tracer and one point of
// 10 ug at (4, -3, 0) mm (dir/phantom.toml), written to dir/plan.toml.
inline std::filesystem::path preclinical_point_plan(const std::filesystem::path& source_dir, const std::filesystem::path& dir, long frames,
                                                    const std::filesystem::path& shipped = {}) {
  std::ofstream(dir / "phantom.toml") << "[phantom]\nname = \"one point\"\n\n[[phantom.point]]\n"
                                         "position = [\"4 mm\", \"-3 mm\", \"0 mm\"]\niron = \"10 ug\"\n";
  return plan_with_lines(shipped.empty() ? source_dir / "configs/plans/preclinical-2d-point.toml" : shipped, dir,
                         {{"tracer", "tracer = \"" + (source_dir / "configs/tracers/single-core-30nm.toml").string() + "\""},
                          {"phantom", "phantom = \"phantom.toml\""},
                          {"frames", "frames = " + std::to_string(frames)}});
}

// The scenario of a live scan of one point on the preclinical scanner (preclinical_point_plan) at real-time
// pace, with its logs in dir/logs.
inline mpi::hil::ScenarioFiles preclinical_point_scenario(const std::filesystem::path& source_dir, const std::filesystem::path& dir, long frames) {
  mpi::hil::ScenarioFiles files;
  files.scanner = source_dir / "configs/scanners/preclinical-ffp.toml";
  files.plan = preclinical_point_plan(source_dir, dir, frames);
  files.work_dir = dir / "logs";
  files.plant_pace = 1.0;
  return files;
}

}  // namespace mpi::hil::test
