#include "mpi/host/web_console_service.hpp"

#include "mpi/host/drive_plan.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_outputs.hpp"
#include "mpi/protocol/version.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace mpi::host {

namespace v1 = mpi::link::v1;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

BoardView::Fault fault_view(const v1::Fault& f) {
  return {v1::FaultKind_Name(f.kind()), f.channel(), f.sample(), f.message()};
}

void apply_field_report(BoardView& view, const v1::FieldReport& r) {
  for (BoardView::Drive& d : view.drives) {
    if (d.channel != r.channel()) continue;
    d.target_t = r.target_t();
    d.measured_t = r.measured_t();
    d.applied_amplitude = r.applied_amplitude();
    d.verdict = r.verdict();
  }
}

void apply_status(BoardView& view, const v1::Status& s) {
  view.mode = v1::BoardMode_Name(s.mode());
  view.state = v1::ScanState_Name(s.state());
  view.write_pointer = s.write_pointer();
  view.scan_id = s.scan_id();
  view.faults.clear();
  for (const v1::Fault& f : s.faults()) view.faults.push_back(fault_view(f));
  if (view.faults.empty() && !s.fault().empty()) view.faults.push_back({"FAULT_KIND_UNSPECIFIED", -1, 0, s.fault()});
  for (const v1::FieldReport& r : s.last_field()) apply_field_report(view, r);
  view.temperatures.clear();
  for (const v1::Temperature& t : s.temperatures()) view.temperatures.push_back({t.name(), t.celsius(), t.limit_celsius()});
}

}  // namespace

ConsoleService::ConsoleService(ConsoleState& state, ConsoleServiceOptions options) : state_(state), options_(std::move(options)) {
  BoardView view;
  // The drive channels of the scanner, with the frequencies the plan drives them at.
  DrivePlan drive;
  try {
    drive = plan_drive(options_.plan, options_.scanner, options_.scanner.sample_rate_hz);
  } catch (const std::exception&) {
  }
  const std::size_t channels = std::max<std::size_t>(options_.scanner.drives.size(), 1);
  for (std::size_t c = 0; c < channels; ++c) {
    BoardView::Drive d;
    d.channel = static_cast<std::uint32_t>(c);
    d.name = c < options_.scanner.drives.size() ? options_.scanner.drives[c].name : "drive " + std::to_string(c);
    d.target_t = kNaN;
    d.measured_t = kNaN;
    d.applied_amplitude = kNaN;
    for (const PlannedDrive& p : drive.drives) {
      if (p.channel == c) d.frequency_hz = p.frequency_hz;
    }
    view.drives.push_back(d);
  }
  view.gradient_t_per_m = options_.scanner.strongest_gradient_t_per_m;
  state_.set_board(std::move(view));
  ScanView scan;
  scan.planned = options_.plan.sequence.frames;
  state_.set_scan(scan);
  refresh_psf();
}

ConsoleService::~ConsoleService() {
  closing_ = true;
  interrupt_ = true;
  {
    const std::lock_guard lock(scan_mutex_);
    if (scan_thread_.joinable()) scan_thread_.join();
  }
  if (observer_thread_.joinable()) observer_thread_.join();
}

void ConsoleService::start_observer() {
  if (observer_thread_.joinable()) return;
  observer_thread_ = std::thread([this] { observe(); });
}

