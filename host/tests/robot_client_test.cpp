// The robot client against a fake robot controller on loopback: a thread that answers each request line
// with a scripted reply (or stays silent, or closes). The requests it received are checked as text.
#include "mpi/host/robot_client.hpp"

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <istream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace mpi::host;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Serves one connection: for every line received, reply(line) gives the reply line (without '\n'), or
// nothing to stay silent until the client goes away, or "<close>" to close the connection.
class FakeRobot {
 public:
  using Reply = std::function<std::optional<std::string>(const std::string&)>;

  explicit FakeRobot(Reply reply) : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply_(std::move(reply)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRobot() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] std::vector<std::string> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    asio::streambuf in;
    for (;;) {
      asio::read_until(socket, in, '\n', ec);
      if (ec) return;  // the client closed
      std::istream is(&in);
      std::string line;
      std::getline(is, line);
      {
        std::lock_guard lock(mutex_);
        received_.push_back(line);
      }
      const std::optional<std::string> reply = reply_(line);
      if (!reply) continue;  // silent: wait for the client to give up and close
      if (*reply == "<close>") return;
      asio::write(socket, asio::buffer(*reply + "\n"), ec);
      if (ec) return;
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  Reply reply_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> received_;
};

RobotTimeouts short_timeouts() {
  RobotTimeouts t;
  t.connect = std::chrono::milliseconds(2000);
  t.request = std::chrono::milliseconds(300);
  t.move = std::chrono::milliseconds(300);
  return t;
}

// The message of the RobotError that `call` throws (fails the test when it throws none).
std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const RobotError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no RobotError";
  return {};
}

TEST(RobotClient, MovesParksAndAsksWhereAndTheGrid) {
  FakeRobot robot([](const std::string& line) -> std::optional<std::string> {
    if (line.rfind("MOVE ", 0) == 0) return "AT 2.0000 -4.0000 0.0000";
    if (line == "PARK") return std::string("PARKED");
    if (line == "WHERE") return std::string("PARKED\r");
    if (line == "GRID") return std::string("GRID 19 19 1 0.0000 0.0000 0.0000 38.0000 38.0000 2.0000");
    return "ERR unknown";
  });
  RobotClient client("127.0.0.1", robot.port(), short_timeouts());
  const std::array<double, 3> at = client.move_to({2.0, -4.0, 0.0});
  EXPECT_DOUBLE_EQ(at[0], 2.0);
  EXPECT_DOUBLE_EQ(at[1], -4.0);
  EXPECT_DOUBLE_EQ(at[2], 0.0);
  client.park();
  EXPECT_EQ(client.where(), "PARKED");
  const RobotGrid g = client.grid();
  EXPECT_EQ(g.counts[0], 19U);
  EXPECT_EQ(g.counts[2], 1U);
  EXPECT_DOUBLE_EQ(g.fov_mm[0], 38.0);
  EXPECT_DOUBLE_EQ(g.fov_mm[2], 2.0);
  const std::vector<std::string> sent = robot.received();
  ASSERT_EQ(sent.size(), 4U);
  EXPECT_EQ(sent[0], "MOVE 2.0000 -4.0000 0.0000");
  EXPECT_EQ(sent[1], "PARK");
  EXPECT_EQ(sent[2], "WHERE");
  EXPECT_EQ(sent[3], "GRID");
}

TEST(RobotClient, ARefusalIsPassedOnWithTheAddressAndTheRequest) {
  FakeRobot robot([](const std::string&) -> std::optional<std::string> { return "ERR (1 0 0) mm is not a point of the robot's grid"; });
  RobotClient client("127.0.0.1", robot.port(), short_timeouts());
  const std::string m = error_of([&] { (void)client.move_to({1.0, 0.0, 0.0}); });
  EXPECT_NE(m.find("127.0.0.1:" + std::to_string(robot.port())), std::string::npos) << m;
  EXPECT_NE(m.find("MOVE 1.0000 0.0000 0.0000"), std::string::npos) << m;
  EXPECT_NE(m.find("refused: (1 0 0) mm is not a point of the robot's grid"), std::string::npos) << m;
}

TEST(RobotClient, ASilentRobotTimesOut) {
  FakeRobot robot([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  RobotClient client("127.0.0.1", robot.port(), short_timeouts());
  const std::string m = error_of([&] { client.park(); });
  EXPECT_NE(m.find("PARK"), std::string::npos) << m;
  EXPECT_NE(m.find("no reply within 300 ms"), std::string::npos) << m;
  // The connection is closed after a timeout: a late reply cannot be taken for the next request's.
  const std::string again = error_of([&] { (void)client.where(); });
  EXPECT_NE(again.find("closed"), std::string::npos) << again;
}

TEST(RobotClient, MalformedRepliesAreErrors) {
  struct Case {
    std::string reply;
    std::function<void(RobotClient&)> call;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"AT 1 2", [](RobotClient& c) { (void)c.move_to({1, 2, 0}); }, "unexpected reply 'AT 1 2'"},
      {"AT 1 2 3 4", [](RobotClient& c) { (void)c.move_to({1, 2, 3}); }, "unexpected reply"},
      {"AT 5 5 0", [](RobotClient& c) { (void)c.move_to({0, 0, 0}); }, "stands at (5.0000, 5.0000, 0.0000) mm"},
      {"AT nan 0 0", [](RobotClient& c) { (void)c.move_to({0, 0, 0}); }, "unexpected reply"},
      {"HELLO", [](RobotClient& c) { c.park(); }, "unexpected reply 'HELLO' (expected PARKED)"},
      {"SOMEWHERE", [](RobotClient& c) { (void)c.where(); }, "unexpected reply 'SOMEWHERE'"},
      {"GRID 19 19", [](RobotClient& c) { (void)c.grid(); }, "expected GRID nx ny nz"},
      {"GRID 0 19 1 0 0 0 1 1 1", [](RobotClient& c) { (void)c.grid(); }, "grid counts"},
      {std::string(2000, 'A'), [](RobotClient& c) { c.park(); }, "longer than 1024 bytes"},
      {"<close>", [](RobotClient& c) { c.park(); }, "closed the connection"},
  };
  for (const Case& k : cases) {
    FakeRobot robot([&](const std::string&) -> std::optional<std::string> { return k.reply; });
    RobotClient client("127.0.0.1", robot.port(), short_timeouts());
    const std::string m = error_of([&] { k.call(client); });
    EXPECT_NE(m.find(k.why), std::string::npos) << "reply '" << k.reply.substr(0, 40) << "': " << m;
    EXPECT_NE(m.find("robot 127.0.0.1:"), std::string::npos) << m;
  }
}

TEST(RobotClient, NobodyListeningIsAnErrorNamingTheAddress) {
  std::uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  const std::string m = error_of([&] { RobotClient client("127.0.0.1", port, short_timeouts()); });
  EXPECT_NE(m.find("robot 127.0.0.1:" + std::to_string(port)), std::string::npos) << m;
  EXPECT_NE(m.find("cannot connect"), std::string::npos) << m;
}

}  // namespace
