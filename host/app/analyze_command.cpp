// mpi analyze IMAGE.csv [--profile x|y|z] [--through "X mm,Y mm,Z mm"] [--rois ROIS.toml] --out DIR:
// a line profile with Gaussian and Lorentzian fits, regions of interest and iron quantification of an image
// written by `mpi scan`, `replay` or `reconstruct` (docs/analysis.md).
#include "command.hpp"

#include "mpi/host/analysis_report.hpp"
#include "mpi/host/analysis_spec.hpp"

#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace mpi::cli {

namespace {

struct AnalyzeOptions {
  std::string image;
  std::string profile;
  std::string through;
  std::string rois;
  std::string out;
};

recon::Axis parse_axis(const std::string& text) {
  if (text == "x") return recon::Axis::x;
  if (text == "y") return recon::Axis::y;
  if (text == "z") return recon::Axis::z;
  throw std::invalid_argument("--profile '" + text + "': must be x, y or z");
}

}  // namespace

Command add_analyze_command(CLI::App& mpi) {
  auto options = std::make_shared<AnalyzeOptions>();
  CLI::App* app = mpi.add_subcommand("analyze", "profile and FWHM fits, regions of interest and iron quantification of an image CSV");
  app->add_option("image", options->image, "image CSV (x_mm,y_mm,z_mm,intensity) of mpi scan, replay or reconstruct")->required();
  app->add_option("--profile", options->profile, "axis of the line profile: x, y or z (default: the first imaged axis)");
  app->add_option("--through", options->through, "the profile passes through the voxel nearest this point, \"X mm,Y mm,Z mm\" (default: the maximum)");
  app->add_option("--rois", options->rois, "regions of interest and iron calibration (TOML; docs/analysis.md)");
  app->add_option("--out", options->out, "output folder: analysis.json, profile.csv, profile.png, rois.csv, report.txt")->required();
  return {app, [options] {
            return run_step("analyze", [&] {
              host::AnalysisRequest request;
              if (!options->profile.empty()) request.profile_axis = parse_axis(options->profile);
              if (!options->through.empty()) request.profile_through_m = host::parse_point_m(options->through, "--through");
              if (!options->rois.empty()) request.spec = host::load_analysis_spec(options->rois);
              host::AnalysisResult result = host::analyze_image(host::read_analysis_image(options->image), request);
              result.image_file = options->image;
              prepare_output(options->out);
              host::write_analysis(result, options->out);
              std::cout << host::analysis_report(result) << "outputs in " << options->out << ": analysis.json"
                        << (result.rois.empty() ? "" : ", rois.csv") << (result.profile ? ", profile.csv, profile.png" : "") << ", report.txt\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
