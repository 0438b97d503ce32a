// Writes the seed corpus of the fuzz targets: fuzz_make_corpus <corpus directory>, e.g. tools/fuzz/corpus.
// The seeds are framed link messages of every request type, whole sessions of a controlling host, and
// broken input (truncated frames, oversized length fields, bytes that are no Envelope). Deterministic:
// running it again writes the same files.
#include "command_input.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/framing.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace v1 = mpi::link::v1;
namespace fuzz = mpi::fuzz;

std::string frame(const v1::Envelope& message) {
  std::string out;
  if (!mpi::protocol::append_frame(message, out)) throw std::runtime_error("a seed message exceeds the frame limit");
  return out;
}

std::string bytes_0_to(unsigned count, unsigned first = 0) {
  std::string out;
  for (unsigned i = 0; i < count; ++i) out.push_back(static_cast<char>(first + i));
  return out;
}

v1::Envelope hello(std::uint64_t id, std::uint32_t major = 1) {
  v1::Envelope e;
  e.set_request_id(id);
  v1::Hello* h = e.mutable_hello();
  h->set_protocol_major(major);
  h->set_protocol_minor(0);
  h->set_client_name("mpi-host");
  h->add_capabilities("heartbeat");
  h->add_capabilities("modes");
  h->set_client_nonce(bytes_0_to(32));
  h->set_role(v1::ROLE_CONTROLLER);
  return e;
}

v1::Envelope auth_response(std::uint64_t id) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_auth_response()->set_client_proof(bytes_0_to(32, 0x80));
  return e;
}

v1::Envelope hand_over(std::uint64_t id, std::uint64_t session) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_hand_over()->set_session_id(session);
  return e;
}

// Both drive channels at 25 kHz and 10 mT: one cycle is 40 samples at 1 MS/s.
v1::Envelope configure(std::uint64_t id, std::uint32_t ramp_samples = 1000) {
  v1::Envelope e;
  e.set_request_id(id);
  v1::Configure* c = e.mutable_configure();
  for (std::uint32_t ch = 0; ch < 2; ++ch) {
    v1::DriveChannelConfig* d = c->add_drive();
    d->set_channel(ch);
    d->set_frequency_hz(25000.0);
    d->set_amplitude_t(0.010);
    d->set_phase_rad(0.25 * ch);
  }
  c->set_ramp_samples(ramp_samples);
  c->set_chunk_samples(1000);
  return e;
}

v1::Envelope configure_program(std::uint64_t id) {
  v1::Envelope e = configure(id);
  v1::ScanProgram* p = e.mutable_configure()->mutable_program();
  p->set_step_samples(400);
  v1::ScanSegment* background = p->add_segments();
  background->set_role(v1::SEGMENT_ROLE_BACKGROUND);
  background->set_label("background");
  background->set_repetitions(2);
  background->add_steps()->add_field_t(0.0);
  v1::ScanSegment* patches = p->add_segments();
  patches->set_role(v1::SEGMENT_ROLE_FOREGROUND);
  patches->set_label("patch 1");
  patches->set_repetitions(2);
  for (double field : {-0.01, 0.0, 0.01, 0.02}) patches->add_steps()->add_field_t(field);
  v1::OffsetStep* off = patches->add_steps();
  off->add_field_t(0.0);
  off->set_drive_off(true);
  off->set_resync(true);
  return e;
}

v1::Envelope configure_sweep(std::uint64_t id) {
  v1::Envelope e = configure(id, 800);
  v1::ScanProgram* p = e.mutable_configure()->mutable_program();
  p->set_step_samples(4000);
  v1::ScanSegment* sweep = p->add_segments();
  sweep->set_role(v1::SEGMENT_ROLE_SWEEP);
  sweep->set_label("bias sweep");
  sweep->set_repetitions(1);
  sweep->mutable_sweep()->set_offset_channel(0);
  sweep->mutable_sweep()->set_from_t(-0.03);
  sweep->mutable_sweep()->set_to_t(0.03);
  sweep->mutable_sweep()->set_steps(7);
  return e;
}

v1::Envelope start(std::uint64_t id, std::uint64_t max_samples) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_start()->set_max_samples(max_samples);
  return e;
}

v1::Envelope resume(std::uint64_t id, std::uint64_t scan_id, std::uint64_t from_sample) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_resume()->set_scan_id(scan_id);
  e.mutable_resume()->set_from_sample(from_sample);
  return e;
}

v1::Envelope stop(std::uint64_t id) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_stop();
  return e;
}

v1::Envelope status_request(std::uint64_t id) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_status_request();
  return e;
}

v1::Envelope clear_faults(std::uint64_t id) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_clear_faults();
  return e;
}

v1::Envelope heartbeat(std::uint64_t id, std::uint64_t sequence) {
  v1::Envelope e;
  e.set_request_id(id);
  e.mutable_heartbeat()->set_sequence(sequence);
  return e;
}

