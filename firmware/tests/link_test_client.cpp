#include "link_test_client.hpp"

#include "mpi/protocol/client_handshake.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mpi::firmware::test {

namespace v1 = link::v1;

LinkTestClient::LinkTestClient(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect to port " + std::to_string(port) + ": " + std::strerror(err));
  }
}

LinkTestClient::~LinkTestClient() { close(); }

void LinkTestClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void LinkTestClient::send_raw(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
}

void LinkTestClient::send(const v1::Envelope& message) {
  std::string frame;
  if (!protocol::append_frame(message, frame)) throw std::runtime_error("message too large");
  send_raw(frame);
}

std::optional<v1::Envelope> LinkTestClient::read_one(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::span<const std::byte> payload;
    const auto result = decoder_.next(payload);
    if (result == protocol::FrameDecoder::Result::frame) {
      v1::Envelope envelope;
      std::string error;
      if (!protocol::parse_envelope(payload, envelope, error)) throw std::runtime_error("firmware sent a bad frame: " + error);
      return envelope;
    }
    if (result == protocol::FrameDecoder::Result::oversized) throw std::runtime_error("firmware sent an oversized frame");
    if (eof_ || fd_ < 0) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    std::array<char, 1 << 16> buffer{};
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    decoder_.feed(buffer.data(), static_cast<std::size_t>(n));
  }
}

std::optional<v1::Envelope> LinkTestClient::receive(std::chrono::milliseconds timeout) {
  if (!pending_.empty()) {
    v1::Envelope front = std::move(pending_.front());
    pending_.pop_front();
    return front;
  }
  return read_one(timeout);
}

std::optional<v1::Envelope> LinkTestClient::request(v1::Envelope message) { return request(std::move(message), test_key()); }

std::optional<v1::Envelope> LinkTestClient::request(v1::Envelope message, const protocol::Key& key) {
  if (!message.has_hello()) return request_raw(std::move(message));
  protocol::ClientHandshake handshake(key);
  handshake.prepare(*message.mutable_hello());
  std::optional<v1::Envelope> challenge = request_raw(std::move(message));
  if (!challenge || !challenge->has_auth_challenge()) return challenge;
  v1::Envelope response;
  try {
    *response.mutable_auth_response() = handshake.answer(challenge->auth_challenge());
  } catch (const protocol::HandshakeError& e) {
    v1::Envelope error;
    error.mutable_error()->set_code(v1::ERROR_UNAUTHENTICATED);
    error.mutable_error()->set_message(std::string("client: ") + e.what());
    return error;
  }
  return request_raw(std::move(response));
}

const protocol::Key& test_key() {
  static const protocol::Key key = [] {
    std::array<std::byte, 32> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(0x5a ^ (7 * i));
    return protocol::Key(bytes);
  }();
  return key;
}

std::optional<v1::Envelope> LinkTestClient::request_raw(v1::Envelope message) {
  const std::uint64_t id = next_request_id_++;
  message.set_request_id(id);
  send(message);
  for (;;) {
    std::optional<v1::Envelope> reply = read_one(std::chrono::seconds(10));
    if (!reply) return std::nullopt;
    if (reply->request_id() == id) return reply;
    pending_.push_back(std::move(*reply));
  }
}

bool LinkTestClient::wait_for_close(std::chrono::milliseconds timeout) {
  pending_.clear();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!read_one(left) && !eof_) return false;
  }
  return true;
}

v1::Envelope hello(std::uint32_t major) {
  v1::Envelope message;
  message.mutable_hello()->set_protocol_major(major);
  message.mutable_hello()->set_protocol_minor(0);
  message.mutable_hello()->set_client_name("firmware_test");
  return message;
}

}  // namespace mpi::firmware::test
