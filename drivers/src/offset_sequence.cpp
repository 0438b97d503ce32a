#include "mpi/drivers/offset_sequence.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace mpi::drivers {

using namespace regmap;

namespace {

std::string where(std::size_t segment, std::size_t step) {
  return "offset sequence segment " + std::to_string(segment) + " step " + std::to_string(step);
}

}  // namespace

OffsetSequence::OffsetSequence(RegisterBus& bus, SequenceCapacity capacity) : bus_(&bus), capacity_(capacity) {
  if (capacity.segments == 0 || capacity.steps == 0) {
    throw std::invalid_argument("offset sequence: capacity must allow at least one segment and one step");
  }
  steps_.reserve(capacity.steps);
  segments_.reserve(capacity.segments);
}

void OffsetSequence::load(std::span<const SequenceSegment> segments) {
  if (started_ && (bus_->read32(kAcqStatus) & kAcqRunning) != 0) {
    throw std::logic_error("offset sequence: cannot load a new sequence while the started one runs");
  }
  if (segments.empty()) throw std::invalid_argument("offset sequence: no segments");
  if (segments.size() > capacity_.segments) {
    throw std::invalid_argument("offset sequence: " + std::to_string(segments.size()) + " segments exceed the capacity of " +
                                std::to_string(capacity_.segments));
  }
  const unsigned channels = std::min(bus_->read32(kOffsetChannels), kMaxOffsetChannels);
  std::size_t distinct = 0;
  std::uint64_t total = 0;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    const SequenceSegment& seg = segments[s];
    const std::string name = "offset sequence segment " + std::to_string(s);
    if (seg.steps.empty()) throw std::invalid_argument(name + ": no steps");
    if (seg.repetitions == 0) throw std::invalid_argument(name + ": repetitions must be at least 1");
    for (std::size_t k = 0; k < seg.steps.size(); ++k) {
      for (unsigned c = 0; c < kMaxOffsetChannels; ++c) {
        const std::int32_t v = seg.steps[k].values[c];
        if (v < -kDacFullScale || v > kDacFullScale) {
          throw std::invalid_argument(where(s, k) + ": offset channel " + std::to_string(c) + " value " + std::to_string(v) +
                                      " outside -" + std::to_string(kDacFullScale) + ".." + std::to_string(kDacFullScale));
        }
        if (c >= channels && v != 0) {
          throw std::invalid_argument(where(s, k) + ": offset channel " + std::to_string(c) + " value " + std::to_string(v) +
                                      " but the board has " + std::to_string(channels) + " offset channels");
        }
      }
    }
    distinct += seg.steps.size();
    if (distinct > capacity_.steps) {
      throw std::invalid_argument(name + ": " + std::to_string(distinct) + " steps exceed the capacity of " +
                                  std::to_string(capacity_.steps));
    }
    const std::uint64_t count = seg.steps.size();
    if (seg.repetitions > std::numeric_limits<std::uint64_t>::max() / count ||
        count * seg.repetitions > std::numeric_limits<std::uint64_t>::max() - total) {
      throw std::invalid_argument(name + ": the sequence has more than 2^64 - 1 steps");
    }
    total += count * seg.repetitions;
  }

  // Validated: store within the preallocated capacity.
  steps_.clear();
  segments_.clear();
  std::uint64_t first_step = 0;
  for (const SequenceSegment& seg : segments) {
    const Segment stored{seg.kind, steps_.size(), seg.steps.size(), first_step, seg.steps.size() * seg.repetitions};
    segments_.push_back(stored);
    steps_.insert(steps_.end(), seg.steps.begin(), seg.steps.end());
    first_step += stored.length;
  }
  total_ = total;
  started_ = false;
  tail_ramp_steps_ = 0;
  seek(0);
}

void OffsetSequence::enable_tail(std::uint64_t ramp_steps) {
  if (started_ && (bus_->read32(kAcqStatus) & kAcqRunning) != 0) {
    throw std::logic_error("offset sequence: cannot change the tail while the started sequence runs");
  }
  if (ramp_steps == 0) throw std::invalid_argument("offset sequence: the tail's ramp must last at least 1 step");
  tail_ramp_steps_ = ramp_steps;
}

ErrorCode OffsetSequence::start(std::uint32_t step_samples, std::uint32_t look_ahead_steps) noexcept {
  if (segments_.empty()) return ErrorCode::sequence_empty;
  if (step_samples == 0) return ErrorCode::invalid_step_samples;
  if (look_ahead_steps == 0 || look_ahead_steps > kSeqSlots) return ErrorCode::invalid_look_ahead;
  if ((bus_->read32(kAcqStatus) & kAcqRunning) != 0) return ErrorCode::acquisition_running;
  step_samples_ = step_samples;
  look_ahead_ = look_ahead_steps;
  seek(0);
  last_written_ = SequenceStep{};
  tail_start_ = total_;
  // With a tail, no more than the look-ahead is committed, so that ramp_down_now() takes effect soon.
  const std::uint64_t first = tail_ramp_steps_ > 0 ? look_ahead_steps : std::min<std::uint64_t>(total_, kSeqSlots);
  while (next_ < first) write_next();
  bus_->write32(kSeqStepSamples, step_samples);
  bus_->write64(kSeqWriteCount, next_);
  bus_->write32(kSeqControl, bus_->read32(kSeqControl) | kSeqEnable);
  started_ = true;
  return ErrorCode::ok;
}

