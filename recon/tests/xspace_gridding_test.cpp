// x-space gridding on 1D and 2D FFP trajectories, checked against the Langevin PSF formulas of
// REFERENCE 1.1 and 2 (tangential L', normal L(xi)/xi) with signals from the physical forward model.
#include "mpi/recon/xspace_gridding.hpp"

#include "mpi/recon/spectrum.hpp"
#include "xspace_synthetic.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

using xspace_test::Cores;

// REFERENCE 2.1 / configs/scanners/preclinical-ffp.toml: 2.5 MHz base clock, dividers 102 (x) and 96 (y),
// 12 mT, G = diag(-1, -1, 2) T/m, 2.5 MS/s, a 1632-sample 2D Lissajous frame, receive coils along x and y.
constexpr double kBaseClock = 2.5e6;
constexpr double kSampleRate = 2.5e6;
constexpr double kAmplitude = 0.012;
constexpr std::size_t kFrame2d = 1632;
constexpr double kCoil = 1e-3;

Eigen::Matrix3d preset_gradient() { return Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal(); }

DriveTrajectory lissajous_2d() {
  return DriveTrajectory({{Eigen::Vector3d::UnitX(), kAmplitude, kBaseClock / 102.0, 0.0},
                          {Eigen::Vector3d::UnitY(), kAmplitude, kBaseClock / 96.0, 0.0}});
}

XSpaceGriddingConfig config_2d(const Cores& cores, double pixel_m, GriddingWeights weights) {
  XSpaceGriddingConfig c;
  c.gradient_t_per_m = preset_gradient();
  c.sample_rate_hz = kSampleRate;
  c.frame_samples = kFrame2d;
  c.receive_directions = {Eigen::Vector3d::UnitX(), Eigen::Vector3d::UnitY()};
  const int n = static_cast<int>(std::lround(0.024 / pixel_m));
  c.grid.counts = {n, n, 1};
  c.grid.pixel_m = Eigen::Vector3d(pixel_m, pixel_m, 0.0);
  c.grid.origin_m = Eigen::Vector3d(-0.012 + 0.5 * pixel_m, -0.012 + 0.5 * pixel_m, 0.0);
  c.min_speed_fraction = 0.3;
  c.signal_scale = kCoil * cores.moment() * cores.k();
  c.weights = weights;
  return c;
}

// The drive fundamentals (harmonics 16 and 17 of the 2D frame) removed from every channel.
void remove_feedthrough(std::vector<double>& frame, std::size_t channels, std::size_t samples) {
  const std::vector<int> fundamentals{0, 16, 17};
  for (std::size_t c = 0; c < channels; ++c)
    remove_harmonics(std::span<double>(frame).subspan(c * samples, samples), 1, fundamentals);
}

// Full width at half maximum above the profile's minimum (removing the fundamentals shifts an x-space
// image by a constant, REFERENCE 3.2 step 5), by linear interpolation between the samples around the peak.
double fwhm(const std::vector<double>& x, std::vector<double> v) {
  const double base = *std::min_element(v.begin(), v.end());
  for (double& value : v) value -= base;
  const auto peak = static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
  const double half = 0.5 * v[peak];
  double left = x.front(), right = x.back();
  for (std::size_t i = peak; i > 0; --i)
    if (v[i - 1] < half) { left = x[i - 1] + (half - v[i - 1]) / (v[i] - v[i - 1]) * (x[i] - x[i - 1]); break; }
  for (std::size_t i = peak; i + 1 < v.size(); ++i)
    if (v[i + 1] < half) { right = x[i] + (v[i] - half) / (v[i] - v[i + 1]) * (x[i + 1] - x[i]); break; }
  return right - left;
}

double langevin_ref(double x) { return std::abs(x) < 1e-3 ? x / 3.0 - x * x * x / 45.0 : 1.0 / std::tanh(x) - 1.0 / x; }
double langevin_slope_ref(double x) {
  if (std::abs(x) < 1e-2) return 1.0 / 3.0 - x * x / 15.0;
  const double s = std::sinh(x);
  return 1.0 / (x * x) - 1.0 / (s * s);
}
double normal_ref(double x) { return std::abs(x) < 1e-3 ? 1.0 / 3.0 - x * x / 45.0 : langevin_ref(x) / x; }

