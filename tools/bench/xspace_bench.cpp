// x-space gridding of one 2D Lissajous frame of the preclinical preset (REFERENCE 2.1: 1632 samples at
// 2.5 MS/s, 3 receive channels, 12 mT, G = diag(-1, -1, 2) T/m) onto a 64 x 64 grid over the 24 mm FOV:
// the per-frame sparse mat-vec on one core and the one-off operator build. x_real_time = seconds of
// acquisition per second of compute (a frame is 652.8 us).
#include "mpi/recon/xspace_gridding.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

namespace {

using mpi::recon::DriveTrajectory;
using mpi::recon::GriddingWeights;
using mpi::recon::XSpaceGridding;
using mpi::recon::XSpaceGriddingConfig;

constexpr double kSampleRate = 2.5e6;
constexpr std::size_t kFrame = 1632;
constexpr double kFrameSeconds = static_cast<double>(kFrame) / kSampleRate;

DriveTrajectory drive() {
  return DriveTrajectory({{Eigen::Vector3d::UnitX(), 0.012, 2.5e6 / 102.0, 0.0},
                          {Eigen::Vector3d::UnitY(), 0.012, 2.5e6 / 96.0, 0.0}});
}

XSpaceGriddingConfig config(GriddingWeights weights) {
  XSpaceGriddingConfig c;
  c.gradient_t_per_m = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
  c.sample_rate_hz = kSampleRate;
  c.frame_samples = kFrame;
  c.receive_directions = {Eigen::Vector3d::UnitX(), Eigen::Vector3d::UnitY(), Eigen::Vector3d::UnitZ()};
  const double pixel = 0.024 / 64.0;
  c.grid.counts = {64, 64, 1};
  c.grid.pixel_m = Eigen::Vector3d(pixel, pixel, 0.0);
  c.grid.origin_m = Eigen::Vector3d(-0.012 + 0.5 * pixel, -0.012 + 0.5 * pixel, 0.0);
  c.min_speed_fraction = 0.3;
  c.weights = weights;
  return c;
}

void BM_XSpaceFrame2d(benchmark::State& state) {
  const auto weights = state.range(0) == 0 ? GriddingWeights::kNearest : GriddingWeights::kLinear;
  const XSpaceGridding op(drive(), config(weights));
  std::vector<double> frame(op.input_size());
  for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = std::sin(0.01 * static_cast<double>(i));
  std::vector<double> image(op.image_size());
  for (auto _ : state) {
    op.apply(frame, image);
    benchmark::DoNotOptimize(image.data());
    benchmark::ClobberMemory();
  }
  state.counters["x_real_time"] =
      benchmark::Counter(kFrameSeconds, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nonzeros"] = static_cast<double>(op.matrix().nonZeros());
  state.SetLabel(weights == GriddingWeights::kNearest ? "nearest" : "linear");
}
BENCHMARK(BM_XSpaceFrame2d)->Arg(0)->Arg(1);

// Building the operator happens once per trajectory; its x_real_time is one frame's acquisition time
// over the build time.
void BM_XSpaceOperatorBuild2d(benchmark::State& state) {
  const auto weights = state.range(0) == 0 ? GriddingWeights::kNearest : GriddingWeights::kLinear;
  const DriveTrajectory d = drive();
  const XSpaceGriddingConfig c = config(weights);
  for (auto _ : state) {
    XSpaceGridding op(d, c);
    benchmark::DoNotOptimize(op.matrix().nonZeros());
  }
  state.counters["x_real_time"] =
      benchmark::Counter(kFrameSeconds, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(weights == GriddingWeights::kNearest ? "nearest" : "linear");
}
BENCHMARK(BM_XSpaceOperatorBuild2d)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
