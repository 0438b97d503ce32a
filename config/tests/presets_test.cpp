// The shipped presets (configs/scanners, configs/tracers, configs/phantoms) load, and their derived figures
// are the published ones (REFERENCE.md 2.1-2.3).
#include "mpi/config/phantom_description.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

namespace mpi::config {
namespace {

const std::filesystem::path kConfigs = std::filesystem::path(MPI_SOURCE_DIR) / "configs";

std::vector<std::filesystem::path> toml_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".toml") out.push_back(entry.path());
  }
  return out;
}

TEST(Presets, EveryFileLoads) {
  const auto scanners = toml_files(kConfigs / "scanners");
  const auto tracers = toml_files(kConfigs / "tracers");
  const auto phantoms = toml_files(kConfigs / "phantoms");
  EXPECT_GE(scanners.size(), 4U);
  EXPECT_GE(tracers.size(), 4U);
  EXPECT_GE(phantoms.size(), 8U);
  for (const auto& f : scanners) {
    EXPECT_NO_THROW({
      const ScannerDescription s = load_scanner_description(f);
      for (const auto& q : s.sequences) (void)s.samples_per_cycle(q);
    }) << f;
  }
  for (const auto& f : tracers) EXPECT_NO_THROW(load_tracer_description(f)) << f;
  for (const auto& f : phantoms) EXPECT_NO_THROW(load_phantom_description(f)) << f;
}

// Drive-field FOV along an axis: 2 A / |G_aa|.
double fov(const ScannerDescription& s, const SequenceDescription& q, std::size_t channel) {
  const Vec3& e = s.drive[channel].axis;
  double g = 0.0;
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t c = 0; c < 3; ++c) g += e[r] * s.selection.gradient_t_per_m[r][c] * e[c];
  }
  return 2.0 * q.drive_amplitude_t[channel] / std::fabs(g);
}

TEST(Presets, PreclinicalFfp) {
  const ScannerDescription s = load_scanner_description(kConfigs / "scanners" / "preclinical-ffp.toml");
  ASSERT_EQ(s.drive.size(), 3U);
  EXPECT_NEAR(s.drive[0].frequency_hz(), 24.51e3, 0.01e3);
  EXPECT_NEAR(s.drive[1].frequency_hz(), 26.04e3, 0.01e3);
  EXPECT_NEAR(s.drive[2].frequency_hz(), 25.25e3, 0.01e3);
  EXPECT_DOUBLE_EQ(s.board.sample_rate_hz(), 2.5e6);
  EXPECT_EQ(s.receive.channels.size(), 3U);
  EXPECT_EQ(s.adc_channels(), 6U);
  for (const auto& d : s.drive) EXPECT_NEAR(d.tesla_per_full_scale(), 20e-3, 2e-3);
  EXPECT_EQ(s.selection.topology, Topology::ffp);

  const SequenceDescription* d1 = s.find_sequence("1d");
  const SequenceDescription* d2 = s.find_sequence("lissajous_2d");
  const SequenceDescription* d3 = s.find_sequence("lissajous_3d");
  ASSERT_TRUE(d1 && d2 && d3);
  EXPECT_EQ(s.samples_per_cycle(*d1), 102U);
  EXPECT_EQ(s.samples_per_cycle(*d2), std::lcm(102U, 96U));
  EXPECT_EQ(s.samples_per_cycle(*d2), 1632U);
  EXPECT_EQ(s.samples_per_cycle(*d3), std::lcm(std::lcm(102U, 96U), 99U));
  EXPECT_EQ(s.samples_per_cycle(*d3), 53856U);
  // 53856 samples at 2.5 MS/s: 21.54 ms, 46.4 volumes per second.
  EXPECT_NEAR(static_cast<double>(s.samples_per_frame(*d3)) / s.board.sample_rate_hz(), 21.54e-3, 0.01e-3);
  // FOV at 12 mT and (-1, -1, 2) T/m: 24 x 24 x 12 mm.
  EXPECT_NEAR(fov(s, *d3, 0), 24e-3, 1e-12);
  EXPECT_NEAR(fov(s, *d3, 1), 24e-3, 1e-12);
  EXPECT_NEAR(fov(s, *d3, 2), 12e-3, 1e-12);
}

TEST(Presets, XspaceFfp) {
  const ScannerDescription s = load_scanner_description(kConfigs / "scanners" / "xspace-ffp.toml");
  ASSERT_EQ(s.drive.size(), 1U);
  EXPECT_NEAR(s.drive[0].frequency_hz(), 25e3, 1e-9);
  ASSERT_EQ(s.offset.size(), 1U);
  const SequenceDescription* q = s.find_sequence("xspace_patches");
  ASSERT_NE(q, nullptr);
  const double pfov = fov(s, *q, 0);
  EXPECT_NEAR(pfov, 5e-3, 1e-12);  // 2 * 15 mT / 6 T/m
  ASSERT_EQ(q->offset_steps_t.size(), 1U);
  const auto& steps = q->offset_steps_t[0];
  ASSERT_GE(steps.size(), 2U);
  EXPECT_NEAR(steps.front(), -30e-3, 1e-12);
  EXPECT_NEAR(steps.back(), 30e-3, 1e-12);
  const double g = s.selection.gradient_t_per_m[0][0];
  for (std::size_t k = 1; k < steps.size(); ++k) {
    const double shift = (steps[k] - steps[k - 1]) / g;  // FFP shift of one focus step
    EXPECT_NEAR(shift / pfov, 0.25, 1e-9) << k;           // 1.25 mm of the 5 mm pFOV
  }
  EXPECT_GE(q->step_periods, 1U);
}

