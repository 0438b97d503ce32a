// Relaxometry analysis against the forward model: the relaxometer preset's sweep (24.51 kHz drive, bias
// triangle -45 -> +45 -> -45 mT, one drive cycle per step, 2.5 MS/s) simulated with ParticleSignalModel
// and DebyeStep on the half-sample grid (integrate-and-dump ADC), drive feedthrough, and the analog 60 dB
// notch modelled here in the time domain (second-order allpass-form notch run over the whole stream).
// The analysis must recover the analytic PSF width (REFERENCE 1.1), Debye tau by both methods
// (REFERENCE 1.2) and the sensitivity / resolution ratios that follow from the moments.
#include "mpi/recon/relaxometry.hpp"

#include "mpi/recon/constants.hpp"
#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/relaxation.hpp"
#include "mpi/recon/tracer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon {
namespace {

constexpr double kFs = 2.5e6;
constexpr std::size_t kPeriod = 102;
constexpr double kF0 = kFs / 102.0;
constexpr double kCoil = 2e-3;  // T/A
constexpr double kIronUg = 100.0;

// Second-order notch, transposed direct form II, written from its transfer function
// H(z) = ((1 + g) + (1 - g) A(z)) / 2, A the second-order allpass with k1 = -cos(w0), k2 from the bandwidth.
class TestNotch {
 public:
  TestNotch(double f0, double bw, double depth_db, double fs) {
    const double g = std::pow(10.0, -depth_db / 20.0);
    const double t = std::tan(std::numbers::pi * bw / fs);
    const double k2 = (1.0 - t) / (1.0 + t);
    const double k1 = -std::cos(2.0 * std::numbers::pi * f0 / fs);
    a1_ = k1 * (1.0 + k2);
    a2_ = k2;
    b0_ = 0.5 * ((1.0 + g) + (1.0 - g) * k2);
    b1_ = a1_;  // (1 + g)/2 a1 + (1 - g)/2 a1
    b2_ = 0.5 * ((1.0 + g) * k2 + (1.0 - g));
  }
  double operator()(double x) {
    const double y = b0_ * x + s1_;
    s1_ = b1_ * x - a1_ * y + s2_;
    s2_ = b2_ * x - a2_ * y;
    return y;
  }

