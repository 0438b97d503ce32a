#include "mpi/host/scan_controller.hpp"

#include "mpi/host/acquisition_stream.hpp"
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/heartbeat_sender.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/mdf_recorder.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/protocol/version.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>
#include <memory>
#include <optional>
#include <thread>

namespace mpi::host {

namespace {

ScanOutcome outcome_of(const AcquisitionStream& stream, ReconstructionRunner& runner) {
  ScanOutcome out;
  ReconstructionResult result = runner.finish();
  out.image = std::move(result.profile);
  out.mean_image = std::move(result.mean);
  out.last_image = std::move(result.last);
  out.frames = result.frames;
  out.dropped = result.dropped;
  out.latency = result.latency;
  out.reconstruction_summary = result.summary;
  out.background = result.background;
  out.drives = stream.setup().drives;
  out.counters = stream.counters();
  out.chunk_flags = static_cast<std::uint32_t>(stream.chunk_flags_seen());
  out.sample_rate_hz = stream.setup().sample_rate_hz;
  out.drive_frequency_hz = stream.setup().drive.frequency_hz;
  out.drive_amplitude_t = stream.setup().drive.amplitude_t;
  out.end_reason = stream.stream_end().reason();
  return out;
}

}  // namespace

std::size_t display_queue_frames(const ScanPlan& plan, const ScannerDescription& scanner, std::size_t display_frames) {
  if (display_frames > 0) return display_frames;
  double frame_s = 0.0;
  if (plan.multi_dimensional() && scanner.sample_rate_hz > 0.0) {
    frame_s = static_cast<double>(plan_drive(plan, scanner, scanner.sample_rate_hz).samples_per_frame()) / scanner.sample_rate_hz;
  } else if (plan.sequence.drive_frequency_hz > 0.0) {
    frame_s = plan.sequence.periods_per_frame / plan.sequence.drive_frequency_hz;
  }
  constexpr std::size_t kMin = 64, kMax = std::size_t{1} << 16;
  if (!(frame_s > 0.0)) return kMin;
  return std::clamp(static_cast<std::size_t>(std::ceil(kDisplayQueueSeconds / frame_s)), kMin, kMax);
}

ScanOutcome run_live_scan(const ScanPlan& plan, const ScannerDescription& scanner, const LiveScanOptions& options) {
  auto link = std::make_unique<LinkClient>(options.host, options.port, options.receive_timeout);
  std::optional<RawCaptureWriter> capture;
  const auto tee = [&capture](std::string frame) { capture->push(std::move(frame)); };
  if (!options.capture_file.empty()) {
    capture.emplace(options.capture_file);
    link->set_tee(tee);
  }
  // The display path: frames the reconstruction cannot keep up with are dropped (and counted), the link
  // and the raw capture are never held up.
  ReconstructionRunner runner(plan, scanner, WhenFull::drop_newest, display_queue_frames(plan, scanner, options.display_frames));
  if (options.on_frame) runner.set_frame_hook(options.on_frame);
  std::chrono::steady_clock::time_point arrival{};  // when the envelope being consumed was received
  AcquisitionStream stream(plan, scanner, [&runner, &arrival](Frame&& f) {
    f.arrival = arrival;
    runner.push(std::move(f));
  });

  link::v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_client_name("mpi host");
  hello.mutable_hello()->add_capabilities("heartbeat");  // we send Heartbeat every BoardInfo.heartbeat_period_s
  const link::v1::Envelope hello_reply = link->request(hello);
  if (!hello_reply.has_hello_reply()) throw LinkError("firmware answered Hello with something else");
  stream.consume(hello_reply);
  const auto& board = hello_reply.hello_reply().board();
  // The board reports its gradient along the strongest axis and its ADC channel names: a different
  // description is most likely the wrong file.
  if (std::abs(board.selection_gradient_t_per_m() - scanner.strongest_gradient_t_per_m) > 1e-6 * std::abs(scanner.strongest_gradient_t_per_m)) {
    spdlog::warn("board reports a selection gradient of {} T/m, the scanner description says {} T/m; reconstructing with the description",
                 board.selection_gradient_t_per_m(), scanner.strongest_gradient_t_per_m);
  }
  const std::vector<std::string> board_names(board.adc_channel_names().begin(), board.adc_channel_names().end());
  if (!scanner.adc_channel_names.empty() && board_names != scanner.adc_channel_names) {
    spdlog::warn("board reports ADC channels [{}], the scanner description has [{}]", fmt::join(board_names, ", "),
                 fmt::join(scanner.adc_channel_names, ", "));
  }

  link::v1::Envelope configure;
  *configure.mutable_configure() = configure_request(plan_drive(plan, scanner, board.adc_sample_rate_hz()));
  const link::v1::Envelope configured = link->request(configure);
  if (!configured.has_configure_reply()) throw LinkError("firmware answered Configure with something else");
  stream.consume(configured);
  runner.start(stream.setup());

  // The MDF recording (mdf_recorder.hpp): scan.mdf next to the raw capture, which is its journal. Written
  // with all metadata now, finished from the journal at the end (or by `mpi recover` after a crash).
  std::filesystem::path recording;
  if (capture) {
    recording = options.capture_file.parent_path() / "scan.mdf";
    RecordingStart start;
    start.plan = &plan;
    start.scanner = &scanner;
    start.hello = hello_reply.hello_reply();
    start.configure = configured.configure_reply();
    start.setup = stream.setup();
    begin_recording(recording, options.capture_file, start);
  }
  const auto finish_recording_now = [&recording, &capture]() {
    if (recording.empty()) return;
    if (capture) capture->finish();
    const RecordingSummary summary = finish_recording(recording);
    spdlog::info("recorded {} frames ({} background) in {}", summary.frames, summary.background_frames, recording.string());
    recording.clear();
  };

  std::vector<std::string> faults;

  // Heartbeats go out from a thread of their own every half period (margin against a late one), so a
  // receive loop held up by a slow consumer does not make the board fault the scan. The sender is
  // destroyed (stopped and joined) before the link on every way out of this function.
  const auto heartbeat_period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(board.heartbeat_period_s()));
  std::optional<HeartbeatSender> heartbeats;
  // The board's own heartbeats arrive every period while nothing else does: a link silent for ten
  // periods (at least 1 s, at most the receive timeout) is lost, and reconnected below.
  const auto silence = std::min<std::chrono::milliseconds>(
      options.receive_timeout, std::max<std::chrono::milliseconds>(std::chrono::seconds(1),
                                                                   std::chrono::duration_cast<std::chrono::milliseconds>(10 * heartbeat_period)));
  if (heartbeat_period.count() > 0) {
    heartbeats.emplace([client = link.get()](link::v1::Envelope& beat) { client->send(beat); }, heartbeat_period / 2);
    link->set_receive_timeout(silence);
  }

