// Relaxometry outputs: result.json (units in the keys), psf.csv, mh.csv and harmonics.csv written from a
// result built here and read back; bad files are refused with file and line; the comparison and the
// harmonic calculator command on a Langevin curve.
#include "mpi/host/relax_report.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("mpi-relax-report-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A Gaussian-like PSF pair of known width on a grid, with figures set by hand.
recon::RelaxometryResult made_up(const std::string& name, double width_mt, double peak) {
  recon::RelaxometryResult r;
  r.sample_name = name;
  r.iron_mass_ug = 10.0;
  for (int i = -100; i <= 100; ++i) {
    const double b = 0.1 * i;
    r.field_mt.push_back(b);
    const double g = peak * std::exp(-4 * std::log(2.0) * b * b / (width_mt * width_mt));
    r.rising.psf_a_m2_per_t.push_back(g);
    r.falling.psf_a_m2_per_t.push_back(g);
    r.rising.moment_a_m2.push_back(std::tanh(b));
    r.falling.moment_a_m2.push_back(std::tanh(b));
    r.moment_mean_a_m2.push_back(i == -100 ? std::numeric_limits<double>::quiet_NaN() : std::tanh(b));
  }
  r.rising.fwhm_mt = r.falling.fwhm_mt = r.fwhm_mean_mt = width_mt;
  r.fwhm_mm = std::numeric_limits<double>::quiet_NaN();
  r.psf_peak_a_m2_per_t = r.rising.peak_a_m2_per_t = r.falling.peak_a_m2_per_t = peak;
  r.psf_peak_per_ug = peak / 10.0;
  r.tau_centroid_s = 5e-6;
  r.tau_mirror_s = 4.9e-6;
  r.harmonics.amplitude = {0.0, 1.0, 0.0, 0.5, 0.0, 0.25};
  r.harmonics.phase_rad = {0.0, 0.1, 0.0, 0.2, 0.0, 0.3};
  recon::finish_harmonic_spectrum(r.harmonics);
  r.a3_per_ug_v = 0.05;
  r.cycles = 100;
  return r;
}

}  // namespace

TEST(RelaxReport, ResultFilesCarryUnitsAndReadBack) {
  const fs::path dir = fresh("result");
  const recon::RelaxometryResult r = made_up("batch \"7\"", 2.0, 3e-3);
  host::RelaxContext c;
  c.sample.name = r.sample_name;
  c.sample.iron_ug = 10.0;
  c.shape = "triangle";
  const auto written = host::write_relax_result(r, c, dir);
  for (const auto& f : written) EXPECT_TRUE(fs::exists(dir / f)) << f;
  const auto j = host::read_flat_json(dir / "result.json");
  EXPECT_EQ(j.at("sample_name"), "batch \"7\"");
  EXPECT_DOUBLE_EQ(std::stod(j.at("fwhm_mT")), 2.0);
  EXPECT_DOUBLE_EQ(std::stod(j.at("tau_centroid_us")), 5.0);
  EXPECT_EQ(j.at("fwhm_mm"), "null");  // no gradient: JSON has no NaN
  EXPECT_NEAR(std::stod(j.at("a3_over_a1")), 0.5, 1e-12);
  const std::string psf = read(dir / "psf.csv");
  EXPECT_EQ(psf.substr(0, psf.find('\n')), "field_mT,psf_rising_Am2_per_T,psf_falling_Am2_per_T");
  const std::string mh = read(dir / "mh.csv");
  EXPECT_EQ(mh.substr(0, mh.find('\n')), "H_mT,M_Am2,M_rising_Am2,M_falling_Am2");
  EXPECT_EQ(mh.find("nan"), std::string::npos);  // rows without a mean moment are left out
  // harmonics.csv: dB relative to the fundamental = 20 log10(A_n / A_1).
  const std::string h = read(dir / "harmonics.csv");
  EXPECT_NE(h.find("\n3,0.5,0.2,"), std::string::npos) << h;
  const std::string line3 = h.substr(h.find("\n3,") + 1, h.find('\n', h.find("\n3,") + 1) - h.find("\n3,") - 1);
  EXPECT_NEAR(std::stod(line3.substr(line3.rfind(',') + 1)), 20 * std::log10(0.5), 1e-6);

  const recon::RelaxometryResult back = host::read_relax_result(dir);
  EXPECT_EQ(back.sample_name, r.sample_name);
  EXPECT_DOUBLE_EQ(back.fwhm_mean_mt, 2.0);
  EXPECT_NEAR(back.tau_mirror_s, 4.9e-6, 1e-15);
  ASSERT_EQ(back.field_mt.size(), r.field_mt.size());
  EXPECT_NEAR(back.rising.psf_a_m2_per_t[100], 3e-3, 1e-12);
  EXPECT_NEAR(back.harmonics.a3_over_a1, 0.5, 1e-12);
  // mpi harmonics reads mh.csv as an M(H) curve.
  EXPECT_NO_THROW((void)recon::read_mh_csv((dir / "mh.csv").string()));
}

