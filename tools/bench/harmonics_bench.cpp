// harmonics_bench: harmonic extraction for 3 receive channels at 2.5 MS/s (REFERENCE 2.1):
// int16 interleaved frame -> spectrum (FrameSpectrum, FFTW plan made once; frames whose length has the prime
// factor 17 -- the 2D frame 1632 = 17 x 96, the 3D frame 53856 = 17 x 3168, 1D windows of 10 and 100 periods
// of 102 samples -- go through the prime-factor split, see prime_factor_split) -> background subtraction
// (interpolated between a block before and a block after) -> harmonic table with SNR from the background
// noise (phases by the vectorised fast_atan2) -> feedthrough suppression (drive fundamentals, bins below
// 80 kHz). Frames: 1D windows of 1, 10 and 100 drive periods (102 samples each), a 2D Lissajous frame (1632)
// and a 3D Lissajous frame (53856).
// Arguments: dims, periods (1D), fp32 (0: double FFT, 1: single-precision FFT). BM_HarmonicExtraction runs on
// one core; BM_HarmonicExtractionTwoCores processes frames in pairs, one on the calling thread and one on a
// persistent worker (TwoCoreRunner), timed in wall-clock time. No assertions: each result carries
// "x_real_time", seconds of acquisition processed per second of compute (goal >= 50).
// BM_HarmonicExtractionPeriodAveraged is the 1D route of REFERENCE 3.1 for windows of many periods: the
// periods are averaged first (the drive harmonics are exactly the average's spectrum) and one period is
// transformed, background-subtracted (backgrounds averaged alike), tabled and filtered.
// BM_FusedExtraction / BM_FusedExtractionTwoCores (2D and 3D) do the same through FusedHarmonicExtractor:
// only the table's bins are read from the transform's buffers, background-subtracted and tabled, and the
// feedthrough is a mask on the table; BM_FusedExtractionNoPhases leaves out the table's phases.
// BM_SpectrumOnly is the transform alone; BM_SpectrumWholeFrameFftw the same with FftAlgorithm::fftw (one
// FFTW transform of the whole frame, no split), for comparison.
//
//   harmonics_bench [--benchmark_filter=...]
#include "mpi/recon/background.hpp"
#include "mpi/recon/feedthrough.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/fused_harmonics.hpp"
#include "mpi/recon/harmonic_table.hpp"
#include "mpi/recon/period_average.hpp"
#include "mpi/recon/two_core_runner.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <numbers>
#include <random>
#include <vector>

