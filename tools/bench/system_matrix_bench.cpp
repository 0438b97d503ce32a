// System-matrix reconstruction of the preclinical 3D Lissajous (REFERENCE 2.1 / 3.3): 53856 samples a frame
// at 2.5 MS/s (21.54 ms, 46.4 volumes/s), 3 receive channels, a 19^3 grid over 38 x 38 x 19 mm, gradient
// (-1, -1, 2) T/m, 12 mT drives; 30 nm single-core tracer. Setup (once, printed): a survey of the row
// energies from every 7th voxel, row selection (>= 80 kHz, the 2400 rows of highest SNR against a white
// noise floor), the model-based S of the selected rows (both cores), the precomputed Tikhonov operator R
// (relative lambda 1e-3, normal equations, both cores). Each benchmark reports "x_real_time", seconds of
// acquisition reconstructed per second of wall time (goal >= 1 for the Tikhonov apply on 2 cores).
#include "mpi/recon/row_selection.hpp"
#include "mpi/recon/sm_solvers.hpp"
#include "mpi/recon/system_matrix.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>

namespace {

using namespace mpi::recon;
using Clock = std::chrono::steady_clock;

constexpr double kFrameSeconds = 53856.0 / 2.5e6;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Setup {
  SystemMatrix s;
  std::unique_ptr<TikhonovOperator> r;
  Eigen::VectorXcd u;
  double survey_s = 0.0, build_s = 0.0, operator_s = 0.0, float_error = 0.0;

  Setup() {
    ModelSystemMatrixSpec spec;
    TracerMode mode;
    mode.name = "cores";
    mode.tracer.core_diameter_m = 30e-9;
    mode.tracer.saturation_magnetisation_a_per_m = 8e5;
    spec.tracer.modes = {mode};
    spec.gradient_t_per_m = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
    spec.drive = DriveTrajectory({{Eigen::Vector3d::UnitX(), 12e-3, 2.5e6 / 102.0, 0.0},
                                  {Eigen::Vector3d::UnitY(), 12e-3, 2.5e6 / 96.0, 0.0},
                                  {Eigen::Vector3d::UnitZ(), 12e-3, 2.5e6 / 99.0, 0.0}});
    spec.sample_rate_hz = 2.5e6;
    spec.frame_samples = 53856;
    spec.channels = {{Eigen::Vector3d::UnitX(), 1e-3, 1.0}, {Eigen::Vector3d::UnitY(), 1e-3, 1.0}, {Eigen::Vector3d::UnitZ(), 1e-3, 1.0}};
    spec.grid.shape = {19, 19, 19};
    spec.grid.fov_m = Eigen::Vector3d(38e-3, 38e-3, 19e-3);
    spec.threads = 2;

    auto start = Clock::now();
    const Eigen::VectorXd energy = model_row_energies(spec, 7);
    survey_s = seconds_since(start);
    const FrameRows layout = frame_rows(3, spec.frame_samples, spec.sample_rate_hz);
    RowSelectionOptions options;
    options.min_frequency_hz = 80e3;
    options.max_rows = 2400;
    // A white noise floor at 1e-3 of the mean row RMS (only the ranking matters with max_rows).
    const Eigen::VectorXd noise = Eigen::VectorXd::Constant(energy.size(), std::sqrt(energy.mean()) * 1e-3);
    const RowSelection selection = select_rows(layout.frequencies_hz, layout.channels, row_snr_from_energy(energy, noise), options);

    start = Clock::now();
    s = model_system_matrix(spec, selection.rows);
    build_s = seconds_since(start);

    start = Clock::now();
    TikhonovOptions t;
    t.relative_lambda = 1e-3;
    t.keep_double = true;
    r = std::make_unique<TikhonovOperator>(s.matrix, t);
    operator_s = seconds_since(start);

    // A frame: a few iron blobs, through S, plus noise.
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Eigen::VectorXd c = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(s.voxels()));
    for (int k = 0; k < 40; ++k) c(static_cast<Eigen::Index>(uniform(rng) * static_cast<double>(s.voxels()))) = 1e-8 * uniform(rng);
    u = s.matrix * c.cast<std::complex<double>>();
    const double level = 1e-3 * u.cwiseAbs().maxCoeff();
    std::normal_distribution<double> normal;
    for (Eigen::Index i = 0; i < u.size(); ++i) u(i) += level * std::complex<double>(normal(rng), normal(rng));
    Eigen::VectorXf cf;
    Eigen::VectorXd cd;
    r->apply(u, cf);
    r->apply_double(u, cd);
    float_error = (cf.cast<double>() - cd).norm() / cd.norm();
    std::printf("system matrix setup: 19^3 grid, %zu selected rows (%zu stacked), row survey (every 7th voxel) %.1f s, "
                "S build %.1f s, R build %.1f s, float vs double apply relative error %.2e\n",
                s.rows(), 2 * s.rows(), survey_s, build_s, operator_s, float_error);
  }
};

Setup& setup() {
  static Setup instance;
  return instance;
}

void BM_TikhonovOperatorApply(benchmark::State& state) {
  Setup& g = setup();
  Eigen::VectorXf c;
  g.r->apply(g.u, c);
  for (auto _ : state) {
    g.r->apply(g.u, c);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["x_real_time"] = benchmark::Counter(kFrameSeconds, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["rows"] = static_cast<double>(g.s.rows());
  state.counters["voxels"] = static_cast<double>(g.s.voxels());
  state.counters["float_rel_error"] = g.float_error;
  state.counters["S_build_s"] = g.build_s;
  state.counters["R_build_s"] = g.operator_s;
}

void BM_Kaczmarz3Iterations(benchmark::State& state) {
  Setup& g = setup();
  KaczmarzOptions options;
  options.iterations = 3;
  options.relative_lambda = 1e-3;
  options.non_negative = true;
  KaczmarzSolver solver(g.s.matrix, options);
  Eigen::VectorXd c;
  for (auto _ : state) {
    solver.solve(g.u, c);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["x_real_time"] = benchmark::Counter(kFrameSeconds, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["rows"] = static_cast<double>(g.s.rows());
}

}  // namespace

BENCHMARK(BM_TikhonovOperatorApply)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Kaczmarz3Iterations)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
