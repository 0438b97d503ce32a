// System-matrix reconstruction in the host: plan keys (good and bad), the receive noise per row against its
// formula, and the pipeline on synthetic frames: receive signals of a point source from recon's physical
// forward model (computed here, in the test, sample by sample, independently of the system-matrix code),
// quantised like the board's ADC. The image must peak at the source and hold its iron.
#include "mpi/host/pipeline_system_matrix.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/forward_model.hpp"

#include "preclinical_2d_frames.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <string>
#include <vector>

using namespace mpi;
using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

using namespace mpi::host::test;

// A point source's receive signals (volts at the coil, channel-major) on the test's frame.
std::vector<double> point_volts(const recon::Tracer& tracer, const Eigen::Vector3d& source_m, double iron_kg) {
  Synthetic s;
  s.source_m = source_m;
  s.iron_kg = iron_kg;
  return s.volts(tracer_model(tracer), kFirstFrameSample);
}

fs::path write_plan(const std::string& body) { return mpi::host::test::write_plan("mpi_sm_plan_test", body); }

std::string plan_error(const std::string& body) {
  try {
    load_scan_plan(write_plan(body));
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kSequence = "[sequence]\nname = \"lissajous_2d\"\nframes = 10\n";

}  // namespace

TEST(SystemMatrixPlan, ShippedPlanLoadsWithItsValues) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point-sm.toml");
  EXPECT_EQ(plan.reconstruction.method, ReconstructionMethod::system_matrix);
  EXPECT_EQ(plan.reconstruction.counts, (std::vector<std::uint32_t>{15, 15}));
  EXPECT_DOUBLE_EQ(plan.reconstruction.pixel_m, 1.6e-3);
  EXPECT_DOUBLE_EQ(plan.reconstruction.relative_lambda, 1e-3);
  EXPECT_DOUBLE_EQ(plan.reconstruction.min_snr, 2.0);
  EXPECT_DOUBLE_EQ(plan.reconstruction.snr_iron_kg, 1e-9);
  EXPECT_DOUBLE_EQ(plan.reconstruction.min_frequency_hz, 80e3);
  EXPECT_EQ(plan.reconstruction.max_rows, 0U);
  EXPECT_FALSE(plan.reconstruction.non_negative);
}

TEST(SystemMatrixPlan, DefaultsAndExplicitValues) {
  const ScanPlan defaults = load_scan_plan(write_plan(kSequence + "[reconstruction]\nmethod = \"system-matrix\"\n"));
  EXPECT_EQ(defaults.reconstruction.method, ReconstructionMethod::system_matrix);
  EXPECT_DOUBLE_EQ(defaults.reconstruction.relative_lambda, 1e-3);  // REFERENCE 3.3
  EXPECT_DOUBLE_EQ(defaults.reconstruction.min_frequency_hz, 80e3);
  const ScanPlan given = load_scan_plan(write_plan(kSequence + "[reconstruction]\nmethod = \"system-matrix\"\nrelative_lambda = 0.01\n"
                                                                   "min_snr = 1.5\nsnr_iron_ug = 10\nmin_frequency_khz = 50\nmax_rows = 300\nnon_negative = true\n"));
  EXPECT_DOUBLE_EQ(given.reconstruction.relative_lambda, 0.01);
  EXPECT_DOUBLE_EQ(given.reconstruction.min_snr, 1.5);
  EXPECT_DOUBLE_EQ(given.reconstruction.snr_iron_kg, 10e-9);
  EXPECT_DOUBLE_EQ(given.reconstruction.min_frequency_hz, 50e3);
  EXPECT_EQ(given.reconstruction.max_rows, 300U);
  EXPECT_TRUE(given.reconstruction.non_negative);
  EXPECT_EQ(load_scan_plan(write_plan(kSequence)).reconstruction.method, ReconstructionMethod::xspace);
}

TEST(SystemMatrixPlan, BadValuesNameFileSectionAndKey) {
  const std::string hint = "plan.toml: [reconstruction] ";
  const std::string sm = kSequence + "[reconstruction]\nmethod = \"system-matrix\"\n";
  EXPECT_TRUE(contains(plan_error(sm + "relative_lambda = -1.0\n"), hint + "relative_lambda: = -1 is outside"));
  EXPECT_TRUE(contains(plan_error(sm + "min_snr = 0.0\n"), hint + "min_snr: = 0 is outside"));
  EXPECT_TRUE(contains(plan_error(sm + "snr_iron_ug = 0\n"), hint + "snr_iron_ug: = 0 is outside"));
  EXPECT_TRUE(contains(plan_error(sm + "min_frequency_khz = \"80\"\n"), hint + "min_frequency_khz: must be a number"));
  EXPECT_TRUE(contains(plan_error(sm + "max_rows = 2.5\n"), hint + "max_rows: must be an integer"));
  EXPECT_TRUE(contains(plan_error(sm + "non_negative = \"yes\"\n"), hint + "non_negative: must be true or false"));
  EXPECT_TRUE(contains(plan_error(sm + "weights = \"linear\"\n"), hint + "weights: only for method = \"xspace\""));
  EXPECT_TRUE(contains(plan_error(sm + "min_speed_fraction = 0.2\n"), hint + "min_speed_fraction: only for method = \"xspace\""));
  EXPECT_TRUE(contains(plan_error(sm + "iterations = 3\n"), hint + "iterations: unknown key"));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nrelative_lambda = 0.1\n"), hint + "relative_lambda: only for method = \"system-matrix\""));
  EXPECT_TRUE(contains(plan_error(kSequence + "[reconstruction]\nmethod = \"art\"\n"), hint + "method: \"art\" is not a reconstruction method"));
  const std::string one_d = "[sequence]\ndrive_frequency_hz = 25000.0\ndrive_amplitude_t = 0.012\n[reconstruction]\nmethod = \"system-matrix\"\n";
  EXPECT_TRUE(contains(plan_error(one_d), hint + "method: \"system-matrix\" needs a plan that names a sequence")) << plan_error(one_d);
}

