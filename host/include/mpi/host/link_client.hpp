// The host's end of the link: a TCP connection to the firmware daemon carrying framed Envelopes.
// Requests carry increasing request ids; every received frame can be handed, byte for byte, to a tee
// (the raw capture recorder) before it is parsed.
#pragma once

#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/auth.hpp"
#include "mpi/protocol/framing.hpp"

#include <utility>  // before Asio (std::exchange under C++20)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

namespace mpi::host {

class LinkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LinkClient {
 public:
  using Tee = std::function<void(std::string frame_bytes)>;

  // Connects to HOST:PORT; throws LinkError naming the address.
  LinkClient(const std::string& host, std::uint16_t port, std::chrono::milliseconds receive_timeout);

  void set_tee(Tee tee) { tee_ = std::move(tee); }
  // Sends a request (request_id is assigned) and returns that id. Safe to call from several threads,
  // also while one other thread is in receive() (e.g. heartbeats next to the receive loop).
  std::uint64_t send(link::v1::Envelope& request);
  // Receives the next envelope; one receiving thread at a time. False when the board closed the link cleanly between frames.
  bool receive(link::v1::Envelope& envelope);
  // Sends and waits for the reply to this request (for use before streaming starts). A board Error is
  // thrown as LinkError with its code and message. A Hello runs the whole handshake (version, nonce,
  // the board's proof checked, AuthResponse) with the key (set_key, else the file named by
  // MPI_LINK_KEY) and returns the HelloReply.
  link::v1::Envelope request(link::v1::Envelope& request);
  void set_key(protocol::Key key) { key_ = std::move(key); }
  // How long receive() waits for the next frame before it throws LinkError.
  void set_receive_timeout(std::chrono::milliseconds timeout);
  // The controller's reclaim token from the last HelloReply (empty for an observer).
  [[nodiscard]] const std::string& reclaim_token() const noexcept { return reclaim_token_; }

 private:
  link::v1::Envelope handshake(link::v1::Envelope& hello);
  link::v1::Envelope exchange(link::v1::Envelope& request);

  std::optional<protocol::Key> key_;
  std::string reclaim_token_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  protocol::FrameDecoder decoder_;
  std::string address_;
  Tee tee_;
  std::mutex send_mutex_;  // guards the write path: next_request_id_, send_buffer_, socket writes
  std::uint64_t next_request_id_ = 1;
  std::string send_buffer_;
};

// The link key file: MPI_LINK_KEY (mpi sets it from --key). Throws LinkError when it is not set.
std::filesystem::path link_key_file();

// Parses "HOST:PORT"; throws std::invalid_argument naming the text.
std::pair<std::string, std::uint16_t> parse_address(const std::string& text);

}  // namespace mpi::host
