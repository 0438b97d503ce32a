#include "mpi/firmware/streamer.hpp"

#include "mpi/drivers/register_map.hpp"
#include "mpi/protocol/framing.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>

namespace mpi::firmware {

namespace {

namespace v1 = link::v1;

// Bytes a serialised Envelope{SampleChunk} needs besides its payload (tags, varints), with headroom.
constexpr std::size_t kChunkOverheadBytes = 64;
// Smallest slot: room for a StreamEnd frame whatever the chunk length.
constexpr std::size_t kMinSlotBytes = 256;
constexpr auto kPollInterval = std::chrono::microseconds(100);
constexpr auto kIdleInterval = std::chrono::microseconds(250);

static_assert(std::endian::native == std::endian::little, "SampleChunk payloads are int16 little-endian");

std::size_t slot_bytes_for(std::uint32_t chunk_samples, std::uint32_t channels) {
  return std::max(kMinSlotBytes, protocol::kFrameHeaderBytes + kChunkOverheadBytes +
                                     std::size_t{chunk_samples} * channels * sizeof(std::int16_t));
}

}  // namespace

std::uint32_t max_chunk_samples(std::uint32_t channels) noexcept {
  if (channels == 0) return 0;
  return static_cast<std::uint32_t>((protocol::kMaxFrameBytes - kChunkOverheadBytes) / (std::size_t{channels} * sizeof(std::int16_t)));
}

Streamer::Streamer(const drivers::RegisterBus& bus, FrameQueue& queue, const Wakeup& wakeup)
    : ring_(bus), bus_(&bus), queue_(&queue), wakeup_(&wakeup) {
  // Everything the streaming path touches is sized for the largest chunk now.
  const std::uint32_t largest = max_chunk_samples(ring_.channels());
  samples_.resize(std::size_t{largest} * ring_.channels());
  v1::SampleChunk* chunk = chunk_message_.mutable_chunk();
  chunk->mutable_payload()->reserve(samples_.size() * sizeof(std::int16_t));
  chunk->set_channel_count(ring_.channels());
  end_message_.mutable_stream_end()->mutable_reason()->reserve(128);
}

Streamer::~Streamer() { stop_thread(); }

void Streamer::start_thread() {
  quit_.store(false);
  thread_ = std::thread([this] { run(); });
}

void Streamer::stop_thread() noexcept {
  quit_.store(true);
  if (thread_.joinable()) thread_.join();
}

bool Streamer::idle() const noexcept {
  // A resume not yet taken makes the streamer busy already: a new scan must not be armed under it.
  return phase_.load(std::memory_order_acquire) == Phase::idle &&
         resumes_requested_.load(std::memory_order_acquire) == resumes_applied_.load(std::memory_order_acquire);
}

void Streamer::arm(std::uint64_t scan_id, std::uint32_t chunk_samples, std::uint32_t ramp_samples) noexcept {
  if (!idle()) return;
  // The resume count runs on from scan to scan (resetting it would race with apply_resume()).
  stream_resume_ = resumes_applied_.load(std::memory_order_acquire);
  align_next_ = false;
  chunk_samples_ = std::clamp<std::uint32_t>(chunk_samples, 1, max_chunk_samples(ring_.channels()));
  ramp_samples_ = ramp_samples;
  ramp_down_from_.store(UINT64_MAX, std::memory_order_relaxed);
  fault_from_.store(UINT64_MAX, std::memory_order_relaxed);
  end_sample_.store(UINT64_MAX, std::memory_order_relaxed);
  next_sample_.store(0, std::memory_order_relaxed);
  overwritten_events_.store(0, std::memory_order_relaxed);
  corrupted_events_.store(0, std::memory_order_relaxed);
  sliced_ = false;
  next_ = 0;
  pending_flags_ = 0;
  // Last but the phase: whoever sees the new scan id sees the fields above reset for it.
  scan_id_.store(scan_id, std::memory_order_release);
  phase_.store(Phase::run, std::memory_order_release);
}

void Streamer::mark_ramp_down(std::uint64_t sample) noexcept {
  // Stored before the ramp command is written, so a chunk holding ramp samples always sees it.
  std::uint64_t expected = ramp_down_from_.load(std::memory_order_relaxed);
  while (sample < expected && !ramp_down_from_.compare_exchange_weak(expected, sample, std::memory_order_seq_cst)) {
  }
}

void Streamer::mark_fault(std::uint64_t sample) noexcept {
  std::uint64_t expected = fault_from_.load(std::memory_order_relaxed);
  while (sample < expected && !fault_from_.compare_exchange_weak(expected, sample, std::memory_order_seq_cst)) {
  }
}

void Streamer::finish_at(std::uint64_t end_sample) noexcept {
  end_sample_.store(end_sample, std::memory_order_release);
  Phase expected = Phase::run;
  phase_.compare_exchange_strong(expected, Phase::finish, std::memory_order_acq_rel);
}

bool Streamer::drained() const noexcept { return phase_.load(std::memory_order_acquire) == Phase::drained; }

void Streamer::send_end(const StreamEndInfo& info) noexcept {
  if (!drained()) return;
  end_info_ = info;
  phase_.store(Phase::sending_end, std::memory_order_release);
}

std::uint64_t Streamer::oldest_resumable(std::uint64_t write_pointer) const noexcept {
  const std::uint64_t held = ring_.ring_frames() / 2;  // the margin of skip_ahead()
  return write_pointer > held ? write_pointer - held : 0;
}

std::uint32_t Streamer::resume(std::uint64_t from_sample) noexcept {
  resume_from_.store(from_sample, std::memory_order_release);
  return resumes_requested_.fetch_add(1, std::memory_order_acq_rel) + 1;
}

void Streamer::apply_resume() noexcept {
  const std::uint32_t requested = resumes_requested_.load(std::memory_order_acquire);
  if (requested == resumes_applied_.load(std::memory_order_relaxed)) return;
  next_ = resume_from_.load(std::memory_order_acquire);
  stream_resume_ = requested;
  align_next_ = true;
  pending_flags_ = 0;
  next_sample_.store(next_, std::memory_order_release);
  // After the StreamEnd: send the samples again, then the same StreamEnd. In every other phase the
  // stream simply goes on from the rewound sample (drained: once send_end() comes).
  if (phase_.load(std::memory_order_acquire) == Phase::idle) phase_.store(Phase::sending_end, std::memory_order_release);
  resumes_applied_.store(requested, std::memory_order_release);
}

void Streamer::run() noexcept {
  while (!quit_.load(std::memory_order_acquire)) {
    apply_resume();
    switch (phase_.load(std::memory_order_acquire)) {
      case Phase::idle:
      case Phase::drained:
        std::this_thread::sleep_for(kIdleInterval);
        break;
      case Phase::sending_end:
        if (next_ < end_sample_.load(std::memory_order_acquire)) {
          // A resume rewound the stream: the samples up to the end first.
          if (!step()) std::this_thread::sleep_for(kPollInterval);
        } else if (queue_end()) {
          phase_.store(Phase::idle, std::memory_order_release);
        } else {
          std::this_thread::sleep_for(kPollInterval);
        }
        break;
      case Phase::run:
      case Phase::finish:
        if (!step()) std::this_thread::sleep_for(kPollInterval);
        break;
    }
  }
}

void Streamer::skip_ahead(std::uint64_t limit) noexcept {
  const std::uint64_t wp = ring_.write_pointer();
  const std::uint64_t half = ring_.ring_frames() / 2;
  const std::uint64_t target = wp > half ? wp - half : 0;
  next_ = std::min(std::max(next_, target), limit);
  next_sample_.store(next_, std::memory_order_release);
}

bool Streamer::step() noexcept {
  if (!sliced_) {
    // The frames of the previous scan must be gone before the arena is recut for this one.
    if (!queue_->reslice(slot_bytes_for(chunk_samples_, ring_.channels()))) return false;
    sliced_ = true;
  }
  const Phase phase = phase_.load(std::memory_order_acquire);
  const std::uint64_t limit = phase == Phase::run ? UINT64_MAX : end_sample_.load(std::memory_order_acquire);
  if (next_ >= limit) {
    if (phase != Phase::finish) return false;
    phase_.store(Phase::drained, std::memory_order_release);
    return true;
  }
  std::uint64_t wanted = std::min<std::uint64_t>(chunk_samples_, limit - next_);
  // A resumed stream's first chunk ends on the first stream's chunk boundary.
  if (align_next_) wanted = std::min<std::uint64_t>(wanted, chunk_samples_ - next_ % chunk_samples_);
  const auto count = static_cast<std::uint32_t>(wanted);
  if (ring_.write_pointer() < next_ + count) return false;
  FrameSlot* slot = queue_->try_acquire();
  if (slot == nullptr) return false;  // backpressure: wait for the I/O thread

  const std::span<std::int16_t> samples(samples_.data(), std::size_t{count} * ring_.channels());
  switch (ring_.read(next_, count, samples)) {
    case drivers::ErrorCode::ok:
      break;
    case drivers::ErrorCode::overwritten:
      overwritten_events_.fetch_add(1, std::memory_order_relaxed);
      pending_flags_ |= v1::CHUNK_FLAG_OVERWRITTEN;
      skip_ahead(limit);
      return true;
    case drivers::ErrorCode::corrupted:
      corrupted_events_.fetch_add(1, std::memory_order_relaxed);
      pending_flags_ |= v1::CHUNK_FLAG_CORRUPTED;
      skip_ahead(limit);
      return true;
    default:
      return false;
  }

  std::uint32_t flags = pending_flags_;
  const std::uint64_t last = next_ + count - 1;
  if (next_ < ramp_samples_ || last >= ramp_down_from_.load(std::memory_order_seq_cst)) flags |= v1::CHUNK_FLAG_RAMPING;
  if (last >= fault_from_.load(std::memory_order_seq_cst)) flags |= v1::CHUNK_FLAG_FAULT;
  // The sequence table missed a refill: the chunk holding the first lost step and every later one.
  if (bus_->read32(drivers::regmap::kSeqLostSteps) != 0 && last >= bus_->read64(drivers::regmap::kSeqFirstLostSample)) {
    flags |= v1::CHUNK_FLAG_LOST_STEPS;
  }
  const std::uint64_t acquired = ring_.write_pointer();

  v1::SampleChunk* chunk = chunk_message_.mutable_chunk();
  chunk->set_first_sample(next_);
  chunk->set_sample_count(count);
  chunk->set_flags(flags);
  chunk->set_backlog_samples(acquired > last ? acquired - last - 1 : 0);
  std::string* payload = chunk->mutable_payload();
  payload->resize(samples.size_bytes());
  std::memcpy(payload->data(), samples.data(), samples.size_bytes());

  const std::size_t size = protocol::write_frame(chunk_message_, slot->storage);
  if (size == 0) return false;  // cannot happen: slots are sized for the chunk
  slot->size = size;
  slot->tag = scan_id_.load(std::memory_order_relaxed);
  slot->resume = stream_resume_;
  queue_->publish();
  wakeup_->notify();

  pending_flags_ = 0;
  align_next_ = false;
  next_ += count;
  next_sample_.store(next_, std::memory_order_release);
  return true;
}

bool Streamer::queue_end() noexcept {
  if (!sliced_ && !queue_->reslice(slot_bytes_for(chunk_samples_, ring_.channels()))) return false;
  sliced_ = true;
  FrameSlot* slot = queue_->try_acquire();
  if (slot == nullptr) return false;
  v1::StreamEnd* end = end_message_.mutable_stream_end();
  end->set_end_sample(next_);
  end->set_ramp_up_end_sample(end_info_.ramp_up_end_sample);
  end->set_ramp_down_start_sample(end_info_.ramp_down_start_sample);
  end->set_reason(end_info_.reason);
  end->set_scan_id(scan_id_.load(std::memory_order_relaxed));
  const std::size_t size = protocol::write_frame(end_message_, slot->storage);
  if (size == 0) return false;
  slot->size = size;
  slot->tag = scan_id_.load(std::memory_order_relaxed);
  slot->resume = stream_resume_;
  queue_->publish();
  wakeup_->notify();
  return true;
}

}  // namespace mpi::firmware
