// harmonics_bench: harmonic extraction on one core for 3 receive channels at 2.5 MS/s (REFERENCE 2.1):
// int16 interleaved frame -> spectrum (FrameSpectrum, FFTW plan made once) -> background subtraction
// (interpolated between a block before and a block after) -> harmonic table with SNR from the background
// noise -> feedthrough suppression (drive fundamentals, bins below 80 kHz). Frames: one 1D drive period
// (102 samples), a 2D Lissajous frame (1632) and a 3D Lissajous frame (53856). No assertions: each result
// carries "x_real_time", seconds of acquisition processed per second of CPU time (goal >= 50).
//
//   harmonics_bench [--benchmark_filter=...]
#include "mpi/recon/background.hpp"
#include "mpi/recon/feedthrough.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/harmonic_table.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <numbers>
#include <random>
#include <vector>

namespace {

using namespace mpi::recon;

constexpr double kRate = 2.5e6;
constexpr std::size_t kChannels = 3;
constexpr std::size_t kFrames = 4;  // distinct foreground frames cycled through

FrameGeometry geometry(int dims) {
  if (dims == 1) return FrameGeometry::periodic(102, 1, kChannels, kRate);
  if (dims == 2) {
    const std::uint32_t d[] = {102, 96};
    return FrameGeometry::lissajous(d, 2.5e6, kRate, 1632, kChannels);
  }
  const std::uint32_t d[] = {102, 96, 99};
  return FrameGeometry::lissajous(d, 2.5e6, kRate, 53856, kChannels);
}

// Interleaved int16 frames: drive feedthrough, a few odd harmonics and noise, about half full scale.
std::vector<std::int16_t> make_frames(const FrameGeometry& g, std::size_t frames, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 40.0);
  const std::size_t n = g.samples_per_frame;
  std::vector<std::int16_t> out(frames * n * kChannels);
  for (std::size_t f = 0; f < frames; ++f) {
    for (std::size_t j = 0; j < n; ++j) {
      const double t = static_cast<double>(j) / kRate;
      for (std::size_t c = 0; c < kChannels; ++c) {
        const double f0 = g.drive_frequencies_hz[c % g.drive_frequencies_hz.size()];
        double v = 8000.0 * std::sin(2.0 * std::numbers::pi * f0 * t);
        for (int h = 3; h <= 9; h += 2) v += 4000.0 / (h * h) * std::cos(2.0 * std::numbers::pi * h * f0 * t + 0.1 * h);
        out[(f * n + j) * kChannels + c] = static_cast<std::int16_t>(std::lround(v + noise(rng)));
      }
    }
  }
  return out;
}

// One analyser per frame size for the whole run: FFTW_MEASURE plans the 3D frame for tens of seconds.
FrameSpectrum& analyser(int dims) {
  static std::map<int, FrameSpectrum> cache;
  auto it = cache.find(dims);
  if (it == cache.end()) it = cache.emplace(dims, FrameSpectrum(geometry(dims), FftPlanning::measure)).first;
  return it->second;
}

std::vector<HarmonicBin> table_bins(const FrameGeometry& g, int dims) {
  if (dims == 1) return drive_harmonics(g, 50);
  return mixing_frequencies(g, dims == 2 ? 16 : 10);
}

// Spectrum + interpolated background subtraction + harmonic table (background SNR) + feedthrough.
void BM_HarmonicExtraction(benchmark::State& state) {
  const int dims = static_cast<int>(state.range(0));
  const FrameGeometry g = geometry(dims);
  const std::size_t n = g.samples_per_frame;
  const double volts_per_code = 1.0 / 32768.0;
  FrameSpectrum& fs = analyser(dims);
  BackgroundModel before(fs.bins(), kChannels);
  BackgroundModel after(fs.bins(), kChannels);
  const std::vector<std::int16_t> bg = make_frames(g, 8, 1);
  for (std::size_t f = 0; f < 8; ++f) {
    const std::span<const std::int16_t> frame(bg.data() + f * n * kChannels, n * kChannels);
    BackgroundModel& block = f < 4 ? before : after;
    const std::uint64_t first = (f < 4 ? f : f + 100) * n;
    block.add(fs.transform(frame, volts_per_code), frame_centre_sample(first, n));
  }
  const InterpolatedBackground background(before, after);
  const Eigen::MatrixXd noise = background.noise();
  const HarmonicExtractor extractor(g, table_bins(g, dims));
  HarmonicTable table = extractor.make_table();
  FeedthroughOptions options;
  options.min_frequency_hz = 80e3;
  const FeedthroughFilter feedthrough(g, options);
  const std::vector<std::int16_t> fg = make_frames(g, kFrames, 2);

  std::size_t f = 0;
  for (auto _ : state) {
    const std::span<const std::int16_t> frame(fg.data() + f * n * kChannels, n * kChannels);
    Eigen::MatrixXcd& s = fs.transform(frame, volts_per_code);
    background.subtract(frame_centre_sample((4 + f) * n, n), s);
    extractor.extract(s, noise, table);
    feedthrough.apply(s);
    benchmark::DoNotOptimize(s.data());
    benchmark::DoNotOptimize(table.snr.data());
    f = (f + 1) % kFrames;
  }
  state.counters["x_real_time"] = benchmark::Counter(g.frame_duration_s(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples_per_frame"] = static_cast<double>(n);
  state.counters["table_rows"] = static_cast<double>(extractor.bins().size());
}

// The transform alone (int16 conversion, FFT, scaling), for comparison.
void BM_SpectrumOnly(benchmark::State& state) {
  const int dims = static_cast<int>(state.range(0));
  const FrameGeometry g = geometry(dims);
  const std::size_t n = g.samples_per_frame;
  FrameSpectrum& fs = analyser(dims);
  const std::vector<std::int16_t> fg = make_frames(g, kFrames, 2);
  std::size_t f = 0;
  for (auto _ : state) {
    const std::span<const std::int16_t> frame(fg.data() + f * n * kChannels, n * kChannels);
    benchmark::DoNotOptimize(fs.transform(frame, 1.0 / 32768.0).data());
    f = (f + 1) % kFrames;
  }
  state.counters["x_real_time"] = benchmark::Counter(g.frame_duration_s(), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_HarmonicExtraction)->ArgName("dims")->Arg(1)->Arg(2)->Arg(3)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SpectrumOnly)->ArgName("dims")->Arg(1)->Arg(2)->Arg(3)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
