// The link server on the I/O thread: accepts host connections, keeps one controlling host at a time
// (others get Error BUSY), runs the session protocol (Hello first, then commands), and owns every write
// to the socket: control replies and the streamer's frames share one write path, so StreamEnd follows
// the last chunk. Malformed input gets Error MALFORMED_FRAME and that connection is closed.
// Resume (after a reconnect) streams the latest scan again from a sample the ring still holds, to the
// scan's end (live while it runs), through the streamer; the drive-field control's reports are polled
// from the sequencer and sent to the controlling host as FieldReport messages as they are made.
#pragma once

#include <utility>  // before Asio

#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/sequencer.hpp"
#include "mpi/firmware/wakeup.hpp"
#include "mpi/link/v1/link.pb.h"
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
  LinkServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Sequencer& sequencer, FrameQueue& queue,
             const Wakeup& wakeup);
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
  void reject_busy(boost::asio::ip::tcp::socket socket);
  void read(const std::shared_ptr<Session>& session);
  void on_bytes(const std::shared_ptr<Session>& session, std::size_t size);
  void handle(const std::shared_ptr<Session>& session, const link::v1::Envelope& request);
  void send(Session& session, const link::v1::Envelope& message);
  void send_error(Session& session, std::uint64_t request_id, link::v1::ErrorCode code, const std::string& message);
  void fail_and_close(const std::shared_ptr<Session>& session, std::uint64_t request_id, link::v1::ErrorCode code, const std::string& message);
  void drop(const std::shared_ptr<Session>& session);
  void fill_hello_reply(link::v1::HelloReply& reply) const;
  void wait_for_wakeup();
  void pump();
  void report_faults(Session* session);  // logs new latched faults; sends them as Fault messages to `session`
  void watch_faults();
  // Checks a Resume against the latest scan, its end and the ring, and rewinds the streamer; the
  // session then receives the scan's frames.
  CommandResult resume(Session& session, const link::v1::Resume& request);
  void report_field();  // sends the drive-field control's new reports to the controlling host
  void watch_field_reports();

  boost::asio::io_context* io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer fault_timer_;
  boost::asio::steady_timer field_timer_;
  Sequencer* sequencer_;
  FrameQueue* queue_;
  boost::asio::posix::stream_descriptor wakeup_;
  std::array<std::byte, 8> wakeup_buffer_{};

  std::shared_ptr<Session> active_;   // the controlling host's connection, if any
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
