// WebConsole: the HTTP server (the embedded page) and the WebSocket sessions (docs/console.md), on one
// Boost.Asio I/O thread.
#include "mpi/host/console_auth.hpp"
#include "mpi/host/web_console.hpp"

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <stdexcept>
#include <thread>

namespace mpi::host {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 16 * 1024;
constexpr std::size_t kMaxQueued = 8;  // messages waiting for a slow page; newer live images are dropped beyond
const auto kIdleTimeout = std::chrono::seconds(30);

std::string message_json(std::string_view type, json::object fields = {}) {
  fields["type"] = type;
  return json::serialize(fields);
}

}  // namespace

class WsSession;

class WebConsole::Impl {
 public:
  Impl(ConsoleState& state, ConsoleActions actions, WebConsoleOptions options)
      : state_(state), actions_(std::move(actions)), options_(std::move(options)), acceptor_(io_) {
    beast::error_code ec;
    const net::ip::address address = net::ip::make_address(options_.address, ec);
    if (ec) throw std::invalid_argument("--listen " + options_.address + ": not an IP address");
    const tcp::endpoint endpoint(address, options_.port);
    const auto fail = [&](const char* what) {
      throw std::invalid_argument("--listen " + options_.address + ":" + std::to_string(options_.port) + ": cannot " + what + ": " + ec.message());
    };
    if (acceptor_.open(endpoint.protocol(), ec)) fail("open a socket");
    if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) fail("set SO_REUSEADDR");
    if (acceptor_.bind(endpoint, ec)) fail("bind");
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) fail("listen");
    port_ = acceptor_.local_endpoint().port();
  }

  ~Impl() { stop(); }

  void start() {
    accept();
    thread_ = std::thread([this] {
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("web console: {}", e.what());  // one bad session must not end the console
        }
      }
    });
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) serve_http(std::move(socket));
      accept();
    });
  }

  void serve_http(tcp::socket socket);

  ConsoleState& state_;
  ConsoleActions actions_;
  WebConsoleOptions options_;
  protocol::HandshakeLimiter limiter_;
  net::io_context io_{1};
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopped_{false};
};

// One WebSocket: pushes status, image, spectrum and PSF messages on a timer, reads the page's messages.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(WebConsole::Impl& console, tcp::socket socket, std::string peer)
      : console_(console), ws_(std::move(socket)), timer_(ws_.get_executor()), peer_(std::move(peer)) {}

  void run(http::request<http::string_body> request) {
    ws_.read_message_max(console_.options_.max_message_bytes);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->send(message_json("hello", {{"nonce", self->challenge_.nonce_hex()},
                                        {"label", std::string(kConsoleProofLabel)},
                                        {"key_configured", self->console_.options_.key.has_value()},
                                        {"max_message_bytes", self->console_.options_.max_message_bytes}}));
      self->read();
      self->tick();
    });
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        self->timer_.cancel();
        return;  // closed, or a message over the limit (Beast closes with 1009)
      }
      const std::string text = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      self->handle(text);
      self->read();
    });
  }

  void handle(const std::string& text) {
    json::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object() || !v.as_object().contains("type") || !v.as_object().at("type").is_string()) {
      send(message_json("error", {{"message", "malformed message: expected a JSON object with a string \"type\"" +
                                                  (ec ? std::string(" (") + ec.message() + ")" : std::string())}}));
      return;
    }
    const json::object& o = v.as_object();
    const std::string type(o.at("type").as_string());
    if (type == "auth") {
      authenticate(o);
    } else if (type == "start" || type == "stop") {
      command(type);
    } else if (type == "ping") {
      send(message_json("pong"));
    } else {
      send(message_json("error", {{"message", "unknown message type '" + type + "' (auth, start, stop, ping)"}}));
    }
  }

  void authenticate(const json::object& o) {
    const auto now = protocol::HandshakeLimiter::Clock::now();
    std::chrono::milliseconds retry{0};
    if (!console_.limiter_.allowed(peer_, now, &retry)) {
      send(message_json("auth_result", {{"ok", false}, {"message", "too many wrong proofs from " + peer_ + ": try again in " +
                                                                      std::to_string(retry.count()) + " ms"}}));
      return;
    }
    if (!console_.options_.key) {
      send(message_json("auth_result", {{"ok", false}, {"message", "the console was started without the scanner key (--key): read-only"}}));
      return;
    }
    const json::value* proof = o.if_contains("proof");
    if (proof != nullptr && proof->is_string() && challenge_.accepts(*console_.options_.key, std::string_view(proof->as_string()))) {
      console_.limiter_.succeeded(peer_);
      authorized_ = true;
      send(message_json("auth_result", {{"ok", true}, {"message", "key proven: this session may start and stop scans"}}));
      return;
    }
    console_.limiter_.failed(peer_, now);
    send(message_json("auth_result", {{"ok", false}, {"message", "wrong key: the proof does not match the scanner's key"}}));
  }

  void command(const std::string& type) {
    if (!authorized_) {
      send(message_json("result", {{"command", type}, {"ok", false}, {"message", "refused: read-only session (prove the scanner key first)"}}));
      return;
    }
    try {
      const auto& action = type == "start" ? console_.actions_.start : console_.actions_.stop;
      if (!action) throw std::runtime_error("not available");
      action();
      send(message_json("result", {{"command", type}, {"ok", true}, {"message", type == "start" ? "scan started" : "stop requested"}}));
    } catch (const std::exception& e) {
      send(message_json("result", {{"command", type}, {"ok", false}, {"message", std::string("refused: ") + e.what()}}));
    }
    send(console_.state_.status_json());
  }

  void tick() {
    if (closed_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_status_) {
      send(console_.state_.status_json());
      if (auto psf = console_.state_.psf_json(psf_seen_)) send(std::move(*psf));
      next_status_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(1.0 / std::max(0.1, console_.options_.status_rate_hz)));
    }
    // The live image goes out only when the page has taken the previous messages: a slow page gets fewer
    // images, the scan is never held up.
    if (queue_.size() < 2) {
      if (auto image = console_.state_.image_json(image_seen_)) send(std::move(*image), true);
      if (auto spectrum = console_.state_.spectrum_json(spectrum_seen_)) send(std::move(*spectrum), true);
    }
    timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / std::max(1.0, console_.options_.image_rate_hz))));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->tick();
    });
  }

  void send(std::string message, bool droppable = false) {
    if (closed_) return;
    if (droppable && queue_.size() >= kMaxQueued) return;
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) write_next();
  }

  void write_next() {
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_ = true;
        self->timer_.cancel();
        return;
      }
      self->queue_.pop_front();
      if (!self->queue_.empty()) self->write_next();
    });
  }

  WebConsole::Impl& console_;
  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer timer_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  ConsoleChallenge challenge_;
  bool authorized_ = false;
  bool closed_ = false;
  std::uint64_t image_seen_ = 0, spectrum_seen_ = 0, psf_seen_ = 0;
  std::chrono::steady_clock::time_point next_status_{};
};

