#include "mpi/hil/scanner_model.hpp"

#include <Eigen/Geometry>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace mpi::hil {

namespace {

using recon::ParticleSource;

// A right-handed orthonormal frame whose third axis is `w` (columns: u, v, w in world coordinates).
Eigen::Matrix3d frame_along(const Eigen::Vector3d& w_in) {
  const Eigen::Vector3d w = w_in.normalized();
  const Eigen::Vector3d helper = std::abs(w.x()) < 0.9 ? Eigen::Vector3d::UnitX() : Eigen::Vector3d::UnitY();
  const Eigen::Vector3d u = helper.cross(w).normalized();
  Eigen::Matrix3d axes;
  axes.col(0) = u;
  axes.col(1) = w.cross(u);
  axes.col(2) = w;
  return axes;
}

// The box of a solid in its own frame: world = origin + axes * local, local in [lo, hi].
struct SolidBox {
  Eigen::Vector3d origin = Eigen::Vector3d::Zero();
  Eigen::Matrix3d axes = Eigen::Matrix3d::Identity();
  Eigen::Vector3d lo = Eigen::Vector3d::Zero();
  Eigen::Vector3d hi = Eigen::Vector3d::Zero();
};

// Voxels of at most `voxel_size` covering the box, each carrying iron_per_m3 times the volume of the solid
// inside it, estimated on a regular subgrid: 4 points per voxel edge or more, so that the points are at
// most feature / 32 apart (feature: the solid's smallest dimension). For a convex solid a voxel whose
// corners all lie inside is inside as a whole.
template <class Inside>
void voxelise(const SolidBox& box, double voxel_size, double feature_m, double iron_per_m3, bool convex, Inside inside,
              std::vector<ParticleSource>& out) {
  std::array<int, 3> n{}, sub{};
  Eigen::Vector3d edge;
  for (int k = 0; k < 3; ++k) {
    const double extent = box.hi(k) - box.lo(k);
    n[static_cast<std::size_t>(k)] = std::max(1, static_cast<int>(std::ceil(extent / voxel_size - 1e-9)));
    edge(k) = extent / n[static_cast<std::size_t>(k)];
    const double wanted = feature_m > 0.0 ? std::ceil(32.0 * edge(k) / feature_m - 1e-9) : 4.0;
    sub[static_cast<std::size_t>(k)] = static_cast<int>(std::clamp(wanted, 4.0, 32.0));
  }
  const double sub_volume = edge.prod() / (sub[0] * sub[1] * sub[2]);
  for (int iz = 0; iz < n[2]; ++iz) {
    for (int iy = 0; iy < n[1]; ++iy) {
      for (int ix = 0; ix < n[0]; ++ix) {
        const Eigen::Vector3d corner = box.lo + Eigen::Vector3d(ix, iy, iz).cwiseProduct(edge);
        const Eigen::Vector3d centre = corner + 0.5 * edge;
        if (convex) {
          // A convex solid holding all eight corners of a voxel holds the whole voxel.
          bool all = true;
          for (int c = 0; c < 8 && all; ++c) {
            all = inside(box.origin + box.axes * (corner + Eigen::Vector3d(c & 1, (c >> 1) & 1, (c >> 2) & 1).cwiseProduct(edge)));
          }
          if (all) {
            out.push_back({box.origin + box.axes * centre, iron_per_m3 * edge.prod()});
            continue;
          }
        }
        int count = 0;
        for (int sz = 0; sz < sub[2]; ++sz) {
          for (int sy = 0; sy < sub[1]; ++sy) {
            for (int sx = 0; sx < sub[0]; ++sx) {
              const Eigen::Vector3d f((sx + 0.5) / sub[0], (sy + 0.5) / sub[1], (sz + 0.5) / sub[2]);
              if (inside(box.origin + box.axes * (corner + f.cwiseProduct(edge)))) ++count;
            }
          }
        }
        if (count == 0) continue;
        out.push_back({box.origin + box.axes * centre, iron_per_m3 * sub_volume * count});
      }
    }
  }
}

// A segment sampled at most `spacing` apart with composite-Simpson weights: the weights sum to the
// segment's iron and their centroid is its midpoint.
void sample_line(const Eigen::Vector3d& from, const Eigen::Vector3d& to, double iron_per_m, double spacing,
                 std::vector<ParticleSource>& out) {
  const double length = (to - from).norm();
  if (!(length > 0.0) || !(iron_per_m > 0.0)) return;
  auto intervals = std::max(2, static_cast<int>(std::ceil(length / spacing - 1e-9)));
  if (intervals % 2 != 0) ++intervals;
  const double h = length / intervals;
  for (int i = 0; i <= intervals; ++i) {
    const double weight = (i == 0 || i == intervals) ? 1.0 : (i % 2 != 0 ? 4.0 : 2.0);
    const double s = static_cast<double>(i) / intervals;
    out.push_back({from + s * (to - from), iron_per_m * weight * h / 3.0});
  }
}

void cone_sources(const config::ConeDescription& cone, double voxel, std::vector<ParticleSource>& out) {
  const double slope = std::tan(0.5 * cone.apex_angle_rad);
  const double base_radius = cone.tip_radius_m + cone.height_m * slope;
  SolidBox box;
  box.origin = to_vector(cone.tip_m);
  box.axes = frame_along(to_vector(cone.axis));
  box.lo = Eigen::Vector3d(-base_radius, -base_radius, 0.0);
  box.hi = Eigen::Vector3d(base_radius, base_radius, cone.height_m);
  const Eigen::Matrix3d to_local = box.axes.transpose();
  const auto inside = [&](const Eigen::Vector3d& p) {
    const Eigen::Vector3d l = to_local * (p - box.origin);
    if (l.z() < 0.0 || l.z() > cone.height_m) return false;
    const double r = cone.tip_radius_m + l.z() * slope;
    return l.x() * l.x() + l.y() * l.y() <= r * r;
  };
  const double feature = cone.tip_radius_m > 0.0 ? cone.tip_radius_m : base_radius;
  voxelise(box, voxel, feature, cone.iron_kg_per_m3, true, inside, out);
}

void tubes_sources(const config::TubesDescription& tubes, double voxel, std::vector<ParticleSource>& out) {
  const Eigen::Vector3d origin = to_vector(tubes.origin_m);
  const double r2 = tubes.radius_m * tubes.radius_m;
  const auto in_tube = [&](const Eigen::Vector3d& d, const Eigen::Vector3d& p) {
    const Eigen::Vector3d q = p - origin;
    const double along = q.dot(d);
    if (along < 0.0 || along > tubes.length_m) return false;
    return (q - along * d).squaredNorm() <= r2;
  };
  std::vector<Eigen::Vector3d> directions;
  for (const config::Vec3& d : tubes.directions) directions.push_back(to_vector(d).normalized());
  for (std::size_t k = 0; k < directions.size(); ++k) {
    SolidBox box;
    box.origin = origin;
    box.axes = frame_along(directions[k]);
    box.lo = Eigen::Vector3d(-tubes.radius_m, -tubes.radius_m, 0.0);
    box.hi = Eigen::Vector3d(tubes.radius_m, tubes.radius_m, tubes.length_m);
    // Iron where tubes overlap belongs to the first of them: the union holds the concentration once.
    const auto inside = [&](const Eigen::Vector3d& p) {
      if (!in_tube(directions[k], p)) return false;
      for (std::size_t j = 0; j < k; ++j) {
        if (in_tube(directions[j], p)) return false;
      }
      return true;
    };
    voxelise(box, voxel, tubes.radius_m, tubes.iron_kg_per_m3, directions.size() == 1, inside, out);
  }
}

void cube_sources(const Eigen::Vector3d& centre, double edge, double iron_per_m3, double voxel, std::vector<ParticleSource>& out) {
  SolidBox box;
  box.origin = centre;
  box.lo = Eigen::Vector3d::Constant(-0.5 * edge);
  box.hi = Eigen::Vector3d::Constant(0.5 * edge);
  // Every subsample lies inside: the coarsest subgrid gives the exact volume.
  voxelise(box, voxel, 0.0, iron_per_m3, true, [](const Eigen::Vector3d&) { return true; }, out);
}

void cubes_sources(const config::CubesDescription& cubes, double voxel, std::vector<ParticleSource>& out) {
  const auto [nx, ny, nz] = cubes.layout;
  for (std::uint32_t k = 0; k < cubes.count; ++k) {
    const std::uint32_t ix = k % nx, iy = (k / nx) % ny, iz = k / (nx * ny);
    const Eigen::Vector3d offset((ix - 0.5 * (nx - 1.0)) * cubes.spacing_m[0], (iy - 0.5 * (ny - 1.0)) * cubes.spacing_m[1],
                                 (iz - 0.5 * (nz - 1.0)) * cubes.spacing_m[2]);
    const double concentration = cubes.first_iron_kg_per_m3 / std::pow(cubes.dilution, static_cast<double>(k));
    cube_sources(to_vector(cubes.centre_m) + offset, cubes.edge_m, concentration, voxel, out);
  }
}

void voxel_file_sources(const config::VoxelsDescription& voxels, std::vector<ParticleSource>& out) {
  const std::string name = voxels.file.string();
  std::ifstream in(voxels.file, std::ios::binary);
  if (!in) throw config::ConfigError(name + ": cannot open the voxel file");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw config::ConfigError(name + ": cannot read the voxel file");
  const auto [nx, ny, nz] = voxels.size;
  const std::uint64_t count = std::uint64_t{nx} * ny * nz;
  if (bytes.size() != count * 4) {
    throw config::ConfigError(name + ": voxel file has " + std::to_string(bytes.size()) + " bytes, expected " +
                              std::to_string(count * 4) + " (" + std::to_string(nx) + " x " + std::to_string(ny) + " x " +
                              std::to_string(nz) + " float32)");
  }
  const Eigen::Vector3d centre = to_vector(voxels.centre_m);
  const Eigen::Vector3d pitch = to_vector(voxels.voxel_m);
  std::uint64_t index = 0;
  for (std::uint32_t iz = 0; iz < nz; ++iz) {
    for (std::uint32_t iy = 0; iy < ny; ++iy) {
      for (std::uint32_t ix = 0; ix < nx; ++ix, ++index) {
        const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + 4 * index);
        const std::uint32_t word = std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 | std::uint32_t{b[3]} << 24;
        const auto value = static_cast<double>(std::bit_cast<float>(word));  // little-endian float32
        if (!std::isfinite(value) || value < 0.0) {
          throw config::ConfigError(name + ": voxel (" + std::to_string(ix) + ", " + std::to_string(iy) + ", " + std::to_string(iz) +
                                    ") is " + std::to_string(value) + "; values must be finite and >= 0");
        }
        if (value == 0.0) continue;
        const Eigen::Vector3d offset((ix - 0.5 * (nx - 1.0)) * pitch.x(), (iy - 0.5 * (ny - 1.0)) * pitch.y(),
                                     (iz - 0.5 * (nz - 1.0)) * pitch.z());
        out.push_back({centre + offset, value * voxels.iron_kg_per_unit});
      }
    }
  }
}

}  // namespace

