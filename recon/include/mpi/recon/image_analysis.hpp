// Analysis of a reconstructed image on a regular 1D, 2D or 3D grid: line profiles through a voxel, peak fits
// (Gaussian and Lorentzian, Levenberg-Marquardt) with standard errors of every parameter and of the FWHM,
// regions of interest (box, sphere, or the connected region above a fraction of a local maximum) with their
// statistics and an optional local background, and iron calibration and quantification from a reference
// region of known iron. Positions are in metres; image values in whatever unit the image has.
//
// Bad input (an empty or inconsistent image, a point or region outside it, too few points to fit, a flat
// profile) throws std::invalid_argument naming what is wrong; a fit that cannot be done on valid input (no
// convergence, a singular normal matrix) throws FitError. docs/analysis.md has the formulas.
#pragma once

#include <Eigen/Core>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::recon {

// Molar mass of iron (kg/mol): 1 mmol/L of iron = 1 mol/m^3 = 55.845e-3 kg/m^3.
inline constexpr double kIronMolarMassKgPerMol = 55.845e-3;

// Values on a regular grid, x fastest: value (ix, iy, iz) at values[ix + nx (iy + ny iz)], its voxel centred
// at origin_m + (ix, iy, iz) .* pixel_m. An axis with one voxel is not imaged: its pixel_m may be 0.
struct AnalysisImage {
  std::array<std::size_t, 3> counts{0, 0, 0};
  Eigen::Vector3d origin_m = Eigen::Vector3d::Zero();  // centre of voxel (0, 0, 0)
  Eigen::Vector3d pixel_m = Eigen::Vector3d::Zero();
  std::vector<double> values;

  [[nodiscard]] std::size_t size() const noexcept { return counts[0] * counts[1] * counts[2]; }
  [[nodiscard]] std::size_t index(std::size_t ix, std::size_t iy, std::size_t iz) const noexcept {
    return ix + counts[0] * (iy + counts[1] * iz);
  }
  [[nodiscard]] std::array<std::size_t, 3> indices(std::size_t voxel) const noexcept {
    return {voxel % counts[0], (voxel / counts[0]) % counts[1], voxel / (counts[0] * counts[1])};
  }
  [[nodiscard]] Eigen::Vector3d centre_m(std::size_t voxel) const noexcept;
  // Number of imaged axes (more than one voxel): 1, 2 or 3 (0 for a single voxel).
  [[nodiscard]] int dimensions() const noexcept;
  // Length, area or volume of one voxel over the imaged axes (m, m^2 or m^3; 1 for a single voxel).
  [[nodiscard]] double voxel_measure() const noexcept;
};

// Throws std::invalid_argument when the image is empty, values.size() != size(), a value is not finite or an
// imaged axis has a pixel size that is not positive.
void throw_if_invalid(const AnalysisImage& image);

// The image of voxel centres and values in any order (e.g. the rows of an image CSV): the grid is inferred
// from the distinct coordinates per axis, which must be evenly spaced (within 1e-6 of the pitch) and every
// grid point given exactly once. Throws std::invalid_argument saying which axis or point is wrong.
AnalysisImage image_from_samples(std::span<const Eigen::Vector3d> centres_m, std::span<const double> values);

// ---- line profiles

enum class Axis { x = 0, y = 1, z = 2 };

struct LineProfile {
  Axis axis = Axis::x;
  Eigen::Vector3d through_m = Eigen::Vector3d::Zero();  // centre of the voxel the line passes through
  std::vector<double> position_m;                       // along `axis`
  std::vector<double> values;
};

// The voxel of largest value (the first of equal ones). Throws for an invalid image.
std::size_t max_voxel(const AnalysisImage& image);

// The values along `axis` through the voxel nearest `through_m` (default: the maximum voxel). Throws
// std::invalid_argument when the axis has a single voxel or the point lies outside the image by more than
// half a pixel along an imaged axis.
LineProfile line_profile(const AnalysisImage& image, Axis axis, const std::optional<Eigen::Vector3d>& through_m = std::nullopt);

// ---- peak fits

enum class PeakModel { gaussian, lorentzian };
const char* to_string(PeakModel model) noexcept;

// Gaussian:   f(x) = amplitude exp(-4 ln 2 (x - centre)^2 / fwhm^2) + offset
// Lorentzian: f(x) = amplitude / (1 + 4 (x - centre)^2 / fwhm^2) + offset
// Both are parametrised by their FWHM, so its standard error is read off the covariance directly.
struct PeakFit {
  PeakModel model = PeakModel::gaussian;
  // amplitude, centre, fwhm, offset (x in the unit of the positions given, y in that of the values).
  std::array<double, 4> parameters{};
  std::array<double, 4> standard_errors{};  // sqrt of the diagonal of s^2 (J^T J)^-1, s^2 = RSS / (n - 4)
  double r_squared = 0.0;                   // 1 - RSS / sum (y - mean y)^2
  double residual_rms = 0.0;                // sqrt(RSS / (n - 4))
  std::size_t points = 0;                   // finite points used
  std::size_t iterations = 0;

