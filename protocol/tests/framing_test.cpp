// Framing of link messages: the 4-byte little-endian length prefix, the incremental decoder under every
// way the bytes can arrive, and the checks parse_envelope makes on a frame's payload.
#include "mpi/protocol/framing.hpp"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace mpi::protocol {
namespace {

using link::v1::Envelope;

std::string int16_payload(std::uint32_t samples, std::uint32_t channels, int seed) {
  std::string bytes;
  bytes.reserve(std::size_t{samples} * channels * 2U);
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t i = 0; i < std::size_t{samples} * channels * 2U; ++i) bytes.push_back(static_cast<char>(byte(rng)));
  return bytes;
}

// Envelopes of most message types, one of them large enough to span many reads.
std::vector<Envelope> sample_envelopes() {
  std::vector<Envelope> list;

  Envelope hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_protocol_major(1);
  hello.mutable_hello()->set_client_name("mpi console");
  hello.mutable_hello()->add_capabilities("chunks");
  list.push_back(hello);

  Envelope reply;
  reply.set_request_id(1);
  reply.mutable_hello_reply()->set_server_name("board-1");
  reply.mutable_hello_reply()->mutable_board()->set_adc_sample_rate_hz(15.625e6);
  reply.mutable_hello_reply()->mutable_board()->add_adc_channel_names("rx");
  list.push_back(reply);

  Envelope configure;
  configure.set_request_id(2);
  auto* drive = configure.mutable_configure()->add_drive();
  drive->set_channel(0);
  drive->set_frequency_hz(25'252.525);
  drive->set_amplitude_t(0.012);
  drive->set_phase_rad(-1.5);
  configure.mutable_configure()->set_ramp_samples(15625);
  list.push_back(configure);

  Envelope stop;  // an empty message body: the envelope is only a tag and a zero length
  stop.set_request_id(3);
  stop.mutable_stop();
  list.push_back(stop);

  Envelope chunk;
  chunk.mutable_chunk()->set_first_sample(std::uint64_t{1} << 40);
  chunk.mutable_chunk()->set_sample_count(20000);
  chunk.mutable_chunk()->set_channel_count(2);
  chunk.mutable_chunk()->set_flags(link::v1::CHUNK_FLAG_OVERWRITTEN | link::v1::CHUNK_FLAG_RAMPING);
  chunk.mutable_chunk()->set_payload(int16_payload(20000, 2, 7));
  list.push_back(chunk);

  Envelope status;
  status.mutable_status()->set_state(link::v1::SCAN_STATE_RUNNING);
  status.mutable_status()->set_write_pointer(123456789);
  status.mutable_status()->set_fault("");
  list.push_back(status);

  Envelope end;
  end.mutable_stream_end()->set_end_sample(99);
  end.mutable_stream_end()->set_reason("stopped by host");
  list.push_back(end);

  Envelope error;
  error.set_request_id(4);
  error.mutable_error()->set_code(link::v1::ERROR_INVALID_ARGUMENT);
  error.mutable_error()->set_message("drive[0].frequency_hz out of range");
  list.push_back(error);

  return list;
}

std::string frame_all(const std::vector<Envelope>& envelopes) {
  std::string stream;
  for (const auto& e : envelopes) EXPECT_TRUE(append_frame(e, stream));
  return stream;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// Drains every complete frame from the decoder, parsing each one while its payload view is valid.
void drain(FrameDecoder& decoder, std::vector<Envelope>& decoded) {
  std::span<const std::byte> payload;
  FrameDecoder::Result result;
  while ((result = decoder.next(payload)) == FrameDecoder::Result::frame) {
    Envelope e;
    std::string error;
    EXPECT_TRUE(parse_envelope(payload, e, error)) << error;
    decoded.push_back(e);
  }
  EXPECT_EQ(result, FrameDecoder::Result::need_more);
}

void expect_same(const std::vector<Envelope>& expected, const std::vector<Envelope>& actual) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(expected[i], actual[i])) << "envelope " << i;
    EXPECT_EQ(actual[i].body_case(), expected[i].body_case()) << "envelope " << i;
  }
}

TEST(Framing, RoundTripInOneFeed) {
  const auto envelopes = sample_envelopes();
  const std::string stream = frame_all(envelopes);
  FrameDecoder decoder;
  decoder.feed(bytes_of(stream));
  std::vector<Envelope> decoded;
  drain(decoder, decoded);
  expect_same(envelopes, decoded);
  EXPECT_EQ(decoder.pending_bytes(), 0U);
}

