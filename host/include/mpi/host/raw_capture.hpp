// Raw captures: the link's framed messages of a scan, byte for byte as received, after an 8-byte file
// magic. Recording is a tee right after the link reader; replay points the same frame decoder at the file.
#pragma once

#include "mpi/host/bounded_channel.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/framing.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace mpi::host {

inline constexpr char kRawCaptureMagic[8] = {'M', 'P', 'I', 'L', 'I', 'N', 'K', '1'};

// Writes frames on its own thread; push() blocks when the writer falls behind (nothing is dropped).
class RawCaptureWriter {
 public:
  explicit RawCaptureWriter(const std::filesystem::path& file);  // throws naming the file
  ~RawCaptureWriter();                                            // finishes writing
  RawCaptureWriter(const RawCaptureWriter&) = delete;
  RawCaptureWriter& operator=(const RawCaptureWriter&) = delete;

  void push(std::string frame_bytes);  // one whole frame: length prefix + payload
  void finish();                       // drains, flushes and closes; throws if a write failed
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_; }

 private:
  void run();
  std::filesystem::path path_;
  std::ofstream out_;
  BoundedChannel<std::string> queue_;
  std::thread thread_;
  std::uint64_t bytes_ = 0;
  bool failed_ = false;
  bool finished_ = false;
};

// Reads the envelopes of a capture in order. Errors name the file and the byte offset.
class RawCaptureReader {
 public:
  explicit RawCaptureReader(const std::filesystem::path& file);
  // False at the clean end of the file; throws on truncation or corruption.
  bool next(link::v1::Envelope& envelope);

 private:
  std::filesystem::path path_;
  std::ifstream in_;
  std::uint64_t offset_ = 0;
  protocol::FrameDecoder decoder_;
};

}  // namespace mpi::host
