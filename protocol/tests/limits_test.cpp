// The link's documented limits (protocol/README.md): messages at their limits pass, every kind of excess
// is named by its field path and the limit, and non-finite numbers are refused wherever they appear.
#include "mpi/protocol/limits.hpp"

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace mpi::protocol {
namespace {

namespace v1 = link::v1;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

void expect_violation(const v1::Envelope& envelope, const std::string& field, const std::string& detail) {
  const std::optional<LimitViolation> violation = check_limits(envelope);
  ASSERT_TRUE(violation.has_value()) << "expected a violation of " << field;
  EXPECT_EQ(violation->field, field);
  EXPECT_EQ(violation->detail, detail);
}

void expect_pass(const v1::Envelope& envelope) {
  const std::optional<LimitViolation> violation = check_limits(envelope);
  EXPECT_FALSE(violation.has_value()) << violation->field << ": " << violation->detail;
}

v1::Envelope hello_at_limits() {
  v1::Envelope envelope;
  envelope.set_request_id(1);
  v1::Hello* hello = envelope.mutable_hello();
  hello->set_protocol_major(1);
  hello->set_protocol_minor(1);
  hello->set_client_name(std::string(64, 'n'));
  for (int i = 0; i < 32; ++i) hello->add_capabilities(std::string(32, 'c'));
  hello->set_client_nonce(std::string(32, '\x01'));
  hello->set_reclaim_token(std::string(16, '\x02'));
  hello->set_role(v1::ROLE_OBSERVER);
  return envelope;
}

v1::Envelope configure_at_limits() {
  v1::Envelope envelope;
  v1::Configure* configure = envelope.mutable_configure();
  for (unsigned c = 0; c < 8; ++c) {
    v1::DriveChannelConfig* drive = configure->add_drive();
    drive->set_channel(c);
    drive->set_frequency_hz(25e3);
    drive->set_amplitude_t(0.012);
    drive->set_phase_rad(-3.0);
  }
  configure->set_ramp_samples(1U << 30);
  configure->set_chunk_samples(65536);
  v1::ScanProgram* program = configure->mutable_program();
  program->set_step_samples(1024);
  for (int s = 0; s < 64; ++s) {
    v1::ScanSegment* segment = program->add_segments();
    segment->set_role(v1::SEGMENT_ROLE_FOREGROUND);
    segment->set_label(std::string(64, 'l'));
    segment->set_repetitions(3);
    for (int k = 0; k < 4; ++k) {
      v1::OffsetStep* step = segment->add_steps();
      for (int f = 0; f < 16; ++f) step->add_field_t(0.001 * f - 0.004);
    }
  }
  v1::ScanSegment* sweep = program->mutable_segments(63);
  sweep->clear_steps();
  sweep->mutable_sweep()->set_offset_channel(15);
  sweep->mutable_sweep()->set_from_t(-0.01);
  sweep->mutable_sweep()->set_to_t(0.01);
  sweep->mutable_sweep()->set_steps(65536 - 63 * 4);  // the program's distinct steps: exactly 65536
  return envelope;
}

TEST(Limits, MessagesAtTheirLimitsPass) {
  expect_pass(hello_at_limits());
  expect_pass(configure_at_limits());

  v1::Envelope reply;
  v1::HelloReply* hello_reply = reply.mutable_hello_reply();
  hello_reply->set_server_name(std::string(64, 's'));
  hello_reply->set_reclaim_token(std::string(16, 't'));
  hello_reply->mutable_board()->set_adc_channels(32);
  hello_reply->mutable_board()->set_drive_channels(8);
  hello_reply->mutable_board()->set_adc_sample_rate_hz(15.625e6);
  for (int i = 0; i < 32; ++i) hello_reply->mutable_board()->add_adc_channel_names(std::string(64, 'a'));
  expect_pass(reply);

  v1::Envelope challenge;
  challenge.mutable_auth_challenge()->set_server_nonce(std::string(32, 'x'));
  challenge.mutable_auth_challenge()->set_server_proof(std::string(32, 'y'));
  expect_pass(challenge);

  v1::Envelope response;
  response.mutable_auth_response()->set_client_proof(std::string(32, 'z'));
  expect_pass(response);

  v1::Envelope start;
  start.mutable_start()->set_max_samples(std::uint64_t{1} << 48);
  expect_pass(start);

  v1::Envelope chunk;  // the most frames at 8 channels, and the most channels
  chunk.mutable_chunk()->set_sample_count(65536);
  chunk.mutable_chunk()->set_channel_count(8);
  chunk.mutable_chunk()->set_payload(std::string(65536 * 8 * 2, '\0'));
  expect_pass(chunk);
  chunk.mutable_chunk()->set_sample_count(1024);
  chunk.mutable_chunk()->set_channel_count(32);
  chunk.mutable_chunk()->set_payload(std::string(1024 * 32 * 2, '\0'));
  expect_pass(chunk);

  v1::Envelope status;
  for (int i = 0; i < 16; ++i) status.mutable_status()->add_faults()->set_message(std::string(1024, 'f'));
  for (int i = 0; i < 32; ++i) {
    v1::FieldReport* report = status.mutable_status()->add_last_field();
    report->set_channel(7);
    report->set_measured_t(0.011);
    report->set_verdict("ok");
  }
  expect_pass(status);

  v1::Envelope error;
  error.mutable_error()->set_message(std::string(1024, 'e'));
  expect_pass(error);

  v1::Envelope configure_reply;
  for (int i = 0; i < 8; ++i) configure_reply.mutable_configure_reply()->add_drive()->set_channel(static_cast<unsigned>(i));
  for (int i = 0; i < 64; ++i) configure_reply.mutable_configure_reply()->add_segments()->set_label(std::string(64, 'r'));
  configure_reply.mutable_configure_reply()->set_chunk_samples(65536);
  expect_pass(configure_reply);
}

// Every body the Envelope can carry, empty and with its request id, is within the limits.
TEST(Limits, EveryBodyTypeEmptyPasses) {
  const google::protobuf::OneofDescriptor* body = v1::Envelope::descriptor()->FindOneofByName("body");
  ASSERT_NE(body, nullptr);
  ASSERT_GE(body->field_count(), 19);
  for (int i = 0; i < body->field_count(); ++i) {
    v1::Envelope envelope;
    envelope.set_request_id(7);
    (void)envelope.GetReflection()->MutableMessage(&envelope, body->field(i));
    SCOPED_TRACE(body->field(i)->name());
    expect_pass(envelope);
  }
}

TEST(Limits, HandshakeFieldsNameTheirLimit) {
  v1::Envelope name = hello_at_limits();
  name.mutable_hello()->set_client_name(std::string(65, 'n'));
  expect_violation(name, "hello.client_name", "has 65 bytes, the limit is 64");

  v1::Envelope capabilities = hello_at_limits();
  capabilities.mutable_hello()->add_capabilities("one too many");
  expect_violation(capabilities, "hello.capabilities", "has 33 entries, the limit is 32");

  v1::Envelope capability = hello_at_limits();
  capability.mutable_hello()->set_capabilities(1, std::string(33, 'c'));
  expect_violation(capability, "hello.capabilities[1]", "has 33 bytes, the limit is 32");

  v1::Envelope nonce = hello_at_limits();
  nonce.mutable_hello()->set_client_nonce(std::string(31, 'x'));
  expect_violation(nonce, "hello.client_nonce", "has 31 bytes, exactly 32 are required (or none)");
  nonce.mutable_hello()->clear_client_nonce();  // absent: the handshake decides
  expect_pass(nonce);

  v1::Envelope token = hello_at_limits();
  token.mutable_hello()->set_reclaim_token(std::string(17, 't'));
  expect_violation(token, "hello.reclaim_token", "has 17 bytes, exactly 16 are required (or none)");

  v1::Envelope challenge;
  challenge.mutable_auth_challenge()->set_server_nonce(std::string(32, 'x'));
  challenge.mutable_auth_challenge()->set_server_proof(std::string(33, 'y'));
  expect_violation(challenge, "auth_challenge.server_proof", "has 33 bytes, exactly 32 are required (or none)");
  challenge.mutable_auth_challenge()->set_server_nonce(std::string(64, 'x'));
  expect_violation(challenge, "auth_challenge.server_nonce", "has 64 bytes, exactly 32 are required (or none)");

  v1::Envelope response;
  response.mutable_auth_response()->set_client_proof("short");
  expect_violation(response, "auth_response.client_proof", "has 5 bytes, exactly 32 are required (or none)");

  v1::Envelope reply;
  reply.mutable_hello_reply()->set_reclaim_token(std::string(8, 't'));
  expect_violation(reply, "hello_reply.reclaim_token", "has 8 bytes, exactly 16 are required (or none)");
  reply.mutable_hello_reply()->set_reclaim_token(std::string(16, 't'));
  for (int i = 0; i < 33; ++i) reply.mutable_hello_reply()->mutable_board()->add_adc_channel_names("rx");
  expect_violation(reply, "hello_reply.board.adc_channel_names", "has 33 entries, the limit is 32");
  reply.mutable_hello_reply()->mutable_board()->clear_adc_channel_names();
  reply.mutable_hello_reply()->mutable_board()->set_drive_channels(9);
  expect_violation(reply, "hello_reply.board.drive_channels", "is 9, the limit is 8");
}

TEST(Limits, ConfigureFieldsNameTheirPathAndLimit) {
  v1::Envelope drive = configure_at_limits();
  drive.mutable_configure()->add_drive()->set_channel(0);
  expect_violation(drive, "configure.drive", "has 9 entries, the limit is 8");

  v1::Envelope channel = configure_at_limits();
  channel.mutable_configure()->mutable_drive(2)->set_channel(8);
  expect_violation(channel, "configure.drive[2].channel", "is 8, the limit is 7");

  v1::Envelope ramp = configure_at_limits();
  ramp.mutable_configure()->set_ramp_samples((1U << 30) + 1);
  expect_violation(ramp, "configure.ramp_samples", "is 1073741825, the limit is 1073741824");

  v1::Envelope chunk = configure_at_limits();
  chunk.mutable_configure()->set_chunk_samples(65537);
  expect_violation(chunk, "configure.chunk_samples", "is 65537, the limit is 65536");

  v1::Envelope segments = configure_at_limits();
  segments.mutable_configure()->mutable_program()->add_segments();
  expect_violation(segments, "configure.program.segments", "has 65 entries, the limit is 64");

  v1::Envelope fields = configure_at_limits();
  for (int i = 0; i < 24; ++i) fields.mutable_configure()->mutable_program()->mutable_segments(3)->mutable_steps(2)->add_field_t(0.0);
  expect_violation(fields, "configure.program.segments[3].steps[2].field_t", "has 40 entries, the limit is 16");

  v1::Envelope label = configure_at_limits();
  label.mutable_configure()->mutable_program()->mutable_segments(5)->set_label(std::string(65, 'l'));
  expect_violation(label, "configure.program.segments[5].label", "has 65 bytes, the limit is 64");

  v1::Envelope repetitions = configure_at_limits();
  repetitions.mutable_configure()->mutable_program()->mutable_segments(0)->set_repetitions((std::uint64_t{1} << 32) + 1);
  expect_violation(repetitions, "configure.program.segments[0].repetitions", "is 4294967297, the limit is 4294967296");

  v1::Envelope sweep = configure_at_limits();
  sweep.mutable_configure()->mutable_program()->mutable_segments(63)->mutable_sweep()->set_steps(65537);
  expect_violation(sweep, "configure.program.segments[63].sweep.steps", "is 65537, the limit is 65536");

  v1::Envelope offset = configure_at_limits();
  offset.mutable_configure()->mutable_program()->mutable_segments(63)->mutable_sweep()->set_offset_channel(16);
  expect_violation(offset, "configure.program.segments[63].sweep.offset_channel", "is 16, the limit is 15");
}

TEST(Limits, ProgramStepsPerSegmentAndInAll) {
  v1::Envelope one_segment;
  v1::ScanSegment* segment = one_segment.mutable_configure()->mutable_program()->add_segments();
  for (int i = 0; i < 65537; ++i) segment->add_steps();
  expect_violation(one_segment, "configure.program.segments[0].steps", "has 65537 entries, the limit is 65536");

  // The distinct steps of all segments together: one more than the table holds.
  v1::Envelope total = configure_at_limits();
  total.mutable_configure()->mutable_program()->mutable_segments(0)->add_steps();
  expect_violation(total, "configure.program.segments", "hold 65537 distinct steps in all, the limit is 65536");
}

TEST(Limits, ProgramLengthInSamples) {
  v1::Envelope envelope;
  v1::ScanProgram* program = envelope.mutable_configure()->mutable_program();
  program->set_step_samples(1U << 20);
  v1::ScanSegment* segment = program->add_segments();
  segment->add_steps();
  segment->set_repetitions(std::uint64_t{1} << 28);  // 2^20 x 2^28 = 2^48 samples: the limit
  expect_pass(envelope);
  segment->set_repetitions((std::uint64_t{1} << 28) + 1);
  expect_violation(envelope, "configure.program",
                   "lasts 281474977759232 samples (steps x repetitions x step_samples), the limit is 281474976710656");

  // A product beyond 64 bits must not wrap around into the limits.
  program->set_step_samples(0xFFFFFFFFU);
  segment->set_repetitions(std::uint64_t{1} << 32);
  segment->clear_steps();
  segment->mutable_sweep()->set_steps(65536);
  expect_violation(envelope, "configure.program",
                   "lasts more than 2^64 samples (steps x repetitions x step_samples), the limit is 281474976710656");
}

TEST(Limits, NonFiniteNumbersAreViolationsWherever) {
  v1::Envelope amplitude = configure_at_limits();
  amplitude.mutable_configure()->mutable_drive(1)->set_amplitude_t(kNaN);
  expect_violation(amplitude, "configure.drive[1].amplitude_t", "is nan, must be finite");

  v1::Envelope frequency = configure_at_limits();
  frequency.mutable_configure()->mutable_drive(0)->set_frequency_hz(kInf);
  expect_violation(frequency, "configure.drive[0].frequency_hz", "is inf, must be finite");

  v1::Envelope field = configure_at_limits();
  field.mutable_configure()->mutable_program()->mutable_segments(2)->mutable_steps(1)->set_field_t(5, -kInf);
  expect_violation(field, "configure.program.segments[2].steps[1].field_t[5]", "is -inf, must be finite");

  v1::Envelope sweep = configure_at_limits();
  sweep.mutable_configure()->mutable_program()->mutable_segments(63)->mutable_sweep()->set_to_t(kNaN);
  expect_violation(sweep, "configure.program.segments[63].sweep.to_t", "is nan, must be finite");

  v1::Envelope board;
  board.mutable_hello_reply()->mutable_board()->set_heartbeat_period_s(kInf);
  expect_violation(board, "hello_reply.board.heartbeat_period_s", "is inf, must be finite");

  v1::Envelope report;
  report.mutable_field_report()->set_measured_phase_rad(kNaN);
  expect_violation(report, "field_report.measured_phase_rad", "is nan, must be finite");

  v1::Envelope realised;
  realised.mutable_configure_reply()->add_drive()->set_amplitude_t(kNaN);
  expect_violation(realised, "configure_reply.drive[0].amplitude_t", "is nan, must be finite");
}

TEST(Limits, StreamAndStatusMessages) {
  v1::Envelope channels;
  channels.mutable_chunk()->set_sample_count(1);
  channels.mutable_chunk()->set_channel_count(33);
  channels.mutable_chunk()->set_payload(std::string(66, '\0'));
  expect_violation(channels, "chunk.channel_count", "is 33, the limit is 32");

  v1::Envelope samples;
  samples.mutable_chunk()->set_sample_count(65537);
  samples.mutable_chunk()->set_channel_count(1);
  samples.mutable_chunk()->set_payload(std::string(65537 * 2, '\0'));
  expect_violation(samples, "chunk.sample_count", "is 65537, the limit is 65536");

  v1::Envelope payload;
  payload.mutable_chunk()->set_sample_count(10);
  payload.mutable_chunk()->set_channel_count(4);
  payload.mutable_chunk()->set_payload(std::string(81, '\0'));
  expect_violation(payload, "chunk.payload", "has 81 bytes, sample_count 10 x channel_count 4 x 2 bytes = 80 are required");

  v1::Envelope error;
  error.mutable_error()->set_message(std::string(1025, 'e'));
  expect_violation(error, "error.message", "has 1025 bytes, the limit is 1024");

  v1::Envelope faults;
  for (int i = 0; i < 17; ++i) faults.mutable_status()->add_faults();
  expect_violation(faults, "status.faults", "has 17 entries, the limit is 16");

  v1::Envelope fault_text;
  fault_text.mutable_status()->add_faults();
  fault_text.mutable_status()->add_faults()->set_message(std::string(2000, 'f'));
  expect_violation(fault_text, "status.faults[1].message", "has 2000 bytes, the limit is 1024");

  v1::Envelope reports;
  for (int i = 0; i < 33; ++i) reports.mutable_status()->add_last_field();
  expect_violation(reports, "status.last_field", "has 33 entries, the limit is 32");

  v1::Envelope start;
  start.mutable_start()->set_max_samples((std::uint64_t{1} << 48) + 1);
  expect_violation(start, "start.max_samples", "is 281474976710657, the limit is 281474976710656");

  v1::Envelope segment_label;
  segment_label.mutable_configure_reply()->add_segments()->set_label(std::string(100, 'r'));
  expect_violation(segment_label, "configure_reply.segments[0].label", "has 100 bytes, the limit is 64");
}

// Every repeated field, string and bytes field of link.proto has a documented limit, so a field added
// later cannot go unbounded unnoticed.
TEST(Limits, EveryUnboundedKindOfFieldHasALimit) {
  const google::protobuf::FileDescriptor* file = v1::Envelope::descriptor()->file();
  ASSERT_GT(file->message_type_count(), 20);
  for (int m = 0; m < file->message_type_count(); ++m) {
    const google::protobuf::Descriptor* message = file->message_type(m);
    for (int f = 0; f < message->field_count(); ++f) {
      const google::protobuf::FieldDescriptor& field = *message->field(f);
      const FieldLimits limits = field_limits(field);
      SCOPED_TRACE(field.full_name());
      if (field.is_repeated()) {
        EXPECT_NE(limits.max_count, 0U);
      }
      if (field.type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        EXPECT_NE(limits.max_bytes, 0U);
      }
      if (field.type() == google::protobuf::FieldDescriptor::TYPE_BYTES) {
        EXPECT_TRUE(limits.max_bytes != 0 || limits.exact_bytes != 0);
      }
    }
  }
  EXPECT_EQ(field_limits(*v1::Error::descriptor()->FindFieldByName("message")).max_bytes, 1024U);
  EXPECT_EQ(field_limits(*v1::Hello::descriptor()->FindFieldByName("client_nonce")).exact_bytes, 32U);
}

TEST(FitText, CutsOnCharacterBoundaries) {
  EXPECT_EQ(fit_text("short", 10), "short");
  EXPECT_EQ(fit_text("abcdef", 3), "abc");
  // "a" then U+00E9 (2 bytes) then U+20AC (3 bytes).
  const std::string text = "a\xC3\xA9\xE2\x82\xAC";
  EXPECT_EQ(fit_text(text, 2), "a");
  EXPECT_EQ(fit_text(text, 3), "a\xC3\xA9");
  EXPECT_EQ(fit_text(text, 4), "a\xC3\xA9");
  EXPECT_EQ(fit_text(text, 5), "a\xC3\xA9");
  EXPECT_EQ(fit_text(text, 6), text);
  EXPECT_EQ(fit_text(std::string(2000, 'x')).size(), 1024U);
}

}  // namespace
}  // namespace mpi::protocol
