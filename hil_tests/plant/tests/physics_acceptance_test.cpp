// Acceptance of the plant's physics against formulas and independent numerical references computed here,
// never against numbers the plant or the model produced:
// - the PSF FWHM of a Langevin point source, velocity-compensated and gridded without filtering, within 1 %
//   of 4.1610 kB T / (m G) (REFERENCE 1.1) for three (d, G) pairs;
// - the harmonics 3 to 15 of a sinusoidally driven sample within 0.1 dB of a Fourier integral of the
//   Langevin magnetisation evaluated in this file;
// - Debye tau of 1, 3 and 10 us recovered within 3 % by the time centroid of each half-cycle (REFERENCE 1.2);
// - in 2D, the ratio of the normal to the tangential PSF width 2.275 within 2 % (REFERENCE 2).
// The plant is driven through its registers, as the firmware drives it, and read from its ADC ring.
#include "mpi/config/phantom_description.hpp"
#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/drivers/register_block.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_region.hpp"
#include "mpi/hil/plant.hpp"
#include "mpi/hil/plant_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace mpi::hil {
namespace {

namespace rm = drivers::regmap;

constexpr double kPi = std::numbers::pi;
constexpr double kBoltzmann = 1.380649e-23;
constexpr double kTwo48 = 281474976710656.0;
constexpr double kDacClockHz = 125e6;
constexpr double kFieldAtFullScaleT = 0.020;  // 1 V * 10 A/V * 2 mT/A

// Independent Langevin function (REFERENCE 1.1).
double langevin(double xi) {
  if (std::abs(xi) < 1e-4) return xi / 3.0 - xi * xi * xi / 45.0;
  return 1.0 / std::tanh(xi) - 1.0 / xi;
}

double core_moment(double d, double ms) { return ms * kPi * d * d * d / 6.0; }

struct Particle {
  double diameter_m;
  double ms_a_per_m;
  double temperature_k;
  double tau_s = 0.0;
};

// A scanner with one drive channel along x (P samples per period at decimation D), a receive coil along x
// and, optionally, a focus channel along y; no noise, no feedthrough, no analog filter.
config::ScannerDescription test_scanner(std::uint32_t decimation, std::uint32_t period_samples, const config::Mat3& gradient,
                                        bool focus_y, unsigned ring_log2) {
  config::ScannerDescription s;
  s.name = "acceptance";
  s.board.dac_clock_hz = static_cast<std::uint32_t>(kDacClockHz);
  s.board.adc_decimation = decimation;
  s.board.ring_frames_log2 = ring_log2;
  const double fs = kDacClockHz / decimation;
  config::DriveChannelDescription x;
  x.name = "x";
  x.axis = {1.0, 0.0, 0.0};
  x.base_clock_hz = fs;
  x.divider = period_samples;
  x.dac_full_scale_v = 1.0;
  x.amplifier_gain_a_per_v = 10.0;
  x.amplifier_phase_rad = 0.0;
  x.coil_sensitivity_t_per_a = 2e-3;
  x.rl_time_constant_s = 1e-7;
  x.max_amplitude_t = 0.016;
  x.reference_v_per_t = 50.0;
  s.drive = {x};
  s.selection.topology = config::Topology::ffp;
  s.selection.gradient_t_per_m = gradient;
  if (gradient[0][0] == 0.0 && gradient[1][1] == 0.0 && gradient[2][2] == 0.0) s.selection.topology = config::Topology::mps;
  if (focus_y) {
    config::OffsetChannelDescription y;
    y.name = "focus_y";
    y.axis = {0.0, 1.0, 0.0};
    y.tesla_per_full_scale = 0.020;
    y.max_field_t = 0.020;
    y.rl_time_constant_s = 1e-7;
    s.offset = {y};
  }
  s.receive.sample_rate_hz = fs;
  s.receive.adc_bits = 16;
  s.receive.adc_full_scale_v = 1.0;
  config::ReceiveChannelDescription rx;
  rx.name = "rx_x";
  rx.axis = {1.0, 0.0, 0.0};
  rx.coil_sensitivity_t_per_a = 1e-3;
  rx.lna_gain = 1.0;  // set per test so that the signal spans a good part of the ADC range
  s.receive.channels = {rx};
  return s;
}

config::Mat3 diagonal(double gx, double gy, double gz) {
  config::Mat3 g{};
  g[0][0] = gx;
  g[1][1] = gy;
  g[2][2] = gz;
  return g;
}

config::TracerDescription test_tracer(const Particle& p) {
  config::TracerDescription t;
  t.name = "monodisperse";
  t.temperature_k = p.temperature_k;
  config::TracerModeDescription mode;
  mode.name = "cores";
  mode.iron_fraction = 1.0;
  mode.core_diameter_m = p.diameter_m;
  mode.diameter_sigma = 0.0;
  mode.saturation_magnetisation_a_per_m = p.ms_a_per_m;
  if (p.tau_s > 0.0) {
    mode.relaxation = config::RelaxationModel::given;
    mode.tau_s = p.tau_s;
  }
  t.modes = {mode};
  return t;
}

// Particles in `iron_kg` of monodisperse magnetite cores (the tracer description's default core density
// and iron fraction).
double particles(double iron_kg, const Particle& p) {
  const config::TracerModeDescription defaults;
  const double core_mass = defaults.core_density_kg_per_m3 * kPi * std::pow(p.diameter_m, 3) / 6.0;
  return iron_kg / (core_mass * defaults.iron_mass_fraction);
}

std::string region_name() {
  static int counter = 0;
  return "/mpi_acceptance_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

// A plant in its own region, driven like the firmware drives the board.
class Rig {
 public:
  Rig(config::ScannerDescription scanner, const Particle& particle, double iron_kg, double lna_gain)
      : region_(drivers::SharedMemoryRegion::create(region_name(), region_geometry(with_lna(scanner, lna_gain)))),
        plant_(make_config(with_lna(std::move(scanner), lna_gain), particle, iron_kg), region_.base()),
        regs_(region_.base()) {}

  // DDS component 0 of drive channel 0 at its divider frequency, amplitude in T, phase 0, ramp of one period.
  void drive(double amplitude_t) {
    const auto& d = plant_.config().scanner.drive[0];
    const double f = d.frequency_hz();
    increment_ = static_cast<std::uint64_t>(std::llround(kTwo48 * f / kDacClockHz));
    amplitude_code_ = static_cast<std::uint32_t>(std::lround(amplitude_t / kFieldAtFullScaleT * rm::kAmplitudeFullScale));
    regs_.write64(rm::dds_register(0, 0, rm::kDdsPhaseIncrement), increment_);
    regs_.write64(rm::dds_register(0, 0, rm::kDdsPhaseOffset), 0);
    regs_.write32(rm::dds_register(0, 0, rm::kDdsAmplitude), amplitude_code_);
    regs_.write32(rm::drive_register(0, rm::kDriveDacLimit), static_cast<std::uint32_t>(rm::kDacFullScale));
    regs_.write32(rm::drive_register(0, rm::kDriveRampSamples), plant_.config().scanner.drive[0].divider);
    regs_.write32(rm::drive_register(0, rm::kDriveAmplifierControl), rm::kAmplifierEnable);
    regs_.write32(rm::drive_register(0, rm::kDriveControl), rm::kDriveEnable);
    regs_.write32(rm::drive_register(0, rm::kDriveRampCommand), static_cast<std::uint32_t>(rm::RampCommand::up));
  }

  // The sequence table: one step per focus code, each `step_samples` long, drive enabled in every step.
  void focus_steps(const std::vector<std::int32_t>& codes, std::uint32_t step_samples) {
    for (std::size_t k = 0; k < codes.size(); ++k) {
      const auto slot = static_cast<unsigned>(k % rm::kSeqSlots);
      regs_.write32(rm::seq_slot_register(slot, rm::kStepFlags), rm::kStepEnable);
      regs_.write32(rm::seq_value_register(slot, 0), static_cast<std::uint32_t>(codes[k]));
    }
    regs_.write32(rm::offset_register(0, rm::kOffsetDacLimit), static_cast<std::uint32_t>(rm::kDacFullScale));
    regs_.write32(rm::kSeqStepSamples, step_samples);
    regs_.write64(rm::kSeqWriteCount, codes.size());
    regs_.write32(rm::kSeqControl, rm::kSeqEnable);
  }

  void start() { regs_.write32(rm::kAcqControl, rm::kAcqRun); }

  void run(std::uint64_t frames) {
    std::uint64_t done = 0;
    plant_.step(0);  // take the trigger and the commands
    while (done < frames) done += plant_.step(static_cast<std::uint32_t>(std::min<std::uint64_t>(4096, frames - done)));
  }

  [[nodiscard]] std::int16_t code(std::uint64_t frame, unsigned channel) const {
    const auto ring = region_.ring();
    const std::uint64_t frames = std::uint64_t{1} << plant_.config().scanner.board.ring_frames_log2;
    return ring[(frame % frames) * plant_.config().scanner.adc_channels() + channel];
  }

  // The drive field the registers command at (fractional) sample time n, from the DDS arithmetic.
  [[nodiscard]] double commanded_field_t(double n) const {
    const double turns = n * static_cast<double>(plant_.config().scanner.board.adc_decimation) * static_cast<double>(increment_) / kTwo48;
    return kFieldAtFullScaleT * amplitude_code_ / rm::kAmplitudeFullScale * std::sin(2.0 * kPi * (turns - std::floor(turns)));
  }

  [[nodiscard]] double amplitude_t() const { return kFieldAtFullScaleT * amplitude_code_ / rm::kAmplitudeFullScale; }
  [[nodiscard]] const Plant& plant() const { return plant_; }
  [[nodiscard]] double codes_per_volt() const {
    return plant_.config().scanner.receive.channels[0].lna_gain / plant_.config().scanner.receive.adc_full_scale_v * 32767.0;
  }

 private:
  static config::ScannerDescription with_lna(config::ScannerDescription s, double lna) {
    s.receive.channels[0].lna_gain = lna;
    return s;
  }
  static PlantConfig make_config(config::ScannerDescription scanner, const Particle& p, double iron_kg) {
    PlantConfig c;
    c.scanner = std::move(scanner);
    c.tracer = test_tracer(p);
    config::PointDescription point;
    point.position_m = {0.0, 0.0, 0.0};
    point.iron_kg = iron_kg;
    c.phantom.name = "point";
    c.phantom.points = {point};
    c.seed = 1;
    return c;
  }

  drivers::SharedMemoryRegion region_;
  Plant plant_;
  drivers::RegisterBlock regs_;
  std::uint64_t increment_ = 0;
  std::uint32_t amplitude_code_ = 0;
};

// Peak of the received voltage of N particles in a sinusoidal drive of amplitude A (slope of the Langevin
// curve at 0 times the peak field rate), used only to choose an LNA gain that fills half the ADC range.
double lna_for_half_scale(const Particle& p, double n, double amplitude_t, double frequency_hz, double sensitivity) {
  const double m = core_moment(p.diameter_m, p.ms_a_per_m);
  const double peak = sensitivity * n * m * m / (3.0 * kBoltzmann * p.temperature_k) * amplitude_t * 2.0 * kPi * frequency_hz;
  return 0.5 / peak;
}

// Full width at half maximum of samples (x, y) of one peak, with linear interpolation between the
// neighbours of the half-maximum crossings.
double fwhm(std::vector<std::pair<double, double>> points) {
  std::sort(points.begin(), points.end());
  const auto peak = std::max_element(points.begin(), points.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  const double half = peak->second / 2.0;
  auto right = peak;
  while (right + 1 != points.end() && right->second > half) ++right;
  auto left = peak;
  while (left != points.begin() && left->second > half) --left;
  EXPECT_LE(right->second, half) << "no right half-maximum crossing";
  EXPECT_LE(left->second, half) << "no left half-maximum crossing";
  const auto cross = [half](const std::pair<double, double>& a, const std::pair<double, double>& b) {
    return a.first + (half - a.second) * (b.first - a.first) / (b.second - a.second);
  };
  return cross(*(right - 1), *right) - cross(*(left + 1), *left);
}

// Velocity-compensated samples of one drive period starting at frame `first`: (x_FFP, signal / field rate),
// keeping samples where the FFP moves faster than half its peak speed. The field rate over each sample is
// the commanded field's change across the sample (the receive coil integrates over the sample).
std::vector<std::pair<double, double>> compensated_period(const Rig& rig, std::uint64_t first, double gradient_t_per_m) {
  std::vector<std::pair<double, double>> out;
  const std::uint32_t period = rig.plant().config().scanner.drive[0].divider;
  const double amplitude = rig.amplitude_t();
  for (std::uint64_t n = first; n < first + period; ++n) {
    const auto t = static_cast<double>(n);
    const double change = rig.commanded_field_t(t + 0.5) - rig.commanded_field_t(t - 0.5);
    const double peak_change = amplitude * 2.0 * kPi / period;
    if (std::abs(change) < 0.5 * peak_change) continue;
    const double x = -rig.commanded_field_t(t) / gradient_t_per_m;
    out.emplace_back(x, -static_cast<double>(rig.code(n, 0)) / change);
  }
  return out;
}

// --- PSF width of a point source -------------------------------------------------------------------------

struct PsfCase {
  Particle particle;
  double gradient_t_per_m;
};

class PointSpreadFunction : public ::testing::TestWithParam<PsfCase> {};

TEST_P(PointSpreadFunction, FwhmMatchesTheLangevinFormulaWithinOnePercent) {
  const PsfCase c = GetParam();
  const double g = c.gradient_t_per_m;
  constexpr std::uint32_t kDecimation = 4;   // 31.25 MS/s
  constexpr std::uint32_t kPeriod = 1250;    // 25 kHz
  const double amplitude = 0.012;
  const double iron = 10e-9;
  const double lna = lna_for_half_scale(c.particle, particles(iron, c.particle), amplitude, 25e3, 1e-3);
  Rig rig(test_scanner(kDecimation, kPeriod, diagonal(g, -g / 2.0, -g / 2.0), false, 15), c.particle, iron, lna);
  rig.drive(amplitude);
  rig.start();
  rig.run(4 * kPeriod);

  // Both scan directions of the last period, gridded at the FFP positions of their samples.
  const auto points = compensated_period(rig, 3 * kPeriod, g);
  const double m = core_moment(c.particle.diameter_m, c.particle.ms_a_per_m);
  const double analytic = 4.1610 * kBoltzmann * c.particle.temperature_k / (m * g);
  const double measured = fwhm(points);
  std::printf("PSF FWHM: measured %.4f mm, analytic %.4f mm (%+.3f %%)\n", measured * 1e3, analytic * 1e3,
              (measured / analytic - 1.0) * 100.0);
  EXPECT_NEAR(measured / analytic, 1.0, 0.01) << "measured " << measured * 1e3 << " mm, analytic " << analytic * 1e3 << " mm";
}

INSTANTIATE_TEST_SUITE_P(ThreeTracersAndGradients, PointSpreadFunction,
                         ::testing::Values(PsfCase{{30e-9, 8e5, 293.15}, 2.0},      // 0.745 mm (REFERENCE 1.1)
                                           PsfCase{{25e-9, 4.46e5, 310.0}, 6.3},    // 0.775 mm (REFERENCE 1.1)
                                           PsfCase{{22e-9, 4.8e5, 300.0}, 1.0}));   // 6.44 mm

// --- harmonic spectrum --------------------------------------------------------------------------------------

TEST(HarmonicSpectrum, Harmonics3To15MatchAFourierIntegralOfTheLangevinMagnetisation) {
  const Particle p{25e-9, 4.8e5, 300.0};
  constexpr std::uint32_t kDecimation = 50;  // 2.5 MS/s
  constexpr std::uint32_t kPeriod = 100;     // 25 kHz
  constexpr unsigned kPeriods = 20;
  const double amplitude = 0.015;
  const double iron = 10e-9;
  const double n = particles(iron, p);
  const double lna = lna_for_half_scale(p, n, amplitude, 25e3, 1e-3);
  Rig rig(test_scanner(kDecimation, kPeriod, diagonal(0.0, 0.0, 0.0), false, 14), p, iron, lna);
  rig.drive(amplitude);
  rig.start();
  rig.run((kPeriods + 4) * kPeriod);

  // Plant: DFT of whole periods of ADC codes.
  const std::uint64_t first = 4 * kPeriod;
  const std::uint64_t count = std::uint64_t{kPeriods} * kPeriod;
  auto plant_harmonic = [&](int k) {
    std::complex<double> sum = 0.0;
    for (std::uint64_t i = 0; i < count; ++i) {
      const double phase = 2.0 * kPi * k * static_cast<double>(i) / kPeriod;
      sum += static_cast<double>(rig.code(first + i, 0)) * std::polar(1.0, -phase);
    }
    return std::abs(sum) * 2.0 / static_cast<double>(count);
  };

  // Reference: u(t) = -p N d mbar/dt with mbar = m L(m B(t) / kB T), B = A sin(w t), sampled by the ADC's
  // integrate-and-dump over each sample. The Fourier coefficient M_k of mbar is a trapezoid integral over
  // one period (spectrally accurate for a smooth periodic function); integrating the derivative over a
  // sample of length dt multiplies harmonic k by 2 sin(k w dt / 2) / dt.
  const double m = core_moment(p.diameter_m, p.ms_a_per_m);
  const double kt = kBoltzmann * p.temperature_k;
  const double f = rig.plant().config().scanner.drive[0].frequency_hz();
  const double dt = 1.0 / rig.plant().sample_rate_hz();
  auto reference_harmonic = [&](int k) {
    constexpr int kNodes = 1 << 14;
    std::complex<double> sum = 0.0;
    for (int j = 0; j < kNodes; ++j) {
      const double theta = 2.0 * kPi * j / kNodes;
      sum += m * langevin(m * amplitude * std::sin(theta) / kt) * std::polar(1.0, -k * theta);
    }
    const double mk = std::abs(sum) * 2.0 / kNodes;  // amplitude of harmonic k of mbar
    const double rate = 2.0 * std::sin(k * 2.0 * kPi * f * dt / 2.0) / dt;
    return 1e-3 * n * mk * rate * rig.codes_per_volt();
  };

  for (int k = 3; k <= 15; k += 2) {
    const double measured = plant_harmonic(k);
    const double expected = reference_harmonic(k);
    const double db = 20.0 * std::log10(measured / expected);
    std::printf("harmonic %2d: %+.4f dB from the reference\n", k, db);
    EXPECT_LT(std::abs(db), 0.1) << "harmonic " << k << ": plant " << measured << ", reference " << expected;
  }
  // The sample is symmetric: even harmonics vanish (to the ADC's resolution).
  EXPECT_LT(plant_harmonic(2), 1e-3 * plant_harmonic(3));
}

// --- Debye relaxation -----------------------------------------------------------------------------------------

class DebyeRelaxation : public ::testing::TestWithParam<double> {};

TEST_P(DebyeRelaxation, CentroidOfEachHalfCycleLagsTheFieldZeroByTau) {
  const double tau = GetParam();
  const Particle p{25e-9, 4.8e5, 300.0, tau};
  constexpr std::uint32_t kDecimation = 5;    // 25 MS/s
  constexpr std::uint32_t kPeriod = 1000;     // 25 kHz
  constexpr unsigned kSettle = 10;            // periods before the measurement (tau <= 10 us << 10 periods)
  constexpr unsigned kMeasured = 4;
  const double amplitude = 0.015;
  const double iron = 10e-9;
  const double lna = lna_for_half_scale(p, particles(iron, p), amplitude, 25e3, 1e-3);
  Rig rig(test_scanner(kDecimation, kPeriod, diagonal(0.0, 0.0, 0.0), false, 15), p, iron, lna);
  rig.drive(amplitude);
  rig.start();
  rig.run((kSettle + kMeasured + 1) * kPeriod);

  // Rising zero crossings of the field are at multiples of the period (phase 0); falling ones half a
  // period later. The signal of each half-cycle, signed, in the window of +-T/4 around its crossing. The
  // ADC sample n integrates over [t_n - dt/2, t_n + dt/2], so it sits at t_n.
  const double dt = 1.0 / rig.plant().sample_rate_hz();
  std::vector<double> lags;
  for (unsigned h = 0; h < 2 * kMeasured; ++h) {
    const std::uint64_t crossing = std::uint64_t{kSettle} * kPeriod + std::uint64_t{h} * kPeriod / 2;
    double weighted = 0.0;
    double total = 0.0;
    for (std::int64_t j = -static_cast<std::int64_t>(kPeriod / 4); j < static_cast<std::int64_t>(kPeriod / 4); ++j) {
      const double s = rig.code(static_cast<std::uint64_t>(static_cast<std::int64_t>(crossing) + j), 0);
      weighted += static_cast<double>(j) * dt * s;
      total += s;
    }
    lags.push_back(weighted / total);
  }
  for (const double lag : lags) std::printf("tau %.1f us: half-cycle lag %.4f us (%+.3f %%)\n", tau * 1e6, lag * 1e6, (lag / tau - 1.0) * 100.0);
  for (const double lag : lags) EXPECT_NEAR(lag / tau, 1.0, 0.03) << "tau " << tau * 1e6 << " us, lag " << lag * 1e6 << " us";
}

INSTANTIATE_TEST_SUITE_P(OneThreeTenMicroseconds, DebyeRelaxation, ::testing::Values(1e-6, 3e-6, 10e-6));

// --- 2D: normal and tangential PSF --------------------------------------------------------------------------

TEST(VectorPointSpreadFunction, NormalEnvelopeIs2275TimesWiderThanTangential) {
  // Drive along x, a focus field along y moving the line scanned by the FFP across the source; the x
  // receive coil sees d mu_x / d B_x: L'(xi) when the FFP passes through the source along x (tangential),
  // L(xi)/xi when it passes at a distance along y (normal). Both gradients 2 T/m in magnitude.
  const Particle p{30e-9, 8e5, 293.15};
  constexpr std::uint32_t kDecimation = 4;   // 31.25 MS/s
  constexpr std::uint32_t kPeriod = 1250;    // 25 kHz
  constexpr std::uint32_t kStepPeriods = 3;
  const double g = 2.0;
  const double amplitude = 0.012;
  const double iron = 10e-9;
  const double lna = lna_for_half_scale(p, particles(iron, p), amplitude, 25e3, 1e-3);
  Rig rig(test_scanner(kDecimation, kPeriod, diagonal(-g, -g, 2.0 * g), true, 20), p, iron, lna);

  // FFP y = -B_y / G_yy = B_y / g; steps from -2.5 mm to +2.5 mm.
  std::vector<std::int32_t> codes;
  std::vector<double> ffp_y;
  for (int i = -125; i <= 125; ++i) {
    const double y = i * 0.02e-3;
    const auto code = static_cast<std::int32_t>(std::lround(y * g / 0.020 * 32767.0));
    codes.push_back(code);
    ffp_y.push_back(code / 32767.0 * 0.020 / g);
  }
  rig.drive(amplitude);
  rig.focus_steps(codes, kStepPeriods * kPeriod);
  rig.start();
  rig.run(codes.size() * kStepPeriods * kPeriod);

  // Tangential: the profile along x of the step with the FFP line through the source.
  const std::size_t centre = codes.size() / 2;
  ASSERT_EQ(codes[centre], 0);
  const std::uint64_t centre_last_period = (centre * kStepPeriods + kStepPeriods - 1) * kPeriod;
  const double tangential = fwhm(compensated_period(rig, centre_last_period, -g));

  // Normal: at each step, the compensated signal where the FFP crosses x = 0 (field zero, at the start of
  // each period: phase 0), as a function of the FFP's y.
  std::vector<std::pair<double, double>> normal_profile;
  for (std::size_t k = 0; k < codes.size(); ++k) {
    const std::uint64_t n = (k * kStepPeriods + kStepPeriods - 1) * kPeriod;
    const auto t = static_cast<double>(n);
    const double change = rig.commanded_field_t(t + 0.5) - rig.commanded_field_t(t - 0.5);
    normal_profile.emplace_back(ffp_y[k], -static_cast<double>(rig.code(n, 0)) / change);
  }
  const double normal = fwhm(normal_profile);
  std::printf("2D PSF: normal %.4f mm, tangential %.4f mm, ratio %.4f\n", normal * 1e3, tangential * 1e3, normal / tangential);
  EXPECT_NEAR(normal / tangential / 2.275, 1.0, 0.02) << "normal " << normal * 1e3 << " mm, tangential " << tangential * 1e3 << " mm";
}

}  // namespace
}  // namespace mpi::hil
