// The host's end of the calibration robot's controller: a TCP connection carrying one request line and one
// reply line at a time (ASCII, '\n'):
//
//   MOVE x_mm y_mm z_mm  ->  AT x y z      the robot stands at that grid point (mm)
//   PARK                 ->  PARKED        the sample is out of the bore (background measurements)
//   WHERE                ->  AT x y z | PARKED | MOVING
//   GRID                 ->  GRID nx ny nz cx cy cz fx fy fz   (the robot's own grid: counts, centre and fov in mm)
//   any request          ->  ERR reason    refused (the reason is passed on)
//
// Every call has a deadline (connect: the connect timeout; MOVE and PARK: the move timeout; the rest: the
// request timeout); a reply that is late, malformed, too long, or a closed connection throws RobotError
// naming the robot's address and the request.
#pragma once

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/streambuf.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mpi::host {

class RobotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RobotTimeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds request{5000};  // WHERE, GRID
  std::chrono::milliseconds move{60000};    // MOVE, PARK: until the robot has arrived
};

struct RobotGrid {
  std::array<std::uint32_t, 3> counts{1, 1, 1};
  std::array<double, 3> centre_mm{};
  std::array<double, 3> fov_mm{};
};

class RobotClient {
 public:
  // Connects to HOST:PORT; throws RobotError naming the address.
  RobotClient(const std::string& host, std::uint16_t port, RobotTimeouts timeouts = {});

  // Moves the sample to the point (mm) and waits until the robot is there; returns where the robot says it
  // stands, which must be within 0.05 mm of the point on every axis.
  std::array<double, 3> move_to(const std::array<double, 3>& point_mm);
  // Takes the sample out of the bore and waits until it is out.
  void park();
  // "AT x y z", "PARKED" or "MOVING", as the robot answered.
  std::string where();
  RobotGrid grid();

  [[nodiscard]] const std::string& address() const noexcept { return address_; }

 private:
  std::string request(const std::string& line, std::chrono::milliseconds timeout);
  [[noreturn]] void fail(const std::string& request, const std::string& why) const;

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::streambuf in_;
  std::string address_;
  RobotTimeouts timeouts_;
};

}  // namespace mpi::host
