// Relaxometry (magnetic particle spectrometer) analysis, REFERENCE 1.1-1.3, 2.3, 3.2: a sample sits in a
// homogeneous drive field (one channel, frequency f0, amplitude A) plus a slowly swept bias field b; the
// receive coil sees u(t) = -p d mu/dt (p in T/A, mu the sample's moment along the coil) plus feedthrough,
// the whole through an analog notch at f0. Each drive cycle (one bias step) is a partial field of view
// [b - A, b + A] of the moment curve.
//
// Analysis, per drive cycle k (samples u_n in volts at the coil, integrate-and-dump ADC):
//  1. Background and feedthrough: the empty acquisition's cycle k is subtracted sample by sample.
//  2. Receive chain: DC and harmonics n >= 2 are divided by the notch's response; the fundamental, which
//     the notch removed (60 dB), is zeroed and recovered in step 4. The notch's free response (its state
//     at the cycle start: two damped modes at its pole) is not periodic; it enters step 4 as two more
//     unknowns per cycle, so the correction is exact for a continuous stream.
//  3. dH/dt compensation by integration: each sample is the moment's change over its sample interval,
//     u_n dt = -p (mu(B_{n+1/2}) - mu(B_{n-1/2})), so the running sum gives mu at the half-sample fields up
//     to a constant, with no division by a small velocity at the turning points.
//  4. Partial-FOV recovery (as x-space DC recovery, REFERENCE 3.2 step 5) with Debye deconvolution:
//     removing the fundamental removes from cycle k's moment curve a constant c_k, a term in phase with
//     the drive and one in quadrature. All cycles are fitted jointly by sparse least squares to one
//     adiabatic curve M_adi = M + tau dM/dt per scan direction on a field grid (linear between nodes, a
//     light second-difference penalty, zero slope at the outer edges (saturation), the edges' mean zero
//     (odd curve)). The cost is quadratic in tau, so tau_fit_s, the Debye time that makes all partial
//     FOVs agree on one curve, comes out in closed form; as the signal is noisy on both sides of that
//     regression, the estimate is refined with an instrument (the change of the fitted curves along each
//     cycle), which removes the noise bias. The per-cycle unknowns are eliminated exactly (Schur
//     complement) and the curves solved as a band system (block_arrow_solver.hpp): about 1-2 s per sweep.
//     The fitted per-cycle terms give back each cycle's fundamental (through 1 / (1 + j w0 tau)), hence
//     its full spectrum and time signal.
// Figures (all fields are flux densities mu0 H in mT, as scanners quote them):
//  - equilibrium: the adiabatic moment curve M(H) (mean of the two directions), its PSF dM/dH (A m^2 per
//    T of mu0 H, central differences on the grid) and FWHM: the tracer's own curve, relaxation removed.
//  - rising / falling: what each scan direction shows for a static zero bias and the measured drive
//    (A, f0): the x-space PSF s(t) / (dB/dt) of the equilibrium curve relaxed by tau_fit_s (exact Debye
//    filter on 64 points per sample, periodic steady state), on the grid inside [-A, A], NaN outside and
//    at the turning points. With tau = 0 they equal the equilibrium PSF. fwhm_* is NaN when a PSF does
//    not fall to half maximum inside [-A, A] (large 2 pi f0 tau: the relaxed peak runs to the drive's
//    turning point, and peak_offset_* then sits at +-A).
//  - fwhm_mean_mt: mean of the two directions; fwhm_mm = fwhm_mean / gradient (NaN without gradient).
//  - psf_peak_*: mean of the directions' PSF maxima (A m^2/T) and per ug of iron (sensitivity).
//  - peak_offset_*: field of each direction's PSF maximum (relaxation moves the rising PSF to positive,
//    the falling to negative fields); peak_separation = rising - falling; peak_height_asymmetry =
//    (rising - falling) / (rising + falling) of the peak values.
//  - tau_centroid_s: REFERENCE 1.2 (a): in the cycles nearest zero bias (centroid_cycles), the time
//    centroid of each half-cycle's pulse (the exponential tail of earlier pulses removed and its own tail
//    beyond the turning point added, solved self-consistently) minus the time at which the applied field
//    crosses 0. It reads the cycle's full signal, whose fundamental comes from step 4.
//  - tau_mirror_s: REFERENCE 1.2 (b): with S a cycle's spectrum timed from its drive maximum and
//    M = -conj(S) the spectrum of the time-reversed, negated signal, tau = (M - S) / (j 2 pi n f0 (M + S)),
//    over harmonics 2..max_harmonic of the cycles with |b| <= A / 2 (instrument variables: the measured
//    M + S weighted by that of the predicted signal, so the noise does not bias it); it reads only measured
//    harmonics (n >= 2). A bias ramp inside a cycle breaks the mirror symmetry to first order; that share
//    is removed first: the signal predicted from the equilibrium curve for the cycle's actual field minus
//    that for the bias held at its value at the drive maximum (tau_fit_s enters only this correction).
//  - harmonics: the spectrum of the centroid_cycles cycles nearest zero bias (mean magnitude; phases of
//    the nearest, timed from the drive maximum), volts at the coil, with dB relative to the fundamental
//    (odd and even), A3/A1, A5/A3 and the decay slope over the odd harmonics 3..max (dB per order). With a
//    bias ramp the nearest cycles sit up to half a step off zero: even harmonics then show that offset.
//  - a3_per_ug_v: |A3| (V at the coil) per ug Fe; a3_moment_rate_per_ug = |A3| / p (A m^2/s per ug Fe),
//    independent of the coil.
// The bias: give bias_samples_t where the bias moves within a cycle (a ramp, or a step through the
// supply's lag), or bias_time_constant_s for lagged steps; a static bias_field_t otherwise.
#pragma once

