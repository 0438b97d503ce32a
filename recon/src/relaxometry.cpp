#include "mpi/recon/relaxometry.hpp"

#include "mpi/recon/real_fft.hpp"
#include "mpi/recon/relaxation.hpp"

#include "block_arrow_solver.hpp"

#include <Eigen/SparseCore>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace mpi::recon {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = std::numbers::pi;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("relaxometry: " + what); }

// One cycle after background subtraction, receive correction and field bookkeeping.
struct CycleWork {
  std::vector<double> u;          // corrected voltage, fundamental zeroed
  std::vector<double> running;    // j = 0..N: moment (normalised) at half-sample point j - 1/2, up to the unknowns
  std::vector<double> field;      // j = 0..N: applied field at t_{j-1/2}
  std::vector<double> ref_cos;    // j = 0..N: A cos(w (j - 1/2) + phi)
  std::vector<double> ref_sin;    // j = 0..N: A sin(w (j - 1/2) + phi)
  std::vector<double> bias;       // per sample
  // The notch's free response (its state at the cycle start) after the same correction as u: two
  // signals (volts) and their running sums (moment units, normalised by mode_scale).
  std::vector<double> mode_u[2];
  std::vector<double> mode_running[2];
  double mode_scale[2] = {1.0, 1.0};
  double amplitude_t = 0.0;
  double phase_rad = 0.0;
  double bias_mean_t = 0.0;
  std::vector<std::complex<double>> spectrum;  // of the full (recovered) signal, complex amplitudes
};

void check_finite(const std::vector<double>& v, const std::string& what, std::size_t cycle) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail(what + " of cycle " + std::to_string(cycle) + " is not finite at sample " + std::to_string(i));
}

// Parabola through three values: offset of the vertex from the middle (in steps) and the vertex value.
void parabola(double ym, double y0, double yp, double& offset, double& value) {
  const double den = ym - 2.0 * y0 + yp;
  offset = (den < 0.0) ? 0.5 * (ym - yp) / den : 0.0;
  offset = std::clamp(offset, -0.5, 0.5);
  value = y0 - 0.25 * (ym - yp) * offset;
}

void analyse_direction(const std::vector<double>& field_mt, DirectionalCurve& d) {
  const std::size_t g = d.psf_a_m2_per_t.size();
  std::size_t best = g;
  for (std::size_t i = 0; i < g; ++i)
    if (std::isfinite(d.psf_a_m2_per_t[i]) && (best == g || d.psf_a_m2_per_t[i] > d.psf_a_m2_per_t[best])) best = i;
  d.fwhm_mt = kNan;
  d.peak_a_m2_per_t = kNan;
  d.peak_offset_mt = kNan;
  if (best == g) return;
  const double step = field_mt.size() > 1 ? field_mt[1] - field_mt[0] : 0.0;
  double off = 0.0, val = d.psf_a_m2_per_t[best];
  if (best > 0 && best + 1 < g && std::isfinite(d.psf_a_m2_per_t[best - 1]) && std::isfinite(d.psf_a_m2_per_t[best + 1]))
    parabola(d.psf_a_m2_per_t[best - 1], val, d.psf_a_m2_per_t[best + 1], off, val);
  d.peak_a_m2_per_t = val;
  d.peak_offset_mt = field_mt[best] + off * step;
  const double half = 0.5 * val;
  double left = kNan, right = kNan;
  for (std::size_t i = best; i > 0; --i) {
    const double a = d.psf_a_m2_per_t[i - 1], b = d.psf_a_m2_per_t[i];
    if (!std::isfinite(a)) break;
    if (a <= half) {
      left = field_mt[i - 1] + (half - a) / (b - a) * step;
      break;
    }
  }
  for (std::size_t i = best; i + 1 < g; ++i) {
    const double a = d.psf_a_m2_per_t[i], b = d.psf_a_m2_per_t[i + 1];
    if (!std::isfinite(b)) break;
    if (b <= half) {
      right = field_mt[i] + (a - half) / (a - b) * step;
      break;
    }
  }
  d.fwhm_mt = right - left;
}

// Periodic band-limited interpolation of one cycle's signal onto `factor` points per sample.
std::vector<double> upsample(const std::vector<std::complex<double>>& amplitudes, std::size_t n, std::size_t factor) {
  const std::size_t m = n * factor;
  RealFft fft(m);
  std::vector<std::complex<double>> bins(fft.bins(), {0.0, 0.0});
  // amplitudes are complex amplitudes (DC as is, others peak); back to FFT scaling of the long transform.
  for (std::size_t k = 0; k < amplitudes.size() && k < bins.size(); ++k) {
    double scale = k == 0 ? double(m) : 0.5 * double(m);
    if (2 * k == n) scale = double(m);  // Nyquist of the short transform: keep its value, split below
    bins[k] = amplitudes[k] * scale;
  }
  if (n % 2 == 0 && n / 2 < bins.size()) bins[n / 2] *= 0.5;  // half at +N/2, the other half folds to -N/2
  std::vector<double> out(m);
  fft.inverse(bins, out);
  return out;
}

}  // namespace

std::complex<double> notch_response(const ReceiveNotch& notch, double drive_frequency_hz, double f_hz, double sample_rate_hz) {
  if (!(notch.depth_db > 0.0)) return {1.0, 0.0};
  const double centre = notch.centre_hz > 0.0 ? notch.centre_hz : drive_frequency_hz;
  const double bw = notch.bandwidth_hz > 0.0 ? notch.bandwidth_hz : 0.1 * centre;
  const double g = std::pow(10.0, -notch.depth_db / 20.0);
  const double k1 = -std::cos(2.0 * kPi * centre / sample_rate_hz);
  const double t = std::tan(kPi * bw / sample_rate_hz);
  const double k2 = (1.0 - t) / (1.0 + t);
  const std::complex<double> z1 = std::polar(1.0, -2.0 * kPi * f_hz / sample_rate_hz);  // z^-1
  const std::complex<double> allpass = (k2 + k1 * (1.0 + k2) * z1 + z1 * z1) / (1.0 + k1 * (1.0 + k2) * z1 + k2 * z1 * z1);
  return 0.5 * ((1.0 + g) + (1.0 - g) * allpass);
}

std::vector<double> sinusoidal_drive(double amplitude_t, double frequency_hz, double phase_rad, double sample_rate_hz,
                                     std::size_t samples, double first_sample) {
  std::vector<double> out(samples);
  for (std::size_t i = 0; i < samples; ++i)
    out[i] = amplitude_t * std::cos(2.0 * kPi * frequency_hz * (double(i) + first_sample) / sample_rate_hz + phase_rad);
  return out;
}