std::string frames(std::initializer_list<v1::Envelope> messages) {
  std::string out;
  for (const v1::Envelope& m : messages) out += frame(m);
  return out;
}

std::string garbage(std::size_t count, std::uint32_t seed) {
  std::string out;
  std::uint32_t state = seed;
  for (std::size_t i = 0; i < count; ++i) {
    state = state * 1664525U + 1013904223U;
    out.push_back(static_cast<char>(state >> 24U));
  }
  return out;
}

std::string length_field(std::uint32_t length) {
  std::string out;
  for (unsigned i = 0; i < 4; ++i) out.push_back(static_cast<char>((length >> (8U * i)) & 0xFFU));
  return out;
}

// A SampleChunk whose payload does not match its sample and channel counts.
std::string bad_chunk() {
  v1::Envelope e;
  v1::SampleChunk* c = e.mutable_chunk();
  c->set_first_sample(0);
  c->set_sample_count(4);
  c->set_channel_count(3);
  c->set_payload(std::string(10, '\x01'));
  return frame(e);
}

// The frame-decoder target's input: control byte, piece sizes, stream (command_input.hpp).
std::string decoder_input(const std::string& stream, std::initializer_list<unsigned> pieces = {}, bool small_limit = false) {
  std::string out;
  out.push_back(static_cast<char>((pieces.size() & fuzz::kPieceCountMask) | (small_limit ? fuzz::kSmallLimitFlag : 0U)));
  for (unsigned piece : pieces) out.push_back(static_cast<char>(piece - 1));
  return out + stream;
}

std::size_t written_bytes = 0;

void write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
  if (bytes.size() >= 4096) throw std::runtime_error(name + " is larger than a seed should be");
  written_bytes += bytes.size();
}

void write_decoder_corpus(const std::filesystem::path& dir) {
  write(dir, "hello", decoder_input(frame(hello(1))));
  write(dir, "auth_response_bytewise", decoder_input(frame(auth_response(2)), {1}));
  write(dir, "hand_over", decoder_input(frame(hand_over(3, 7)), {2, 3}));
  write(dir, "configure_program_split", decoder_input(frame(configure_program(4)), {3, 7, 64}));
  write(dir, "configure_sweep", decoder_input(frame(configure_sweep(5))));
  write(dir, "start", decoder_input(frame(start(6, 5000))));
  write(dir, "resume", decoder_input(frame(resume(7, 1, 1000))));
  write(dir, "stop", decoder_input(frame(stop(8))));
  write(dir, "clear_faults", decoder_input(frame(clear_faults(9))));
  write(dir, "status_request", decoder_input(frame(status_request(10))));
  write(dir, "heartbeat", decoder_input(frame(heartbeat(11, 3))));
  const std::string session = frames({hello(1), auth_response(2), configure_program(3), start(4, 0), status_request(5), heartbeat(0, 1),
                                      resume(6, 0, 0), stop(7), clear_faults(8), hand_over(9, 2)});
  write(dir, "session_in_pieces", decoder_input(session, {1, 2, 5, 13, 200}));
  write(dir, "session_whole", decoder_input(session));
  const std::string hello_frame = frame(hello(1));
  write(dir, "truncated_payload", decoder_input(hello_frame.substr(0, hello_frame.size() - 5)));
  write(dir, "truncated_header", decoder_input(frame(stop(1)) + hello_frame.substr(0, 3), {2}));
  write(dir, "oversize_length", decoder_input(frame(stop(1)) + length_field(0xFFFFFFFFU) + garbage(16, 1)));
  write(dir, "oversize_just_above_limit", decoder_input(length_field(static_cast<std::uint32_t>(mpi::protocol::kMaxFrameBytes + 1)) + garbage(8, 2)));
  v1::Envelope chunk;
  chunk.mutable_chunk()->set_sample_count(60);
  chunk.mutable_chunk()->set_channel_count(3);
  chunk.mutable_chunk()->set_payload(garbage(360, 6));
  write(dir, "small_limit_oversize", decoder_input(frame(status_request(1)) + frame(chunk), {}, true));
  write(dir, "empty_frame", decoder_input(length_field(0) + frame(stop(2))));
  write(dir, "bad_chunk", decoder_input(bad_chunk() + frame(status_request(3))));
  write(dir, "not_protobuf", decoder_input(length_field(6) + std::string(6, '\xFF')));
  write(dir, "garbage", decoder_input(garbage(300, 3), {4, 9}));
}