void ConsoleService::observe() {
  while (!closing_) {
    try {
      LinkClient link(options_.host, options_.port, std::chrono::seconds(2));
      v1::Envelope hello;
      hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
      hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
      hello.mutable_hello()->set_client_name("mpi console");
      hello.mutable_hello()->set_role(v1::ROLE_OBSERVER);
      hello.mutable_hello()->add_capabilities("heartbeat");  // the board then sends one each period: a quiet link is told from a lost one
      const v1::Envelope reply = link.request(hello);
      if (!reply.has_hello_reply()) throw LinkError("the board answered Hello with something else");
      {
        BoardView view = state_.board();
        view.connection = "connected";
        view.board = reply.hello_reply().server_name() + " (link protocol " + std::to_string(reply.hello_reply().protocol_major()) + "." +
                     std::to_string(reply.hello_reply().protocol_minor()) + ")";
        if (reply.hello_reply().board().selection_gradient_t_per_m() > 0.0) view.gradient_t_per_m = reply.hello_reply().board().selection_gradient_t_per_m();
        state_.set_board(std::move(view));
      }
      auto next_poll = std::chrono::steady_clock::now();
      v1::Envelope env;
      while (!closing_) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_poll) {
          v1::Envelope request;
          request.mutable_status_request();
          link.send(request);
          next_poll = now + options_.poll_interval;
        }
        if (!link.receive(env)) throw LinkError("the board closed the observer connection");
        if (env.has_status()) {
          BoardView view = state_.board();
          apply_status(view, env.status());
          state_.set_board(std::move(view));
        } else if (env.has_fault()) {
          BoardView view = state_.board();
          BoardView::Fault f = fault_view(env.fault());
          bool known = false;
          for (const auto& g : view.faults) known = known || (g.kind == f.kind && g.sample == f.sample);
          if (!known) view.faults.push_back(std::move(f));
          view.mode = v1::BoardMode_Name(v1::BOARD_MODE_SAFE);
          state_.set_board(std::move(view));
        } else if (env.has_field_report()) {
          BoardView view = state_.board();
          apply_field_report(view, env.field_report());
          state_.set_board(std::move(view));
        }
        // Chunks (the observer's copy of the stream) and heartbeats: nothing to show.
      }
    } catch (const std::exception& e) {
      BoardView view = state_.board();
      view.connection = std::string("lost: ") + e.what();
      state_.set_board(std::move(view));
      for (int i = 0; i < 10 && !closing_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void ConsoleService::start_scan() {
  const std::lock_guard lock(scan_mutex_);
  if (scanning_) throw std::runtime_error("a scan is already running");
  const BoardView board = state_.board();
  if (board.connection != "connected") throw std::runtime_error("the board is not connected (" + board.connection + ")");
  if (board.mode == "BOARD_MODE_SAFE") throw std::runtime_error("the board is in SAFE: clear its faults first (mpi clear-faults)");
  if (board.mode == "BOARD_MODE_RUNNING") throw std::runtime_error("the board is running another scan");
  if (scan_thread_.joinable()) scan_thread_.join();
  interrupt_ = false;
  scanning_ = true;
  state_.clear_image();
  ScanView view;
  view.state = "running";
  view.planned = options_.plan.sequence.frames;
  view.message = "scanning " + options_.plan.file.filename().string();
  state_.set_scan(view);
  scan_thread_ = std::thread([this] { scan(); });
}

void ConsoleService::stop_scan() {
  const std::lock_guard lock(scan_mutex_);
  if (!scanning_) throw std::runtime_error("no scan is running");
  interrupt_ = true;
  ScanView view = state_.scan();
  if (view.state == "running") view.state = "stopping";
  view.message = "stop requested: ramping down";
  state_.set_scan(view);
}

bool ConsoleService::scan_running() const { return scanning_; }

ConsoleActions ConsoleService::actions() {
  return {[this] { start_scan(); }, [this] { stop_scan(); }};
}

void ConsoleService::refresh_psf() { state_.set_psf(newest_psf(options_.out)); }

void ConsoleService::scan() {
  ScanView view;
  try {
    LiveScanOptions o;
    o.host = options_.host;
    o.port = options_.port;
    o.receive_timeout = options_.receive_timeout;
    o.capture_file = options_.out / "raw.mpilink";
    o.interrupt = &interrupt_;
    o.on_frame = [this](const LiveFrameEvent& event) { state_.on_frame(event); };
    const ScanOutcome outcome = run_live_scan(options_.plan, options_.scanner, o);
    const std::string written = write_scan_outputs(outcome, options_.plan, options_.scanner, options_.out,
                                                   method_title(options_.plan) + ", live scan", nullptr);
    view = state_.scan();
    view.state = "done";
    view.message = std::to_string(outcome.frames) + " frames reconstructed (" + std::to_string(outcome.dropped) +
                   " dropped from display); outputs in " + options_.out.string() + ": " + written + ", raw.mpilink, scan.mdf";
    spdlog::info("console scan: {}", view.message);
  } catch (const std::exception& e) {
    view = state_.scan();
    view.state = "failed";
    view.message = e.what();
    spdlog::error("console scan: {}", e.what());
  }
  state_.set_scan(view);
  refresh_psf();
  scanning_ = false;
}

}  // namespace mpi::host
