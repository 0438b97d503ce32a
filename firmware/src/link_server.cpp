#include "mpi/firmware/link_server.hpp"

#include "mpi/firmware/scanner_limits.hpp"
#include "mpi/protocol/limits.hpp"
#include "mpi/protocol/version.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

namespace mpi::firmware {

namespace asio = boost::asio;
namespace v1 = link::v1;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// How long a connection that is being refused may take to read our Error before it is closed hard.
constexpr auto kLingerTime = std::chrono::seconds(2);
// How often the I/O thread looks for faults the supervisor latched while no stream wakes it.
constexpr auto kFaultPollPeriod = std::chrono::milliseconds(10);
// How often it looks for new drive-field control reports: well within the loop's history (32 reports,
// at most one per channel per millisecond block, and the block after a DAC change is skipped).
constexpr auto kFieldReportPollPeriod = std::chrono::milliseconds(2);

std::string endpoint_text(const tcp::socket& socket) {
  error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return peer.address().to_string() + ":" + std::to_string(peer.port());
}

std::string body_name(const v1::Envelope& envelope) {
  const auto* field = v1::Envelope::descriptor()->FindFieldByNumber(static_cast<int>(envelope.body_case()));
  return field != nullptr ? field->name() : "message";
}

}  // namespace

struct LinkServer::Session {
  Session(tcp::socket s, std::uint64_t session_id) : socket(std::move(s)), id(session_id), peer(endpoint_text(socket)) {
    error_code ec;
    const tcp::endpoint remote = socket.remote_endpoint(ec);
    address = ec ? peer : remote.address().to_string();
  }

  enum class Stage { hello, auth, ready };

  tcp::socket socket;
  std::uint64_t id;
  std::string peer;
  std::string address;  // without the port: failed handshakes are counted per address
  std::string name;     // Hello.client_name
  protocol::FrameDecoder decoder;
  std::array<std::byte, 1U << 16> buffer{};
  std::deque<std::string> outgoing;  // control frames (and an observer's data copies), in order
  Stage stage = Stage::hello;
  v1::Role role = v1::ROLE_UNSPECIFIED;  // requested in Hello, granted after authentication
  std::string reclaim_token;             // presented in Hello
  std::array<std::byte, protocol::kNonceBytes> client_nonce{};
  std::array<std::byte, protocol::kNonceBytes> server_nonce{};
  std::uint64_t dropped_data_frames = 0;  // observer: copies dropped because it read too slowly
  bool supervised = false;  // announced the "heartbeat" capability
  bool open = true;
  bool writing = false;
  bool close_when_flushed = false;

  [[nodiscard]] bool ready() const noexcept { return stage == Stage::ready && open && !close_when_flushed; }
};

namespace {

// Stops sending, reads and discards until the peer closes (so it can read what we sent instead of
// getting a reset), and closes the socket after kLingerTime at the latest.
template <typename SessionPtr>
void linger_close(asio::io_context& io, const SessionPtr& session) {
  error_code ignored;
  session->socket.shutdown(tcp::socket::shutdown_send, ignored);
  auto timer = std::make_shared<asio::steady_timer>(io, kLingerTime);
  timer->async_wait([session, timer](const error_code&) {
    error_code e;
    session->socket.close(e);
  });
  struct Discard {
    SessionPtr session;
    std::shared_ptr<asio::steady_timer> timer;
    void operator()(const error_code& ec, std::size_t) const {
      if (ec) {
        timer->cancel();
        error_code e;
        session->socket.close(e);
        return;
      }
      session->socket.async_read_some(asio::buffer(session->buffer), *this);
    }
  };
  session->socket.async_read_some(asio::buffer(session->buffer), Discard{session, timer});
}

}  // namespace

