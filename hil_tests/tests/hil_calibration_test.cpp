// A system matrix from a calibration scan with the plant's robot, end to end, and a phantom reconstructed
// with it. The test is the host, a raw link client: it configures the preclinical scanner's 2D Lissajous
// (configs/scanners/preclinical-ffp.toml, sequence lissajous_2d: drives x and y at 2.5 MHz / 102 and / 96,
// 12 mT), moves the plant's robot (RobotTarget / RobotPosition / kRobotMoving in the register map's
// simulation port, written through the plant's shared memory) over a 13 x 13 grid of the drive FOV, starts
// a short acquisition at every position, averages the frames, takes their spectrum and builds the matrix
// (recon::CalibrationSystemMatrixBuilder). The background comes from a scenario with an empty bore (what
// the robot's park position gives too: `mpi calibrate` parks it, hil_calibrate_command_test). A phantom of
// four cubes of different concentrations is then scanned the same way and reconstructed (rows selected by SNR,
// TikhonovOperator and Kaczmarz); the cubes must be found at their positions, separated and ordered by
// concentration. The calibration matrix is compared with the model-based one (recon::model_system_matrix)
// row by row. The calibration and the phantom scan are then written as MDF v2 files (a frequency-domain
// system matrix and a time-domain measurement, mpi/host/calibration_mdf.hpp), checked by tools/mdf/check_mdf.py and
// reconstructed by `mpi reconstruct`, which must give the in-memory images.
#include "mpi/config/tracer_description.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/hil/scanner_model.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/row_selection.hpp"
#include "mpi/recon/sm_solvers.hpp"
#include "mpi/recon/system_matrix.hpp"

#include "mpi/host/calibration_mdf.hpp"
#include "mpi/host/image_output.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;
namespace v1 = link::v1;
namespace regmap = drivers::regmap;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";
const fs::path kTracer = kSource / "configs/tracers/single-core-30nm.toml";  // ideal, no relaxation

// preclinical-ffp.toml: 2.5 MS/s; drives x, y from a 2.5 MHz base clock, dividers 102 and 96: one 2D cycle
// is lcm(102, 96) = 1632 samples; gradient (-1, -1, 2) T/m, so 12 mT drive a 24 x 24 mm FOV in xy; receive
// rx_x, rx_y: 1 mT/A, LNA 100, ADC 1 V at code 32767.
constexpr double kSampleRate = 2.5e6;
constexpr double kBaseClock = 2.5e6;
constexpr std::array<std::uint32_t, 2> kDividers{102, 96};
constexpr double kDriveT = 0.012;
constexpr std::size_t kCycle = 1632;
constexpr double kVoltsPerCode = 1.0 / 32767.0;
constexpr double kCoilTPerA = 1e-3;
constexpr double kLnaGain = 100.0;

// The calibration grid: 13 x 13 x 1 voxels over the 24 x 24 mm drive FOV (1.85 mm pitch, near the tracer's
// 1.5 mm FWHM at 1 T/m; a coarser grid cannot represent sources between its voxel centres), z = 0.
constexpr std::size_t kGrid = 13;
constexpr double kFovM = 0.024;
constexpr double kRobotIronKg = 50e-9;

// Per acquisition: a ramp of two cycles, two cycles to let the coils' 100 us lag settle (13 time
// constants), then the frames that are used.
constexpr std::uint32_t kRampSamples = 2 * kCycle;
constexpr std::size_t kSettleFrames = 2;
constexpr std::size_t kPositionFrames = 4;
constexpr std::size_t kBackgroundFrames = 16;

// The phantom: the xy layer of configs/phantoms/concentration.toml moved into the plane z = 0: four 2 mm
// cubes 12 mm apart, filled x fastest at 100, 66.7, 44.4, 29.6 mmol/L.
constexpr double kCubeEdgeM = 2e-3;
constexpr double kCubeSpacingM = 12e-3;
constexpr double kFirstConcentration = 100.0;  // mol/m^3
constexpr double kDilution = 1.5;
constexpr double kIronMolarMass = 55.845e-3;  // kg/mol

recon::VoxelGrid calibration_grid() {
  recon::VoxelGrid g;
  g.shape = {kGrid, kGrid, 1};
  g.fov_m = Eigen::Vector3d(kFovM, kFovM, 2e-3);
  return g;
}

fs::path write(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
  return file;
}

// A plan for the plant only: tracer and phantom (absolute paths) and the noise seed.
fs::path plan(const fs::path& dir, const std::string& name, const fs::path& phantom, int seed) {
  return write(dir / (name + "-plan.toml"), "tracer = \"" + kTracer.string() + "\"\n[simulation]\nphantom = \"" + phantom.string() +
                                                "\"\nseed = " + std::to_string(seed) + "\n");
}

