#include "mpi/recon/image_analysis.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

// A cubic grid of n^3 voxels of pitch h centred on the origin, values f(centre).
AnalysisImage cube_image(std::size_t n, double h, const std::function<double(const Eigen::Vector3d&)>& f) {
  AnalysisImage image;
  image.counts = {n, n, n};
  image.pixel_m = Eigen::Vector3d::Constant(h);
  image.origin_m = Eigen::Vector3d::Constant(-0.5 * static_cast<double>(n - 1) * h);
  image.values.resize(image.size());
  for (std::size_t v = 0; v < image.size(); ++v) image.values[v] = f(image.centre_m(v));
  return image;
}

// A 2D image nx x ny in the plane z = 0 with pitch h.
AnalysisImage plane_image(std::size_t nx, std::size_t ny, double h, const std::function<double(const Eigen::Vector3d&)>& f) {
  AnalysisImage image;
  image.counts = {nx, ny, 1};
  image.pixel_m = Eigen::Vector3d(h, h, 0.0);
  image.origin_m = Eigen::Vector3d(-0.5 * static_cast<double>(nx - 1) * h, -0.5 * static_cast<double>(ny - 1) * h, 0.0);
  image.values.resize(image.size());
  for (std::size_t v = 0; v < image.size(); ++v) image.values[v] = f(image.centre_m(v));
  return image;
}

// ---- profiles peak models written out independently of the library (in FWHM form)
double gaussian(double x, double a, double c, double w, double b) { return a * std::exp(-4.0 * std::log(2.0) * (x - c) * (x - c) / (w * w)) + b; }
double lorentzian(double x, double a, double c, double w, double b) { return a * (w * w / 4.0) / ((x - c) * (x - c) + w * w / 4.0) + b; }

struct Truth {
  double a, c, w, b;
};

std::vector<double> positions(double from, double to, double step) {
  std::vector<double> x;
  for (double v = from; v <= to + 1e-12; v += step) x.push_back(v);
  return x;
}

std::vector<double> sample(PeakModel model, const std::vector<double>& x, const Truth& t, double noise, std::mt19937_64* rng) {
  std::normal_distribution<double> n(0.0, noise);
  std::vector<double> y;
  for (double v : x) {
    const double clean = model == PeakModel::gaussian ? gaussian(v, t.a, t.c, t.w, t.b) : lorentzian(v, t.a, t.c, t.w, t.b);
    y.push_back(clean + (rng != nullptr ? n(*rng) : 0.0));
  }
  return y;
}

TEST(ImageAnalysisFit, NoiseFreeProfilesGiveTheirParametersExactly) {
  const std::vector<double> x = positions(-10.0, 10.0, 0.5);
  const Truth t{10.0, 0.7, 3.0, 1.0};
  for (PeakModel model : {PeakModel::gaussian, PeakModel::lorentzian}) {
    const PeakFit f = fit_peak(x, sample(model, x, t, 0.0, nullptr), model);
    EXPECT_NEAR(f.amplitude(), t.a, 1e-6) << to_string(model);
    EXPECT_NEAR(f.centre(), t.c, 1e-6) << to_string(model);
    EXPECT_NEAR(f.fwhm(), t.w, 1e-6) << to_string(model);
    EXPECT_NEAR(f.offset(), t.b, 1e-6) << to_string(model);
    EXPECT_NEAR(f.r_squared, 1.0, 1e-12) << to_string(model);
    EXPECT_NEAR(f(t.c), t.a + t.b, 1e-6);
  }
}

TEST(ImageAnalysisFit, NoisyProfilesGiveTheFwhmWithinAFewStandardErrors) {
  const std::vector<double> x = positions(-12.0, 12.0, 0.5);
  const Truth t{10.0, -1.3, 4.0, 0.5};
  std::mt19937_64 rng(42);
  for (PeakModel model : {PeakModel::gaussian, PeakModel::lorentzian}) {
    const PeakFit f = fit_peak(x, sample(model, x, t, 0.4, &rng), model);
    EXPECT_GT(f.fwhm_se(), 0.0);
    EXPECT_LT(std::abs(f.fwhm() - t.w), 4.0 * f.fwhm_se()) << to_string(model) << " fwhm " << f.fwhm() << " +- " << f.fwhm_se();
    EXPECT_LT(std::abs(f.centre() - t.c), 4.0 * f.centre_se()) << to_string(model);
    EXPECT_LT(std::abs(f.amplitude() - t.a), 4.0 * f.amplitude_se()) << to_string(model);
    EXPECT_GT(f.r_squared, 0.95);
    EXPECT_LT(f.r_squared, 1.0);
    // The residual RMS estimates the noise.
    EXPECT_NEAR(f.residual_rms, 0.4, 0.12);
  }
}

