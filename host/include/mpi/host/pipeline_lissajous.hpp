// The reconstruction pipeline of scans that name a sequence of the scanner description (1D, 2D or 3D
// Lissajous): x-space on an image grid, built from the scan plan, the scanner description and the drive
// the board realised, run identically on live and replayed frames:
//   Frame --to-volts--> volts per receive channel --feedthrough--> the drive fundamentals and DC removed
//         --xspace-grid--> image (recon::XSpaceGridding with the scanner's full gradient matrix)
// Each stage is a function object; an error raised inside a stage is rethrown naming the stage.
#pragma once

#include "mpi/host/frame.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/xspace_gridding.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mpi::host {

// An image on a grid: values[grid.index(ix, iy, iz)].
struct GridImage {
  recon::ImageGrid grid;
  std::vector<double> values;
};

// The plan's image grid for a drive: the axes along which the FFP moves are imaged (pixel_mm, and fov_mm or
// counts per imaged axis, x y z order; default the drive field's FOV), the others collapsed. Grids are
// centred on the origin with an odd pixel count, so a pixel is centred there. Throws PlanError naming the
// plan file and the [reconstruction] key.
recon::ImageGrid plan_image_grid(const ScanPlan& plan, const Eigen::Matrix3d& gradient_t_per_m,
                                 const std::vector<recon::DriveComponent>& drives);

// Receive channels of an interleaved frame in volts per unit coil sensitivity (V A / T), channel-major.
struct ToChannelVolts {
  static constexpr std::string_view name = "to-volts";
  std::vector<double> volts_per_code;  // per receive channel: ADC full scale / 32767 / LNA gain / coil sensitivity
  std::size_t samples_per_frame = 0;
  const BackgroundFrame* background = nullptr;  // its mean frame is subtracted from the codes first (background_stage.hpp)
  void operator()(const Frame& frame, std::span<double> out) const;
};

// Removes the listed rFFT bins (0 = DC; the drive fundamentals) of each channel exactly, by subtracting the
// signal's projection on them: the frame holds whole cycles of each, so the bins are orthogonal and this is
// the same as zeroing them in the spectrum.
class RemoveFeedthrough {
 public:
  static constexpr std::string_view name = "feedthrough";
  RemoveFeedthrough(std::size_t samples_per_frame, std::vector<std::size_t> bins);
  void operator()(std::span<double> channel_major) const;
  [[nodiscard]] const std::vector<std::size_t>& bins() const noexcept { return bins_; }

 private:
  std::size_t n_;
  std::vector<std::size_t> bins_;
  std::vector<double> cos_, sin_;  // [bin][sample], bins other than 0 and n/2
};

struct GridXSpace {
  static constexpr std::string_view name = "xspace-grid";
  const recon::XSpaceGridding* gridding;
  void operator()(std::span<const double> channel_major, std::span<double> image) const { gridding->apply(channel_major, image); }
};

class LissajousPipeline {
 public:
  // Throws PlanError for a plan that does not fit the scanner, std::invalid_argument for an unusable setup.
  LissajousPipeline(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup);
  // One frame to its image (image_size() values). Uses internal buffers: one thread at a time.
  void process(const Frame& frame, std::span<double> image);
  [[nodiscard]] std::size_t image_size() const noexcept { return gridding_.image_size(); }
  [[nodiscard]] const recon::ImageGrid& grid() const noexcept { return gridding_.config().grid; }
  [[nodiscard]] const recon::XSpaceGridding& gridding() const noexcept { return gridding_; }
  [[nodiscard]] const RemoveFeedthrough& feedthrough() const noexcept { return feedthrough_; }
  // Subtracts this background's mean frame in the to-volts stage (kept by the caller; null: none).
  void set_background(const BackgroundFrame* background) noexcept { to_volts_.background = background; }

 private:
  ToChannelVolts to_volts_;
  RemoveFeedthrough feedthrough_;
  recon::XSpaceGridding gridding_;
  std::vector<double> volts_;
};

// The recon::XSpaceGridding configuration the pipeline uses (exposed for tests).
recon::XSpaceGriddingConfig lissajous_gridding_config(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup);

// Pixel-wise mean of images, in the order they were added.
class ImageAccumulator {
 public:
  void add(std::span<const double> image);
  [[nodiscard]] std::vector<double> mean() const;
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }

 private:
  std::vector<double> sum_;
  std::uint64_t frames_ = 0;
};

}  // namespace mpi::host
