// The web console: the page's key proof against HMAC-SHA256 computed by OpenSSL directly, the harmonic
// levels against a synthetic sine's known amplitude, the image planes and JSON messages, and the server
// over a real loopback socket (the page, 404, 400, 405, the WebSocket's auth, commands and limits).
#include "mpi/host/console_auth.hpp"
#include "mpi/host/web_console.hpp"

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace {

using namespace mpi;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;

protocol::Key test_key() {
  std::vector<std::byte> bytes(32);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(0xa0 + i);
  return protocol::Key(bytes);
}

// HMAC-SHA256 by OpenSSL's one-shot HMAC(): the reference for the console's proof.
std::string openssl_proof_hex(const protocol::Key& key, const std::string& label, const std::vector<std::byte>& nonce) {
  std::string data = label;
  for (const std::byte b : nonce) data.push_back(static_cast<char>(b));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.bytes().data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
       &length);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kDigits[out[i] >> 4]);
    hex.push_back(kDigits[out[i] & 15U]);
  }
  return hex;
}

TEST(ConsoleAuth, HexRoundTripAndRejects) {
  const std::vector<std::byte> bytes{std::byte{0x00}, std::byte{0x7f}, std::byte{0xff}, std::byte{0x10}};
  EXPECT_EQ(host::to_hex(bytes), "007fff10");
  EXPECT_EQ(host::from_hex("007FfF10"), bytes);
  EXPECT_FALSE(host::from_hex("abc"));
  EXPECT_FALSE(host::from_hex("zz"));
}

TEST(ConsoleAuth, ProofIsHmacSha256OfLabelAndNonce) {
  const protocol::Key key = test_key();
  std::vector<std::byte> nonce(32);
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::byte>(3 * i + 1);
  EXPECT_EQ(host::to_hex(host::console_proof(key, nonce)), openssl_proof_hex(key, "mpi-console", nonce));
}

TEST(ConsoleAuth, ChallengeAcceptsOnlyTheRightProof) {
  const protocol::Key key = test_key();
  const host::ConsoleChallenge challenge;
  const host::ConsoleChallenge other;
  EXPECT_NE(challenge.nonce_hex(), other.nonce_hex());
  const auto nonce = host::from_hex(challenge.nonce_hex());
  ASSERT_TRUE(nonce);
  ASSERT_EQ(nonce->size(), 32U);
  std::string proof = openssl_proof_hex(key, "mpi-console", *nonce);
  EXPECT_TRUE(challenge.accepts(key, proof));
  EXPECT_FALSE(other.accepts(key, proof));                                  // another session's nonce
  EXPECT_FALSE(challenge.accepts(key, openssl_proof_hex(key, "mpi-link client", *nonce)));  // another label
  EXPECT_FALSE(challenge.accepts(key, proof.substr(0, 62)));                // short
  EXPECT_FALSE(challenge.accepts(key, "not hex"));
  EXPECT_FALSE(challenge.accepts(protocol::Key{}, proof));                  // no key: nothing matches
  proof[5] = proof[5] == '0' ? '1' : '0';
  EXPECT_FALSE(challenge.accepts(key, proof));
}

TEST(ConsoleSpectrum, HarmonicLevelOfAKnownSine) {
  // Two channels; channel 0 holds 1000 codes at the 3rd harmonic and 100 codes at the 7th of f0, over a
  // whole number of periods, channel 1 a full-scale fundamental that must not leak into channel 0.
  const double fs = 2.5e6, f0 = fs / 102.0;
  const std::size_t n = 1632;
  std::vector<std::int16_t> s(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / fs;
    s[2 * i] = static_cast<std::int16_t>(std::lround(1000.0 * std::sin(2 * std::numbers::pi * 3 * f0 * t + 0.3) +
                                                      100.0 * std::cos(2 * std::numbers::pi * 7 * f0 * t)));
    s[2 * i + 1] = static_cast<std::int16_t>(std::lround(32000.0 * std::sin(2 * std::numbers::pi * f0 * t)));
  }
  const std::vector<double> db = host::harmonic_levels_dbfs(s, 2, 0, fs, f0, 20);
  ASSERT_EQ(db.size(), 20U);
  EXPECT_NEAR(db[2], 20.0 * std::log10(1000.0 / 32767.0), 0.02);
  EXPECT_NEAR(db[6], 20.0 * std::log10(100.0 / 32767.0), 0.1);
  EXPECT_LT(db[0], -75.0);  // rounding to integer codes only
  const std::vector<double> other = host::harmonic_levels_dbfs(s, 2, 1, fs, f0, 3);
  EXPECT_NEAR(other[0], 20.0 * std::log10(32000.0 / 32767.0), 0.01);
  EXPECT_TRUE(host::harmonic_levels_dbfs(s, 2, 2, fs, f0, 3).empty());  // no such channel
}