  // A lost link (closed, reset, or silent for the receive timeout): a new connection takes the control
  // back with the reclaim token and resumes the stream at the first sample not received. The board's
  // reaction to a lost controller stands (a scan whose link closed, or whose heartbeats stopped, ramps
  // down); what it acquired is still in its ring and comes over the new connection.
  const auto reconnect = [&](const std::string& reason) {
    if (options.reconnect_window.count() <= 0) return false;
    heartbeats.reset();
    const std::string token = link->reclaim_token();
    const std::uint64_t from = stream.next_sample();
    spdlog::warn("link lost ({}): reconnecting to {}:{} to resume at sample {}", reason, options.host, options.port, from);
    const auto deadline = std::chrono::steady_clock::now() + options.reconnect_window;
    std::string last = reason;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        auto fresh = std::make_unique<LinkClient>(options.host, options.port, options.receive_timeout);
        if (capture) fresh->set_tee(tee);
        link::v1::Envelope again = hello;
        again.mutable_hello()->set_reclaim_token(token);
        if (!fresh->request(again).has_hello_reply()) throw LinkError("firmware answered Hello with something else");
        link::v1::Envelope resume;
        resume.mutable_resume()->set_from_sample(from);
        if (!fresh->request(resume).has_status()) throw LinkError("firmware answered Resume with something else");
        link = std::move(fresh);
        if (heartbeat_period.count() > 0) {
          link->set_receive_timeout(silence);
          heartbeats.emplace([client = link.get()](link::v1::Envelope& beat) { client->send(beat); }, heartbeat_period / 2);
        }
        spdlog::warn("link restored: the stream resumes at sample {}", from);
        return true;
      } catch (const std::exception& e) {
        last = e.what();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    spdlog::error("could not reconnect within {} ms: {}", options.reconnect_window.count(), last);
    return false;
  };