std::vector<recon::ParticleSource> phantom_sources(const config::PhantomDescription& phantom) {
  const double voxel = phantom.voxel_size_m;
  if (!(voxel > 0.0 && std::isfinite(voxel))) {
    throw config::ConfigError("phantom '" + phantom.name + "': voxel_size must be positive, got " + std::to_string(voxel) + " m");
  }
  std::vector<ParticleSource> out;
  for (const config::PointDescription& p : phantom.points) out.push_back({to_vector(p.position_m), p.iron_kg});
  for (const config::LineDescription& l : phantom.lines) sample_line(to_vector(l.from_m), to_vector(l.to_m), l.iron_kg_per_m, voxel, out);
  for (const config::LinePairDescription& l : phantom.line_pairs) {
    const Eigen::Vector3d along = to_vector(l.direction).normalized() * (0.5 * l.length_m);
    const Eigen::Vector3d across = to_vector(l.separation_direction).normalized() * (0.5 * l.spacing_m);
    for (const double side : {-1.0, 1.0}) {
      const Eigen::Vector3d centre = to_vector(l.centre_m) + side * across;
      sample_line(centre - along, centre + along, l.iron_kg_per_m, voxel, out);
    }
  }
  for (const config::ConeDescription& c : phantom.cones) cone_sources(c, voxel, out);
  for (const config::TubesDescription& t : phantom.tubes) tubes_sources(t, voxel, out);
  for (const config::CubesDescription& c : phantom.cubes) cubes_sources(c, voxel, out);
  for (const config::VoxelsDescription& v : phantom.voxels) voxel_file_sources(v, out);
  return out;
}

