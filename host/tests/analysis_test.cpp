// The analysis spec (regions and calibration) and `mpi analyze` on image CSVs written by the test.
#include "mpi/host/analysis_report.hpp"
#include "mpi/host/analysis_spec.hpp"
#include "mpi/host/image_output.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using namespace mpi;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;

std::string read(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mpi-analysis-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The message of the AnalysisSpecError the text raises ("" when it parses).
std::string spec_error(const std::string& text) {
  try {
    host::parse_analysis_spec(text, "rois.toml");
  } catch (const host::AnalysisSpecError& e) {
    return e.what();
  }
  return "";
}

const std::string kBox = "[[roi]]\nname = \"a\"\ncentre = [\"1 mm\", \"2 mm\", \"0 mm\"]\nsize = [\"4 mm\", \"4 mm\", \"4 mm\"]\n";

TEST(AnalysisSpec, TheShippedConcentrationSpecReads) {
  const host::AnalysisSpec spec = host::load_analysis_spec(kSource / "configs/analysis/concentration-2d.toml");
  ASSERT_EQ(spec.rois.size(), 4U);
  EXPECT_EQ(spec.rois[1].roi.name, "cube 2");
  EXPECT_EQ(spec.rois[1].roi.shape, recon::RoiShape::box);
  EXPECT_NEAR(spec.rois[1].roi.centre_m.x(), 6e-3, 1e-15);
  EXPECT_NEAR(spec.rois[1].roi.size_m.y(), 6e-3, 1e-15);
  EXPECT_NEAR(spec.rois[1].roi.background_margin_m, 3e-3, 1e-15);
  EXPECT_NEAR(*spec.rois[1].known_iron_kg, 29.784e-9, 1e-18);
  EXPECT_NEAR(*spec.rois[1].sample_volume_m3, 8e-9, 1e-20);
  ASSERT_TRUE(spec.calibration);
  EXPECT_EQ(spec.calibration->reference, "cube 1");
  EXPECT_NEAR(spec.calibration->iron_kg, 44.676e-9, 1e-18);
}

TEST(AnalysisSpec, ShapesUnitsAndVolumes) {
  const host::AnalysisSpec spec = host::parse_analysis_spec(
      kBox + "[[roi]]\nname = \"s\"\nshape = \"sphere\"\ncentre = [\"0 mm\", \"0 mm\", \"0 mm\"]\nradius = \"0.3 cm\"\nvolume = \"2 uL\"\n"
             "[[roi]]\nname = \"t\"\nshape = \"threshold\"\ncentre = [\"0 mm\", \"0 mm\", \"0 mm\"]\nfraction = \"30 %\"\n",
      "rois.toml");
  ASSERT_EQ(spec.rois.size(), 3U);
  EXPECT_NEAR(spec.rois[1].roi.radius_m, 3e-3, 1e-15);
  EXPECT_NEAR(*spec.rois[1].sample_volume_m3, 2e-9, 1e-21);
  EXPECT_EQ(spec.rois[2].roi.shape, recon::RoiShape::threshold);
  EXPECT_NEAR(spec.rois[2].roi.threshold_fraction, 0.3, 1e-15);
  EXPECT_FALSE(spec.calibration);
  EXPECT_NEAR(host::parse_volume_m3("0.008 mL"), 8e-9, 1e-21);
  EXPECT_NEAR(host::parse_volume_m3("8mm^3"), 8e-9, 1e-21);
  EXPECT_THROW(host::parse_volume_m3("8 mm"), std::invalid_argument);
  const Eigen::Vector3d p = host::parse_point_m("1.5 mm, -2 mm,0 um", "--through");
  EXPECT_NEAR(p.x(), 1.5e-3, 1e-15);
  EXPECT_NEAR(p.y(), -2e-3, 1e-15);
  EXPECT_THROW(host::parse_point_m("1 mm,2 mm", "--through"), std::invalid_argument);
  EXPECT_THROW(host::parse_point_m("1 mm,2 mm,3 kHz", "--through"), std::invalid_argument);
}

TEST(AnalysisSpec, BadSpecsAreRefusedNamingFileKeyValueAndWhatIsAllowed) {
  std::string e = spec_error(kBox + "colour = \"red\"\n");
  EXPECT_NE(e.find("rois.toml: [[roi]] #1 (a) colour: unknown key (allowed: name, shape"), std::string::npos) << e;
  e = spec_error(kBox + "background_margin = \"3 kHz\"\n");
  EXPECT_NE(e.find("[[roi]] #1 (a) background_margin"), std::string::npos) << e;
  EXPECT_NE(e.find("length (m, mm"), std::string::npos) << e;
  EXPECT_NE(e.find("3 kHz"), std::string::npos) << e;
  e = spec_error(kBox + "shape = \"cube\"\n");
  EXPECT_NE(e.find("shape: must be \"box\", \"sphere\" or \"threshold\", got 'cube'"), std::string::npos) << e;
  e = spec_error("[[roi]]\nname = \"a\"\nsize = [\"4 mm\", \"4 mm\", \"4 mm\"]\n");
  EXPECT_NE(e.find("[[roi]] #1 (a) centre: missing"), std::string::npos) << e;
  e = spec_error(kBox + "[calibration]\nreference = \"b\"\niron = \"10 ug\"\n");
  EXPECT_NE(e.find("[calibration] reference: must name a [[roi]] of this file ('a'), got 'b'"), std::string::npos) << e;
  e = spec_error(kBox + "[calibration]\nreference = \"a\"\niron = \"10 mmol/L\"\n");
  EXPECT_NE(e.find("[calibration] iron = \"10 mmol/L\": expected a mass"), std::string::npos) << e;
  e = spec_error(kBox + "[calibration]\nreference = \"a\"\niron = \"-1 ug\"\n");
  EXPECT_NE(e.find("[calibration] iron = \"-1 ug\": outside the allowed range 0 kg to 1 kg"), std::string::npos) << e;
  e = spec_error("[[roi]]\nname = \"s\"\nshape = \"sphere\"\ncentre = [\"0 mm\", \"0 mm\", \"0 mm\"]\nradius = \"0 mm\"\n");
  EXPECT_NE(e.find("[[roi]] #1 (s) radius: must be positive, got '0 mm'"), std::string::npos) << e;
  e = spec_error("[[roi]]\nname = \"t\"\nshape = \"threshold\"\ncentre = [\"0 mm\", \"0 mm\", \"0 mm\"]\nfraction = 1.5\n");
  EXPECT_NE(e.find("[[roi]] #1 (t) fraction: = 1.5 is outside the allowed range [0, 1]"), std::string::npos) << e;
  EXPECT_EQ(spec_error("[[roi]]\nname = \"t\"\nshape = \"threshold\"\ncentre = [\"0 mm\", \"0 mm\", \"0 mm\"]\nfraction = 0.3\n"), "");
  e = spec_error(kBox + kBox);
  EXPECT_NE(e.find("names must be unique"), std::string::npos) << e;
  e = spec_error(kBox + "volume = \"8 mm\"\n");
  EXPECT_NE(e.find("volume: expected a volume"), std::string::npos) << e;
  e = spec_error(kBox + "radius = \"1 mm\"\n");
  EXPECT_NE(e.find("radius: is for a sphere"), std::string::npos) << e;
  e = spec_error("[regions]\n");
  EXPECT_NE(e.find("rois.toml: regions: unknown key"), std::string::npos) << e;
  e = spec_error("[[roi]\n");
  EXPECT_NE(e.find("rois.toml: line 1 col "), std::string::npos) << e;
  EXPECT_NE(spec_error(""), "");  // no regions
}

// Two Gaussian blobs of known iron (the image in ug per pixel) on a constant offset, 0.5 mm pixels.
constexpr double kSigma = 0.6e-3, kPixel = 0.5e-3, kOffset = -0.01;
constexpr double kIronA = 10.0, kIronB = 4.0;  // ug
fs::path write_blob_image(const fs::path& dir) {
  host::GridImage image;
  image.grid.counts = {41, 31, 1};
  image.grid.pixel_m = Eigen::Vector3d(kPixel, kPixel, kPixel);
  image.grid.origin_m = Eigen::Vector3d(-20 * kPixel, -15 * kPixel, 0.0);
  const Eigen::Vector3d a(-4e-3, 0.0, 0.0), b(4e-3, 0.5e-3, 0.0);
  const double per_pixel = kPixel * kPixel / (2.0 * std::numbers::pi * kSigma * kSigma);  // a unit 2D Gaussian's pixel share
  for (std::size_t v = 0; v < image.grid.pixels(); ++v) {
    const Eigen::Vector3d c = image.grid.centre_m(v);
    image.values.push_back(kOffset + per_pixel * (kIronA * std::exp(-(c - a).squaredNorm() / (2 * kSigma * kSigma)) +
                                                  kIronB * std::exp(-(c - b).squaredNorm() / (2 * kSigma * kSigma))));
  }
  const fs::path file = dir / "image.csv";
  host::write_image_csv(image, file);
  return file;
}

double json_number_after(const std::string& json, const std::string& anchor, const std::string& key) {
  const std::size_t from = json.find(anchor);
  const std::size_t at = json.find("\"" + key + "\": ", from);
  if (from == std::string::npos || at == std::string::npos) return std::nan("");
  return std::strtod(json.c_str() + at + key.size() + 4, nullptr);
}

int run(const std::string& command) { return WEXITSTATUS(std::system(command.c_str())); }

TEST(AnalyzeCommand, QuantifiesBlobsAndFitsTheProfileOfAnImageCsv) {
  const fs::path dir = fresh_dir("blobs");
  const fs::path image = write_blob_image(dir);
  std::ofstream(dir / "rois.toml") << "[[roi]]\nname = \"A\"\ncentre = [\"-4 mm\", \"0 mm\", \"0 mm\"]\nsize = [\"6 mm\", \"6 mm\", \"1 mm\"]\n"
                                      "background_margin = \"2 mm\"\niron = \"10 ug\"\n"
                                      "[[roi]]\nname = \"B\"\nshape = \"sphere\"\ncentre = [\"4 mm\", \"0.5 mm\", \"0 mm\"]\nradius = \"3.5 mm\"\n"
                                      "background_margin = \"2 mm\"\niron = \"4 ug\"\nvolume = \"2 uL\"\n"
                                      "[calibration]\nreference = \"A\"\niron = \"10 ug\"\n";
  const std::string exe = MPI_HOST_EXE;
  ASSERT_EQ(run(exe + " analyze " + image.string() + " --profile y --through '-4 mm,0.2 mm,0 mm' --rois " + (dir / "rois.toml").string() +
                " --out " + (dir / "out").string() + " > " + (dir / "stdout.txt").string()),
            0)
      << read(dir / "stdout.txt");
  const std::string json = read(dir / "out/analysis.json");
  // The profile along y through (-4, 0) mm: a Gaussian of FWHM 2 sqrt(2 ln 2) sigma on the offset.
  EXPECT_NEAR(json_number_after(json, "\"gaussian\"", "fwhm_mm"), 2.0 * std::sqrt(2.0 * std::log(2.0)) * kSigma * 1e3, 1e-6) << json;
  EXPECT_NEAR(json_number_after(json, "\"gaussian\"", "offset"), kOffset, 1e-6) << json;
  EXPECT_NEAR(json_number_after(json, "\"gaussian\"", "centre_mm"), 0.0, 1e-6) << json;
  EXPECT_GT(json_number_after(json, "\"lorentzian\"", "fwhm_mm"), 0.0) << json;
  // B from the calibration on A: 4 ug; in 2 uL that is 4e-9 kg / 55.845e-3 kg/mol / 2e-9 m^3 mol/m^3.
  EXPECT_NEAR(json_number_after(json, "\"name\": \"B\"", "iron_ug"), kIronB, 1e-3) << json;
  EXPECT_NEAR(json_number_after(json, "\"name\": \"B\"", "concentration_mmol_per_L"), 4e-9 / 55.845e-3 / 2e-9, 1e-3) << json;
  EXPECT_NEAR(json_number_after(json, "\"name\": \"A\"", "background_mean"), kOffset, 1e-6) << json;
  // The image is in ug per pixel: A's net sum is its iron.
  EXPECT_NEAR(json_number_after(json, "\"name\": \"A\"", "net_sum"), kIronA, 1e-3) << json;
  EXPECT_NEAR(json_number_after(json, "\"name\": \"A\"", "integral_value_mm2"),
              json_number_after(json, "\"name\": \"A\"", "sum") * 0.25, 1e-9) << json;
  const std::string rois = read(dir / "out/rois.csv");
  EXPECT_EQ(rois.rfind("name,shape,voxels,peak,", 0), 0U) << rois;
  EXPECT_NE(rois.find("\nB,sphere,"), std::string::npos) << rois;
  const std::string profile = read(dir / "out/profile.csv");
  EXPECT_EQ(profile.rfind("y_mm,value,gaussian,lorentzian\n", 0), 0U) << profile;
  EXPECT_GT(fs::file_size(dir / "out/profile.png"), 1000U);
  EXPECT_NE(read(dir / "out/report.txt").find("calibration: 'A' holds 10 ug"), std::string::npos);
  EXPECT_NE(read(dir / "stdout.txt").find("gaussian"), std::string::npos);
  if (!HasFailure()) fs::remove_all(dir);
}

TEST(AnalyzeCommand, BadInputGivesOneLineAndExitCode2) {
  const fs::path dir = fresh_dir("bad");
  const fs::path image = write_blob_image(dir);
  const std::string exe = MPI_HOST_EXE;
  const auto expect_bad = [&](const std::string& args, const std::string& says) {
    const int rc = run(exe + " analyze " + args + " --out " + (dir / "out").string() + " > /dev/null 2> " + (dir / "err.txt").string());
    const std::string err = read(dir / "err.txt");
    EXPECT_EQ(rc, 2) << args << ": " << err;
    EXPECT_NE(err.find(says), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  };
  expect_bad((dir / "missing.csv").string(), "missing.csv: cannot read");
  std::ofstream(dir / "notimage.csv") << "a,b\n1,2\n";
  expect_bad((dir / "notimage.csv").string(), "not an image CSV");
  expect_bad(image.string() + " --profile w", "--profile 'w': must be x, y or z");
  expect_bad(image.string() + " --profile z", "single voxel along z");
  expect_bad(image.string() + " --through '50 mm,0 mm,0 mm'", "outside the image");
  std::ofstream(dir / "far.toml") << "[[roi]]\nname = \"far\"\ncentre = [\"40 mm\", \"0 mm\", \"0 mm\"]\nsize = [\"2 mm\", \"2 mm\", \"2 mm\"]\n";
  expect_bad(image.string() + " --rois " + (dir / "far.toml").string(), "region 'far'");
  std::ofstream(dir / "typo.toml") << kBox << "sise = 3\n";
  expect_bad(image.string() + " --rois " + (dir / "typo.toml").string(), "typo.toml: [[roi]] #1 (a) sise: unknown key");
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
