// White Gaussian noise for the receive chain: a seeded xoshiro256++ generator and the Box-Muller transform
// (the angle's sine and cosine from the DDS sine table). Cheap per sample, no allocation, reproducible from
// its seed on every platform.
#pragma once

#include "mpi/hil/dds.hpp"

#include <cmath>
#include <cstdint>

namespace mpi::hil {

class GaussianNoise {
 public:
  // `sine` must outlive the generator.
  explicit GaussianNoise(const SineTable& sine) noexcept : sine_(&sine) { seed(1, 0); }

  // Restarts the sequence; (seed, stream) pairs give independent sequences.
  void seed(std::uint64_t seed, std::uint64_t stream) noexcept {
    std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (std::uint64_t& word : state_) word = splitmix64(x);
    has_spare_ = false;
  }

  // One standard normal deviate.
  [[nodiscard]] double next() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    // u in (0, 1]: never log(0).
    const double u = static_cast<double>((next_u64() >> 11) + 1) * 0x1.0p-53;
    const double radius = std::sqrt(-2.0 * std::log(u));
    const std::uint64_t angle = next_u64() >> (64 - kHalfPhaseBits);  // uniform in [0, 2 pi)
    spare_ = radius * (*sine_)(angle + (std::uint64_t{1} << (kHalfPhaseBits - 2)));  // cosine
    has_spare_ = true;
    return radius * (*sine_)(angle);
  }

  [[nodiscard]] std::uint64_t next_u64() noexcept {
    const std::uint64_t result = rotl(state_[0] + state_[3], 23) + state_[0];
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  const SineTable* sine_;
  std::uint64_t state_[4]{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace mpi::hil