RelaxometryResult analyse_relaxometry(const RelaxometryInput& in, const RelaxometryOptions& opt) {
  // --- validation ---
  if (!(in.iron_mass_ug > 0.0) || !std::isfinite(in.iron_mass_ug)) fail("iron_mass_ug must be > 0 (sample '" + in.sample_name + "')");
  if (!(in.sample_rate_hz > 0.0) || !std::isfinite(in.sample_rate_hz)) fail("sample_rate_hz must be > 0");
  if (!(in.drive_frequency_hz > 0.0) || !(in.drive_frequency_hz < in.sample_rate_hz / 4.0)) fail("drive_frequency_hz must be in (0, sample rate / 4)");
  if (!(in.coil_sensitivity_t_per_a > 0.0) || !std::isfinite(in.coil_sensitivity_t_per_a)) fail("coil_sensitivity_t_per_a must be > 0");
  if (!(in.notch.depth_db >= 0.0) || !std::isfinite(in.notch.depth_db)) fail("notch depth_db must be >= 0");
  if (!(in.bias_time_constant_s >= 0.0) || !std::isfinite(in.bias_time_constant_s)) fail("bias_time_constant_s must be >= 0");
  if (!(opt.grid_step_t > 0.0) || !(opt.smoothing >= 0.0) || opt.max_harmonic < 2 || opt.centroid_cycles < 1 || !(opt.gradient_t_per_m >= 0.0))
    fail("bad options (grid_step_t > 0, smoothing >= 0, max_harmonic >= 2, centroid_cycles >= 1, gradient >= 0)");
  const double period_samples = in.sample_rate_hz / in.drive_frequency_hz;
  const auto n = static_cast<std::size_t>(std::llround(period_samples));
  if (std::abs(period_samples - double(n)) > 1e-6 * period_samples)
    fail("the drive period is not a whole number of samples (" + std::to_string(period_samples) + ")");
  if (static_cast<std::size_t>(opt.max_harmonic) >= n / 2) fail("max_harmonic must stay below the Nyquist harmonic");
  const std::size_t kc = in.sample.cycles.size();
  if (kc == 0) fail("sample acquisition has no cycles");
  const bool have_bg = !in.background.cycles.empty();
  if (have_bg && in.background.cycles.size() != kc)
    fail("background has " + std::to_string(in.background.cycles.size()) + " cycles, the sample " + std::to_string(kc));
  for (std::size_t k = 0; k < kc; ++k) {
    const RelaxometryCycle& c = in.sample.cycles[k];
    if (c.samples_v.size() != n) fail("cycle " + std::to_string(k) + " has " + std::to_string(c.samples_v.size()) + " samples, one drive period is " + std::to_string(n));
    if (c.drive_field_t.size() != n) fail("cycle " + std::to_string(k) + " has " + std::to_string(c.drive_field_t.size()) + " drive samples, expected " + std::to_string(n));
    if (!c.bias_samples_t.empty() && c.bias_samples_t.size() != n) fail("cycle " + std::to_string(k) + " has bias_samples_t of length " + std::to_string(c.bias_samples_t.size()) + ", expected 0 or " + std::to_string(n));
    if (!std::isfinite(c.bias_field_t)) fail("bias_field_t of cycle " + std::to_string(k) + " is not finite");
    check_finite(c.samples_v, "samples_v", k);
    check_finite(c.drive_field_t, "drive_field_t", k);
    check_finite(c.bias_samples_t, "bias_samples_t", k);
    if (have_bg) {
      const RelaxometryCycle& b = in.background.cycles[k];
      if (b.samples_v.size() != n) fail("background cycle " + std::to_string(k) + " has " + std::to_string(b.samples_v.size()) + " samples, expected " + std::to_string(n));
      check_finite(b.samples_v, "background samples_v", k);
    }
  }

  const double p = in.coil_sensitivity_t_per_a;
  const double dt = 1.0 / in.sample_rate_hz;
  const double w = 2.0 * kPi / double(n);  // per sample
  RealFft fft(n);
  std::vector<std::complex<double>> bins(fft.bins());
  std::vector<std::complex<double>> inv_notch(fft.bins());
  for (std::size_t b = 0; b < fft.bins(); ++b)
    inv_notch[b] = 1.0 / notch_response(in.notch, in.drive_frequency_hz, double(b) * in.drive_frequency_hz, in.sample_rate_hz);

  // The notch's natural modes: p^n for its pole p (denominator 1 + a1 z^-1 + a2 z^-2).
  const bool use_modes = in.notch.depth_db > 0.0;
  std::complex<double> pole{0.0, 0.0};
  if (use_modes) {
    const double centre = in.notch.centre_hz > 0.0 ? in.notch.centre_hz : in.drive_frequency_hz;
    const double bw = in.notch.bandwidth_hz > 0.0 ? in.notch.bandwidth_hz : 0.1 * centre;
    const double t = std::tan(kPi * bw / in.sample_rate_hz);
    const double k2 = (1.0 - t) / (1.0 + t);
    const double a1 = -std::cos(2.0 * kPi * centre / in.sample_rate_hz) * (1.0 + k2);
    pole = 0.5 * (-a1 + std::sqrt(std::complex<double>(a1 * a1 - 4.0 * k2, 0.0)));
  }
  const std::size_t per_cycle = use_modes ? 7 : 3;  // columns 5, 6 only in the tau search
  std::vector<CycleWork> work(kc);
  double scale = 0.0;  // normalisation of the running sums
  double amplitude_sum = 0.0;
  double lagged_bias = in.sample.cycles.front().bias_field_t;  // settled at the first step
  for (std::size_t k = 0; k < kc; ++k) {
    const RelaxometryCycle& c = in.sample.cycles[k];
    CycleWork& cw = work[k];
    cw.u = c.samples_v;
    if (have_bg)
      for (std::size_t i = 0; i < n; ++i) cw.u[i] -= in.background.cycles[k].samples_v[i];
    fft.forward(cw.u, bins);
    bins[1] = 0.0;
    for (std::size_t b = 2; b < bins.size(); ++b) bins[b] *= inv_notch[b];
    fft.inverse(bins, cw.u);
    // Drive fundamental: amplitude and phase.
    fft.forward(c.drive_field_t, bins);
    cw.amplitude_t = 2.0 * std::abs(bins[1]) / double(n);
    cw.phase_rad = std::arg(bins[1]);
    if (!(cw.amplitude_t > 0.0)) fail("drive amplitude of cycle " + std::to_string(k) + " is zero");
    amplitude_sum += cw.amplitude_t;
    if (!c.bias_samples_t.empty()) {
      cw.bias = c.bias_samples_t;
    } else if (in.bias_time_constant_s > 0.0) {
      // First-order lag towards the step value, continuing from the previous cycle's end.
      cw.bias.resize(n);
      const double a = std::exp(-dt / in.bias_time_constant_s);
      for (std::size_t i = 0; i < n; ++i) {
        lagged_bias = c.bias_field_t + (lagged_bias - c.bias_field_t) * (i == 0 ? 1.0 : a);
        cw.bias[i] = lagged_bias;
      }
      lagged_bias = c.bias_field_t + (lagged_bias - c.bias_field_t) * a;  // the next cycle's first sample
    } else {
      cw.bias.assign(n, c.bias_field_t);
    }
    double bsum = 0.0;
    for (double b : cw.bias) bsum += b;
    cw.bias_mean_t = bsum / double(n);
    // Fields at the half-sample points j - 1/2, j = 0..N.
    cw.field.resize(n + 1);
    cw.ref_cos.resize(n + 1);
    cw.ref_sin.resize(n + 1);
    cw.running.assign(n + 1, 0.0);
    const auto drive_at = [&](long i) { return c.drive_field_t[static_cast<std::size_t>(((i % long(n)) + long(n)) % long(n))]; };
    const auto bias_at = [&](long i) {
      if (i < 0) return 2.0 * cw.bias[0] - cw.bias[std::min<std::size_t>(1, n - 1)];
      if (i >= long(n)) return 2.0 * cw.bias[n - 1] - cw.bias[n - 2];
      return cw.bias[static_cast<std::size_t>(i)];
    };
    for (std::size_t j = 0; j <= n; ++j) {
      const long jj = long(j);
      const double drive = (-drive_at(jj - 2) + 9.0 * drive_at(jj - 1) + 9.0 * drive_at(jj) - drive_at(jj + 1)) / 16.0;
      cw.field[j] = drive + 0.5 * (bias_at(jj - 1) + bias_at(jj));
      const double th = w * (double(j) - 0.5) + cw.phase_rad;
      cw.ref_cos[j] = cw.amplitude_t * std::cos(th);
      cw.ref_sin[j] = cw.amplitude_t * std::sin(th);
      if (j > 0) cw.running[j] = cw.running[j - 1] - cw.u[j - 1] * dt / p;
    }
    for (double r : cw.running) scale = std::max(scale, std::abs(r));
    if (use_modes) {
      for (int q = 0; q < 2; ++q) {
        std::vector<double>& mu = cw.mode_u[q];
        mu.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
          const std::complex<double> pn = std::pow(pole, double(i));
          mu[i] = q == 0 ? pn.real() : pn.imag();
        }
        fft.forward(mu, bins);
        bins[1] = 0.0;
        for (std::size_t b = 0; b < bins.size(); ++b) bins[b] *= inv_notch[b];
        fft.inverse(bins, mu);
        std::vector<double>& run = cw.mode_running[q];
        run.assign(n + 1, 0.0);
        double ms = 0.0;
        for (std::size_t j = 1; j <= n; ++j) {
          run[j] = run[j - 1] - mu[j - 1] * dt / p;
          ms = std::max(ms, std::abs(run[j]));
        }
        cw.mode_scale[q] = ms > 0.0 ? ms : 1.0;
        for (double& r : run) r /= cw.mode_scale[q];
      }
    }
  }
  if (!(scale > 0.0)) fail("the background-subtracted signal is zero in every cycle (no sample, or the background is the sample)");

  // --- grid ---
  double fmin = std::numeric_limits<double>::infinity(), fmax = -fmin;
  for (const CycleWork& cw : work)
    for (double f : cw.field) {
      fmin = std::min(fmin, f);
      fmax = std::max(fmax, f);
    }
  const double step = opt.grid_step_t;
  const long first = static_cast<long>(std::floor(fmin / step));
  const long last = static_cast<long>(std::ceil(fmax / step));
  const auto g = static_cast<std::size_t>(last - first + 1);
  if (g < 8) fail("the fields span fewer than 8 grid steps");
  if (g > 200000) fail("the field grid would have more than 200000 nodes; raise grid_step_t");
  const std::size_t unknowns = 2 * g + per_cycle * kc;
  const auto node = [&](int dir, std::size_t i) { return static_cast<int>(std::size_t(dir) * g + i); };
  const auto cycle_col = [&](std::size_t k, int which) { return static_cast<int>(2 * g + per_cycle * k + std::size_t(which)); };
  const auto locate = [&](double field, std::size_t& i0, double& frac) {
    const double pos = field / step - double(first);
    i0 = static_cast<std::size_t>(std::max(0.0, std::floor(pos)));
    if (i0 >= g - 1) i0 = g - 2;
    frac = pos - double(i0);
  };
  const auto direction = [&](const CycleWork& cw, std::size_t j) {
    const double slope = cw.field[j < n ? j + 1 : j] - cw.field[j > 0 ? j - 1 : j];
    return slope > 0.0 ? 0 : (slope < 0.0 ? 1 : -1);
  };
  // Point values of u at the half-sample points j - 1/2 from the cell averages (4th order, cyclic).
  const auto interface_values = [&](const std::vector<double>& v, std::vector<double>& out) {
    out.resize(n + 1);
    const auto at = [&](long i) { return v[static_cast<std::size_t>(((i % long(n)) + long(n)) % long(n))]; };
    for (std::size_t j = 0; j <= n; ++j) {
      const long jj = long(j);
      out[j] = (-at(jj - 2) + 7.0 * at(jj - 1) + 7.0 * at(jj) - at(jj + 1)) / 12.0;
    }
  };
  std::vector<std::vector<double>> ui(kc), mode_ui0(kc), mode_ui1(kc);
  for (std::size_t k = 0; k < kc; ++k) {
    interface_values(work[k].u, ui[k]);
    if (use_modes) {
      interface_values(work[k].mode_u[0], mode_ui0[k]);
      interface_values(work[k].mode_u[1], mode_ui1[k]);
    }
  }
  const double ws = opt.smoothing > 0.0 ? std::sqrt(opt.smoothing) * double(kc) : 0.0;
  const auto add_smoothing = [&](std::vector<Eigen::Triplet<double>>& trips, std::vector<double>& rhs, int& row) {
    if (ws > 0.0)
      for (int dir = 0; dir < 2; ++dir)
        for (std::size_t i = 1; i + 1 < g; ++i) {
          trips.emplace_back(row, node(dir, i - 1), ws);
          trips.emplace_back(row, node(dir, i), -2.0 * ws);
          trips.emplace_back(row, node(dir, i + 1), ws);
          rhs.push_back(0.0);
          ++row;
        }
  };


  // Joint fit of the adiabatic (Debye-deconvolved) moment curves, M_adi = M + tau dM/dt, i.e. the data
  // y(tau) = y0 - tau y1 (y0 the running sums, y1 the signal's point values at the half-sample points):
  // one curve per direction on the grid; per cycle a constant, the fundamental (in phase, quadrature) and
  // the notch's two free modes (with their derivatives); second-difference smoothing; zero slope at the
  // outer edges (saturation); the edges' mean zero (odd curve). The design does not depend on tau, so
  // the cost ||A x - y0 + tau y1||^2 is minimised over x and tau together in closed form: with r0, r1 the
  // residuals of the fits to y0 and y1, tau = <r0, r1> / <r1, r1> (>= 0), x = x0 - tau x1.
  // With tau known, the fit is repeated with the modes tied to it (their derivative columns scaled by
  // -tau), as the deconvolution demands.
  std::vector<double> coverage(2 * g, 0.0);
  // The solver's order of the curve nodes: both directions at one field next to each other, so that
  // every cycle (a field range in both directions) couples a band of neighbouring unknowns.
  std::vector<std::size_t> banded_order(2 * g);
  for (int dir = 0; dir < 2; ++dir)
    for (std::size_t i = 0; i < g; ++i) banded_order[static_cast<std::size_t>(node(dir, i))] = 2 * i + std::size_t(dir);
  Eigen::VectorXd x;
  double tau_fit = 0.0;
  for (int pass = 0; pass < (use_modes ? 2 : 1); ++pass) {
    const bool search = pass == 0;
    std::fill(coverage.begin(), coverage.end(), 0.0);
    std::vector<Eigen::Triplet<double>> trips;
    std::vector<double> rhs0, rhs1;
    std::vector<std::size_t> row_cycle, row_sample;  // of the data rows
    int row = 0;
    for (std::size_t k = 0; k < kc; ++k) {
      const CycleWork& cw = work[k];
      for (std::size_t j = 2; j + 2 <= n; ++j) {  // the turning-point ends, where the cyclic derivative is least exact, are left out
        const int dir = direction(cw, j);
        if (dir < 0) continue;
        std::size_t i0;
        double frac;
        locate(cw.field[j], i0, frac);
        trips.emplace_back(row, node(dir, i0), 1.0 - frac);
        trips.emplace_back(row, node(dir, i0 + 1), frac);
        coverage[std::size_t(dir) * g + i0] += 1.0 - frac;
        coverage[std::size_t(dir) * g + i0 + 1] += frac;
        trips.emplace_back(row, cycle_col(k, 0), -1.0);
        trips.emplace_back(row, cycle_col(k, 1), -cw.ref_cos[j] / cw.amplitude_t);
        trips.emplace_back(row, cycle_col(k, 2), -cw.ref_sin[j] / cw.amplitude_t);
        if (use_modes) {
          if (search) {
            trips.emplace_back(row, cycle_col(k, 3), -cw.mode_running[0][j]);
            trips.emplace_back(row, cycle_col(k, 4), -cw.mode_running[1][j]);
            trips.emplace_back(row, cycle_col(k, 5), mode_ui0[k][j] * (dt / (p * cw.mode_scale[0])));
            trips.emplace_back(row, cycle_col(k, 6), mode_ui1[k][j] * (dt / (p * cw.mode_scale[1])));
          } else {
            trips.emplace_back(row, cycle_col(k, 3), -(cw.mode_running[0][j] - tau_fit * mode_ui0[k][j] / (p * cw.mode_scale[0])));
            trips.emplace_back(row, cycle_col(k, 4), -(cw.mode_running[1][j] - tau_fit * mode_ui1[k][j] / (p * cw.mode_scale[1])));
          }
        }
        rhs0.push_back(cw.running[j] / scale);
        rhs1.push_back(ui[k][j] * dt / (p * scale));
        row_cycle.push_back(k);
        row_sample.push_back(j);
        ++row;
      }
    }
    const int data_rows = row;
    add_smoothing(trips, rhs0, row);
    const double we = 10.0 * std::sqrt(double(kc));
    for (int dir = 0; dir < 2; ++dir)
      for (std::size_t i : {std::size_t{0}, std::size_t{1}, g - 3, g - 2}) {
        trips.emplace_back(row, node(dir, i), we);
        trips.emplace_back(row, node(dir, i + 1), -we);
        rhs0.push_back(0.0);
        ++row;
      }
    // A common constant added to both curves and every cycle's constant changes no residual: this row
    // picks one (it stays local in the solver's banded order); the odd-curve gauge follows the solve.
    trips.emplace_back(row, node(0, 0), 1.0);
    trips.emplace_back(row, node(1, 0), 1.0);
    rhs0.push_back(0.0);
    ++row;
    rhs1.resize(static_cast<std::size_t>(row), 0.0);
    Eigen::SparseMatrix<double> design(row, static_cast<int>(unknowns));
    design.setFromTriplets(trips.begin(), trips.end());
    Eigen::SparseMatrix<double> ata = design.transpose() * design;
    Eigen::SparseMatrix<double> ridge(static_cast<int>(unknowns), static_cast<int>(unknowns));
    ridge.setIdentity();
    ata += 1e-12 * ridge;  // also pins the unused derivative columns of the second pass
    std::optional<BlockArrowSolver> solver;
    try {
      solver.emplace(ata, 2 * g, per_cycle, banded_order);
    } catch (const std::exception& e) {
      fail(std::string("the joint partial-FOV fit could not be factorised: ") + e.what());
    }
    Eigen::Map<const Eigen::VectorXd> y0(rhs0.data(), row), y1(rhs1.data(), row);
    Eigen::VectorXd x0 = solver->solve(design.transpose() * y0);
    Eigen::VectorXd x1 = solver->solve(design.transpose() * y1);
    if (!x0.allFinite() || !x1.allFinite()) fail("the joint partial-FOV fit failed");
    const Eigen::VectorXd r0 = design * x0 - y0, r1 = design * x1 - y1;
    const double r11 = r1.squaredNorm();
    if (search) {
      // Least squares in tau is biased low by the noise in y1 (the signal itself: errors in variables),
      // badly so when relaxation leaves little of the signal unexplained by the curves (2 pi f0 tau ~ 3
      // on a few ug). The estimate is refined with an instrument instead: the sample-to-sample change of
      // the fitted adiabatic moment along each cycle, which follows the true signal but not its noise
      // (the curves are shared by all cycles). tau = <r0, w> / <r1, w>, w the instrument's residual.
      double ratio = r11 > 0.0 ? std::max(0.0, r0.dot(r1) / r11) : 0.0;  // y1 carries a factor dt
      for (int iteration = 0; iteration < 3 && ratio > 0.0; ++iteration) {
        Eigen::VectorXd curves = x0 - ratio * x1;  // the curves only: the cycles' own terms carry their noise
        curves.tail(static_cast<long>(unknowns - 2 * g)).setZero();
        const Eigen::VectorXd fitted = design * curves;
        Eigen::VectorXd z = Eigen::VectorXd::Zero(row);
        for (int r = 0; r < data_rows; ++r) {
          const auto same = [&](int q) { return q >= 0 && q < data_rows && row_cycle[std::size_t(q)] == row_cycle[std::size_t(r)] &&
                                                 std::abs(long(row_sample[std::size_t(q)]) - long(row_sample[std::size_t(r)])) == 1; };
          const int lo = same(r - 1) ? r - 1 : r, hi = same(r + 1) ? r + 1 : r;
          if (hi > lo) z[r] = -(fitted[hi] - fitted[lo]) / double(hi - lo);
        }
        const Eigen::VectorXd instrument = design * solver->solve(design.transpose() * z) - z;
        const double denominator = r1.dot(instrument);
        if (!(std::abs(denominator) > 0.0) || !std::isfinite(denominator)) break;
        const double next = std::max(0.0, r0.dot(instrument) / denominator);
        if (!std::isfinite(next)) break;
        ratio = next;
      }
      tau_fit = ratio * dt;
    }
    // The odd-curve gauge: the edges' mean zero, M(-B) = -M(B) at the ends.
    for (Eigen::VectorXd* v : {&x0, &x1}) {
      const double shift = -0.25 * ((*v)[node(0, 0)] + (*v)[node(0, g - 1)] + (*v)[node(1, 0)] + (*v)[node(1, g - 1)]);
      v->head(static_cast<long>(2 * g)).array() += shift;
      for (std::size_t k = 0; k < kc; ++k) (*v)[cycle_col(k, 0)] += shift;
    }
    x = x0 - (tau_fit / dt) * x1;
  }

  RelaxometryResult res;
  res.sample_name = in.sample_name;
  res.iron_mass_ug = in.iron_mass_ug;
  res.cycles = kc;
  res.tau_fit_s = tau_fit;
  res.drive_amplitude_mt = amplitude_sum / double(kc) * 1e3;
  res.field_mt.resize(g);
  for (std::size_t i = 0; i < g; ++i) res.field_mt[i] = (double(first) + double(i)) * step * 1e3;
  const auto covered = [&](int dir, std::size_t i) {
    const std::size_t b = std::size_t(dir) * g;
    return coverage[b + i] > 0.0 || (i > 0 && i + 1 < g && coverage[b + i - 1] > 0.0 && coverage[b + i + 1] > 0.0);
  };
  // The equilibrium (adiabatic) curve: the mean of the two directions of the joint fit.
  res.equilibrium.moment_a_m2.assign(g, kNan);
  res.equilibrium.psf_a_m2_per_t.assign(g, kNan);
  for (std::size_t i = 0; i < g; ++i)
    if (covered(0, i) && covered(1, i)) res.equilibrium.moment_a_m2[i] = 0.5 * (x[node(0, i)] + x[node(1, i)]) * scale;
  for (std::size_t i = 1; i + 1 < g; ++i)
    res.equilibrium.psf_a_m2_per_t[i] = (res.equilibrium.moment_a_m2[i + 1] - res.equilibrium.moment_a_m2[i - 1]) / (2.0 * step);
  analyse_direction(res.field_mt, res.equilibrium);

  // Each cycle as measured (relaxed): its fundamental is the adiabatic one through the Debye filter,
  // (D - jE) / (1 + j w0 tau) for D cos + E sin; the constant and the notch modes carry over unchanged.
  const double w0tau = 2.0 * kPi * in.drive_frequency_hz * tau_fit;
  for (std::size_t k = 0; k < kc; ++k) {
    CycleWork& cw = work[k];
    const std::complex<double> adi(x[cycle_col(k, 1)] * scale / cw.amplitude_t, -x[cycle_col(k, 2)] * scale / cw.amplitude_t);
    const std::complex<double> rel = adi / std::complex<double>(1.0, w0tau);
    const double dk = rel.real(), ek = -rel.imag();
    const double ck = x[cycle_col(k, 0)] * scale;
    std::vector<double> moment(n + 1);
    for (std::size_t j = 0; j <= n; ++j) {
      moment[j] = cw.running[j] + ck + dk * cw.ref_cos[j] + ek * cw.ref_sin[j];
      if (use_modes) moment[j] += scale * (x[cycle_col(k, 3)] * cw.mode_running[0][j] + x[cycle_col(k, 4)] * cw.mode_running[1][j]);
    }
    std::vector<double> full(n);
    for (std::size_t i = 0; i < n; ++i) full[i] = -(p / dt) * (moment[i + 1] - moment[i]);
    fft.forward(full, bins);
    cw.spectrum.resize(bins.size());
    for (std::size_t b = 0; b < bins.size(); ++b) cw.spectrum[b] = bins[b] * ((b == 0 || 2 * b == n ? 1.0 : 2.0) / double(n));
  }

  // The equilibrium curve at any field (linear between nodes; outside the covered range its nearest
  // covered value, i.e. saturation) and its PSF (linear between the nodes' central differences).
  std::size_t eq_lo = 0, eq_hi = g - 1;
  while (eq_lo < g && !std::isfinite(res.equilibrium.psf_a_m2_per_t[eq_lo])) ++eq_lo;
  while (eq_hi > eq_lo && !std::isfinite(res.equilibrium.psf_a_m2_per_t[eq_hi])) --eq_hi;
  if (eq_lo + 2 > eq_hi) fail("the partial FOVs cover too small a field range for a moment curve");
  const auto eq_interp = [&](const std::vector<double>& v, double field, bool zero_outside) {
    const double pos = field / step - double(first);
    if (pos <= double(eq_lo)) return zero_outside ? 0.0 : v[eq_lo];
    if (pos >= double(eq_hi)) return zero_outside ? 0.0 : v[eq_hi];
    const auto i = std::min<std::size_t>(static_cast<std::size_t>(pos), eq_hi - 1);
    const double f = pos - double(i);
    return (1.0 - f) * v[i] + f * v[i + 1];
  };
  const auto eq_at = [&](double field) { return eq_interp(res.equilibrium.moment_a_m2, field, false); };
  const auto eq_psf_at = [&](double field) { return eq_interp(res.equilibrium.psf_a_m2_per_t, field, true); };

  // Directional PSFs: what each scan direction shows for a static zero bias and the measured drive
  // (amplitude A, f0): x-space PSF s(t) / (dB/dt) of the equilibrium curve's signal relaxed by tau_fit
  // (exact Debye filter on 64 points per sample, run into the periodic steady state), on the grid inside
  // [-A, A]. With tau = 0 both equal the equilibrium PSF.
  {
    const std::size_t fine = 64;
    const std::size_t m = n * fine;
    const double a_t = amplitude_sum / double(kc);
    const DebyeStep debye_fine(tau_fit, dt / double(fine));
    const auto field_at = [&](std::size_t i) { return a_t * std::cos(2.0 * kPi * double(i) / double(m)); };
    const auto rate_at = [&](std::size_t i) {  // dB/dt in T/s
      return -a_t * 2.0 * kPi * in.drive_frequency_hz * std::sin(2.0 * kPi * double(i) / double(m));
    };
    // s_adi = PSF(B) dB/dt and M_eq(B): relax both; the PSF per direction is s_rel / (dB/dt).
    std::vector<double> s_adi(m), m_eq(m), s_rel(m), m_rel(m);
    for (std::size_t i = 0; i < m; ++i) {
      s_adi[i] = eq_psf_at(field_at(i)) * rate_at(i);
      m_eq[i] = eq_at(field_at(i));
    }
    const double warm_periods = std::ceil(std::max(2.0, 12.0 * tau_fit * in.drive_frequency_hz));
    double ys = s_adi[0], ym = m_eq[0];
    const auto periods = static_cast<std::size_t>(warm_periods) + 1;
    for (std::size_t pp = 0; pp < periods; ++pp)
      for (std::size_t i = 0; i < m; ++i) {
        if (pp + 1 == periods) {
          s_rel[i] = ys;
          m_rel[i] = ym;
        }
        ys = debye_fine(ys, s_adi[i], s_adi[(i + 1) % m]);
        ym = debye_fine(ym, m_eq[i], m_eq[(i + 1) % m]);
      }
    DirectionalCurve* curves[2] = {&res.rising, &res.falling};
    for (int dir = 0; dir < 2; ++dir) {
      DirectionalCurve& d = *curves[dir];
      d.moment_a_m2.assign(g, kNan);
      d.psf_a_m2_per_t.assign(g, kNan);
      // Falling half: phase 0..pi (field A -> -A); rising half: pi..2 pi.
      const std::size_t begin = dir == 1 ? 0 : m / 2, end = dir == 1 ? m / 2 : m;
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t i1 = i + 1 < m ? i + 1 : 0;
        const double b0f = field_at(i), b1f = dir == 0 && i1 == 0 ? a_t : field_at(i1);
        const double r0 = rate_at(i), r1 = rate_at(i1);
        const double lo = std::min(b0f, b1f), hi = std::max(b0f, b1f);
        const auto n_lo = static_cast<long>(std::ceil(lo / step - double(first)));
        const auto n_hi = static_cast<long>(std::floor(hi / step - double(first)));
        for (long q = std::max(0L, n_lo); q <= std::min(long(g) - 1, n_hi); ++q) {
          const double f_node = (double(first) + double(q)) * step;
          const double f = hi > lo ? (f_node - b0f) / (b1f - b0f) : 0.0;
          const double rate = (1.0 - f) * r0 + f * r1;
          if (std::abs(rate) < 1e-3 * a_t * 2.0 * kPi * in.drive_frequency_hz) continue;  // turning points
          const std::size_t qi = static_cast<std::size_t>(q);
          d.psf_a_m2_per_t[qi] = ((1.0 - f) * s_rel[i] + f * s_rel[i1]) / rate;
          d.moment_a_m2[qi] = (1.0 - f) * m_rel[i] + f * m_rel[i1];
        }
      }
      analyse_direction(res.field_mt, d);
    }
  }
  res.moment_mean_a_m2.resize(g);
  for (std::size_t i = 0; i < g; ++i) res.moment_mean_a_m2[i] = 0.5 * (res.rising.moment_a_m2[i] + res.falling.moment_a_m2[i]);
  {
    std::size_t lo = 0, hi = g - 1;
    while (lo < g && !std::isfinite(res.equilibrium.moment_a_m2[lo])) ++lo;
    while (hi > lo && !std::isfinite(res.equilibrium.moment_a_m2[hi])) --hi;
    res.saturation_moment_a_m2 = lo < hi ? 0.5 * (res.equilibrium.moment_a_m2[hi] - res.equilibrium.moment_a_m2[lo]) : kNan;
  }
  res.fwhm_mean_mt = 0.5 * (res.rising.fwhm_mt + res.falling.fwhm_mt);
  res.fwhm_mm = opt.gradient_t_per_m > 0.0 ? res.fwhm_mean_mt / opt.gradient_t_per_m : kNan;
  res.psf_peak_a_m2_per_t = 0.5 * (res.rising.peak_a_m2_per_t + res.falling.peak_a_m2_per_t);
  res.psf_peak_per_ug = res.psf_peak_a_m2_per_t / in.iron_mass_ug;
  res.peak_separation_mt = res.rising.peak_offset_mt - res.falling.peak_offset_mt;
  res.peak_height_asymmetry = (res.rising.peak_a_m2_per_t - res.falling.peak_a_m2_per_t) /
                              (res.rising.peak_a_m2_per_t + res.falling.peak_a_m2_per_t);

  // Cycles nearest zero bias.
  std::vector<std::size_t> order(kc);
  for (std::size_t k = 0; k < kc; ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return std::abs(work[a].bias_mean_t) < std::abs(work[b].bias_mean_t); });
  const std::size_t nz = std::min<std::size_t>(static_cast<std::size_t>(opt.centroid_cycles), kc);

  // --- harmonic spectrum at zero bias ---
  const auto harmonics = static_cast<std::size_t>(opt.max_harmonic) + 1;
  res.harmonics.amplitude.assign(harmonics, 0.0);
  res.harmonics.phase_rad.assign(harmonics, 0.0);
  for (std::size_t z = 0; z < nz; ++z) {
    const CycleWork& cw = work[order[z]];
    for (std::size_t h = 0; h < harmonics; ++h) {
      const std::complex<double> s = cw.spectrum[h] * std::polar(1.0, -double(h) * cw.phase_rad);
      res.harmonics.amplitude[h] += std::abs(s) / double(nz);
      if (z == 0) res.harmonics.phase_rad[h] = std::arg(s);
    }
  }
  finish_harmonic_spectrum(res.harmonics);
  res.a3_per_ug_v = res.harmonics.amplitude.size() > 3 ? res.harmonics.amplitude[3] / in.iron_mass_ug : kNan;
  res.a3_moment_rate_per_ug = res.a3_per_ug_v / p;

  // --- tau by mirror symmetry ---
  // S: a cycle's spectrum timed from its drive maximum; M = -conj(S): the time-reversed, negated signal.
  // The adiabatic signal of a static bias is its own mirror image, so (M - S) / (j w (M + S)) = tau at
  // every harmonic. A bias ramp within the cycle breaks that symmetry to first order in the ramp; its
  // share is removed first: the relaxed signal predicted from the equilibrium curve for the cycle's
  // actual field minus that for the bias held at its value at the drive maximum (exact Debye filter run
  // into the cycle; tau_fit_s enters only this small correction).
  {
    const DebyeStep debye(tau_fit, 0.5 * dt);
    const auto predicted = [&](const CycleWork& cw, bool hold, double held) {
      const double slope_per_sample = (cw.bias[n - 1] - cw.bias[0]) / double(n - 1);
      const auto bias_t = [&](double t) {
        if (hold) return held;
        if (t <= 0.0) return cw.bias[0] + slope_per_sample * t;
        if (t >= double(n - 1)) return cw.bias[n - 1] + slope_per_sample * (t - double(n - 1));
        const auto i = std::min<std::size_t>(static_cast<std::size_t>(t), n - 2);
        const double f = t - double(i);
        return (1.0 - f) * cw.bias[i] + f * cw.bias[i + 1];
      };
      const auto field_t = [&](double t) { return cw.amplitude_t * std::cos(w * t + cw.phase_rad) + bias_t(t); };
      const double warm = std::ceil(std::max(4.0, 12.0 * tau_fit * in.drive_frequency_hz)) * double(n);
      double t = -warm - 0.5;
      double eq_prev = eq_at(field_t(t)), mu = eq_prev;
      std::vector<double> mu_half(n + 1);
      for (long hstep = 0;; ++hstep) {
        const double t_next = t + 0.5;
        const double eq_next = eq_at(field_t(t_next));
        mu = debye(mu, eq_prev, eq_next);
        eq_prev = eq_next;
        t = t_next;
        const double j = t + 0.5;  // half point j - 1/2
        if (j >= 0.0 && std::abs(j - std::round(j)) < 1e-9) {
          const auto jj = static_cast<std::size_t>(std::llround(j));
          if (jj <= n) mu_half[jj] = mu;
          if (jj == n) break;
        }
        (void)hstep;
      }
      std::vector<double> uu(n);
      for (std::size_t i = 0; i < n; ++i) uu[i] = -(p / dt) * (mu_half[i + 1] - mu_half[i]);
      std::vector<std::complex<double>> out(bins.size());
      fft.forward(uu, out);
      for (std::size_t b = 0; b < out.size(); ++b) out[b] *= (b == 0 || 2 * b == n ? 1.0 : 2.0) / double(n);
      return out;
    };
    double num = 0.0, den = 0.0;
    for (std::size_t k = 0; k < kc; ++k) {
      const CycleWork& cw = work[k];
      double t0 = -cw.phase_rad / w;
      while (t0 < 0.0) t0 += double(n);
      while (t0 >= double(n)) t0 -= double(n);
      const auto i0 = std::min<std::size_t>(static_cast<std::size_t>(t0), n - 2);
      const double b0 = (1.0 - (t0 - double(i0))) * cw.bias[i0] + (t0 - double(i0)) * cw.bias[i0 + 1];
      if (std::abs(b0) > 0.5 * cw.amplitude_t) continue;
      std::vector<std::complex<double>> correction(harmonics, {0.0, 0.0});
      const auto held = predicted(cw, true, b0);
      if (std::abs(cw.bias[n - 1] - cw.bias[0]) > 1e-9 * cw.amplitude_t || std::abs(b0 - cw.bias_mean_t) > 1e-9 * cw.amplitude_t) {
        const auto actual = predicted(cw, false, 0.0);
        for (std::size_t h = 0; h < harmonics; ++h) correction[h] = held[h] - actual[h];
      }
      for (std::size_t h = 2; h < harmonics; ++h) {
        const std::complex<double> timing = std::polar(1.0, -double(h) * cw.phase_rad);
        const std::complex<double> sv = (cw.spectrum[h] + correction[h]) * timing;
        const std::complex<double> m = -std::conj(sv);
        const std::complex<double> j_omega(0.0, 2.0 * kPi * double(h) * in.drive_frequency_hz);
        // (M - S) = tau j omega (M + S) over harmonics and cycles. The measured M + S carries the noise
        // of the spectrum, which would bias least squares low; the instrument is the same quantity of the
        // signal predicted from the equilibrium curve (noise averaged out over all cycles).
        const std::complex<double> lhs = m - sv, basis = j_omega * (m + sv);
        const std::complex<double> sp = held[h] * timing;
        const std::complex<double> instrument = j_omega * (sp - std::conj(sp));
        num += std::real(std::conj(instrument) * lhs);
        den += std::real(std::conj(instrument) * basis);
      }
    }
    res.tau_mirror_s = den > 0.0 ? num / den : kNan;
  }

  // --- tau by the time centroid ---
  {
    const std::size_t factor = 16;
    const std::size_t m = n * factor;
    const double h = 1.0 / double(factor);  // in samples
    double sum = 0.0;
    int count = 0;
    for (std::size_t z = 0; z < nz; ++z) {
      const CycleWork& cw = work[order[z]];
      const std::vector<double> sig = upsample(cw.spectrum, n, factor);
      // Drive maximum at sample time t0 (phase 0): w t0 + phi = 0 mod 2 pi.
      double t0 = -cw.phase_rad / w;
      while (t0 < 0.0) t0 += double(n);
      const auto value_at = [&](double t) {  // periodic, linear between the fine points
        double pos = t / h;
        pos = std::fmod(pos, double(m));
        if (pos < 0.0) pos += double(m);
        const auto i = static_cast<std::size_t>(pos);
        const double f = pos - double(i);
        return (1.0 - f) * sig[i % m] + f * sig[(i + 1) % m];
      };
      const auto bias_at = [&](double t) {  // t in samples, linear, clamped
        const double c = std::clamp(t, 0.0, double(n - 1));
        const auto i = std::min<std::size_t>(static_cast<std::size_t>(c), n - 2);
        const double f = c - double(i);
        return (1.0 - f) * cw.bias[i] + f * cw.bias[i + 1];
      };
      for (int half = 0; half < 2; ++half) {
        const double start = t0 + double(half) * 0.5 * double(n);
        const std::size_t pts = m / 2;
        std::vector<double> s(pts);
        for (std::size_t i = 0; i < pts; ++i) s[i] = value_at(start + double(i) * h);
        // Field zero crossing in the half cycle (the drive's fundamental plus the bias).
        const auto field = [&](double t) {
          double tt = std::fmod(t, double(n));
          if (tt < 0.0) tt += double(n);
          return cw.amplitude_t * std::cos(w * t + cw.phase_rad) + bias_at(tt);
        };
        double a = start, b = start + 0.5 * double(n);
        double fa = field(a), fb = field(b);
        if (fa * fb > 0.0) continue;  // the field does not cross zero in this half cycle
        for (int it = 0; it < 60; ++it) {
          const double mid = 0.5 * (a + b);
          const double fm = field(mid);
          if ((fm > 0.0) == (fa > 0.0)) {
            a = mid;
            fa = fm;
          } else {
            b = mid;
          }
        }
        const double t_zero = 0.5 * (a + b) - start;
        const double len = double(pts) * h;
        double tau = 0.0;
        for (int it = 0; it < 200; ++it) {
          // q(t) = s(t) - s(0) exp(-t / tau) in the window, q(end) exp(-(t - len) / tau) after it.
          double m0 = 0.0, m1 = 0.0;
          for (std::size_t i = 0; i < pts; ++i) {
            const double t = double(i) * h;
            const double q = s[i] - (tau > 0.0 ? s[0] * std::exp(-t / tau) : (i == 0 ? s[0] : 0.0));
            const double wgt = (i == 0) ? 0.5 * h : h;
            m0 += wgt * q;
            m1 += wgt * q * t;
          }
          const double q_end = value_at(start + len) - (tau > 0.0 ? s[0] * std::exp(-len / tau) : 0.0);
          m0 += 0.5 * h * q_end + q_end * tau;
          m1 += 0.5 * h * q_end * len + q_end * tau * (len + tau);
          const double next = std::max(0.0, m1 / m0 - t_zero);
          const double change = std::abs(next - tau);
          tau = 0.5 * (tau + next);
          if (change < 1e-9) break;
        }
        sum += tau;
        ++count;
      }
    }
    res.tau_centroid_s = count > 0 ? sum / double(count) * dt : kNan;
  }
  return res;
}

