#include "mpi/host/pipeline_system_matrix.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mpi::host {

namespace {

template <typename Function>
void run_stage(const char* name, Function&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("stage ") + name + ": " + e.what());
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::size_t frame_samples_of(const AcquisitionSetup& setup) {
  if (setup.samples_per_period == 0 || !(setup.sample_rate_hz > 0.0)) throw std::invalid_argument("acquisition: no sample rate or cycle");
  if (setup.drives.empty()) throw std::invalid_argument("acquisition: no realised drive channel");
  return std::size_t{setup.samples_per_period} * setup.periods_per_frame;
}

recon::FrameGeometry frame_geometry(const ScannerDescription& scanner, const AcquisitionSetup& setup) {
  recon::FrameGeometry g;
  g.samples_per_frame = frame_samples_of(setup);
  g.channels = scanner.receivers.size();
  g.sample_rate_hz = setup.sample_rate_hz;
  for (const std::uint32_t channel : setup.drive_channels) {
    if (channel >= scanner.drives.size()) throw std::invalid_argument("drive channel " + std::to_string(channel) + " not in the scanner description");
    g.drive_frequencies_hz.push_back(scanner.drives[channel].frequency_hz());  // nominal: whole cycles per frame
  }
  return g;
}

std::vector<double> adc_volts_per_code(const ScannerDescription& scanner) {
  if (scanner.receivers.empty()) throw PlanError(scanner.file.string() + ": [[receive.channel]]: system-matrix reconstruction needs a receive channel");
  return std::vector<double>(scanner.receivers.size(), scanner.adc_full_scale_v / 32767.0);
}

}  // namespace

recon::VoxelGrid voxel_grid(const recon::ImageGrid& grid) {
  recon::VoxelGrid v;
  for (std::size_t a = 0; a < 3; ++a) {
    const auto i = static_cast<Eigen::Index>(a);
    v.shape[a] = static_cast<std::size_t>(grid.counts[a]);
    v.fov_m(i) = grid.counts[a] * grid.pixel_m(i);
    v.centre_m(i) = grid.origin_m(i) + 0.5 * (grid.counts[a] - 1) * grid.pixel_m(i);
  }
  return v;
}

Eigen::VectorXd receive_row_noise(const ScannerDescription& scanner, std::size_t frame_samples, double sample_rate_hz) {
  const std::size_t bins = frame_samples / 2 + 1;
  const double step = scanner.adc_full_scale_v / 32767.0;
  Eigen::VectorXd noise(static_cast<Eigen::Index>(bins * scanner.receivers.size()));
  for (std::size_t c = 0; c < scanner.receivers.size(); ++c) {
    const ReceiveChannelInfo& r = scanner.receivers[c];
    const double density = r.noise_density_v_per_sqrt_hz * r.lna_gain;
    const double sigma = std::sqrt(density * density * sample_rate_hz / 2.0 + step * step / 12.0);
    for (std::size_t k = 0; k < bins; ++k) {
      const bool edge = k == 0 || 2 * k == frame_samples;
      noise(static_cast<Eigen::Index>(c * bins + k)) = (edge ? 1.0 : 2.0) * sigma / std::sqrt(static_cast<double>(frame_samples));
    }
  }
  return noise;
}

void check_system_matrix_size(const ScanPlan& plan, const ScannerDescription& scanner, const recon::ImageGrid& grid,
                              std::size_t frame_samples, double sample_rate_hz) {
  const ReconstructionPlan& r = plan.reconstruction;
  const std::size_t bins = frame_samples / 2 + 1;
  const double bin_hz = sample_rate_hz / static_cast<double>(frame_samples);
  const auto first = static_cast<std::size_t>(std::ceil(r.min_frequency_hz / bin_hz - 1e-9));
  std::size_t rows = scanner.receivers.size() * (bins > first ? bins - first : 0);
  if (r.max_rows > 0) rows = std::min<std::size_t>(rows, r.max_rows);
  const std::size_t voxels = grid.pixels();
  if (rows > 0 && voxels > kMaxSystemMatrixEntries / rows) {
    std::ostringstream why;
    why << plan.file.string() << ": [reconstruction] " << (r.counts.empty() ? "pixel_mm" : "counts") << ": the system matrix would have up to "
        << rows << " frequency rows x " << voxels << " voxels = " << static_cast<double>(rows) * static_cast<double>(voxels) / 1e6
        << " million entries (about " << static_cast<double>(rows) * static_cast<double>(voxels) * 56.0 / 1e9
        << " GB with its Tikhonov operator), more than the limit of " << kMaxSystemMatrixEntries / 1'000'000
        << " million; use fewer voxels or cap the rows with max_rows";
    throw PlanError(why.str());
  }
}

recon::ModelSystemMatrixSpec system_matrix_spec(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup) {
  recon::ModelSystemMatrixSpec spec;
  recon::TracerMode mode;
  mode.name = plan.tracer_file.stem().string();
  mode.tracer = plan.tracer;
  mode.tau_s = plan.tracer_tau_s;
  spec.tracer.modes.push_back(mode);
  spec.gradient_t_per_m = scanner.gradient_matrix_t_per_m;
  spec.drive = recon::DriveTrajectory(setup.drives);
  spec.sample_rate_hz = setup.sample_rate_hz;
  spec.frame_samples = frame_samples_of(setup);
  spec.frame_start_s = static_cast<double>(setup.first_frame_sample) / setup.sample_rate_hz;
  for (const ReceiveChannelInfo& r : scanner.receivers) spec.channels.push_back({r.axis, r.coil_sensitivity_t_per_a, r.lna_gain});
  spec.grid = voxel_grid(plan_image_grid(plan, scanner.gradient_matrix_t_per_m, setup.drives));
  spec.voxel_iron_kg = 1e-9;  // 1 ug: S per kg either way
  spec.relaxation = true;
  spec.threads = 2;
  return spec;
}