TEST(RelaxReport, BadResultFilesAreRefusedWithFileAndLine) {
  const fs::path dir = fresh("bad");
  std::ofstream(dir / "result.json") << "{\n  \"fwhm_mT\": 1.5,\n  oops\n}\n";
  try {
    (void)host::read_flat_json(dir / "result.json");
    ADD_FAILURE() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("result.json: line 3"), std::string::npos) << e.what();
  }
  const recon::RelaxometryResult r = made_up("a", 2.0, 1.0);
  host::RelaxContext c;
  c.sample.name = "a";
  c.sample.iron_ug = 10.0;
  (void)host::write_relax_result(r, c, dir);
  std::ofstream(dir / "psf.csv", std::ios::app) << "1.0,abc,2\n";
  try {
    (void)host::read_relax_result(dir);
    ADD_FAILURE() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("psf.csv: line 203"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)host::read_relax_result(dir / "missing"), std::runtime_error);
}

TEST(RelaxReport, ComparisonRanksAndWritesTables) {
  const fs::path dir = fresh("compare");
  // b: peak 20 % higher and PSF 10 % narrower than a.
  const std::vector<recon::RelaxometryResult> results = {made_up("a", 2.0, 1.0), made_up("b", 1.8, 1.2)};
  const auto written = host::write_relax_comparison(results, dir);
  for (const auto& f : written) EXPECT_TRUE(fs::exists(dir / f)) << f;
  const std::string json = read(dir / "comparison.json");
  const std::size_t b = json.find("\"sample_name\": \"b\"");
  ASSERT_NE(b, std::string::npos) << json;
  const auto field = [&json, b](const std::string& key) { return std::stod(json.substr(json.find("\"" + key + "\": ", b) + key.size() + 4)); };
  EXPECT_NEAR(field("sensitivity_change_pct"), 20.0, 1e-6);
  EXPECT_NEAR(field("resolution_change_pct"), -10.0, 1e-6);
  EXPECT_EQ(field("sensitivity_rank"), 1.0);
  EXPECT_EQ(field("resolution_rank"), 1.0);
  EXPECT_NE(read(dir / "comparison.csv").find("sample"), std::string::npos);
}

TEST(RelaxReport, HarmonicsCommandOnALangevinCurveAndBadCsvs) {
  const fs::path dir = fresh("harmonics");
  const std::string exe = MPI_HOST_EXE;
  const std::string tracer = std::string(MPI_SOURCE_DIR) + "/configs/tracers/single-core-30nm.toml";
  ASSERT_EQ(std::system((exe + " harmonics --tracer " + tracer + " --drive '150 Oe' --out " + (dir / "t").string() + " > /dev/null").c_str()), 0);
  const std::string csv = read(dir / "t/spectrum.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "harmonic,amplitude,phase_rad,level_dB");
  EXPECT_NE(csv.find("\n1,"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "t/spectrum.png"));
  // The same curve as a CSV gives the same spectrum (the calculator reads any M(H) curve).
  mpi::recon::Tracer t;
  t.core_diameter_m = 30e-9;
  t.saturation_magnetisation_a_per_m = 8e5;
  t.temperature_k = 293.15;
  std::ofstream(dir / "curve.csv") << recon::mh_curve_csv(recon::langevin_mh_curve(t, 0.06, 4001));
  ASSERT_EQ(std::system((exe + " harmonics --mh " + (dir / "curve.csv").string() + " --drive '15 mT' --out " + (dir / "c").string() + " > /dev/null").c_str()), 0);
  const auto level = [](const std::string& text, int n) {
    const std::size_t at = text.find("\n" + std::to_string(n) + ",");
    const std::string line = text.substr(at + 1, text.find('\n', at + 1) - at - 1);
    return std::stod(line.substr(line.rfind(',') + 1));
  };
  const std::string csv2 = read(dir / "c/spectrum.csv");
  for (int n = 3; n <= 11; n += 2) EXPECT_NEAR(level(csv, n), level(csv2, n), 0.1) << n;
  // Bad inputs: exit code 2 and a message naming the line.
  std::ofstream(dir / "bad.csv") << "H_mT,M_Am2\n-1,1\n0,2\n-0.5,3\n1,4\n2,5\n";
  const std::string bad = exe + " harmonics --mh " + (dir / "bad.csv").string() + " --out " + (dir / "b").string() + " 2> " + (dir / "err.txt").string();
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
  EXPECT_NE(read(dir / "err.txt").find("line"), std::string::npos) << read(dir / "err.txt");
  const std::string bad_drive = exe + " harmonics --tracer " + tracer + " --drive '15 kHz' --out " + (dir / "b").string() + " 2> " + (dir / "err2.txt").string();
  EXPECT_EQ(WEXITSTATUS(std::system(bad_drive.c_str())), 2);
  EXPECT_NE(read(dir / "err2.txt").find("--drive"), std::string::npos);
}