#include "mpi/recon/harmonic_calculator.hpp"

#include <complex>
#include <cstddef>
#include <string>
#include <vector>

namespace mpi::recon {

// One drive cycle (one bias step) of one acquisition.
struct RelaxometryCycle {
  std::vector<double> samples_v;      // received voltage at the coil (LNA gain removed), one drive period
  std::vector<double> drive_field_t;  // drive flux density at each sample instant (realised or from the
                                      // reference pickup); same length
  double bias_field_t = 0.0;          // bias of the step
  std::vector<double> bias_samples_t; // optional bias at each sample (a ramp or a settling step); when
                                      // empty, bias_field_t holds for the whole cycle
};

struct RelaxometryAcquisition {
  std::vector<RelaxometryCycle> cycles;  // in acquisition order
};

// The receive chain's analog notch at the fundamental (second order, allpass form as the HIL plant and
// open spectrometers use): |H| = 10^(-depth/20) at the centre, 1 at DC and Nyquist.
struct ReceiveNotch {
  double depth_db = 0.0;        // 0: no notch
  double centre_hz = 0.0;       // 0: the drive frequency
  double bandwidth_hz = 0.0;    // 0: a tenth of the centre
};

// Complex response of the notch at frequency f for sample rate fs (1 when depth_db == 0).
std::complex<double> notch_response(const ReceiveNotch& notch, double drive_frequency_hz, double f_hz,
                                    double sample_rate_hz);

struct RelaxometryInput {
  std::string sample_name;
  double iron_mass_ug = 0.0;              // > 0
  double sample_rate_hz = 2.5e6;
  double drive_frequency_hz = 2.5e6 / 102;  // every cycle is a whole number of samples per period
  double coil_sensitivity_t_per_a = 0.0;  // p of the receive coil, > 0
  ReceiveNotch notch;
  // Cycles without bias_samples_t: the bias supply's first-order time constant; the bias at each sample
  // is then reconstructed from the step values (continuing across cycles, settled at the first step).
  // 0: the bias is bias_field_t for the whole cycle. With one drive cycle per step a lagged bias given
  // only by its step values spoils every figure: set this (the preset's offset rl_time_constant).
  double bias_time_constant_s = 0.0;
  RelaxometryAcquisition sample;
  RelaxometryAcquisition background;      // empty acquisition of the same sweep (no cycles: none)
};

struct RelaxometryOptions {
  double grid_step_t = 0.05e-3;       // field grid of the moment curves
  double smoothing = 1e-6;            // second-difference penalty (row weight sqrt(smoothing) * cycles)
  double gradient_t_per_m = 0.0;      // for fwhm_mm (0: not reported, NaN)
  int max_harmonic = 11;              // harmonics reported and used by the mirror method
  int centroid_cycles = 2;            // cycles nearest zero bias used by the centroid method (and spectrum)
};

// A moment curve and its PSF for one scan direction on the common grid.
struct DirectionalCurve {
  std::vector<double> moment_a_m2;       // M(B), NaN where no cycle reached
  std::vector<double> psf_a_m2_per_t;    // dM/dB, NaN where not defined
  double fwhm_mt = 0.0;                  // NaN when the PSF does not fall to half maximum on both sides
  double peak_a_m2_per_t = 0.0;
  double peak_offset_mt = 0.0;           // field of the maximum (parabola-refined)
};

struct RelaxometryResult {
  std::string sample_name;
  double iron_mass_ug = 0.0;
  std::vector<double> field_mt;          // grid (mu0 H in mT)
  DirectionalCurve rising;               // dB/dt > 0
  DirectionalCurve falling;              // dB/dt < 0
  DirectionalCurve equilibrium;          // the adiabatic curve (Debye tau_fit_s removed): M(H), dM/dH, FWHM
  std::vector<double> moment_mean_a_m2;  // (rising + falling) / 2 of the relaxed curves, NaN outside [-A, A]
  double fwhm_mean_mt = 0.0;
  double fwhm_mm = 0.0;                  // fwhm_mean / gradient; NaN without a gradient
  double psf_peak_a_m2_per_t = 0.0;      // mean of the two directions' peaks
  double psf_peak_per_ug = 0.0;          // A m^2 / T per ug Fe
  double peak_separation_mt = 0.0;       // rising.peak_offset - falling.peak_offset
  double peak_height_asymmetry = 0.0;    // (rising - falling) / (rising + falling) peak values
  double tau_centroid_s = 0.0;
  double tau_mirror_s = 0.0;
  double tau_fit_s = 0.0;                // the Debye tau that makes all partial FOVs agree (see above)
  HarmonicSpectrum harmonics;            // volts at the coil, at zero bias
  double a3_per_ug_v = 0.0;
  double a3_moment_rate_per_ug = 0.0;    // |A3| / p, A m^2/s per ug Fe
  double drive_amplitude_mt = 0.0;       // measured from the drive samples (mean over cycles)
  double saturation_moment_a_m2 = 0.0;   // (M(Bmax) - M(-Bmax)) / 2 of the equilibrium curve (A m^2)
  std::size_t cycles = 0;
};

// Throws std::invalid_argument naming the cycle and field for: no cycles, a cycle whose length is not
// sample_rate / drive_frequency (rounded) or differs between samples and drive, a background with another
// cycle count or length, non-finite values, iron mass, coil sensitivity or rates <= 0, a drive of zero
// amplitude, a bias_samples_t of the wrong length.
RelaxometryResult analyse_relaxometry(const RelaxometryInput& input, const RelaxometryOptions& options = {});

// A sinusoidal drive sampled at the sample instants: amplitude * cos(2 pi f (n + offset) / fs + phase).
std::vector<double> sinusoidal_drive(double amplitude_t, double frequency_hz, double phase_rad,
                                     double sample_rate_hz, std::size_t samples, double first_sample = 0.0);

// --- comparison of samples -------------------------------------------------------------------------

struct ComparisonRow {
  std::string sample_name;
  double iron_mass_ug = 0.0;
  double fwhm_rising_mt = 0.0, fwhm_falling_mt = 0.0, fwhm_mean_mt = 0.0, fwhm_mm = 0.0;
  double psf_peak_per_ug = 0.0;
  double a3_per_ug_v = 0.0;
  double a3_over_a1 = 0.0, a5_over_a3 = 0.0, decay_db_per_order = 0.0;
  double peak_separation_mt = 0.0;
  double tau_centroid_us = 0.0, tau_mirror_us = 0.0;
  // Relative to the reference row (percent): (x - x_ref) / x_ref * 100.
  double sensitivity_change_pct = 0.0;   // psf_peak_per_ug
  double resolution_change_pct = 0.0;    // fwhm_mean_mt (negative = sharper)
  int sensitivity_rank = 0;              // 1 = highest psf_peak_per_ug
  int resolution_rank = 0;               // 1 = smallest fwhm_mean_mt
};

struct ComparisonTable {
  std::vector<ComparisonRow> rows;
  std::size_t reference = 0;
};

// One row per result, in order; ranks and changes relative to results[reference]. Throws
// std::invalid_argument for no results or a reference out of range.
ComparisonTable compare_samples(const std::vector<RelaxometryResult>& results, std::size_t reference = 0);
// Indices of the results, best first: by psf_peak_per_ug (descending) / by fwhm_mean_mt (ascending).
std::vector<std::size_t> rank_by_sensitivity(const std::vector<RelaxometryResult>& results);
std::vector<std::size_t> rank_by_resolution(const std::vector<RelaxometryResult>& results);
// CSV with a header naming every column with its unit.
std::string comparison_csv(const ComparisonTable& table);

}  // namespace mpi::recon
