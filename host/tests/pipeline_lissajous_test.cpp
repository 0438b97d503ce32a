// The stages of the multi-dimensional x-space pipeline on synthetic frames: receive signals of a point
// source from recon's physical forward model (computed here, in the test), with the drive's feedthrough
// and an ADC offset added, quantised like the board's ADC. Checked against the source's position, the
// frame spectrum (recon::FrameSpectrum) and the images of clean frames.
#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/frame_spectrum.hpp"

#include "preclinical_2d_frames.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <vector>

using namespace mpi;
using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

using namespace mpi::host::test;

struct Fixture {
  ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point.toml");
  ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
};

}  // namespace

TEST(PipelineLissajous, FeedthroughRemovalZeroesExactlyTheDriveBinsAndDc) {
  // Drive bins of the 1632-sample frame: 16 cycles of x, 17 of y (2.5 MHz / 102 and / 96).
  RemoveFeedthrough remove(kFrame, {16, 17, 0});
  std::vector<double> x(2 * kFrame);
  for (std::size_t i = 0; i < kFrame; ++i) {
    const double p = 2.0 * std::numbers::pi * static_cast<double>(i) / kFrame;
    x[i] = 0.3 + 2.0 * std::cos(16 * p + 0.4) + 0.01 * std::cos(48 * p) + 0.002 * std::sin(3 * p) + 1e-3 * std::cos(400.0 * p * p);
    x[kFrame + i] = -0.1 + 5.0 * std::sin(17 * p) + 0.02 * std::cos(51 * p + 1.0);
  }
  recon::FrameGeometry geometry{kFrame, 2, kRate, {kRate / 102.0, kRate / 96.0}};
  recon::FrameSpectrum spectrum(geometry);
  Eigen::MatrixXd samples(kFrame, 2);
  for (std::size_t i = 0; i < kFrame; ++i) samples(static_cast<Eigen::Index>(i), 0) = x[i], samples(static_cast<Eigen::Index>(i), 1) = x[kFrame + i];
  const Eigen::MatrixXcd before = spectrum.transform_channels(samples);
  remove(x);
  for (std::size_t i = 0; i < kFrame; ++i) samples(static_cast<Eigen::Index>(i), 0) = x[i], samples(static_cast<Eigen::Index>(i), 1) = x[kFrame + i];
  const Eigen::MatrixXcd after = spectrum.transform_channels(samples);
  for (Eigen::Index c = 0; c < 2; ++c) {
    for (Eigen::Index k = 0; k < after.rows(); ++k) {
      if (k == 0 || k == 16 || k == 17) {
        EXPECT_LT(std::abs(after(k, c)), 1e-12) << "bin " << k << " channel " << c;
      } else {
        EXPECT_LT(std::abs(after(k, c) - before(k, c)), 1e-12) << "bin " << k << " channel " << c;
      }
    }
  }
  EXPECT_THROW(RemoveFeedthrough(kFrame, {900}), std::invalid_argument);
}

TEST(PipelineLissajous, PointSourceIsImagedWhereItIsAndFeedthroughDoesNotChangeTheImage) {
  Fixture fx;
  const AcquisitionSetup setup = setup_2d();
  LissajousPipeline pipeline(fx.plan, fx.scanner, setup);
  const recon::ImageGrid& grid = pipeline.grid();
  ASSERT_EQ(grid.counts, (std::array<int, 3>{25, 25, 1}));  // 24 mm on 1 mm pixels (the shipped plan)

  Synthetic clean;
  clean.source_m = Eigen::Vector3d(3e-3, -5e-3, 0.0);
  const recon::TracerModel tracer = tracer_model(fx.plan.tracer);
  const std::vector<double> u = clean.volts(tracer, kFirstFrameSample);
  double peak_v = 0.0;
  for (const double v : u) peak_v = std::max(peak_v, std::abs(v));
  const double gain = 0.25 / (peak_v * kLna);  // particle signal at a quarter of the ADC range

  // With the gain folded into the coil sensitivity the pipeline sees volts at the coil as the board would.
  ScannerDescription scanner = fx.scanner;
  for (ReceiveChannelInfo& r : scanner.receivers) r.lna_gain = kLna * gain;
  LissajousPipeline scaled(fx.plan, scanner, setup);
  std::vector<double> image(scaled.image_size()), dirty_image(scaled.image_size());
  scaled.process(to_frame(u, kLna * gain), image);

  // The peak at the pixel containing the source (3, -5) mm, within one pixel.
  const auto peak = static_cast<std::size_t>(std::max_element(image.begin(), image.end()) - image.begin());
  const Eigen::Vector3d at = grid.centre_m(peak);
  EXPECT_LE(std::abs(at.x() - 3e-3), 1e-3 + 1e-12) << at.transpose();
  EXPECT_LE(std::abs(at.y() + 5e-3), 1e-3 + 1e-12) << at.transpose();
  // Far from the source (beyond 6 mm) the image is small against the peak.
  for (std::size_t p = 0; p < image.size(); ++p) {
    if ((grid.centre_m(p) - clean.source_m).norm() > 6e-3) {
      EXPECT_LT(std::abs(image[p]), 0.2 * image[peak]) << grid.centre_m(p).transpose();
    }
  }

  // Feedthrough of the drive (10x the particle signal) and an ADC offset: removed, the image stays.
  Synthetic dirty = clean;
  dirty.feedthrough_v_s_per_t = 2.5 * peak_v / (kAmplitude * 2.0 * std::numbers::pi * kRate / 96.0);
  dirty.offset_v = 0.3 * peak_v;
  scaled.process(to_frame(dirty.volts(tracer, kFirstFrameSample), kLna * gain), dirty_image);
  double worst = 0.0;
  for (std::size_t p = 0; p < image.size(); ++p) worst = std::max(worst, std::abs(dirty_image[p] - image[p]));
  EXPECT_LT(worst, 2e-3 * image[peak]) << "feedthrough left in the image";
}