host::GridImage hot_voxel_grid(std::array<int, 3> counts, std::array<int, 3> hot) {
  host::GridImage image;
  image.grid.counts = counts;
  image.grid.pixel_m = Eigen::Vector3d(1e-3, 2e-3, 3e-3);
  image.grid.origin_m = Eigen::Vector3d(-1e-3 * (counts[0] / 2), -2e-3 * (counts[1] / 2), -3e-3 * (counts[2] / 2));
  image.values.assign(image.grid.pixels(), 1.0);
  image.values[image.grid.index(hot[0], hot[1], hot[2])] = 5.0;
  return image;
}

TEST(ConsoleImage, TwoDimensionalGridIsOnePlane) {
  const host::GridImage image = hot_voxel_grid({5, 3, 1}, {4, 1, 0});
  const auto planes = host::display_planes(image);
  ASSERT_EQ(planes.size(), 1U);
  EXPECT_EQ(planes[0].nu, 5);
  EXPECT_EQ(planes[0].nv, 3);
  EXPECT_EQ(planes[0].values[1 * 5 + 4], 5.0);
  EXPECT_DOUBLE_EQ(planes[0].u0_mm, -2.0);
  EXPECT_DOUBLE_EQ(planes[0].dv_mm, 2.0);
}

TEST(ConsoleImage, ThreeDimensionalGridGivesProjectionsAndCentralSlice) {
  const host::GridImage image = hot_voxel_grid({3, 4, 5}, {2, 1, 4});
  const auto planes = host::display_planes(image);
  ASSERT_EQ(planes.size(), 4U);
  EXPECT_EQ(planes[0].name, "MIP x-y");
  EXPECT_EQ(planes[0].values[1 * 3 + 2], 5.0);  // (x, y) = (2, 1)
  EXPECT_EQ(planes[1].name, "MIP x-z");
  EXPECT_EQ(planes[1].values[4 * 3 + 2], 5.0);  // (x, z) = (2, 4)
  EXPECT_EQ(planes[2].name, "MIP y-z");
  EXPECT_EQ(planes[2].values[4 * 4 + 1], 5.0);  // (y, z) = (1, 4)
  EXPECT_EQ(*std::max_element(planes[3].values.begin(), planes[3].values.end()), 1.0);  // z = 2: not the hot voxel's slice
  EXPECT_EQ(planes[3].name, "slice x-y (z = 0.0 mm)");
}

