// From configuration to physics: the tracer description as a recon::TracerModel, the selection field as a
// matrix, and the phantom's iron as point sources for recon::ParticleSignalModel.
#pragma once

#include "mpi/config/phantom_description.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/tracer_model.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace mpi::hil {

// config -> physics: tau from "given" or from Neel/Brownian at the mode's median sizes (magnetic core for
// Neel, hydrodynamic for Brownian), effective = combination.
recon::TracerModel tracer_model(const config::TracerDescription& tracer);
Eigen::Matrix3d gradient_matrix(const config::SelectionDescription& selection);
Eigen::Vector3d to_vector(const config::Vec3& v);

// The phantom's iron as point sources (everything but the robot): points as they are; lines and line
// pairs sampled every voxel_size (at most) with composite-Simpson weights that carry the exact iron;
// solids (cone, tubes, cubes) voxelised on a grid of voxel_size aligned to the solid, each voxel carrying
// concentration * (volume of the solid inside the voxel, estimated by 4x4x4 subsampling); voxel files
// read as float32 * iron_per_unit. Throws config::ConfigError for an unreadable voxel file.
//
// Details: a voxel's source sits at its centre; voxels without iron are left out. The subsampling is
// 4x4x4 or finer: at most 1/32 of the solid's smallest dimension (tube or tip radius) apart, so that thin
// solids keep their volume within a fraction of a percent. Tubes of one [[phantom.tubes]] that overlap
// near their common origin hold the concentration once (the union of the tubes). Voxel values that are
// negative or not finite are refused (ConfigError naming the file and the voxel).
std::vector<recon::ParticleSource> phantom_sources(const config::PhantomDescription& phantom);

// The robot's sample at grid index i (x fastest): one cube of sample_edge voxelised like a solid
// (a single source at its centre when sample_edge <= voxel_size). Throws std::out_of_range for a bad index.
std::vector<recon::ParticleSource> robot_sources(const config::RobotDescription& robot, double voxel_size_m, std::uint32_t index);
std::uint32_t robot_positions(const config::RobotDescription& robot) noexcept;   // product of the grid

}  // namespace mpi::hil
