#include "mpi/host/pipeline_1d.hpp"

#include "mpi/host/background_stage.hpp"
#include "mpi/recon/constants.hpp"
#include "mpi/recon/spectrum.hpp"
#include "mpi/recon/tracer.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mpi::host {

namespace {

template <typename Stage, typename In>
auto run_stage(const Stage& stage, In&& in) {
  try {
    return stage(std::forward<In>(in));
  } catch (const std::exception& e) {
    throw std::runtime_error("stage " + std::string(Stage::name) + ": " + e.what());
  }
}

// Volts per unit of the x-space image: p * sum_i w_i m_i^2 / (kB T) (recon/xspace_1d.hpp).
double signal_scale(const recon::Tracer& tracer, double coil_sensitivity_t_per_a) {
  const recon::ParticleEnsemble ensemble(tracer);
  double m2 = 0.0;
  for (const auto& c : ensemble.classes()) m2 += c.number_fraction * c.moment_a_m2 * c.moment_a_m2;
  return coil_sensitivity_t_per_a * m2 / (recon::kBoltzmann * tracer.temperature_k);
}

}  // namespace

Signal ToVolts::operator()(const Frame& frame) const {
  if (channel >= frame.channels) throw std::runtime_error("receive channel " + std::to_string(channel) + " not in frame");
  const std::size_t n = frame.samples.size() / frame.channels;
  if (n % samples_per_period != 0) throw std::runtime_error("frame does not hold whole drive periods");
  Signal out{frame.first_sample, static_cast<std::uint32_t>(n / samples_per_period), std::vector<double>(n)};
  if (background != nullptr) {
    background->check_frame(frame);
    for (std::size_t i = 0; i < n; ++i) out.volts[i] = (frame.samples[i * frame.channels + channel] - background->code(i, channel)) * volts_per_code;
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) out.volts[i] = frame.samples[i * frame.channels + channel] * volts_per_code;
  return out;
}

Signal AveragePeriods::operator()(const Signal& in) const {
  return Signal{in.first_sample, 1, recon::average_periods(in.volts, samples_per_period)};
}

Signal RemoveHarmonics::operator()(Signal in) const {
  recon::remove_harmonics(in.volts, in.periods, harmonics);
  return in;
}

recon::Profile1D XSpace1D::operator()(const Signal& in) const {
  return recon::reconstruct_xspace_1d(in.volts, in.first_sample, sample_rate_hz, drive, config);
}

Pipeline1D::Pipeline1D(const ScanPlan& plan, const ScannerDescription& scanner, const AcquisitionSetup& setup)
    : to_volts_{setup.receive_channel, setup.samples_per_period, scanner.adc_full_scale_v / 32767.0 / scanner.lna_gain},
      average_{setup.samples_per_period},
      remove_{{0, 1}},
      xspace_{setup.sample_rate_hz, setup.drive, {}} {
  if (setup.samples_per_period == 0 || !(setup.sample_rate_hz > 0.0)) throw std::invalid_argument("acquisition: no sample rate or period");
  const double half_fov = std::abs(setup.drive.amplitude_t) / scanner.gradient_t_per_m;
  recon::XSpace1DConfig& c = xspace_.config;
  c.gradient_t_per_m = scanner.gradient_t_per_m;
  c.pixel_m = plan.reconstruction.pixel_m;
  c.fov_min_m = -half_fov;
  c.fov_max_m = half_fov;
  c.min_speed_fraction = plan.reconstruction.min_speed_fraction;
  c.signal_scale = signal_scale(plan.tracer, scanner.coil_sensitivity_t_per_a);
  c.dc_recovery = true;
}

recon::Profile1D Pipeline1D::process(const Frame& frame) const {
  Signal volts = run_stage(to_volts_, frame);
  Signal period = run_stage(average_, volts);
  Signal cleaned = run_stage(remove_, std::move(period));
  return run_stage(xspace_, cleaned);
}

void ProfileAccumulator::add(const recon::Profile1D& p) {
  if (frames_ == 0) {
    sum_ = p;
    sum_.values.assign(p.values.size(), 0.0);
    counts_.assign(p.values.size(), 0);
  } else if (p.values.size() != sum_.values.size()) {
    throw std::runtime_error("profile size changed between frames");
  }
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    if (std::isnan(p.values[i])) continue;
    sum_.values[i] += p.values[i];
    ++counts_[i];
  }
  ++frames_;
}

recon::Profile1D ProfileAccumulator::mean() const {
  recon::Profile1D out = sum_;
  for (std::size_t i = 0; i < out.values.size(); ++i) {
    out.values[i] = counts_[i] == 0 ? std::nan("") : sum_.values[i] / counts_[i];
  }
  out.rising.clear();
  out.falling.clear();
  return out;
}

}  // namespace mpi::host
