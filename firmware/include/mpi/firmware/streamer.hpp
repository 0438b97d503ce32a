// The streaming thread: follows the ADC ring's write pointer from sample 0 of a scan, copies the samples
// into preallocated buffers and serialises them as SampleChunk frames into the frame queue, in order and
// without gaps; a gap (the reader fell a ring behind, or samples were overwritten while copied) is skipped
// and flagged on the next chunk. After the last chunk it queues the scan's StreamEnd.
// Every chunk carries backlog_samples (acquired but not yet sent when it was cut) and its flags: RAMPING
// when it overlaps the ramp-up or the ramp-down, FAULT from the latched fault on, LOST_STEPS from the
// sequence table's first lost step (SeqFirstLostSample, while SeqLostSteps is non-zero) on.
//
// The control thread drives it through a small state machine held in one atomic:
//   idle --arm()--> run --finish_at(end)--> finish --(all samples < end sent)--> drained
//   drained --send_end()--> sending_end --(StreamEnd queued)--> idle
// Nothing on the streaming path allocates, blocks on I/O or logs.
#pragma once

#include "mpi/drivers/adc_ring.hpp"
#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/wakeup.hpp"
#include "mpi/link/v1/link.pb.h"

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace mpi::firmware {

// Default and largest chunk length (frames per SampleChunk) for a board with `channels` ADC channels.
inline constexpr std::uint32_t kDefaultChunkSamples = 8192;
std::uint32_t max_chunk_samples(std::uint32_t channels) noexcept;

struct StreamEndInfo {
  std::uint64_t ramp_up_end_sample = 0;
  std::uint64_t ramp_down_start_sample = 0;
  const char* reason = "";  // a string with static storage duration
};

class Streamer {
 public:
  Streamer(const drivers::RegisterBus& bus, FrameQueue& queue, const Wakeup& wakeup);
  ~Streamer();
  Streamer(const Streamer&) = delete;
  Streamer& operator=(const Streamer&) = delete;

  void start_thread();
  void stop_thread() noexcept;

  // --- control side (all noexcept, allocation-free) ---
  [[nodiscard]] bool idle() const noexcept;
  // Begins a scan at sample 0: chunks of `chunk_samples` frames tagged `scan_id`; chunks before
  // `ramp_samples` are flagged as ramping. Only when idle(); call once the trigger has happened.
  void arm(std::uint64_t scan_id, std::uint32_t chunk_samples, std::uint32_t ramp_samples) noexcept;
  // The ramp-down was commanded while the write pointer stood at `sample`: chunks reaching it are ramping.
  void mark_ramp_down(std::uint64_t sample) noexcept;
  // A safety fault was latched while the write pointer stood at `sample`: the chunk holding it and every
  // later chunk of the scan carry CHUNK_FLAG_FAULT.
  void mark_fault(std::uint64_t sample) noexcept;
  // Stream up to (excluding) `end_sample`, then become drained().
  void finish_at(std::uint64_t end_sample) noexcept;
  [[nodiscard]] bool drained() const noexcept;
  // Queue the StreamEnd (end_sample = next_sample()) after the last chunk, then become idle().
  void send_end(const StreamEndInfo& info) noexcept;

  [[nodiscard]] std::uint64_t next_sample() const noexcept { return next_sample_.load(std::memory_order_acquire); }
  [[nodiscard]] std::uint64_t overwritten_events() const noexcept { return overwritten_events_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t corrupted_events() const noexcept { return corrupted_events_.load(std::memory_order_relaxed); }

 private:
  enum class Phase : int { idle, run, finish, drained, sending_end };

  void run() noexcept;
  bool step() noexcept;        // true if it made progress
  bool queue_end() noexcept;   // true once the StreamEnd is queued
  void skip_ahead(std::uint64_t limit) noexcept;

  drivers::AdcRing ring_;
  const drivers::RegisterBus* bus_;
  FrameQueue* queue_;
  const Wakeup* wakeup_;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::atomic<Phase> phase_{Phase::idle};

  // Set by the control side before the phase change that publishes them.
  std::uint64_t scan_id_ = 0;
  std::uint32_t chunk_samples_ = kDefaultChunkSamples;
  std::uint32_t ramp_samples_ = 0;
  std::atomic<std::uint64_t> end_sample_{0};
  std::atomic<std::uint64_t> ramp_down_from_{UINT64_MAX};
  std::atomic<std::uint64_t> fault_from_{UINT64_MAX};
  StreamEndInfo end_info_;

  // Streaming thread state.
  bool sliced_ = false;
  std::uint64_t next_ = 0;
  std::uint32_t pending_flags_ = 0;
  std::vector<std::int16_t> samples_;
  link::v1::Envelope chunk_message_;
  link::v1::Envelope end_message_;

  std::atomic<std::uint64_t> next_sample_{0};
  std::atomic<std::uint64_t> overwritten_events_{0};
  std::atomic<std::uint64_t> corrupted_events_{0};
};

}  // namespace mpi::firmware