LinkServer::LinkServer(asio::io_context& io, const tcp::endpoint& endpoint, Sequencer& sequencer, FrameQueue& queue, const Wakeup& wakeup,
                       protocol::Key key)
    : io_(&io),
      acceptor_(io),
      fault_timer_(io),
      field_timer_(io),
      heartbeat_timer_(io),
      sequencer_(&sequencer),
      queue_(&queue),
      wakeup_(io, wakeup.duplicate_descriptor()),
      key_(std::move(key)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

LinkServer::~LinkServer() = default;

tcp::endpoint LinkServer::local_endpoint() const { return acceptor_.local_endpoint(); }

void LinkServer::start() {
  accepting_ = true;
  accept();
  wait_for_wakeup();
  watch_faults();
  watch_field_reports();
  send_heartbeats();
}

void LinkServer::stop_accepting() {
  accepting_ = false;
  error_code ignored;
  acceptor_.close(ignored);
}

void LinkServer::close() {
  // A handler whose wait already completed cannot be cancelled any more (its timer expired, or the
  // eventfd became readable, in the same reactor pass): it still runs with success and would re-arm
  // itself, keeping the io_context busy for ever. Every re-arming handler checks closed_ instead.
  closed_ = true;
  stop_accepting();
  const std::vector<std::shared_ptr<Session>> sessions = sessions_;
  for (const std::shared_ptr<Session>& session : sessions) drop(session);
  error_code ignored;
  wakeup_.close(ignored);
  fault_timer_.cancel();
  field_timer_.cancel();
  heartbeat_timer_.cancel();
}

bool LinkServer::flushed() const noexcept {
  if (!queue_->empty() || slot_in_flight_) return false;
  return std::all_of(sessions_.begin(), sessions_.end(), [](const std::shared_ptr<Session>& s) { return s->outgoing.empty(); });
}

void LinkServer::accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (!accepting_) return;
    if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (sessions_.size() >= kMaxConnections) {
        reject(std::move(socket), v1::ERROR_BUSY, fmt::format("the board serves at most {} connections", kMaxConnections));
      } else {
        auto session = std::make_shared<Session>(std::move(socket), next_session_id_++);
        sessions_.push_back(session);
        spdlog::info("host {} connected (session {})", session->peer, session->id);
        read(session);
      }
    } else if (ec == asio::error::operation_aborted) {
      return;
    }
    accept();
  });
}

void LinkServer::reject(tcp::socket socket, v1::ErrorCode code, const std::string& text) {
  auto session = std::make_shared<Session>(std::move(socket), 0);
  spdlog::warn("host {} refused: {}", session->peer, text);
  v1::Envelope message;
  message.mutable_error()->set_code(code);
  message.mutable_error()->set_message(text);
  session->outgoing.emplace_back();
  protocol::append_frame(message, session->outgoing.back());
  asio::async_write(session->socket, asio::buffer(session->outgoing.back()), [this, session](const error_code& ec, std::size_t) {
    if (ec) {
      error_code ignored;
      session->socket.close(ignored);
      return;
    }
    linger_close(*io_, session);
  });
}

void LinkServer::read(const std::shared_ptr<Session>& session) {
  session->socket.async_read_some(asio::buffer(session->buffer), [this, session](const error_code& ec, std::size_t size) {
    if (!session->open) return;
    if (ec) {
      if (ec != asio::error::eof) spdlog::info("host {}: link lost: {}", session->peer, ec.message());
      drop(session);
      pump();
      return;
    }
    on_bytes(session, size);
  });
}

void LinkServer::on_bytes(const std::shared_ptr<Session>& session, std::size_t size) {
  session->decoder.feed(session->buffer.data(), size);
  for (;;) {
    std::span<const std::byte> payload;
    const protocol::FrameDecoder::Result result = session->decoder.next(payload);
    if (result == protocol::FrameDecoder::Result::need_more) break;
    if (result == protocol::FrameDecoder::Result::oversized) {
      fail_and_close(session, 0, v1::ERROR_MALFORMED_FRAME,
                     fmt::format("frame length {} bytes exceeds the limit of {} bytes", session->decoder.announced_length(),
                                 session->decoder.max_frame_bytes()));
      return;
    }
    v1::Envelope request;
    std::string error;
    if (!protocol::parse_envelope(payload, request, error)) {
      fail_and_close(session, 0, v1::ERROR_MALFORMED_FRAME, error);
      return;
    }
    if (const std::optional<protocol::LimitViolation> violation = protocol::check_limits(request)) {
      send_error(*session, request.request_id(), v1::ERROR_LIMIT_EXCEEDED, violation->field + ": " + violation->detail);
      if (session->stage != Session::Stage::ready) {  // nothing but a well-formed handshake before it
        session->close_when_flushed = true;
        return;
      }
      continue;
    }
    handle(session, request);
    if (!session->open || session->close_when_flushed) return;
  }
  read(session);
}

