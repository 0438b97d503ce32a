#include "mpi/host/raw_capture.hpp"

#include "mpi/protocol/framing.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

namespace mpi::host {

RawCaptureWriter::RawCaptureWriter(const std::filesystem::path& file)
    : path_(file), out_(file, std::ios::binary | std::ios::trunc), queue_(256, WhenFull::block) {
  if (!out_) throw std::runtime_error(file.string() + ": cannot create raw capture: " + std::strerror(errno));
  out_.write(kRawCaptureMagic, sizeof kRawCaptureMagic);
  out_.flush();
  bytes_ = sizeof kRawCaptureMagic;
  thread_ = std::thread([this] { run(); });
}

RawCaptureWriter::~RawCaptureWriter() {
  try {
    finish();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; finish() reported it if called
  }
}

void RawCaptureWriter::push(std::string frame_bytes) { queue_.push(std::move(frame_bytes)); }

void RawCaptureWriter::run() {
  while (auto frame = queue_.pop()) {
    if (failed_) continue;
    // The capture is the recording's journal (mdf_recorder.hpp): each frame goes to the operating system as
    // soon as it is written, so a crash or kill of the host loses at most the frames still queued here
    // (normally none, at most the queue's 256) and a partly written last record, far less than the
    // 100 ms / 4 MiB the recording promises. A power loss can lose what the OS had not written yet.
    out_.write(frame->data(), static_cast<std::streamsize>(frame->size()));
    out_.flush();
    if (!out_) failed_ = true;
    bytes_ += frame->size();
  }
}

void RawCaptureWriter::finish() {
  if (finished_) return;
  finished_ = true;
  queue_.close();
  if (thread_.joinable()) thread_.join();
  out_.flush();
  out_.close();
  if (failed_ || !out_) throw std::runtime_error(path_.string() + ": writing the raw capture failed (disk full?)");
}

RawCaptureReader::RawCaptureReader(const std::filesystem::path& file) : path_(file), in_(file, std::ios::binary) {
  if (!in_) throw std::runtime_error(file.string() + ": cannot open raw capture: " + std::strerror(errno));
  std::array<char, sizeof kRawCaptureMagic> magic{};
  in_.read(magic.data(), magic.size());
  if (in_.gcount() != static_cast<std::streamsize>(magic.size()) || std::memcmp(magic.data(), kRawCaptureMagic, magic.size()) != 0) {
    throw std::runtime_error(file.string() + ": not a raw capture (bad file magic)");
  }
  offset_ = magic.size();
}

bool RawCaptureReader::next(link::v1::Envelope& envelope) {
  std::span<const std::byte> payload;
  for (;;) {
    const auto result = decoder_.next(payload);
    if (result == protocol::FrameDecoder::Result::frame) break;
    const std::string where = path_.string() + " at byte " + std::to_string(offset_);
    if (result == protocol::FrameDecoder::Result::oversized) {
      throw std::runtime_error(where + ": frame length " + std::to_string(decoder_.announced_length()) + " exceeds the limit");
    }
    std::array<char, 1 << 16> block{};
    in_.read(block.data(), block.size());
    const auto got = static_cast<std::size_t>(in_.gcount());
    if (got == 0) {
      if (decoder_.pending_bytes() == 0) return false;
      throw std::runtime_error(where + ": truncated frame (the file ends inside it)");
    }
    decoder_.feed(block.data(), got);
  }
  std::string error;
  if (!protocol::parse_envelope(payload, envelope, error)) throw std::runtime_error(path_.string() + " at byte " + std::to_string(offset_) + ": " + error);
  offset_ += protocol::kFrameHeaderBytes + payload.size();
  return true;
}

}  // namespace mpi::host