TEST(XSpaceGridding, RejectsBadConfiguration) {
  const Cores cores;
  const DriveTrajectory drive = lissajous_2d();
  XSpaceGriddingConfig c = config_2d(cores, 0.5e-3, GriddingWeights::kNearest);
  c.gradient_t_per_m = Eigen::Matrix3d::Zero();
  EXPECT_THROW(XSpaceGridding(drive, c), std::invalid_argument);
  c = config_2d(cores, 0.5e-3, GriddingWeights::kNearest);
  c.receive_directions[1] = Eigen::Vector3d(1.0, 1.0, 0.0);
  EXPECT_THROW(XSpaceGridding(drive, c), std::invalid_argument);
  c = config_2d(cores, 0.5e-3, GriddingWeights::kNearest);
  c.min_speed_fraction = 1.0;
  EXPECT_THROW(XSpaceGridding(drive, c), std::invalid_argument);
  c = config_2d(cores, 0.5e-3, GriddingWeights::kNearest);
  c.grid.origin_m = Eigen::Vector3d(1.0, 1.0, 0.0);  // far outside the trajectory
  EXPECT_THROW(XSpaceGridding(drive, c), std::invalid_argument);
  c = config_2d(cores, 0.5e-3, GriddingWeights::kNearest);
  const XSpaceGridding op(drive, c);
  std::vector<double> frame(op.input_size() - 1), image(op.image_size());
  EXPECT_THROW(op.apply(frame, image), std::invalid_argument);
}

// At 2.5 MS/s from the 2.5 MHz base clock the FFP visits a lattice: x_a = A sin(2 pi a / 102),
// y_b = A sin(2 pi b / 96), about 0.74 mm apart near the centre. The source sits on a lattice node and at
// a pixel centre of a 0.5 mm grid, so its row and column of pixels hold the lattice line through it.
TEST(XSpaceGridding, PointSourceFwhm2dMatchesAnisotropicTheory) {
  Cores cores;
  cores.ms_a_per_m = 4.46e5;  // magnetite; tangential FWHM 2.67 mm at 1 T/m
  const DriveTrajectory drive = lissajous_2d();
  const double pixel = 0.5e-3;
  const Eigen::Vector3d source(kAmplitude * std::sin(2.0 * std::numbers::pi * 5.0 / 102.0),
                               kAmplitude * std::sin(2.0 * std::numbers::pi * 4.0 / 96.0), 0.0);
  XSpaceGriddingConfig config = config_2d(cores, pixel, GriddingWeights::kNearest);
  config.grid.counts = {49, 49, 1};
  config.grid.origin_m = source - Eigen::Vector3d(24.0 * pixel, 24.0 * pixel, 0.0);
  const int ix0 = 24, iy0 = 24;
  const XSpaceGridding op(drive, config);
  const ImageGrid& grid = op.config().grid;
  const ParticleSignalModel model(cores.model(), {{source, 1e-12}}, preset_gradient(), 0.1);
  std::vector<double> frame = xspace_test::receive_frame(model, drive, Eigen::Vector3d::Zero(),
                                                         op.config().receive_directions, kCoil, kSampleRate, kFrame2d);
  remove_feedthrough(frame, 2, kFrame2d);
  std::vector<double> image(op.image_size());
  op.apply(frame, image);

  // Weight of the tangential envelope along each axis: the mean of cos^2 of the angle between the scan
  // direction and that axis over the kept samples within a half-normal-width of the source (closed-form
  // Lissajous velocity, independent of the library's trajectory code).
  const double wx = 2.0 * std::numbers::pi * kBaseClock / 102.0, wy = 2.0 * std::numbers::pi * kBaseClock / 96.0;
  double peak_speed = 0.0;
  for (std::size_t i = 0; i < kFrame2d; ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    peak_speed = std::max(peak_speed, std::hypot(wx * std::cos(wx * t), wy * std::cos(wy * t)) * kAmplitude);
  }
  const double fwhm_tangential = 4.1610 / (cores.k() * 1.0);  // |G| = 1 T/m along x and y
  // Samples on each profile line within a tangential FWHM of the source.
  double cx = 0.0, cy = 0.0;
  int near_x = 0, near_y = 0;
  for (std::size_t i = 0; i < kFrame2d; ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    const double vx = wx * std::cos(wx * t) * kAmplitude, vy = wy * std::cos(wy * t) * kAmplitude;
    const double dx = kAmplitude * std::sin(wx * t) - source.x(), dy = kAmplitude * std::sin(wy * t) - source.y();
    if (std::hypot(vx, vy) < 0.3 * peak_speed) continue;
    if (std::abs(dy) < 0.25e-3 && std::abs(dx) < fwhm_tangential) { cx += vx * vx / (vx * vx + vy * vy); ++near_x; }
    if (std::abs(dx) < 0.25e-3 && std::abs(dy) < fwhm_tangential) { cy += vy * vy / (vx * vx + vy * vy); ++near_y; }
  }
  ASSERT_GT(near_x, 4);
  ASSERT_GT(near_y, 4);
  cx /= near_x;
  cy /= near_y;
  std::vector<double> px, vx_prof, py, vy_prof;
  for (int i = 0; i < grid.counts[0]; ++i) {
    const std::size_t p = grid.index(i, iy0, 0);
    if (op.coverage()(static_cast<Eigen::Index>(p)) > 0.0) { px.push_back(grid.centre_m(p).x()); vx_prof.push_back(image[p]); }
  }
  for (int j = 0; j < grid.counts[1]; ++j) {
    const std::size_t p = grid.index(ix0, j, 0);
    if (op.coverage()(static_cast<Eigen::Index>(p)) > 0.0) { py.push_back(grid.centre_m(p).y()); vy_prof.push_back(image[p]); }
  }
  const double measured_x = fwhm(px, vx_prof), measured_y = fwhm(py, vy_prof);
  // The anisotropic theory on the same pixels: c L'(xi) + (1 - c) L(xi)/xi along each axis.
  const auto theory = [&](const std::vector<double>& pos, double centre, double c) {
    std::vector<double> v;
    for (const double p : pos) {
      const double xi = cores.k() * 1.0 * (p - centre);
      v.push_back(c * langevin_slope_ref(xi) + (1.0 - c) * normal_ref(xi));
    }
    return fwhm(pos, v);
  };
  const double expect_x = theory(px, source.x(), cx), expect_y = theory(py, source.y(), cy);
  // Between the tangential and the normal envelopes' widths.
  EXPECT_GT(measured_x, 1.1 * fwhm_tangential);
  EXPECT_LT(measured_x, 2.275 * fwhm_tangential);
  RecordProperty("fwhm_x_mm", std::to_string(1e3 * measured_x) + " (theory " + std::to_string(1e3 * expect_x) + ")");
  RecordProperty("fwhm_y_mm", std::to_string(1e3 * measured_y) + " (theory " + std::to_string(1e3 * expect_y) + ")");
  EXPECT_NEAR(measured_x / expect_x, 1.0, 0.1);
  EXPECT_NEAR(measured_y / expect_y, 1.0, 0.1);
}

