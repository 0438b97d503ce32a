// The phantom description file (configs/phantoms/*.toml): what the simulated scanner has in its bore.
// Iron is given as mass ("10 ug") for points, mass per length ("5 ug/mm", written as mass and length:
// iron_per_length = "5 ug/mm") for lines, or concentration ("100 mmol/L", "1 mg/mL") for solids. Positions
// are vectors of lengths: position = ["1 mm", "0 mm", "-2 mm"]. Loading validates every value and refuses
// unknown keys; errors name the file, the key and why (ConfigError).
//
//   [phantom]            name, voxel_size = "0.5 mm" (discretisation of solids and lines)
//   [[phantom.point]]    position, iron
//   [[phantom.line]]     from, to, iron_per_length
//   [[phantom.line_pair]] centre, direction, separation_direction, length, spacing, iron_per_length
//   [[phantom.cone]]     tip, axis, tip_radius ("1 mm"), apex_angle ("10 deg"), height ("22 mm"), concentration
//   [[phantom.tubes]]    origin, directions = [[x, y, z], ...] (unit-free), radius, length, concentration
//   [[phantom.cubes]]    centre, edge ("2 mm"), count (8), spacing = [sx, sy, sz] (lengths), layout = [nx, ny, nz],
//                        first_concentration ("100 mmol/L"), dilution (1.5): cube k holds first / dilution^k
//   [[phantom.voxels]]   file (raw little-endian float32, x fastest, relative to this file), size = [nx, ny, nz],
//                        voxel = [dx, dy, dz] (lengths), centre, iron_per_unit ("1 ug": iron of a voxel value 1.0)
//   [phantom.robot]      a calibration robot carrying a small sample over a grid (replaces the rest while used):
//                        centre, grid = [nx, ny, nz], fov = [fx, fy, fz] (lengths), sample_edge ("1 mm"), iron,
//                        move_time ("0.2 s") per grid step
#pragma once

#include "mpi/config/config_error.hpp"
#include "mpi/config/scanner_description.hpp"  // Vec3
#include "mpi/config/units.hpp"                // kIronMolarMassKgPerMol

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::config {

struct PointDescription {
  Vec3 position_m{};
  double iron_kg = 0.0;
};

struct LineDescription {
  Vec3 from_m{};
  Vec3 to_m{};
  double iron_kg_per_m = 0.0;
};

struct LinePairDescription {
  Vec3 centre_m{};
  Vec3 direction{1.0, 0.0, 0.0};             // along the lines (normalised on reading)
  Vec3 separation_direction{0.0, 1.0, 0.0};  // across them (normalised, must be orthogonal to direction)
  double length_m = 0.0;
  double spacing_m = 0.0;                    // centre-to-centre distance of the two lines
  double iron_kg_per_m = 0.0;
};

struct ConeDescription {
  Vec3 tip_m{};
  Vec3 axis{0.0, 0.0, 1.0};                  // from the tip towards the base (normalised)
  double tip_radius_m = 1e-3;
  double apex_angle_rad = 0.17453292519943295;  // full opening angle
  double height_m = 22e-3;
  double iron_kg_per_m3 = 0.0;               // from concentration
};

struct TubesDescription {
  Vec3 origin_m{};
  std::vector<Vec3> directions;              // normalised
  double radius_m = 0.5e-3;
  double length_m = 10e-3;
  double iron_kg_per_m3 = 0.0;
};

struct CubesDescription {
  Vec3 centre_m{};                           // centre of the layout
  double edge_m = 2e-3;
  std::uint32_t count = 8;
  Vec3 spacing_m{12e-3, 12e-3, 6e-3};
  std::array<std::uint32_t, 3> layout{2, 2, 2};  // cubes per axis; product >= count; filled x fastest
  double first_iron_kg_per_m3 = 0.0;
  double dilution = 1.5;
};

struct VoxelsDescription {
  std::filesystem::path file;                // resolved against the phantom file's folder
  std::array<std::uint32_t, 3> size{1, 1, 1};
  Vec3 voxel_m{1e-3, 1e-3, 1e-3};
  Vec3 centre_m{};
  double iron_kg_per_unit = 0.0;
};

struct RobotDescription {
  Vec3 centre_m{};
  std::array<std::uint32_t, 3> grid{1, 1, 1};
  Vec3 fov_m{};                              // grid points at centre - fov/2 + (i + 0.5) * fov / grid
  double sample_edge_m = 1e-3;
  double iron_kg = 0.0;
  double move_time_s = 0.2;
};

struct PhantomDescription {
  std::string name;
  double voxel_size_m = 0.5e-3;
  std::vector<PointDescription> points;
  std::vector<LineDescription> lines;
  std::vector<LinePairDescription> line_pairs;
  std::vector<ConeDescription> cones;
  std::vector<TubesDescription> tubes;
  std::vector<CubesDescription> cubes;
  std::vector<VoxelsDescription> voxels;
  std::optional<RobotDescription> robot;
};

// The phantom lives in the document's [phantom] table; other top-level keys are refused. A [phantom] with
// nothing in it is an empty bore (background measurements). `base_dir` resolves relative voxel file paths.
// Checks that voxel files exist and have size nx*ny*nz*4 bytes, that amounts (iron, concentrations) are
// positive, lengths positive, directions non-zero (line pairs: orthogonal), cubes fit their layout without
// overlapping, and every robot grid count is at least 1 (its fov may be 0 only along axes of one point).
PhantomDescription parse_phantom_description(std::string_view toml_text, const std::string& source,
                                             const std::filesystem::path& base_dir);
PhantomDescription load_phantom_description(const std::filesystem::path& file);

}  // namespace mpi::config