void LinkServer::fill_hello_reply(v1::HelloReply& reply) const {
  const BoardGeometry& board = sequencer_->board();
  const config::ScannerDescription& scanner = sequencer_->scanner();
  reply.set_protocol_major(protocol::kProtocolMajor);
  reply.set_protocol_minor(protocol::kProtocolMinor);
  reply.set_protocol_patch(protocol::kProtocolPatch);
  reply.set_server_name("mpi-firmware");
  reply.add_capabilities("heartbeat");
  reply.add_capabilities("modes");
  v1::BoardInfo* info = reply.mutable_board();
  info->set_adc_sample_rate_hz(board.adc_sample_rate_hz());
  info->set_adc_channels(board.adc_channels);
  info->set_ring_frames(board.ring_frames);
  info->set_dac_clock_hz(board.dac_clock_hz);
  info->set_drive_channels(board.drive_channels);
  // Per channel limits differ between channels; the board reports the lowest, which holds for all.
  double max_amplitude_t = drive_limit_t(scanner, 0);
  for (std::size_t ch = 1; ch < scanner.drive.size(); ++ch) max_amplitude_t = std::min(max_amplitude_t, drive_limit_t(scanner, ch));
  info->set_drive_max_amplitude_t(max_amplitude_t);
  info->set_selection_gradient_t_per_m(strongest_gradient_t_per_m(scanner));
  for (const std::string& name : adc_channel_names(scanner)) info->add_adc_channel_names(name);
  info->set_heartbeat_period_s(sequencer_->heartbeat_period_s());
}

void LinkServer::handle(const std::shared_ptr<Session>& session, const v1::Envelope& request) {
  switch (session->stage) {
    case Session::Stage::hello: greet(session, request); return;
    case Session::Stage::auth: authenticate(session, request); return;
    case Session::Stage::ready: command(session, request); return;
  }
}

void LinkServer::greet(const std::shared_ptr<Session>& session, const v1::Envelope& request) {
  const std::uint64_t id = request.request_id();
  if (!request.has_hello()) {
    fail_and_close(session, id, v1::ERROR_UNAUTHENTICATED, "the first message must be Hello (then the authentication), got " + body_name(request));
    return;
  }
  std::chrono::milliseconds retry_after{0};
  if (!limiter_.allowed(session->address, std::chrono::steady_clock::now(), &retry_after)) {
    fail_and_close(session, id, v1::ERROR_RATE_LIMITED,
                   fmt::format("too many failed handshakes from {}: try again in {:.1f} s", session->address, 1e-3 * double(retry_after.count())));
    return;
  }
  const v1::Hello& hello = request.hello();
  const protocol::VersionCheck version = protocol::check_peer_version(hello.protocol_major(), hello.protocol_minor(), hello.protocol_patch());
  if (!version.compatible) {
    fail_and_close(session, id, v1::ERROR_VERSION_MISMATCH, version.message);
    return;
  }
  if (hello.client_nonce().size() != protocol::kNonceBytes) {
    fail_and_close(session, id, v1::ERROR_UNAUTHENTICATED,
                   fmt::format("Hello carries no {}-byte client_nonce: this board requires authentication (link protocol {})", protocol::kNonceBytes,
                               protocol::version_text()));
    return;
  }
  std::memcpy(session->client_nonce.data(), hello.client_nonce().data(), protocol::kNonceBytes);
  session->server_nonce = protocol::random_nonce();
  session->role = hello.role() == v1::ROLE_OBSERVER ? v1::ROLE_OBSERVER : v1::ROLE_CONTROLLER;
  session->reclaim_token = hello.reclaim_token();
  session->name = hello.client_name();
  session->supervised = std::find(hello.capabilities().begin(), hello.capabilities().end(), "heartbeat") != hello.capabilities().end();
  session->stage = Session::Stage::auth;
  v1::Envelope reply;
  reply.set_request_id(id);
  v1::AuthChallenge* challenge = reply.mutable_auth_challenge();
  challenge->set_server_nonce(reinterpret_cast<const char*>(session->server_nonce.data()), session->server_nonce.size());
  const auto proof = protocol::server_proof(key_, session->client_nonce, session->server_nonce);
  challenge->set_server_proof(reinterpret_cast<const char*>(proof.data()), proof.size());
  challenge->set_protocol_major(protocol::kProtocolMajor);
  challenge->set_protocol_minor(protocol::kProtocolMinor);
  challenge->set_protocol_patch(protocol::kProtocolPatch);
  send(*session, reply);
}