TEST(ConsoleState, ImageAndStatusMessages) {
  host::ConsoleState state(std::chrono::milliseconds(0));
  std::uint64_t seen = 0;
  EXPECT_FALSE(state.image_json(seen));
  const host::GridImage image = hot_voxel_grid({5, 3, 1}, {4, 1, 0});
  host::Frame frame;
  frame.channels = 2;
  frame.samples = {1, 2, 3, 4};
  host::LiveFrameEvent event;
  event.frames_done = 7;
  event.frames_planned = 100;
  event.frame = &frame;
  event.image = &image;
  state.on_frame(event);
  const auto text = state.image_json(seen);
  ASSERT_TRUE(text);
  const json::object m = json::parse(*text).as_object();
  EXPECT_EQ(m.at("type").as_string(), "image");
  EXPECT_EQ(m.at("frames").as_int64(), 7);
  const json::object& plane = m.at("planes").as_array().at(0).as_object();
  EXPECT_EQ(plane.at("q").as_array().at(1 * 5 + 4).as_int64(), 1000);  // the maximum
  EXPECT_EQ(plane.at("q").as_array().at(0).as_int64(), 0);
  EXPECT_DOUBLE_EQ(plane.at("max").as_double(), 5.0);
  EXPECT_FALSE(state.image_json(seen));  // nothing newer

  host::BoardView board;
  board.connection = "connected";
  board.mode = "BOARD_MODE_SAFE";
  board.drives.push_back({0, "x", 24510.0, 0.012, 0.0121, 0.5, "ok"});
  board.faults.push_back({"FAULT_KIND_INTERLOCK_OPEN", -1, 12345, "interlock open"});
  state.set_board(board);
  const json::object s = json::parse(state.status_json()).as_object();
  const json::object& b = s.at("board").as_object();
  EXPECT_EQ(b.at("mode").as_string(), "BOARD_MODE_SAFE");
  EXPECT_NEAR(b.at("drives").as_array().at(0).as_object().at("error_percent").as_double(), 100.0 * (0.0121 - 0.012) / 0.012, 1e-9);
  EXPECT_EQ(b.at("faults").as_array().at(0).as_object().at("sample").as_int64(), 12345);
  EXPECT_EQ(s.at("scan").as_object().at("frames").as_int64(), 7);
}

// A loopback server with counting actions.
struct Server {
  host::ConsoleState state;
  std::atomic<int> starts{0};
  std::atomic<int> stops{0};
  host::WebConsole web;
  explicit Server(std::optional<protocol::Key> key = test_key())
      : web(state, host::ConsoleActions{[this] { ++starts; }, [this] { ++stops; }}, options(std::move(key))) {
    web.start();
  }
  static host::WebConsoleOptions options(std::optional<protocol::Key> key) {
    host::WebConsoleOptions o;
    o.port = 0;
    o.key = std::move(key);
    o.max_message_bytes = 4096;
    return o;
  }
};

// Sends raw bytes and reads the whole reply (the server closes after an error).
std::string raw_exchange(std::uint16_t port, const std::string& request) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(socket, net::buffer(request));
  std::string reply;
  beast::error_code ec;
  char buffer[4096];
  for (;;) {
    const std::size_t n = socket.read_some(net::buffer(buffer), ec);
    reply.append(buffer, n);
    if (ec) break;
  }
  return reply;
}

http::response<http::string_body> get(std::uint16_t port, const std::string& target, http::verb verb = http::verb::get) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request(verb, target, 11);
  request.set(http::field::host, "127.0.0.1");
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response;
}

