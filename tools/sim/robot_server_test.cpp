// The robot controller's line protocol against a register bus whose robot arrives at once (or never): the
// grid points of the formula centre - fov/2 + (i + 0.5) fov/n, the registers written, refusals and timeouts.
#include "robot_server.hpp"

#include "mpi/drivers/register_map.hpp"

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <istream>
#include <string>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace rm = mpi::drivers::regmap;

// The robot's registers only: a target written is reached at once, unless the robot is stuck.
class RobotBus final : public mpi::drivers::RegisterBus {
 public:
  explicit RobotBus(bool stuck) : stuck_(stuck) {}
  [[nodiscard]] std::uint32_t read32(std::uint32_t offset) const noexcept override {
    if (offset == rm::kRobotTarget) return target_.load();
    if (offset == rm::kRobotPosition) return position_.load();
    if (offset == rm::kRobotStatus) return stuck_ && target_.load() != position_.load() ? rm::kRobotMoving : 0U;
    return 0;
  }
  void write32(std::uint32_t offset, std::uint32_t value) noexcept override {
    if (offset != rm::kRobotTarget) return;
    target_.store(value);
    if (!stuck_) position_.store(value);
  }
  [[nodiscard]] std::uint64_t read64(std::uint32_t) const noexcept override { return 0; }
  void write64(std::uint32_t, std::uint64_t) noexcept override {}
  [[nodiscard]] std::span<const std::int16_t> ring() const noexcept override { return {}; }
  [[nodiscard]] std::uint32_t target() const { return target_.load(); }

 private:
  bool stuck_;
  std::atomic<std::uint32_t> target_{0};
  std::atomic<std::uint32_t> position_{0};
};

mpi::config::RobotDescription robot_19x19() {
  mpi::config::RobotDescription r;  // configs/phantoms/robot-19x19.toml: 2 mm pitch, -18 .. 18 mm
  r.grid = {19, 19, 1};
  r.fov_m = {38e-3, 38e-3, 2e-3};
  r.sample_edge_m = 1e-3;
  r.iron_kg = 50e-9;
  return r;
}

struct Client {
  asio::io_context io;
  tcp::socket socket{io};
  asio::streambuf in;
  explicit Client(std::uint16_t port) { socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)); }
  std::string ask(const std::string& line) {
    asio::write(socket, asio::buffer(line + "\n"));
    boost::system::error_code ec;
    asio::read_until(socket, in, '\n', ec);
    if (ec) return "<" + ec.message() + ">";
    std::istream is(&in);
    std::string reply;
    std::getline(is, reply);
    return reply;
  }
};

TEST(RobotGrid, PointsAndIndicesFollowTheFormula) {
  const auto r = robot_19x19();
  // Index 0: (-18, -18, 0) mm; index 19 * 11 + 10 = 219: (2, 4, 0) mm.
  const auto p0 = mpi::sim::robot_grid_point_mm(r, 0);
  EXPECT_NEAR(p0[0], -18.0, 1e-9);
  EXPECT_NEAR(p0[1], -18.0, 1e-9);
  EXPECT_NEAR(p0[2], 0.0, 1e-9);
  const auto p = mpi::sim::robot_grid_point_mm(r, 219);
  EXPECT_NEAR(p[0], 2.0, 1e-9);
  EXPECT_NEAR(p[1], 4.0, 1e-9);
  EXPECT_EQ(mpi::sim::robot_grid_index(r, {2.0, 4.0, 0.0}), 219U);
  EXPECT_EQ(mpi::sim::robot_grid_index(r, {2.015, 3.985, 0.0}), 219U);  // within 1 % of the pitch
  EXPECT_FALSE(mpi::sim::robot_grid_index(r, {2.1, 4.0, 0.0}));          // between points
  EXPECT_FALSE(mpi::sim::robot_grid_index(r, {20.0, 0.0, 0.0}));         // beyond the grid
  EXPECT_FALSE(mpi::sim::robot_grid_index(r, {0.0, 0.0, 1.0}));          // off the plane
}

TEST(RobotServer, MovesParksAndRefuses) {
  RobotBus bus(false);
  mpi::sim::RobotServer server("127.0.0.1", 0, robot_19x19(), bus, std::chrono::milliseconds(2000));
  Client c(server.port());
  EXPECT_EQ(c.ask("WHERE"), "AT -18.0000 -18.0000 0.0000");
  EXPECT_EQ(c.ask("MOVE 2 4 0"), "AT 2.0000 4.0000 0.0000");
  EXPECT_EQ(bus.target(), 219U);
  EXPECT_EQ(c.ask("PARK\r"), "PARKED");
  EXPECT_EQ(bus.target(), rm::kRobotPark);
  EXPECT_EQ(c.ask("WHERE"), "PARKED");
  EXPECT_EQ(c.ask("GRID"), "GRID 19 19 1 0.0000 0.0000 0.0000 38.0000 38.0000 2.0000");
  const std::string off = c.ask("MOVE 1 0 0");
  EXPECT_EQ(off.rfind("ERR (1.0000 0.0000 0.0000) mm is not a point of the robot's grid (19 x 19 x 1", 0), 0U) << off;
  EXPECT_EQ(bus.target(), rm::kRobotPark) << "a refused move moved the robot";
  EXPECT_EQ(c.ask("MOVE 1 2").rfind("ERR MOVE takes three numbers", 0), 0U);
  EXPECT_EQ(c.ask("MOVE 1 2 x").rfind("ERR MOVE takes three numbers", 0), 0U);
  EXPECT_EQ(c.ask("JUMP").rfind("ERR unknown request 'JUMP'", 0), 0U);
  EXPECT_EQ(c.ask("PARK now").rfind("ERR unknown request", 0), 0U);
  EXPECT_EQ(c.ask(std::string(300, 'M')).rfind("ERR line longer than 256 bytes", 0), 0U);
  EXPECT_EQ(c.ask("WHERE").front(), '<') << "the connection is not closed after an over-long line";
}

TEST(RobotServer, AMoveThatDoesNotEndIsAnError) {
  RobotBus bus(true);
  mpi::sim::RobotServer server("127.0.0.1", 0, robot_19x19(), bus, std::chrono::milliseconds(100));
  Client c(server.port());
  const std::string reply = c.ask("MOVE 0 0 0");
  EXPECT_EQ(reply.rfind("ERR the robot did not arrive within 100 ms (MOVING)", 0), 0U) << reply;
  Client other(server.port());  // a second client is served too
  EXPECT_EQ(other.ask("WHERE"), "MOVING");
}

TEST(RobotServer, AnAddressInUseIsRefused) {
  RobotBus bus(false);
  mpi::sim::RobotServer first("127.0.0.1", 0, robot_19x19(), bus, std::chrono::milliseconds(100));
  try {
    mpi::sim::RobotServer second("127.0.0.1", first.port(), robot_19x19(), bus, std::chrono::milliseconds(100));
    ADD_FAILURE() << "two servers on one port";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << e.what();
  }
}

}  // namespace