fs::path robot_phantom(const fs::path& dir) {
  // configs/phantoms/robot-19x19.toml (a 1 mm cube of 50 ug iron) on the test's grid, with 5 ms moves.
  return write(dir / "robot.toml",
               "[phantom]\nname = \"robot\"\n[phantom.robot]\ncentre = [\"0 mm\", \"0 mm\", \"0 mm\"]\ngrid = [" + std::to_string(kGrid) + ", " + std::to_string(kGrid) + ", 1]\n"
               "fov = [\"24 mm\", \"24 mm\", \"2 mm\"]\nsample_edge = \"1 mm\"\niron = \"50 ug\"\nmove_time = \"5 ms\"\n");
}

fs::path cube_phantom(const fs::path& dir) {
  return write(dir / "cubes.toml",
               "[phantom]\nname = \"concentration, one layer\"\nvoxel_size = \"0.5 mm\"\n[[phantom.cubes]]\n"
               "centre = [\"0 mm\", \"0 mm\", \"0 mm\"]\nedge = \"2 mm\"\ncount = 4\nspacing = [\"12 mm\", \"12 mm\", \"6 mm\"]\n"
               "layout = [2, 2, 1]\nfirst_concentration = \"100 mmol/L\"\ndilution = 1.5\n");
}

fs::path empty_phantom(const fs::path& dir) { return write(dir / "empty.toml", "[phantom]\nname = \"empty\"\n"); }

hil::ScenarioFiles files(const fs::path& dir, const fs::path& plan_file) {
  hil::ScenarioFiles f;
  f.scanner = kScanner;
  f.plan = plan_file;
  f.work_dir = dir;
  f.plant_pace = 0.0;  // as fast as it can: the samples are the same
  return f;
}

// The host's end: Hello and Configure of both drive channels.
struct Host {
  std::unique_ptr<host::LinkClient> client;
  v1::ConfigureReply layout;
  std::array<int, 2> rx{-1, -1};  // ADC channels of rx_x and rx_y

  explicit Host(std::uint16_t port) {
    client = std::make_unique<host::LinkClient>("127.0.0.1", port, std::chrono::milliseconds(5000));
    v1::Envelope hello;
    hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
    hello.mutable_hello()->set_client_name("calibration test");
    const v1::Envelope reply = client->request(hello);
    if (!reply.has_hello_reply()) throw std::runtime_error("no HelloReply");
    const auto& names = reply.hello_reply().board().adc_channel_names();
    for (int i = 0; i < names.size(); ++i) {
      if (names[i] == "rx_x") rx[0] = i;
      if (names[i] == "rx_y") rx[1] = i;
    }
    if (rx[0] < 0 || rx[1] < 0) throw std::runtime_error("the board has no rx_x / rx_y ADC channel");
    v1::Envelope configure;
    v1::Configure* c = configure.mutable_configure();
    for (std::uint32_t d = 0; d < 2; ++d) {
      v1::DriveChannelConfig* drive = c->add_drive();
      drive->set_channel(d);
      drive->set_frequency_hz(kBaseClock / kDividers[d]);
      drive->set_amplitude_t(kDriveT);
      drive->set_phase_rad(0.0);
    }
    c->set_ramp_samples(kRampSamples);
    const v1::Envelope configured = client->request(configure);
    if (!configured.has_configure_reply()) throw std::runtime_error("no ConfigureReply");
    layout = configured.configure_reply();
  }