// The standard errors from the covariance against the spread of the estimates over 200 noise draws.
TEST(ImageAnalysisFit, ReportedStandardErrorsAgreeWithTheMonteCarloSpread) {
  const std::vector<double> x = positions(-12.0, 12.0, 0.5);
  const Truth t{10.0, 0.4, 3.0, 1.0};
  constexpr int kDraws = 200;
  for (PeakModel model : {PeakModel::gaussian, PeakModel::lorentzian}) {
    std::mt19937_64 rng(model == PeakModel::gaussian ? 7 : 11);
    std::vector<double> fwhm, centre;
    double se_fwhm = 0.0, se_centre = 0.0;
    for (int d = 0; d < kDraws; ++d) {
      const PeakFit f = fit_peak(x, sample(model, x, t, 0.5, &rng), model);
      fwhm.push_back(f.fwhm());
      centre.push_back(f.centre());
      se_fwhm += f.fwhm_se() / kDraws;
      se_centre += f.centre_se() / kDraws;
    }
    const auto spread = [](const std::vector<double>& v) {
      double m = 0.0;
      for (double e : v) m += e / static_cast<double>(v.size());
      double s = 0.0;
      for (double e : v) s += (e - m) * (e - m);
      return std::sqrt(s / static_cast<double>(v.size() - 1));
    };
    const double sd_fwhm = spread(fwhm), sd_centre = spread(centre);
    RecordProperty(std::string(to_string(model)) + "_fwhm_sd", std::to_string(sd_fwhm));
    RecordProperty(std::string(to_string(model)) + "_fwhm_mean_se", std::to_string(se_fwhm));
    EXPECT_NEAR(se_fwhm / sd_fwhm, 1.0, 0.25) << to_string(model) << ": spread " << sd_fwhm << ", mean SE " << se_fwhm;
    EXPECT_NEAR(se_centre / sd_centre, 1.0, 0.25) << to_string(model) << ": spread " << sd_centre << ", mean SE " << se_centre;
    // Unbiased within the Monte Carlo error of the mean.
    double mean_fwhm = 0.0;
    for (double e : fwhm) mean_fwhm += e / kDraws;
    EXPECT_NEAR(mean_fwhm, t.w, 4.0 * sd_fwhm / std::sqrt(double{kDraws})) << to_string(model);
  }
}

TEST(ImageAnalysisFit, BadOrDegenerateInputIsRefused) {
  const std::vector<double> x4{0.0, 1.0, 2.0, 3.0};
  EXPECT_THROW(fit_peak(x4, std::vector<double>{0.0, 1.0, 0.5, 0.0}, PeakModel::gaussian), std::invalid_argument);  // too few
  const std::vector<double> x = positions(0.0, 10.0, 1.0);
  EXPECT_THROW(fit_peak(x, std::vector<double>(x.size(), 2.0), PeakModel::gaussian), std::invalid_argument);  // flat
  EXPECT_THROW(fit_peak(x, std::vector<double>(3, 1.0), PeakModel::lorentzian), std::invalid_argument);     // sizes differ
  std::vector<double> with_nan(x.size(), std::nan(""));
  with_nan[3] = 1.0;
  EXPECT_THROW(fit_peak(x, with_nan, PeakModel::gaussian), std::invalid_argument);  // NaN skipped: one point left
  // One bright pixel on zero: the width is not determined by the data.
  std::vector<double> spike(x.size(), 0.0);
  spike[5] = 1.0;
  EXPECT_THROW(fit_peak(x, spike, PeakModel::gaussian), FitError);
}

// ---- the image, profiles

