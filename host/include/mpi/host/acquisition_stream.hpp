// Turns the stream of link messages of one scan into frames: the board's HelloReply and ConfigureReply
// fix the acquisition set-up, SampleChunks go through the FrameAssembler, StreamEnd closes the stream.
// Live scans and replays of a raw capture feed the same messages into this class, so both produce the
// same frames from the same samples.
#pragma once

#include "mpi/host/frame_assembler.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/link/v1/link.pb.h"

#include <functional>
#include <memory>
#include <optional>

namespace mpi::host {

class AcquisitionStream {
 public:
  using FrameSink = std::function<void(Frame&&)>;

  // Frames beyond plan.sequence.frames are not forwarded. For a plan naming a sequence the ConfigureReply
  // is checked against the drive the host computes from plan and scanner (plan_drive).
  AcquisitionStream(const ScanPlan& plan, const ScannerDescription& scanner, FrameSink sink);

  // Throws std::runtime_error on messages that contradict the scan (a chunk before the configuration,
  // a channel count that changed, a board Error).
  void consume(const link::v1::Envelope& envelope);

  [[nodiscard]] bool configured() const noexcept { return setup_.has_value(); }
  [[nodiscard]] bool ended() const noexcept { return ended_; }
  [[nodiscard]] const AcquisitionSetup& setup() const;  // valid once configured()
  [[nodiscard]] const link::v1::BoardInfo& board() const noexcept { return board_; }
  [[nodiscard]] const link::v1::StreamEnd& stream_end() const noexcept { return end_; }
  [[nodiscard]] AssemblyCounters counters() const;
  [[nodiscard]] std::uint64_t frames_forwarded() const noexcept { return forwarded_; }
  [[nodiscard]] std::uint64_t chunk_flags_seen() const noexcept { return flags_seen_; }
  // The first sample not yet received (where a resumed stream must continue).
  [[nodiscard]] std::uint64_t next_sample() const noexcept { return next_sample_; }

 private:
  ScanPlan plan_;
  ScannerDescription scanner_;
  FrameSink sink_;
  link::v1::BoardInfo board_;
  bool have_board_ = false;
  std::optional<AcquisitionSetup> setup_;
  std::unique_ptr<FrameAssembler> assembler_;
  link::v1::StreamEnd end_;
  bool ended_ = false;
  std::uint64_t forwarded_ = 0;
  std::uint32_t flags_seen_ = 0;
  std::uint64_t next_sample_ = 0;
};

// Samples per drive period for a realised drive frequency; throws if the period is not a whole number of
// samples (frames would not hold whole periods and the spectrum would leak).
std::uint32_t samples_per_period(double sample_rate_hz, double drive_frequency_hz);

}  // namespace mpi::host
