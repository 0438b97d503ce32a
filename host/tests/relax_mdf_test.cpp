// relax.mdf (the raw data of `mpi relax`, topology MPS) from the host's writer with synthetic cycles: it
// passes the independent conformance checker (tools/mdf/check_mdf.py, Python + h5py) and `mpi inspect`,
// flags the background cycles and gives the codes back.
#include "mpi/host/relax_acquisition.hpp"
#include "mpi/host/relax_plan.hpp"
#include "mpi/recon/mdf.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `cycles` drive cycles: channel c holds a sine of amplitude 1000 (c + 1) codes at harmonic (c + 1) plus
// `offset`.
host::RelaxRun synthetic_run(const host::RelaxScanner& scanner, std::uint64_t cycles, int offset) {
  host::RelaxRun run;
  run.sample_rate_hz = scanner.sample_rate_hz;
  run.drive_frequency_hz = scanner.drive_frequency_hz;
  run.drive_amplitude_t = 0.015;
  run.cycle_samples = scanner.cycle_samples;
  run.channels = scanner.adc_channels;
  run.cycles = cycles;
  run.start_time = "2026-01-02T03:04:05.678";
  for (std::uint64_t q = 0; q < cycles; ++q) {
    for (std::uint32_t c = 0; c < run.channels; ++c) {
      for (std::uint32_t n = 0; n < run.cycle_samples; ++n) {
        const double phase = 2.0 * std::numbers::pi * (c + 1) * n / run.cycle_samples;
        run.codes.push_back(static_cast<std::int16_t>(std::lround(1000.0 * (c + 1) * std::sin(phase)) + offset + static_cast<int>(q)));
      }
    }
  }
  return run;
}

}  // namespace

TEST(RelaxMdf, WrittenFileIsConformantAndReadsBack) {
  const fs::path dir = fs::temp_directory_path() / ("mpi-relax-mdf-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const host::RelaxPlan plan = host::load_relax_plan(kSource / "configs/plans/relax-single-core-30nm.toml");
  const host::RelaxScanner scanner = host::relax_scanner(plan, kSource / "configs/scanners/relaxometer.toml");
  const host::RelaxProgram program = host::relax_program(plan, scanner);
  ASSERT_GT(scanner.cycle_samples, 0u);
  ASSERT_GT(scanner.adc_channels, 0u);
  const host::RelaxRun sample = synthetic_run(scanner, 6, 0);
  const host::RelaxRun background = synthetic_run(scanner, 3, -7);
  const fs::path file = dir / "relax.mdf";
  host::write_relax_mdf(file, sample, &background, scanner, program, {"sample A", "batch 1", 12.5, "a synthetic sweep"});

  const std::string check = "/usr/bin/python3 '" + (kSource / "tools/mdf/check_mdf.py").string() + "' '" + file.string() + "' > '" +
                            (dir / "check.txt").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read(dir / "check.txt");
  const std::string inspect = std::string(MPI_HOST_EXE) + " inspect '" + file.string() + "' > '" + (dir / "inspect.txt").string() + "' 2>&1";
  EXPECT_EQ(std::system(inspect.c_str()), 0) << read(dir / "inspect.txt");

  // The fields against the inputs: MPS, background cycles first and flagged, drive and receiver layout.
  const recon::mdf::File f = recon::mdf::read_mdf(file.string());
  EXPECT_EQ(f.scanner.topology, "MPS");
  EXPECT_EQ(f.acquisition.num_frames, 9);
  ASSERT_TRUE(f.measurement);
  ASSERT_EQ(f.measurement->is_background_frame.size(), 9u);
  for (std::size_t q = 0; q < 9; ++q) EXPECT_EQ(f.measurement->is_background_frame[q], q < 3) << "frame " << q;
  ASSERT_EQ(f.acquisition.drivefield.strength.values.size(), 1u);
  EXPECT_EQ(f.acquisition.drivefield.divider.values, std::vector<std::int64_t>{static_cast<std::int64_t>(scanner.drive_divider)});
  EXPECT_NEAR(2.0 * f.acquisition.receiver.bandwidth_hz, scanner.sample_rate_hz, 1e-6);
  EXPECT_EQ(f.acquisition.receiver.num_sampling_points, static_cast<std::int64_t>(scanner.cycle_samples));

  // The sample cycles come back code for code, with the drive amplitude in T.
  const host::RelaxRun back = host::read_relax_mdf(file);
  EXPECT_EQ(back.cycles, sample.cycles);
  EXPECT_EQ(back.codes, sample.codes);
  EXPECT_NEAR(back.drive_amplitude_t, 0.015, 1e-12);
  fs::remove_all(dir);
}

TEST(RelaxMdf, UnwritablePathIsAnErrorNamingTheFile) {
  const host::RelaxPlan plan = host::load_relax_plan(kSource / "configs/plans/relax-single-core-30nm.toml");
  const host::RelaxScanner scanner = host::relax_scanner(plan, kSource / "configs/scanners/relaxometer.toml");
  const host::RelaxProgram program = host::relax_program(plan, scanner);
  const fs::path file = fs::temp_directory_path() / "mpi-relax-mdf-no-such-folder" / "relax.mdf";
  try {
    host::write_relax_mdf(file, synthetic_run(scanner, 2, 0), nullptr, scanner, program, {"s", "", 1.0, ""});
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("relax.mdf"), std::string::npos) << e.what();
  }
}
