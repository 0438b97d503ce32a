// Length-prefixed framing of link messages: each frame is a 4-byte little-endian payload length followed
// by the payload (a serialised Envelope). The one decoder here serves the firmware, the host and the raw
// capture files alike.
#pragma once

#include "mpi/link/v1/link.pb.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mpi::protocol {

inline constexpr std::size_t kFrameHeaderBytes = 4;
// Largest payload a peer accepts: a chunk of 65536 frames of 8 channels plus headroom.
inline constexpr std::size_t kMaxFrameBytes = 1U << 21;

// Appends one frame (header + serialised message) to `out`. Returns false if the message is too large.
bool append_frame(const google::protobuf::MessageLite& message, std::string& out, std::size_t max_frame_bytes = kMaxFrameBytes);

// Appends one frame around an already serialised payload (e.g. to re-emit a received frame verbatim).
void append_frame_bytes(std::span<const std::byte> payload, std::string& out);

// Serialises `message` as one frame into `out` (which must hold kFrameHeaderBytes + ByteSizeLong()).
// Returns the frame's size, or 0 if `out` is too small or the message too large. Allocation-free.
std::size_t write_frame(const google::protobuf::MessageLite& message, std::span<std::byte> out, std::size_t max_frame_bytes = kMaxFrameBytes);

// Incremental decoder: feed it bytes as they arrive and take out whole frames.
class FrameDecoder {
 public:
  enum class Result { frame, need_more, oversized };

  explicit FrameDecoder(std::size_t max_frame_bytes = kMaxFrameBytes);

  void feed(std::span<const std::byte> bytes);
  void feed(const void* data, std::size_t size);
  // frame: `payload` views the next frame's payload, valid until the next feed()/next();
  // need_more: no complete frame is buffered; oversized: the length field exceeds the limit (the stream
  // is unusable from here on and the decoder stays in this state).
  Result next(std::span<const std::byte>& payload);
  // Bytes buffered that do not (yet) form a complete frame; nonzero at end of stream means truncation.
  [[nodiscard]] std::size_t pending_bytes() const noexcept { return buffer_.size() - read_; }
  [[nodiscard]] std::uint32_t announced_length() const noexcept { return announced_; }
  [[nodiscard]] std::size_t max_frame_bytes() const noexcept { return max_frame_bytes_; }

 private:
  std::vector<std::byte> buffer_;
  std::size_t read_ = 0;
  std::size_t max_frame_bytes_;
  std::uint32_t announced_ = 0;
  bool broken_ = false;
};

// Parses a frame payload into `envelope`. On failure returns false and says why in `error`.
bool parse_envelope(std::span<const std::byte> payload, link::v1::Envelope& envelope, std::string& error);

}  // namespace mpi::protocol
