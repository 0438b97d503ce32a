// The calibration robot of the simulated scanner on the network: a small line protocol over TCP that moves
// the plant's robot through the register map's simulation port (RobotTarget / RobotPosition /
// kRobotMoving). One request per line, one reply per line (ASCII, '\n'; a trailing '\r' is ignored):
//
//   MOVE x_mm y_mm z_mm  ->  AT x y z         once the robot stands there (the grid point's coordinates, mm)
//   PARK                 ->  PARKED           once the sample is out of the bore (register value kRobotPark)
//   WHERE                ->  AT x y z | PARKED | MOVING
//   GRID                 ->  GRID nx ny nz cx cy cz fx fy fz   (counts, centre mm, fov mm of the robot's grid)
//   anything else        ->  ERR reason       (the connection stays open; a line over 256 bytes closes it)
//
// A MOVE to a point that is not on the robot's grid (the phantom's [phantom.robot]: within 1 um or 1 % of
// the pitch) is refused with ERR naming the point and the grid; a move that does not finish within the
// move timeout answers ERR. Clients are served concurrently; they share the one robot.
#pragma once

#include "mpi/config/phantom_description.hpp"
#include "mpi/drivers/register_bus.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace mpi::sim {

// The grid index of the point (mm) on the robot's grid, or nothing when it is not a grid point.
std::optional<std::uint32_t> robot_grid_index(const config::RobotDescription& robot, const std::array<double, 3>& point_mm);
// The coordinates (mm) of grid index `index` (< the grid's positions).
std::array<double, 3> robot_grid_point_mm(const config::RobotDescription& robot, std::uint32_t index);

class RobotServer {
 public:
  // Listens on address:port (port 0: a free one) and serves in a thread of its own. Throws
  // std::invalid_argument naming the address when it cannot listen there.
  RobotServer(const std::string& address, std::uint16_t port, const config::RobotDescription& robot, drivers::RegisterBus& bus,
              std::chrono::milliseconds move_timeout);
  ~RobotServer();  // stop()
  RobotServer(const RobotServer&) = delete;
  RobotServer& operator=(const RobotServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  // Closes the listener and every connection and joins the thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpi::sim
