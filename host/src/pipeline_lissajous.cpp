#include "mpi/host/pipeline_lissajous.hpp"

#include "mpi/host/background_stage.hpp"

#include "mpi/recon/constants.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/tracer.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace mpi::host {

namespace {

template <typename Stage, typename... Args>
void run_stage(const Stage& stage, Args&&... args) {
  try {
    stage(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    throw std::runtime_error("stage " + std::string(Stage::name) + ": " + e.what());
  }
}

[[noreturn]] void fail(const ScanPlan& plan, const std::string& key, const std::string& why) {
  throw PlanError(plan.file.string() + ": [reconstruction] " + key + ": " + why);
}

// sum_i w_i m_i^2 / (kB T): volts per unit image and unit coil sensitivity (recon/xspace_gridding.hpp).
double moment_scale(const recon::Tracer& tracer) {
  const recon::ParticleEnsemble ensemble(tracer);
  double m2 = 0.0;
  for (const auto& c : ensemble.classes()) m2 += c.number_fraction * c.moment_a_m2 * c.moment_a_m2;
  return m2 / (recon::kBoltzmann * tracer.temperature_k);
}

}  // namespace

recon::ImageGrid plan_image_grid(const ScanPlan& plan, const Eigen::Matrix3d& gradient, const std::vector<recon::DriveComponent>& drives) {
  if (!gradient.allFinite() || std::abs(gradient.determinant()) < 1e-12) {
    throw PlanError(plan.file.string() + ": the scanner's selection gradient is singular: no field-free point for x-space");
  }
  const Eigen::Matrix3d inverse = gradient.inverse();
  Eigen::Vector3d extent = Eigen::Vector3d::Zero();  // largest FFP excursion per axis
  for (const recon::DriveComponent& d : drives) extent += (inverse * d.direction * d.amplitude_t).cwiseAbs();
  const double largest = extent.maxCoeff();
  std::vector<int> axes;
  for (int a = 0; a < 3; ++a) {
    if (extent(a) > 1e-6 * largest && largest > 0.0) axes.push_back(a);
  }
  const ReconstructionPlan& r = plan.reconstruction;
  const char* names = "xyz";
  std::string imaged;
  for (const int a : axes) imaged += names[a];
  if (!r.fov_m.empty() && r.fov_m.size() != axes.size()) {
    fail(plan, "fov_mm", "has " + std::to_string(r.fov_m.size()) + " entries; the sequence images " + std::to_string(axes.size()) +
                             " axes (" + imaged + ")");
  }
  if (!r.counts.empty() && r.counts.size() != axes.size()) {
    fail(plan, "counts", "has " + std::to_string(r.counts.size()) + " entries; the sequence images " + std::to_string(axes.size()) +
                             " axes (" + imaged + ")");
  }
  recon::ImageGrid grid;
  grid.pixel_m = Eigen::Vector3d::Constant(r.pixel_m);
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const int a = axes[k];
    int n = 0;
    if (!r.counts.empty()) {
      n = static_cast<int>(r.counts[k]);
    } else {
      const double fov = r.fov_m.empty() ? 2.0 * extent(a) : r.fov_m[k];
      n = 2 * static_cast<int>(std::floor(fov / (2.0 * r.pixel_m) + 1e-9)) + 1;
    }
    if (n > 4096) fail(plan, r.counts.empty() ? "pixel_mm" : "counts", "more than 4096 pixels along " + std::string(1, names[a]));
    grid.counts[static_cast<std::size_t>(a)] = n;
    grid.origin_m(a) = -0.5 * (n - 1) * r.pixel_m;
  }
  if (grid.pixels() > 16'000'000) fail(plan, "pixel_mm", "the image would have more than 16 million pixels");
  return grid;
}

void ToChannelVolts::operator()(const Frame& frame, std::span<double> out) const {
  const std::size_t channels = volts_per_code.size();
  if (frame.channels < channels) throw std::runtime_error("frame has " + std::to_string(frame.channels) + " channels, fewer than the receive channels");
  if (frame.samples.size() != samples_per_frame * frame.channels) throw std::runtime_error("frame has the wrong number of samples");
  if (out.size() != channels * samples_per_frame) throw std::logic_error("to-volts: output size");
  const std::size_t stride = frame.channels;
  for (std::size_t c = 0; c < channels; ++c) {
    const double k = volts_per_code[c];
    double* dst = out.data() + c * samples_per_frame;
    const std::int16_t* src = frame.samples.data() + c;
    if (background != nullptr) {
      background->check_frame(frame);
      const double* mean = background->mean_codes().data() + c;
      for (std::size_t i = 0; i < samples_per_frame; ++i) dst[i] = k * (src[i * stride] - mean[i * stride]);
      continue;
    }
    for (std::size_t i = 0; i < samples_per_frame; ++i) dst[i] = k * src[i * stride];
  }
}

RemoveFeedthrough::RemoveFeedthrough(std::size_t samples_per_frame, std::vector<std::size_t> bins) : n_(samples_per_frame), bins_(std::move(bins)) {
  if (n_ == 0) throw std::invalid_argument("feedthrough: empty frame");
  std::sort(bins_.begin(), bins_.end());
  bins_.erase(std::unique(bins_.begin(), bins_.end()), bins_.end());
  for (const std::size_t k : bins_) {
    if (k > n_ / 2) throw std::invalid_argument("feedthrough: bin " + std::to_string(k) + " above the Nyquist bin");
    if (k == 0 || 2 * k == n_) continue;
    for (std::size_t j = 0; j < n_; ++j) {
      // (k j) mod n keeps the argument exact for long frames.
      const double angle = 2.0 * std::numbers::pi * static_cast<double>((k * j) % n_) / static_cast<double>(n_);
      cos_.push_back(std::cos(angle));
      sin_.push_back(std::sin(angle));
    }
  }
}

