#include "mpi/recon/system_matrix.hpp"

#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/real_fft.hpp"
#include "mpi/recon/row_selection.hpp"
#include "mpi/recon/sm_solvers.hpp"
#include "mpi/recon/tracer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdio>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

namespace mpi::recon {
namespace {

constexpr double kFs = 2.5e6;
constexpr double kAmplitude = 12e-3;
constexpr double kIronMolarMass = 55.845e-3;  // kg/mol
const Eigen::Matrix3d kGradient = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();

TracerModel single_core(double tau_s = 0.0, double diameter_m = 30e-9) {
  TracerMode mode;
  mode.name = "cores";
  mode.tracer.core_diameter_m = diameter_m;
  mode.tracer.saturation_magnetisation_a_per_m = 8e5;
  mode.tracer.temperature_k = 293.15;
  mode.tau_s = tau_s;
  return {{mode}};
}

std::vector<ReceiveChannel> receive_xyz() {
  return {{Eigen::Vector3d::UnitX(), 1e-3, 1.0}, {Eigen::Vector3d::UnitY(), 1e-3, 1.0}, {Eigen::Vector3d::UnitZ(), 1e-3, 1.0}};
}

// The preclinical scanner's drives (REFERENCE 2.1): 2.5 MHz / 102, 96, 99 at 12 mT.
DriveTrajectory drive(int axes) {
  std::vector<DriveComponent> c;
  const double f[3] = {2.5e6 / 102.0, 2.5e6 / 96.0, 2.5e6 / 99.0};
  for (int a = 0; a < axes; ++a) c.push_back({Eigen::Vector3d::Unit(a), kAmplitude, f[a], 0.0});
  return DriveTrajectory(c);
}

ModelSystemMatrixSpec spec_1d(double x_m, TracerModel tracer = single_core()) {
  ModelSystemMatrixSpec spec;
  spec.tracer = std::move(tracer);
  spec.gradient_t_per_m = kGradient;
  spec.drive = drive(1);
  spec.sample_rate_hz = kFs;
  spec.frame_samples = 102;
  spec.channels = {{Eigen::Vector3d::UnitX(), 1e-3, 2.0}};
  spec.grid.shape = {1, 1, 1};
  spec.grid.fov_m = Eigen::Vector3d(1e-3, 1e-3, 1e-3);
  spec.grid.centre_m = Eigen::Vector3d(x_m, 0.0, 0.0);
  return spec;
}

long double ref_langevin(long double x) {
  if (std::fabs(x) < 1e-3L) return x / 3.0L - x * x * x / 45.0L;
  return std::cosh(x) / std::sinh(x) - 1.0L / x;
}

// Independent route for a 1D drive: the moment of N particles of moment m along x is N m L(m b / kT) with
// b = G_xx x + A sin(2 pi f t); the integrating ADC sees its difference over each sample interval; the
// spectrum is a direct DFT sum.
std::vector<std::complex<double>> reference_1d_column(double x_m, std::size_t n, double gain) {
  const Tracer t = single_core().modes[0].tracer;
  const long double m = core_moment_a_m2(t.core_diameter_m, t.saturation_magnetisation_a_per_m);
  const long double kt = 1.380649e-23L * t.temperature_k;
  const long double iron_per_particle = core_volume_m3(t.core_diameter_m) * t.core_density_kg_per_m3 * t.iron_mass_fraction;
  const long double particles = 1.0L / iron_per_particle;  // 1 kg of iron
  const long double h = 1.0L / kFs;
  const long double f = 2.5e6L / 102.0L;
  auto mu = [&](long double time) {
    const long double b = -1.0L * x_m + kAmplitude * std::sin(2.0L * std::numbers::pi_v<long double> * f * time);
    return particles * m * ref_langevin(m * b / kt);
  };
  std::vector<long double> u(n);
  for (std::size_t k = 0; k < n; ++k) {
    const long double tk = static_cast<long double>(k) * h;
    u[k] = -gain * 1e-3L * (mu(tk + h / 2) - mu(tk - h / 2)) / h;
  }
  std::vector<std::complex<double>> spectrum(n / 2 + 1);
  for (std::size_t k = 0; k < spectrum.size(); ++k) {
    long double re = 0.0L, im = 0.0L;
    for (std::size_t j = 0; j < n; ++j) {
      const long double phase = -2.0L * std::numbers::pi_v<long double> * static_cast<long double>(j * k % n) / static_cast<long double>(n);
      re += u[j] * std::cos(phase);
      im += u[j] * std::sin(phase);
    }
    // Amplitude scaling: 2 X_k / N, X_k / N at DC and Nyquist.
    const double scale = (k == 0 || 2 * k == n ? 1.0 : 2.0) / static_cast<double>(n);
    spectrum[k] = {scale * static_cast<double>(re), scale * static_cast<double>(im)};
  }
  return spectrum;
}

TEST(ModelSystemMatrix, OneDimensionalColumnMatchesDirectLangevinSpectrum) {
  for (double x : {0.0, 1.3e-3, -4.0e-3}) {
    const SystemMatrix s = model_system_matrix(spec_1d(x));
    ASSERT_EQ(s.rows(), 52u);
    ASSERT_EQ(s.voxels(), 1u);
    const std::vector<std::complex<double>> ref = reference_1d_column(x, 102, 2.0);
    double peak = 0.0;
    for (const auto& v : ref) peak = std::max(peak, std::abs(v));
    ASSERT_GT(peak, 0.0);
    for (std::size_t k = 0; k < ref.size(); ++k) {
      EXPECT_NEAR(std::abs(s.matrix(static_cast<Eigen::Index>(k), 0) - ref[k]) / peak, 0.0, 1e-6) << "x " << x << " bin " << k;
      EXPECT_NEAR(s.frequencies_hz[k], static_cast<double>(k) * kFs / 102.0, 1e-9);
    }
  }
}

TEST(ModelSystemMatrix, CentredSourceHasOnlyOddHarmonicsAndMirrorSymmetry) {
  // REFERENCE 3.1: a centred source on a sinusoidal drive has an odd-symmetric response: only odd harmonics.
  const SystemMatrix centre = model_system_matrix(spec_1d(0.0));
  const double fundamental = std::abs(centre.matrix(1, 0));
  ASSERT_GT(fundamental, 0.0);
  for (Eigen::Index k = 2; k < 52; k += 2) EXPECT_LT(std::abs(centre.matrix(k, 0)), 1e-9 * fundamental) << "bin " << k;
  EXPECT_GT(std::abs(centre.matrix(3, 0)), 1e-2 * fundamental);
  // Mirror images x and -x: mu(-x, t) = -mu(x, t + T/2), so S_k(-x) = (-1)^(k+1) S_k(x).
  const SystemMatrix plus = model_system_matrix(spec_1d(2.0e-3));
  const SystemMatrix minus = model_system_matrix(spec_1d(-2.0e-3));
  EXPECT_GT(std::abs(plus.matrix(2, 0)), 1e-2 * std::abs(plus.matrix(1, 0)));  // off centre: even harmonics
  for (Eigen::Index k = 1; k < 52; ++k) {
    const double sign = k % 2 == 1 ? 1.0 : -1.0;
    EXPECT_LT(std::abs(minus.matrix(k, 0) - sign * plus.matrix(k, 0)), 1e-7 * fundamental) << "bin " << k;
  }
}

TEST(ModelSystemMatrix, DebyeRelaxationIsAFirstOrderLowPassOnTheColumn) {
  // Periodic steady state of tau dmu/dt + mu = mu_eq: each Fourier component times 1 / (1 + j w tau).
  const double tau = 2e-6;
  // 20 nm cores: a smooth PSF whose harmonics above the Nyquist bin are negligible (no aliasing).
  const SystemMatrix eq = model_system_matrix(spec_1d(1.0e-3, single_core(0.0, 20e-9)));
  const SystemMatrix relaxed = model_system_matrix(spec_1d(1.0e-3, single_core(tau, 20e-9)));
  ModelSystemMatrixSpec off = spec_1d(1.0e-3, single_core(tau, 20e-9));
  off.relaxation = false;
  const SystemMatrix ignored = model_system_matrix(off);
  EXPECT_LT((ignored.matrix - eq.matrix).norm(), 1e-12 * eq.matrix.norm());
  const double peak = eq.matrix.cwiseAbs().maxCoeff();
  for (Eigen::Index k = 1; k <= 15; ++k) {
    const double w = 2.0 * std::numbers::pi * relaxed.frequencies_hz[static_cast<std::size_t>(k)];
    const std::complex<double> expected = eq.matrix(k, 0) / std::complex<double>(1.0, w * tau);
    // The model's Debye step assumes mu_eq linear between samples: a small discretisation error.
    EXPECT_LT(std::abs(relaxed.matrix(k, 0) - expected), 2e-3 * peak) << "bin " << k;
  }
}

ModelSystemMatrixSpec spec_2d(std::size_t nx, double fov_m, TracerModel tracer = single_core()) {
  ModelSystemMatrixSpec spec;
  spec.tracer = std::move(tracer);
  spec.gradient_t_per_m = kGradient;
  spec.drive = drive(2);
  spec.sample_rate_hz = kFs;
  spec.frame_samples = 1632;
  spec.channels = {receive_xyz()[0], receive_xyz()[1]};
  spec.grid.shape = {nx, nx, 1};
  spec.grid.fov_m = Eigen::Vector3d(fov_m, fov_m, 1e-3);
  return spec;
}

TEST(ModelSystemMatrix, LissajousPointSymmetryGivesConjugateColumns) {
  // B(-t) = -B(t) for sine drives and mu is odd in the field, so the voltage of the source at -r is the
  // time-reversed voltage of the source at r: S(-r) = conj(S(r)). Voxel j and N - 1 - j are mirror images.
  const SystemMatrix s = model_system_matrix(spec_2d(5, 20e-3));
  ASSERT_EQ(s.voxels(), 25u);
  const double scale = s.matrix.cwiseAbs().maxCoeff();
  for (Eigen::Index j = 0; j < 25; ++j) {
    EXPECT_LT((s.matrix.col(24 - j) - s.matrix.col(j).conjugate()).cwiseAbs().maxCoeff(), 1e-7 * scale) << "voxel " << j;
  }
  // Columns differ between voxels (not a degenerate matrix), and the thread count does not change S.
  EXPECT_GT((s.matrix.col(0) - s.matrix.col(1)).norm(), 1e-2 * s.matrix.col(0).norm());
  ModelSystemMatrixSpec one = spec_2d(5, 20e-3);
  one.threads = 1;
  EXPECT_EQ((model_system_matrix(one).matrix - s.matrix).norm(), 0.0);
}

TEST(ModelSystemMatrix, RowSubsetAndEnergiesAgreeWithTheFullMatrix) {
  const ModelSystemMatrixSpec spec = spec_2d(4, 20e-3);
  const SystemMatrix full = model_system_matrix(spec);
  const std::vector<std::size_t> rows = {5, 900, 17, 1500};
  const SystemMatrix part = model_system_matrix(spec, rows);
  ASSERT_EQ(part.rows(), 4u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(part.channels[i], rows[i] / 817);
    EXPECT_EQ(part.bins[i], rows[i] % 817);
    EXPECT_LT((part.matrix.row(static_cast<Eigen::Index>(i)) - full.matrix.row(static_cast<Eigen::Index>(rows[i]))).norm(), 1e-20);
  }
  const Eigen::VectorXd energy = model_row_energies(spec);
  const Eigen::VectorXd expected = full.matrix.cwiseAbs2().rowwise().sum() / 16.0;
  EXPECT_LT((energy - expected).norm(), 1e-12 * expected.norm());
  const std::vector<std::size_t> bad = {2 * 817};
  EXPECT_THROW((void)model_system_matrix(spec, bad), std::invalid_argument);
  ModelSystemMatrixSpec no_channels = spec;
  no_channels.channels.clear();
  EXPECT_THROW((void)model_system_matrix(no_channels), std::invalid_argument);
  ModelSystemMatrixSpec empty_grid = spec;
  empty_grid.grid.shape[1] = 0;
  EXPECT_THROW((void)model_system_matrix(empty_grid), std::invalid_argument);
}

TEST(RowSelection, BandChannelsThresholdAndCap) {
  const std::vector<double> f = {0.0, 50e3, 80e3, 100e3, 200e3, 80e3, 120e3};
  const std::vector<std::size_t> ch = {0, 0, 0, 0, 0, 1, 1};
  const Eigen::VectorXd energy = (Eigen::VectorXd(7) << 100, 100, 4, 9, 1, 25, 16).finished();
  const Eigen::VectorXd noise = Eigen::VectorXd::Constant(7, 1.0);
  const Eigen::VectorXd snr = row_snr_from_energy(energy, noise);
  EXPECT_DOUBLE_EQ(snr(3), 3.0);
  RowSelectionOptions options;
  options.min_frequency_hz = 80e3;
  options.min_snr = 2.0;
  RowSelection sel = select_rows(f, ch, snr, options);
  EXPECT_EQ(sel.rows, (std::vector<std::size_t>{2, 3, 5, 6}));
  options.channels = {1};
  EXPECT_EQ(select_rows(f, ch, snr, options).rows, (std::vector<std::size_t>{5, 6}));
  options.channels.clear();
  options.max_rows = 2;
  EXPECT_EQ(select_rows(f, ch, snr, options).rows, (std::vector<std::size_t>{5, 6}));
  options.max_frequency_hz = 10e3;
  EXPECT_THROW((void)select_rows(f, ch, snr, options), std::invalid_argument);
  EXPECT_THROW((void)row_snr_from_energy(energy, Eigen::VectorXd::Ones(3)), std::invalid_argument);
}

// Fine-grid phantoms simulated with the forward model (many sources summed in one model: a different
// discretisation from S's one delta source per voxel), sampled as the integrating ADC does, rFFT.
struct Phantom {
  std::vector<ParticleSource> sources;
};

Eigen::MatrixXcd simulate_spectrum(const ModelSystemMatrixSpec& spec, const Phantom& phantom, double noise_sigma, unsigned seed) {
  const ParticleSignalModel model(spec.tracer, phantom.sources, spec.gradient_t_per_m, 0.1);
  const std::size_t n = spec.frame_samples;
  const double h = 1.0 / spec.sample_rate_hz;
  std::vector<Eigen::Vector3d> mu(n), eq(model.modes());
  for (std::size_t k = 0; k < n; ++k) {
    model.equilibrium_moments(spec.drive.field_t((static_cast<double>(k) + 0.5) * h), eq);
    mu[k].setZero();
    for (const auto& e : eq) mu[k] += e;
  }
  RealFft fft(n);
  Eigen::MatrixXcd spectrum(static_cast<Eigen::Index>(n / 2 + 1), static_cast<Eigen::Index>(spec.channels.size()));
  std::vector<double> u(n);
  std::vector<std::complex<double>> bins(n / 2 + 1);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (std::size_t c = 0; c < spec.channels.size(); ++c) {
    const ReceiveChannel& rc = spec.channels[c];
    for (std::size_t k = 0; k < n; ++k) u[k] = -rc.gain * rc.sensitivity_t_per_a * rc.direction.dot(mu[k] - mu[(k + n - 1) % n]) / h;
    fft.forward(u, bins);
    for (std::size_t k = 0; k < bins.size(); ++k) {
      const double scale = (k == 0 || 2 * k == n ? 1.0 : 2.0) / static_cast<double>(n);
      spectrum(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(c)) =
          scale * bins[k] + noise_sigma * std::complex<double>(normal(rng), normal(rng)) / std::sqrt(2.0);
    }
  }
  return spectrum;
}

// Iron of a 0.25 mm grid filling a box, at a concentration in mmol/L; points inside `inside`.
template <class Inside>
void fill(Phantom& p, const Eigen::Vector3d& lo, const Eigen::Vector3d& hi, double pitch, double mmol_per_l, Inside inside) {
  const double iron = mmol_per_l * 1e-3 /* mol/L -> per L */ * 1e3 /* per m^3 */ * pitch * pitch * pitch * kIronMolarMass;
  for (double z = lo.z() + pitch / 2; z < hi.z(); z += pitch) {
    for (double y = lo.y() + pitch / 2; y < hi.y(); y += pitch) {
      for (double x = lo.x() + pitch / 2; x < hi.x(); x += pitch) {
        const Eigen::Vector3d r(x, y, z);
        if (inside(r)) p.sources.push_back({r, iron});
      }
    }
  }
}

// The phantom blurred to the system resolution: a Gaussian of the tracer's PSF FWHM along each axis
// (REFERENCE 1.1: kB T 4.1610 / (m G_aa)), integrated over each voxel (voxel centres, normalised weights).
Eigen::VectorXd blurred_truth(const VoxelGrid& grid, const Phantom& p, const Tracer& tracer) {
  Eigen::Vector3d sigma;
  for (int a = 0; a < 3; ++a) sigma[a] = psf_fwhm_m(tracer, std::abs(kGradient(a, a))) / (2.0 * std::sqrt(2.0 * std::log(2.0)));
  Eigen::VectorXd truth = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(grid.voxels()));
  const Eigen::Vector3d pitch = grid.pitch_m();
  std::vector<double> w(grid.voxels());
  for (const ParticleSource& s : p.sources) {
    double total = 0.0;
    for (std::size_t j = 0; j < grid.voxels(); ++j) {
      const Eigen::Vector3d d = grid.position_m(j) - s.position_m;
      double e = 0.0;
      for (int a = 0; a < 3; ++a) {
        // A voxel thinner than the blur along an axis it does not resolve (one voxel): no blur there.
        if (grid.shape[static_cast<std::size_t>(a)] > 1) e += d[a] * d[a] / (2.0 * sigma[a] * sigma[a]);
      }
      w[j] = std::exp(-e);
      total += w[j];
    }
    for (std::size_t j = 0; j < grid.voxels(); ++j) truth(static_cast<Eigen::Index>(j)) += s.iron_kg * w[j] / total;
  }
  (void)pitch;
  return truth;
}

double nrmse(const Eigen::VectorXd& c, const Eigen::VectorXd& truth) { return (c - truth).norm() / truth.norm(); }

struct Reconstruction {
  Eigen::VectorXd tikhonov;
  Eigen::VectorXd kaczmarz;
  std::size_t rows = 0;
};

Reconstruction reconstruct(const ModelSystemMatrixSpec& spec, const SystemMatrix& full, const Eigen::MatrixXcd& spectrum,
                           double noise_sigma, double min_snr, double relative_lambda, int kaczmarz_iterations) {
  RowSelectionOptions options;
  options.min_snr = min_snr;
  options.min_frequency_hz = 80e3;  // skip the feedthrough region
  const Eigen::VectorXd snr = row_snr(Eigen::MatrixXcd(full.matrix * 1e-9) /* 1 ug of iron */, Eigen::VectorXd::Constant(static_cast<Eigen::Index>(full.rows()), noise_sigma));
  const RowSelection sel = select_rows(full.frequencies_hz, full.channels, snr, options);
  const SystemMatrix s = full.subset(sel.rows);
  Eigen::VectorXcd u;
  s.gather(spectrum, u);
  Reconstruction r;
  r.rows = sel.count();
  TikhonovOptions t;
  t.relative_lambda = relative_lambda;
  t.non_negative = true;
  TikhonovOperator op(s.matrix, t);
  Eigen::VectorXf c;
  op.apply(u, c);
  r.tikhonov = c.cast<double>();
  KaczmarzOptions k;
  k.relative_lambda = relative_lambda;
  k.iterations = kaczmarz_iterations;
  k.non_negative = true;
  KaczmarzSolver solver(s.matrix, k);
  solver.solve(u, r.kaczmarz);
  (void)spec;
  return r;
}

// Column profile of a 2D image along x at row iy.
std::vector<double> row_profile(const Eigen::VectorXd& c, const VoxelGrid& g, std::size_t iy) {
  std::vector<double> p(g.shape[0]);
  for (std::size_t ix = 0; ix < g.shape[0]; ++ix) p[ix] = c(static_cast<Eigen::Index>(g.index(ix, iy, 0)));
  return p;
}

TEST(SystemMatrixReconstruction, TwoDimensionalResolutionPhantomTubesSeparated) {
  // The resolution phantom's three in-plane tubes (configs/phantoms/resolution.toml geometry: origin
  // (0, -10) mm, along y, 20 deg towards +x, 30 deg towards -x; radius 0.5 mm; 50 mmol/L) in a z = 0 slab.
  const ModelSystemMatrixSpec spec = spec_2d(15, 24e-3);
  const SystemMatrix full = model_system_matrix(spec);
  Phantom p;
  const Eigen::Vector3d origin(0.0, -10e-3, 0.0);
  const std::vector<Eigen::Vector3d> dirs = {{0.0, 1.0, 0.0}, {0.342020, 0.939693, 0.0}, {-0.5, 0.866025, 0.0}};
  fill(p, Eigen::Vector3d(-11.5e-3, -11.5e-3, -0.25e-3), Eigen::Vector3d(11.5e-3, 11.5e-3, 0.25e-3), 0.25e-3, 50.0,
       [&](const Eigen::Vector3d& r) {
         for (const Eigen::Vector3d& d : dirs) {
           const double along = (r - origin).dot(d);
           if (along >= 0.0 && along <= 20e-3 && ((r - origin) - along * d).norm() <= 0.5e-3) return true;
         }
         return false;
       });
  const double signal_scale = simulate_spectrum(spec, p, 0.0, 1).cwiseAbs().maxCoeff();
  const double sigma = 1e-5 * signal_scale;
  const Eigen::MatrixXcd spectrum = simulate_spectrum(spec, p, sigma, 2);
  const Reconstruction r = reconstruct(spec, full, spectrum, sigma, 3.0, 1e-3, 10);
  const Eigen::VectorXd truth = blurred_truth(spec.grid, p, spec.tracer.modes[0].tracer);
  std::printf("2D resolution phantom: %zu rows, NRMSE Tikhonov %.3f, Kaczmarz (10 it.) %.3f\n", r.rows,
              nrmse(r.tikhonov, truth), nrmse(r.kaczmarz, truth));
  RecordProperty("nrmse_tikhonov", std::to_string(nrmse(r.tikhonov, truth)));
  EXPECT_GT(r.rows, 50u);
  // At y = +7.2 mm (row 12; 17.2 mm from the origin) the tubes sit at x = 0, +6.3 and -9.9 mm:
  // each tube's voxel is a local maximum with a dip to the next one.
  for (const Eigen::VectorXd* c : {&r.tikhonov, &r.kaczmarz}) {
    const std::vector<double> prof = row_profile(*c, spec.grid, 12);
    const double pitch = 1.6e-3;
    auto voxel_of = [&](double x) { return static_cast<std::size_t>(std::floor((x + 12e-3) / pitch)); };
    const std::size_t centre = voxel_of(0.0), right = voxel_of(17.2e-3 * 0.342020 / 0.939693), left = voxel_of(-17.2e-3 * 0.5 / 0.866025);
    auto peak_near = [&](std::size_t i) { return std::max({prof[i - 1], prof[i], prof[i + 1]}); };
    auto dip_between = [&](std::size_t a, std::size_t b) {
      double m = 1e300;
      for (std::size_t i = a + 2; i + 1 < b; ++i) m = std::min(m, prof[i]);
      return m;
    };
    EXPECT_LT(dip_between(centre, right), 0.7 * std::min(peak_near(centre), peak_near(right)));
    EXPECT_LT(dip_between(left, centre), 0.7 * std::min(peak_near(left), peak_near(centre)));
    EXPECT_LT(nrmse(*c, truth), 0.8);
  }
}

TEST(SystemMatrixReconstruction, TwoDimensionalConeShapeWidensAlongItsAxis) {
  // The cone phantom (configs/phantoms/cone.toml geometry: 1 mm tip radius, 10 deg apex, 22 mm high), axis
  // along y from y = -11 mm, cut by a 0.5 mm slab through its axis; 50 mmol/L.
  const ModelSystemMatrixSpec spec = spec_2d(15, 24e-3);
  const SystemMatrix full = model_system_matrix(spec);
  Phantom p;
  const double half_apex = 5.0 * std::numbers::pi / 180.0;
  fill(p, Eigen::Vector3d(-4e-3, -11e-3, -0.25e-3), Eigen::Vector3d(4e-3, 11e-3, 0.25e-3), 0.25e-3, 50.0, [&](const Eigen::Vector3d& r) {
    return std::abs(r.x()) <= 1e-3 + (r.y() + 11e-3) * std::tan(half_apex);
  });
  const double sigma = 1e-5 * simulate_spectrum(spec, p, 0.0, 1).cwiseAbs().maxCoeff();
  const Reconstruction r = reconstruct(spec, full, simulate_spectrum(spec, p, sigma, 5), sigma, 3.0, 1e-3, 10);
  const Eigen::VectorXd truth = blurred_truth(spec.grid, p, spec.tracer.modes[0].tracer);
  std::printf("2D cone phantom: %zu rows, NRMSE Tikhonov %.3f, Kaczmarz (10 it.) %.3f\n", r.rows, nrmse(r.tikhonov, truth),
              nrmse(r.kaczmarz, truth));
  for (const Eigen::VectorXd* c : {&r.tikhonov, &r.kaczmarz}) {
    // RMS width of the x profile (within |x| <= 5 mm) of a row near the tip (y = -8 mm, radius 1.26 mm) and
    // one near the base (y = +8 mm, radius 2.66 mm).
    auto width = [&](std::size_t iy) {
      const std::vector<double> prof = row_profile(*c, spec.grid, iy);
      double sum = 0.0, second = 0.0;
      for (std::size_t ix = 0; ix < prof.size(); ++ix) {
        const double x = spec.grid.position_m(spec.grid.index(ix, iy, 0)).x();
        if (std::abs(x) > 5e-3) continue;
        sum += prof[ix];
        second += prof[ix] * x * x;
      }
      return std::sqrt(second / sum);
    };
    EXPECT_GT(width(12), 1.3 * width(2)) << width(12) << " vs " << width(2);
    // Total signal per row grows with the cross-section (about 2.5 x from tip row to base row).
    const std::vector<double> tip = row_profile(*c, spec.grid, 2), base = row_profile(*c, spec.grid, 12);
    double tip_sum = 0.0, base_sum = 0.0;
    for (std::size_t i = 0; i < tip.size(); ++i) {
      tip_sum += tip[i];
      base_sum += base[i];
    }
    EXPECT_GT(base_sum, 1.8 * tip_sum);
    EXPECT_LT(nrmse(*c, truth), 0.8);
  }
}

TEST(SystemMatrixReconstruction, TwoDimensionalConcentrationCubesOrdered) {
  // Four of the concentration phantom's 2 mm cubes (configs/phantoms/concentration.toml: 12 mm apart,
  // 100, 66.6, 44.4, 29.6 mmol/L, x fastest) in a z = 0 slab.
  const ModelSystemMatrixSpec spec = spec_2d(15, 24e-3);
  const SystemMatrix full = model_system_matrix(spec);
  Phantom p;
  const double conc[4] = {100.0, 66.6, 44.4, 29.6};
  std::vector<Eigen::Vector3d> centres;
  for (int i = 0; i < 4; ++i) {
    const Eigen::Vector3d c((i % 2 == 0 ? -6e-3 : 6e-3), (i / 2 == 0 ? -6e-3 : 6e-3), 0.0);
    centres.push_back(c);
    fill(p, c - Eigen::Vector3d(1e-3, 1e-3, 0.25e-3), c + Eigen::Vector3d(1e-3, 1e-3, 0.25e-3), 0.25e-3, conc[i],
         [](const Eigen::Vector3d&) { return true; });
  }
  const double sigma = 1e-5 * simulate_spectrum(spec, p, 0.0, 1).cwiseAbs().maxCoeff();
  const Reconstruction r = reconstruct(spec, full, simulate_spectrum(spec, p, sigma, 3), sigma, 3.0, 1e-3, 10);
  const Eigen::VectorXd truth = blurred_truth(spec.grid, p, spec.tracer.modes[0].tracer);
  std::printf("2D concentration phantom: %zu rows, NRMSE Tikhonov %.3f, Kaczmarz (10 it.) %.3f\n", r.rows,
              nrmse(r.tikhonov, truth), nrmse(r.kaczmarz, truth));
  for (const Eigen::VectorXd* c : {&r.tikhonov, &r.kaczmarz}) {
    // Sum over a 3 x 3 voxel neighbourhood of each cube; the cubes separated (the gap between them dark).
    std::vector<double> sums;
    for (const Eigen::Vector3d& centre : centres) {
      const auto ix = static_cast<std::size_t>(std::floor((centre.x() + 12e-3) / 1.6e-3));
      const auto iy = static_cast<std::size_t>(std::floor((centre.y() + 12e-3) / 1.6e-3));
      double s = 0.0;
      for (std::size_t y = iy - 1; y <= iy + 1; ++y) {
        for (std::size_t x = ix - 1; x <= ix + 1; ++x) s += (*c)(static_cast<Eigen::Index>(spec.grid.index(x, y, 0)));
      }
      sums.push_back(s);
    }
    for (int i = 0; i + 1 < 4; ++i) EXPECT_GT(sums[static_cast<std::size_t>(i)], sums[static_cast<std::size_t>(i) + 1]) << "cube " << i;
    const double gap = (*c)(static_cast<Eigen::Index>(spec.grid.index(7, 7, 0)));
    EXPECT_LT(gap, 0.2 * c->maxCoeff());
    // Total signal per cube roughly proportional to concentration.
    for (int i = 1; i < 4; ++i) {
      EXPECT_NEAR(sums[static_cast<std::size_t>(i)] / sums[0], conc[i] / conc[0], 0.15) << "cube " << i;
    }
    EXPECT_LT(nrmse(*c, truth), 0.8);
  }
}

// The model matrix of `spec` on the rows the 3D reconstructions keep: >= 80 kHz, SNR >= 2 for 1 ug of iron
// in a voxel against the noise `sigma` (from the model's row energies), at most 1200 rows.
SystemMatrix selected_3d_matrix(const ModelSystemMatrixSpec& spec, const Eigen::VectorXd& energy, double sigma) {
  const FrameRows layout = frame_rows(spec.channels.size(), spec.frame_samples, kFs);
  RowSelectionOptions options;
  options.min_frequency_hz = 80e3;
  options.max_rows = 1200;
  options.min_snr = 2.0;
  const Eigen::VectorXd snr = row_snr_from_energy(energy * 1e-18 /* 1 ug */, Eigen::VectorXd::Constant(energy.size(), sigma));
  const RowSelection sel = select_rows(layout.frequencies_hz, layout.channels, snr, options);
  return model_system_matrix(spec, sel.rows);
}

TEST(SystemMatrixReconstruction, ThreeDimensionalConcentrationCubesSeparatedAndOrdered) {
  // The concentration phantom's 8 cubes (12 mm apart in x and y, 6 mm in z) on a 9 x 9 x 5 grid of 3 mm
  // voxels (27 x 27 x 15 mm, cube centres on voxel centres) with the full 3D Lissajous frame (53856
  // samples, 3 channels).
  ModelSystemMatrixSpec spec;
  spec.tracer = single_core();
  spec.gradient_t_per_m = kGradient;
  spec.drive = drive(3);
  spec.sample_rate_hz = kFs;
  spec.frame_samples = 53856;
  spec.channels = receive_xyz();
  spec.grid.shape = {9, 9, 5};
  spec.grid.fov_m = Eigen::Vector3d(27e-3, 27e-3, 15e-3);
  // A survey of the row energies first, then only the selected rows are built.
  const Eigen::VectorXd energy = model_row_energies(spec, 3);
  Phantom p;
  const double conc[8] = {100.0, 66.6, 44.4, 29.6, 19.7, 13.1, 8.77, 5.85};
  std::vector<Eigen::Vector3d> centres;
  for (int i = 0; i < 8; ++i) {
    const Eigen::Vector3d c((i % 2 == 0 ? -6e-3 : 6e-3), ((i / 2) % 2 == 0 ? -6e-3 : 6e-3), (i / 4 == 0 ? -3e-3 : 3e-3));
    centres.push_back(c);
    fill(p, c - Eigen::Vector3d::Constant(1e-3), c + Eigen::Vector3d::Constant(1e-3), 0.5e-3, conc[i],
         [](const Eigen::Vector3d&) { return true; });
  }
  const double sigma = 1e-5 * simulate_spectrum(spec, p, 0.0, 1).cwiseAbs().maxCoeff();
  const Eigen::MatrixXcd spectrum = simulate_spectrum(spec, p, sigma, 4);
  const SystemMatrix s = selected_3d_matrix(spec, energy, sigma);
  Eigen::VectorXcd u;
  s.gather(spectrum, u);
  TikhonovOptions t;
  t.relative_lambda = 1e-3;
  t.non_negative = true;
  TikhonovOperator op(s.matrix, t);
  Eigen::VectorXf cf;
  op.apply(u, cf);
  const Eigen::VectorXd c = cf.cast<double>();
  const Eigen::VectorXd truth = blurred_truth(spec.grid, p, spec.tracer.modes[0].tracer);
  std::printf("3D concentration phantom (9 x 9 x 5): %zu rows, NRMSE Tikhonov %.3f\n", s.rows(), nrmse(c, truth));
  EXPECT_GT(s.rows(), 300u);
  // Cube centres fall at voxels (2 or 6, 2 or 6, 1 or 3); sum 3 x 3 x 3 around each.
  std::vector<double> sums;
  for (const Eigen::Vector3d& centre : centres) {
    const Eigen::Vector3d pitch = spec.grid.pitch_m();
    const auto ix = static_cast<std::size_t>(std::floor((centre.x() + 13.5e-3) / pitch.x()));
    const auto iy = static_cast<std::size_t>(std::floor((centre.y() + 13.5e-3) / pitch.y()));
    const auto iz = static_cast<std::size_t>(std::floor((centre.z() + 7.5e-3) / pitch.z()));
    double sum = 0.0;
    for (std::size_t z = iz - 1; z <= iz + 1; ++z) {
      for (std::size_t y = iy - 1; y <= iy + 1; ++y) {
        for (std::size_t x = ix - 1; x <= ix + 1; ++x) sum += c(static_cast<Eigen::Index>(spec.grid.index(x, y, z)));
      }
    }
    sums.push_back(sum);
  }
  for (std::size_t i = 0; i + 1 < 8; ++i) EXPECT_GT(sums[i], sums[i + 1]) << "cube " << i;
  // Separated: the centre voxel between the cubes is dark.
  EXPECT_LT(c(static_cast<Eigen::Index>(spec.grid.index(4, 4, 2))), 0.2 * c.maxCoeff());
  EXPECT_LT(nrmse(c, truth), 0.9);
}

// The 3D Lissajous of REFERENCE 2.1 (53856 samples, 3 channels) on a small grid.
ModelSystemMatrixSpec spec_3d(std::array<std::size_t, 3> shape, const Eigen::Vector3d& fov_m) {
  ModelSystemMatrixSpec spec;
  spec.tracer = single_core();
  spec.gradient_t_per_m = kGradient;
  spec.drive = drive(3);
  spec.sample_rate_hz = kFs;
  spec.frame_samples = 53856;
  spec.channels = receive_xyz();
  spec.grid.shape = shape;
  spec.grid.fov_m = fov_m;
  return spec;
}

// A 3D reconstruction as the published 3D parameters (REFERENCE 2.1): rows from a survey of the row
// energies (SNR >= 2 for 1 ug of iron, >= 80 kHz, at most 1200 rows), Tikhonov (lambda 1e-3) and
// Kaczmarz (3 iterations, lambda 1e-3), both non-negative. The phantom's spectrum is simulated once
// without noise; the noise (noise_fraction of its peak) is added here.
Reconstruction reconstruct_3d(const ModelSystemMatrixSpec& spec, const Phantom& p, double noise_fraction, unsigned seed) {
  const Eigen::VectorXd energy = model_row_energies(spec, 3);
  Eigen::MatrixXcd spectrum = simulate_spectrum(spec, p, 0.0, seed);
  const double sigma = noise_fraction * spectrum.cwiseAbs().maxCoeff();
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (Eigen::Index i = 0; i < spectrum.size(); ++i) spectrum(i) += sigma * std::complex<double>(normal(rng), normal(rng)) / std::sqrt(2.0);
  const SystemMatrix s = selected_3d_matrix(spec, energy, sigma);
  Eigen::VectorXcd u;
  s.gather(spectrum, u);
  Reconstruction r;
  r.rows = s.rows();
  TikhonovOptions t;
  t.relative_lambda = 1e-3;
  t.non_negative = true;
  TikhonovOperator op(s.matrix, t);
  Eigen::VectorXf c;
  op.apply(u, c);
  r.tikhonov = c.cast<double>();
  KaczmarzOptions k;
  k.relative_lambda = 1e-3;
  k.iterations = 3;
  k.non_negative = true;
  KaczmarzSolver solver(s.matrix, k);
  solver.solve(u, r.kaczmarz);
  return r;
}

// Profile of a 3D image along axis `axis` through voxel (ix, iy, iz).
std::vector<double> line_profile(const Eigen::VectorXd& c, const VoxelGrid& g, int axis, std::array<std::size_t, 3> at) {
  std::vector<double> p(g.shape[static_cast<std::size_t>(axis)]);
  for (std::size_t i = 0; i < p.size(); ++i) {
    at[static_cast<std::size_t>(axis)] = i;
    p[i] = c(static_cast<Eigen::Index>(g.index(at[0], at[1], at[2])));
  }
  return p;
}

TEST(SystemMatrixReconstruction, ThreeDimensionalResolutionPhantomTubesSeparated) {
  // The whole resolution phantom (configs/phantoms/resolution.toml: five tubes from (0, -10, 0) mm, along
  // y, 20 deg towards +x and 30 deg towards -x in xy, 10 deg towards +z and 15 deg towards -z in yz; radius
  // 0.5 mm, 20 mm long, 50 mmol/L) on a 9 x 9 x 9 grid over 27 x 27 x 13.5 mm (3 x 3 x 1.5 mm voxels: the
  // PSF is twice as narrow along z).
  const ModelSystemMatrixSpec spec = spec_3d({9, 9, 9}, Eigen::Vector3d(27e-3, 27e-3, 13.5e-3));
  Phantom p;
  const Eigen::Vector3d origin(0.0, -10e-3, 0.0);
  const std::vector<Eigen::Vector3d> dirs = {{0.0, 1.0, 0.0},
                                            {0.342020, 0.939693, 0.0},
                                            {-0.5, 0.866025, 0.0},
                                            {0.0, 0.984808, 0.173648},
                                            {0.0, 0.965926, -0.258819}};
  fill(p, Eigen::Vector3d(-11e-3, -11e-3, -6e-3), Eigen::Vector3d(11e-3, 11e-3, 6e-3), 0.5e-3, 50.0, [&](const Eigen::Vector3d& r) {
    for (const Eigen::Vector3d& d : dirs) {
      const double along = (r - origin).dot(d);
      if (along >= 0.0 && along <= 20e-3 && ((r - origin) - along * d).norm() <= 0.5e-3) return true;
    }
    return false;
  });
  const Reconstruction r = reconstruct_3d(spec, p, 1e-5, 6);
  const Eigen::VectorXd truth = blurred_truth(spec.grid, p, spec.tracer.modes[0].tracer);
  std::printf("3D resolution phantom (9 x 9 x 9): %zu rows, NRMSE Tikhonov %.3f, Kaczmarz (3 it.) %.3f\n", r.rows,
              nrmse(r.tikhonov, truth), nrmse(r.kaczmarz, truth));
  RecordProperty("nrmse_tikhonov", std::to_string(nrmse(r.tikhonov, truth)));
  RecordProperty("nrmse_kaczmarz", std::to_string(nrmse(r.kaczmarz, truth)));
  EXPECT_GT(r.rows, 300u);
  // The slice y = +6 mm (iy = 6; 16 mm from the origin): in xy the tubes sit at x = 0, +5.8 and -9.2 mm
  // (voxels 4, 6 and 1 at z = 0, iz = 4); in yz at z = 0, +2.8 and -4.3 mm (voxels 4, 6 and 1 at x = 0).
  for (const Eigen::VectorXd* c : {&r.tikhonov, &r.kaczmarz}) {
    const std::vector<double> along_x = line_profile(*c, spec.grid, 0, {0, 6, 4});
    const std::vector<double> along_z = line_profile(*c, spec.grid, 2, {4, 6, 0});
    for (const std::vector<double>* prof : {&along_x, &along_z}) {
      const std::vector<double>& v = *prof;
      auto peak_near = [&](std::size_t i) { return std::max({v[i - 1], v[i], v[i + 1]}); };
      auto dip_between = [&](std::size_t a, std::size_t b) { return *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(a) + 1, v.begin() + static_cast<std::ptrdiff_t>(b)); };
      const bool is_x = prof == &along_x;
      EXPECT_LT(dip_between(4, 6), 0.7 * std::min(peak_near(4), peak_near(6))) << (is_x ? "x" : "z") << " +";
      EXPECT_LT(dip_between(1, 4), 0.7 * std::min(peak_near(1), peak_near(4))) << (is_x ? "x" : "z") << " -";
    }
    EXPECT_LT(nrmse(*c, truth), 0.9);
  }
}

