#include "mpi/recon/two_core_runner.hpp"

#include "mpi/recon/background.hpp"
#include "mpi/recon/feedthrough.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/harmonic_table.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mpi::recon {
namespace {

TEST(TwoCoreRunner, RunsBothOnDifferentThreadsAndWaitsForBoth) {
  TwoCoreRunner runner;
  for (int round = 0; round < 200; ++round) {
    std::thread::id here_id;
    std::thread::id there_id;
    long here_sum = 0;
    long there_sum = 0;
    runner.run(
        [&] {
          here_id = std::this_thread::get_id();
          for (int i = 0; i <= round; ++i) here_sum += i;
        },
        [&] {
          there_id = std::this_thread::get_id();
          for (int i = 0; i <= 2 * round; ++i) there_sum += i;
        });
    ASSERT_EQ(here_id, std::this_thread::get_id());
    ASSERT_NE(there_id, here_id);
    ASSERT_EQ(here_sum, round * (round + 1) / 2);
    ASSERT_EQ(there_sum, 2L * round * (2 * round + 1) / 2);
  }
}

TEST(TwoCoreRunner, RethrowsTheWorkersExceptionAndKeepsWorking) {
  TwoCoreRunner runner;
  int here_runs = 0;
  EXPECT_THROW(runner.run([&] { ++here_runs; }, [] { throw std::invalid_argument("bad frame"); }),
               std::invalid_argument);
  EXPECT_EQ(here_runs, 1);
  EXPECT_THROW(runner.run([] { throw std::runtime_error("here"); }, [] {}), std::runtime_error);
  int there_runs = 0;
  runner.run([] {}, [&] { ++there_runs; });
  EXPECT_EQ(there_runs, 1);
}

// Harmonic extraction of frame pairs on two cores gives bit for bit the tables of one core.
TEST(TwoCoreRunner, FramePairsOnTwoCoresMatchOneCoreExactly) {
  const std::uint32_t dividers[] = {102, 96};
  const FrameGeometry g = FrameGeometry::lissajous(dividers, 2.5e6, 2.5e6, 1632, 3);
  const std::size_t n = g.samples_per_frame;
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0.0, 300.0);
  const std::size_t frames = 6;
  std::vector<std::int16_t> codes(frames * n * 3);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const double j = static_cast<double>((i / 3) % n);
    codes[i] = static_cast<std::int16_t>(std::lround(5000.0 * std::sin(0.1 * j) + noise(rng)));
  }
  const HarmonicExtractor extractor(g, mixing_frequencies(g, 8));
  FeedthroughOptions options;
  options.min_frequency_hz = 80e3;
  const FeedthroughFilter feedthrough(g, options);
  auto frame = [&](std::size_t f) { return std::span<const std::int16_t>(codes.data() + f * n * 3, n * 3); };
  auto process = [&](FrameSpectrum& fs, std::size_t f, HarmonicTable& table, Eigen::MatrixXcd& spectrum) {
    Eigen::MatrixXcd& s = fs.transform(frame(f), 1.0 / 32768.0);
    extractor.extract(s, table);
    feedthrough.apply(s);
    spectrum = s;
  };
  for (FftPrecision precision : {FftPrecision::double_precision, FftPrecision::single_precision}) {
    FrameSpectrum one(g, FftPlanning::estimate, precision);
    FrameSpectrum a(g, FftPlanning::estimate, precision);
    FrameSpectrum b(g, FftPlanning::estimate, precision);
    std::vector<HarmonicTable> serial(frames, extractor.make_table());
    std::vector<HarmonicTable> paired(frames, extractor.make_table());
    std::vector<Eigen::MatrixXcd> serial_s(frames);
    std::vector<Eigen::MatrixXcd> paired_s(frames);
    for (std::size_t f = 0; f < frames; ++f) process(one, f, serial[f], serial_s[f]);
    TwoCoreRunner runner;
    for (std::size_t f = 0; f < frames; f += 2) {
      runner.run([&] { process(a, f, paired[f], paired_s[f]); },
                 [&] { process(b, f + 1, paired[f + 1], paired_s[f + 1]); });
    }
    for (std::size_t f = 0; f < frames; ++f) {
      EXPECT_EQ(paired_s[f], serial_s[f]) << "frame " << f;
      EXPECT_EQ(paired[f].amplitude, serial[f].amplitude) << "frame " << f;
      EXPECT_EQ(paired[f].phase_rad, serial[f].phase_rad) << "frame " << f;
      EXPECT_EQ(paired[f].snr, serial[f].snr) << "frame " << f;
    }
    // Different frames really give different tables (the comparison can fail).
    EXPECT_NE(serial[0].phase_rad, serial[1].phase_rad);
  }
}

}  // namespace
}  // namespace mpi::recon
