// Spectra of periodic receive signals: period averaging, removal of drive harmonics (feedthrough), and
// harmonic amplitudes and phases (REFERENCE 3.1). All work on whole drive periods, so harmonic k of the
// drive falls exactly on rFFT bin k * periods (no leakage).
#pragma once

#include "mpi/recon/real_fft.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace mpi::recon {

// Averages the whole periods of a frame into one period. signal.size() must be a non-zero multiple of
// samples_per_period (std::invalid_argument otherwise).
std::vector<double> average_periods(std::span<const double> signal, std::size_t samples_per_period);

// Removes the listed harmonics of the drive (0 = DC, 1 = fundamental, ...) from a signal holding `periods`
// whole drive periods, in place, by zeroing rFFT bins harmonic * periods. Throws std::invalid_argument
// for an empty signal, periods == 0, a negative harmonic, or one above the Nyquist bin.
void remove_harmonics(std::span<double> signal, std::size_t periods, std::span<const int> harmonics);

// A harmonic of the drive in the signal: signal(t) = sum_k amplitude_k cos(2 pi k f0 t + phase_k), with t
// measured from the first sample. amplitude is the peak of the sinusoid (>= 0). For order 0 (DC) it is
// the magnitude of the mean and phase_rad is 0 or pi (the sign).
struct Harmonic {
  int order;
  double amplitude;
  double phase_rad;
};

// Harmonics 0..max_order (max_order + 1 entries, in order) of a signal holding `periods` whole drive
// periods. Throws std::invalid_argument for an empty signal, periods == 0, max_order < 0, or
// max_order * periods above the Nyquist bin.
std::vector<Harmonic> harmonics(std::span<const double> signal, std::size_t periods, int max_order);

}  // namespace mpi::recon