namespace {

using namespace mpi::recon;

constexpr double kRate = 2.5e6;
constexpr std::size_t kChannels = 3;
constexpr std::size_t kFrames = 4;  // distinct foreground frames cycled through

FrameGeometry geometry(int dims, std::size_t periods) {
  if (dims == 1) return FrameGeometry::periodic(102, periods, kChannels, kRate);
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

// Analysers kept for the whole run, planned with FFTW_MEASURE (FFTW's wisdom makes the second analyser of a
// size instant). Without the split, the whole 3D frame takes tens of seconds to plan.
FrameSpectrum& analyser(int dims, std::size_t periods, bool fp32, int instance = 0,
                        FftAlgorithm algorithm = FftAlgorithm::automatic) {
  static std::map<std::tuple<int, std::size_t, bool, int, FftAlgorithm>, std::unique_ptr<FrameSpectrum>> cache;
  auto& slot = cache[{dims, periods, fp32, instance, algorithm}];
  if (!slot) {
    slot = std::make_unique<FrameSpectrum>(geometry(dims, periods), FftPlanning::measure,
                                           fp32 ? FftPrecision::single_precision : FftPrecision::double_precision,
                                           algorithm);
  }
  return *slot;
}

std::vector<HarmonicBin> table_bins(const FrameGeometry& g, int dims) {
  if (dims == 1) return drive_harmonics(g, std::min<int>(50, static_cast<int>(g.samples_per_frame / 2 / (g.samples_per_frame / 102))));
  return mixing_frequencies(g, dims == 2 ? 16 : 10);
}

// Spectrum + interpolated background subtraction + harmonic table (background SNR) + feedthrough, for one
// analyser (one core's share of the work).
struct Extraction {
  Extraction(int dims, std::size_t periods, bool fp32, int instance)
      : dimensions(dims),
        g(geometry(dims, periods)),
        fs(analyser(dims, periods, fp32, instance)),
        extractor(g, table_bins(g, dims)),
        table(extractor.make_table()),
        feedthrough(g, [] {
          FeedthroughOptions o;
          o.min_frequency_hz = 80e3;
          return o;
        }()),
        fg(make_frames(g, kFrames, 2)) {
    const std::size_t n = g.samples_per_frame;
    BackgroundModel before(fs.bins(), kChannels);
    BackgroundModel after(fs.bins(), kChannels);
    const std::vector<std::int16_t> bg = make_frames(g, 8, 1);
    for (std::size_t f = 0; f < 8; ++f) {
      const std::span<const std::int16_t> frame(bg.data() + f * n * kChannels, n * kChannels);
      BackgroundModel& block = f < 4 ? before : after;
      const std::uint64_t first = (f < 4 ? f : f + 100) * n;
      block.add(fs.transform(frame, kVoltsPerCode), frame_centre_sample(first, n));
    }
    background = std::make_unique<InterpolatedBackground>(before, after);
    noise = background->noise();
  }

  void frame(std::size_t f) {
    const std::size_t n = g.samples_per_frame;
    const std::span<const std::int16_t> codes(fg.data() + (f % kFrames) * n * kChannels, n * kChannels);
    Eigen::MatrixXcd& s = fs.transform(codes, kVoltsPerCode);
    background->subtract(frame_centre_sample((4 + f % kFrames) * n, n), s);
    extractor.extract(s, noise, table);
    feedthrough.apply(s);
    benchmark::DoNotOptimize(s.data());
    benchmark::DoNotOptimize(table.snr.data());
  }

  // The fused path: only the table's bins are read, background-subtracted and tabled; feedthrough as a
  // mask on the table.
  void fused_frame(std::size_t f) {
    if (!fused) {
      fused = std::make_unique<FusedHarmonicExtractor>(fs, table_bins(g, dimensions));
      fused->set_background(*background);
      fused->set_feedthrough(feedthrough);
      fused_table = fused->make_table();
    }
    const std::size_t n = g.samples_per_frame;
    const std::span<const std::int16_t> codes(fg.data() + (f % kFrames) * n * kChannels, n * kChannels);
    fused->extract(codes, kVoltsPerCode, frame_centre_sample((4 + f % kFrames) * n, n), fused_table);
    benchmark::DoNotOptimize(fused_table.value.data());
    benchmark::DoNotOptimize(fused_table.table.snr.data());
  }

  static constexpr double kVoltsPerCode = 1.0 / 32768.0;
  int dimensions;
  FrameGeometry g;
  FrameSpectrum& fs;
  HarmonicExtractor extractor;
  HarmonicTable table;
  FeedthroughFilter feedthrough;
  std::vector<std::int16_t> fg;
  std::unique_ptr<InterpolatedBackground> background;
  Eigen::MatrixXd noise;
  std::unique_ptr<FusedHarmonicExtractor> fused;
  FusedTable fused_table;
};

void counters(benchmark::State& state, const Extraction& e, double frames_per_iteration) {
  state.counters["x_real_time"] = benchmark::Counter(frames_per_iteration * e.g.frame_duration_s(),
                                                     benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples_per_frame"] = static_cast<double>(e.g.samples_per_frame);
  state.counters["table_rows"] = static_cast<double>(e.extractor.bins().size());
}

// One core.
void BM_HarmonicExtraction(benchmark::State& state) {
  Extraction e(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)), state.range(2) != 0, 0);
  std::size_t f = 0;
  for (auto _ : state) e.frame(f++);
  counters(state, e, 1.0);
}

// Two cores: frames in pairs, each analyser with its own buffers.
void BM_HarmonicExtractionTwoCores(benchmark::State& state) {
  const int dims = static_cast<int>(state.range(0));
  const auto periods = static_cast<std::size_t>(state.range(1));
  const bool fp32 = state.range(2) != 0;
  Extraction a(dims, periods, fp32, 0);
  Extraction b(dims, periods, fp32, 1);
  TwoCoreRunner runner;
  std::size_t f = 0;
  for (auto _ : state) {
    runner.run([&] { a.frame(f); }, [&] { b.frame(f + 1); });
    f += 2;
  }
  counters(state, a, 2.0);
}

// The fused path, one core.
void BM_FusedExtraction(benchmark::State& state) {
  Extraction e(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)), state.range(2) != 0, 0);
  std::size_t f = 0;
  for (auto _ : state) e.fused_frame(f++);
  counters(state, e, 1.0);
}

// The fused path without the table's phases (amplitude, noise, SNR and complex values only), one core.
void BM_FusedExtractionNoPhases(benchmark::State& state) {
  Extraction e(static_cast<int>(state.range(0)), static_cast<std::size_t>(state.range(1)), state.range(2) != 0, 0);
  e.fused_frame(0);
  e.fused->set_phases(false);
  std::size_t f = 0;
  for (auto _ : state) e.fused_frame(f++);
  counters(state, e, 1.0);
}

// The fused path, two cores.
void BM_FusedExtractionTwoCores(benchmark::State& state) {
  const int dims = static_cast<int>(state.range(0));
  const auto periods = static_cast<std::size_t>(state.range(1));
  const bool fp32 = state.range(2) != 0;
  Extraction a(dims, periods, fp32, 0);
  Extraction b(dims, periods, fp32, 1);
  a.fused_frame(0);
  b.fused_frame(1);
  TwoCoreRunner runner;
  std::size_t f = 0;
  for (auto _ : state) {
    runner.run([&] { a.fused_frame(f); }, [&] { b.fused_frame(f + 1); });
    f += 2;
  }
  counters(state, a, 2.0);
}