// 1D scan with a focus field: every covered pixel of a fine grid holds the samples of one FFP position
// x_a = focus + A sin(2 pi a / 102), where the image must be n L'(k |G| (x_a - x_source)) (REFERENCE 2).
TEST(XSpaceGridding, OneDimensionalImageIsTheLangevinPsfInParticles) {
  const Cores cores;
  const DriveTrajectory drive({{Eigen::Vector3d::UnitX(), kAmplitude, kBaseClock / 102.0, 0.3}});
  const double focus = 0.005;  // T along x; the FFP is at -G^-1 B, i.e. +5 mm for G_xx = -1 T/m
  const double phase = 0.3;
  XSpaceGriddingConfig c;
  c.gradient_t_per_m = preset_gradient();
  c.focus_field_t = Eigen::Vector3d(focus, 0.0, 0.0);
  c.sample_rate_hz = kSampleRate;
  c.frame_samples = 102;
  c.first_sample = 7;
  c.receive_directions = {Eigen::Vector3d::UnitX()};
  const double pixel = 0.05e-3;
  c.grid.counts = {600, 1, 1};
  c.grid.pixel_m = Eigen::Vector3d(pixel, 0.0, 0.0);
  c.grid.origin_m = Eigen::Vector3d(focus - 0.015 + 0.5 * pixel, 0.0, 0.0);
  c.min_speed_fraction = 0.4;
  c.signal_scale = kCoil * cores.moment() * cores.k();
  c.weights = GriddingWeights::kNearest;
  const XSpaceGridding op(drive, c);

  const double source_x = 0.0032;
  const double iron = 2e-13;
  const double particles = iron * cores.particles_per_kg_iron();
  const ParticleSignalModel model(cores.model(), {{Eigen::Vector3d(source_x, 0.0, 0.0), iron}}, preset_gradient(), 0.1);
  const std::vector<double> frame = xspace_test::receive_frame(model, drive, c.focus_field_t, c.receive_directions, kCoil,
                                                               kSampleRate, 102, 7);
  std::vector<double> image(op.image_size());
  op.apply(frame, image);

  const double w = 2.0 * std::numbers::pi * kBaseClock / 102.0;
  int checked = 0;
  double worst = 0.0;
  for (std::size_t p = 0; p < image.size(); ++p) {
    if (op.coverage()(static_cast<Eigen::Index>(p)) == 0.0) {
      EXPECT_EQ(image[p], 0.0);
      continue;
    }
    const double centre = c.grid.centre_m(p).x();
    // The lattice position in this pixel.
    std::optional<double> x;
    for (int i = 0; i < 102; ++i) {
      const double xi = focus + kAmplitude * std::sin(w * static_cast<double>(i + 7) / kSampleRate + phase);
      if (std::abs(xi - centre) <= 0.5 * pixel) x = xi;
    }
    ASSERT_TRUE(x.has_value());
    const double expected = particles * langevin_slope_ref(cores.k() * 1.0 * (*x - source_x));
    worst = std::max(worst, std::abs(image[p] - expected));
    ++checked;
  }
  EXPECT_GT(checked, 40);
  EXPECT_LT(worst, 1e-3 * particles / 3.0);
}

