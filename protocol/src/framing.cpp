#include "mpi/protocol/framing.hpp"

#include <algorithm>
#include <cstring>

namespace mpi::protocol {

namespace {

void put_length(std::byte* out, std::uint32_t length) {
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) out[i] = static_cast<std::byte>((length >> (8 * i)) & 0xFFU);
}

std::uint32_t get_length(const std::byte* in) {
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kFrameHeaderBytes; ++i) length |= std::to_integer<std::uint32_t>(in[i]) << (8 * i);
  return length;
}

}  // namespace

bool append_frame(const google::protobuf::MessageLite& message, std::string& out, std::size_t max_frame_bytes) {
  const std::size_t size = message.ByteSizeLong();
  if (size > max_frame_bytes) return false;
  const std::size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + size);
  auto* base = reinterpret_cast<std::byte*>(out.data() + start);  // NOLINT: byte view of the buffer
  put_length(base, static_cast<std::uint32_t>(size));
  return message.SerializeToArray(base + kFrameHeaderBytes, static_cast<int>(size));
}

void append_frame_bytes(std::span<const std::byte> payload, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + payload.size());
  auto* base = reinterpret_cast<std::byte*>(out.data() + start);  // NOLINT: byte view of the buffer
  put_length(base, static_cast<std::uint32_t>(payload.size()));
  std::copy(payload.begin(), payload.end(), base + kFrameHeaderBytes);
}

std::size_t write_frame(const google::protobuf::MessageLite& message, std::span<std::byte> out, std::size_t max_frame_bytes) {
  const std::size_t size = message.ByteSizeLong();
  if (size > max_frame_bytes || out.size() < kFrameHeaderBytes + size) return 0;
  put_length(out.data(), static_cast<std::uint32_t>(size));
  if (!message.SerializeToArray(out.data() + kFrameHeaderBytes, static_cast<int>(size))) return 0;
  return kFrameHeaderBytes + size;
}

FrameDecoder::FrameDecoder(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

void FrameDecoder::feed(std::span<const std::byte> bytes) {
  if (broken_) return;
  if (read_ > 0 && read_ == buffer_.size()) {
    buffer_.clear();
    read_ = 0;
  } else if (read_ > (1U << 16) && read_ * 2 > buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
    read_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::feed(const void* data, std::size_t size) {
  feed(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
}

FrameDecoder::Result FrameDecoder::next(std::span<const std::byte>& payload) {
  if (broken_) return Result::oversized;
  if (pending_bytes() < kFrameHeaderBytes) return Result::need_more;
  announced_ = get_length(buffer_.data() + read_);
  if (announced_ > max_frame_bytes_) {
    broken_ = true;
    return Result::oversized;
  }
  if (pending_bytes() < kFrameHeaderBytes + announced_) return Result::need_more;
  payload = std::span<const std::byte>(buffer_.data() + read_ + kFrameHeaderBytes, announced_);
  read_ += kFrameHeaderBytes + announced_;
  return Result::frame;
}

bool parse_envelope(std::span<const std::byte> payload, link::v1::Envelope& envelope, std::string& error) {
  if (!envelope.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    error = "frame of " + std::to_string(payload.size()) + " bytes is not a valid link v1 Envelope";
    return false;
  }
  if (envelope.body_case() == link::v1::Envelope::BODY_NOT_SET) {
    error = "Envelope without a message body (unknown message type?)";
    return false;
  }
  if (envelope.has_chunk()) {
    const auto& c = envelope.chunk();
    const std::uint64_t expected = std::uint64_t{c.sample_count()} * c.channel_count() * 2U;
    if (c.payload().size() != expected) {
      error = "SampleChunk at sample " + std::to_string(c.first_sample()) + " carries " + std::to_string(c.payload().size()) +
              " payload bytes, but " + std::to_string(c.sample_count()) + " samples x " + std::to_string(c.channel_count()) +
              " channels need " + std::to_string(expected);
      return false;
    }
  }
  return true;
}

}  // namespace mpi::protocol