  // One acquisition: `frames` whole drive cycles at full field, each as samples x {rx_x, rx_y} in volts
  // at the ADC input. A Start refused while the previous scan still winds down is retried (bounded).
  std::vector<Eigen::MatrixXd> acquire(std::size_t frames) {
    v1::Envelope start;
    start.mutable_start()->set_max_samples((kSettleFrames + frames) * kCycle);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      try {
        if (!client->request(start).has_status()) throw std::runtime_error("Start: no Status reply");
        break;
      } catch (const host::LinkError& e) {
        if (std::chrono::steady_clock::now() > deadline) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    std::array<std::vector<std::int16_t>, 2> codes;
    std::uint64_t next = 0;
    v1::StreamEnd end;
    bool ended = false;
    v1::Envelope message;
    while (!ended && client->receive(message)) {
      if (message.has_chunk()) {
        const v1::SampleChunk& chunk = message.chunk();
        if (chunk.first_sample() != next) throw std::runtime_error("a gap in the stream at sample " + std::to_string(next));
        constexpr std::uint32_t bad = v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED | v1::CHUNK_FLAG_FAULT;
        if ((chunk.flags() & bad) != 0) throw std::runtime_error("chunk flags " + std::to_string(chunk.flags()));
        const auto* p = reinterpret_cast<const std::uint8_t*>(chunk.payload().data());
        for (std::uint32_t n = 0; n < chunk.sample_count(); ++n) {
          for (std::size_t r = 0; r < 2; ++r) {
            const std::size_t at = (std::size_t{n} * chunk.channel_count() + static_cast<std::size_t>(rx[r])) * 2;
            codes[r].push_back(static_cast<std::int16_t>(static_cast<std::uint16_t>(p[at] | (p[at + 1] << 8))));
          }
        }
        next = chunk.first_sample() + chunk.sample_count();
      } else if (message.has_stream_end()) {
        end = message.stream_end();
        ended = true;
      }
    }
    if (!ended) throw std::runtime_error("the stream ended without StreamEnd");
    // Frames start at whole cycles (the drive's phase at sample 0 is the configured one).
    const std::size_t first = (end.ramp_up_end_sample() + kCycle - 1) / kCycle + kSettleFrames;
    if ((first + frames) * kCycle > std::min<std::uint64_t>(end.ramp_down_start_sample(), next)) {
      throw std::runtime_error("too few samples at full field: ramp-down at " + std::to_string(end.ramp_down_start_sample()));
    }
    std::vector<Eigen::MatrixXd> out;
    for (std::size_t f = first; f < first + frames; ++f) {
      Eigen::MatrixXd m(kCycle, 2);
      for (std::size_t r = 0; r < 2; ++r) {
        for (std::size_t n = 0; n < kCycle; ++n) m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(r)) = codes[r][f * kCycle + n] * kVoltsPerCode;
      }
      out.push_back(std::move(m));
    }
    return out;
  }
};

Eigen::MatrixXd mean(const std::vector<Eigen::MatrixXd>& frames) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(frames.front().rows(), frames.front().cols());
  for (const auto& f : frames) m += f;
  return m / static_cast<double>(frames.size());
}

recon::FrameSpectrum make_spectrum() {
  return recon::FrameSpectrum(recon::FrameGeometry::lissajous(kDividers, kBaseClock, kSampleRate, kCycle, 2));
}