// 1D: the rising and falling passes visit the same positions (x_i = x_(51 - i)), so without relaxation
// the two pass images are equal, and with a Debye lag the rising image moves towards +x.
TEST(XSpaceGridding, SeparatePassesAreMirrorImagesOfTheRelaxationLag) {
  const Cores cores;
  const DriveTrajectory drive({{Eigen::Vector3d::UnitX(), kAmplitude, kBaseClock / 102.0, 0.0}});
  XSpaceGriddingConfig c;
  c.gradient_t_per_m = preset_gradient();
  c.sample_rate_hz = kSampleRate;
  c.frame_samples = 102;
  c.receive_directions = {Eigen::Vector3d::UnitX()};
  c.grid.counts = {480, 1, 1};
  c.grid.pixel_m = Eigen::Vector3d(0.05e-3, 0.0, 0.0);
  c.grid.origin_m = Eigen::Vector3d(-0.012 + 0.025e-3, 0.0, 0.0);
  c.signal_scale = kCoil * cores.moment() * cores.k();
  c.weights = GriddingWeights::kNearest;
  c.separate_passes = true;
  const XSpaceGridding op(drive, c);
  ASSERT_EQ(op.image_size(), 960u);
  const ParticleSignalModel model(cores.model(), {{Eigen::Vector3d(0.0021, 0.0, 0.0), 1e-12}}, preset_gradient(), 0.1);
  const std::vector<double> frame = xspace_test::receive_frame(model, drive, Eigen::Vector3d::Zero(), c.receive_directions,
                                                               kCoil, kSampleRate, 102);
  std::vector<double> image(op.image_size());
  op.apply(frame, image);
  const std::size_t n = 480;
  int compared = 0;
  for (std::size_t p = 0; p < n; ++p) {
    const bool rise = op.coverage()(static_cast<Eigen::Index>(p)) > 0.0;
    const bool fall = op.coverage()(static_cast<Eigen::Index>(n + p)) > 0.0;
    EXPECT_EQ(rise, fall);
    if (rise && fall) {
      EXPECT_NEAR(image[p], image[n + p], 1e-6 * std::abs(image[p]) + 1e-9);
      ++compared;
    }
  }
  EXPECT_GT(compared, 30);

  // Debye relaxation (tau = 4 us), as the exact convolution of the sampled equilibrium signal with
  // exp(-t/tau)/tau over two periods (periodic steady state).
  const double tau = 4e-6, dt = 1.0 / kSampleRate;
  std::vector<double> lagged(102, 0.0);
  for (std::size_t i = 0; i < 102; ++i) {
    double acc = 0.0, norm = 0.0;
    for (int j = 0; j < 102 * 20; ++j) {
      const double w = std::exp(-j * dt / tau);
      acc += w * frame[(i + 102 * 20 - static_cast<std::size_t>(j)) % 102];
      norm += w;
    }
    lagged[i] = acc / norm;
  }
  op.apply(lagged, image);
  const auto centroid = [&](std::size_t offset) {
    double m0 = 0.0, m1 = 0.0;
    for (std::size_t p = 0; p < n; ++p) {
      m0 += image[offset + p];
      m1 += image[offset + p] * c.grid.centre_m(p).x();
    }
    return m1 / m0;
  };
  EXPECT_GT(centroid(0), 0.0021 + 0.1e-3);  // rising: the signal lags, the image trails towards +x
  EXPECT_LT(centroid(n), 0.0021 - 0.1e-3);
}