TEST(ImageAnalysisImage, SamplesInAnyOrderBuildTheGrid) {
  const AnalysisImage ref = plane_image(5, 3, 2e-3, [](const Eigen::Vector3d& p) { return 1.0 + p.x() * 1e3 + 10.0 * p.y() * 1e3; });
  std::vector<Eigen::Vector3d> centres;
  std::vector<double> values;
  for (std::size_t v = ref.size(); v-- > 0;) {  // reversed
    centres.push_back(ref.centre_m(v) + Eigen::Vector3d(0.0, 0.0, 1e-3));
    values.push_back(ref.values[v]);
  }
  const AnalysisImage image = image_from_samples(centres, values);
  EXPECT_EQ(image.counts, (std::array<std::size_t, 3>{5, 3, 1}));
  EXPECT_NEAR(image.pixel_m.x(), 2e-3, 1e-12);
  EXPECT_NEAR(image.origin_m.x(), -4e-3, 1e-12);
  EXPECT_NEAR(image.origin_m.z(), 1e-3, 1e-12);
  EXPECT_EQ(image.dimensions(), 2);
  EXPECT_NEAR(image.voxel_measure(), 4e-6, 1e-18);
  // value at (x, y) = (2, -2) mm: 1 + 2 - 20.
  EXPECT_DOUBLE_EQ(image.values[image.index(3, 0, 0)], -17.0);

  std::vector<Eigen::Vector3d> uneven = centres;
  uneven[0].x() += 0.3e-3;
  EXPECT_THROW(image_from_samples(uneven, values), std::invalid_argument);
  std::vector<Eigen::Vector3d> twice = centres;
  twice[1] = twice[0];
  EXPECT_THROW(image_from_samples(twice, values), std::invalid_argument);
  EXPECT_THROW(image_from_samples(std::span(centres).first(14), std::span(values).first(14)), std::invalid_argument);  // one missing
  EXPECT_THROW(image_from_samples({}, {}), std::invalid_argument);
}

TEST(ImageAnalysisImage, ProfilesGoThroughTheMaximumOrTheGivenPoint) {
  // A Gaussian blob of FWHM 3 mm at (2, -1, 0) mm on 0.5 mm voxels: the profile through the maximum along x
  // fits to that FWHM and centre.
  const double w = 3e-3;
  const Eigen::Vector3d at(2e-3, -1e-3, 0.0);
  const AnalysisImage image = cube_image(31, 0.5e-3, [&](const Eigen::Vector3d& p) {
    return 5.0 * std::exp(-4.0 * std::log(2.0) * (p - at).squaredNorm() / (w * w));
  });
  const LineProfile px = line_profile(image, Axis::x);
  EXPECT_NEAR(px.through_m.x(), 2e-3, 1e-12);
  EXPECT_NEAR(px.through_m.y(), -1e-3, 1e-12);
  ASSERT_EQ(px.values.size(), 31U);
  const PeakFit f = fit_peak(px.position_m, px.values, PeakModel::gaussian);
  EXPECT_NEAR(f.fwhm(), w, 1e-9);
  EXPECT_NEAR(f.centre(), 2e-3, 1e-9);
  // Through a given point: the nearest voxel; along y the values are the blob's slice there.
  const LineProfile py = line_profile(image, Axis::y, Eigen::Vector3d(3.1e-3, 0.0, 0.2e-3));
  EXPECT_NEAR(py.through_m.x(), 3e-3, 1e-12);
  EXPECT_NEAR(py.through_m.z(), 0.0, 1e-12);
  const PeakFit g = fit_peak(py.position_m, py.values, PeakModel::gaussian);
  EXPECT_NEAR(g.centre(), -1e-3, 1e-9);
  EXPECT_NEAR(g.amplitude(), 5.0 * std::exp(-4.0 * std::log(2.0) * 1e-6 / (w * w)), 1e-9);

  EXPECT_THROW(line_profile(image, Axis::z, Eigen::Vector3d(0.0, 0.0, 8e-3)), std::invalid_argument);  // outside (7.5 + 0.25 mm)
  const AnalysisImage flat = plane_image(5, 5, 1e-3, [](const Eigen::Vector3d&) { return 1.0; });
  EXPECT_THROW(line_profile(flat, Axis::z), std::invalid_argument);  // a single voxel along z
  EXPECT_THROW(line_profile(AnalysisImage{}, Axis::x), std::invalid_argument);  // empty
}

// ---- regions