std::uint64_t OffsetSequence::refill() noexcept {
  const bool endless = tail_ramp_steps_ > 0;
  if (!started_ || (!endless && next_ >= total_)) return 0;
  if ((bus_->read32(kAcqStatus) & kAcqRunning) == 0) return 0;
  const std::uint64_t by_pointer = bus_->read64(kWritePointer) / step_samples_ + 1U;
  const std::uint64_t logic = std::min(bus_->read64(kSeqReadIndex), by_pointer);
  if (logic > next_) seek(endless ? logic : std::min(logic, total_));
  const std::uint64_t end = endless ? logic + look_ahead_ : std::min(total_, logic + look_ahead_);
  const std::uint64_t before = next_;
  while (next_ < end) write_next();
  if (next_ == before) return 0;
  bus_->write64(kSeqWriteCount, next_);
  return next_ - before;
}

void OffsetSequence::stop() noexcept {
  bus_->write32(kSeqControl, bus_->read32(kSeqControl) & ~kSeqEnable);
  started_ = false;
}

void OffsetSequence::ramp_down_now() noexcept {
  if (tail_ramp_steps_ == 0 || next_ >= tail_start_) return;
  tail_start_ = next_;
  tail_from_ = last_written_;
}

std::uint64_t OffsetSequence::tail_start_step() const noexcept { return tail_start_; }

std::uint64_t OffsetSequence::tail_zero_step() const noexcept { return tail_start_ + tail_ramp_steps_; }

SequenceStep OffsetSequence::tail_step(std::uint64_t step) const noexcept {
  // Linear from the last step before the tail (at tail_start_ - 1) to zero at tail_start_ + ramp - 1.
  SequenceStep out;
  out.enable = tail_from_.enable;
  out.resync = false;
  const std::uint64_t into = step - tail_start_ + 1;
  if (into >= tail_ramp_steps_) return out;
  const double remaining = 1.0 - static_cast<double>(into) / static_cast<double>(tail_ramp_steps_);
  for (unsigned c = 0; c < kMaxOffsetChannels; ++c) {
    out.values[c] = static_cast<std::int32_t>(std::lround(static_cast<double>(tail_from_.values[c]) * remaining));
  }
  return out;
}

void OffsetSequence::write_next() noexcept {
  if (next_ == tail_start_ && tail_start_ == total_) tail_from_ = last_written_;  // the program ran to its end
  if (next_ >= tail_start_) {
    write_slot(tail_step(next_));
    ++next_;
    return;
  }
  const Segment& seg = segments_[segment_];
  write_slot(steps_[seg.first + position_]);
  ++next_;
  if (++position_ == seg.count) position_ = 0;
  if (next_ == seg.first_step + seg.length && segment_ + 1 < segments_.size()) {
    ++segment_;
    position_ = 0;
  }
}

void OffsetSequence::write_slot(const SequenceStep& step) noexcept {
  const auto slot = static_cast<unsigned>(next_ % kSeqSlots);
  for (unsigned c = 0; c < kMaxOffsetChannels; ++c) {
    bus_->write32(seq_value_register(slot, c), static_cast<std::uint32_t>(step.values[c]));
  }
  bus_->write32(seq_slot_register(slot, kStepFlags), (step.enable ? kStepEnable : 0U) | (step.resync ? kStepResync : 0U));
  last_written_ = step;
}

void OffsetSequence::seek(std::uint64_t step) noexcept {
  next_ = step;
  segment_ = std::min(segment_of_step(step), segments_.empty() ? 0 : segments_.size() - 1);
  position_ = segments_.empty() || step >= total_
                  ? 0
                  : static_cast<std::size_t>((step - segments_[segment_].first_step) % segments_[segment_].count);
}

std::uint64_t OffsetSequence::total_steps() const noexcept { return total_; }

std::uint64_t OffsetSequence::written_steps() const noexcept { return started_ ? next_ : 0; }

bool OffsetSequence::fully_written() const noexcept { return started_ && next_ >= total_; }

std::size_t OffsetSequence::segment_count() const noexcept { return segments_.size(); }

std::size_t OffsetSequence::segment_of_step(std::uint64_t step) const noexcept {
  if (step >= total_) return segments_.size();
  const auto after = std::upper_bound(segments_.begin(), segments_.end(), step,
                                      [](std::uint64_t s, const Segment& seg) { return s < seg.first_step; });
  return static_cast<std::size_t>(after - segments_.begin()) - 1;
}

SegmentKind OffsetSequence::kind_of_step(std::uint64_t step) const noexcept {
  const std::size_t s = segment_of_step(step);
  return s < segments_.size() ? segments_[s].kind : SegmentKind::ramp_down;
}

std::uint64_t OffsetSequence::first_step_of_segment(std::size_t segment) const noexcept {
  return segment < segments_.size() ? segments_[segment].first_step : total_;
}

std::uint64_t OffsetSequence::read_index() const noexcept { return bus_->read64(kSeqReadIndex); }

std::uint32_t OffsetSequence::lost_steps() const noexcept { return bus_->read32(kSeqLostSteps); }

std::uint64_t OffsetSequence::first_lost_sample() const noexcept { return bus_->read64(kSeqFirstLostSample); }

}  // namespace mpi::drivers