void LinkServer::authenticate(const std::shared_ptr<Session>& session, const v1::Envelope& request) {
  const std::uint64_t id = request.request_id();
  const auto now = std::chrono::steady_clock::now();
  if (!request.has_auth_response()) {
    limiter_.failed(session->address, now);
    fail_and_close(session, id, v1::ERROR_UNAUTHENTICATED, "expected AuthResponse after the challenge, got " + body_name(request));
    return;
  }
  const auto expected = protocol::client_proof(key_, session->server_nonce, session->client_nonce);
  const std::string& proof = request.auth_response().client_proof();
  if (!protocol::proof_matches(expected, protocol::as_byte_span(proof))) {
    limiter_.failed(session->address, now);
    fail_and_close(session, id, v1::ERROR_UNAUTHENTICATED, "authentication failed: the proof does not match this scanner's key");
    return;
  }
  limiter_.succeeded(session->address);
  if (session->role == v1::ROLE_CONTROLLER) {
    if (!active_) {
      make_controller(session, nullptr);
    } else if (!session->reclaim_token.empty() &&
               protocol::proof_matches(protocol::as_byte_span(reclaim_token_), protocol::as_byte_span(session->reclaim_token))) {
      const std::shared_ptr<Session> silent = active_;
      make_controller(session, silent);
      drop(silent);  // its connection went silent; the control is this one's now
      // The reclaiming host resumes the stream where its data ends: nothing of the old stream is sent
      // to it before its Resume (which would duplicate what it already has).
      if (scan_owner_ == session->id) scan_owner_ = 0;
    } else {
      fail_and_close(session, id, v1::ERROR_BUSY,
                     fmt::format("another host ({}, '{}') controls the scanner: connect as an observer, or have it hand the control over",
                                 active_->peer, active_->name));
      return;
    }
  } else {
    spdlog::info("host {} ('{}', session {}) attached as an observer", session->peer, session->name, session->id);
  }
  session->stage = Session::Stage::ready;
  v1::Envelope reply;
  reply.set_request_id(id);
  v1::HelloReply* hello = reply.mutable_hello_reply();
  fill_hello_reply(*hello);
  hello->set_role(session->role);
  hello->set_session_id(session->id);
  if (session == active_) hello->set_reclaim_token(reclaim_token_);
  send(*session, reply);
}

void LinkServer::make_controller(const std::shared_ptr<Session>& session, const std::shared_ptr<Session>& previous) {
  session->role = v1::ROLE_CONTROLLER;
  active_ = session;
  const auto token = protocol::random_nonce();
  reclaim_token_.assign(reinterpret_cast<const char*>(token.data()), 16);
  if (previous) {
    // The control and a running scan pass on; the previous connection becomes an observer (hand-over)
    // or is closed (reclaimed: it went silent) without counting as a lost controller.
    sequencer_->transfer_control(previous->id, session->id, session->supervised);
    if (scan_owner_ == previous->id) scan_owner_ = session->id;
    previous->role = v1::ROLE_OBSERVER;
    spdlog::info("host {} ('{}', session {}) took the control from session {}", session->peer, session->name, session->id, previous->id);
  } else {
    spdlog::info("host {} ('{}', session {}) is the controller", session->peer, session->name, session->id);
  }
}

CommandResult LinkServer::hand_over(const std::shared_ptr<Session>& session, const v1::HandOver& request) {
  const auto it = std::find_if(sessions_.begin(), sessions_.end(), [&](const std::shared_ptr<Session>& s) { return s->id == request.session_id(); });
  if (it == sessions_.end() || !(*it)->ready() || (*it)->role != v1::ROLE_OBSERVER) {
    return CommandResult::error(v1::ERROR_INVALID_ARGUMENT,
                                fmt::format("HandOver: session_id = {} is not an authenticated observer connection", request.session_id()));
  }
  const std::shared_ptr<Session> successor = *it;
  make_controller(successor, session);
  // The successor learns its new role (and its reclaim token) from a HelloReply on its connection.
  v1::Envelope notice;
  v1::HelloReply* hello = notice.mutable_hello_reply();
  fill_hello_reply(*hello);
  hello->set_role(v1::ROLE_CONTROLLER);
  hello->set_session_id(successor->id);
  hello->set_reclaim_token(reclaim_token_);
  successor->outgoing.emplace_back();
  protocol::append_frame(notice, successor->outgoing.back());
  return {};
}