ComparisonTable compare_samples(const std::vector<RelaxometryResult>& results, std::size_t reference) {
  if (results.empty()) fail("compare_samples: no results");
  if (reference >= results.size()) fail("compare_samples: reference index " + std::to_string(reference) + " out of range");
  ComparisonTable t;
  t.reference = reference;
  const RelaxometryResult& ref = results[reference];
  const std::vector<std::size_t> by_s = rank_by_sensitivity(results), by_r = rank_by_resolution(results);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const RelaxometryResult& r = results[i];
    ComparisonRow row;
    row.sample_name = r.sample_name;
    row.iron_mass_ug = r.iron_mass_ug;
    row.fwhm_rising_mt = r.rising.fwhm_mt;
    row.fwhm_falling_mt = r.falling.fwhm_mt;
    row.fwhm_mean_mt = r.fwhm_mean_mt;
    row.fwhm_mm = r.fwhm_mm;
    row.psf_peak_per_ug = r.psf_peak_per_ug;
    row.a3_per_ug_v = r.a3_per_ug_v;
    row.a3_over_a1 = r.harmonics.a3_over_a1;
    row.a5_over_a3 = r.harmonics.a5_over_a3;
    row.decay_db_per_order = r.harmonics.decay_db_per_order;
    row.peak_separation_mt = r.peak_separation_mt;
    row.tau_centroid_us = r.tau_centroid_s * 1e6;
    row.tau_mirror_us = r.tau_mirror_s * 1e6;
    row.sensitivity_change_pct = (r.psf_peak_per_ug - ref.psf_peak_per_ug) / ref.psf_peak_per_ug * 100.0;
    row.resolution_change_pct = (r.fwhm_mean_mt - ref.fwhm_mean_mt) / ref.fwhm_mean_mt * 100.0;
    for (std::size_t k = 0; k < by_s.size(); ++k)
      if (by_s[k] == i) row.sensitivity_rank = static_cast<int>(k) + 1;
    for (std::size_t k = 0; k < by_r.size(); ++k)
      if (by_r[k] == i) row.resolution_rank = static_cast<int>(k) + 1;
    t.rows.push_back(row);
  }
  return t;
}

