// Harmonic calculator: a Langevin M(H) curve written as CSV (Oe and emu) must give the spectrum that the
// forward model's own receive signal has under the same sinusoidal drive; bad CSVs give errors with the
// file name and line number.
#include "mpi/recon/harmonic_calculator.hpp"

#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/tracer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include <cmath>
#include <complex>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>

namespace mpi::recon {
namespace {

Tracer tracer_25nm() {
  Tracer t;
  t.core_diameter_m = 25e-9;
  t.saturation_magnetisation_a_per_m = 4.46e5;
  t.temperature_k = 310.0;
  return t;
}

// The model-driven spectrum: receive voltage of 1 ug of the tracer in a coil of 1 mT/A under
// B(t) = bias + A cos(w t), integrate-and-dump at `samples` per period, plain DFT, dB re the fundamental.
std::vector<double> model_db(const Tracer& tracer, double amplitude_t, double bias_t, int max_h) {
  const ParticleSignalModel model(TracerModel{{TracerMode{"core", tracer, 1.0, 0.0}}}, {{Eigen::Vector3d::Zero(), 1e-9}},
                                  Eigen::Matrix3d::Zero(), 0.1);
  const std::size_t samples = 2048;
  std::vector<double> mu(samples + 1);
  for (std::size_t i = 0; i <= samples; ++i) {
    Eigen::Vector3d m[1];
    const double t = (double(i) - 0.5) / double(samples);
    model.equilibrium_moments(Eigen::Vector3d(bias_t + amplitude_t * std::cos(2.0 * std::numbers::pi * t), 0.0, 0.0), m);
    mu[i] = m[0].x();
  }
  std::vector<double> amp(static_cast<std::size_t>(max_h) + 1);
  for (int h = 1; h <= max_h; ++h) {
    std::complex<double> acc = 0.0;
    for (std::size_t i = 0; i < samples; ++i)
      acc += -1e-3 * (mu[i + 1] - mu[i]) * std::polar(1.0, -2.0 * std::numbers::pi * h * double(i) / double(samples));
    // The sample average of a derivative: divide out its sinc so the comparison is with the continuous signal.
    const double x = std::numbers::pi * h / double(samples);
    amp[static_cast<std::size_t>(h)] = std::abs(acc) / (std::sin(x) / x);
  }
  std::vector<double> db(amp.size());
  for (std::size_t h = 1; h < amp.size(); ++h) db[h] = 20.0 * std::log10(amp[h] / amp[1]);
  return db;
}

// The tracer's curve as a VSM file would give it: H in Oe (1 Oe = 0.1 mT), moment of 1 ug in emu.
std::string langevin_csv_oe_emu(const Tracer& tracer, double max_oe, int points) {
  const ParticleEnsemble e(tracer);
  const double particles = 1e-9 * e.particles_per_kg_iron();
  std::ostringstream out;
  out.precision(17);
  out << "# Langevin, 25 nm magnetite\nH_Oe,M_emu,comment\n";
  for (int i = 0; i < points; ++i) {
    const double oe = -max_oe + 2.0 * max_oe * i / (points - 1);
    out << oe << "," << particles * e.mean_moment_a_m2(oe * 1e-4) * 1e3 << ",x\n";
  }
  return out.str();
}

TEST(HarmonicCalculator, LangevinCsvAgreesWithTheModelDrivenSpectrum) {
  const Tracer tracer = tracer_25nm();
  const MhCurve curve = parse_mh_csv(langevin_csv_oe_emu(tracer, 400.0, 1601), "langevin.csv");
  ASSERT_EQ(curve.field_t.size(), 1601U);
  EXPECT_NEAR(curve.field_t.front(), -0.04, 1e-15);
  EXPECT_EQ(curve.moment_unit, "emu");
  for (const double bias : {0.0, 5e-3}) {
    HarmonicCalculatorOptions o;
    o.drive_amplitude_t = 15e-3;  // 150 Oe
    o.bias_t = bias;
    o.max_harmonic = 11;
    const HarmonicSpectrum s = harmonic_spectrum(curve, o);
    const std::vector<double> ref = model_db(tracer, 15e-3, bias, 11);
    EXPECT_NEAR(s.db[1], 0.0, 1e-12);
    double worst_db = 0.0;
    for (int h = 3; h <= 11; h += (bias == 0.0 ? 2 : 1)) {
      EXPECT_NEAR(s.db[std::size_t(h)], ref[std::size_t(h)], 0.1) << "harmonic " << h << " bias " << bias;
      worst_db = std::max(worst_db, std::abs(s.db[std::size_t(h)] - ref[std::size_t(h)]));
    }
    std::cout << "bias " << bias * 1e3 << " mT: largest difference to the model over harmonics 3-11: " << worst_db << " dB\n";
    if (bias == 0.0) {
      EXPECT_LT(s.db[2], -100.0);  // even harmonics vanish for an odd curve without bias
      EXPECT_NEAR(s.a3_over_a1, std::pow(10.0, ref[3] / 20.0), 0.01 * s.a3_over_a1);
      EXPECT_NEAR(s.a5_over_a3, std::pow(10.0, (ref[5] - ref[3]) / 20.0), 0.01 * s.a5_over_a3);
      // Decay slope: the least-squares line through the odd harmonics' dB.
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      for (int h = 3; h <= 11; h += 2) {
        sx += h;
        sy += ref[std::size_t(h)];
        sxx += h * h;
        sxy += h * ref[std::size_t(h)];
      }
      EXPECT_NEAR(s.decay_db_per_order, (5 * sxy - sx * sy) / (5 * sxx - sx * sx), 0.02);
    }
  }
}

TEST(HarmonicCalculator, BuiltInLangevinAndFileRoundTrip) {
  const Tracer tracer = tracer_25nm();
  const MhCurve curve = langevin_mh_curve(tracer, 0.05, 2001);
  const std::string path = ::testing::TempDir() + "mh_roundtrip.csv";
  {
    std::ofstream f(path);
    f << mh_curve_csv(curve);
  }
  const MhCurve back = read_mh_csv(path);
  ASSERT_EQ(back.field_t.size(), curve.field_t.size());
  HarmonicCalculatorOptions o;
  const HarmonicSpectrum a = harmonic_spectrum(curve, o), b = harmonic_spectrum(back, o);
  const std::vector<double> ref = model_db(tracer, 15e-3, 0.0, 11);
  for (int h = 3; h <= 11; h += 2) {
    EXPECT_NEAR(a.db[std::size_t(h)], ref[std::size_t(h)], 0.1);
    EXPECT_NEAR(b.db[std::size_t(h)], a.db[std::size_t(h)], 1e-9);
  }
  // The magnetisation spectrum is the induced one divided by n.
  o.quantity = HarmonicQuantity::magnetisation;
  const HarmonicSpectrum m = harmonic_spectrum(curve, o);
  EXPECT_NEAR(m.db[3], a.db[3] - 20.0 * std::log10(3.0), 1e-9);
  std::remove(path.c_str());
  // A descending file is reversed; the units A/m and kA/m are converted with mu0.
  const MhCurve down = parse_mh_csv("H [kA/m], M [A/m]\n10,1\n0,0\n-10,-1\n-20,-1.5\n", "down.csv");
  EXPECT_NEAR(down.field_t.front(), -20.0 * 4e-4 * std::numbers::pi, 1e-15);
  EXPECT_NEAR(down.moment.back(), 1.0, 0.0);
}

void expect_csv_error(const std::string& text, int line, const std::string& fragment) {
  try {
    (void)parse_mh_csv(text, "vsm.csv");
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const MhCurveError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    const std::string what = e.what();
    EXPECT_NE(what.find("vsm.csv:" + std::to_string(line) + ":"), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(HarmonicCalculator, BadCsvInputsNameTheLine) {
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,-0.5\n1,0.5\n0.5,0.2\n2,1\n", 5, "not strictly monotonic");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,-0.5\n-1,-0.5\n2,1\n", 4, "not strictly monotonic");
  expect_csv_error("# comment\nH_mT,X_Am2\n-2,-1\n", 2, "missing moment column");
  expect_csv_error("Field,M_emu\n-2,-1\n", 1, "field column 'Field' names no unit");
  expect_csv_error("T_mT,M_emu\n-2,-1\n", 1, "missing field column");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,nan\n1,0.5\n2,1\n", 3, "moment value 'nan' is not finite");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,-0.5\nNaN,0.5\n2,1\n", 4, "field value 'NaN' is not finite");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,abc\n1,0.5\n2,1\n", 3, "moment value 'abc' is not a number");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,1e999\n1,0.5\n2,1\n", 3, "moment value");
  expect_csv_error("H_gauss_x,M_Am2\n-2,-1\n", 1, "unknown field unit 'gauss_x'");
  expect_csv_error("H_mT,M_furlongs\n-2,-1\n", 1, "unknown moment unit 'furlongs'");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1\n", 3, "row has 1 columns");
  expect_csv_error("H_mT,M_Am2\n-2,-1\n-1,-0.5\n", 3, "need at least 4");
  try {
    (void)read_mh_csv("/nonexistent/dir/mh.csv");
    ADD_FAILURE();
  } catch (const MhCurveError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/mh.csv"), std::string::npos);
  }
  // A drive beyond the curve's range, and bad options.
  const MhCurve small = parse_mh_csv("H_mT,M_Am2\n-10,-1\n-5,-0.8\n5,0.8\n10,1\n", "small.csv");
  HarmonicCalculatorOptions o;
  EXPECT_THROW((void)harmonic_spectrum(small, o), std::invalid_argument);
  o.drive_amplitude_t = 5e-3;
  o.points_per_period = 7;
  EXPECT_THROW((void)harmonic_spectrum(small, o), std::invalid_argument);
  EXPECT_THROW((void)langevin_mh_curve(tracer_25nm(), -1.0), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