std::uint32_t robot_positions(const config::RobotDescription& robot) noexcept {
  return robot.grid[0] * robot.grid[1] * robot.grid[2];
}

std::vector<recon::ParticleSource> robot_sources(const config::RobotDescription& robot, double voxel_size_m, std::uint32_t index) {
  if (index >= robot_positions(robot)) {
    throw std::out_of_range("robot position " + std::to_string(index) + " is outside the grid of " +
                            std::to_string(robot_positions(robot)) + " positions");
  }
  if (!(voxel_size_m > 0.0 && std::isfinite(voxel_size_m))) {
    throw std::invalid_argument("robot sample: voxel size must be positive, got " + std::to_string(voxel_size_m) + " m");
  }
  const auto [gx, gy, gz] = robot.grid;
  const std::array<std::uint32_t, 3> i{index % gx, (index / gx) % gy, index / (gx * gy)};
  Eigen::Vector3d position;
  for (std::size_t k = 0; k < 3; ++k) {
    position(static_cast<Eigen::Index>(k)) =
        robot.centre_m[k] - 0.5 * robot.fov_m[k] + (i[k] + 0.5) * robot.fov_m[k] / robot.grid[k];
  }
  std::vector<ParticleSource> out;
  const double edge = robot.sample_edge_m;
  if (!(edge > 0.0)) return {{position, robot.iron_kg}};
  cube_sources(position, edge, robot.iron_kg / (edge * edge * edge), voxel_size_m, out);
  return out;
}

}  // namespace mpi::hil