TEST(Framing, RoundTripByteByByte) {
  const auto envelopes = sample_envelopes();
  const std::string stream = frame_all(envelopes);
  FrameDecoder decoder;
  std::vector<Envelope> decoded;
  for (const char c : stream) {
    decoder.feed(&c, 1);
    drain(decoder, decoded);
  }
  expect_same(envelopes, decoded);
  EXPECT_EQ(decoder.pending_bytes(), 0U);
}

TEST(Framing, RoundTripInRandomSplits) {
  // The stream is repeated so that it exceeds the decoder's compaction threshold several times over.
  std::vector<Envelope> envelopes;
  for (int i = 0; i < 4; ++i) {
    const auto one = sample_envelopes();
    envelopes.insert(envelopes.end(), one.begin(), one.end());
  }
  const std::string stream = frame_all(envelopes);
  ASSERT_GT(stream.size(), std::size_t{1} << 18);
  for (const unsigned seed : {1U, 2U, 3U}) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> split(1, 9000);
    FrameDecoder decoder;
    std::vector<Envelope> decoded;
    std::size_t at = 0;
    while (at < stream.size()) {
      const std::size_t n = std::min(split(rng), stream.size() - at);
      decoder.feed(stream.data() + at, n);
      at += n;
      drain(decoder, decoded);
    }
    expect_same(envelopes, decoded);
    EXPECT_EQ(decoder.pending_bytes(), 0U) << "seed " << seed;
  }
}

TEST(Framing, WriteFrameMatchesAppendFrame) {
  for (const auto& e : sample_envelopes()) {
    std::string appended;
    ASSERT_TRUE(append_frame(e, appended));
    std::vector<std::byte> buffer(appended.size() + 16, std::byte{0xEE});
    ASSERT_EQ(write_frame(e, buffer), appended.size());
    EXPECT_TRUE(std::equal(appended.begin(), appended.end(), buffer.begin(),
                           [](char a, std::byte b) { return static_cast<std::byte>(a) == b; }));
    EXPECT_EQ(buffer[appended.size()], std::byte{0xEE}) << "write_frame wrote past its frame";
  }
}

TEST(Framing, WriteFrameIntoTooSmallBufferReturnsZero) {
  Envelope e;
  e.mutable_error()->set_message("a message of some length");
  const std::size_t needed = kFrameHeaderBytes + e.ByteSizeLong();
  std::vector<std::byte> buffer(needed - 1);
  EXPECT_EQ(write_frame(e, buffer), 0U);
  std::vector<std::byte> header_only(kFrameHeaderBytes);
  EXPECT_EQ(write_frame(e, header_only), 0U);
  EXPECT_EQ(write_frame(e, std::span<std::byte>()), 0U);
  std::vector<std::byte> exact(needed);
  EXPECT_EQ(write_frame(e, exact), needed);
}

TEST(Framing, MessageOverTheLimitIsRefused) {
  Envelope e;
  e.mutable_error()->set_message(std::string(100, 'x'));
  const std::size_t size = e.ByteSizeLong();
  std::vector<std::byte> buffer(size + kFrameHeaderBytes);
  EXPECT_EQ(write_frame(e, buffer, size - 1), 0U);
  EXPECT_EQ(write_frame(e, buffer, size), size + kFrameHeaderBytes);

  std::string out = "prefix";
  EXPECT_FALSE(append_frame(e, out, size - 1));
  EXPECT_EQ(out, "prefix") << "a refused frame must leave the buffer as it was";
  EXPECT_TRUE(append_frame(e, out, size));
  EXPECT_EQ(out.size(), 6 + kFrameHeaderBytes + size);
}

