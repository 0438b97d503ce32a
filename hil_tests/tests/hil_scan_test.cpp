// End-to-end scans on loopback: plant, firmware and `mpi` as separate processes, checked against the
// analytic Langevin PSF (REFERENCE.md 1.1) rather than against numbers the code produced.
#include "mpi/hil/scenario.hpp"
#include "mpi/host/profile_output.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/framing.hpp"
#include "mpi/recon/profile_analysis.hpp"
#include "mpi/recon/tracer.hpp"

#include <utility>

#include <boost/asio.hpp>
#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

using hil::test::read_file;

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/demo-1d.toml";
const fs::path kPlan = kSource / "configs/plans/demo-1d-two-points.toml";

// The demo scanner and `plan`, the plant in real time, logs in `logs`.
hil::ScenarioFiles files(const fs::path& plan, const fs::path& logs) {
  hil::ScenarioFiles f;
  f.scanner = kScanner;
  f.plan = plan;
  f.work_dir = logs;
  f.plant_pace = 1.0;
  return f;
}

// The shipped plan in `dir` with its phantom replaced by `phantom` (a phantom description, written to
// dir/phantom.toml) and seed 7; its tracer stays the shipped one.
fs::path plan_with_phantom(const fs::path& dir, const std::string& phantom) {
  std::ifstream in(kPlan);
  std::stringstream text;
  text << in.rdbuf();
  std::string plan = text.str();
  const auto replace_line = [&plan](const std::string& key, const std::string& line) {
    const std::size_t at = plan.find("\n" + key + " =");
    if (at == std::string::npos) throw std::runtime_error("the shipped plan has no '" + key + "' line");
    plan.replace(at + 1, plan.find('\n', at + 1) - at - 1, line);
  };
  replace_line("tracer", "tracer = \"" + (kSource / "configs/tracers/single-core-30nm.toml").string() + "\"");
  replace_line("phantom", "phantom = \"phantom.toml\"");
  replace_line("seed", "seed = 7");
  std::ofstream(dir / "phantom.toml") << phantom;
  const fs::path file = dir / "plan.toml";
  std::ofstream(file) << plan;
  return file;
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// The analytic PSF of the plan's tracer and the scanner's gradient: 0.745 mm (REFERENCE.md 1.1).
double analytic_fwhm_m() {
  recon::Tracer t;
  t.core_diameter_m = 30e-9;
  t.saturation_magnetisation_a_per_m = 8e5;
  t.temperature_k = 293.15;
  return recon::psf_fwhm_m(t, 2.0);
}

}  // namespace

TEST(HilScan, PointSourceIsReconstructedWhereItIsWithTheAnalyticResolution) {
  const fs::path dir = hil::test::fresh_work_dir("scan", "point");
  const fs::path plan = plan_with_phantom(dir, "[phantom]\nname = \"one point at +2 mm\"\n\n[[phantom.point]]\n"
                                               "position = [\"2 mm\", \"0 mm\", \"0 mm\"]\niron = \"10 ug\"\n");
  hil::Scenario scenario(kPrograms, files(plan, dir / "logs"));
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "live", &output), 0) << output << read_file(dir / "logs/mpi.log");

  const recon::Profile1D image = host::read_profile_csv(dir / "live/profile.csv");
  const auto peaks = recon::find_peaks(image);
  ASSERT_EQ(peaks.size(), 1U) << output;
  const double fwhm = recon::fwhm_m(image, peaks[0]);
  RecordProperty("peak_mm", std::to_string(peaks[0].position_m * 1e3));
  RecordProperty("fwhm_mm", std::to_string(fwhm * 1e3));
  EXPECT_NEAR(peaks[0].position_m, 2.0e-3, 0.05e-3);
  EXPECT_NEAR(fwhm, analytic_fwhm_m(), 0.02 * analytic_fwhm_m()) << "analytic " << analytic_fwhm_m() * 1e3 << " mm";
  EXPECT_TRUE(fs::file_size(dir / "live/profile.png") > 1000);
  EXPECT_TRUE(fs::file_size(dir / "live/raw.mpilink") > 1000);

  // Replay of the raw capture runs the same pipeline on the same frames: bit-identical image.
  std::string replay_output;
  ASSERT_EQ(hil::run_program({MPI_HOST_EXE, "replay", "--capture", (dir / "live/raw.mpilink").string(), "--scanner",
                              kScanner.string(), "--plan", plan.string(), "--out", (dir / "replay").string()},
                             &replay_output, (dir / "logs/replay.log").string()),
            0)
      << replay_output << read_file(dir / "logs/replay.log");
  EXPECT_EQ(read_file(dir / "live/profile.csv"), read_file(dir / "replay/profile.csv"));

  EXPECT_TRUE(scenario.stop()) << "plant or firmware did not exit cleanly on SIGTERM";
  EXPECT_FALSE(fs::exists("/dev/shm" + scenario.shm_name())) << "the plant left its shared memory behind";
}

TEST(HilScan, TwoPointSourcesThreeMillimetresApartAreResolved) {
  const fs::path dir = hil::test::fresh_work_dir("scan", "two");
  hil::Scenario scenario(kPrograms, files(kPlan, dir / "logs"));
  std::string output;
  ASSERT_EQ(scenario.run_scan(dir / "live", &output), 0) << output << read_file(dir / "logs/mpi.log");
  const recon::Profile1D image = host::read_profile_csv(dir / "live/profile.csv");
  const auto peaks = recon::find_peaks(image);
  ASSERT_EQ(peaks.size(), 2U) << output;
  EXPECT_NEAR(peaks[0].position_m, -1.5e-3, 0.1e-3);
  EXPECT_NEAR(peaks[1].position_m, 1.5e-3, 0.1e-3);
  const double dip = recon::dip_ratio(image, peaks[0], peaks[1]);
  RecordProperty("dip_ratio", std::to_string(dip));
  EXPECT_LT(dip, 0.5);
}