// One HTTP connection: GET of the page's files, the WebSocket upgrade at /ws, errors for the rest.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(WebConsole::Impl& console, tcp::socket socket) : console_(console), stream_(std::move(socket)) {
    beast::error_code ec;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : remote.address().to_string();
  }

  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    if (ec) {
      const bool too_big = ec == http::error::body_limit || ec == http::error::header_limit || ec == http::error::buffer_overflow;
      respond(too_big ? http::status::payload_too_large : http::status::bad_request, "text/plain; charset=utf-8",
              std::string(too_big ? "request too large: " : "bad request: ") + ec.message() + "\n", false, true);
      return;
    }
    http::request<http::string_body> request = parser_->release();
    if (websocket::is_upgrade(request)) {
      if (request.target() == "/ws") {
        stream_.expires_never();
        std::make_shared<WsSession>(console_, stream_.release_socket(), peer_)->run(std::move(request));
        return;
      }
      respond(http::status::not_found, "text/plain; charset=utf-8", "no WebSocket at " + std::string(request.target()) + " (use /ws)\n",
              false, true);
      return;
    }
    const bool head = request.method() == http::verb::head;
    if (request.method() != http::verb::get && !head) {
      respond(http::status::method_not_allowed, "text/plain; charset=utf-8", "method not allowed: " + std::string(request.method_string()) + "\n",
              false, !request.keep_alive());
      return;
    }
    std::string path(request.target());
    if (const auto q = path.find('?'); q != std::string::npos) path.erase(q);
    if (path == "/") path = "/index.html";
    for (const WebAsset& asset : web_console_assets()) {
      if (asset.path == path) {
        respond(http::status::ok, std::string(asset.content_type), std::string(asset.body), head, !request.keep_alive());
        return;
      }
    }
    respond(http::status::not_found, "text/plain; charset=utf-8", "not found: " + path + "\n", head, !request.keep_alive());
  }

  void respond(http::status status, const std::string& type, std::string body, bool head, bool close) {
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::server, "mpi console");
    response->set(http::field::content_type, type);
    response->set(http::field::cache_control, "no-store");
    response->keep_alive(!close);
    response->body() = std::move(body);
    response->prepare_payload();
    if (head) response->body().clear();
    http::async_write(stream_, *response, [self = shared_from_this(), response, close](beast::error_code ec, std::size_t) {
      if (ec || close) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      self->read();
    });
  }

  WebConsole::Impl& console_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_;
};

void WebConsole::Impl::serve_http(tcp::socket socket) { std::make_shared<HttpSession>(*this, std::move(socket))->read(); }

WebConsole::WebConsole(ConsoleState& state, ConsoleActions actions, WebConsoleOptions options)
    : impl_(std::make_shared<Impl>(state, std::move(actions), std::move(options))) {}

WebConsole::~WebConsole() { stop(); }

void WebConsole::start() { impl_->start(); }
void WebConsole::stop() { impl_->stop(); }
std::uint16_t WebConsole::port() const noexcept { return impl_->port_; }

std::string WebConsole::url() const {
  const bool v6 = impl_->options_.address.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + impl_->options_.address + "]" : impl_->options_.address) + ":" + std::to_string(impl_->port_) + "/";
}

}  // namespace mpi::host