void move_robot(drivers::SharedMemoryBus& bus, std::uint32_t target) {
  bus.write32(regmap::kRobotTarget, target);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (bus.read32(regmap::kRobotPosition) != target || (bus.read32(regmap::kRobotStatus) & regmap::kRobotMoving) != 0) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the robot did not reach position " + std::to_string(target));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

struct Cube {
  Eigen::Vector2d centre_m;
  double iron_kg;
};

// The phantom computed here: cube i (x fastest) at centre +- spacing / 2, concentration c0 / dilution^i.
std::vector<Cube> phantom_cubes() {
  std::vector<Cube> cubes;
  for (int i = 0; i < 4; ++i) {
    const double c = kFirstConcentration / std::pow(kDilution, i);
    cubes.push_back({Eigen::Vector2d((i % 2 == 0 ? -0.5 : 0.5) * kCubeSpacingM, (i / 2 == 0 ? -0.5 : 0.5) * kCubeSpacingM),
                     c * kCubeEdgeM * kCubeEdgeM * kCubeEdgeM * kIronMolarMass});
  }
  return cubes;
}

double complex_correlation(const Eigen::VectorXcd& a, const Eigen::VectorXcd& b) {
  return std::abs(a.dot(b)) / (a.norm() * b.norm());
}

// Checks an image (kg per voxel, kGrid x kGrid) against the phantom: a local maximum within one pitch of each
// cube, a dip between neighbouring cubes, the iron around each cube ordered by concentration. Prints the
// figures; returns the summed iron per cube (3 x 3 voxels around its peak).
std::vector<double> check_image(const Eigen::VectorXd& c, const recon::VoxelGrid& grid, const char* method) {
  const auto at = [&](long ix, long iy) { return c(static_cast<Eigen::Index>(grid.index(static_cast<std::size_t>(ix), static_cast<std::size_t>(iy), 0))); };
  const long n = static_cast<long>(kGrid);
  const double pitch = grid.pitch_m().x();
  std::printf("%s image (ug per voxel, y rows from -y):\n", method);
  for (long iy = 0; iy < n; ++iy) {
    for (long ix = 0; ix < n; ++ix) std::printf(" %6.2f", at(ix, iy) * 1e9);
    std::printf("\n");
  }
  const std::vector<Cube> cubes = phantom_cubes();
  std::vector<std::array<long, 2>> peaks;
  std::vector<double> sums;
  for (std::size_t k = 0; k < cubes.size(); ++k) {
    // The strongest voxel within one pitch (per axis) of the cube's centre must be a local maximum of the
    // whole image (no larger neighbour).
    std::array<long, 2> best{-1, -1};
    for (long iy = 0; iy < n; ++iy) {
      for (long ix = 0; ix < n; ++ix) {
        const Eigen::Vector3d p = grid.position_m(grid.index(static_cast<std::size_t>(ix), static_cast<std::size_t>(iy), 0));
        if (std::abs(p.x() - cubes[k].centre_m.x()) > pitch || std::abs(p.y() - cubes[k].centre_m.y()) > pitch) continue;
        if (best[0] < 0 || at(ix, iy) > at(best[0], best[1])) best = {ix, iy};
      }
    }
    if (best[0] < 0) {
      ADD_FAILURE() << method << ": no voxel near cube " << k;
      return sums;
    }
    bool local_max = true;
    for (long dy = -1; dy <= 1; ++dy) {
      for (long dx = -1; dx <= 1; ++dx) {
        const long x = best[0] + dx, y = best[1] + dy;
        if ((dx != 0 || dy != 0) && x >= 0 && y >= 0 && x < n && y < n && at(x, y) > at(best[0], best[1])) local_max = false;
      }
    }
    EXPECT_TRUE(local_max) << method << ": cube " << k << " has no peak within one pitch of its centre";
    double sum = 0.0;
    for (long dy = -1; dy <= 1; ++dy) {
      for (long dx = -1; dx <= 1; ++dx) sum += at(std::clamp(best[0] + dx, 0L, n - 1), std::clamp(best[1] + dy, 0L, n - 1));
    }
    peaks.push_back(best);
    sums.push_back(sum);
    std::printf("%s: cube %zu (%.1f mmol/L, %.1f ug) at (%+.1f, %+.1f) mm: peak voxel (%+.2f, %+.2f) mm, %.2f ug around it\n", method, k,
                kFirstConcentration / std::pow(kDilution, static_cast<double>(k)), cubes[k].iron_kg * 1e9, cubes[k].centre_m.x() * 1e3,
                cubes[k].centre_m.y() * 1e3, grid.position_m(grid.index(static_cast<std::size_t>(best[0]), static_cast<std::size_t>(best[1]), 0)).x() * 1e3,
                grid.position_m(grid.index(static_cast<std::size_t>(best[0]), static_cast<std::size_t>(best[1]), 0)).y() * 1e3, sum * 1e9);
  }
  // Separated: between cubes side by side (0-1, 2-3 along x; 0-2, 1-3 along y) the image falls below half
  // the weaker peak somewhere on the straight line between the peaks.
  for (const auto& [a, b] : std::vector<std::pair<int, int>>{{0, 1}, {2, 3}, {0, 2}, {1, 3}}) {
    const auto pa = peaks[static_cast<std::size_t>(a)], pb = peaks[static_cast<std::size_t>(b)];
    const long steps = std::max(std::abs(pb[0] - pa[0]), std::abs(pb[1] - pa[1]));
    double dip = std::numeric_limits<double>::infinity();
    for (long s = 1; s < steps; ++s) {
      dip = std::min(dip, at(pa[0] + (pb[0] - pa[0]) * s / steps, pa[1] + (pb[1] - pa[1]) * s / steps));
    }
    const double weaker = std::min(at(pa[0], pa[1]), at(pb[0], pb[1]));
    EXPECT_LT(dip, 0.5 * weaker) << method << ": cubes " << a << " and " << b << " are not separated";
    std::printf("%s: between cubes %d and %d the image falls to %.0f %% of the weaker peak\n", method, a, b, 100.0 * dip / weaker);
  }
  // Ordered by concentration (each cube has 1.5 times the iron of the next).
  for (std::size_t k = 1; k < sums.size(); ++k) EXPECT_GT(sums[k - 1], sums[k]) << method << ": cubes " << k - 1 << " and " << k;
  return sums;
}

}  // namespace