TEST(ImageAnalysisRoi, BoxAndSphereTotalsOfAnalyticShapes) {
  // A Gaussian blob exp(-r^2 / 2 s^2), s = 1.5 mm, on 0.25 mm voxels: its integral is (2 pi)^(3/2) s^3.
  const double s = 1.5e-3, h = 0.25e-3;
  const AnalysisImage blob = cube_image(81, h, [&](const Eigen::Vector3d& p) { return std::exp(-p.squaredNorm() / (2.0 * s * s)); });
  Roi box;
  box.name = "box";
  box.size_m = Eigen::Vector3d::Constant(18e-3);  // +-6 s
  const RoiStats b = roi_statistics(blob, box);
  const double integral = std::pow(2.0 * std::numbers::pi, 1.5) * s * s * s;
  EXPECT_NEAR(b.integral / integral, 1.0, 1e-6);
  EXPECT_NEAR(b.sum, integral / (h * h * h), 1e-6 * b.sum);
  EXPECT_EQ(b.voxels, 73U * 73U * 73U);  // centres within +-9 mm: 36 on each side of the centre
  EXPECT_DOUBLE_EQ(b.peak, 1.0);
  EXPECT_NEAR(b.mean, b.sum / static_cast<double>(b.voxels), 1e-12);

  // A sphere of value 1: its voxel volume approaches 4/3 pi R^3.
  const AnalysisImage ones = cube_image(81, h, [](const Eigen::Vector3d&) { return 1.0; });
  Roi sphere;
  sphere.name = "sphere";
  sphere.shape = RoiShape::sphere;
  sphere.radius_m = 6e-3;
  const RoiStats sp = roi_statistics(ones, sphere);
  EXPECT_NEAR(sp.integral / (4.0 / 3.0 * std::numbers::pi * std::pow(6e-3, 3)), 1.0, 0.01);

  // A linear ramp: the mean over a box centred at x0 is the ramp's value at x0.
  const AnalysisImage ramp = plane_image(21, 21, 1e-3, [](const Eigen::Vector3d& p) { return 3.0 + 1e3 * p.x(); });
  Roi r;
  r.name = "ramp";
  r.centre_m = Eigen::Vector3d(4e-3, -2e-3, 0.0);
  r.size_m = Eigen::Vector3d(5e-3, 3e-3, 1e-3);
  const RoiStats rs = roi_statistics(ramp, r);
  EXPECT_EQ(rs.voxels, 15U);
  EXPECT_NEAR(rs.mean, 7.0, 1e-12);
  EXPECT_NEAR(rs.integral, rs.sum * 1e-6, 1e-15);  // 2D: sum x pixel area
}

TEST(ImageAnalysisRoi, BackgroundShellRemovesAConstantOffset) {
  const double s = 1e-3, h = 0.5e-3;
  const auto blob = [&](const Eigen::Vector3d& p) { return 4.0 * std::exp(-p.squaredNorm() / (2.0 * s * s)); };
  const AnalysisImage image = plane_image(41, 41, h, [&](const Eigen::Vector3d& p) { return blob(p) - 0.7; });
  for (RoiShape shape : {RoiShape::box, RoiShape::sphere}) {
    Roi roi;
    roi.name = "blob";
    roi.shape = shape;
    roi.size_m = Eigen::Vector3d(10e-3, 10e-3, 1e-3);
    roi.radius_m = 6e-3;
    roi.background_margin_m = 2e-3;
    const RoiStats st = roi_statistics(image, roi);
    EXPECT_GT(st.background_voxels, 0U);
    EXPECT_NEAR(st.background_mean, -0.7, 1e-6) << to_string(shape);
    // 2D Gaussian integral 2 pi s^2 x 4 over the pixel area.
    EXPECT_NEAR(st.net_sum * h * h / (4.0 * 2.0 * std::numbers::pi * s * s), 1.0, 1e-4) << to_string(shape);
  }
}