TEST(HilScan, MalformedFrameGetsAnErrorAndTheNextConnectionIsServed) {
  const fs::path dir = hil::test::fresh_work_dir("scan", "malformed");
  hil::Scenario scenario(kPrograms, files(kPlan, dir / "logs"));
  {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), scenario.firmware_port()});
    const unsigned char garbage[] = {6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    asio::write(socket, asio::buffer(garbage));
    protocol::FrameDecoder decoder;
    link::v1::Envelope reply;
    bool got_error = false, closed = false;
    std::array<char, 4096> buffer{};
    for (int i = 0; i < 100 && !closed; ++i) {
      boost::system::error_code ec;
      const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
      if (ec) {
        closed = true;
        break;
      }
      decoder.feed(buffer.data(), n);
      std::span<const std::byte> payload;
      while (decoder.next(payload) == protocol::FrameDecoder::Result::frame) {
        std::string error;
        ASSERT_TRUE(protocol::parse_envelope(payload, reply, error)) << error;
        if (reply.has_error()) {
          got_error = true;
          EXPECT_EQ(reply.error().code(), link::v1::ERROR_MALFORMED_FRAME);
          EXPECT_FALSE(reply.error().message().empty());
        }
      }
    }
    EXPECT_TRUE(got_error) << "no Error reply to a malformed frame";
    EXPECT_TRUE(closed) << "the firmware kept the connection open after a malformed frame";
  }
  std::string output;
  EXPECT_EQ(scenario.run_scan(dir / "after", &output), 0) << output << read_file(dir / "logs/mpi.log");
}

TEST(HilScan, FirmwareRefusesADriveFrequencyTheScannerIsNotMatchedTo) {
  // The demo scanner's drive channel x runs at 15.625 MHz / 625 = 25 kHz; a plan asking for 31.25 kHz (500
  // samples per period: the host has nothing against it) is refused by the firmware with a message naming
  // the field and the channel's frequency.
  const fs::path dir = hil::test::fresh_work_dir("scan", "frequency");
  std::ifstream in(kPlan);
  std::stringstream text;
  text << in.rdbuf();
  std::string plan = text.str();
  const std::string shipped = "drive_frequency = \"25 kHz\"";
  const std::size_t at = plan.find(shipped);
  ASSERT_NE(at, std::string::npos);
  plan.replace(at, shipped.size(), "drive_frequency = \"31.25 kHz\"");
  plan.replace(plan.find("../tracers/"), 11, (kSource / "configs/tracers").string() + "/");
  plan.replace(plan.find("../phantoms/"), 12, (kSource / "configs/phantoms").string() + "/");
  std::ofstream(dir / "plan.toml") << plan;
  hil::Scenario scenario(kPrograms, files(kPlan, dir / "logs"));
  std::string output;
  const std::string log = (dir / "mpi.log").string();
  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(scenario.firmware_port()), "--plan",
                              (dir / "plan.toml").string(), "--scanner", kScanner.string(), "--out", (dir / "o").string()},
                             &output, log),
            1)
      << output;
  const std::string err = read_file(log);
  EXPECT_NE(err.find("drive[0].frequency_hz = 31250 Hz is not the frequency of drive channel x (25000 Hz"), std::string::npos) << err;
  EXPECT_TRUE(scenario.stop());
}

TEST(HilScan, NoProcessOutlivesTheScenario) {
  const fs::path dir = hil::test::fresh_work_dir("scan", "cleanup");
  pid_t plant = 0, firmware = 0;
  {
    hil::Scenario scenario(kPrograms, files(kPlan, dir / "logs"));
    std::string pids;
    ASSERT_EQ(hil::run_program({"/usr/bin/pgrep", "-f", scenario.shm_name()}, &pids, ""), 0);
    std::istringstream in(pids);
    in >> plant >> firmware;
    ASSERT_GT(plant, 0);
    ASSERT_GT(firmware, 0);
  }  // destructor ends both
  EXPECT_TRUE(process_gone(plant));
  EXPECT_TRUE(process_gone(firmware));
}

TEST(HostCommand, BadInputGivesOneClearLineAndNonZeroExit) {
  const fs::path dir = hil::test::fresh_work_dir("scan", "badinput");
  std::ofstream(dir / "broken.toml") << "[sequence]\ndrive_frequency_hz = = 1\n";
  std::string out;
  const std::string log = (dir / "err.log").string();
  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "scan", "--plan", (dir / "broken.toml").string(), "--scanner", kScanner.string(), "--out",
                              (dir / "o").string()},
                             &out, log),
            2);
  const std::string err = read_file(log);
  EXPECT_NE(err.find("broken.toml: line 2"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "scan", "--plan", (dir / "missing.toml").string(), "--out", (dir / "o").string()}, &out, log), 2);
  EXPECT_NE(read_file(log).find("missing.toml"), std::string::npos);

  // Nothing listens on this port: a clear line, exit code 1.
  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:1", "--plan", kPlan.string(), "--scanner", kScanner.string(),
                              "--out", (dir / "o").string()},
                             &out, log),
            1);
  EXPECT_NE(read_file(log).find("cannot connect to firmware at 127.0.0.1:1"), std::string::npos) << read_file(log);

  EXPECT_EQ(hil::run_program({MPI_HOST_EXE, "replay", "--capture", (dir / "broken.toml").string(), "--plan", kPlan.string(), "--scanner",
                              kScanner.string(), "--out", (dir / "o").string()},
                             &out, log),
            1);
  EXPECT_NE(read_file(log).find("not a raw capture"), std::string::npos) << read_file(log);
}
