#include "mpi/host/calibration_mdf.hpp"

#include <complex>
#include <numeric>
#include <optional>
#include <span>

namespace mpi::host {

namespace mdf = recon::mdf;

mdf::File calibration_mdf_metadata(const CalibrationAcquisition& a, const std::string& experiment, std::int64_t number, std::int64_t averages,
                                   std::size_t frames) {
  mdf::File f;
  f.uuid = mdf::make_uuid_v4();
  f.time = mdf::time_now();
  f.study = {a.study_name, 1, mdf::make_uuid_v4(), a.study_description, ""};
  f.experiment = {experiment, number, mdf::make_uuid_v4(), experiment, a.subject, a.is_simulation};
  f.scanner = {a.facility, "mpi", a.scanner_name, a.operator_name, "FFP", std::nullopt};
  f.tracer = {{a.tracer_name, "", "", a.tracer_volume_l, a.tracer_iron_mol_per_l, "Fe", ""}};
  mdf::Acquisition& q = f.acquisition;
  q.num_averages = averages;
  q.num_frames = static_cast<std::int64_t>(frames);
  q.num_periods_per_frame = 1;
  q.start_time = f.time;
  const std::size_t d = a.dividers.size();
  // MDF gives fields in units of T/mu0 (gradients T/m/mu0): the number stored is mu0 H in tesla, as the
  // scanner's own figures (12 mT, (-1, -1, 2) T/m).
  q.gradient = mdf::ArrayD({1, 1, 3, 3});
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) q.gradient.values[static_cast<std::size_t>(r * 3 + c)] = a.gradient_t_per_m(r, c);
  q.drivefield.base_frequency_hz = a.base_frequency_hz;
  q.drivefield.num_channels = static_cast<std::int64_t>(d);
  std::int64_t cycle = 1;
  for (std::int64_t v : a.dividers) cycle = std::lcm(cycle, v);
  q.drivefield.cycle_s = static_cast<double>(cycle) / a.base_frequency_hz;
  q.drivefield.divider = mdf::ArrayI({d, 1}, a.dividers);
  q.drivefield.waveform = mdf::Array<std::string>({d, 1}, std::vector<std::string>(d, "sine"));
  q.drivefield.phase_rad = mdf::ArrayD({1, d, 1}, a.phase_rad);
  q.drivefield.strength = mdf::ArrayD({1, d, 1}, a.strength_t);
  q.receiver.bandwidth_hz = a.sample_rate_hz / 2.0;
  q.receiver.num_channels = static_cast<std::int64_t>(a.channels);
  q.receiver.num_sampling_points = static_cast<std::int64_t>(a.samples);
  q.receiver.unit = "V";
  return f;
}

double unnormalised_dft_scale(std::size_t bin, std::size_t samples) {
  const bool edge = bin == 0 || (samples % 2 == 0 && bin == samples / 2);
  return edge ? static_cast<double>(samples) : static_cast<double>(samples) / 2.0;
}

void write_calibration_mdf(const std::string& path, const CalibrationAcquisition& a, const recon::VoxelGrid& grid,
                           const std::vector<Eigen::MatrixXcd>& positions, const std::vector<Eigen::MatrixXcd>& background,
                           const std::vector<std::size_t>& bins, const Eigen::MatrixXd& snr, double sample_edge_m, std::int64_t averages,
                           bool background_corrected) {
  const std::size_t n = positions.size() + background.size(), k = bins.size(), c = a.channels;
  mdf::File meta = calibration_mdf_metadata(a, "robot calibration", 1, averages, n);
  mdf::Calibration cal;
  cal.method = "robot";
  cal.size = {static_cast<std::int64_t>(grid.shape[0]), static_cast<std::int64_t>(grid.shape[1]), static_cast<std::int64_t>(grid.shape[2])};
  cal.field_of_view_m = {grid.fov_m.x(), grid.fov_m.y(), grid.fov_m.z()};
  cal.field_of_view_center_m = {grid.centre_m.x(), grid.centre_m.y(), grid.centre_m.z()};
  cal.snr = mdf::ArrayD({1, c, k});
  for (std::size_t ch = 0; ch < c; ++ch)
    for (std::size_t i = 0; i < k; ++i) cal.snr.values[ch * k + i] = snr(static_cast<Eigen::Index>(ch), static_cast<Eigen::Index>(i));
  cal.positions = mdf::ArrayD({positions.size(), 3});
  for (std::size_t v = 0; v < positions.size(); ++v) {
    const Eigen::Vector3d p = grid.position_m(v);
    for (int ax = 0; ax < 3; ++ax) cal.positions.values[v * 3 + static_cast<std::size_t>(ax)] = p[ax];
  }
  cal.delta_sample_size_m = {sample_edge_m, sample_edge_m, sample_edge_m};
  meta.calibration = cal;

  mdf::Writer w = mdf::Writer::create(path, meta);
  mdf::MeasurementSpec spec;
  spec.frames = n;
  spec.channels = c;
  spec.points = k;
  spec.fourier_transformed = true;
  spec.storage = mdf::StorageType::float64;
  spec.frequency_selection = bins;
  spec.background_corrected = background_corrected;
  w.begin_measurement(spec);
  std::vector<std::complex<double>> frame(c * k);
  auto put = [&](std::size_t at, const Eigen::MatrixXcd& s) {
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t i = 0; i < k; ++i)
        frame[ch * k + i] = s(static_cast<Eigen::Index>(bins[i]), static_cast<Eigen::Index>(ch)) * unnormalised_dft_scale(bins[i], a.samples);
    w.write_frames(at, std::span<const std::complex<double>>(frame));
  };
  for (std::size_t v = 0; v < positions.size(); ++v) put(v, positions[v]);
  for (std::size_t b = 0; b < background.size(); ++b) put(positions.size() + b, background[b]);
  std::vector<bool> flags(n, false);
  for (std::size_t b = positions.size(); b < n; ++b) flags[b] = true;
  w.set_background_frames(0, flags);
  w.finish();
}

void write_measurement_mdf(const std::string& path, const CalibrationAcquisition& a, const std::vector<Eigen::MatrixXd>& frames,
                           std::size_t background_count, const std::string& experiment) {
  const std::size_t n = frames.size(), c = a.channels, v = a.samples;
  mdf::Writer w = mdf::Writer::create(path, calibration_mdf_metadata(a, experiment, 2, 1, n));
  mdf::MeasurementSpec spec;
  spec.frames = n;
  spec.channels = c;
  spec.points = v;
  spec.storage = mdf::StorageType::float64;
  w.begin_measurement(spec);
  std::vector<double> frame(c * v);
  for (std::size_t f = 0; f < n; ++f) {
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t s = 0; s < v; ++s) frame[ch * v + s] = frames[f](static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(ch));
    w.write_frames(f, std::span<const double>(frame));
  }
  std::vector<bool> flags(n, false);
  for (std::size_t b = 0; b < background_count && b < n; ++b) flags[b] = true;
  w.set_background_frames(0, flags);
  w.finish();
}

}  // namespace mpi::host
