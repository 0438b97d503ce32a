// Harmonic calculator (REFERENCE 1.3): an M(H) curve, measured (VSM) or modelled (Langevin), and a
// sinusoidal drive amplitude give the harmonic spectrum a magnetic particle spectrometer would see.
//   H(t) = bias + A cos(2 pi t / T),  M(t) = M(H(t)) by monotone (Fritsch-Carlson) cubic interpolation,
// one period of `points_per_period` samples, rFFT, amplitude of harmonic n. The spectrum is that of the
// induced signal dM/dt (what a receive coil sees: |U_n| = n |M_n| up to a common factor) or, on request,
// of M(t) itself. dB are 20 log10(A_n / A_1): the fundamental is 0 dB.
#pragma once

#include "mpi/recon/tracer.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::recon {

// An M(H) curve: field as flux density mu0 H in tesla, strictly increasing; moment in `moment_unit` (a
// common scale factor does not change a spectrum in dB, so any moment-like unit is kept as read).
struct MhCurve {
  std::vector<double> field_t;
  std::vector<double> moment;
  std::string moment_unit;   // e.g. "Am2", "emu", "emu/g", "A/m", "au"
  std::string source;        // file name or "langevin"
};

// A CSV that cannot be read: what() names the file, the line (1-based) and what was wrong.
class MhCurveError : public std::runtime_error {
 public:
  MhCurveError(const std::string& source, int line, const std::string& what);
  [[nodiscard]] int line() const noexcept { return line_; }
 private:
  int line_;
};

// CSV: optional '#' comment lines, a header naming a field column and a moment column with units, e.g.
// `H_mT,M_Am2`, `H_Oe,M_emu`, `H [A/m], M [emu/g]` (other columns are ignored), then one row per point.
// Field units: T, mT, uT, Oe, kOe, A/m, kA/m (A/m and Oe are converted with mu0: 1 Oe = 0.1 mT).
// Moment units: Am2 (A m^2), emu, emu/g, Am2/kg, A/m, kA/m, au. H may run down instead of up (it is
// reversed); it must be strictly monotonic. Throws MhCurveError for a missing column, an unknown unit, a
// non-numeric or non-finite value, a short row, non-monotonic H or fewer than 4 points.
MhCurve parse_mh_csv(std::string_view text, std::string_view source_name);
MhCurve read_mh_csv(const std::string& path);  // also throws MhCurveError when the file cannot be read

// The tracer's Langevin curve (ParticleEnsemble::mean_moment_a_m2 per particle, A m^2) on `points` fields
// evenly spaced over [-max_field_t, max_field_t]. Throws std::invalid_argument for a bad tracer,
// max_field_t <= 0 or points < 4.
MhCurve langevin_mh_curve(const Tracer& tracer, double max_field_t, int points = 2001);

// CSV text of a curve, header `H_mT,M_<unit>`, readable by parse_mh_csv.
std::string mh_curve_csv(const MhCurve& curve);

enum class HarmonicQuantity { induced_signal, magnetisation };

struct HarmonicCalculatorOptions {
  double drive_amplitude_t = 15e-3;  // A (mu0 H), e.g. 150 Oe = 15 mT
  double bias_t = 0.0;               // static offset field
  int max_harmonic = 15;
  int points_per_period = 8192;      // even, >= 4 * max_harmonic
  HarmonicQuantity quantity = HarmonicQuantity::induced_signal;
};

// A harmonic spectrum: index n is harmonic n (index 0 is DC; odd and even harmonics both listed).
struct HarmonicSpectrum {
  std::vector<double> amplitude;  // |A_n| in the input's units (volts, or moment units per period)
  std::vector<double> phase_rad;  // arg A_n, relative to the drive's maximum
  std::vector<double> db;         // 20 log10(|A_n| / |A_1|); -inf where A_n = 0
  double a3_over_a1 = 0.0;
  double a5_over_a3 = 0.0;
  // Least-squares slope of db against n over the odd harmonics 3..max (dB per harmonic order, < 0
  // for a decaying spectrum): the spectral decay, a resolution figure (steeper = broader PSF).
  double decay_db_per_order = 0.0;
};

// Fills db, the ratios and the slope from amplitude (and keeps phase_rad). Needs amplitude.size() >= 2.
void finish_harmonic_spectrum(HarmonicSpectrum& spectrum);

// The spectrum of the curve under the drive. Throws std::invalid_argument when the drive (bias +- A)
// leaves the curve's field range, or for bad options.
HarmonicSpectrum harmonic_spectrum(const MhCurve& curve, const HarmonicCalculatorOptions& options);

// Monotone cubic (Fritsch-Carlson) interpolation of the curve at `field_t` (inside its range).
double interpolate_moment(const MhCurve& curve, double field_t);

}  // namespace mpi::recon