  link::v1::Envelope start;
  start.mutable_start();
  link->send(start);
  bool stop_sent = false;
  link::v1::Envelope env;
  try {
  while (!stream.ended()) {
    std::string lost;
    try {
      if (!link->receive(env)) lost = "firmware closed the link before the end of the stream";
    } catch (const LinkError& e) {
      lost = e.what();
    }
    if (!lost.empty()) {
      if (!reconnect(lost)) throw LinkError(lost);
      continue;
    }
    arrival = std::chrono::steady_clock::now();
    if (env.has_fault()) {
      spdlog::error("safety fault: {}", env.fault().message());
      faults.push_back(env.fault().message());
      continue;
    }
    if (env.has_error()) {
      throw LinkError("firmware error during the scan: " + link::v1::ErrorCode_Name(env.error().code()) + ": " + env.error().message());
    }
    stream.consume(env);
    const bool interrupted = options.interrupt != nullptr && options.interrupt->load();
    if (!stop_sent && (stream.frames_forwarded() >= plan.sequence.frames || interrupted)) {
      link::v1::Envelope stop;
      stop.mutable_stop();
      link->send(stop);
      stop_sent = true;
    }
  }
  } catch (...) {
    // Whatever ended the scan, the frames received so far go into the file.
    try {
      finish_recording_now();
    } catch (const std::exception& e) {
      spdlog::error("{} (the journal is kept: mpi recover)", e.what());
    }
    throw;
  }
  if (heartbeats) {
    heartbeats->stop();
    if (const std::string failure = heartbeats->failure(); !failure.empty()) spdlog::warn("{}", failure);
  }
  if (capture) capture->finish();
  if (faults.empty() && stream.stream_end().reason() == "safety fault") {
    // A fault message can only be missing if the link dropped it; the board's Status lists the latched ones.
    link::v1::Envelope status_request;
    status_request.mutable_status_request();
    const link::v1::Envelope status = link->request(status_request);
    for (const auto& fault : status.status().faults()) faults.push_back(fault.message());
    if (faults.empty()) faults.emplace_back("unspecified");
  }
  try {
    finish_recording_now();
  } catch (const std::exception& e) {
    spdlog::error("{} (the journal is kept: finish the file with mpi recover)", e.what());
  }
  if (!faults.empty()) {
    throw ScanFault("the scan was ended by a safety fault: " + fmt::format("{}", fmt::join(faults, "; ")) +
                    "; the board is in SAFE until the faults are cleared (mpi clear-faults)");
  }
  return outcome_of(stream, runner);
}

link::v1::Status clear_faults(const std::string& host, std::uint16_t port, std::chrono::milliseconds receive_timeout) {
  LinkClient link(host, port, receive_timeout);
  link::v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_client_name("mpi host");
  if (!link.request(hello).has_hello_reply()) throw LinkError("firmware answered Hello with something else");
  link::v1::Envelope clear;
  clear.mutable_clear_faults();
  const link::v1::Envelope reply = link.request(clear);
  if (!reply.has_status()) throw LinkError("firmware answered ClearFaults with something else");
  return reply.status();
}

ScanOutcome replay_capture(const ScanPlan& plan, const ScannerDescription& scanner, const std::filesystem::path& file, const FrameHook& on_frame) {
  RawCaptureReader reader(file);
  ReconstructionRunner runner(plan, scanner, WhenFull::block);
  if (on_frame) runner.set_frame_hook(on_frame);
  AcquisitionStream stream(plan, scanner, [&runner](Frame&& f) {
    f.arrival = std::chrono::steady_clock::now();  // a replay has no arrival: its latency is the pipeline's own
    runner.push(std::move(f));
  });
  link::v1::Envelope env;
  bool started = false;
  while (reader.next(env)) {
    stream.consume(env);
    if (!started && stream.configured()) {
      runner.start(stream.setup());
      started = true;
    }
  }
  if (!started) throw std::runtime_error(file.string() + ": the capture holds no scan configuration");
  if (!stream.ended()) spdlog::warn("{}: the capture ends without the end of the stream (the scan was cut short)", file.string());
  return outcome_of(stream, runner);
}

}  // namespace mpi::host