  [[nodiscard]] double amplitude() const noexcept { return parameters[0]; }
  [[nodiscard]] double centre() const noexcept { return parameters[1]; }
  [[nodiscard]] double fwhm() const noexcept { return parameters[2]; }
  [[nodiscard]] double offset() const noexcept { return parameters[3]; }
  [[nodiscard]] double amplitude_se() const noexcept { return standard_errors[0]; }
  [[nodiscard]] double centre_se() const noexcept { return standard_errors[1]; }
  [[nodiscard]] double fwhm_se() const noexcept { return standard_errors[2]; }
  [[nodiscard]] double offset_se() const noexcept { return standard_errors[3]; }
  [[nodiscard]] double operator()(double x) const noexcept;
};

// A fit that cannot be done on valid data (the iteration does not converge, the normal matrix is singular).
class FitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Least-squares fit of `model` to (x, y) by Levenberg-Marquardt, started from the maximum, the minimum and the
// width at half maximum of the data. NaN values of y are skipped. Throws std::invalid_argument when x and y
// differ in size, an x is not finite, fewer than 5 finite points remain or y is constant; FitError otherwise.
PeakFit fit_peak(std::span<const double> x, std::span<const double> y, PeakModel model);

// The points of a profile to fit one peak at `peak` (default: the largest finite value): from the peak out to
// the last points at or above half maximum (relative to the profile's minimum) on each side, then three times
// that half width (at least one pixel) further, stopping before a side rises above half maximum again (a
// neighbouring peak). Inclusive indices; throws std::invalid_argument for an empty profile or a peak
// outside it or NaN there.
struct IndexRange {
  std::size_t first = 0;
  std::size_t last = 0;
};
IndexRange peak_fit_window(std::span<const double> values, std::optional<std::size_t> peak = std::nullopt);

// ---- regions of interest

enum class RoiShape { box, sphere, threshold };
const char* to_string(RoiShape shape) noexcept;

// A voxel belongs to a box or a sphere when its centre lies inside (boundary included, within 1e-9 m).
// threshold: the local maximum is found by climbing from the voxel nearest `centre_m` to the largest
// neighbour (26-neighbourhood) while that is larger, within `radius_m` of the centre (0: anywhere); the
// region is the set of voxels connected to it (6-neighbourhood) whose value is >= fraction x the maximum.
struct Roi {
  std::string name;
  RoiShape shape = RoiShape::box;
  Eigen::Vector3d centre_m = Eigen::Vector3d::Zero();
  Eigen::Vector3d size_m = Eigen::Vector3d::Zero();  // box: edge lengths
  double radius_m = 0.0;                             // sphere: radius; threshold: search radius
  double threshold_fraction = 0.5;                   // threshold: in (0, 1)
  // > 0 (box and sphere): the local background is the mean of the voxels in a shell around the region: in
  // the box grown by this margin on every side (sphere: radius + margin) but not in the region.
  double background_margin_m = 0.0;
};

struct RoiStats {
  std::string name;
  std::size_t voxels = 0;
  double peak = 0.0;                                   // largest value in the region
  Eigen::Vector3d peak_at_m = Eigen::Vector3d::Zero();
  double sum = 0.0;                                    // plain sum of the values
  double mean = 0.0;                                   // sum / voxels
  double integral = 0.0;                               // sum x voxel measure (value m^d, d imaged axes)
  double voxel_measure = 0.0;                          // AnalysisImage::voxel_measure()
  std::size_t background_voxels = 0;                   // 0: no background subtracted
  double background_mean = 0.0;
  double net_sum = 0.0;                                // sum - voxels x background_mean
};

// Throws std::invalid_argument naming the region when its parameters are not usable (non-positive size or
// radius, fraction outside (0, 1), a background margin on a threshold region), when it holds no voxel of the
// image, or when its background shell holds none.
RoiStats roi_statistics(const AnalysisImage& image, const Roi& roi);

// The voxels of a region (sorted), for drawing or further statistics; same errors.
std::vector<std::size_t> roi_voxels(const AnalysisImage& image, const Roi& roi);

// ---- iron calibration and quantification

// Signal per iron mass from a reference region of known iron: net_sum / iron (per kg).
struct IronCalibration {
  std::string reference;
  double reference_signal = 0.0;  // its net_sum
  double reference_iron_kg = 0.0;
  double signal_per_kg = 0.0;
};

// Throws std::invalid_argument when the iron is not positive and finite or the reference signal is not
// positive (no tracer seen there).
IronCalibration calibrate_iron(const RoiStats& reference, double iron_kg);

// The iron in a region: net_sum / signal_per_kg (kg).
double quantify_iron_kg(const IronCalibration& calibration, const RoiStats& roi);

// Iron concentration in mol/m^3 (= mmol/L) of `iron_kg` in `volume_m3`; throws when the volume is not positive.
double iron_concentration_mol_per_m3(double iron_kg, double volume_m3);

}  // namespace mpi::recon