TEST(Presets, Relaxometer) {
  const ScannerDescription s = load_scanner_description(kConfigs / "scanners" / "relaxometer.toml");
  EXPECT_EQ(s.selection.topology, Topology::mps);
  for (const auto& row : s.selection.gradient_t_per_m) {
    for (double v : row) EXPECT_EQ(v, 0.0);
  }
  ASSERT_EQ(s.drive.size(), 1U);
  EXPECT_NEAR(s.drive[0].frequency_hz(), 24.5e3, 0.1e3);
  ASSERT_EQ(s.offset.size(), 1U);
  EXPECT_EQ(s.offset[0].name, "bias");
  ASSERT_EQ(s.receive.channels.size(), 1U);
  EXPECT_GE(s.receive.channels[0].fundamental_suppression_db, 60.0);
  const SequenceDescription* q = s.find_sequence("bias_sweep");
  ASSERT_NE(q, nullptr);
  EXPECT_NEAR(q->drive_amplitude_t[0], 15e-3, 1e-15);
  EXPECT_NEAR(q->offset_steps_t[0].front(), -45e-3, 1e-15);
  EXPECT_NEAR(q->offset_steps_t[0].back(), 45e-3, 1e-15);
}

TEST(Presets, Demo1d) {
  const ScannerDescription s = load_scanner_description(kConfigs / "scanners" / "demo-1d.toml");
  EXPECT_DOUBLE_EQ(s.board.sample_rate_hz(), 15.625e6);
  ASSERT_EQ(s.drive.size(), 1U);
  EXPECT_NEAR(s.drive[0].frequency_hz(), 25e3, 1e-9);
  EXPECT_NEAR(s.drive[0].tesla_per_full_scale(), 20e-3, 1e-15);
  EXPECT_NEAR(s.selection.gradient_t_per_m[0][0], 2.0, 1e-15);
  const SequenceDescription* q = s.find_sequence("1d");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(s.samples_per_cycle(*q), 625U);
  EXPECT_EQ(s.samples_per_frame(*q), 15625U);  // 1 ms frames
  EXPECT_EQ(s.adc_channels(), 2U);
}

TEST(Presets, Tracers) {
  const TracerDescription ideal = load_tracer_description(kConfigs / "tracers" / "single-core-30nm.toml");
  ASSERT_EQ(ideal.modes.size(), 1U);
  EXPECT_DOUBLE_EQ(ideal.modes[0].core_diameter_m, 30e-9);
  EXPECT_DOUBLE_EQ(ideal.modes[0].saturation_magnetisation_a_per_m, 8e5);
  EXPECT_NEAR(ideal.temperature_k, 293.15, 1e-9);
  const TracerDescription resovist = load_tracer_description(kConfigs / "tracers" / "resovist-like.toml");
  ASSERT_EQ(resovist.modes.size(), 2U);
  EXPECT_NEAR(resovist.modes[0].iron_fraction, 0.3, 1e-12);
  EXPECT_EQ(resovist.modes[0].relaxation, RelaxationModel::given);
  EXPECT_EQ(resovist.modes[1].relaxation, RelaxationModel::none);
}

TEST(Presets, ConcentrationPhantomFollowsTheDilution) {
  const PhantomDescription p = load_phantom_description(kConfigs / "phantoms" / "concentration.toml");
  ASSERT_EQ(p.cubes.size(), 1U);
  const CubesDescription& c = p.cubes[0];
  EXPECT_EQ(c.count, 8U);
  // Published figures: 100, 66.6, 44.4, 29.6, 19.7, 13.1, 8.77, 5.85 mmol/L.
  const double published[] = {100, 66.6, 44.4, 29.6, 19.7, 13.1, 8.77, 5.85};
  for (std::size_t k = 0; k < 8; ++k) {
    const double mmol_per_l = c.first_iron_kg_per_m3 / std::pow(c.dilution, static_cast<double>(k)) / 55.845e-3;
    EXPECT_NEAR(mmol_per_l, published[k], 0.006 * published[k]) << k;
  }
}

TEST(Presets, VoxelExampleHasTheDeclaredSize) {
  const PhantomDescription p = load_phantom_description(kConfigs / "phantoms" / "voxels-4x4.toml");
  ASSERT_EQ(p.voxels.size(), 1U);
  EXPECT_EQ(std::filesystem::file_size(p.voxels[0].file), 4U * 4U * 1U * 4U);
}

}  // namespace
}  // namespace mpi::config
