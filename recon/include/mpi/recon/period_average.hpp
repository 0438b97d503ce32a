// Averaging the whole drive periods of an interleaved multi-channel frame into one period. For a signal
// holding P whole periods of a periodic drive, the harmonics of the drive are exactly the spectrum of the
// period average (bin k of the average's rFFT, scaled to amplitude, equals bin k P of the whole window's),
// while everything that is not a harmonic averages down; transforming one period instead of P is the
// cheap route to 1D harmonics (REFERENCE 3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mpi::recon {

// out[i * channels + c] = volts_per_code / P * sum_p codes[(p * samples_per_period + i) * channels + c], for
// codes holding P = codes.size() / (channels * samples_per_period) whole periods. out must hold
// samples_per_period * channels values. Allocation-free. Throws std::invalid_argument for no channels, a
// zero period, a frame that is not a whole, non-zero number of periods, or an output of another size.
void average_periods_interleaved(std::span<const std::int16_t> codes, std::size_t channels, std::size_t samples_per_period,
                                 double volts_per_code, std::span<double> out);

}  // namespace mpi::recon
