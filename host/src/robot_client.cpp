#include "mpi/host/robot_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <cmath>
#include <cstdio>
#include <istream>
#include <optional>
#include <sstream>

namespace mpi::host {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t kMaxReply = 1024;
constexpr double kPositionToleranceMm = 0.05;

// Runs the io_context until `done` or the deadline; on the deadline cancels the socket's work, runs the
// cancelled handlers (they refer to the caller's locals) and returns false.
bool run_until(asio::io_context& io, tcp::socket& socket, const bool& done, std::chrono::milliseconds timeout) {
  io.restart();
  io.run_for(timeout);
  if (done) return true;
  boost::system::error_code ignored;
  socket.cancel(ignored);
  io.restart();
  io.run();  // the cancelled handlers
  return false;
}

std::string describe_point(const std::array<double, 3>& p) {
  char text[96];
  std::snprintf(text, sizeof text, "(%.4f, %.4f, %.4f) mm", p[0], p[1], p[2]);
  return text;
}

// "AT x y z" -> the three numbers; nothing when the line is not of that form.
std::optional<std::array<double, 3>> parse_at(const std::string& reply) {
  std::istringstream words(reply);
  std::string tag, extra;
  std::array<double, 3> p{};
  if (!(words >> tag) || tag != "AT" || !(words >> p[0] >> p[1] >> p[2]) || (words >> extra)) return std::nullopt;
  for (double v : p) {
    if (!std::isfinite(v)) return std::nullopt;
  }
  return p;
}

}  // namespace

RobotClient::RobotClient(const std::string& host, std::uint16_t port, RobotTimeouts timeouts)
    : socket_(io_), in_(kMaxReply), address_(host + ":" + std::to_string(port)), timeouts_(timeouts) {
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) throw RobotError("robot " + address_ + ": cannot resolve '" + host + "': " + ec.message());
  bool done = false;
  boost::system::error_code result = asio::error::timed_out;
  asio::async_connect(socket_, endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
    result = e;
    done = true;
  });
  if (!run_until(io_, socket_, done, timeouts_.connect)) {
    throw RobotError("robot " + address_ + ": no connection within " + std::to_string(timeouts_.connect.count()) + " ms");
  }
  if (result) throw RobotError("robot " + address_ + ": cannot connect: " + result.message());
  socket_.set_option(tcp::no_delay(true), ec);
}

void RobotClient::fail(const std::string& request, const std::string& why) const {
  throw RobotError("robot " + address_ + ": " + request + ": " + why);
}

std::string RobotClient::request(const std::string& line, std::chrono::milliseconds timeout) {
  if (!socket_.is_open()) fail(line, "the connection was closed after an earlier error");
  const std::string out = line + "\n";
  bool done = false;
  boost::system::error_code result;
  asio::async_write(socket_, asio::buffer(out), [&](const boost::system::error_code& e, std::size_t) {
    result = e;
    if (e) {
      done = true;
      return;
    }
    asio::async_read_until(socket_, in_, '\n', [&](const boost::system::error_code& e2, std::size_t) {
      result = e2;
      done = true;
    });
  });
  const auto close = [&] {
    boost::system::error_code ignored;
    socket_.close(ignored);
  };
  if (!run_until(io_, socket_, done, timeout)) {
    close();
    fail(line, "no reply within " + std::to_string(timeout.count()) + " ms");
  }
  if (result == asio::error::not_found) {
    close();
    fail(line, "a reply longer than " + std::to_string(kMaxReply) + " bytes");
  }
  if (result == asio::error::eof) {
    close();
    fail(line, "the robot closed the connection");
  }
  if (result) {
    close();
    fail(line, result.message());
  }
  std::istream is(&in_);
  std::string reply;
  std::getline(is, reply);
  if (!reply.empty() && reply.back() == '\r') reply.pop_back();
  if (reply.rfind("ERR", 0) == 0) {
    const std::size_t at = reply.find_first_not_of(' ', 3);
    fail(line, "refused: " + (at == std::string::npos ? std::string("(no reason given)") : reply.substr(at)));
  }
  return reply;
}

std::array<double, 3> RobotClient::move_to(const std::array<double, 3>& point_mm) {
  for (double v : point_mm) {
    if (!std::isfinite(v)) throw RobotError("robot " + address_ + ": MOVE: not a finite point " + describe_point(point_mm));
  }
  char line[128];
  std::snprintf(line, sizeof line, "MOVE %.4f %.4f %.4f", point_mm[0], point_mm[1], point_mm[2]);
  const std::string reply = request(line, timeouts_.move);
  const std::optional<std::array<double, 3>> at = parse_at(reply);
  if (!at) fail(line, "unexpected reply '" + reply + "' (expected AT x y z)");
  for (std::size_t k = 0; k < 3; ++k) {
    if (std::abs((*at)[k] - point_mm[k]) > kPositionToleranceMm) {
      fail(line, "the robot stands at " + describe_point(*at) + ", not at " + describe_point(point_mm));
    }
  }
  return *at;
}

void RobotClient::park() {
  const std::string reply = request("PARK", timeouts_.move);
  if (reply != "PARKED") fail("PARK", "unexpected reply '" + reply + "' (expected PARKED)");
}

std::string RobotClient::where() {
  const std::string reply = request("WHERE", timeouts_.request);
  if (reply != "PARKED" && reply != "MOVING" && !parse_at(reply)) fail("WHERE", "unexpected reply '" + reply + "'");
  return reply;
}

RobotGrid RobotClient::grid() {
  const std::string reply = request("GRID", timeouts_.request);
  std::istringstream words(reply);
  std::string tag, extra;
  RobotGrid g;
  long n[3] = {0, 0, 0};
  if (!(words >> tag) || tag != "GRID" || !(words >> n[0] >> n[1] >> n[2]) || !(words >> g.centre_mm[0] >> g.centre_mm[1] >> g.centre_mm[2]) ||
      !(words >> g.fov_mm[0] >> g.fov_mm[1] >> g.fov_mm[2]) || (words >> extra)) {
    fail("GRID", "unexpected reply '" + reply + "' (expected GRID nx ny nz cx cy cz fx fy fz)");
  }
  for (std::size_t k = 0; k < 3; ++k) {
    if (n[k] < 1 || n[k] > 1'000'000) fail("GRID", "unexpected reply '" + reply + "' (grid counts must be 1 or more)");
    g.counts[k] = static_cast<std::uint32_t>(n[k]);
  }
  return g;
}

}  // namespace mpi::host