TEST(ImageAnalysisRoi, ThresholdRegionIsTheConnectedVoxelsAboveTheFraction) {
  // Two blobs; the region seeded near the first holds exactly the voxels where exp(-r^2 / 2 s^2) >= 0.5.
  const double s = 1.5e-3, h = 0.5e-3;
  const Eigen::Vector3d a(-4e-3, 0.0, 0.0), b(5e-3, 0.0, 0.0);
  const AnalysisImage image = plane_image(41, 21, h, [&](const Eigen::Vector3d& p) {
    return std::exp(-(p - a).squaredNorm() / (2 * s * s)) + 2.0 * std::exp(-(p - b).squaredNorm() / (2 * s * s));
  });
  Roi roi;
  roi.name = "left";
  roi.shape = RoiShape::threshold;
  roi.centre_m = Eigen::Vector3d(-2.5e-3, 1e-3, 0.0);
  roi.threshold_fraction = 0.5;
  const RoiStats st = roi_statistics(image, roi);
  EXPECT_NEAR(st.peak_at_m.x(), a.x(), 1e-12);
  EXPECT_NEAR(st.peak, 1.0, 1e-3);
  // Lattice points (i h, j h) with (i h)^2 + (j h)^2 <= 2 ln 2 s^2 (the other blob adds < 1e-6 there).
  const double r2 = 2.0 * std::log(2.0) * s * s;
  std::size_t expected = 0;
  for (int i = -10; i <= 10; ++i) {
    for (int j = -10; j <= 10; ++j) expected += (i * i + j * j) * h * h <= r2 ? 1 : 0;
  }
  EXPECT_EQ(st.voxels, expected);
  roi.background_margin_m = 1e-3;
  EXPECT_THROW(roi_statistics(image, roi), std::invalid_argument);
}

TEST(ImageAnalysisRoi, RegionsOutsideOrMalformedAreRefused) {
  const AnalysisImage image = plane_image(11, 11, 1e-3, [](const Eigen::Vector3d&) { return 1.0; });
  Roi roi;
  roi.name = "far";
  roi.centre_m = Eigen::Vector3d(20e-3, 0.0, 0.0);
  roi.size_m = Eigen::Vector3d::Constant(2e-3);
  try {
    roi_statistics(image, roi);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'far'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("holds no voxel"), std::string::npos) << e.what();
  }
  roi.centre_m = Eigen::Vector3d(0.0, 0.0, 3e-3);  // off the plane z = 0
  EXPECT_THROW(roi_statistics(image, roi), std::invalid_argument);
  roi.centre_m.setZero();
  roi.size_m = Eigen::Vector3d(2e-3, 0.0, 2e-3);
  EXPECT_THROW(roi_statistics(image, roi), std::invalid_argument);
  roi.shape = RoiShape::sphere;
  roi.radius_m = -1.0;
  EXPECT_THROW(roi_statistics(image, roi), std::invalid_argument);
  roi.shape = RoiShape::threshold;
  roi.threshold_fraction = 1.5;
  EXPECT_THROW(roi_statistics(image, roi), std::invalid_argument);
  roi.shape = RoiShape::box;
  roi.size_m = Eigen::Vector3d::Constant(3e-3);
  roi.background_margin_m = 0.2e-3;  // thinner than a pixel: no voxel in the shell
  EXPECT_THROW(roi_statistics(image, roi), std::invalid_argument);
  EXPECT_THROW(roi_statistics(AnalysisImage{}, roi), std::invalid_argument);
}

// ---- iron

TEST(ImageAnalysisIron, CalibrationAndQuantificationArithmetic) {
  RoiStats reference;
  reference.name = "ref";
  reference.net_sum = 20.0;
  const IronCalibration c = calibrate_iron(reference, 10e-9);  // 10 ug give 20
  EXPECT_DOUBLE_EQ(c.signal_per_kg, 2e9);
  RoiStats other;
  other.net_sum = 7.0;
  EXPECT_NEAR(quantify_iron_kg(c, other), 3.5e-9, 1e-20);
  EXPECT_NEAR(quantify_iron_kg(c, reference), 10e-9, 1e-20);
  // 100 mmol/L in a 2 mm cube: 100 mol/m^3 x 8e-9 m^3 x 55.845 g/mol = 44.676 ug.
  EXPECT_NEAR(iron_concentration_mol_per_m3(44.676e-9, 8e-9), 100.0, 1e-9);

  EXPECT_THROW(calibrate_iron(reference, 0.0), std::invalid_argument);
  EXPECT_THROW(calibrate_iron(reference, std::nan("")), std::invalid_argument);
  reference.net_sum = -1.0;
  EXPECT_THROW(calibrate_iron(reference, 1e-9), std::invalid_argument);
  EXPECT_THROW(quantify_iron_kg(IronCalibration{}, other), std::invalid_argument);
  EXPECT_THROW(iron_concentration_mol_per_m3(1e-9, 0.0), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