TEST(SystemMatrixReconstruction, ThreeDimensionalConeCrossSectionGrowsAlongItsAxis) {
  // The cone phantom (configs/phantoms/cone.toml: tip at (0, -11, 0) mm, 1 mm tip radius, 10 deg apex, 22 mm
  // high along y; 50 mmol/L) on a 9 x 9 x 9 grid over 27 x 27 x 13.5 mm. Its radius (1 to 2.9 mm) is below
  // the 3 mm voxels across x, so the shape shows as the signal per y slice growing with the cross-section
  // (pi r^2) and as the signal confined to the cone's extent across x and z.
  const ModelSystemMatrixSpec spec = spec_3d({9, 9, 9}, Eigen::Vector3d(27e-3, 27e-3, 13.5e-3));
  Phantom p;
  const double half_apex = 5.0 * std::numbers::pi / 180.0;
  fill(p, Eigen::Vector3d(-3e-3, -11e-3, -3e-3), Eigen::Vector3d(3e-3, 11e-3, 3e-3), 0.5e-3, 50.0, [&](const Eigen::Vector3d& r) {
    return std::hypot(r.x(), r.z()) <= 1e-3 + (r.y() + 11e-3) * std::tan(half_apex);
  });
  const Reconstruction r = reconstruct_3d(spec, p, 1e-6, 7);
  const Eigen::VectorXd truth = blurred_truth(spec.grid, p, spec.tracer.modes[0].tracer);
  std::printf("3D cone phantom (9 x 9 x 9): %zu rows, NRMSE Tikhonov %.3f, Kaczmarz (3 it.) %.3f\n", r.rows,
              nrmse(r.tikhonov, truth), nrmse(r.kaczmarz, truth));
  RecordProperty("nrmse_tikhonov", std::to_string(nrmse(r.tikhonov, truth)));
  RecordProperty("nrmse_kaczmarz", std::to_string(nrmse(r.kaczmarz, truth)));
  EXPECT_GT(r.rows, 300u);
  // Closed form: slice iy (y from -13.5 + 3 iy to -10.5 + 3 iy mm) holds the cone's volume over that span;
  // slices 1 and 7 (y = -9 and +9 mm) hold 5.5 x more in 7. The reconstruction's PSF along y (about 2.6 mm)
  // spreads each slice into its neighbours, which lowers that contrast (3.5 to 4 seen); a cylinder gives 1.
  const auto cone_volume = [&](double y0, double y1) {
    y0 = std::max(y0, -11e-3);
    y1 = std::min(y1, 11e-3);
    if (y1 <= y0) return 0.0;
    const double t = std::tan(half_apex);
    const auto primitive = [&](double y) { return std::numbers::pi * std::pow(1e-3 + (y + 11e-3) * t, 3) / (3.0 * t); };
    return primitive(y1) - primitive(y0);
  };
  const double expected_ratio = cone_volume(7.5e-3, 10.5e-3) / cone_volume(-10.5e-3, -7.5e-3);
  for (const Eigen::VectorXd* c : {&r.tikhonov, &r.kaczmarz}) {
    std::vector<double> slice_total(9, 0.0);
    double inside = 0.0;
    for (std::size_t j = 0; j < spec.grid.voxels(); ++j) {
      const Eigen::Vector3d r0 = spec.grid.position_m(j);
      const double v = (*c)(static_cast<Eigen::Index>(j));
      slice_total[static_cast<std::size_t>(std::lround((r0.y() + 12e-3) / 3e-3))] += v;
      // The cone lies within |x|, |z| <= 2.9 mm: voxels centred within 3 mm (x) and 3 mm (z) of its axis,
      // 15 of the 81 voxels of a slice (a flat image would put 0.19 of its signal there).
      if (std::abs(r0.x()) <= 3.01e-3 && std::abs(r0.z()) <= 3.01e-3) inside += v;
    }
    const double fraction = inside / c->sum();
    const double ratio = slice_total[7] / slice_total[1];
    std::printf("  slice 7 / slice 1: %.2f (cone volumes %.2f); signal within the cone's extent across x, z: %.2f\n", ratio,
                expected_ratio, fraction);
    for (std::size_t iy = 1; iy + 1 < 8; ++iy) EXPECT_GT(slice_total[iy + 1], slice_total[iy]) << "slice " << iy;
    EXPECT_GT(ratio, 3.0);
    EXPECT_LT(ratio, 1.2 * expected_ratio);
    EXPECT_GT(fraction, 0.65);
    EXPECT_LT(nrmse(*c, truth), 0.5);
  }
}