TEST(Framing, LengthPrefixIsLittleEndian) {
  Envelope e;
  e.mutable_chunk()->set_sample_count(150);
  e.mutable_chunk()->set_channel_count(1);
  e.mutable_chunk()->set_payload(int16_payload(150, 1, 3));
  const std::size_t size = e.ByteSizeLong();
  ASSERT_GT(size, 256U);  // two significant length bytes
  std::string out;
  ASSERT_TRUE(append_frame(e, out));
  ASSERT_EQ(out.size(), kFrameHeaderBytes + size);
  const auto byte = [&](std::size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(out[i])); };
  EXPECT_EQ(byte(0), size & 0xFFU);
  EXPECT_EQ(byte(1), (size >> 8) & 0xFFU);
  EXPECT_EQ(byte(2), 0U);
  EXPECT_EQ(byte(3), 0U);
  EXPECT_EQ(out.substr(kFrameHeaderBytes), e.SerializeAsString());

  // And the decoder reads a hand-written little-endian prefix: length 0x000102 = 258.
  std::vector<std::byte> frame = {std::byte{0x02}, std::byte{0x01}, std::byte{0x00}, std::byte{0x00}};
  frame.resize(kFrameHeaderBytes + 258, std::byte{0x5A});
  FrameDecoder decoder;
  decoder.feed(frame);
  std::span<const std::byte> payload;
  ASSERT_EQ(decoder.next(payload), FrameDecoder::Result::frame);
  EXPECT_EQ(payload.size(), 258U);
  EXPECT_EQ(decoder.announced_length(), 258U);
}

TEST(Framing, TruncatedStreamLeavesPendingBytesAndNoFrame) {
  Envelope e;
  e.mutable_stream_end()->set_reason("end");
  std::string stream;
  ASSERT_TRUE(append_frame(e, stream));

  for (const std::size_t cut : {std::size_t{1}, kFrameHeaderBytes - 1, kFrameHeaderBytes, stream.size() - 1}) {
    FrameDecoder decoder;
    decoder.feed(stream.data(), cut);
    std::span<const std::byte> payload;
    EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::need_more) << "cut at " << cut;
    EXPECT_EQ(decoder.pending_bytes(), cut);
  }

  // A whole frame followed by a partial one: the first comes out, the rest stays pending.
  FrameDecoder decoder;
  const std::string two = stream + stream;
  decoder.feed(two.data(), two.size() - 3);
  std::span<const std::byte> payload;
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::frame);
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::need_more);
  EXPECT_EQ(decoder.pending_bytes(), stream.size() - 3);
}

TEST(Framing, OversizedLengthBreaksTheStreamForGood) {
  FrameDecoder decoder(100);
  const std::vector<std::byte> header = {std::byte{101}, std::byte{0}, std::byte{0}, std::byte{0}};
  decoder.feed(header);
  std::span<const std::byte> payload;
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::oversized);
  EXPECT_EQ(decoder.announced_length(), 101U);

  // A valid frame afterwards does not resynchronise the stream.
  Envelope e;
  e.mutable_stop();
  std::string valid;
  ASSERT_TRUE(append_frame(e, valid));
  decoder.feed(bytes_of(valid));
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::oversized);
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::oversized);
  // Nor does a broken decoder keep buffering what a hostile peer sends.
  for (int i = 0; i < 100; ++i) decoder.feed(bytes_of(valid));
  EXPECT_LE(decoder.pending_bytes(), kFrameHeaderBytes);
}

TEST(Framing, LengthAtTheLimitIsAccepted) {
  FrameDecoder decoder(100);
  std::vector<std::byte> frame = {std::byte{100}, std::byte{0}, std::byte{0}, std::byte{0}};
  decoder.feed(frame);
  std::span<const std::byte> payload;
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::need_more);
  frame.assign(100, std::byte{0});
  decoder.feed(frame);
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::frame);
  EXPECT_EQ(payload.size(), 100U);
}

TEST(Framing, DefaultLimitRefusesHugeLength) {
  FrameDecoder decoder;
  EXPECT_EQ(decoder.max_frame_bytes(), kMaxFrameBytes);
  const std::vector<std::byte> header(kFrameHeaderBytes, std::byte{0xFF});
  decoder.feed(header);
  std::span<const std::byte> payload;
  EXPECT_EQ(decoder.next(payload), FrameDecoder::Result::oversized);
  EXPECT_EQ(decoder.announced_length(), 0xFFFFFFFFU);
}

