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
//
// Resume (after a host reconnected): resume(from) rewinds the stream of the present scan to `from`. While
// the scan runs or ends, the stream goes on from there, live, to its end; once its StreamEnd was queued
// (idle), the streamer sends the samples from `from` to the scan's end again, then the same StreamEnd:
//   idle --resume()--> sending_end --(samples < end sent, StreamEnd queued)--> idle
// The resumed stream is cut like the first one (its first chunk ends where the first stream's chunk
// did) and flagged the same way; its frames carry the resume's number (FrameSlot::resume), so the frames
// still queued from before the resume can be told apart and dropped.
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

  // --- resume (I/O thread, allocation-free) ---
  // The scan streamed now or last (0: none since start-up).
  [[nodiscard]] std::uint64_t scan_id() const noexcept { return scan_id_.load(std::memory_order_acquire); }
  // The end of the present scan's stream once known (finish_at), UINT64_MAX while the scan still runs.
  [[nodiscard]] std::uint64_t end_sample() const noexcept { return end_sample_.load(std::memory_order_acquire); }
  // The oldest sample a resumed stream may start from with the write pointer at `write_pointer`: the ring
  // minus the margin the streamer keeps against overwrite when it falls behind (half the ring).
  [[nodiscard]] std::uint64_t oldest_resumable(std::uint64_t write_pointer) const noexcept;
  // Streams the present scan again from `from_sample` (checked by the caller: at most end_sample() and
  // the write pointer, at least oldest_resumable()); returns the number its frames carry in
  // FrameSlot::resume. Frames of the scan with another number are stale.
  std::uint32_t resume(std::uint64_t from_sample) noexcept;
  // Resumes requested so far: the number the frames of a scan armed next carry.
  [[nodiscard]] std::uint32_t resumes() const noexcept { return resumes_requested_.load(std::memory_order_acquire); }

  [[nodiscard]] std::uint64_t next_sample() const noexcept { return next_sample_.load(std::memory_order_acquire); }
  [[nodiscard]] std::uint64_t overwritten_events() const noexcept { return overwritten_events_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t corrupted_events() const noexcept { return corrupted_events_.load(std::memory_order_relaxed); }

 private:
  enum class Phase : int { idle, run, finish, drained, sending_end };

  void run() noexcept;
  bool step() noexcept;        // true if it made progress
  bool queue_end() noexcept;   // true once the StreamEnd is queued
  void skip_ahead(std::uint64_t limit) noexcept;
  void apply_resume() noexcept;  // streaming thread: takes a pending resume() request

  drivers::AdcRing ring_;
  const drivers::RegisterBus* bus_;
  FrameQueue* queue_;
  const Wakeup* wakeup_;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::atomic<Phase> phase_{Phase::idle};

  // Set by the control side before the phase change that publishes them.
  std::atomic<std::uint64_t> scan_id_{0};
  std::uint32_t chunk_samples_ = kDefaultChunkSamples;
  std::uint32_t ramp_samples_ = 0;
  std::atomic<std::uint64_t> end_sample_{0};
  std::atomic<std::uint64_t> ramp_down_from_{UINT64_MAX};
  std::atomic<std::uint64_t> fault_from_{UINT64_MAX};
  StreamEndInfo end_info_;
  // Resume requests: the I/O thread stores the sample, then counts the request; the streaming thread
  // takes the latest one.
  std::atomic<std::uint64_t> resume_from_{0};
  std::atomic<std::uint32_t> resumes_requested_{0};
  std::atomic<std::uint32_t> resumes_applied_{0};

  // Streaming thread state.
  bool sliced_ = false;
  std::uint64_t next_ = 0;
  std::uint32_t pending_flags_ = 0;
  std::uint32_t stream_resume_ = 0;  // FrameSlot::resume of the frames now cut
  bool align_next_ = false;          // after a resume: end the next chunk where the first stream's did
  std::vector<std::int16_t> samples_;
  link::v1::Envelope chunk_message_;
  link::v1::Envelope end_message_;

  std::atomic<std::uint64_t> next_sample_{0};
  std::atomic<std::uint64_t> overwritten_events_{0};
  std::atomic<std::uint64_t> corrupted_events_{0};
};

}  // namespace mpi::firmware