TEST(CalibrationSystemMatrix, RecoversColumnsFromRobotSpectraAndEstimatesNoise) {
  // A robot scan simulated with the forward model: the sample at each voxel plus a fixed background
  // (feedthrough-like, in bin 1) and noise; the builder subtracts the mean background.
  const ModelSystemMatrixSpec spec = spec_2d(3, 20e-3);
  const SystemMatrix model = model_system_matrix(spec);
  const double iron = 50e-9;  // 50 ug
  const double scale = iron * model.matrix.cwiseAbs().maxCoeff();
  const double sigma = 1e-4 * scale;
  std::mt19937_64 rng(17);
  std::normal_distribution<double> normal;
  Eigen::MatrixXcd background = Eigen::MatrixXcd::Zero(817, 2);
  background(1, 0) = {100.0 * scale, 3.0 * scale};
  background(1, 1) = {-50.0 * scale, 0.0};
  auto noisy = [&](const Eigen::MatrixXcd& m) {
    Eigen::MatrixXcd out = m;
    for (Eigen::Index i = 0; i < out.size(); ++i) out(i) += sigma * std::complex<double>(normal(rng), normal(rng)) / std::sqrt(2.0);
    return out;
  };
  CalibrationSystemMatrixBuilder builder(spec.grid, 2, 1632, kFs);
  for (int b = 0; b < 200; ++b) builder.add_background(noisy(background));
  EXPECT_FALSE(builder.complete());
  EXPECT_THROW((void)builder.finish(), std::logic_error);
  for (std::size_t j = 0; j < 9; ++j) {
    Eigen::MatrixXcd spectrum(817, 2);
    for (Eigen::Index c = 0; c < 2; ++c) spectrum.col(c) = iron * model.matrix.col(static_cast<Eigen::Index>(j)).segment(c * 817, 817);
    builder.add_position(j, noisy(spectrum + background), iron);
  }
  ASSERT_TRUE(builder.complete());
  const SystemMatrix s = builder.finish();
  const double error = (s.matrix - model.matrix).cwiseAbs().maxCoeff() * iron;
  EXPECT_LT(error, 6.0 * sigma);
  EXPECT_GT(error, 0.5 * sigma);  // noise remains in a measured matrix
  const Eigen::VectorXd noise = builder.row_noise() * iron;
  EXPECT_NEAR(noise.mean(), sigma, 0.05 * sigma);
  // The same noise from background spectra through row_noise_from_background.
  std::vector<Eigen::MatrixXcd> frames;
  for (int b = 0; b < 100; ++b) frames.push_back(noisy(background));
  const Eigen::VectorXd direct = row_noise_from_background(frames, s.channels, s.bins);
  EXPECT_NEAR(direct.mean(), sigma, 0.05 * sigma);
  EXPECT_THROW(builder.add_position(9, background, iron), std::invalid_argument);
  EXPECT_THROW(builder.add_position(0, Eigen::MatrixXcd::Zero(10, 2), iron), std::invalid_argument);
}

}  // namespace
}  // namespace mpi::recon
