// The receive coil (ADC channel 0): integrate-and-dump of -p dmu/dt - k dB/dt over each sample interval,
// checked against direct computations from first principles (Langevin of every source, no table).
#include "plant_rig.hpp"

#include <numeric>

namespace mpi::hil::test {
namespace {

using namespace drivers::regmap;

constexpr std::uint32_t kRampSamples = 2000;
constexpr std::uint64_t kFrames = 8000;  // ramp-up plus two drive periods at full amplitude

long double receive_codes(const PlantConfig& c, long double volts) {
  return volts * static_cast<long double>(c.receive.lna_gain) / c.receive.adc_full_scale_v * 32767.0L;
}

// Moment of the point sources along x at drive field b: sum n_i m L(m (G x_i + b) / kT).
long double points_moment(const PlantConfig& c, long double b) {
  const long double m = core_moment(c.tracer);
  const long double kt = kt_of(c.tracer);
  long double sum = 0;
  for (const PointSource& p : c.phantom.points) {
    sum += particles_of(c.tracer, p.iron_kg) * m * langevin_ld(m * (static_cast<long double>(c.gradient_t_per_m) * p.x_m + b) / kt);
  }
  return sum;
}

// ln(sinh(x) / x), the antiderivative of L(x).
long double log_sinhc(long double x) {
  const long double a = std::fabs(x);
  if (a < 1e-3L) return a * a / 6.0L - a * a * a * a / 180.0L;
  return a - std::log(2.0L) + std::log1p(-std::exp(-2.0L * a)) - std::log(a);
}

// Moment of the uniform line sources: the exact integral n' m / (k G) [ln(sinh xi / xi)] over the line.
long double lines_moment(const PlantConfig& c, long double b) {
  const long double m = core_moment(c.tracer);
  const long double k = m / kt_of(c.tracer);
  const long double g = c.gradient_t_per_m;
  long double sum = 0;
  for (const LineSource& l : c.phantom.lines) {
    const long double per_m = particles_of(c.tracer, l.iron_kg_per_m);
    const long double lo = std::min(l.from_m, l.to_m);
    const long double hi = std::max(l.from_m, l.to_m);
    sum += per_m * m / (k * g) * (log_sinhc(k * (g * hi + b)) - log_sinhc(k * (g * lo + b)));
  }
  return sum;
}

long double total_moment(const PlantConfig& c, long double b) { return points_moment(c, b) + lines_moment(c, b); }

// Runs a ramped 25 kHz, 12 mT drive and compares every receive sample with the direct computation.
// Returns the largest |expected code| seen (to show the test signal is large).
long double check_receive(const PlantConfig& config) {
  PlantRig rig(config);
  const drivers::RealisedDrive d = rig.configure(25'000.0, 0.6, 0.3, kRampSamples);
  rig.drive.ramp_up();
  rig.start();
  rig.run(kFrames, 1024);
  const std::vector<std::int16_t> frames = rig.read(0, kFrames);
  const long double fs = config.sample_rate_hz();
  const long double p = config.receive.coil_sensitivity_t_per_a;
  const long double k_ft = config.receive.feedthrough_v_per_t_per_s;
  long double largest = 0;
  for (std::uint64_t n = 0; n < kFrames; ++n) {
    const long double tn = static_cast<long double>(n);
    const long double before = drive_field(config, d, n, -0.5L, ramp_up_factor(tn - 0.5L, kRampSamples));
    const long double after = drive_field(config, d, n, 0.5L, ramp_up_factor(tn + 0.5L, kRampSamples));
    const long double u = -p * (total_moment(config, after) - total_moment(config, before)) * fs - k_ft * (after - before) * fs;
    const long double expected = std::clamp(receive_codes(config, u), -32768.0L, 32767.0L);
    largest = std::max(largest, std::fabs(expected));
    EXPECT_LE(std::fabs(frames[2 * n] - expected), 0.5L + 1e-3L) << "sample " << n << ": expected " << static_cast<double>(expected);
    if (::testing::Test::HasFailure()) break;
  }
  return largest;
}

TEST(PlantReceive, TwoPointSourcesMatchTheLangevinSum) {
  const long double largest = check_receive(quiet_config());
  EXPECT_GT(largest, 1000.0L);
  EXPECT_LT(largest, 32767.0L);
}

TEST(PlantReceive, LineSourcesMatchTheExactIntegral) {
  PlantConfig c = quiet_config();
  c.phantom.points = {{0.5e-3, 2e-9}};
  c.phantom.lines = {{-4e-3, -1e-3, 3e-6}, {2e-3, 1.2e-3, 5e-6}};  // 3 and 5 ug/mm; one drawn backwards
  const long double largest = check_receive(c);
  EXPECT_GT(largest, 1000.0L);
}

TEST(PlantReceive, FeedthroughAloneIsMinusKdBdt) {
  PlantConfig c = quiet_config();
  c.phantom = {};
  c.receive.feedthrough_v_per_t_per_s = 5e-6;  // ~15000 codes at the peak of dB/dt
  const long double largest = check_receive(c);
  EXPECT_GT(largest, 1000.0L);
}

TEST(PlantReceive, FeedthroughAndParticlesAdd) {
  PlantConfig c = quiet_config();
  c.receive.feedthrough_v_per_t_per_s = 2e-6;
  (void)check_receive(c);
}

TEST(PlantReceive, ClipsAtTheAdcRange) {
  PlantConfig c = quiet_config();
  c.receive.lna_gain = 5000.0;
  PlantRig rig(c);
  (void)rig.configure(25'000.0, 0.6, 0.0, 1);
  rig.drive.ramp_up();
  rig.start();
  rig.run(2000, 2000);
  const std::vector<std::int16_t> frames = rig.read(0, 2000);
  int high = 0, low = 0;
  for (std::size_t n = 0; n < 2000; ++n) {
    high += frames[2 * n] == 32767;
    low += frames[2 * n] == -32768;
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
}

std::vector<std::int16_t> noise_only(std::uint64_t seed, std::uint64_t frames) {
  PlantConfig c = quiet_config();
  c.phantom = {};
  c.receive.noise_density_v_per_sqrt_hz = 2e-8;
  c.seed = seed;
  PlantRig rig(c);
  rig.start();  // no drive: only noise
  rig.run(frames, 4096);
  const std::vector<std::int16_t> all = rig.read(0, static_cast<std::uint32_t>(frames));
  std::vector<std::int16_t> rx(frames);
  for (std::size_t n = 0; n < frames; ++n) rx[n] = all[2 * n];
  return rx;
}

TEST(PlantReceive, WhiteNoiseHasTheDensityOverTheNyquistBand) {
  constexpr std::uint64_t kN = 16'384;
  const std::vector<std::int16_t> rx = noise_only(7, kN);
  // sigma = density * sqrt(fs / 2) at the coil, times the gain into codes.
  const double sigma_codes = 2e-8 * std::sqrt(15.625e6 / 2.0) * 50.0 * 32767.0;  // ~91.6 codes
  double sum = 0, sum2 = 0;
  for (std::int16_t s : rx) {
    sum += s;
    sum2 += static_cast<double>(s) * s;
  }
  const double mean = sum / kN;
  const double var = sum2 / kN - mean * mean;
  // Rounding adds 1/12 code^2. Standard error of the variance estimate: sigma^2 sqrt(2/N) ~ 1.1 %.
  EXPECT_NEAR(std::sqrt(var - 1.0 / 12.0) / sigma_codes, 1.0, 0.03);
  EXPECT_NEAR(mean, 0.0, 5.0 * sigma_codes / std::sqrt(static_cast<double>(kN)));
  // Lag-1 correlation of white noise is within a few 1/sqrt(N).
  double lag = 0;
  for (std::size_t n = 1; n < kN; ++n) lag += (rx[n] - mean) * (rx[n - 1] - mean);
  EXPECT_LT(std::abs(lag / (kN - 1) / var), 5.0 / std::sqrt(static_cast<double>(kN)));
}

TEST(PlantReceive, NoiseIsReproducibleFromTheSeed) {
  EXPECT_EQ(noise_only(3, 5000), noise_only(3, 5000));
  EXPECT_NE(noise_only(3, 5000), noise_only(4, 5000));
}

}  // namespace
}  // namespace mpi::hil::test
