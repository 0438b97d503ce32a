// The receiving end of the counter pattern: checks chunks of streamed ADC frames (first frame index, frame
// count, int16 little-endian samples with the channels interleaved) against counter_pattern_sample() and
// counts frames lost, frames delivered twice and samples that do not carry their index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace mpi::hil {

class CounterPatternChecker {
 public:
  // `channels`: ADC channels per frame; throws std::invalid_argument for 0.
  explicit CounterPatternChecker(unsigned channels);

  // Checks a chunk claiming to hold frames first .. first + frames - 1. A payload whose size is not
  // frames * channels * 2 bytes counts as one malformed chunk and is not checked further.
  void check(std::uint64_t first, std::uint64_t frames, std::span<const std::byte> payload);

  [[nodiscard]] unsigned channels() const noexcept { return channels_; }
  [[nodiscard]] std::uint64_t next_frame() const noexcept { return next_; }        // one past the highest frame seen
  [[nodiscard]] std::uint64_t frames_checked() const noexcept { return checked_; }
  [[nodiscard]] std::uint64_t lost_frames() const noexcept { return lost_; }        // gaps between chunks
  [[nodiscard]] std::uint64_t duplicated_frames() const noexcept { return duplicated_; }
  [[nodiscard]] std::uint64_t wrong_samples() const noexcept { return wrong_; }
  [[nodiscard]] std::uint64_t malformed_chunks() const noexcept { return malformed_; }
  [[nodiscard]] bool clean() const noexcept { return lost_ == 0 && duplicated_ == 0 && wrong_ == 0 && malformed_ == 0; }
  // The first problem found, in words (empty while clean()).
  [[nodiscard]] const std::string& first_problem() const noexcept { return first_problem_; }

 private:
  void note(const std::string& problem);

  unsigned channels_;
  std::uint64_t next_ = 0;
  std::uint64_t checked_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t duplicated_ = 0;
  std::uint64_t wrong_ = 0;
  std::uint64_t malformed_ = 0;
  std::string first_problem_;
};

}  // namespace mpi::hil