void fused_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dims", "periods", "fp32"});
  for (int fp32 : {0, 1}) {
    b->Args({2, 1, fp32});
    b->Args({3, 1, fp32});
  }
}

void frame_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"dims", "periods", "fp32"});
  for (int fp32 : {0, 1}) {
    for (int periods : {1, 10, 100}) b->Args({1, periods, fp32});
    b->Args({2, 1, fp32});
    b->Args({3, 1, fp32});
  }
}

// The transform alone (int16 conversion, FFT, scaling), for comparison.
void spectrum_only(benchmark::State& state, FftAlgorithm algorithm) {
  const int dims = static_cast<int>(state.range(0));
  const auto periods = static_cast<std::size_t>(state.range(1));
  const FrameGeometry g = geometry(dims, periods);
  const std::size_t n = g.samples_per_frame;
  FrameSpectrum& fs = analyser(dims, periods, state.range(2) != 0, 0, algorithm);
  const std::vector<std::int16_t> fg = make_frames(g, kFrames, 2);
  std::size_t f = 0;
  for (auto _ : state) {
    const std::span<const std::int16_t> frame(fg.data() + f * n * kChannels, n * kChannels);
    benchmark::DoNotOptimize(fs.transform(frame, 1.0 / 32768.0).data());
    f = (f + 1) % kFrames;
  }
  state.counters["x_real_time"] = benchmark::Counter(g.frame_duration_s(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["split_prime"] = static_cast<double>(fs.split_prime());
}

void BM_SpectrumOnly(benchmark::State& state) { spectrum_only(state, FftAlgorithm::automatic); }
void BM_SpectrumWholeFrameFftw(benchmark::State& state) { spectrum_only(state, FftAlgorithm::fftw); }

// 1D windows of `periods` periods: period average, then the one-period extraction. One core.
void BM_HarmonicExtractionPeriodAveraged(benchmark::State& state) {
  const auto periods = static_cast<std::size_t>(state.range(0));
  const FrameGeometry window = geometry(1, periods);
  const FrameGeometry one = geometry(1, 1);
  FrameSpectrum fs(one, FftPlanning::measure);
  HarmonicExtractor extractor(one, drive_harmonics(one, 50));
  HarmonicTable table = extractor.make_table();
  FeedthroughOptions options;
  options.min_frequency_hz = 80e3;
  const FeedthroughFilter feedthrough(one, options);
  const std::size_t n = window.samples_per_frame;
  std::vector<double> average(one.samples_per_frame * kChannels);
  constexpr double kVoltsPerCode = 1.0 / 32768.0;
  BackgroundModel before(fs.bins(), kChannels);
  BackgroundModel after(fs.bins(), kChannels);
  const std::vector<std::int16_t> bg = make_frames(window, 8, 1);
  for (std::size_t f = 0; f < 8; ++f) {
    average_periods_interleaved(std::span(bg).subspan(f * n * kChannels, n * kChannels), kChannels, 102, kVoltsPerCode, average);
    (f < 4 ? before : after).add(fs.transform(average), frame_centre_sample((f < 4 ? f : f + 100) * n, n));
  }
  const InterpolatedBackground background(before, after);
  const Eigen::MatrixXd noise = background.noise();
  const std::vector<std::int16_t> fg = make_frames(window, kFrames, 2);
  std::size_t f = 0;
  for (auto _ : state) {
    average_periods_interleaved(std::span(fg).subspan((f % kFrames) * n * kChannels, n * kChannels), kChannels, 102, kVoltsPerCode,
                                average);
    Eigen::MatrixXcd& spectrum = fs.transform(average);
    background.subtract(frame_centre_sample((4 + f % kFrames) * n, n), spectrum);
    extractor.extract(spectrum, noise, table);
    feedthrough.apply(spectrum);
    benchmark::DoNotOptimize(spectrum.data());
    benchmark::DoNotOptimize(table.snr.data());
    ++f;
  }
  state.counters["x_real_time"] = benchmark::Counter(window.frame_duration_s(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples_per_frame"] = static_cast<double>(n);
}

BENCHMARK(BM_HarmonicExtraction)->Apply(frame_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HarmonicExtractionPeriodAveraged)->ArgName("periods")->Arg(10)->Arg(25)->Arg(100)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HarmonicExtractionTwoCores)->Apply(frame_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FusedExtraction)->Apply(fused_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FusedExtractionNoPhases)->Apply(fused_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FusedExtractionTwoCores)->Apply(fused_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SpectrumOnly)->Apply(frame_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SpectrumWholeFrameFftw)
    ->ArgNames({"dims", "periods", "fp32"})
    ->Args({2, 1, 0})
    ->Args({2, 1, 1})
    ->Args({3, 1, 0})
    ->Args({3, 1, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
