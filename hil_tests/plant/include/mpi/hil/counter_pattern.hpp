// The plant's counter pattern: instead of physics, ADC frame n (counted since the trigger) holds in channel c
// the low 16 bits of n * channels + c, so that the samples of a whole acquisition, read in order, count up
// by one (modulo 2^16) and a receiver can check the index and order of every sample it gets.
#pragma once

#include <cstdint>

namespace mpi::hil {

// The code the plant writes in counter-pattern mode for channel `channel` of ADC frame `n`, the frame
// holding `channels` channels.
[[nodiscard]] constexpr std::int16_t counter_pattern_sample(std::uint64_t n, unsigned channel, unsigned channels) noexcept {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>((n * channels + channel) & 0xFFFFU));
}

}  // namespace mpi::hil