// A 2D version of the concentration phantom (REFERENCE 2.1): 8 squares of 2 mm (a 2 mm thick slab),
// 6 mm apart in x and 8 mm in y, at 100 mmol/L Fe divided by 1.5 from one to the next.
TEST(XSpaceGridding, ConcentrationPhantomTotalSignalIsLinear) {
  const Cores cores;
  const DriveTrajectory drive = lissajous_2d();
  const XSpaceGriddingConfig c = config_2d(cores, 0.75e-3, GriddingWeights::kLinear);
  const XSpaceGridding op(drive, c);
  std::vector<ParticleSource> sources;
  std::vector<double> concentration;
  std::vector<Eigen::Vector2d> centres;
  const double voxel = 0.25e-3;
  for (int cube = 0; cube < 8; ++cube) {
    const double conc = 100.0 / std::pow(1.5, cube);  // mmol/L = mol/m^3
    const Eigen::Vector2d centre(-0.009 + 0.006 * (cube % 4), cube < 4 ? -0.004 : 0.004);
    concentration.push_back(conc);
    centres.push_back(centre);
    const double iron = conc * 0.055845 * voxel * voxel * 2e-3;  // kg Fe per 0.25 x 0.25 x 2 mm column
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j)
        sources.push_back({Eigen::Vector3d(centre.x() + (i - 3.5) * voxel, centre.y() + (j - 3.5) * voxel, 0.0), iron});
  }
  const ParticleSignalModel model(cores.model(), sources, preset_gradient(), 0.1);
  std::vector<double> frame = xspace_test::receive_frame(model, drive, Eigen::Vector3d::Zero(), c.receive_directions, kCoil,
                                                         kSampleRate, kFrame2d);
  remove_feedthrough(frame, 2, kFrame2d);
  std::vector<double> image(op.image_size());
  op.apply(frame, image);

  // Total signal per cube above its local background: the sum over the covered pixels of a 4.5 mm square
  // around it, less the mean of the covered pixels of the 0.75 mm wide ring around that square, which
  // removes the constant lost with the fundamentals and the slowly varying tails of the other cubes.
  const double inner = 2.25e-3, outer = 3.0e-3;
  std::vector<double> total(8, 0.0);
  for (std::size_t cube = 0; cube < 8; ++cube) {
    double sum = 0.0, ring = 0.0;
    int in = 0, around = 0;
    for (std::size_t p = 0; p < image.size(); ++p) {
      if (op.coverage()(static_cast<Eigen::Index>(p)) == 0.0) continue;
      const Eigen::Vector3d r = c.grid.centre_m(p);
      const double d = std::max(std::abs(r.x() - centres[cube].x()), std::abs(r.y() - centres[cube].y()));
      if (d < inner) { sum += image[p]; ++in; }
      else if (d < outer) { ring += image[p]; ++around; }
    }
    ASSERT_GT(in, 20);
    ASSERT_GT(around, 10);
    total[cube] = sum - in * ring / around;
  }
  // Least-squares line total = a + b c and its R^2.
  const double n = 8.0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    sx += concentration[i];
    sy += total[i];
    sxx += concentration[i] * concentration[i];
    sxy += concentration[i] * total[i];
  }
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double a = (sy - b * sx) / n;
  double ss_res = 0, ss_tot = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    ss_res += std::pow(total[i] - a - b * concentration[i], 2);
    ss_tot += std::pow(total[i] - sy / n, 2);
  }
  const double r2 = 1.0 - ss_res / ss_tot;
  EXPECT_GT(b, 0.0);
  RecordProperty("r_squared", std::to_string(r2));
  EXPECT_GE(r2, 0.99);
}

