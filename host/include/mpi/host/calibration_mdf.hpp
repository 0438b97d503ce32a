// A robot calibration and a measurement as MDF v2 files (recon::mdf::Writer): a system matrix (calibration
// group) and a time-domain measurement that `mpi reconstruct` and other MPI software read. Written by
// `mpi calibrate` (calibration_run.hpp) and by the hardware-in-the-loop calibration test.
//
// System matrix, frequency domain: the calibration is built from frame spectra, so the file stores them as
// MDF tools do (the unnormalised DFT X_k; recon::FrameSpectrum's 2 X_k / V, X_k / V at DC and Nyquist,
// scaled back) and only the bins the reconstruction may use (/measurement/frequencySelection). Foreground
// frames in voxel order (x fastest, as calibration/size), each the mean of `averages` frames at one robot
// position, then the background frames, flagged; isBackgroundCorrected says whether the foreground frames
// already have the background subtracted. calibration/snr is 1 x C x K.
// Measurement, time domain: frames x 1 x channels x samples in volts, float64.
#pragma once

#include "mpi/recon/mdf.hpp"
#include "mpi/recon/system_matrix.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mpi::host {

// What both files share: the scanner, the drive as realised, the receiver and the delta sample.
struct CalibrationAcquisition {
  std::string scanner_name;              // /scanner/name
  std::string facility;                  // /scanner/facility
  std::string operator_name;             // /scanner/operator
  std::string study_name = "calibration";
  std::string study_description;
  std::string subject = "delta sample";  // /experiment/subject
  bool is_simulation = false;            // /experiment/isSimulation
  std::string tracer_name;
  Eigen::Matrix3d gradient_t_per_m = Eigen::Matrix3d::Zero();  // mu0 G (T/m), B = G r
  double base_frequency_hz = 0.0;
  std::vector<std::int64_t> dividers;    // per drive channel
  std::vector<double> strength_t;        // per drive channel (T)
  std::vector<double> phase_rad;         // per drive channel
  double sample_rate_hz = 0.0;
  std::size_t samples = 0;               // per frame (one drive cycle)
  std::size_t channels = 0;              // receive channels
  double tracer_iron_mol_per_l = 0.0;    // of the delta sample
  double tracer_volume_l = 0.0;
};

// The file's metadata (study, experiment, scanner, tracer, acquisition) for `frames` frames.
recon::mdf::File calibration_mdf_metadata(const CalibrationAcquisition& a, const std::string& experiment, std::int64_t number, std::int64_t averages,
                                          std::size_t frames);

// FrameSpectrum's value of bin `bin` of a frame of `samples` back to the unnormalised DFT: the factor.
double unnormalised_dft_scale(std::size_t bin, std::size_t samples);

// positions: per voxel (grid order) the spectrum (bins x channels, FrameSpectrum scaling) of the mean of
// `averages` frames with the robot's sample there (minus the background when background_corrected);
// background: spectra of frames without the sample, each the mean of `averages` frames; bins: the stored
// bins (ascending); snr: per channel and stored bin. Throws recon::mdf::MdfError when the file cannot be
// written.
void write_calibration_mdf(const std::string& path, const CalibrationAcquisition& a, const recon::VoxelGrid& grid,
                           const std::vector<Eigen::MatrixXcd>& positions, const std::vector<Eigen::MatrixXcd>& background,
                           const std::vector<std::size_t>& bins, const Eigen::MatrixXd& snr /* channels x bins */, double sample_edge_m,
                           std::int64_t averages, bool background_corrected = false);

// Frames (samples x channels, volts) in acquisition order; the first `background_count` are background.
void write_measurement_mdf(const std::string& path, const CalibrationAcquisition& a, const std::vector<Eigen::MatrixXd>& frames,
                           std::size_t background_count, const std::string& experiment = "measurement");

}  // namespace mpi::host
