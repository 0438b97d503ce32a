// Fuzz target: the link's frame decoder and Envelope parsing (mpi/protocol/framing.hpp).
//
// The input (command_input.hpp) chooses the decoder's frame limit and the sizes of the pieces the stream
// is fed in, so frames split anywhere, several frames in one piece and oversized length fields are all
// reached. The decoder's frames are checked against a one-pass reference split of the whole stream;
// every frame that parses as an Envelope goes through check_limits (mpi/protocol/limits.hpp) and must
// survive a round trip through append_frame/write_frame and a fresh decoder unchanged, with the same
// verdict of check_limits.
#include "command_input.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/framing.hpp"
#include "mpi/protocol/limits.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace {

namespace v1 = mpi::link::v1;
namespace protocol = mpi::protocol;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frame_decoder_fuzz: %s\n", what);
  std::abort();
}

// The frames of `stream` split in one pass, the way the framing is specified: a 4-byte little-endian
// length, then that many payload bytes.
struct ReferenceSplit {
  std::vector<std::span<const std::byte>> frames;
  bool oversized = false;    // a length field above the limit ends the stream
  std::size_t leftover = 0;  // bytes after the last whole frame (when not oversized)
};

ReferenceSplit reference_split(std::span<const std::byte> stream, std::size_t limit) {
  ReferenceSplit split;
  std::size_t at = 0;
  while (stream.size() - at >= 4) {
    const std::uint32_t length = std::to_integer<std::uint32_t>(stream[at]) | std::to_integer<std::uint32_t>(stream[at + 1]) << 8U |
                                 std::to_integer<std::uint32_t>(stream[at + 2]) << 16U |
                                 std::to_integer<std::uint32_t>(stream[at + 3]) << 24U;
    if (length > limit) {
      split.oversized = true;
      return split;
    }
    if (stream.size() - at - 4 < length) break;
    split.frames.push_back(stream.subspan(at + 4, length));
    at += 4 + length;
  }
  split.leftover = stream.size() - at;
  return split;
}

// The field limits of the link (mpi/protocol/limits.hpp): a violation names the field and the limit.
bool within_limits(const v1::Envelope& envelope) {
  const std::optional<protocol::LimitViolation> violation = protocol::check_limits(envelope);
  if (violation && (violation->field.empty() || violation->detail.empty())) fail("a limit violation does not name the field and the limit");
  return !violation;
}

// A parsed Envelope framed again and decoded by a fresh decoder must come back byte for byte.
void check_round_trip(const v1::Envelope& envelope, bool within) {
  const std::string serialised = envelope.SerializeAsString();
  std::string framed;
  if (!protocol::append_frame(envelope, framed)) {
    if (serialised.size() <= protocol::kMaxFrameBytes) fail("append_frame refused a message within the frame limit");
    return;
  }
  if (framed.size() != protocol::kFrameHeaderBytes + serialised.size()) fail("append_frame wrote a frame of the wrong size");

  std::vector<std::byte> written(framed.size());
  if (protocol::write_frame(envelope, written) != framed.size()) fail("write_frame did not fill a buffer of the frame's size");
  if (std::string(reinterpret_cast<const char*>(written.data()), written.size()) != framed) {
    fail("write_frame and append_frame framed the same message differently");
  }
  std::vector<std::byte> short_buffer(framed.size() - 1);
  if (protocol::write_frame(envelope, short_buffer) != 0) fail("write_frame wrote into a buffer one byte too small");

  protocol::FrameDecoder decoder;
  decoder.feed(framed.data(), framed.size());
  std::span<const std::byte> payload;
  if (decoder.next(payload) != protocol::FrameDecoder::Result::frame) fail("a fresh decoder did not return the re-framed message");
  if (payload.size() != serialised.size()) fail("the re-framed payload has the wrong length");
  v1::Envelope again;
  std::string error;
  if (!protocol::parse_envelope(payload, again, error)) fail("a re-framed Envelope no longer parses");
  if (again.SerializeAsString() != serialised) fail("a re-framed Envelope came back changed");
  if (within_limits(again) != within) fail("check_limits judged a re-framed Envelope differently");
  if (decoder.next(payload) != protocol::FrameDecoder::Result::need_more || decoder.pending_bytes() != 0) {
    fail("the decoder holds bytes after the only frame");
  }
}

void check_frame(std::span<const std::byte> payload) {
  v1::Envelope envelope;
  std::string error;
  if (!protocol::parse_envelope(payload, envelope, error)) {
    if (error.empty()) fail("parse_envelope failed without saying why");
    return;
  }
  if (envelope.body_case() == v1::Envelope::BODY_NOT_SET) fail("parse_envelope accepted an Envelope without a body");
  check_round_trip(envelope, within_limits(envelope));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  const std::size_t piece_count = std::min<std::size_t>(data[0] & mpi::fuzz::kPieceCountMask, size - 1);
  const bool small_limit = (data[0] & mpi::fuzz::kSmallLimitFlag) != 0;
  const std::size_t limit = small_limit ? mpi::fuzz::kSmallFrameLimit : protocol::kMaxFrameBytes;
  const std::span<const std::byte> pieces = input.subspan(1, piece_count);
  const std::span<const std::byte> stream = input.subspan(1 + piece_count);

  const ReferenceSplit expected = reference_split(stream, limit);

  protocol::FrameDecoder decoder(limit);
  if (decoder.max_frame_bytes() != limit) fail("the decoder does not keep its frame limit");
  std::size_t frames = 0;
  bool oversized = false;
  std::size_t at = 0;
  std::size_t piece = 0;
  while (at < stream.size()) {
    const std::size_t want = pieces.empty() ? stream.size() : std::to_integer<std::size_t>(pieces[piece++ % pieces.size()]) + 1;
    const std::size_t take = std::min(want, stream.size() - at);
    decoder.feed(stream.subspan(at, take));
    at += take;
    for (;;) {
      std::span<const std::byte> payload;
      const protocol::FrameDecoder::Result result = decoder.next(payload);
      if (result == protocol::FrameDecoder::Result::need_more) break;
      if (result == protocol::FrameDecoder::Result::oversized) {
        if (decoder.announced_length() <= limit) fail("oversized reported for a length within the limit");
        oversized = true;
        break;
      }
      if (frames >= expected.frames.size()) fail("the decoder returned more frames than the stream holds");
      const std::span<const std::byte> reference = expected.frames[frames++];
      if (payload.size() != reference.size() || !std::equal(payload.begin(), payload.end(), reference.begin())) {
        fail("a decoded frame differs from the stream's frame");
      }
      if (decoder.announced_length() != payload.size()) fail("announced_length differs from the frame returned");
      check_frame(payload);
    }
  }
  if (frames != expected.frames.size()) fail("the decoder returned fewer frames than the stream holds");
  if (oversized != expected.oversized) fail("the decoder and the stream disagree on an oversized length field");
  if (oversized) {
    // The stream is unusable from here on: the decoder stays broken whatever else arrives.
    const std::byte zero_frame[4] = {};
    decoder.feed(zero_frame, sizeof zero_frame);
    std::span<const std::byte> payload;
    if (decoder.next(payload) != protocol::FrameDecoder::Result::oversized) fail("the decoder recovered from an oversized length field");
  } else if (decoder.pending_bytes() != expected.leftover) {
    fail("pending_bytes differs from the bytes after the last whole frame");
  }
  return 0;
}
