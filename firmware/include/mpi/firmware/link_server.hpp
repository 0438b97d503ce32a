// The link server on the I/O thread: accepts host connections, authenticates each (mutual HMAC-SHA256
// challenge-response over the scanner's pre-shared key, mpi/protocol/auth.hpp) before anything else,
// and grants a role: one controller at a time, any number of read-only observers (status, faults,
// field reports and a copy of the data stream; a slow observer loses data, never the controller). A
// second would-be controller is refused (Error BUSY) without touching the scan; the controller can hand
// the control over to an observer, and a controller whose connection went silent can take it back
// from a new connection with the reclaim token it was given. Failed handshakes are rate limited per
// address. The server owns every write to the sockets: control replies and the streamer's frames share
// one write path per connection, so StreamEnd follows the last chunk. Malformed input gets Error
// MALFORMED_FRAME and that connection is closed.
// Resume (after a reconnect) streams the latest scan again from a sample the ring still holds, to the
// scan's end (live while it runs), through the streamer; the drive-field control's reports are polled
// from the sequencer and sent to every authenticated connection as FieldReport messages.
#pragma once

#include <utility>  // before Asio

#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/sequencer.hpp"
#include "mpi/firmware/wakeup.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/auth.hpp"
#include "mpi/protocol/framing.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace mpi::firmware {

class LinkServer {
 public:
  // Binds and listens on `endpoint`; throws boost::system::system_error if it cannot.
  // Connections at most (authenticated or not); more are refused with Error BUSY.
  static constexpr std::size_t kMaxConnections = 16;
  // Data frames an observer may have waiting; beyond, its copies are dropped (and counted).
  static constexpr std::size_t kObserverBacklogFrames = 512;

  LinkServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Sequencer& sequencer, FrameQueue& queue,
             const Wakeup& wakeup, protocol::Key key);
  ~LinkServer();
  LinkServer(const LinkServer&) = delete;
  LinkServer& operator=(const LinkServer&) = delete;

  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start();           // begins accepting; I/O thread
  void stop_accepting();  // I/O thread
  // Closes every connection and ends the server's own waits (accept, wakeup, fault poll), so that the
  // io_context runs out of work; I/O thread. Final: start() is not called again.
  void close();
  // True when no frame waits to be sent or dropped and no write is in flight.
  [[nodiscard]] bool flushed() const noexcept;

 private:
  struct Session;

  void accept();
  void reject(boost::asio::ip::tcp::socket socket, link::v1::ErrorCode code, const std::string& message);
  void read(const std::shared_ptr<Session>& session);
  void on_bytes(const std::shared_ptr<Session>& session, std::size_t size);
  void handle(const std::shared_ptr<Session>& session, const link::v1::Envelope& request);
  // The handshake's two steps; then the commands of the session's role.
  void greet(const std::shared_ptr<Session>& session, const link::v1::Envelope& request);
  void authenticate(const std::shared_ptr<Session>& session, const link::v1::Envelope& request);
  void command(const std::shared_ptr<Session>& session, const link::v1::Envelope& request);
  // Makes `session` the controller, taking the control (and a running scan) from `previous` if given.
  void make_controller(const std::shared_ptr<Session>& session, const std::shared_ptr<Session>& previous);
  CommandResult hand_over(const std::shared_ptr<Session>& session, const link::v1::HandOver& request);
  void write_next(const std::shared_ptr<Session>& session);
  void queue_to_all(const link::v1::Envelope& message);  // to every authenticated connection
  void send(Session& session, const link::v1::Envelope& message);
  void send_error(Session& session, std::uint64_t request_id, link::v1::ErrorCode code, const std::string& message);
  void fail_and_close(const std::shared_ptr<Session>& session, std::uint64_t request_id, link::v1::ErrorCode code, const std::string& message);
  void drop(const std::shared_ptr<Session>& session);
  void fill_hello_reply(link::v1::HelloReply& reply) const;
  void wait_for_wakeup();
  void pump();
  void report_faults();  // logs new latched faults; sends them as Fault messages to every authenticated connection
  void watch_faults();
  // Checks a Resume against the latest scan, its end and the ring, and rewinds the streamer; the
  // session then receives the scan's frames.
  CommandResult resume(Session& session, const link::v1::Resume& request);
  void report_field();  // sends the drive-field control's new reports to every authenticated connection
  // Heartbeats both ways: a connection that announced the "heartbeat" capability gets a Heartbeat from
  // the board every heartbeat period, so that it can tell a silent link from a quiet board.
  void send_heartbeats();
  void watch_field_reports();

  boost::asio::io_context* io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer fault_timer_;
  boost::asio::steady_timer field_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  std::uint64_t heartbeat_sequence_ = 0;
  Sequencer* sequencer_;
  FrameQueue* queue_;
  boost::asio::posix::stream_descriptor wakeup_;
  std::array<std::byte, 8> wakeup_buffer_{};

  protocol::Key key_;
  protocol::HandshakeLimiter limiter_;
  std::vector<std::shared_ptr<Session>> sessions_;  // every open connection
  std::shared_ptr<Session> active_;   // the controlling host's connection, if any
  std::string reclaim_token_;         // the controller's, as given in its HelloReply
  std::uint64_t next_session_id_ = 1;
  std::uint64_t scan_id_ = 0;         // the latest scan and the session it streams to
  std::uint64_t scan_owner_ = 0;
  std::uint32_t stream_resume_ = 0;   // FrameSlot::resume of the frames that go to the scan's session
  bool slot_in_flight_ = false;
  std::uint64_t faults_reported_ = 0;  // Sequencer::faults_latched_total() already sent
  std::uint64_t field_reports_seen_ = 0;  // Sequencer::field_reports_since() count already handled
  std::vector<FieldReportRecord> field_records_;
  bool accepting_ = false;
  bool closed_ = false;  // close() was called: no handler re-arms itself
};

}  // namespace mpi::firmware