void LinkServer::command(const std::shared_ptr<Session>& session, const v1::Envelope& request) {
  const std::uint64_t id = request.request_id();
  v1::Envelope reply;
  reply.set_request_id(id);

  if (session->role != v1::ROLE_CONTROLLER) {
    switch (request.body_case()) {
      case v1::Envelope::kStatusRequest:
        sequencer_->fill_status(*reply.mutable_status());
        send(*session, reply);
        return;
      case v1::Envelope::kHeartbeat:
        return;  // an observer's heartbeats supervise nothing
      default:
        send_error(*session, id, v1::ERROR_NOT_ALLOWED,
                   body_name(request) + ": this connection is an observer (status, telemetry and data only); the controller is " +
                       (active_ ? active_->peer : std::string("nobody")));
        return;
    }
  }

  switch (request.body_case()) {
    case v1::Envelope::kConfigure: {
      const CommandResult result = sequencer_->configure(request.configure(), *reply.mutable_configure_reply());
      if (!result.ok()) {
        send_error(*session, id, result.code, result.message);
        return;
      }
      break;
    }
    case v1::Envelope::kStart: {
      std::uint64_t scan_id = 0;
      const CommandResult result = sequencer_->start(request.start(), session->id, scan_id, session->supervised);
      if (!result.ok()) {
        send_error(*session, id, result.code, result.message);
        return;
      }
      scan_id_ = scan_id;
      scan_owner_ = session->id;
      // No resume can come between here and the trigger (the streamer does not have the new scan yet).
      stream_resume_ = sequencer_->streamer().resumes();
      sequencer_->fill_status(*reply.mutable_status());
      break;
    }
    case v1::Envelope::kResume: {
      const CommandResult result = resume(*session, request.resume());
      if (!result.ok()) {
        send_error(*session, id, result.code, result.message);
        return;
      }
      sequencer_->fill_status(*reply.mutable_status());
      break;
    }
    case v1::Envelope::kStop:
      sequencer_->stop(StopReason::stop_requested);
      sequencer_->fill_status(*reply.mutable_status());
      break;
    case v1::Envelope::kStatusRequest:
      sequencer_->fill_status(*reply.mutable_status());
      break;
    case v1::Envelope::kHeartbeat:
      sequencer_->heartbeat();
      return;  // no reply
    case v1::Envelope::kClearFaults: {
      const CommandResult result = sequencer_->clear_faults();
      if (!result.ok()) {
        send_error(*session, id, result.code, result.message);
        return;
      }
      spdlog::info("host {} cleared the latched faults: CONFIG", session->peer);
      sequencer_->fill_status(*reply.mutable_status());
      break;
    }
    case v1::Envelope::kHandOver: {
      const CommandResult result = hand_over(session, request.hand_over());
      if (!result.ok()) {
        send_error(*session, id, result.code, result.message);
        return;
      }
      sequencer_->fill_status(*reply.mutable_status());
      break;
    }
    case v1::Envelope::kHello:
    case v1::Envelope::kAuthResponse:
      send_error(*session, id, v1::ERROR_NOT_ALLOWED, body_name(request) + ": this connection is already authenticated");
      return;
    default:
      send_error(*session, id, v1::ERROR_NOT_ALLOWED, body_name(request) + " is not a request the firmware accepts");
      return;
  }
  send(*session, reply);
}

void LinkServer::send(Session& session, const v1::Envelope& message) {
  session.outgoing.emplace_back();
  protocol::append_frame(message, session.outgoing.back());
  pump();
}

void LinkServer::send_error(Session& session, std::uint64_t request_id, v1::ErrorCode code, const std::string& message) {
  v1::Envelope reply;
  reply.set_request_id(request_id);
  reply.mutable_error()->set_code(code);
  reply.mutable_error()->set_message(message);
  send(session, reply);
}

void LinkServer::fail_and_close(const std::shared_ptr<Session>& session, std::uint64_t request_id, v1::ErrorCode code,
                                const std::string& message) {
  spdlog::warn("host {}: {}: {}; closing the connection", session->peer, v1::ErrorCode_Name(code), message);
  sequencer_->controller_lost(session->id);  // ramps its scan down, if it has one
  session->close_when_flushed = true;
  send_error(*session, request_id, code, message);
}

