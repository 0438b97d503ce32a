#include "mpi/recon/period_average.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mpi::recon {

void average_periods_interleaved(std::span<const std::int16_t> codes, std::size_t channels, std::size_t samples_per_period,
                                 double volts_per_code, std::span<double> out) {
  if (channels == 0) throw std::invalid_argument("average_periods_interleaved: no channels");
  if (samples_per_period == 0) throw std::invalid_argument("average_periods_interleaved: a period of 0 samples");
  const std::size_t block = channels * samples_per_period;
  if (codes.empty() || codes.size() % block != 0) {
    throw std::invalid_argument("average_periods_interleaved: " + std::to_string(codes.size()) + " codes are not a whole number of periods of " +
                                std::to_string(samples_per_period) + " samples x " + std::to_string(channels) + " channels");
  }
  if (out.size() != block) {
    throw std::invalid_argument("average_periods_interleaved: the output holds " + std::to_string(out.size()) + " values, not " +
                                std::to_string(block));
  }
  const std::size_t periods = codes.size() / block;
  // Integer sums are exact (|code| <= 32768, periods < 2^47), then one scale.
  std::fill(out.begin(), out.end(), 0.0);
  constexpr std::size_t kStripe = 512;  // int32 partial sums of up to 65536 periods stay exact
  std::int32_t partial[kStripe];
  for (std::size_t start = 0; start < block; start += kStripe) {
    const std::size_t width = std::min(kStripe, block - start);
    std::size_t p = 0;
    while (p < periods) {
      const std::size_t end = std::min(periods, p + 65536);
      std::fill(partial, partial + width, 0);
      for (; p < end; ++p) {
        const std::int16_t* row = codes.data() + p * block + start;
        for (std::size_t i = 0; i < width; ++i) partial[i] += row[i];
      }
      for (std::size_t i = 0; i < width; ++i) out[start + i] += partial[i];
    }
  }
  const double scale = volts_per_code / static_cast<double>(periods);
  for (double& v : out) v *= scale;
}

}  // namespace mpi::recon
