#include "mpi/host/link_client.hpp"

#include "mpi/protocol/client_handshake.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace mpi::host {

namespace asio = boost::asio;
using asio::ip::tcp;

std::pair<std::string, std::uint16_t> parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("address '" + text + "' must be HOST:PORT");
  unsigned port = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc{} || ptr != end || port == 0 || port > 65535) throw std::invalid_argument("address '" + text + "': port must be 1..65535");
  return {text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

LinkClient::LinkClient(const std::string& host, std::uint16_t port, std::chrono::milliseconds receive_timeout)
    : socket_(io_), address_(host + ":" + std::to_string(port)) {
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) throw LinkError("cannot resolve " + address_ + ": " + ec.message());
  asio::connect(socket_, endpoints, ec);
  if (ec) throw LinkError("cannot connect to firmware at " + address_ + ": " + ec.message());
  socket_.set_option(tcp::no_delay(true));
  set_receive_timeout(receive_timeout);
}

void LinkClient::set_receive_timeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

std::uint64_t LinkClient::send(link::v1::Envelope& request) {
  const std::lock_guard lock(send_mutex_);
  request.set_request_id(next_request_id_++);
  send_buffer_.clear();
  if (!protocol::append_frame(request, send_buffer_)) throw LinkError("request too large for a link frame");
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(send_buffer_), ec);
  if (ec) throw LinkError("link to " + address_ + " lost while sending: " + ec.message());
  return request.request_id();
}

bool LinkClient::receive(link::v1::Envelope& envelope) {
  std::span<const std::byte> payload;
  for (;;) {
    const auto result = decoder_.next(payload);
    if (result == protocol::FrameDecoder::Result::frame) break;
    if (result == protocol::FrameDecoder::Result::oversized) {
      throw LinkError("firmware at " + address_ + " sent a frame of " + std::to_string(decoder_.announced_length()) + " bytes, over the limit");
    }
    std::array<char, 1 << 16> buffer{};
    boost::system::error_code ec;
    const std::size_t got = socket_.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::eof) {
      if (decoder_.pending_bytes() == 0) return false;
      throw LinkError("firmware at " + address_ + " closed the link inside a frame");
    }
    if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::timed_out) {
      throw LinkError("no data from firmware at " + address_ + " within the receive timeout");
    }
    if (ec) throw LinkError("link to " + address_ + " lost: " + ec.message());
    decoder_.feed(buffer.data(), got);
  }
  if (tee_) {
    std::string frame;
    protocol::append_frame_bytes(payload, frame);
    tee_(std::move(frame));
  }
  std::string error;
  if (!protocol::parse_envelope(payload, envelope, error)) throw LinkError("firmware at " + address_ + ": " + error);
  return true;
}

std::filesystem::path link_key_file() {
  const char* file = std::getenv("MPI_LINK_KEY");
  if (file == nullptr || *file == '\0') throw LinkError("no link key: give --key FILE (the scanner's key, made by mpi keygen) or set MPI_LINK_KEY");
  return file;
}

link::v1::Envelope LinkClient::request(link::v1::Envelope& req) {
  if (req.has_hello()) return handshake(req);
  return exchange(req);
}

link::v1::Envelope LinkClient::handshake(link::v1::Envelope& hello) {
  if (!key_) {
    try {
      key_ = protocol::load_key_file(link_key_file(), false);
    } catch (const LinkError&) {
      throw;
    } catch (const std::exception& e) {
      throw LinkError(e.what());
    }
  }
  protocol::ClientHandshake handshake(*key_);
  handshake.prepare(*hello.mutable_hello());
  const link::v1::Envelope challenge = exchange(hello);
  if (!challenge.has_auth_challenge()) return challenge;
  link::v1::Envelope response;
  try {
    *response.mutable_auth_response() = handshake.answer(challenge.auth_challenge());
  } catch (const protocol::HandshakeError& e) {
    throw LinkError("firmware at " + address_ + ": " + e.what());
  }
  link::v1::Envelope reply = exchange(response);
  if (reply.has_hello_reply()) reclaim_token_ = reply.hello_reply().reclaim_token();
  return reply;
}

link::v1::Envelope LinkClient::exchange(link::v1::Envelope& req) {
  const std::uint64_t id = send(req);
  link::v1::Envelope reply;
  for (;;) {
    if (!receive(reply)) throw LinkError("firmware at " + address_ + " closed the link before replying");
    if (reply.has_error()) {
      throw LinkError("firmware refused " + std::string(req.GetDescriptor()->FindFieldByNumber(static_cast<int>(req.body_case()))->name()) + ": " +
                      link::v1::ErrorCode_Name(reply.error().code()) + ": " + reply.error().message());
    }
    if (reply.request_id() == id) return reply;
  }
}

}  // namespace mpi::host