TEST(PipelineLissajous, StageErrorsNameTheStage) {
  Fixture fx;
  LissajousPipeline pipeline(fx.plan, fx.scanner, setup_2d());
  std::vector<double> image(pipeline.image_size());
  Frame f;
  f.channels = 2;  // fewer than the three receive channels
  f.samples.assign(kFrame * 2, 0);
  try {
    pipeline.process(f, image);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("stage to-volts: frame has 2 channels"), std::string::npos) << e.what();
  }
  AcquisitionSetup no_drive = setup_2d();
  no_drive.drives.clear();
  EXPECT_THROW(LissajousPipeline(fx.plan, fx.scanner, no_drive), std::invalid_argument);
}

TEST(PipelineLissajous, RunnerReconstructsEveryFrameAndAveragesThem) {
  Fixture fx;
  ReconstructionRunner runner(fx.plan, fx.scanner, WhenFull::block, 4);
  runner.start(setup_2d());
  LissajousPipeline reference(fx.plan, fx.scanner, setup_2d());
  std::vector<double> a(reference.image_size()), b(reference.image_size());
  Synthetic s;
  s.source_m = Eigen::Vector3d(-4e-3, 2e-3, 0.0);
  const std::vector<double> u = s.volts(tracer_model(fx.plan.tracer), kFirstFrameSample);
  Frame f1 = to_frame(u, 0.5 / *std::max_element(u.begin(), u.end()));
  Frame f2 = f1;
  for (std::size_t i = 0; i < f2.samples.size(); i += 6) f2.samples[i] = static_cast<std::int16_t>(f2.samples[i] / 2);
  reference.process(f1, a);
  reference.process(f2, b);
  const auto now = std::chrono::steady_clock::now();
  for (Frame* f : {&f1, &f2, &f1}) {
    Frame copy = *f;
    copy.arrival = now;
    ASSERT_TRUE(runner.push(std::move(copy)));
  }
  const ReconstructionResult r = runner.finish();
  EXPECT_EQ(r.frames, 3U);
  EXPECT_EQ(r.dropped, 0U);
  EXPECT_EQ(r.latency.count, 3U);
  ASSERT_TRUE(r.mean && r.last);
  for (std::size_t p = 0; p < a.size(); ++p) {
    EXPECT_NEAR(r.mean->values[p], (2.0 * a[p] + b[p]) / 3.0, 1e-12 * std::abs(a[p]) + 1e-300);
    EXPECT_EQ(r.last->values[p], a[p]);
  }
}

TEST(PipelineLissajous, LatencyStatisticsUseNearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i * 1e-3);  // 1 .. 100 ms
  const LatencyStats s = latency_stats(v);
  EXPECT_EQ(s.count, 100U);
  EXPECT_DOUBLE_EQ(s.median_s, 50.5e-3);
  EXPECT_DOUBLE_EQ(s.p95_s, 95e-3);
  EXPECT_DOUBLE_EQ(s.max_s, 100e-3);
  EXPECT_EQ(latency_stats({}).count, 0U);
}
