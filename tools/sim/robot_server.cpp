#include "robot_server.hpp"

#include "mpi/drivers/register_map.hpp"

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <cmath>
#include <cstdio>
#include <istream>
#include <list>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace mpi::sim {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace regmap = drivers::regmap;

namespace {

constexpr std::size_t kMaxLine = 256;
constexpr auto kPollPeriod = std::chrono::milliseconds(1);

std::string format_point(const std::array<double, 3>& p) {
  char text[96];
  std::snprintf(text, sizeof text, "%.4f %.4f %.4f", p[0], p[1], p[2]);
  return text;
}

bool nothing_more(std::istringstream& words) {
  std::string extra;
  return !(words >> extra);
}

}  // namespace

std::array<double, 3> robot_grid_point_mm(const config::RobotDescription& robot, std::uint32_t index) {
  const std::array<std::uint32_t, 3> i{index % robot.grid[0], (index / robot.grid[0]) % robot.grid[1], index / (robot.grid[0] * robot.grid[1])};
  std::array<double, 3> p{};
  for (std::size_t k = 0; k < 3; ++k) {
    p[k] = 1e3 * (robot.centre_m[k] - 0.5 * robot.fov_m[k] + (i[k] + 0.5) * robot.fov_m[k] / robot.grid[k]);
  }
  return p;
}

std::optional<std::uint32_t> robot_grid_index(const config::RobotDescription& robot, const std::array<double, 3>& point_mm) {
  std::uint32_t index = 0;
  std::uint32_t stride = 1;
  for (std::size_t k = 0; k < 3; ++k) {
    if (!std::isfinite(point_mm[k])) return std::nullopt;
    const double n = robot.grid[k];
    const double pitch_mm = 1e3 * robot.fov_m[k] / n;
    const double first_mm = 1e3 * (robot.centre_m[k] - 0.5 * robot.fov_m[k]) + 0.5 * pitch_mm;
    const double tolerance_mm = std::max(1e-3, 0.01 * pitch_mm);
    long i = 0;
    if (pitch_mm > 0.0) i = std::lround((point_mm[k] - first_mm) / pitch_mm);
    if (i < 0 || i >= static_cast<long>(robot.grid[k])) return std::nullopt;
    if (std::abs(first_mm + static_cast<double>(i) * pitch_mm - point_mm[k]) > tolerance_mm) return std::nullopt;
    index += static_cast<std::uint32_t>(i) * stride;
    stride *= robot.grid[k];
  }
  return index;
}