TEST(WebConsoleServer, ServesThePageAndAnswersErrors) {
  Server server;
  EXPECT_EQ(server.web.url(), "http://127.0.0.1:" + std::to_string(server.web.port()) + "/");
  const auto page = get(server.web.port(), "/");
  EXPECT_EQ(page.result(), http::status::ok);
  EXPECT_NE(page.body().find("<title>MPI console</title>"), std::string::npos);
  EXPECT_NE(page.body().find("confirm-ok"), std::string::npos);
  const auto js = get(server.web.port(), "/console.js?v=1");
  EXPECT_EQ(js.result(), http::status::ok);
  EXPECT_EQ(js[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(get(server.web.port(), "/console.css")[http::field::content_type], "text/css; charset=utf-8");
  const auto missing = get(server.web.port(), "/etc/passwd");
  EXPECT_EQ(missing.result(), http::status::not_found);
  EXPECT_EQ(get(server.web.port(), "/", http::verb::post).result(), http::status::method_not_allowed);
  EXPECT_EQ(raw_exchange(server.web.port(), "GARBAGE\r\n\r\n").rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0U);
  EXPECT_EQ(raw_exchange(server.web.port(), "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n").rfind("HTTP/1.1 413", 0), 0U);
  // Still serving.
  EXPECT_EQ(get(server.web.port(), "/index.html").result(), http::status::ok);
}

class Page {
 public:
  explicit Page(std::uint16_t port) : ws_(io_) {
    ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", "/ws");
  }
  // The next message of `type`, skipping the periodic ones.
  json::object next(const std::string& type) {
    for (int i = 0; i < 200; ++i) {
      beast::flat_buffer buffer;
      ws_.read(buffer);
      json::object m = json::parse(beast::buffers_to_string(buffer.data())).as_object();
      if (m.at("type").as_string() == type) return m;
    }
    throw std::runtime_error("no " + type + " message");
  }
  void send(const std::string& text) { ws_.write(net::buffer(text)); }
  websocket::stream<beast::tcp_stream>& ws() { return ws_; }

 private:
  net::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
};

TEST(WebConsoleServer, WebSocketAuthCommandsAndBadMessages) {
  Server server;
  Page page(server.web.port());
  const json::object hello = page.next("hello");
  EXPECT_EQ(hello.at("label").as_string(), "mpi-console");
  const auto nonce = host::from_hex(std::string(hello.at("nonce").as_string()));
  ASSERT_TRUE(nonce);

  page.send("{not json");
  EXPECT_NE(std::string(page.next("error").at("message").as_string()).find("malformed"), std::string::npos);
  page.send(R"({"type":"launch"})");
  EXPECT_NE(std::string(page.next("error").at("message").as_string()).find("unknown message type"), std::string::npos);

  page.send(R"({"type":"start"})");
  json::object r = page.next("result");
  EXPECT_FALSE(r.at("ok").as_bool());
  EXPECT_NE(std::string(r.at("message").as_string()).find("read-only"), std::string::npos);
  EXPECT_EQ(server.starts.load(), 0);

  page.send(R"({"type":"auth","proof":")" + openssl_proof_hex(test_key(), "mpi-console", std::vector<std::byte>(32)) + "\"}");
  EXPECT_FALSE(page.next("auth_result").at("ok").as_bool());
  page.send(R"({"type":"auth","proof":")" + openssl_proof_hex(test_key(), "mpi-console", *nonce) + "\"}");
  EXPECT_TRUE(page.next("auth_result").at("ok").as_bool());

  page.send(R"({"type":"start"})");
  EXPECT_TRUE(page.next("result").at("ok").as_bool());
  EXPECT_EQ(server.starts.load(), 1);
  page.send(R"({"type":"stop"})");
  EXPECT_TRUE(page.next("result").at("ok").as_bool());
  EXPECT_EQ(server.stops.load(), 1);
  EXPECT_TRUE(page.next("status").contains("board"));

  // A message over the limit closes this socket with 1009; the server serves on.
  page.send(R"({"type":"ping","pad":")" + std::string(8000, 'x') + "\"}");
  beast::error_code ec;
  for (int i = 0; i < 200 && !ec; ++i) {
    beast::flat_buffer buffer;
    page.ws().read(buffer, ec);
  }
  EXPECT_TRUE(ec);  // closed (or a broken pipe where the client's close reply meets the closed socket)
  EXPECT_EQ(page.ws().reason().code, websocket::close_code::too_big);
  Page again(server.web.port());
  EXPECT_TRUE(again.next("hello").contains("nonce"));
}

TEST(WebConsoleServer, WrongProofsAreRateLimited) {
  Server server;
  Page page(server.web.port());
  (void)page.next("hello");
  std::string last;
  for (int i = 0; i < 5; ++i) {
    page.send(R"({"type":"auth","proof":")" + std::string(64, '0') + "\"}");
    last = std::string(page.next("auth_result").at("message").as_string());
  }
  EXPECT_NE(last.find("too many wrong proofs"), std::string::npos) << last;
}

TEST(WebConsoleServer, WithoutAKeyEverySessionIsReadOnly) {
  Server server(std::nullopt);
  Page page(server.web.port());
  EXPECT_FALSE(page.next("hello").at("key_configured").as_bool());
  page.send(R"({"type":"auth","proof":")" + std::string(64, '0') + "\"}");
  EXPECT_FALSE(page.next("auth_result").at("ok").as_bool());
}

TEST(WebConsoleServer, RefusesAnAddressItCannotBind) {
  host::ConsoleState state;
  host::WebConsoleOptions o;
  o.address = "not-an-address";
  EXPECT_THROW(host::WebConsole(state, {}, o), std::invalid_argument);
  o.address = "192.0.2.1";  // TEST-NET-1: not an address of this machine
  EXPECT_THROW(host::WebConsole(state, {}, o), std::invalid_argument);
}

}  // namespace
