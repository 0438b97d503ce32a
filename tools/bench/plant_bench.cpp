// plant_bench: the hardware-in-the-loop plant's speed relative to real time, per scanner preset and
// sequence, with a 1000-source phantom (a 10 x 10 x 10 grid of points filling the drive-field FOV).
// No assertions: it prints "preset sequence: X.XX x real time" (sample time generated per CPU second on
// one core, after the first pattern is built) and the pattern build time separately.
//
//   plant_bench [--seconds S] [--tracer FILE]
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/plant.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>

namespace {

namespace rm = mpi::drivers::regmap;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

mpi::config::PhantomDescription grid_phantom(const mpi::config::ScannerDescription& s, const mpi::config::SequenceDescription& q) {
  // Points over the FOV 2 A / |G_ii| per axis (a 4 mm cube where an axis is not driven or has no gradient).
  mpi::config::PhantomDescription p;
  p.name = "grid-1000";
  double half[3] = {2e-3, 2e-3, 2e-3};
  for (std::size_t d = 0; d < s.drive.size() && d < q.drive_amplitude_t.size(); ++d) {
    for (int i = 0; i < 3; ++i) {
      const double g = std::abs(s.selection.gradient_t_per_m[i][i]);
      if (std::abs(s.drive[d].axis[i]) > 0.5 && g > 0.0 && q.drive_amplitude_t[d] > 0.0) half[i] = q.drive_amplitude_t[d] / g;
    }
  }
  for (int k = 0; k < 10; ++k) {
    for (int j = 0; j < 10; ++j) {
      for (int i = 0; i < 10; ++i) {
        const mpi::config::Vec3 r{half[0] * (-0.9 + 0.2 * i), half[1] * (-0.9 + 0.2 * j), half[2] * (-0.9 + 0.2 * k)};
        p.points.push_back({r, 1e-9});
      }
    }
  }
  return p;
}

void bench(const std::string& preset, const std::string& sequence, const mpi::config::TracerDescription& tracer, double seconds) {
  mpi::hil::PlantConfig c;
  c.scanner = mpi::config::load_scanner_description(std::string(MPI_SOURCE_DIR) + "/configs/scanners/" + preset + ".toml");
  c.scanner.board.ring_frames_log2 = 16;
  const mpi::config::SequenceDescription* q = c.scanner.find_sequence(sequence);
  if (q == nullptr) {
    std::printf("%s %s: no such sequence\n", preset.c_str(), sequence.c_str());
    return;
  }
  c.tracer = tracer;
  c.phantom = grid_phantom(c.scanner, *q);
  const std::string name = "/mpi_plant_bench_" + std::to_string(::getpid());
  auto region = mpi::drivers::SharedMemoryRegion::create(name, mpi::hil::region_geometry(c.scanner));
  const double setup_started = cpu_seconds();
  mpi::hil::Plant plant(c, region.base());
  const double setup = cpu_seconds() - setup_started;
  const mpi::drivers::RegisterBlock regs(region.base());
  const double dac = c.scanner.board.dac_clock_hz;
  for (unsigned d = 0; d < c.scanner.drive.size(); ++d) {
    const double amplitude = d < q->drive_amplitude_t.size() ? q->drive_amplitude_t[d] : 0.0;
    if (amplitude <= 0.0) continue;
    const double f = c.scanner.drive[d].frequency_hz();
    regs.write64(rm::dds_register(d, 0, rm::kDdsPhaseIncrement), static_cast<std::uint64_t>(std::llround(f / dac * std::ldexp(1.0, 48))));
    regs.write32(rm::dds_register(d, 0, rm::kDdsAmplitude),
                 static_cast<std::uint32_t>(std::lround(amplitude / c.scanner.drive[d].tesla_per_full_scale() * 65535.0)));
    regs.write32(rm::drive_register(d, rm::kDriveRampSamples), 1);
    regs.write32(rm::drive_register(d, rm::kDriveRampCommand), static_cast<std::uint32_t>(rm::RampCommand::up));
    regs.write32(rm::drive_register(d, rm::kDriveAmplifierControl), rm::kAmplifierEnable);
    regs.write32(rm::drive_register(d, rm::kDriveControl), rm::kDriveEnable);
  }
  // Offset channels hold the sequence's first step (a static focus/bias field).
  for (unsigned o = 0; o < c.scanner.offset.size(); ++o) {
    if (o < q->offset_steps_t.size() && !q->offset_steps_t[o].empty()) {
      const double code = q->offset_steps_t[o][0] / c.scanner.offset[o].tesla_per_full_scale * 32767.0;
      regs.write32(rm::offset_register(o, rm::kOffsetStaticValue), static_cast<std::uint32_t>(static_cast<std::int32_t>(std::lround(code))));
    }
  }
  regs.write32(rm::kAcqControl, rm::kAcqRun);
  const double fs = plant.sample_rate_hz();
  // Settle: until the first pattern is built (or 50 ms of sample time on the direct path).
  const double settle_started = cpu_seconds();
  while (plant.statistics().pattern_builds == 0 && plant.sample_index() < static_cast<std::uint64_t>(0.05 * fs)) plant.step(1024);
  const double settle = cpu_seconds() - settle_started;
  const mpi::hil::PlantStatistics before = plant.statistics();
  const auto total = static_cast<std::uint64_t>(seconds * fs);
  const double started = cpu_seconds();
  for (std::uint64_t done = 0; done < total;) done += plant.step(static_cast<std::uint32_t>(std::min<std::uint64_t>(4096, total - done)));
  const double elapsed = cpu_seconds() - started;
  const mpi::hil::PlantStatistics after = plant.statistics();
  std::printf("%s %s: %.2f x real time  (fs %.4g MS/s, %zu sources, pattern %llu samples, first build %.3f s, "
              "%llu rebuilds %.3f s within the run, %.0f%% cached; model set-up %.2f s, settling %.2f s)\n",
              preset.c_str(), sequence.c_str(), seconds / elapsed, fs / 1e6, plant.model().sources().size(),
              static_cast<unsigned long long>(after.pattern_samples), before.build_seconds,
              static_cast<unsigned long long>(after.pattern_builds - before.pattern_builds), after.build_seconds - before.build_seconds,
              100.0 * static_cast<double>(after.cached_samples - before.cached_samples) / static_cast<double>(total), setup, settle);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::string tracer_file = std::string(MPI_SOURCE_DIR) + "/configs/tracers/single-core.toml";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--seconds") seconds = std::stod(argv[i + 1]);
    else if (key == "--tracer") tracer_file = argv[i + 1];
  }
  try {
    const mpi::config::TracerDescription tracer = mpi::config::load_tracer_description(tracer_file);
    const char* runs[][2] = {{"preclinical-ffp", "1d"},          {"preclinical-ffp", "lissajous_2d"}, {"preclinical-ffp", "lissajous_3d"},
                             {"xspace-ffp", "xspace_patches"},   {"relaxometer", "bias_sweep"}};
    for (const auto& run : runs) bench(run[0], run[1], tracer, seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plant_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