 private:
  double a1_, a2_, b0_, b1_, b2_, s1_ = 0.0, s2_ = 0.0;
};

struct Sweep {
  double drive_t = 15e-3;
  double drive_phase = 0.4;
  double bias_max_t = 45e-3;
  std::size_t cycles_per_direction = 61;
  bool stepped = false;       // bias constant per cycle (else a linear ramp sample by sample)
  double bias_lag_s = 0.0;    // stepped: first-order lag of the bias supply (the preset's 50 us)
  bool report_bias_samples = true;  // give the analysis the bias at every sample (else the step value)
  double notch_db = 60.0;
  double feedthrough_v_s_per_t = 1e-9;
  double noise_v = 0.0;       // std per sample
};

double bias_at(const Sweep& s, double t_samples) {
  const double half = double(s.cycles_per_direction) * double(kPeriod);
  const double span = 2.0 * s.bias_max_t;
  if (s.stepped) {
    const auto target = [&](double cycle) {
      double c = std::fmod(cycle, 2.0 * double(s.cycles_per_direction));
      if (c < 0.0) c += 2.0 * double(s.cycles_per_direction);
      const double k = c < double(s.cycles_per_direction) ? c : 2.0 * double(s.cycles_per_direction) - 1.0 - c;
      return -s.bias_max_t + span * k / double(s.cycles_per_direction - 1);
    };
    const double cycle = std::floor(t_samples / double(kPeriod));
    if (s.bias_lag_s <= 0.0) return target(cycle);
    // b' = (target - b) / lag, stepped targets: exact exponential per cycle, from 12 cycles back.
    const double decay = std::exp(-double(kPeriod) / (kFs * s.bias_lag_s));
    double b = target(cycle - 12.0);
    for (double c = cycle - 12.0; c < cycle; c += 1.0) b = target(c) + (b - target(c)) * decay;
    return target(cycle) + (b - target(cycle)) * std::exp(-(t_samples - cycle * double(kPeriod)) / (kFs * s.bias_lag_s));
  }
  double t = std::fmod(t_samples, 2.0 * half);
  if (t < 0.0) t += 2.0 * half;
  return t < half ? -s.bias_max_t + span * t / half : s.bias_max_t - span * (t - half) / half;
}

// Sample (with particles) and background acquisitions of the sweep.
RelaxometryInput simulate(const Tracer& tracer, double tau_s, const Sweep& s, double iron_ug = kIronUg) {
  TracerModel model{{TracerMode{"core", tracer, 1.0, tau_s}}};
  const ParticleSignalModel particles(model, {{Eigen::Vector3d::Zero(), iron_ug * 1e-9}}, Eigen::Matrix3d::Zero(), 0.1);
  const double dt = 1.0 / kFs, w = 2.0 * std::numbers::pi * kF0;
  const auto drive = [&](double t_samples) { return s.drive_t * std::cos(w * t_samples * dt + s.drive_phase); };
  const auto field = [&](double t_samples) { return drive(t_samples) + bias_at(s, t_samples); };
  const auto moment = [&](double t_samples) {
    Eigen::Vector3d mu[1];
    particles.equilibrium_moments(Eigen::Vector3d(field(t_samples), 0.0, 0.0), mu);
    return mu[0].x();
  };
  const std::size_t cycles = 2 * s.cycles_per_direction;
  const long warmup = 4 * long(kPeriod);
  const DebyeStep debye(tau_s, 0.5 * dt);
  TestNotch notch_sample(kF0, 0.1 * kF0, s.notch_db, kFs), notch_bg(kF0, 0.1 * kF0, s.notch_db, kFs);
  RelaxometryInput in;
  in.sample_name = "sim";
  in.iron_mass_ug = iron_ug;
  in.sample_rate_hz = kFs;
  in.drive_frequency_hz = kF0;
  in.coil_sensitivity_t_per_a = kCoil;
  in.notch.depth_db = s.notch_db;
  in.sample.cycles.resize(cycles);
  in.background.cycles.resize(cycles);
  // Warm-up at the first cycle's field pattern (the sweep is periodic: start from its end).
  const double t_start = -double(warmup);
  double eq_prev = moment(t_start - 0.5), mu_prev = eq_prev;
  std::uint64_t noise_state = 12345;
  const auto gauss = [&]() {
    const auto next = [&]() {
      noise_state = noise_state * 6364136223846793005ULL + 1442695040888963407ULL;
      return (double(noise_state >> 11) + 0.5) / 9007199254740992.0;
    };
    const double u1 = next(), u2 = next();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  };
  for (long n = -warmup; n < long(cycles * kPeriod); ++n) {
    const double t = double(n);
    const double eq_mid = moment(t), eq_next = moment(t + 0.5);
    const double mu_mid = debye(mu_prev, eq_prev, eq_mid);
    const double mu_next = debye(mu_mid, eq_mid, eq_next);
    const double feed = -s.feedthrough_v_s_per_t * (drive(t + 0.5) - drive(t - 0.5)) / dt;
    const double u = notch_sample(-kCoil * (mu_next - mu_prev) / dt + feed);
    const double b = notch_bg(feed);
    mu_prev = mu_next;
    eq_prev = eq_next;
    if (n < 0) continue;
    const auto k = static_cast<std::size_t>(n) / kPeriod;
    RelaxometryCycle& c = in.sample.cycles[k];
    RelaxometryCycle& bg = in.background.cycles[k];
    c.samples_v.push_back(u + s.noise_v * gauss());
    bg.samples_v.push_back(b + s.noise_v * gauss());
    c.drive_field_t.push_back(drive(t));
    bg.drive_field_t.push_back(drive(t));
    if (!s.stepped || (s.bias_lag_s > 0.0 && s.report_bias_samples)) c.bias_samples_t.push_back(bias_at(s, t));
  }
  for (std::size_t k = 0; k < cycles; ++k) {
    double sum = 0.0;
    for (std::size_t i = 0; i < kPeriod; ++i) sum += bias_at(s, double(k * kPeriod + i));
    in.sample.cycles[k].bias_field_t = sum / double(kPeriod);
    if (s.stepped && !s.report_bias_samples) {  // only the commanded step is known
      Sweep plain = s;
      plain.bias_lag_s = 0.0;
      in.sample.cycles[k].bias_field_t = bias_at(plain, double(k * kPeriod));
    }
    in.background.cycles[k].bias_field_t = in.sample.cycles[k].bias_field_t;
  }
  return in;
}

Tracer sharp_tracer() {  // REFERENCE 1.1 worked value: 30 nm, 8e5 A/m, 293.15 K -> 1.489 mT
  Tracer t;
  t.core_diameter_m = 30e-9;
  t.saturation_magnetisation_a_per_m = 8e5;
  t.temperature_k = 293.15;
  return t;
}

Tracer broad_tracer() {  // 25 nm, 4.46e5 A/m, 310 K -> 4.88 mT
  Tracer t;
  t.core_diameter_m = 25e-9;
  t.saturation_magnetisation_a_per_m = 4.46e5;
  t.temperature_k = 310.0;
  return t;
}

TEST(Relaxometry, NotchResponseHasItsDepthAtTheCentreAndUnityAtDc) {
  ReceiveNotch n;
  n.depth_db = 60.0;
  EXPECT_NEAR(std::abs(notch_response(n, kF0, kF0, kFs)), 1e-3, 1e-9);
  EXPECT_NEAR(std::abs(notch_response(n, kF0, 0.0, kFs)), 1.0, 1e-12);
  EXPECT_NEAR(std::abs(notch_response(n, kF0, 5.0 * kF0, kFs)), 1.0, 0.01);
  n.depth_db = 0.0;
  EXPECT_EQ(notch_response(n, kF0, kF0, kFs), std::complex<double>(1.0, 0.0));
}

TEST(Relaxometry, IdealLangevinFwhmMatchesTheAnalyticValue) {
  for (const Tracer& tracer : {sharp_tracer(), broad_tracer()}) {
    const double expected_mt = psf_fwhm_field_t(tracer) * 1e3;
    const RelaxometryResult r = analyse_relaxometry(simulate(tracer, 0.0, Sweep{}));
    EXPECT_NEAR(r.rising.fwhm_mt, expected_mt, 0.02 * expected_mt);
    EXPECT_NEAR(r.falling.fwhm_mt, expected_mt, 0.02 * expected_mt);
    EXPECT_NEAR(r.fwhm_mean_mt, expected_mt, 0.02 * expected_mt);
    EXPECT_NEAR(r.equilibrium.fwhm_mt, expected_mt, 0.02 * expected_mt);
    // Peak: N m^2 / (3 kB T) per T of mu0 H (L'(0) = 1/3), at zero field in both directions.
    const ParticleEnsemble e(tracer);
    const double m = e.classes()[0].moment_a_m2;
    const double peak = kIronUg * 1e-9 * e.particles_per_kg_iron() * m * m / (3.0 * kBoltzmann * tracer.temperature_k);
    EXPECT_NEAR(r.psf_peak_a_m2_per_t, peak, 0.02 * peak);
    EXPECT_NEAR(r.psf_peak_per_ug, peak / kIronUg, 0.02 * peak / kIronUg);
    EXPECT_NEAR(r.rising.peak_offset_mt, 0.0, 0.02 * expected_mt);
    EXPECT_NEAR(r.falling.peak_offset_mt, 0.0, 0.02 * expected_mt);
    EXPECT_NEAR(r.tau_centroid_s, 0.0, 0.1e-6);
    EXPECT_NEAR(r.tau_mirror_s, 0.0, 0.1e-6);
    // Saturation moment N m (the sweep reaches 60 mT: L(xi) = 1 - 1/xi there).
    const double sat = kIronUg * 1e-9 * e.particles_per_kg_iron() * e.mean_moment_a_m2(0.06);
    EXPECT_NEAR(r.saturation_moment_a_m2, sat, 0.01 * sat);
    EXPECT_NEAR(r.drive_amplitude_mt, 15.0, 1e-6);
  }
}

TEST(Relaxometry, SteppedBiasGivesTheSameWidth) {
  Sweep s;
  s.stepped = true;
  const Tracer tracer = broad_tracer();
  const double expected_mt = psf_fwhm_field_t(tracer) * 1e3;
  const RelaxometryResult r = analyse_relaxometry(simulate(tracer, 0.0, s));
  EXPECT_NEAR(r.fwhm_mean_mt, expected_mt, 0.02 * expected_mt);
}

TEST(Relaxometry, LaggedBiasStepsWithTheirSamplesGiveTheWidthAndTau) {
  // One drive cycle per step through the bias supply's 50 us lag (the relaxometer preset), the bias at
  // every sample known from the lag model.
  Sweep s;
  s.stepped = true;
  s.bias_lag_s = 50e-6;
  const Tracer tracer = broad_tracer();
  const double expected_mt = psf_fwhm_field_t(tracer) * 1e3;
  const RelaxometryResult r = analyse_relaxometry(simulate(tracer, 0.0, s));
  EXPECT_NEAR(r.fwhm_mean_mt, expected_mt, 0.02 * expected_mt);
  const RelaxometryResult r5 = analyse_relaxometry(simulate(tracer, 5e-6, s));
  EXPECT_NEAR(r5.tau_centroid_s, 5e-6, 0.25e-6);
  EXPECT_NEAR(r5.tau_mirror_s, 5e-6, 0.25e-6);
  // Only the step values known: the analysis rebuilds the bias from the supply's time constant.
  s.report_bias_samples = false;
  RelaxometryInput in = simulate(tracer, 5e-6, s);
  ASSERT_TRUE(in.sample.cycles[3].bias_samples_t.empty());
  in.bias_time_constant_s = 50e-6;
  const RelaxometryResult rs = analyse_relaxometry(in);
  EXPECT_NEAR(rs.tau_centroid_s, 5e-6, 0.25e-6);
  EXPECT_NEAR(rs.tau_mirror_s, 5e-6, 0.25e-6);
  EXPECT_NEAR(rs.equilibrium.fwhm_mt, expected_mt, 0.03 * expected_mt);
}

TEST(Relaxometry, DebyeTauRecoveredByBothMethods) {
  for (const double tau : {2e-6, 5e-6, 20e-6}) {
    const RelaxometryResult r = analyse_relaxometry(simulate(broad_tracer(), tau, Sweep{}));
    EXPECT_NEAR(r.tau_centroid_s, tau, 0.05 * tau) << tau;
    EXPECT_NEAR(r.tau_mirror_s, tau, 0.05 * tau) << tau;
    EXPECT_NEAR(r.tau_fit_s, tau, 0.05 * tau) << tau;
    // The equilibrium curve comes back from under the relaxation.
    const double expected_mt = psf_fwhm_field_t(broad_tracer()) * 1e3;
    EXPECT_NEAR(r.equilibrium.fwhm_mt, expected_mt, 0.02 * expected_mt) << tau;
    // Relaxation shifts the rising PSF to positive and the falling one to negative fields.
    EXPECT_GT(r.rising.peak_offset_mt, 0.0);
    EXPECT_LT(r.falling.peak_offset_mt, 0.0);
    EXPECT_GT(r.peak_separation_mt, 0.0);
  }
}

// A strongly relaxing sample at the signal-to-noise ratio of a few ug on the relaxometer preset (noise
// 55 uV per sample against 100 ug here is 1.1 uV against 2 ug): least squares in tau, with the noisy
// signal on both sides, came out at 2.6 us for 20 us; the instrument-variable estimates must not.
TEST(Relaxometry, DebyeTauIsNotBiasedByNoiseAtLowSignalToNoise) {
  Sweep s;
  s.cycles_per_direction = 612;  // one 20 Hz sweep at 24.5 kHz, one bias step per drive cycle
  s.bias_max_t = 40e-3;
  s.stepped = true;
  s.bias_lag_s = 50e-6;
  s.noise_v = 55e-6;
  const double tau = 20e-6;
  const RelaxometryResult r = analyse_relaxometry(simulate(sharp_tracer(), tau, s));
  EXPECT_NEAR(r.tau_fit_s, tau, 0.05 * tau);
  EXPECT_NEAR(r.tau_mirror_s, tau, 0.05 * tau);
  EXPECT_NEAR(r.tau_centroid_s, tau, 0.05 * tau);
}

TEST(Relaxometry, HarmonicsMatchTheModelAtZeroBias) {
  // Odd harmonics only at zero bias for an ideal tracer; A3/A1 etc. consistent with the dB list.
  const RelaxometryResult r = analyse_relaxometry(simulate(broad_tracer(), 0.0, Sweep{}));
  ASSERT_EQ(r.harmonics.amplitude.size(), 12U);
  EXPECT_NEAR(r.harmonics.db[1], 0.0, 1e-12);
  EXPECT_NEAR(r.harmonics.a3_over_a1, r.harmonics.amplitude[3] / r.harmonics.amplitude[1], 1e-12);
  EXPECT_LT(r.harmonics.decay_db_per_order, 0.0);
  // Reference: the fundamental and 3rd of the zero-bias cycle computed directly from the model
  // (equilibrium moment at 4096 points per period, derivative by differences, DFT).
  const Tracer tracer = broad_tracer();
  const ParticleEnsemble e(tracer);
  const double np = kIronUg * 1e-9 * e.particles_per_kg_iron();
  const std::size_t L = 4096;
  std::vector<double> mu(L);
  for (std::size_t i = 0; i < L; ++i) mu[i] = np * e.mean_moment_a_m2(15e-3 * std::cos(2.0 * std::numbers::pi * double(i) / double(L)));
  double a[6] = {};
  for (int h : {1, 3, 5}) {
    std::complex<double> acc = 0.0;
    for (std::size_t i = 0; i < L; ++i)
      acc += (mu[(i + 1) % L] - mu[i]) * std::polar(1.0, -2.0 * std::numbers::pi * h * (double(i) + 0.5) / double(L));
    a[h] = std::abs(acc) * 2.0 / double(L) * kCoil * kF0 * double(L);  // |u_h| = p |dmu/dt|_h
  }
  // The analysed cycles sit within +-0.75 mT of zero bias: a few per cent.
  EXPECT_NEAR(r.harmonics.amplitude[1], a[1], 0.03 * a[1]);
  EXPECT_NEAR(r.harmonics.amplitude[3], a[3], 0.03 * a[3]);
  EXPECT_NEAR(r.harmonics.a3_over_a1, a[3] / a[1], 0.03 * a[3] / a[1]);
  EXPECT_NEAR(r.harmonics.a5_over_a3, a[5] / a[3], 0.03 * a[5] / a[3]);
  EXPECT_NEAR(r.a3_per_ug_v, a[3] / kIronUg, 0.03 * a[3] / kIronUg);
}

TEST(Relaxometry, TwoTracersRankedWithTheExpectedDifferences) {
  // Moments differ by 15 % (Ms x 1.15, same cores): per iron mass the PSF peak N m^2 / (3 kB T) rises
  // by 1.15^2 - 1 = 32.25 %, the FWHM 4.161 kB T / m falls by 1 - 1/1.15 = 13.04 %.
  Tracer a = broad_tracer();
  Tracer b = a;
  b.saturation_magnetisation_a_per_m *= 1.15;
  RelaxometryOptions opt;
  opt.gradient_t_per_m = 2.0;
  std::vector<RelaxometryResult> results;
  results.push_back(analyse_relaxometry(simulate(a, 0.0, Sweep{}, 100.0), opt));
  results.back().sample_name = "A";
  results.push_back(analyse_relaxometry(simulate(b, 0.0, Sweep{}, 80.0), opt));
  results.back().sample_name = "B, +15 %";
  const ComparisonTable t = compare_samples(results, 0);
  ASSERT_EQ(t.rows.size(), 2U);
  EXPECT_EQ(t.rows[1].sensitivity_rank, 1);
  EXPECT_EQ(t.rows[1].resolution_rank, 1);
  EXPECT_EQ(t.rows[0].sensitivity_rank, 2);
  EXPECT_EQ(rank_by_sensitivity(results), (std::vector<std::size_t>{1, 0}));
  EXPECT_EQ(rank_by_resolution(results), (std::vector<std::size_t>{1, 0}));
  EXPECT_NEAR(t.rows[1].sensitivity_change_pct, (1.15 * 1.15 - 1.0) * 100.0, 2.0);
  EXPECT_NEAR(t.rows[1].resolution_change_pct, (1.0 / 1.15 - 1.0) * 100.0, 2.0);
  EXPECT_NEAR(t.rows[0].fwhm_mm, t.rows[0].fwhm_mean_mt / 2.0, 1e-12);
  const std::string csv = comparison_csv(t);
  EXPECT_NE(csv.find("fwhm_mean_mT"), std::string::npos);
  EXPECT_NE(csv.find("\"B, +15 %\""), std::string::npos);
}

TEST(Relaxometry, NoiseAndNotchAreTolerated) {
  Sweep s;
  s.noise_v = 1e-9 * std::sqrt(kFs / 2.0);  // the preset's 1 nV/sqrtHz
  const Tracer tracer = broad_tracer();
  const double expected_mt = psf_fwhm_field_t(tracer) * 1e3;
  const RelaxometryResult r = analyse_relaxometry(simulate(tracer, 5e-6, s));
  EXPECT_NEAR(r.tau_mirror_s, 5e-6, 0.25e-6);
  EXPECT_NEAR(r.tau_centroid_s, 5e-6, 0.25e-6);
  EXPECT_NEAR(r.equilibrium.fwhm_mt, expected_mt, 0.03 * expected_mt);
}

TEST(Relaxometry, RejectsBadInputNamingWhatAndWhere) {
  const RelaxometryInput good = simulate(broad_tracer(), 0.0, Sweep{});
  const auto expect_error = [](const RelaxometryInput& in, const std::string& fragment) {
    try {
      (void)analyse_relaxometry(in);
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  RelaxometryInput in = good;
  in.sample.cycles[7].samples_v.pop_back();
  expect_error(in, "cycle 7 has 101 samples");
  in = good;
  in.sample.cycles[3].samples_v[5] = std::nan("");
  expect_error(in, "samples_v of cycle 3 is not finite at sample 5");
  in = good;
  in.background.cycles.pop_back();
  expect_error(in, "background has 121 cycles");
  in = good;
  in.iron_mass_ug = 0.0;
  expect_error(in, "iron_mass_ug");
  in = good;
  in.coil_sensitivity_t_per_a = -1.0;
  expect_error(in, "coil_sensitivity");
  in = good;
  in.sample.cycles.clear();
  in.background.cycles.clear();
  expect_error(in, "no cycles");
  in = good;
  in.sample.cycles[2].drive_field_t.assign(kPeriod, 0.0);
  expect_error(in, "drive amplitude of cycle 2 is zero");
  in = good;
  in.sample.cycles[4].bias_samples_t.resize(5);
  expect_error(in, "cycle 4 has bias_samples_t of length 5");
  in = good;
  in.drive_frequency_hz = kFs / 101.5;
  expect_error(in, "whole number of samples");
  EXPECT_THROW((void)compare_samples({}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
