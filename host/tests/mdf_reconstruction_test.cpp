// MDF files as a source of reconstruction:
// - `mpi reconstruct` of the reference files written by tools/mdf/write_reference_mdf.py (an independent
//   Python/h5py writer of a 2D system matrix and a two-point measurement, with ground_truth.json): both
//   points at their ground-truth voxels and their amount ratio within 10 % of the truth, for the Tikhonov
//   operator and Kaczmarz; bad inputs (missing file, a file that is not MDF, a measurement and system matrix
//   of different acquisitions, a measurement given as system matrix) end with a message naming the file and
//   the field, exit status 2.
// - replay_mdf: frames written into an MDF file (recon's Writer, with the plan, scanner and tracer texts
//   stored as /_mpi/plan, /_mpi/scanner, /_mpi/tracer) give bit-identical images to the same frames pushed
//   straight into a ReconstructionRunner (as a live scan does).
#include "mpi/host/image_output.hpp"
#include "mpi/host/mdf_reconstruction.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/recon/mdf.hpp"

#include "preclinical_2d_frames.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace mpi;
using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

const fs::path kSourceDir = MPI_SOURCE_DIR;

struct Truth {
  std::vector<std::size_t> voxel;  // linear, 0-based
  std::vector<double> amount;
  std::size_t nx = 0;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Truth read_truth(const fs::path& json) {
  const std::string text = slurp(json);
  Truth t;
  const std::regex idx("\"linear_index_0based\":\\s*([0-9]+)");
  const std::regex amt("\"relative_amount\":\\s*([0-9.eE+-]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), idx); it != std::sregex_iterator(); ++it) t.voxel.push_back(std::stoul((*it)[1]));
  for (auto it = std::sregex_iterator(text.begin(), text.end(), amt); it != std::sregex_iterator(); ++it) t.amount.push_back(std::stod((*it)[1]));
  std::smatch m;
  if (std::regex_search(text, m, std::regex("\"grid_size\":\\s*\\[\\s*([0-9]+)"))) t.nx = std::stoul(m[1]);
  return t;
}

// Runs a command line; returns its exit status and (in `output`) its stdout and stderr.
int run(const std::string& command, std::string* output = nullptr) {
  const std::string full = command + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return -1;
  std::string out;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class ReferenceFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("mpi_mdf_reference_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::string out;
    const int rc = run("/usr/bin/python3 " + (kSourceDir / "tools/mdf/write_reference_mdf.py").string() + " " + dir_.string(), &out);
    ASSERT_EQ(rc, 0) << out;
    truth_ = read_truth(dir_ / "ground_truth.json");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static fs::path measurement() { return dir_ / "measurement.mdf"; }
  static fs::path system_matrix() { return dir_ / "systemmatrix.mdf"; }

  // The two largest values at least 3 voxels apart (Chebyshev) must be the truth's voxels, in order, with the
  // ratio of the second to the first within 10 % of the truth's.
  static void expect_two_points(const GridImage& image) {
    ASSERT_EQ(truth_.voxel.size(), 2U);
    ASSERT_EQ(truth_.amount.size(), 2U);
    const auto& v = image.values;
    const int nx = image.grid.counts[0];
    ASSERT_EQ(static_cast<std::size_t>(nx), truth_.nx);
    const auto first = static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
    std::size_t second = first;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const int dx = std::abs(static_cast<int>(i % nx) - static_cast<int>(first % nx));
      const int dy = std::abs(static_cast<int>(i / nx) - static_cast<int>(first / nx));
      if (std::max(dx, dy) >= 3 && (second == first || v[i] > v[second])) second = i;
    }
    EXPECT_EQ(first, truth_.voxel[0]);
    EXPECT_EQ(second, truth_.voxel[1]);
    const double ratio = v[truth_.voxel[1]] / v[truth_.voxel[0]];
    const double want = truth_.amount[1] / truth_.amount[0];
    EXPECT_NEAR(ratio, want, 0.1 * want) << "amount ratio of the two points";
    // The amounts themselves are relative to the calibration's delta sample: the measurement's spectra must be
    // scaled like the file's system matrix (unnormalised DFT) for the first point to read its amount.
    EXPECT_NEAR(v[truth_.voxel[0]], truth_.amount[0], 0.1 * truth_.amount[0]);
  }

  static fs::path dir_;
  static Truth truth_;
};
fs::path ReferenceFiles::dir_;
Truth ReferenceFiles::truth_;

TEST_F(ReferenceFiles, TikhonovFindsBothPointsWithTheirRatio) {
  MdfReconstructionOptions o;
  o.solver = MdfSolver::tikhonov;
  const MdfReconstruction r = reconstruct_mdf(measurement(), system_matrix(), o);
  EXPECT_EQ(r.frames, 6U);
  EXPECT_EQ(r.background_frames, 2U);
  EXPECT_GT(r.selected_rows, 0U);
  EXPECT_LE(r.selected_rows, r.rows);
  EXPECT_EQ(r.mean.values.size(), 225U);
  expect_two_points(r.mean);
}

TEST_F(ReferenceFiles, KaczmarzFindsBothPointsWithTheirRatio) {
  MdfReconstructionOptions o;
  o.solver = MdfSolver::kaczmarz;
  o.average = true;
  const MdfReconstruction r = reconstruct_mdf(measurement(), system_matrix(), o);
  EXPECT_EQ(r.frames, 6U);
  expect_two_points(r.mean);
}

TEST_F(ReferenceFiles, RowCapAndFrameRangeAreHonoured) {
  MdfReconstructionOptions o;
  o.max_rows = 40;
  parse_frame_range("1:3", o);
  const MdfReconstruction r = reconstruct_mdf(measurement(), system_matrix(), o);
  EXPECT_EQ(r.selected_rows, 40U);
  EXPECT_EQ(r.frames, 2U);
  MdfReconstructionOptions bad;
  EXPECT_THROW(parse_frame_range("3:1", bad), MdfInputError);
  EXPECT_THROW(parse_frame_range("x", bad), MdfInputError);
  EXPECT_THROW(parse_mdf_solver("art"), MdfInputError);
}

TEST_F(ReferenceFiles, CommandWritesImagesAndReport) {
  const fs::path out = dir_ / "out_cli";
  std::string text;
  const int rc = run(std::string(MPI_HOST_EXE) + " reconstruct --measurement " + measurement().string() + " --system-matrix " +
                         system_matrix().string() + " --out " + out.string() + " --solver kaczmarz --iterations 5",
                     &text);
  ASSERT_EQ(rc, 0) << text;
  for (const char* f : {"image.csv", "image.png", "last_image.csv", "last_image.png", "report.txt"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto pixels = read_image_csv(out / "image.csv");
  EXPECT_EQ(pixels.size(), 225U);
  EXPECT_NE(slurp(out / "report.txt").find("kaczmarz"), std::string::npos);
}

// The command's exit status and its message for bad input.
void expect_refused(const std::string& args, const std::vector<std::string>& words) {
  std::string text;
  EXPECT_EQ(run(std::string(MPI_HOST_EXE) + " " + args, &text), 2) << text;
  for (const auto& w : words) EXPECT_NE(text.find(w), std::string::npos) << "'" << w << "' not in: " << text;
}

TEST_F(ReferenceFiles, BadInputIsRefusedWithExitTwo) {
  const std::string sm = " --system-matrix " + system_matrix().string() + " --out " + (dir_ / "out_bad").string();
  // Missing file.
  expect_refused("reconstruct --measurement " + (dir_ / "nope.mdf").string() + sm, {"nope.mdf", "no such file"});
  // Not an MDF (not even HDF5).
  const fs::path text_file = dir_ / "notes.mdf";
  std::ofstream(text_file) << "this is not HDF5\n";
  expect_refused("reconstruct --measurement " + text_file.string() + sm, {"notes.mdf", "HDF5"});
  // A measurement given as the system matrix.
  expect_refused("reconstruct --measurement " + measurement().string() + " --system-matrix " + measurement().string() + " --out " +
                     (dir_ / "out_bad").string(),
                 {"measurement.mdf", "/calibration"});
  // A measurement of another drive (dividers changed with h5py).
  const fs::path other = dir_ / "other_drive.mdf";
  fs::copy_file(measurement(), other, fs::copy_options::overwrite_existing);
  std::string py;
  ASSERT_EQ(run("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + other.string() +
                    "', 'r+'); f['/acquisition/drivefield/divider'][...] = [[104], [96]]; f.close()\"",
                &py),
            0)
      << py;
  expect_refused("reconstruct --measurement " + other.string() + sm, {"other_drive.mdf", "systemmatrix.mdf", "/acquisition/drivefield/divider"});
  // A bad solver name.
  expect_refused("reconstruct --measurement " + measurement().string() + sm + " --solver art", {"art"});
  // Replay of a file that is not a recording of mpi scan, or of no file.
  expect_refused("replay --mdf " + (dir_ / "nope.mdf").string() + " --out " + (dir_ / "out_bad").string(), {"nope.mdf", "no such file"});
  expect_refused("replay --mdf " + measurement().string() + " --out " + (dir_ / "out_bad").string(), {"measurement.mdf", "/_mpi/"});
  expect_refused("replay --out " + (dir_ / "out_bad").string(), {"--capture", "--mdf"});
  // The library says the same.
  EXPECT_THROW(reconstruct_mdf(other, system_matrix(), {}), MdfInputError);
  EXPECT_THROW(reconstruct_mdf(text_file, system_matrix(), {}), MdfInputError);
}

// ---- replay of a recorded file through the live stages ----

void write_text_field(hid_t file, const std::string& name, const std::string& value) {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  const hid_t s = H5Screate(H5S_SCALAR);
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t d = H5Dcreate2(file, name.c_str(), t, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  const char* p = value.c_str();
  H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p);
  H5Dclose(d);
  H5Pclose(lcpl);
  H5Sclose(s);
  H5Tclose(t);
}

void write_int_field(hid_t file, const std::string& name, std::int64_t value) {
  const hid_t s = H5Screate(H5S_SCALAR);
  const hid_t d = H5Dcreate2(file, name.c_str(), H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
  H5Dclose(d);
  H5Sclose(s);
}

// An MDF file of the preclinical 2D scanner holding `frames` (6 ADC channels, int16 codes, 1 V full scale),
// with the given plan text and the shipped scanner and tracer texts.
void write_recording(const fs::path& path, const std::vector<Frame>& frames, const std::string& plan_text, bool store_texts) {
  namespace mdf = recon::mdf;
  using namespace mpi::host::test;
  mdf::File f;
  f.uuid = mdf::make_uuid_v4();
  f.time = mdf::time_now();
  f.study.name = "replay test";
  f.study.uuid = mdf::make_uuid_v4();
  f.experiment.name = "replay test";
  f.experiment.uuid = mdf::make_uuid_v4();
  f.experiment.is_simulation = true;
  f.scanner = {"test", "test", "preclinical FFP", "test", "FFP", std::nullopt};
  f.tracer.push_back({"single-core 30 nm", "b", "v", 1e-6, 0.1, "Fe", ""});
  auto& a = f.acquisition;
  a.num_frames = static_cast<std::int64_t>(frames.size());
  a.start_time = mdf::time_now();
  a.drivefield.base_frequency_hz = 2.5e6;
  a.drivefield.num_channels = 2;
  a.drivefield.cycle_s = 1632 / 2.5e6;
  a.drivefield.divider = mdf::ArrayI({2, 1}, {102, 96});
  a.drivefield.waveform = mdf::Array<std::string>({2, 1}, {"sine", "sine"});
  a.drivefield.phase_rad = mdf::ArrayD({1, 2, 1}, {0.0, 0.0});
  a.drivefield.strength = mdf::ArrayD({1, 2, 1}, {kAmplitude, kAmplitude});
  a.receiver.bandwidth_hz = kRate / 2;
  a.receiver.num_channels = 6;
  a.receiver.num_sampling_points = static_cast<std::int64_t>(kFrame);
  a.receiver.data_conversion_factor = mdf::ArrayD({6, 2});
  for (int c = 0; c < 6; ++c) a.receiver.data_conversion_factor.values[2 * c] = 1.0 / 32767.0 / (c < 3 ? kLna : 1.0);
  mdf::Measurement m;
  m.storage = mdf::StorageType::int16;
  m.data = mdf::ArrayD({frames.size(), 1, 6, kFrame});
  m.is_background_frame.assign(frames.size(), false);
  for (std::size_t n = 0; n < frames.size(); ++n)
    for (std::size_t c = 0; c < 6; ++c)
      for (std::size_t i = 0; i < kFrame; ++i)
        m.data.values[(n * 6 + c) * kFrame + i] = frames[n].samples[i * 6 + c] * a.receiver.data_conversion_factor.values[2 * c];
  f.measurement = m;
  mdf::write_mdf(path.string(), f);
  if (!store_texts) return;
  const hid_t h = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(h, 0);
  write_text_field(h, "/_mpi/plan", plan_text);
  write_text_field(h, "/_mpi/scanner", slurp(kSourceDir / "configs/scanners/preclinical-ffp.toml"));
  write_text_field(h, "/_mpi/tracer", slurp(kSourceDir / "configs/tracers/single-core-30nm.toml"));
  write_int_field(h, "/_mpi/firstFrameSample", static_cast<std::int64_t>(kFirstFrameSample));
  H5Fclose(h);
}

struct Images {
  std::vector<double> mean, last;
};

void replay_matches_runner(const std::string& body) {
  using namespace mpi::host::test;
  const fs::path plan_file = write_plan("mpi_mdf_replay_test", body);
  const ScanPlan plan = load_scan_plan(plan_file);
  const ScannerDescription scanner = load_scanner_description(kSourceDir / "configs/scanners/preclinical-ffp.toml");
  std::vector<Frame> frames;
  for (int n = 0; n < 3; ++n) {
    Synthetic s;
    s.source_m = Eigen::Vector3d(0.002 * n - 0.002, 0.001, 0.0);
    const std::uint64_t first = kFirstFrameSample + static_cast<std::uint64_t>(n) * kFrame;
    Frame f = to_frame(s.volts(tracer_model(plan.tracer), first), kLna);
    f.first_sample = first;
    f.index = static_cast<std::uint64_t>(n);
    frames.push_back(f);
  }
  // As a live scan: the frames straight into the runner.
  ReconstructionRunner runner(plan, scanner);
  runner.start(setup_2d());
  for (Frame f : frames) runner.push(std::move(f));
  const ReconstructionResult live = runner.finish();

  const fs::path file = plan_file.parent_path() / "scan.mdf";
  write_recording(file, frames, "tracer = \"../tracers/single-core-30nm.toml\"\n" + body, true);
  const MdfReplay replay = replay_mdf(file);
  ASSERT_TRUE(replay.outcome.mean_image && live.mean);
  EXPECT_EQ(replay.outcome.frames, 3U);
  EXPECT_EQ(replay.file_frames, 3U);
  EXPECT_GT(replay.speed(), 0.0);
  EXPECT_EQ(replay.outcome.mean_image->values, live.mean->values);  // bit for bit
  EXPECT_EQ(replay.outcome.last_image->values, live.last->values);
  const double peak = *std::max_element(live.mean->values.begin(), live.mean->values.end());
  EXPECT_GT(peak, 0.0);  // a real image, not two empty ones

  // The same file without the stored texts needs --plan and --scanner.
  const fs::path bare = plan_file.parent_path() / "bare.mdf";
  write_recording(bare, frames, "", false);
  try {
    (void)replay_mdf(bare);
    ADD_FAILURE() << "replay without stored plan accepted";
  } catch (const MdfInputError& e) {
    EXPECT_NE(std::string(e.what()).find("/_mpi/"), std::string::npos) << e.what();
  }
  const MdfReplay given = replay_mdf(bare, plan_file, kSourceDir / "configs/scanners/preclinical-ffp.toml");
  EXPECT_EQ(given.outcome.mean_image->values, live.mean->values);
  std::error_code ec;
  fs::remove_all(plan_file.parent_path(), ec);
}

TEST(MdfReplay, XSpaceImagesAreBitIdenticalToTheRunner) {
  replay_matches_runner("[sequence]\nname = \"lissajous_2d\"\nframes = 3\n");
}

TEST(MdfReplay, SystemMatrixImagesAreBitIdenticalToTheRunner) {
  replay_matches_runner("[sequence]\nname = \"lissajous_2d\"\nframes = 3\n[reconstruction]\nmethod = \"system-matrix\"\npixel_mm = 1.0\n"
                        "max_rows = 200\n");
}

TEST(MdfReplay, RefusesAMissingFile) {
  EXPECT_THROW(replay_mdf("/nonexistent/scan.mdf"), MdfInputError);
}

}  // namespace