void RemoveFeedthrough::operator()(std::span<double> data) const {
  if (data.size() % n_ != 0) throw std::runtime_error("feedthrough: data is not a whole number of frames");
  const double inv_n = 1.0 / static_cast<double>(n_);
  for (std::size_t offset = 0; offset < data.size(); offset += n_) {
    double* x = data.data() + offset;
    std::size_t table = 0;
    for (const std::size_t k : bins_) {
      if (k == 0 || 2 * k == n_) {
        // DC: the mean; Nyquist: the alternating component.
        double s = 0.0;
        for (std::size_t j = 0; j < n_; ++j) s += (k == 0 || j % 2 == 0) ? x[j] : -x[j];
        const double a = s * inv_n;
        for (std::size_t j = 0; j < n_; ++j) x[j] -= (k == 0 || j % 2 == 0) ? a : -a;
        continue;
      }
      const double* c = cos_.data() + table * n_;
      const double* s = sin_.data() + table * n_;
      ++table;
      double a = 0.0, b = 0.0;
      for (std::size_t j = 0; j < n_; ++j) {
        a += x[j] * c[j];
        b += x[j] * s[j];
      }
      a *= 2.0 * inv_n;
      b *= 2.0 * inv_n;
      for (std::size_t j = 0; j < n_; ++j) x[j] -= a * c[j] + b * s[j];
    }
  }
}

recon::XSpaceGriddingConfig lissajous_gridding_config(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup) {
  if (setup.samples_per_period == 0 || !(setup.sample_rate_hz > 0.0)) throw std::invalid_argument("acquisition: no sample rate or cycle");
  if (setup.drives.empty()) throw std::invalid_argument("acquisition: no realised drive channel");
  if (scanner.receivers.empty()) throw PlanError(scanner.file.string() + ": [[receive.channel]]: x-space needs a receive channel");
  recon::XSpaceGriddingConfig c;
  c.gradient_t_per_m = scanner.gradient_matrix_t_per_m;
  c.sample_rate_hz = setup.sample_rate_hz;
  c.frame_samples = std::size_t{setup.samples_per_period} * setup.periods_per_frame;
  c.first_sample = setup.first_frame_sample;
  for (const ReceiveChannelInfo& r : scanner.receivers) c.receive_directions.push_back(r.axis);
  c.grid = plan_image_grid(plan, scanner.gradient_matrix_t_per_m, setup.drives);
  c.min_speed_fraction = plan.reconstruction.min_speed_fraction;
  c.signal_scale = moment_scale(plan.tracer);
  c.weights = plan.reconstruction.nearest_weights ? recon::GriddingWeights::kNearest : recon::GriddingWeights::kLinear;
  return c;
}

namespace {

std::vector<std::size_t> feedthrough_bins(const ScannerDescription& scanner, const AcquisitionSetup& setup, std::size_t samples_per_frame) {
  recon::FrameGeometry geometry;
  geometry.samples_per_frame = samples_per_frame;
  geometry.channels = scanner.receivers.size();
  geometry.sample_rate_hz = setup.sample_rate_hz;
  for (const std::uint32_t channel : setup.drive_channels) {
    if (channel >= scanner.drives.size()) throw std::invalid_argument("drive channel " + std::to_string(channel) + " not in the scanner description");
    geometry.drive_frequencies_hz.push_back(scanner.drives[channel].frequency_hz());  // nominal: whole cycles per frame
  }
  std::vector<std::size_t> bins = recon::drive_bins(geometry);
  bins.push_back(0);
  return bins;
}

std::vector<double> volts_per_code(const ScannerDescription& scanner) {
  std::vector<double> out;
  for (const ReceiveChannelInfo& r : scanner.receivers) out.push_back(scanner.adc_full_scale_v / 32767.0 / r.lna_gain / r.coil_sensitivity_t_per_a);
  return out;
}

}  // namespace

LissajousPipeline::LissajousPipeline(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup)
    : to_volts_{volts_per_code(scanner), std::size_t{setup.samples_per_period} * setup.periods_per_frame},
      feedthrough_(to_volts_.samples_per_frame, feedthrough_bins(scanner, setup, to_volts_.samples_per_frame)),
      gridding_(recon::DriveTrajectory(setup.drives), lissajous_gridding_config(plan, scanner, setup)),
      volts_(scanner.receivers.size() * to_volts_.samples_per_frame) {}

void LissajousPipeline::process(const Frame& frame, std::span<double> image) {
  run_stage(to_volts_, frame, std::span<double>(volts_));
  run_stage(feedthrough_, std::span<double>(volts_));
  run_stage(GridXSpace{&gridding_}, std::span<const double>(volts_), image);
}

void ImageAccumulator::add(std::span<const double> image) {
  if (frames_ == 0) sum_.assign(image.size(), 0.0);
  if (image.size() != sum_.size()) throw std::runtime_error("image size changed between frames");
  for (std::size_t i = 0; i < image.size(); ++i) sum_[i] += image[i];
  ++frames_;
}

std::vector<double> ImageAccumulator::mean() const {
  std::vector<double> out(sum_.size());
  const double inv = frames_ == 0 ? 0.0 : 1.0 / static_cast<double>(frames_);
  for (std::size_t i = 0; i < sum_.size(); ++i) out[i] = sum_[i] * inv;
  return out;
}

}  // namespace mpi::host
