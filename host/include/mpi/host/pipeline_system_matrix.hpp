// System-matrix reconstruction of scans that name a sequence of the scanner description (REFERENCE 3.3),
// built once at scan start from the plan, the scanner description and the drive the board realised, and
// run identically on live and replayed frames:
//   Frame --to-volts--> ADC volts per receive channel --spectrum--> recon::FrameSpectrum (plan made once)
//         --gather--> the selected rows u --tikhonov--> c = R [Re u; Im u] --> image (ug of iron per pixel)
// At construction: the model-based system matrix S (recon::model_system_matrix: the plan's tracer, the
// scanner's gradient, the realised drive, receive coils with their direction, sensitivity and LNA gain, so S
// is in ADC volts per kg of iron like the measured spectra) on the plan's image grid; row selection by SNR:
// each frame row's model energy (mean over voxels of |S_ij|^2, for the plan's snr_iron_ug in a voxel)
// against the receive noise of one frame expected from the scanner (noise density at the coil times the LNA gain over the band fs/2, plus the ADC's quantisation),
// band-limited at min_frequency and never on DC or a drive fundamental (the feedthrough); then the
// precomputed Tikhonov operator R = (S^T S + lambda I)^-1 S^T of the stacked real system.
#pragma once

#include "mpi/host/frame.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/pipeline_lissajous.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/row_selection.hpp"
#include "mpi/recon/sm_solvers.hpp"
#include "mpi/recon/system_matrix.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mpi::host {

// The recon::VoxelGrid whose voxels are the pixels of an image grid (same centres, same x-fastest order).
recon::VoxelGrid voxel_grid(const recon::ImageGrid& grid);

// Per frame row (channel * bins + bin): the standard deviation of the complex amplitude (FrameSpectrum's
// scaling) of the receive noise in ADC volts: 2 sigma / sqrt(N) (sigma / sqrt(N) at DC and Nyquist), with
// sigma^2 = (density * LNA gain)^2 fs / 2 + (ADC step)^2 / 12 per channel.
Eigen::VectorXd receive_row_noise(const ScannerDescription& scanner, std::size_t frame_samples, double sample_rate_hz);

// The most (frequency row, voxel) entries a system matrix may have: S (complex double) and the Tikhonov
// operator (double and float) take about 56 bytes per entry, so about 0.9 GB at this limit.
inline constexpr std::size_t kMaxSystemMatrixEntries = 16'000'000;

// Refuses a grid whose system matrix could exceed kMaxSystemMatrixEntries: at most max_rows rows (or every
// row of every receive channel at or above min_frequency) x the grid's voxels. Throws PlanError naming the
// plan file and the [reconstruction] key (counts or pixel_mm). frame_samples: of one frame.
void check_system_matrix_size(const ScanPlan& plan, const ScannerDescription& scanner, const recon::ImageGrid& grid,
                              std::size_t frame_samples, double sample_rate_hz);

// The model description of the scan's system matrix (exposed for tests).
recon::ModelSystemMatrixSpec system_matrix_spec(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup);

// What was built at scan start, for the report.
struct SystemMatrixSummary {
  std::size_t frame_rows = 0;     // channels x bins of a frame
  std::size_t selected_rows = 0;
  std::size_t voxels = 0;
  double lambda = 0.0;            // absolute
  double min_snr = 0.0;           // the plan's threshold
  double snr_iron_kg = 0.0;       // for this iron in a voxel
  double build_s_seconds = 0.0;   // survey and system matrix
  double build_r_seconds = 0.0;   // Tikhonov operator
  [[nodiscard]] std::string text() const;
};

class SystemMatrixPipeline {
 public:
  // Throws PlanError for a plan that does not fit the scanner (also when no row reaches min_snr),
  // std::invalid_argument for an unusable setup.
  SystemMatrixPipeline(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup);
  // One frame to its image (image_size() values, ug of iron per pixel). Internal buffers: one thread at a time.
  void process(const Frame& frame, std::span<double> image);
  [[nodiscard]] std::size_t image_size() const noexcept { return grid_.pixels(); }
  [[nodiscard]] const recon::ImageGrid& grid() const noexcept { return grid_; }
  [[nodiscard]] const recon::SystemMatrix& system_matrix() const noexcept { return s_; }
  [[nodiscard]] const recon::RowSelection& selection() const noexcept { return selection_; }
  [[nodiscard]] const SystemMatrixSummary& summary() const noexcept { return summary_; }
  // Subtracts this background's mean frame in the to-volts stage (kept by the caller; null: none).
  void set_background(const BackgroundFrame* background) noexcept { to_volts_.background = background; }

 private:
  recon::ImageGrid grid_;
  ToChannelVolts to_volts_;
  recon::FrameSpectrum spectrum_;
  recon::RowSelection selection_;
  recon::SystemMatrix s_;
  std::unique_ptr<recon::TikhonovOperator> operator_;
  SystemMatrixSummary summary_;
  std::vector<double> volts_;
  Eigen::VectorXcd u_;
  Eigen::VectorXf c_;
};

}  // namespace mpi::host
