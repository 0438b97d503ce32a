// Driver for the offset sequence table (register map v2): the gradient/focus offset channels step through
// a sequence of segments (ramp-up, regular, ramp-down), each a list of steps repeated a number of times.
// A step holds one DAC code per offset channel and the step's flags (drive outputs enabled, DDS phases
// resynchronised at its first sample). The hardware table has kSeqSlots slots; the driver expands the
// segments lazily: step k goes into slot k mod kSeqSlots, after which SeqWriteCount is raised to k + 1.
//
// The segment kinds are labels: segments may come in any order (background frames before the ramp-up and
// after the ramp-down, say).
//
// The tail (enable_tail): without one, the table ends with the sequence (steps past it are lost). With
// one, the table never ends: after the sequence's last step, and from the first step not yet written once
// ramp_down_now() is called, every offset channel ramps linearly from the last written step's value to
// zero over the tail's steps and holds zero until acquisition stops, so that no coil is ever cut hard.
//
// Set-up (constructor, load, enable_tail) allocates and may throw; start, refill, ramp_down_now and the
// queries are noexcept and allocation-free. The storage is bounded by the capacity given to the constructor.
#pragma once

#include "mpi/drivers/error_code.hpp"
#include "mpi/drivers/register_bus.hpp"
#include "mpi/drivers/register_map.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mpi::drivers {

enum class SegmentKind : std::uint8_t { ramp_up, regular, ramp_down };

struct SequenceStep {
  std::array<std::int32_t, regmap::kMaxOffsetChannels> values{};  // DAC code per offset channel
  bool enable = true;   // drive outputs on during the step (off multiplies every drive output by 0)
  bool resync = false;  // DDS phases restart at the step's first sample
};

struct SequenceSegment {
  SegmentKind kind = SegmentKind::regular;
  std::vector<SequenceStep> steps;  // played in order, `repetitions` times
  std::uint64_t repetitions = 1;
};

// The most segments and distinct steps (summed over the segments, before repetition) a sequence may hold.
struct SequenceCapacity {
  std::size_t segments = 16;
  std::size_t steps = 65536;
};

class OffsetSequence {
 public:
  // Preallocates storage for `capacity`; throws std::invalid_argument for a zero capacity.
  OffsetSequence(RegisterBus& bus, SequenceCapacity capacity);

  // Validates and stores a sequence (set-up). Throws std::invalid_argument naming the segment, step and
  // channel of the first problem: no segments, a segment without steps or with 0 repetitions, segments
  // out of order (ramp-up, then regular, then ramp-down), a value outside -kDacFullScale..kDacFullScale,
  // a non-zero value for an offset channel the board does not have, more than the capacity, or more than
  // 2^64 - 1 steps in all. Throws std::logic_error while a started sequence runs. On a throw the stored
  // sequence is unchanged.
  void load(std::span<const SequenceSegment> segments);

  // After load(): the sequence gets a tail ramping every channel to zero over `ramp_steps` (>= 1) steps.
  // load() removes it. Throws std::invalid_argument for 0 and std::logic_error while a sequence runs.
  void enable_tail(std::uint64_t ramp_steps);

  // Programs the table for the next trigger: the first min(total, kSeqSlots) steps (with a tail: the first
  // look_ahead_steps steps) into their slots,
  // SeqStepSamples, SeqWriteCount and the SeqControl enable bit. `look_ahead_steps` (1..kSeqSlots) is how
  // far beyond the logic's present step refill() keeps the table written. Refuses with sequence_empty,
  // invalid_step_samples, invalid_look_ahead, or acquisition_running (the table is read at the trigger).
  [[nodiscard]] ErrorCode start(std::uint32_t step_samples, std::uint32_t look_ahead_steps = regmap::kSeqSlots) noexcept;
  // Call every control tick. While acquisition runs, writes the steps up to (excluding) the logic's step +
  // look-ahead into their slots, then raises SeqWriteCount; steps the logic has already passed are
  // skipped. The logic's step is SeqReadIndex, bounded by WritePointer / SeqStepSamples + 1 (so that a
  // stale index of an earlier run cannot make it overwrite slots not yet played). Returns the number of
  // steps written.
  std::uint64_t refill() noexcept;
  // Disables the table for the next trigger (SeqControl enable bit cleared).
  void stop() noexcept;
  // With a tail: the tail starts at the first step not yet written (if it has not started yet). The steps
  // already written (at most the look-ahead beyond the logic's step) are still played.
  void ramp_down_now() noexcept;
  // First step of the tail (total_steps() until ramp_down_now()), and the first step at zero after it.
  [[nodiscard]] std::uint64_t tail_start_step() const noexcept;
  [[nodiscard]] std::uint64_t tail_zero_step() const noexcept;

  [[nodiscard]] std::uint64_t total_steps() const noexcept;    // all steps, repetitions expanded
  [[nodiscard]] std::uint64_t written_steps() const noexcept;  // steps handed to the table (SeqWriteCount)
  [[nodiscard]] bool fully_written() const noexcept;
  [[nodiscard]] std::size_t segment_count() const noexcept;
  // The segment that plays `step` (segment_count() past the end) and its kind (ramp_down past the end).
  [[nodiscard]] std::size_t segment_of_step(std::uint64_t step) const noexcept;
  [[nodiscard]] SegmentKind kind_of_step(std::uint64_t step) const noexcept;
  // First step (repetitions expanded) of segment `segment`; total_steps() past the end.
  [[nodiscard]] std::uint64_t first_step_of_segment(std::size_t segment) const noexcept;

  // The logic's counters.
  [[nodiscard]] std::uint64_t read_index() const noexcept;         // SeqReadIndex
  [[nodiscard]] std::uint32_t lost_steps() const noexcept;         // SeqLostSteps
  [[nodiscard]] std::uint64_t first_lost_sample() const noexcept;  // SeqFirstLostSample (0: none lost)

 private:
  struct Segment {
    SegmentKind kind;
    std::size_t first;        // index into steps_
    std::size_t count;        // distinct steps
    std::uint64_t first_step; // first expanded step
    std::uint64_t length;     // count * repetitions
  };
  void write_next() noexcept;  // writes step next_ (of the sequence or its tail) into its slot and advances the cursor
  void write_slot(const SequenceStep& step) noexcept;  // into step next_'s slot
  [[nodiscard]] SequenceStep tail_step(std::uint64_t step) const noexcept;
  void seek(std::uint64_t step) noexcept;

  RegisterBus* bus_;
  SequenceCapacity capacity_;
  std::vector<SequenceStep> steps_;
  std::vector<Segment> segments_;
  std::uint64_t total_ = 0;
  bool started_ = false;
  std::uint32_t step_samples_ = 1;
  std::uint32_t look_ahead_ = regmap::kSeqSlots;
  // Cursor of the next step to write: global index, segment, position within the segment's steps.
  std::uint64_t next_ = 0;
  std::size_t segment_ = 0;
  std::size_t position_ = 0;
  // The tail.
  std::uint64_t tail_ramp_steps_ = 0;  // 0: no tail
  std::uint64_t tail_start_ = 0;
  SequenceStep tail_from_{};
  SequenceStep last_written_{};
};

}  // namespace mpi::drivers