TEST(HilCalibration, RobotCalibrationMatrixReconstructsTheConcentrationPhantom) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const fs::path dir = hil::test::fresh_work_dir("calibration", "robot");
  const recon::VoxelGrid grid = calibration_grid();
  recon::FrameSpectrum spectrum = make_spectrum();

  // 1. Background: the robot's sample never leaves the grid, so an empty bore gives it.
  std::vector<Eigen::MatrixXcd> background;
  std::vector<Eigen::MatrixXd> background_frames;  // kept for the MDF files
  {
    hil::Scenario scenario(kPrograms, files(dir, plan(dir, "empty", empty_phantom(dir), 11)));
    Host host(scenario.firmware_port());
    background_frames = host.acquire(kBackgroundFrames);
    for (const Eigen::MatrixXd& frame : background_frames) background.push_back(spectrum.transform_channels(frame));
  }
  Eigen::MatrixXcd background_mean = Eigen::MatrixXcd::Zero(background.front().rows(), background.front().cols());
  for (const auto& b : background) background_mean += b;
  background_mean /= static_cast<double>(background.size());
  std::printf("background: %zu frames (%.1f s)\n", background.size(), seconds());

  // 2. Calibration: the robot visits every voxel (serpentine order, one step per move).
  recon::CalibrationSystemMatrixBuilder builder(grid, 2, kCycle, kSampleRate);
  for (const auto& b : background) builder.add_background(b);
  std::vector<recon::DriveComponent> realised;
  std::vector<Eigen::MatrixXcd> position_spectra(grid.voxels());  // grid order, kept for the MDF file
  {
    hil::Scenario scenario(kPrograms, files(dir, plan(dir, "robot", robot_phantom(dir), 12)));
    Host host(scenario.firmware_port());
    ASSERT_EQ(host.layout.cycle_samples(), kCycle);
    ASSERT_EQ(host.layout.drive_size(), 2);
    for (int d = 0; d < 2; ++d) {
      const v1::RealisedDriveChannel& r = host.layout.drive(d);
      realised.push_back({d == 0 ? Eigen::Vector3d::UnitX() : Eigen::Vector3d::UnitY(), r.amplitude_t(), r.frequency_hz(), r.phase_rad()});
      EXPECT_NEAR(r.frequency_hz(), kBaseClock / kDividers[static_cast<std::size_t>(d)], 1e-6);
      EXPECT_NEAR(r.amplitude_t(), kDriveT, 1e-6);
    }
    drivers::SharedMemoryBus bus(scenario.shm_name());
    for (std::size_t iy = 0; iy < kGrid; ++iy) {
      for (std::size_t k = 0; k < kGrid; ++k) {
        const std::size_t ix = iy % 2 == 0 ? k : kGrid - 1 - k;
        const auto voxel = static_cast<std::uint32_t>(grid.index(ix, iy, 0));
        move_robot(bus, voxel);
        position_spectra[voxel] = spectrum.transform_channels(mean(host.acquire(kPositionFrames)));
        builder.add_position(voxel, position_spectra[voxel], kRobotIronKg);
      }
    }
  }
  ASSERT_TRUE(builder.complete());
  const recon::SystemMatrix s = builder.finish();
  std::printf("calibration: %zu positions x %zu frames (%.1f s)\n", grid.voxels(), kPositionFrames, seconds());

  // 3. Rows: above 80 kHz (the drive fundamentals' feedthrough and the receive notch lie below) with an
  // SNR of at least 10 against the background's per-frame noise.
  const Eigen::VectorXd snr = recon::row_snr(s.matrix, builder.row_noise());
  recon::RowSelectionOptions options;
  options.min_snr = 10.0;
  options.min_frequency_hz = 80e3;
  const recon::RowSelection selection = recon::select_rows(s.frequencies_hz, s.channels, snr, options);
  ASSERT_GE(selection.count(), 2 * grid.voxels()) << "too few rows above the noise";
  const recon::SystemMatrix sel = s.subset(selection.rows);
  std::printf("rows: %zu of %zu selected (SNR >= %.0f, f >= %.0f kHz), strongest SNR %.0f\n", selection.count(), s.rows(), options.min_snr,
              options.min_frequency_hz / 1e3, snr.maxCoeff());

  // 4. The model-based matrix on the same grid, tracer, drive (as realised) and receive chain (coil
  // sensitivity and LNA gain; the plant's notch at the drive fundamentals is not in the model, so only
  // rows above 80 kHz, where it passes > 99.9 %, are compared).
  recon::ModelSystemMatrixSpec spec;
  spec.tracer = hil::tracer_model(config::load_tracer_description(kTracer));
  spec.drive = recon::DriveTrajectory(realised);
  spec.gradient_t_per_m = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
  spec.sample_rate_hz = kSampleRate;
  spec.frame_samples = kCycle;
  spec.channels = {{Eigen::Vector3d::UnitX(), kCoilTPerA, kLnaGain}, {Eigen::Vector3d::UnitY(), kCoilTPerA, kLnaGain}};
  spec.grid = grid;
  std::vector<std::size_t> frame_rows;
  for (std::size_t r : selection.rows) frame_rows.push_back(s.frame_rows[r]);
  const recon::SystemMatrix model = recon::model_system_matrix(spec, frame_rows);
  ASSERT_EQ(model.rows(), sel.rows());
  std::vector<std::size_t> by_snr(sel.rows());
  std::iota(by_snr.begin(), by_snr.end(), 0);
  std::sort(by_snr.begin(), by_snr.end(), [&](std::size_t a, std::size_t b) { return selection.snr[a] > selection.snr[b]; });
  std::vector<double> correlation, scale;
  for (std::size_t r : by_snr) {
    const Eigen::VectorXcd a = sel.matrix.row(static_cast<Eigen::Index>(r)).transpose();
    const Eigen::VectorXcd b = model.matrix.row(static_cast<Eigen::Index>(r)).transpose();
    correlation.push_back(complex_correlation(a, b));
    scale.push_back(a.norm() / b.norm());
  }
  std::vector<double> strong;
  for (std::size_t i = 0; i < by_snr.size(); ++i) {
    if (selection.snr[by_snr[i]] >= 100.0) strong.push_back(correlation[i]);
  }
  std::sort(strong.begin(), strong.end());
  if (!strong.empty()) {
    std::printf("calibration vs model: %zu rows with SNR >= 100: median correlation %.4f, minimum %.4f\n", strong.size(), strong[strong.size() / 2],
                strong.front());
  }
  constexpr std::size_t kStrongest = 20;
  const double worst_strong = *std::min_element(correlation.begin(), correlation.begin() + kStrongest);
  std::vector<double> sorted = correlation;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> scales(scale.begin(), scale.begin() + kStrongest);
  std::sort(scales.begin(), scales.end());
  std::printf("calibration vs model: row correlation over %zu rows: median %.4f, 10th percentile %.4f, minimum %.4f; "
              "strongest %zu rows: minimum %.4f, median |S_cal| / |S_model| %.3f\n",
              sorted.size(), sorted[sorted.size() / 2], sorted[sorted.size() / 10], sorted.front(), kStrongest, worst_strong,
              scales[kStrongest / 2]);
  // The same physics on both sides (the plant's forward model, the robot's 1 mm cube against a point):
  // the strongest rows agree in shape and, with the chain's gains, in size.
  EXPECT_GT(worst_strong, 0.9);
  EXPECT_NEAR(scales[kStrongest / 2], 1.0, 0.2);

  // 5. The phantom, scanned the same way.
  Eigen::MatrixXcd phantom_spectrum;
  std::vector<Eigen::MatrixXd> phantom_frames;  // kept for the MDF file
  {
    hil::Scenario scenario(kPrograms, files(dir, plan(dir, "cubes", cube_phantom(dir), 13)));
    Host host(scenario.firmware_port());
    phantom_frames = host.acquire(kPositionFrames);
    phantom_spectrum = spectrum.transform_channels(mean(phantom_frames)) - background_mean;
  }
  Eigen::VectorXcd u;
  sel.gather(phantom_spectrum, u);
  std::printf("phantom scanned (%.1f s)\n", seconds());

  const std::vector<Cube> cubes = phantom_cubes();
  double total_iron = 0.0;
  for (const Cube& c : cubes) total_iron += c.iron_kg;

  recon::TikhonovOptions tikhonov_options;
  tikhonov_options.relative_lambda = 1e-3;
  recon::TikhonovOperator tikhonov(sel.matrix, tikhonov_options);
  Eigen::VectorXf cf;
  tikhonov.apply(u, cf);
  const Eigen::VectorXd c_tikhonov = cf.cast<double>();
  const std::vector<double> sums_t = check_image(c_tikhonov, grid, "Tikhonov");

  recon::KaczmarzOptions kaczmarz_options;
  kaczmarz_options.iterations = 3;  // the real-time setting
  kaczmarz_options.relative_lambda = 1e-3;
  kaczmarz_options.non_negative = true;
  recon::KaczmarzSolver kaczmarz(sel.matrix, kaczmarz_options);
  Eigen::VectorXd c_kaczmarz;
  kaczmarz.solve(u, c_kaczmarz);
  const std::vector<double> sums_k = check_image(c_kaczmarz, grid, "Kaczmarz");

  // The iron around each cube (3 x 3 voxels about its peak, 5.5 mm square: the 2 mm cube, its PSF of
  // ~1.5 mm FWHM at 1 T/m and the voxels sharing it, since the cubes lie between voxel centres) is the
  // cube's, within 30 %. The iron of the whole image is printed, not checked: a uniform offset is nearly
  // invisible above 80 kHz (the drive-field FOV's constant is carried by the low harmonics), so Tikhonov
  // leaves a small negative pedestal and the non-negative Kaczmarz a positive speckle there.
  for (const auto& [name, sums] : {std::pair<const char*, const std::vector<double>*>{"Tikhonov", &sums_t}, {"Kaczmarz", &sums_k}}) {
    ASSERT_EQ(sums->size(), cubes.size()) << name;
    for (std::size_t k = 0; k < cubes.size(); ++k) EXPECT_NEAR((*sums)[k] / cubes[k].iron_kg, 1.0, 0.3) << name << ": cube " << k;
  }
  std::printf("iron in the whole image: Tikhonov %.1f ug, Kaczmarz %.1f ug; phantom %.1f ug\n", c_tikhonov.sum() * 1e9,
              c_kaczmarz.sum() * 1e9, total_iron * 1e9);

  // 6. The same data as MDF v2 files: the calibration as a system matrix (frequency domain, bins >= 80 kHz,
  // the SNR above as calibration/snr, the empty bore's frames, 4 at a time like the positions, as background
  // frames), the phantom scan as a measurement (time domain, the empty bore's 16 frames flagged as
  // background, then the phantom's 4). Both must pass the independent checker, and `mpi reconstruct` of
  // them must give the images above (the image there is relative to the robot's 50 ug sample).
  const double mdf_start = seconds();
  host::CalibrationAcquisition acq;
  acq.scanner_name = "preclinical-ffp";
  acq.facility = "plant";
  acq.operator_name = "hil test";
  acq.study_name = "hil calibration";
  acq.study_description = "robot calibration and concentration phantom on the plant";
  acq.subject = "phantom";
  acq.is_simulation = true;
  acq.tracer_name = "single-core-30nm";
  acq.gradient_t_per_m = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
  acq.base_frequency_hz = kBaseClock;
  acq.dividers = {kDividers[0], kDividers[1]};
  for (const recon::DriveComponent& r : realised) {
    acq.strength_t.push_back(r.amplitude_t);
    acq.phase_rad.push_back(r.phase_rad);
  }
  acq.sample_rate_hz = kSampleRate;
  acq.samples = kCycle;
  acq.channels = 2;
  acq.tracer_volume_l = 1e-6;  // the robot's 1 mm cube
  acq.tracer_iron_mol_per_l = kRobotIronKg / kIronMolarMass / acq.tracer_volume_l;
  std::vector<std::size_t> bins;
  for (std::size_t k = 0; k < kCycle / 2 + 1; ++k) {
    if (spectrum.bin_frequency_hz(k) >= options.min_frequency_hz) bins.push_back(k);
  }
  Eigen::MatrixXd snr_cb(2, static_cast<Eigen::Index>(bins.size()));
  for (std::size_t r = 0; r < s.rows(); ++r) {
    const auto it = std::lower_bound(bins.begin(), bins.end(), s.bins[r]);
    if (it != bins.end() && *it == s.bins[r]) snr_cb(static_cast<Eigen::Index>(s.channels[r]), it - bins.begin()) = snr(static_cast<Eigen::Index>(r));
  }
  std::vector<Eigen::MatrixXcd> background_blocks;  // means of kPositionFrames background frames
  for (std::size_t b = 0; b + kPositionFrames <= background_frames.size(); b += kPositionFrames) {
    const std::vector<Eigen::MatrixXd> block(background_frames.begin() + static_cast<long>(b), background_frames.begin() + static_cast<long>(b + kPositionFrames));
    background_blocks.push_back(spectrum.transform_channels(mean(block)));
  }
  const fs::path sm_file = dir / "calibration.mdf", meas_file = dir / "phantom.mdf";
  host::write_calibration_mdf(sm_file.string(), acq, grid, position_spectra, background_blocks, bins, snr_cb, 1e-3,
                              static_cast<std::int64_t>(kPositionFrames));
  std::vector<Eigen::MatrixXd> measurement_frames = background_frames;
  measurement_frames.insert(measurement_frames.end(), phantom_frames.begin(), phantom_frames.end());
  host::write_measurement_mdf(meas_file.string(), acq, measurement_frames, background_frames.size(), "concentration phantom");
  for (const fs::path& f : {sm_file, meas_file}) {
    const std::string check = "/usr/bin/python3 '" + (kSource / "tools/mdf/check_mdf.py").string() + "' '" + f.string() + "' > '" +
                              (dir / "check.txt").string() + "' 2>&1";
    EXPECT_EQ(std::system(check.c_str()), 0) << f << ":\n" << hil::test::read_file(dir / "check.txt");
  }
  std::printf("MDF: %s (%.1f MB), %s (%.1f MB) pass check_mdf.py\n", sm_file.filename().c_str(), static_cast<double>(fs::file_size(sm_file)) / 1e6,
              meas_file.filename().c_str(), static_cast<double>(fs::file_size(meas_file)) / 1e6);

  // mpi reconstruct with the settings of the in-memory path: rows by calibration SNR >= 10 (the file holds
  // only bins >= 80 kHz), the mean phantom frame minus the mean background frame, relative lambda 1e-3.
  const auto reconstruct = [&](const std::string& name, const std::string& solver_args) -> Eigen::VectorXd {
    const fs::path out = dir / ("mdf-" + name);
    const std::string cmd = std::string(MPI_HOST_EXE) + " reconstruct --measurement '" + meas_file.string() + "' --system-matrix '" + sm_file.string() +
                            "' --out '" + out.string() + "' --min-snr 10 --lambda 1e-3 --average " + solver_args + " > '" + (dir / "rec.txt").string() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd << "\n" << hil::test::read_file(dir / "rec.txt");
    Eigen::VectorXd c = Eigen::VectorXd::Constant(static_cast<Eigen::Index>(grid.voxels()), std::nan(""));
    if (rc != 0) return c;
    const std::string report = hil::test::read_file(out / "report.txt");
    std::printf("%s", report.c_str());
    EXPECT_NE(report.find("rows: " + std::to_string(selection.count()) + " of"), std::string::npos) << name << ": not the in-memory row set";
    for (const host::ImagePixel& p : host::read_image_csv(out / "image.csv")) {
      // Voxel by position (pitch 24 / 13 mm, centres at -12 + pitch / 2 + i pitch).
      const double pitch = kFovM / static_cast<double>(kGrid);
      const auto ix = std::lround((p.centre_m[0] + kFovM / 2) / pitch - 0.5), iy = std::lround((p.centre_m[1] + kFovM / 2) / pitch - 0.5);
      EXPECT_TRUE(ix >= 0 && iy >= 0 && ix < static_cast<long>(kGrid) && iy < static_cast<long>(kGrid)) << name << ": pixel outside the grid";
      if (ix < 0 || iy < 0 || ix >= static_cast<long>(kGrid) || iy >= static_cast<long>(kGrid)) continue;
      c(static_cast<Eigen::Index>(grid.index(static_cast<std::size_t>(ix), static_cast<std::size_t>(iy), 0))) = p.value * kRobotIronKg;
    }
    EXPECT_TRUE(c.allFinite()) << name << ": image.csv lacks voxels";
    return c;
  };
  const auto compare = [&](const char* name, const Eigen::VectorXd& from_mdf, const Eigen::VectorXd& in_memory) {
    const double peak = in_memory.cwiseAbs().maxCoeff();
    const double diff = (from_mdf - in_memory).cwiseAbs().maxCoeff();
    std::printf("%s: MDF path vs in-memory path: largest voxel difference %.3g ug = %.3g of the peak voxel (%.2f ug)\n", name, diff * 1e9,
                diff / peak, peak * 1e9);
    // The same numbers through files: float64 spectra, the background averaged in blocks of 4 before the
    // mean, float Tikhonov output; anything above rounding would be a different row set or scaling.
    EXPECT_LT(diff, 1e-3 * peak) << name;
  };
  const Eigen::VectorXd mdf_tikhonov = reconstruct("tikhonov", "--solver tikhonov");
  if (mdf_tikhonov.allFinite()) {
    check_image(mdf_tikhonov, grid, "MDF Tikhonov");
    compare("Tikhonov", mdf_tikhonov, c_tikhonov);
  }
  const Eigen::VectorXd mdf_kaczmarz = reconstruct("kaczmarz", "--solver kaczmarz-nonneg --iterations 3");
  if (mdf_kaczmarz.allFinite()) {
    check_image(mdf_kaczmarz, grid, "MDF Kaczmarz");
    compare("Kaczmarz", mdf_kaczmarz, c_kaczmarz);
  }
  std::printf("MDF files, checks and reconstructions: %.1f s\n", seconds() - mdf_start);
  std::printf("calibration test: %.1f s in all\n", seconds());
}