std::string SystemMatrixSummary::text() const {
  std::ostringstream out;
  out << "system matrix: " << selected_rows << " of " << frame_rows << " frequency rows (SNR >= " << min_snr << " for " << snr_iron_kg * 1e9
      << " ug in a voxel) x "
      << voxels << " voxels; lambda " << lambda << "; built S in " << build_s_seconds << " s, Tikhonov operator in "
      << build_r_seconds << " s\n";
  return out.str();
}

SystemMatrixPipeline::SystemMatrixPipeline(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup)
    : grid_(plan_image_grid(plan, scanner.gradient_matrix_t_per_m, setup.drives)),
      to_volts_{adc_volts_per_code(scanner), frame_samples_of(setup)},
      spectrum_(frame_geometry(scanner, setup)),
      volts_(scanner.receivers.size() * to_volts_.samples_per_frame) {
  const ReconstructionPlan& r = plan.reconstruction;
  const auto start = std::chrono::steady_clock::now();
  const recon::ModelSystemMatrixSpec spec = system_matrix_spec(plan, scanner, setup);
  const std::size_t n = spec.frame_samples;
  const recon::FrameRows rows = recon::frame_rows(spec.channels.size(), n, spec.sample_rate_hz);

  // Row energies: from the whole matrix on small grids whose every row fits in memory (then kept), else from
  // a survey of every k-th voxel (a few hundred voxels: the energies are means over the grid).
  const std::size_t voxels = spec.grid.voxels();
  check_system_matrix_size(plan, scanner, grid_, n, spec.sample_rate_hz);
  recon::SystemMatrix full;
  Eigen::VectorXd energy;
  if (voxels <= 1024 && rows.channels.size() * voxels <= 4'000'000) {
    full = recon::model_system_matrix(spec);
    energy = full.matrix.cwiseAbs2().rowwise().mean();
  } else {
    energy = recon::model_row_energies(spec, std::max<std::size_t>(1, voxels / 256));
  }
  // Never DC nor a drive fundamental: the feedthrough region.
  std::vector<std::size_t> excluded = spectrum_.drive_bin_indices();
  excluded.push_back(0);
  const std::size_t bins = n / 2 + 1;
  for (std::size_t c = 0; c < spec.channels.size(); ++c) {
    for (const std::size_t k : excluded) energy(static_cast<Eigen::Index>(c * bins + k)) = 0.0;
  }
  // S is per kg: the noise in the same units for snr_iron_kg of iron in a voxel.
  const Eigen::VectorXd snr = recon::row_snr_from_energy(energy, receive_row_noise(scanner, n, spec.sample_rate_hz) / r.snr_iron_kg);
  recon::RowSelectionOptions options;
  options.min_snr = r.min_snr;
  options.min_frequency_hz = r.min_frequency_hz;
  options.max_rows = r.max_rows;
  selection_ = recon::select_rows(rows.frequencies_hz, rows.channels, snr, options);
  if (selection_.count() == 0) {
    std::ostringstream why;
    why << plan.file.string() << ": [reconstruction] min_snr: no frequency row at or above " << r.min_frequency_hz / 1e3
        << " kHz reaches an SNR of " << r.min_snr << " (the best has " << (snr.size() > 0 ? snr.maxCoeff() : 0.0) << ")";
    throw PlanError(why.str());
  }
  s_ = full.rows() > 0 ? full.subset(selection_.rows) : recon::model_system_matrix(spec, selection_.rows);
  summary_.build_s_seconds = seconds_since(start);

  const auto start_r = std::chrono::steady_clock::now();
  recon::TikhonovOptions tikhonov;
  tikhonov.relative_lambda = r.relative_lambda;
  tikhonov.non_negative = r.non_negative;
  tikhonov.build_threads = 2;
  operator_ = std::make_unique<recon::TikhonovOperator>(s_.matrix, tikhonov);
  summary_.build_r_seconds = seconds_since(start_r);

  summary_.frame_rows = rows.channels.size();
  summary_.selected_rows = selection_.count();
  summary_.voxels = voxels;
  summary_.lambda = operator_->lambda();
  summary_.min_snr = r.min_snr;
  summary_.snr_iron_kg = r.snr_iron_kg;
}

void SystemMatrixPipeline::process(const Frame& frame, std::span<double> image) {
  if (image.size() != image_size()) throw std::logic_error("system-matrix pipeline: image size");
  run_stage(ToChannelVolts::name.data(), [&] { to_volts_(frame, std::span<double>(volts_)); });
  run_stage("spectrum", [&] {
    const Eigen::Map<const Eigen::MatrixXd> samples(volts_.data(), static_cast<Eigen::Index>(to_volts_.samples_per_frame),
                                                    static_cast<Eigen::Index>(to_volts_.volts_per_code.size()));
    spectrum_.transform_channels(samples);
  });
  run_stage("gather", [&] { s_.gather(spectrum_.spectrum(), u_); });
  run_stage("tikhonov", [&] { operator_->apply(u_, c_); });
  // c is kg of iron per voxel of the matrix's unit: ug per pixel.
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<double>(c_(static_cast<Eigen::Index>(i))) * 1e9;
}

}  // namespace mpi::host
