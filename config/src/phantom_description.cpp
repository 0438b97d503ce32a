#include "mpi/config/phantom_description.hpp"

#include "toml_reader.hpp"

#include <cmath>
#include <numbers>
#include <system_error>

namespace mpi::config {

namespace {

using detail::TableReader;

Vec3 required_position(TableReader& r, std::string_view key) {
  const auto v = r.optional_quantity3(key, Quantity::length);
  if (!v) r.fail_missing(key, "missing (expected three lengths, e.g. [\"1 mm\", \"0 mm\", \"0 mm\"])");
  return *v;
}

double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

PointDescription read_point(TableReader& r) {
  PointDescription p;
  p.position_m = required_position(r, "position");
  p.iron_kg = r.positive_quantity("iron", Quantity::mass, std::nullopt);
  r.finish();
  return p;
}

LineDescription read_line(TableReader& r) {
  LineDescription l;
  l.from_m = required_position(r, "from");
  l.to_m = required_position(r, "to");
  const Vec3 d{l.to_m[0] - l.from_m[0], l.to_m[1] - l.from_m[1], l.to_m[2] - l.from_m[2]};
  if (!(dot(d, d) > 0.0)) r.fail_value("to", "must differ from 'from' (a line needs a length)");
  l.iron_kg_per_m = r.positive_quantity("iron_per_length", Quantity::mass_per_length, std::nullopt);
  r.finish();
  return l;
}

LinePairDescription read_line_pair(TableReader& r) {
  LinePairDescription l;
  l.centre_m = r.quantity3("centre", Quantity::length, l.centre_m);
  l.direction = r.direction("direction", l.direction);
  l.separation_direction = r.direction("separation_direction", l.separation_direction);
  if (std::fabs(dot(l.direction, l.separation_direction)) > 1e-9) {
    r.fail_value("separation_direction", "must be orthogonal to direction");
  }
  l.length_m = r.positive_quantity("length", Quantity::length, std::nullopt);
  l.spacing_m = r.positive_quantity("spacing", Quantity::length, std::nullopt);
  l.iron_kg_per_m = r.positive_quantity("iron_per_length", Quantity::mass_per_length, std::nullopt);
  r.finish();
  return l;
}

ConeDescription read_cone(TableReader& r) {
  ConeDescription c;
  c.tip_m = r.quantity3("tip", Quantity::length, c.tip_m);
  c.axis = r.direction("axis", c.axis);
  c.tip_radius_m = r.quantity("tip_radius", Quantity::length, c.tip_radius_m);
  if (c.tip_radius_m < 0.0) r.fail_value("tip_radius", "must not be negative");
  c.apex_angle_rad = r.quantity("apex_angle", Quantity::angle, c.apex_angle_rad);
  if (!(c.apex_angle_rad >= 0.0) || c.apex_angle_rad >= std::numbers::pi) {
    r.fail_value("apex_angle", "must be in [0, 180) deg (the full opening angle)");
  }
  c.height_m = r.positive_quantity("height", Quantity::length, c.height_m);
  if (c.tip_radius_m == 0.0 && c.apex_angle_rad == 0.0) r.fail("apex_angle", "a cone of zero tip radius and zero angle is empty");
  c.iron_kg_per_m3 = r.positive_quantity("concentration", Quantity::concentration, std::nullopt);
  r.finish();
  return c;
}

TubesDescription read_tubes(TableReader& r) {
  TubesDescription t;
  t.origin_m = r.quantity3("origin", Quantity::length, t.origin_m);
  t.directions = r.directions("directions");
  t.radius_m = r.positive_quantity("radius", Quantity::length, t.radius_m);
  t.length_m = r.positive_quantity("length", Quantity::length, t.length_m);
  t.iron_kg_per_m3 = r.positive_quantity("concentration", Quantity::concentration, std::nullopt);
  r.finish();
  return t;
}

CubesDescription read_cubes(TableReader& r) {
  CubesDescription c;
  c.centre_m = r.quantity3("centre", Quantity::length, c.centre_m);
  c.edge_m = r.positive_quantity("edge", Quantity::length, c.edge_m);
  c.count = r.uint32("count", c.count, 1, 1U << 20);
  c.spacing_m = r.quantity3("spacing", Quantity::length, c.spacing_m);
  for (std::size_t i = 0; i < 3; ++i) {
    if (c.spacing_m[i] < 0.0) r.fail_value("spacing", "must not be negative");
  }
  c.layout = r.uint3("layout", c.layout, 1, 1U << 10);
  const std::uint64_t capacity = static_cast<std::uint64_t>(c.layout[0]) * c.layout[1] * c.layout[2];
  if (c.count > capacity) {
    r.fail("count", std::to_string(c.count) + " cubes do not fit a layout of " + std::to_string(c.layout[0]) + " x " +
                        std::to_string(c.layout[1]) + " x " + std::to_string(c.layout[2]) + " = " +
                        std::to_string(capacity) + " places");
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (c.layout[i] > 1 && c.spacing_m[i] < c.edge_m) {
      r.fail_value("spacing", "neighbouring cubes overlap: the spacing is below the edge " +
                                  format_quantity(c.edge_m, Quantity::length));
    }
  }
  c.first_iron_kg_per_m3 = r.positive_quantity("first_concentration", Quantity::concentration, std::nullopt);
  c.dilution = r.positive_quantity("dilution", Quantity::dimensionless, c.dilution);
  r.finish();
  return c;
}

VoxelsDescription read_voxels(TableReader& r, const std::filesystem::path& base_dir) {
  VoxelsDescription v;
  const std::string file = r.required_string("file");
  if (file.empty()) r.fail("file", "must not be empty");
  v.file = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file) : base_dir / file;
  if (!r.has("size")) r.fail_missing("size", "missing (expected [nx, ny, nz])");
  v.size = r.uint3("size", v.size, 1, 1U << 12);
  const auto voxel = r.optional_quantity3("voxel", Quantity::length);
  if (voxel) {
    for (double d : *voxel) {
      if (!(d > 0.0)) r.fail_value("voxel", "every edge must be positive");
    }
    v.voxel_m = *voxel;
  }
  v.centre_m = r.quantity3("centre", Quantity::length, v.centre_m);
  v.iron_kg_per_unit = r.positive_quantity("iron_per_unit", Quantity::mass, std::nullopt);
  std::error_code error;
  if (!std::filesystem::is_regular_file(v.file, error)) {
    r.fail_value("file", "no such file (" + v.file.string() + ")");
  }
  const std::uintmax_t bytes = std::filesystem::file_size(v.file, error);
  const std::uintmax_t expected = static_cast<std::uintmax_t>(v.size[0]) * v.size[1] * v.size[2] * 4U;
  if (error) r.fail_value("file", "cannot read its size: " + error.message());
  if (bytes != expected) {
    r.fail_value("file", "holds " + std::to_string(bytes) + " bytes, but size " + std::to_string(v.size[0]) + " x " +
                             std::to_string(v.size[1]) + " x " + std::to_string(v.size[2]) + " float32 needs " +
                             std::to_string(expected));
  }
  r.finish();
  return v;
}

RobotDescription read_robot(TableReader& r) {
  RobotDescription robot;
  robot.centre_m = r.quantity3("centre", Quantity::length, robot.centre_m);
  if (!r.has("grid")) r.fail_missing("grid", "missing (expected [nx, ny, nz])");
  robot.grid = r.uint3("grid", robot.grid, 1, 1U << 12);
  robot.fov_m = required_position(r, "fov");
  for (std::size_t i = 0; i < 3; ++i) {
    if (robot.fov_m[i] < 0.0) r.fail_value("fov", "must not be negative");
    if (robot.grid[i] > 1 && !(robot.fov_m[i] > 0.0)) {
      r.fail_value("fov", "must be positive along every axis with more than one grid point");
    }
  }
  robot.sample_edge_m = r.positive_quantity("sample_edge", Quantity::length, robot.sample_edge_m);
  robot.iron_kg = r.positive_quantity("iron", Quantity::mass, std::nullopt);
  robot.move_time_s = r.quantity("move_time", Quantity::time, robot.move_time_s);
  if (robot.move_time_s < 0.0) r.fail_value("move_time", "must not be negative");
  r.finish();
  return robot;
}

template <typename T, typename Read>
void read_all(TableReader& phantom, std::string_view key, std::vector<T>& out, Read read) {
  for (TableReader& r : phantom.table_array(key, "[[phantom." + std::string(key) + "]]")) out.push_back(read(r));
}

}  // namespace

