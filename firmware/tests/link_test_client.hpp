// A minimal blocking link client for tests (plain POSIX sockets, bounded waits): sends Envelopes, reads
// frames with the project's FrameDecoder, and keeps stream messages that arrive between replies.
#pragma once

#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/auth.hpp"
#include "mpi/protocol/framing.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace mpi::firmware::test {

class LinkTestClient {
 public:
  explicit LinkTestClient(std::uint16_t port);  // connects to 127.0.0.1:port; throws on failure
  ~LinkTestClient();
  LinkTestClient(const LinkTestClient&) = delete;
  LinkTestClient& operator=(const LinkTestClient&) = delete;

  void send(const link::v1::Envelope& message);
  void send_raw(const std::string& bytes);
  // The next message (buffered stream messages first); nullopt on end of stream or timeout.
  std::optional<link::v1::Envelope> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `message` with a fresh request id and returns the reply carrying it; stream messages that arrive
  // in between are kept for receive(). nullopt if none comes. A Hello runs the whole handshake with
  // `key` (default test_key()) and returns the HelloReply (or the board's Error).
  std::optional<link::v1::Envelope> request(link::v1::Envelope message);
  std::optional<link::v1::Envelope> request(link::v1::Envelope message, const protocol::Key& key);
  // As request(), without the handshake: what is sent is sent as it is.
  std::optional<link::v1::Envelope> request_raw(link::v1::Envelope message);
  // True if the peer closes the connection (after any further messages, which are discarded).
  bool wait_for_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Closes the connection now.
  void close();
  [[nodiscard]] bool closed_by_peer() const noexcept { return eof_; }

 private:
  std::optional<link::v1::Envelope> read_one(std::chrono::milliseconds timeout);

  int fd_ = -1;
  protocol::FrameDecoder decoder_;
  std::deque<link::v1::Envelope> pending_;
  std::uint64_t next_request_id_ = 100;
  bool eof_ = false;
};

link::v1::Envelope hello(std::uint32_t major = 1);
// The key the tests' firmware holds (a fixed 32-byte pattern).
const protocol::Key& test_key();

}  // namespace mpi::firmware::test
