// `mpi analyze`: an image CSV (x_mm, y_mm, z_mm, intensity rows, as `mpi scan`, `replay` and `reconstruct`
// write it) analysed: a line profile with Gaussian and Lorentzian fits (FWHM and standard errors), regions
// of interest and iron quantification (analysis_spec.hpp), written as analysis.json (units in the keys),
// profile.csv, profile.png, rois.csv and report.txt. docs/analysis.md describes the outputs.
#pragma once

#include "mpi/host/analysis_spec.hpp"
#include "mpi/recon/image_analysis.hpp"

#include <Eigen/Core>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mpi::host {

// The image of an image CSV. Throws std::invalid_argument naming the file when it cannot be read or its
// voxels are not a regular grid.
recon::AnalysisImage read_analysis_image(const std::filesystem::path& csv);

struct ProfileFit {
  std::optional<recon::PeakFit> fit;
  std::string error;  // why there is no fit
};

struct ProfileResult {
  recon::LineProfile profile;
  recon::IndexRange fit_window;  // the points fitted (recon::peak_fit_window around the profile's maximum)
  ProfileFit gaussian;
  ProfileFit lorentzian;
};

struct RoiResult {
  RoiSpec spec;
  recon::RoiStats stats;
  std::optional<double> iron_kg;                   // with a calibration
  std::optional<double> concentration_mol_per_m3;  // with a calibration and the sample's volume
};

struct AnalysisResult {
  std::filesystem::path image_file;
  recon::AnalysisImage image;
  std::optional<ProfileResult> profile;
  std::vector<RoiResult> rois;
  std::optional<recon::IronCalibration> calibration;
};

struct AnalysisRequest {
  std::optional<recon::Axis> profile_axis;        // default: the first imaged axis (no profile for a single voxel)
  std::optional<Eigen::Vector3d> profile_through_m;  // default: the maximum voxel
  std::optional<AnalysisSpec> spec;               // regions and calibration
};

// Runs the analysis. Bad requests (a profile axis of a single voxel, a point or region outside the image)
// throw std::invalid_argument naming them; a peak fit that fails is recorded in its ProfileFit::error.
AnalysisResult analyze_image(const recon::AnalysisImage& image, const AnalysisRequest& request);

// The short table printed by `mpi analyze` and written to report.txt.
std::string analysis_report(const AnalysisResult& result);

// Writes analysis.json, rois.csv (with regions), profile.csv and profile.png (with a profile) and report.txt
// into `out_dir` (which must exist); throws std::runtime_error naming a file that cannot be written.
void write_analysis(const AnalysisResult& result, const std::filesystem::path& out_dir);

}  // namespace mpi::host