// Garbage payloads behind a valid length. Each is built so that it cannot be a valid protobuf encoding.
TEST(Framing, GarbagePayloadIsNotAnEnvelope) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::vector<std::byte>> garbage;

  // Random bytes after a tag with field number 0, which no protobuf message may use.
  std::vector<std::byte> zero_field{std::byte{0x00}};
  for (int i = 0; i < 63; ++i) zero_field.push_back(static_cast<std::byte>(byte(rng)));
  garbage.push_back(zero_field);

  // Random bytes after a tag with wire type 7, which does not exist.
  std::vector<std::byte> bad_wire_type{std::byte{0x57}};
  for (int i = 0; i < 31; ++i) bad_wire_type.push_back(static_cast<std::byte>(byte(rng)));
  garbage.push_back(bad_wire_type);

  // A varint that never ends.
  garbage.emplace_back(16, std::byte{0xFF});

  // A real SampleChunk envelope cut in the middle of its payload field.
  Envelope chunk;
  chunk.mutable_chunk()->set_sample_count(64);
  chunk.mutable_chunk()->set_channel_count(1);
  chunk.mutable_chunk()->set_payload(int16_payload(64, 1, 5));
  const std::string whole = chunk.SerializeAsString();
  const auto cut = bytes_of(whole).first(whole.size() / 2);
  garbage.emplace_back(cut.begin(), cut.end());

  for (std::size_t i = 0; i < garbage.size(); ++i) {
    // Through the framing, as a peer would send it.
    std::string frame(kFrameHeaderBytes, '\0');
    const auto n = static_cast<std::uint32_t>(garbage[i].size());
    for (std::size_t b = 0; b < kFrameHeaderBytes; ++b) frame[b] = static_cast<char>((n >> (8 * b)) & 0xFFU);
    for (const std::byte g : garbage[i]) frame.push_back(static_cast<char>(g));
    FrameDecoder decoder;
    decoder.feed(bytes_of(frame));
    std::span<const std::byte> payload;
    ASSERT_EQ(decoder.next(payload), FrameDecoder::Result::frame) << "case " << i;
    ASSERT_EQ(payload.size(), garbage[i].size());

    Envelope e;
    std::string error;
    EXPECT_FALSE(parse_envelope(payload, e, error)) << "case " << i;
    EXPECT_NE(error.find("not a valid"), std::string::npos) << error;
    EXPECT_NE(error.find(std::to_string(garbage[i].size()) + " bytes"), std::string::npos) << error;
  }
}

TEST(Framing, EnvelopeWithoutBodyIsRefused) {
  Envelope e;
  e.set_request_id(17);
  const std::string bytes = e.SerializeAsString();
  Envelope parsed;
  std::string error;
  EXPECT_FALSE(parse_envelope(bytes_of(bytes), parsed, error));
  EXPECT_NE(error.find("body"), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(parse_envelope({}, parsed, error)) << "an empty payload has no body either";
  EXPECT_FALSE(error.empty());
}

TEST(Framing, SampleChunkPayloadMustMatchItsShape) {
  Envelope e;
  auto* c = e.mutable_chunk();
  c->set_first_sample(4096);
  c->set_sample_count(10);
  c->set_channel_count(3);
  c->set_payload(std::string(10 * 3 * 2 - 1, '\0'));
  Envelope parsed;
  std::string error;
  EXPECT_FALSE(parse_envelope(bytes_of(e.SerializeAsString()), parsed, error));
  EXPECT_NE(error.find("SampleChunk"), std::string::npos) << error;
  EXPECT_NE(error.find("4096"), std::string::npos) << "names the chunk's first sample: " << error;
  EXPECT_NE(error.find("59"), std::string::npos) << "names the payload size: " << error;
  EXPECT_NE(error.find("60"), std::string::npos) << "names the expected size: " << error;

  c->set_payload(std::string(10 * 3 * 2 + 2, '\0'));
  error.clear();
  EXPECT_FALSE(parse_envelope(bytes_of(e.SerializeAsString()), parsed, error));
  EXPECT_NE(error.find("SampleChunk"), std::string::npos) << error;

  c->set_payload(std::string(10 * 3 * 2, '\0'));
  error.clear();
  EXPECT_TRUE(parse_envelope(bytes_of(e.SerializeAsString()), parsed, error)) << error;
  EXPECT_EQ(parsed.chunk().sample_count(), 10U);

  // An empty chunk with an empty payload is consistent.
  Envelope empty;
  empty.mutable_chunk()->set_channel_count(2);
  error.clear();
  EXPECT_TRUE(parse_envelope(bytes_of(empty.SerializeAsString()), parsed, error)) << error;
}

}  // namespace
}  // namespace mpi::protocol