TEST(SystemMatrixPipeline, ReceiveNoisePerRowFollowsTheDensityAndTheAdcStep) {
  ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  const Eigen::VectorXd noise = receive_row_noise(scanner, kFrame, kRate);
  const std::size_t bins = kFrame / 2 + 1;
  ASSERT_EQ(noise.size(), static_cast<Eigen::Index>(3 * bins));
  // 1 nV/sqrtHz x 100 over 1.25 MHz: sigma^2 = (1e-7)^2 1.25e6; the ADC step 1/32767 V adds step^2/12.
  const double step = 1.0 / 32767.0;
  const double sigma = std::sqrt(1e-14 * 1.25e6 + step * step / 12.0);
  EXPECT_NEAR(noise(5), 2.0 * sigma / std::sqrt(1632.0), 1e-15);
  EXPECT_NEAR(noise(static_cast<Eigen::Index>(bins)), sigma / std::sqrt(1632.0), 1e-15);  // DC of channel 1
}

TEST(SystemMatrixPipeline, PointSourceIsImagedInItsPixelWithItsIron) {
  ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point-sm.toml");
  ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  const Eigen::Vector3d source(3e-3, -5e-3, 0.0);
  const double iron = 10e-9;  // 10 ug
  const std::vector<double> u = point_volts(plan.tracer, source, iron);
  double peak_v = 0.0;
  for (const double v : u) peak_v = std::max(peak_v, std::abs(v));
  const double lna = 0.25 / peak_v;  // particle signal at a quarter of the ADC range
  for (ReceiveChannelInfo& r : scanner.receivers) r.lna_gain = lna;

  const auto start = std::chrono::steady_clock::now();
  SystemMatrixPipeline pipeline(plan, scanner, setup_2d());
  std::cout << "build " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s: "
            << pipeline.summary().text();
  const recon::ImageGrid& grid = pipeline.grid();
  ASSERT_EQ(grid.counts, (std::array<int, 3>{15, 15, 1}));
  EXPECT_GT(pipeline.selection().count(), 100U);
  for (const double f : pipeline.system_matrix().frequencies_hz) ASSERT_GE(f, 80e3);

  std::vector<double> image(pipeline.image_size());
  const Frame frame = to_frame(u, lna);
  pipeline.process(frame, image);
  const auto peak = static_cast<std::size_t>(std::max_element(image.begin(), image.end()) - image.begin());
  const Eigen::Vector3d at = grid.centre_m(peak);
  EXPECT_LE(std::abs(at.x() - source.x()), 1.6e-3 + 1e-12) << at.transpose();
  EXPECT_LE(std::abs(at.y() - source.y()), 1.6e-3 + 1e-12) << at.transpose();
  // The iron near the source (within 2 pixels) adds up to the source's 10 ug; far away the image is small.
  double near = 0.0;
  for (std::size_t p = 0; p < image.size(); ++p) {
    const double d = (grid.centre_m(p) - source).norm();
    if (d <= 3.2e-3) {
      near += image[p];
    } else if (d > 6e-3) {
      EXPECT_LT(std::abs(image[p]), 0.2 * image[peak]) << grid.centre_m(p).transpose();
    }
  }
  std::cout << "peak " << image[peak] << " ug at " << at.transpose() * 1e3 << " mm; iron within 3.2 mm: " << near << " ug\n";
  EXPECT_NEAR(near, 10.0, 2.0);

  // Same frame, same image: bit for bit (live and replay run this same code).
  std::vector<double> again(pipeline.image_size());
  pipeline.process(frame, again);
  EXPECT_EQ(again, image);

  Frame short_frame;
  short_frame.channels = 2;
  short_frame.samples.assign(kFrame * 2, 0);
  try {
    pipeline.process(short_frame, image);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "stage to-volts: frame has 2 channels")) << e.what();
  }
}

TEST(SystemMatrixPipeline, ThresholdNoRowReachesIsAPlanError) {
  ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point-sm.toml");
  plan.reconstruction.min_snr = 1e30;
  const ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  try {
    SystemMatrixPipeline pipeline(plan, scanner, setup_2d());
    FAIL() << "no error";
  } catch (const PlanError& e) {
    EXPECT_TRUE(contains(e.what(), "preclinical-2d-point-sm.toml: [reconstruction] min_snr: no frequency row")) << e.what();
  }
}

TEST(SystemMatrixPipeline, RunnerReconstructsEveryFrameWithTheSummary) {
  const ScanPlan plan = load_scan_plan(kSource / "configs/plans/preclinical-2d-point-sm.toml");
  const ScannerDescription scanner = load_scanner_description(kSource / "configs/scanners/preclinical-ffp.toml");
  ReconstructionRunner runner(plan, scanner, WhenFull::block, 4);
  runner.start(setup_2d());
  for (int i = 0; i < 5; ++i) {
    Frame f = to_frame(point_volts(plan.tracer, Eigen::Vector3d(-4e-3, 2e-3, 0.0), 10e-9), kLna);
    f.first_sample = kFirstFrameSample + static_cast<std::uint64_t>(i) * kFrame;
    ASSERT_TRUE(runner.push(std::move(f)));
  }
  const ReconstructionResult r = runner.finish();
  EXPECT_EQ(r.frames, 5U);
  ASSERT_TRUE(r.mean.has_value());
  EXPECT_EQ(r.mean->values.size(), 225U);
  EXPECT_TRUE(contains(r.summary, "system matrix: ")) << r.summary;
}