void LinkServer::drop(const std::shared_ptr<Session>& session) {
  if (!session->open) return;
  session->open = false;
  sessions_.erase(std::remove(sessions_.begin(), sessions_.end(), session), sessions_.end());
  if (active_ == session) active_.reset();
  sequencer_->controller_lost(session->id);
  spdlog::info("host {} disconnected (session {}{})", session->peer, session->id,
               session->dropped_data_frames > 0 ? fmt::format(", {} data frames not sent: it read too slowly", session->dropped_data_frames) : "");
  if (session->close_when_flushed) {
    linger_close(*io_, session);
  } else {
    error_code ignored;
    session->socket.shutdown(tcp::socket::shutdown_both, ignored);
    session->socket.close(ignored);
  }
}

void LinkServer::queue_to_all(const v1::Envelope& message) {
  std::string frame;
  protocol::append_frame(message, frame);
  for (const std::shared_ptr<Session>& session : sessions_)
    if (session->ready()) session->outgoing.push_back(frame);
}

void LinkServer::wait_for_wakeup() {
  wakeup_.async_read_some(asio::buffer(wakeup_buffer_), [this](const error_code& ec, std::size_t) {
    if (closed_ || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) return;
    pump();
    wait_for_wakeup();
  });
}

void LinkServer::report_faults() {
  const std::uint64_t total = sequencer_->faults_latched_total();
  if (total == faults_reported_) return;
  const std::vector<LatchedFault> faults = sequencer_->faults();
  // The newest (total - reported) faults, as far as the latch holds them.
  const std::size_t fresh = static_cast<std::size_t>(std::min<std::uint64_t>(total - faults_reported_, faults.size()));
  faults_reported_ = total;
  for (std::size_t i = faults.size() - fresh; i < faults.size(); ++i) {
    const std::string text = describe(faults[i], sequencer_->scanner());
    spdlog::error("safety fault: {}: ramping every drive channel down, entering SAFE", text);
    v1::Envelope message;
    v1::Fault* fault = message.mutable_fault();
    fault->set_kind(faults[i].kind);
    fault->set_channel(faults[i].channel);
    fault->set_sample(faults[i].sample);
    fault->set_message(text);
    queue_to_all(message);
  }
}

void LinkServer::watch_faults() {
  fault_timer_.expires_after(kFaultPollPeriod);
  fault_timer_.async_wait([this](const error_code& ec) {
    if (ec || closed_) return;
    if (sequencer_->faults_latched_total() != faults_reported_) pump();
    watch_faults();
  });
}

CommandResult LinkServer::resume(Session& session, const v1::Resume& request) {
  Streamer& streamer = sequencer_->streamer();
  const std::uint64_t latest = sequencer_->latest_scan_id();
  const std::uint64_t from = request.from_sample();
  if (latest == 0) return CommandResult::error(v1::ERROR_NOT_ALLOWED, "Resume: no scan has been started since the firmware started");
  if (request.scan_id() != 0 && request.scan_id() != latest) {
    return CommandResult::error(v1::ERROR_INVALID_ARGUMENT,
                                fmt::format("Resume: scan_id = {} is not the latest scan: only scan {} can be resumed (or 0 for it)",
                                            request.scan_id(), latest));
  }
  // The streamer takes a scan's id at its trigger; Start and Resume both come through this thread, so no
  // newer scan can be armed between this check and the rewind below.
  if (streamer.scan_id() != latest) {
    return CommandResult::error(v1::ERROR_NOT_ALLOWED, fmt::format("Resume: scan {} has not begun acquiring yet", latest));
  }
  const std::uint64_t end = streamer.end_sample();
  v1::Status status;
  sequencer_->fill_status(status);
  const std::uint64_t write_pointer = status.write_pointer();
  if (end != UINT64_MAX && from > end) {
    return CommandResult::error(v1::ERROR_INVALID_ARGUMENT,
                                fmt::format("Resume: from_sample = {} is beyond the end of scan {}: its stream ends at sample {}", from, latest, end));
  }
  if (end == UINT64_MAX && from > write_pointer) {
    return CommandResult::error(v1::ERROR_INVALID_ARGUMENT,
                                fmt::format("Resume: from_sample = {} is beyond the write pointer of the running scan {}: sample {}", from,
                                            latest, write_pointer));
  }
  const std::uint64_t oldest = streamer.oldest_resumable(write_pointer);
  if (from < oldest) {
    return CommandResult::error(v1::ERROR_INVALID_ARGUMENT,
                                fmt::format("Resume: from_sample = {} is no longer in the ring: the oldest sample held is {}", from, oldest));
  }
  stream_resume_ = streamer.resume(from);
  scan_id_ = latest;
  scan_owner_ = session.id;
  spdlog::info("host {} resumed the stream of scan {} from sample {}", session.peer, latest, from);
  return {};
}

