#include "mpi/hil/counter_pattern_checker.hpp"

#include "mpi/hil/counter_pattern.hpp"

#include <algorithm>
#include <stdexcept>

namespace mpi::hil {

CounterPatternChecker::CounterPatternChecker(unsigned channels) : channels_(channels) {
  if (channels == 0) throw std::invalid_argument("counter pattern checker: a frame needs at least one channel");
}

void CounterPatternChecker::note(const std::string& problem) {
  if (first_problem_.empty()) first_problem_ = problem;
}

void CounterPatternChecker::check(std::uint64_t first, std::uint64_t frames, std::span<const std::byte> payload) {
  if (payload.size() != frames * channels_ * 2U) {
    ++malformed_;
    note("chunk at frame " + std::to_string(first) + " of " + std::to_string(frames) + " frames holds " + std::to_string(payload.size()) +
         " bytes, expected " + std::to_string(frames * channels_ * 2U));
    return;
  }
  if (first > next_) {
    lost_ += first - next_;
    note("frames " + std::to_string(next_) + " .. " + std::to_string(first - 1) + " never arrived");
  } else if (first < next_) {
    duplicated_ += std::min(next_ - first, frames);
    note("frames from " + std::to_string(first) + " arrived again (next expected " + std::to_string(next_) + ")");
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(payload.data());
  for (std::uint64_t i = 0; i < frames; ++i) {
    for (unsigned c = 0; c < channels_; ++c) {
      const std::size_t at = 2 * (i * channels_ + c);
      const auto value = static_cast<std::int16_t>(static_cast<std::uint16_t>(bytes[at] | (bytes[at + 1] << 8U)));
      const std::int16_t want = counter_pattern_sample(first + i, c, channels_);
      if (value != want) {
        ++wrong_;
        note("frame " + std::to_string(first + i) + " channel " + std::to_string(c) + " holds " + std::to_string(value) + ", expected " +
             std::to_string(want));
      }
    }
  }
  checked_ += frames;
  next_ = std::max(next_, first + frames);
}

}  // namespace mpi::hil