struct RobotServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  config::RobotDescription robot;
  drivers::RegisterBus& bus;
  std::chrono::milliseconds move_timeout;
  std::thread thread;
  bool stopped = false;

  struct Session : std::enable_shared_from_this<Session> {
    Impl& server;
    tcp::socket socket;
    asio::streambuf in{kMaxLine};
    asio::steady_timer timer;
    std::string reply;
    std::array<char, 512> discard{};
    std::uint32_t target = 0;
    std::chrono::steady_clock::time_point deadline;

    Session(Impl& s, tcp::socket sock) : server(s), socket(std::move(sock)), timer(s.io) {}

    void read() {
      asio::async_read_until(socket, in, '\n', [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec == asio::error::not_found) {  // the line outgrew the buffer
          self->send("ERR line longer than " + std::to_string(kMaxLine) + " bytes", false);
          return;
        }
        if (ec) return;  // closed
        std::istream is(&self->in);
        std::string line;
        std::getline(is, line);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        self->handle(line);
      });
    }

    void send(std::string text, bool then_read = true) {
      reply = std::move(text) + "\n";
      asio::async_write(socket, asio::buffer(reply), [self = shared_from_this(), then_read](const boost::system::error_code& ec, std::size_t) {
        if (ec) return;
        if (then_read) {
          self->read();
        } else {
          // Half-close and read what the client still sends until it closes: closing with unread bytes
          // would reset the connection and could lose the reply.
          boost::system::error_code ignored;
          self->socket.shutdown(tcp::socket::shutdown_send, ignored);
          self->drain();
        }
      });
    }

    void drain() {
      socket.async_read_some(asio::buffer(discard), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (!ec) {
          self->drain();
          return;
        }
        boost::system::error_code ignored;
        self->socket.close(ignored);
      });
    }

    std::string where() const {
      const std::uint32_t position = server.bus.read32(regmap::kRobotPosition);
      if ((server.bus.read32(regmap::kRobotStatus) & regmap::kRobotMoving) != 0) return "MOVING";
      if (position == regmap::kRobotPark) return "PARKED";
      return "AT " + format_point(robot_grid_point_mm(server.robot, position));
    }

    void handle(const std::string& line) {
      std::istringstream words(line);
      std::string command;
      words >> command;
      if (command == "MOVE") {
        std::array<double, 3> p{};
        std::string extra;
        if (!(words >> p[0] >> p[1] >> p[2]) || (words >> extra)) {
          send("ERR MOVE takes three numbers, x y z in mm: '" + line + "'");
          return;
        }
        const std::optional<std::uint32_t> index = robot_grid_index(server.robot, p);
        if (!index) {
          const auto& r = server.robot;
          send("ERR (" + format_point(p) + ") mm is not a point of the robot's grid (" + std::to_string(r.grid[0]) + " x " +
               std::to_string(r.grid[1]) + " x " + std::to_string(r.grid[2]) + " points over " +
               format_point({r.fov_m[0] * 1e3, r.fov_m[1] * 1e3, r.fov_m[2] * 1e3}) + " mm about " +
               format_point({r.centre_m[0] * 1e3, r.centre_m[1] * 1e3, r.centre_m[2] * 1e3}) + " mm)");
          return;
        }
        start_move(*index);
      } else if (command == "PARK" && nothing_more(words)) {
        start_move(regmap::kRobotPark);
      } else if (command == "WHERE" && nothing_more(words)) {
        send(where());
      } else if (command == "GRID" && nothing_more(words)) {
        const auto& r = server.robot;
        std::ostringstream g;
        g << "GRID " << r.grid[0] << ' ' << r.grid[1] << ' ' << r.grid[2] << ' '
          << format_point({r.centre_m[0] * 1e3, r.centre_m[1] * 1e3, r.centre_m[2] * 1e3}) << ' '
          << format_point({r.fov_m[0] * 1e3, r.fov_m[1] * 1e3, r.fov_m[2] * 1e3});
        send(g.str());
      } else {
        send("ERR unknown request '" + line + "' (MOVE x y z, PARK, WHERE, GRID)");
      }
    }

    void start_move(std::uint32_t to) {
      target = to;
      deadline = std::chrono::steady_clock::now() + server.move_timeout;
      server.bus.write32(regmap::kRobotTarget, to);
      poll();
    }

    void poll() {
      const bool arrived = server.bus.read32(regmap::kRobotPosition) == target &&
                           (server.bus.read32(regmap::kRobotStatus) & regmap::kRobotMoving) == 0 &&
                           server.bus.read32(regmap::kRobotTarget) == target;
      if (arrived) {
        send(target == regmap::kRobotPark ? "PARKED" : "AT " + format_point(robot_grid_point_mm(server.robot, target)));
        return;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        send("ERR the robot did not arrive within " + std::to_string(server.move_timeout.count()) + " ms (" + where() + ")");
        return;
      }
      timer.expires_after(kPollPeriod);
      timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->poll();
      });
    }
  };

  std::list<std::weak_ptr<Session>> sessions;

  Impl(const config::RobotDescription& r, drivers::RegisterBus& b, std::chrono::milliseconds timeout)
      : robot(r), bus(b), move_timeout(timeout) {}

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;  // closed
      auto session = std::make_shared<Session>(*this, std::move(socket));
      sessions.remove_if([](const std::weak_ptr<Session>& s) { return s.expired(); });
      sessions.push_back(session);
      session->read();
      accept();
    });
  }
};

RobotServer::RobotServer(const std::string& address, std::uint16_t port, const config::RobotDescription& robot, drivers::RegisterBus& bus,
                         std::chrono::milliseconds move_timeout)
    : impl_(std::make_unique<Impl>(robot, bus, move_timeout)) {
  const std::string where = address + ":" + std::to_string(port);
  boost::system::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address, ec);
  if (ec) throw std::invalid_argument("robot listen address " + where + ": not an IP address");
  const tcp::endpoint endpoint(ip, port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::invalid_argument("robot listen address " + where + ": " + ec.message());
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

RobotServer::~RobotServer() { stop(); }

std::uint16_t RobotServer::port() const noexcept {
  boost::system::error_code ec;
  const tcp::endpoint e = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : e.port();
}

void RobotServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    for (const auto& weak : impl->sessions) {
      if (const auto s = weak.lock()) {
        s->timer.cancel();
        s->socket.close(ignored);
      }
    }
  });
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace mpi::sim