void LinkServer::report_field() {
  field_records_.clear();
  field_reports_seen_ = sequencer_->field_reports_since(field_reports_seen_, field_records_);
  if (field_records_.empty()) return;
  for (const FieldReportRecord& record : field_records_) {
    v1::Envelope message;
    v1::FieldReport* report = message.mutable_field_report();
    report->set_first_sample(record.first_sample);
    report->set_channel(record.channel);
    report->set_target_t(record.target_t);
    report->set_measured_t(record.measured_t);
    report->set_measured_phase_rad(record.measured_phase_rad);
    report->set_applied_amplitude(record.applied_amplitude);
    report->set_applied_phase_rad(record.applied_phase_rad);
    report->set_verdict(std::string(to_string(record.verdict)));
    queue_to_all(message);
  }
  pump();
}

void LinkServer::send_heartbeats() {
  const double period_s = sequencer_->heartbeat_period_s();
  if (!(period_s > 0.0)) return;
  heartbeat_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(period_s)));
  heartbeat_timer_.async_wait([this](const error_code& ec) {
    if (ec || closed_) return;
    v1::Envelope beat;
    beat.mutable_heartbeat()->set_sequence(++heartbeat_sequence_);
    std::string frame;
    protocol::append_frame(beat, frame);
    bool any = false;
    for (const std::shared_ptr<Session>& session : sessions_) {
      if (!session->ready() || !session->supervised) continue;
      session->outgoing.push_back(frame);
      any = true;
    }
    if (any) pump();
    send_heartbeats();
  });
}

void LinkServer::watch_field_reports() {
  field_timer_.expires_after(kFieldReportPollPeriod);
  field_timer_.async_wait([this](const error_code& ec) {
    if (ec || closed_) return;
    report_field();
    watch_field_reports();
  });
}

void LinkServer::pump() {
  report_faults();
  const std::shared_ptr<Session> controller = active_;
  const bool streaming_to_controller = controller && controller->ready() && controller->id == scan_owner_;
  if (!slot_in_flight_) {
    // Frames of a scan whose controller is gone are dropped.
    while (const FrameSlot* frame = queue_->front()) {
      if (streaming_to_controller && frame->tag == scan_id_ && frame->resume == stream_resume_) break;
      queue_->pop();
    }
  }
  const std::vector<std::shared_ptr<Session>> sessions = sessions_;
  for (const std::shared_ptr<Session>& session : sessions) write_next(session);
}

void LinkServer::write_next(const std::shared_ptr<Session>& session) {
  if (!session->open || session->writing) return;
  if (!session->outgoing.empty()) {
    session->writing = true;
    asio::async_write(session->socket, asio::buffer(session->outgoing.front()), [this, session](const error_code& ec, std::size_t) {
      session->writing = false;
      session->outgoing.pop_front();
      if (ec && session->open) drop(session);
      pump();
    });
    return;
  }
  if (session->close_when_flushed) {
    drop(session);
    return;
  }
  if (session != active_ || slot_in_flight_ || !session->ready() || session->id != scan_owner_) return;
  if (const FrameSlot* frame = queue_->front()) {
    slot_in_flight_ = true;
    session->writing = true;
    const std::span<const std::byte> bytes = frame->frame();
    // Observers get a copy; one that reads too slowly loses copies, never delays the controller.
    for (const std::shared_ptr<Session>& observer : sessions_) {
      if (observer == session || !observer->ready() || observer->role != v1::ROLE_OBSERVER) continue;
      if (observer->outgoing.size() < kObserverBacklogFrames) {
        observer->outgoing.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      } else if (observer->dropped_data_frames++ == 0) {
        spdlog::warn("observer {} (session {}) reads too slowly: data frames are dropped for it", observer->peer, observer->id);
      }
    }
    asio::async_write(session->socket, asio::buffer(bytes.data(), bytes.size()), [this, session](const error_code& ec, std::size_t) {
      session->writing = false;
      slot_in_flight_ = false;
      queue_->pop();
      if (ec && session->open) drop(session);
      pump();
    });
  }
}

}  // namespace mpi::firmware