PhantomDescription parse_phantom_description(std::string_view toml_text, const std::string& source,
                                             const std::filesystem::path& base_dir) {
  const toml::table document = detail::parse_document(toml_text, source);
  TableReader root(document, source, "");
  auto t = root.sub_table("phantom", "[phantom]");
  if (!t) root.fail_missing("phantom", "missing table [phantom]");
  PhantomDescription p;
  p.name = t->string("name", "");
  p.voxel_size_m = t->positive_quantity("voxel_size", Quantity::length, p.voxel_size_m);
  read_all(*t, "point", p.points, read_point);
  read_all(*t, "line", p.lines, read_line);
  read_all(*t, "line_pair", p.line_pairs, read_line_pair);
  read_all(*t, "cone", p.cones, read_cone);
  read_all(*t, "tubes", p.tubes, read_tubes);
  read_all(*t, "cubes", p.cubes, read_cubes);
  read_all(*t, "voxels", p.voxels, [&base_dir](TableReader& r) { return read_voxels(r, base_dir); });
  if (auto robot = t->sub_table("robot", "[phantom.robot]")) p.robot = read_robot(*robot);
  t->finish();
  root.finish();
  return p;
}

PhantomDescription load_phantom_description(const std::filesystem::path& file) {
  const std::string text = detail::read_text_file(file);
  return parse_phantom_description(text, file.string(), file.parent_path());
}

}  // namespace mpi::config