void write_command_corpus(const std::filesystem::path& dir) {
  using fuzz::request_id;
  write(dir, "scan_session", frames({hello(request_id(0)), configure(request_id(2)), start(request_id(40), 20000), status_request(request_id(0)),
                                     stop(request_id(63)), status_request(request_id(10))}));
  write(dir, "program_scan", frames({hello(request_id(0)), configure_program(request_id(1)), start(request_id(63), 0),
                                     heartbeat(request_id(63), 1), status_request(request_id(20))}));
  write(dir, "sweep_scan", frames({configure_sweep(request_id(1)), start(request_id(63), 0), heartbeat(request_id(63), 1),
                                   heartbeat(request_id(63), 2), status_request(request_id(0))}));
  write(dir, "max_samples", frames({configure(request_id(1), 300), start(request_id(63, 0, 97), 2000), status_request(request_id(0))}));
  write(dir, "interlock_fault_and_clear",
        frames({configure(request_id(1)), start(request_id(20), 0), status_request(request_id(30, fuzz::kInterlockOpen)),
                clear_faults(request_id(1, fuzz::kInterlockOpen)), clear_faults(request_id(2)), status_request(request_id(0)),
                configure(request_id(1))}));
  write(dir, "armed_amplifier_fault", frames({configure(request_id(1)), status_request(request_id(3, fuzz::kAmplifierFault)),
                                              clear_faults(request_id(1)), status_request(request_id(0))}));
  write(dir, "instant_stop_over_temperature",
        frames({configure(request_id(1)), start(request_id(10), 0),
                heartbeat(request_id(5, fuzz::kInstantStop | fuzz::kOverTemperature), 1), clear_faults(request_id(0, fuzz::kOverTemperature)),
                status_request(request_id(63))}));
  write(dir, "clamped_output", frames({configure(request_id(1)), start(request_id(10, fuzz::kClamped), 0), status_request(request_id(63))}));
  std::string silent = frames({configure(request_id(1)), start(request_id(63, fuzz::kLogicSilent), 0)});
  for (unsigned i = 0; i < 17; ++i) silent += frame(heartbeat(request_id(63, fuzz::kLogicSilent), i));
  write(dir, "no_trigger", silent + frame(status_request(request_id(0))));
  write(dir, "link_lost", frames({hello(request_id(0)), configure(request_id(1)), start(request_id(20), 0), heartbeat(request_id(63, fuzz::kLinkLost), 1),
                                  status_request(request_id(0))}));
  write(dir, "resume", frames({configure(request_id(1)), resume(request_id(0), 0, 0), start(request_id(30), 0), resume(request_id(1), 0, 0),
                               resume(request_id(1), 1, 1u << 30), resume(request_id(1), 5, 0), stop(request_id(63)), resume(request_id(0), 1, 0)}));
  write(dir, "hand_over", frames({hello(request_id(0)), auth_response(request_id(0)), configure(request_id(1)), start(request_id(10), 0),
                                  hand_over(request_id(0), 7), heartbeat(request_id(10, fuzz::kLinkLost), 1), stop(request_id(63))}));
  write(dir, "field_control", frames({configure(request_id(1, fuzz::kFieldControl)), start(request_id(63, fuzz::kFieldControl), 0),
                                      status_request(request_id(10, fuzz::kFieldControl))}));
  v1::Envelope bad_frequency = configure(request_id(0));
  bad_frequency.mutable_configure()->mutable_drive(0)->set_frequency_hz(0.0);
  v1::Envelope bad_amplitude = configure(request_id(0));
  bad_amplitude.mutable_configure()->mutable_drive(1)->set_amplitude_t(0.03);
  v1::Envelope bad_chunk_samples = configure(request_id(0));
  bad_chunk_samples.mutable_configure()->set_chunk_samples(4000000);
  v1::Envelope bad_step = configure_program(request_id(0));
  bad_step.mutable_configure()->mutable_program()->set_step_samples(410);
  v1::Envelope bad_field = configure_program(request_id(0));
  bad_field.mutable_configure()->mutable_program()->mutable_segments(1)->mutable_steps(0)->set_field_t(0, 0.06);
  write(dir, "invalid_configures", frames({bad_frequency, bad_amplitude, bad_chunk_samples, bad_step, bad_field, start(request_id(0), 0),
                                            stop(request_id(0)), clear_faults(request_id(0))}));
  write(dir, "wrong_version", frames({hello(request_id(0), 2), configure(request_id(1))}));
  v1::Envelope stream_end;
  stream_end.set_request_id(request_id(1));
  stream_end.mutable_stream_end()->set_reason("stop requested");
  write(dir, "not_a_request", frames({configure(request_id(1)), stream_end, status_request(request_id(0))}));
  const std::string session = frames({hello(request_id(0)), configure(request_id(1)), start(request_id(10), 0)});
  write(dir, "truncated", session + frame(stop(request_id(5))).substr(0, 6));
  write(dir, "oversize_length", session + length_field(0xFFFFFFFFU) + garbage(8, 4));
  write(dir, "malformed_mid_session", session + bad_chunk() + frame(stop(request_id(63))));
  write(dir, "garbage", garbage(200, 5));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (e.g. tools/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path root(argv[1]);
    write_decoder_corpus(root / "frame_decoder_fuzz");
    write_command_corpus(root / "command_handler_fuzz");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_corpus: %s\n", e.what());
    return 1;
  }
  std::printf("%zu bytes of seeds written\n", written_bytes);
  return 0;
}
