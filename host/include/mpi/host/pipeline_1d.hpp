// The 1D reconstruction pipeline: a chain of typed stages, built from the scan plan and the realised
// acquisition parameters, and run identically on live and replayed frames:
//   Frame --to-volts--> Signal --average-periods--> Signal --remove-harmonics--> Signal --xspace-1d--> Profile1D
// Each stage is a pure function object; an error raised inside a stage is rethrown naming the stage.
#pragma once

#include "mpi/host/frame.hpp"
#include "mpi/host/scan_plan.hpp"
#include "mpi/recon/drive_field.hpp"
#include "mpi/recon/lissajous.hpp"
#include "mpi/recon/xspace_1d.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace mpi::host {

class BackgroundFrame;  // background_stage.hpp

// Samples of one receive channel in volts at the coil, located on the sample clock.
struct Signal {
  std::uint64_t first_sample = 0;
  std::uint32_t periods = 0;
  std::vector<double> volts;
};

// Everything the pipeline needs to know about the acquisition, as realised by the board.
struct AcquisitionSetup {
  double sample_rate_hz = 0.0;
  std::uint32_t samples_per_period = 0;  // 1D: one drive period; a named sequence: one cycle of all its drives
  std::uint32_t receive_channel = 0;
  recon::SineDrive drive;                // drive channel 0 (1D)
  // Named sequences: every realised drive channel (its coil's axis, amplitude, frequency, phase), the
  // nominal cycle, and where frames start.
  std::vector<recon::DriveComponent> drives;
  std::vector<std::uint32_t> drive_channels;
  std::uint32_t periods_per_frame = 1;
  std::uint32_t adc_channels = 0;
  std::uint64_t first_frame_sample = 0;
};

struct ToVolts {
  static constexpr std::string_view name = "to-volts";
  std::uint32_t channel;
  std::uint32_t samples_per_period;
  double volts_per_code;  // at the coil: ADC full scale / 32767 / LNA gain
  const BackgroundFrame* background = nullptr;  // subtracted from the codes first (background_stage.hpp); null: none
  Signal operator()(const Frame& frame) const;
};

struct AveragePeriods {
  static constexpr std::string_view name = "average-periods";
  std::uint32_t samples_per_period;
  Signal operator()(const Signal& in) const;
};

struct RemoveHarmonics {
  static constexpr std::string_view name = "remove-harmonics";
  std::vector<int> harmonics;  // 0 = DC (ADC offset), 1 = fundamental (drive feedthrough)
  Signal operator()(Signal in) const;
};

struct XSpace1D {
  static constexpr std::string_view name = "xspace-1d";
  double sample_rate_hz;
  recon::SineDrive drive;
  recon::XSpace1DConfig config;
  recon::Profile1D operator()(const Signal& in) const;
};

class Pipeline1D {
 public:
  Pipeline1D(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup);
  [[nodiscard]] recon::Profile1D process(const Frame& frame) const;
  [[nodiscard]] const recon::XSpace1DConfig& xspace_config() const noexcept { return xspace_.config; }
  // Subtracts this background's mean frame in the to-volts stage (kept by the caller; null: none).
  void set_background(const BackgroundFrame* background) noexcept { to_volts_.background = background; }

 private:
  ToVolts to_volts_;
  AveragePeriods average_;
  RemoveHarmonics remove_;
  XSpace1D xspace_;
};

// Averages profiles frame by frame (pixel-wise mean, NaN where a pixel was never sampled).
class ProfileAccumulator {
 public:
  void add(const recon::Profile1D& profile);
  [[nodiscard]] recon::Profile1D mean() const;
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }

 private:
  recon::Profile1D sum_;
  std::vector<std::uint32_t> counts_;
  std::uint64_t frames_ = 0;
};

}  // namespace mpi::host
