// The analysis spec of `mpi analyze --rois FILE` (TOML, every dimensioned value with its unit): regions of
// interest on the image and the iron calibration. docs/analysis.md describes it; e.g.
// configs/analysis/concentration-2d.toml:
//
//   [[roi]]
//   name = "cube 1"                          # required, unique
//   shape = "box"                            # "box" (default) | "sphere" | "threshold"
//   centre = ["-6 mm", "-6 mm", "0 mm"]      # required
//   size = ["6 mm", "6 mm", "6 mm"]          # box: edge lengths
//   radius = "3 mm"                          # sphere: radius; threshold: search radius for the local maximum
//   fraction = "50 %"                        # threshold: of the local maximum, in (0, 1)
//   background_margin = "3 mm"               # box/sphere: subtract the mean of a shell this thick around it
//   iron = "44.7 ug"                         # optional: the known iron, for comparison
//   volume = "8 uL"                          # optional: the sample's volume, for its concentration
//
//   [calibration]
//   reference = "cube 1"                     # a region's name
//   iron = "44.7 ug"                         # the iron in it
//
// Unknown keys, missing or malformed values and wrong units throw AnalysisSpecError naming the file, the
// entry, the key, the value and what is allowed.
#pragma once

#include "mpi/recon/image_analysis.hpp"

#include <Eigen/Core>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::host {

class AnalysisSpecError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct RoiSpec {
  recon::Roi roi;
  std::optional<double> known_iron_kg;
  std::optional<double> sample_volume_m3;
};

struct CalibrationSpec {
  std::string reference;
  double iron_kg = 0.0;
};

struct AnalysisSpec {
  std::vector<RoiSpec> rois;
  std::optional<CalibrationSpec> calibration;
};

AnalysisSpec parse_analysis_spec(std::string_view toml_text, const std::string& source);
AnalysisSpec load_analysis_spec(const std::filesystem::path& file);

// A volume "8 mm^3" | "8 uL" | "0.008 mL" | "8e-9 m^3" | "0.008 cm^3" | "8e-6 L" in m^3; throws
// std::invalid_argument saying which units are allowed.
double parse_volume_m3(std::string_view text);

// A point "X mm,Y mm,Z mm" (any length units, e.g. "1.5 mm, -2 mm, 0 mm") in metres; throws
// std::invalid_argument naming `what` (e.g. "--through").
Eigen::Vector3d parse_point_m(std::string_view text, const std::string& what);

}  // namespace mpi::host