// 3D Lissajous of REFERENCE 2.1 (dividers 102, 96, 99; 53856 samples a frame; coils along x, y and z).
// The PSF is h(G (r - r_s)): in field units it is the same along every axis, so with G_zz = 2 |G_xx| the
// image of a point is half as wide along z as along x and y. Its profile along axis a through the source is
// c_a L'(xi) + (1 - c_a) L(xi)/xi with xi = k |G_aa| d and c_a the mean of b_a^2 (b: the scan direction
// dB/dt / |dB/dt|) over the samples that image that line. The drive amplitudes are equal on all axes, so
// the c_a are close to 1/3 each, and the theory's ratio FWHM_z / FWHM_x is 0.5 W(c_z) / W(c_x) with W the
// FWHM of that mixture in xi. The grid's pixels are 1 x 1 x 0.5 mm, the same size in field units along
// every axis, so the pixel sampling and the linear splat widen both profiles alike and cancel in the ratio.
TEST(XSpaceGridding, PointSource3dIsLocatedAndHalfAsWideAlongZ) {
  Cores cores;
  cores.ms_a_per_m = 4.46e5;  // magnetite; tangential FWHM 2.67 mm at 1 T/m
  const double f[3] = {kBaseClock / 102.0, kBaseClock / 96.0, kBaseClock / 99.0};
  const DriveTrajectory drive({{Eigen::Vector3d::UnitX(), kAmplitude, f[0], 0.0},
                               {Eigen::Vector3d::UnitY(), kAmplitude, f[1], 0.0},
                               {Eigen::Vector3d::UnitZ(), kAmplitude, f[2], 0.0}});
  constexpr std::size_t kFrame3d = 53856;
  const Eigen::Vector3d pixel(1e-3, 1e-3, 0.5e-3);
  XSpaceGriddingConfig c;
  c.gradient_t_per_m = preset_gradient();
  c.sample_rate_hz = kSampleRate;
  c.frame_samples = kFrame3d;
  c.receive_directions = {Eigen::Vector3d::UnitX(), Eigen::Vector3d::UnitY(), Eigen::Vector3d::UnitZ()};
  c.grid.counts = {21, 21, 21};
  c.grid.pixel_m = pixel;
  // The source off centre and off the pixel centres (0.3 px along x, -0.2 px along y, 0.25 px along z).
  const Eigen::Vector3d source(1.3e-3, -2.2e-3, 0.625e-3);
  const Eigen::Vector3d centre_pixel(1e-3, -2e-3, 0.5e-3);
  c.grid.origin_m = centre_pixel - 10.0 * pixel;
  c.min_speed_fraction = 0.3;
  c.signal_scale = kCoil * cores.moment() * cores.k();
  c.weights = GriddingWeights::kLinear;
  const XSpaceGridding op(drive, c);
  const ParticleSignalModel model(cores.model(), {{source, 1e-12}}, preset_gradient(), 0.1);
  std::vector<double> frame =
      xspace_test::receive_frame(model, drive, Eigen::Vector3d::Zero(), c.receive_directions, kCoil, kSampleRate, kFrame3d);
  // The drive fundamentals: harmonics 528, 561 and 544 of the frame.
  const std::vector<int> fundamentals{0, 528, 561, 544};
  for (std::size_t ch = 0; ch < 3; ++ch)
    remove_harmonics(std::span<double>(frame).subspan(ch * kFrame3d, kFrame3d), 1, fundamentals);
  std::vector<double> image(op.image_size());
  op.apply(frame, image);
  for (const double v : image) ASSERT_TRUE(std::isfinite(v));

  // Located within one voxel along each axis.
  const auto peak = static_cast<std::size_t>(std::max_element(image.begin(), image.end()) - image.begin());
  const Eigen::Vector3d found = c.grid.centre_m(peak);
  for (int a = 0; a < 3; ++a) EXPECT_LE(std::abs(found(a) - source(a)), pixel(a)) << "axis " << a;

  // Profiles through the pixel nearest the source along x and z (covered pixels only).
  const int i0 = 10, j0 = 10, l0 = 10;
  std::vector<double> px, vx_prof, pz, vz_prof;
  for (int i = 0; i < 21; ++i) {
    const std::size_t p = c.grid.index(i, j0, l0);
    if (op.coverage()(static_cast<Eigen::Index>(p)) > 0.0) { px.push_back(c.grid.centre_m(p).x()); vx_prof.push_back(image[p]); }
  }
  for (int l = 0; l < 21; ++l) {
    const std::size_t p = c.grid.index(i0, j0, l);
    if (op.coverage()(static_cast<Eigen::Index>(p)) > 0.0) { pz.push_back(c.grid.centre_m(p).z()); vz_prof.push_back(image[p]); }
  }
  ASSERT_GT(px.size(), 15u);
  ASSERT_GT(pz.size(), 15u);

  // c_x and c_z from the closed-form Lissajous (independent of the library's trajectory code): kept
  // samples (FFP speed >= 0.3 of its peak) whose FFP lies within a pixel of the profile line and within
  // a tangential FWHM of the source along it.
  const double w[3] = {2.0 * std::numbers::pi * f[0], 2.0 * std::numbers::pi * f[1], 2.0 * std::numbers::pi * f[2]};
  const double g[3] = {1.0, 1.0, 2.0};  // |G_aa|
  std::vector<Eigen::Vector3d> ffp(kFrame3d), rate(kFrame3d);
  std::vector<double> speed(kFrame3d);
  double peak_speed = 0.0;
  for (std::size_t i = 0; i < kFrame3d; ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    for (int a = 0; a < 3; ++a) {
      // FFP = -G^-1 B: +B/1 along x and y, -B/2 along z.
      const double sign = a == 2 ? -1.0 : 1.0;
      ffp[i](a) = sign * kAmplitude * std::sin(w[a] * t) / g[a];
      rate[i](a) = kAmplitude * w[a] * std::cos(w[a] * t);
    }
    speed[i] = std::sqrt(std::pow(rate[i].x(), 2) + std::pow(rate[i].y(), 2) + std::pow(rate[i].z() / 2.0, 2));
    peak_speed = std::max(peak_speed, speed[i]);
  }
  const double tangential_x = 4.1610 / (cores.k() * 1.0);
  const auto mean_cos2 = [&](int axis) {
    double sum = 0.0;
    int count = 0;
    for (std::size_t i = 0; i < kFrame3d; ++i) {
      if (speed[i] < 0.3 * peak_speed) continue;
      const Eigen::Vector3d d = ffp[i] - source;
      bool near = std::abs(d(axis)) < tangential_x / g[axis];
      for (int a = 0; a < 3; ++a)
        if (a != axis && std::abs(d(a)) > pixel(a)) near = false;
      if (!near) continue;
      sum += rate[i](axis) * rate[i](axis) / rate[i].squaredNorm();
      ++count;
    }
    EXPECT_GT(count, 20) << "axis " << axis;
    return sum / count;
  };
  const double cx = mean_cos2(0), cz = mean_cos2(2);
  const auto theory = [&](const std::vector<double>& pos, double centre, double weight, double gradient) {
    std::vector<double> v;
    for (const double p : pos) {
      const double xi = cores.k() * gradient * (p - centre);
      v.push_back(weight * langevin_slope_ref(xi) + (1.0 - weight) * normal_ref(xi));
    }
    return fwhm(pos, v);
  };
  const double measured_x = fwhm(px, vx_prof), measured_z = fwhm(pz, vz_prof);
  const double expect_x = theory(px, source.x(), cx, 1.0), expect_z = theory(pz, source.z(), cz, 2.0);
  const double ratio = measured_z / measured_x, expect_ratio = expect_z / expect_x;
  std::printf("3D x-space point source: c_x %.3f c_z %.3f, FWHM x %.2f mm (theory %.2f), z %.2f mm (theory %.2f), "
              "ratio z/x %.3f (theory %.3f)\n",
              cx, cz, 1e3 * measured_x, 1e3 * expect_x, 1e3 * measured_z, 1e3 * expect_z, ratio, expect_ratio);
  RecordProperty("fwhm_ratio_z_over_x", std::to_string(ratio) + " (theory " + std::to_string(expect_ratio) + ")");
  // Between the tangential and the normal envelopes along each axis.
  EXPECT_GT(measured_x, tangential_x);
  EXPECT_LT(measured_x, 2.275 * 1.3 * tangential_x);
  // Each width within 20 % of its theory (the linear splat adds about a pixel of blur, in quadrature),
  // their ratio within 10 % (the blur is the same in field units along both axes and cancels to first
  // order; what remains is the sparse 3D sampling of the lattice near the profile lines).
  EXPECT_NEAR(measured_x / expect_x, 1.0, 0.2);
  EXPECT_NEAR(measured_z / expect_z, 1.0, 0.2);
  EXPECT_NEAR(ratio / expect_ratio, 1.0, 0.1);
}

}  // namespace
}  // namespace mpi::recon