namespace {
std::vector<std::size_t> rank_by(const std::vector<RelaxometryResult>& results, double (*key)(const RelaxometryResult&)) {
  std::vector<std::size_t> idx(results.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    const double ka = key(results[a]), kb = key(results[b]);
    if (std::isnan(ka)) return false;  // NaN last
    if (std::isnan(kb)) return true;
    return ka < kb;
  });
  return idx;
}
}  // namespace

std::vector<std::size_t> rank_by_sensitivity(const std::vector<RelaxometryResult>& results) {
  return rank_by(results, [](const RelaxometryResult& r) { return -r.psf_peak_per_ug; });
}
std::vector<std::size_t> rank_by_resolution(const std::vector<RelaxometryResult>& results) {
  return rank_by(results, [](const RelaxometryResult& r) { return r.fwhm_mean_mt; });
}

std::string comparison_csv(const ComparisonTable& table) {
  std::ostringstream out;
  out.precision(8);
  out << "sample,iron_mass_ug,fwhm_rising_mT,fwhm_falling_mT,fwhm_mean_mT,fwhm_mm,psf_peak_Am2_per_T_per_ug,"
         "a3_V_per_ug,a3_over_a1,a5_over_a3,decay_dB_per_order,peak_separation_mT,tau_centroid_us,tau_mirror_us,"
         "sensitivity_change_pct,resolution_change_pct,sensitivity_rank,resolution_rank\n";
  for (const ComparisonRow& r : table.rows) {
    std::string name = r.sample_name;
    if (name.find_first_of(",\"\n") != std::string::npos) {
      std::string q = "\"";
      for (char ch : name) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      name = q + "\"";
    }
    out << name << ',' << r.iron_mass_ug << ',' << r.fwhm_rising_mt << ',' << r.fwhm_falling_mt << ',' << r.fwhm_mean_mt << ','
        << r.fwhm_mm << ',' << r.psf_peak_per_ug << ',' << r.a3_per_ug_v << ',' << r.a3_over_a1 << ',' << r.a5_over_a3 << ','
        << r.decay_db_per_order << ',' << r.peak_separation_mt << ',' << r.tau_centroid_us << ',' << r.tau_mirror_us << ','
        << r.sensitivity_change_pct << ',' << r.resolution_change_pct << ',' << r.sensitivity_rank << ',' << r.resolution_rank << '\n';
  }
  return out.str();
}

}  // namespace mpi::recon
