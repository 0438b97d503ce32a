#include "mpi/config/scanner_description.hpp"

#include "expect_config_error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace mpi::config {
namespace {

using testing::replaced;
using testing::throws_config_error;

// A valid two-axis scanner with a focus channel; each test below breaks one value.
const std::string kBase = R"(
[scanner]
name = "test scanner"

[board]
dac_clock = "125 MHz"
adc_decimation = 50
ring_frames_log2 = 16

[[drive]]
name = "x"
axis = "x"
base_clock = "2.5 MHz"
divider = 102
amplifier_gain = "10 A/V"
coil_sensitivity = "2 mT/A"
rl_time_constant = "100 us"
max_amplitude = "14 mT"

[[drive]]
name = "y"
axis = [0, 2, 0]
base_clock = "2.5 MHz"
divider = 96
amplifier_gain = "10 A/V"
coil_sensitivity = "2 mT/A"
max_amplitude = "14 mT"

[selection]
topology = "ffp"
gradient = ["-1 T/m", "-1 T/m", "2 T/m"]

[[offset]]
name = "focus"
axis = "x"
field_at_full_scale = "50 mT"
max_field = "40 mT"

[receive]
sample_rate = "2.5 MHz"
adc_bits = 16
adc_full_scale = "1 V"

[[receive.channel]]
name = "rx_x"
axis = "x"
coil_sensitivity = "1.5 mT/A"
lna_gain = 50

[[temperature_sensor]]
name = "coil_x"
coil = "x"
limit = "60 degC"

[safety]
ambient = "22 degC"
hard_field_cap = "40 mT"

[[sequence]]
name = "lissajous_2d"
drive_amplitude = { x = "12 mT", y = "12 mT" }
periods_per_frame = 2

[[sequence]]
name = "patches"
drive_amplitude = { x = "12 mT" }
offset_steps = { focus = ["-10 mT", "0 mT", "10 mT"] }
step_periods = 5
)";

ScannerDescription parse(const std::string& text) { return parse_scanner_description(text, "scan.toml"); }

template <typename... Pieces>
::testing::AssertionResult refused(const std::string& text, Pieces... pieces) {
  return throws_config_error([&] { parse(text); }, {"scan.toml: ", pieces...});
}

TEST(ScannerDescription, ParsesTheBase) {
  const ScannerDescription s = parse(kBase);
  EXPECT_EQ(s.name, "test scanner");
  EXPECT_EQ(s.board.dac_clock_hz, 125'000'000U);
  EXPECT_DOUBLE_EQ(s.board.sample_rate_hz(), 2.5e6);
  ASSERT_EQ(s.drive.size(), 2U);
  EXPECT_NEAR(s.drive[0].frequency_hz(), 2.5e6 / 102.0, 1e-9);
  EXPECT_NEAR(s.drive[0].tesla_per_full_scale(), 1.0 * 10.0 * 2e-3, 1e-15);
  EXPECT_DOUBLE_EQ(s.drive[0].rl_time_constant_s, 100e-6);
  EXPECT_DOUBLE_EQ(s.drive[1].rl_time_constant_s, 50e-6);  // default
  EXPECT_EQ(s.drive[1].axis, (Vec3{0.0, 1.0, 0.0}));        // normalised
  EXPECT_EQ(s.selection.gradient_t_per_m[2][2], 2.0);
  EXPECT_EQ(s.selection.gradient_t_per_m[0][1], 0.0);
  ASSERT_EQ(s.temperature_sensors.size(), 1U);
  EXPECT_NEAR(s.temperature_sensors[0].limit_k, 333.15, 1e-9);
  EXPECT_NEAR(s.safety.ambient_temperature_k, 295.15, 1e-9);
  EXPECT_EQ(s.adc_channels(), 3U);

  const SequenceDescription* liss = s.find_sequence("lissajous_2d");
  ASSERT_NE(liss, nullptr);
  EXPECT_EQ(liss->drive_amplitude_t, (std::vector<double>{0.012, 0.012}));
  EXPECT_EQ(s.samples_per_cycle(*liss), 1632U);  // lcm(102, 96)
  EXPECT_EQ(s.samples_per_frame(*liss), 3264U);
  EXPECT_TRUE(liss->offset_steps_t.empty());

  const SequenceDescription* patches = s.find_sequence("patches");
  ASSERT_NE(patches, nullptr);
  EXPECT_EQ(patches->drive_amplitude_t, (std::vector<double>{0.012, 0.0}));
  EXPECT_EQ(s.samples_per_cycle(*patches), 102U);
  ASSERT_EQ(patches->offset_steps_t.size(), 1U);
  EXPECT_EQ(patches->step_count(), 3U);
  EXPECT_DOUBLE_EQ(patches->offset_steps_t[0][0], -0.01);
  EXPECT_EQ(patches->step_periods, 5U);
  EXPECT_EQ(s.find_sequence("nothing"), nullptr);
}

TEST(ScannerDescription, StepRange) {
  const ScannerDescription s =
      parse(replaced(kBase, R"(["-10 mT", "0 mT", "10 mT"])", R"({ from = "-30 mT", to = "30 mT", count = 9 })"));
  const auto& steps = s.find_sequence("patches")->offset_steps_t[0];
  ASSERT_EQ(steps.size(), 9U);
  for (std::size_t k = 0; k < steps.size(); ++k) EXPECT_NEAR(steps[k], -0.03 + 0.0075 * static_cast<double>(k), 1e-15);
}

TEST(ScannerDescription, SamplesPerCycleWithMixedClocks) {
  ScannerDescription s = parse(kBase);
  // Channel x: 5 MHz / 3 -> a period of 1.5 ADC samples at 2.5 MS/s; channel y: 1.25 MHz / 1 -> 2 samples.
  // Both complete whole periods after 6 samples (4 and 3 periods), and not before.
  s.drive[0].base_clock_hz = 5e6;
  s.drive[0].divider = 3;
  s.drive[1].base_clock_hz = 1.25e6;
  s.drive[1].divider = 1;
  SequenceDescription both;
  both.name = "both";
  both.drive_amplitude_t = {0.01, 0.01};
  EXPECT_EQ(s.samples_per_cycle(both), 6U);
  SequenceDescription x_only = both;
  x_only.drive_amplitude_t = {0.01, 0.0};
  EXPECT_THROW((void)s.samples_per_cycle(x_only), ConfigError);  // 1.5 samples
  SequenceDescription none = both;
  none.drive_amplitude_t = {0.0, 0.0};
  EXPECT_THROW((void)s.samples_per_cycle(none), ConfigError);
}

TEST(ScannerDescription, DividerZero) {
  EXPECT_TRUE(refused(replaced(kBase, "divider = 96", "divider = 0"), "[[drive]] #2 (y) divider", "at least 1", "got 0"));
}

TEST(ScannerDescription, NonPositiveFigures) {
  EXPECT_TRUE(refused(replaced(kBase, R"(coil_sensitivity = "2 mT/A")", R"(coil_sensitivity = "-2 mT/A")"),
                      "[[drive]] #1 (x) coil_sensitivity", "must be positive", "'-2 mT/A'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(amplifier_gain = "10 A/V")", R"(amplifier_gain = "0 A/V")"),
                      "[[drive]] #1 (x) amplifier_gain", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(rl_time_constant = "100 us")", R"(rl_time_constant = "0 us")"),
                      "[[drive]] #1 (x) rl_time_constant", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, "lna_gain = 50", "lna_gain = -50"),
                      "[[receive.channel]] #1 (rx_x) lna_gain", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(coil_sensitivity = "1.5 mT/A")", R"(coil_sensitivity = "0 mT/A")"),
                      "[[receive.channel]] #1 (rx_x) coil_sensitivity", "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, "[safety]", "[safety]\nramp_time = \"-1 ms\""), "[safety] ramp_time",
                      "must be positive"));
  EXPECT_TRUE(refused(replaced(kBase, R"(max_field = "40 mT")", R"(max_field = "0 mT")"), "[[offset]] #1 (focus) max_field",
                      "must be positive"));
}

TEST(ScannerDescription, SampleRateMustMatchTheBoard) {
  EXPECT_TRUE(refused(replaced(kBase, R"(sample_rate = "2.5 MHz")", R"(sample_rate = "2.6 MHz")"),
                      "[receive] sample_rate", "dac_clock / adc_decimation", "2.5 MHz", "got '2.6 MHz'"));
}

TEST(ScannerDescription, RingSize) {
  EXPECT_TRUE(refused(replaced(kBase, "ring_frames_log2 = 16", "ring_frames_log2 = 9"), "[board] ring_frames_log2",
                      "at least 10"));
  EXPECT_TRUE(refused(replaced(kBase, "ring_frames_log2 = 16", "ring_frames_log2 = 29"), "[board] ring_frames_log2",
                      "at most 28"));
}

std::string drive_block(const std::string& name) {
  return "[[drive]]\nname = \"" + name +
         "\"\naxis = \"z\"\nbase_clock = \"2.5 MHz\"\ndivider = 100\namplifier_gain = \"1 A/V\"\n"
         "coil_sensitivity = \"1 mT/A\"\nmax_amplitude = \"1 mT\"\n\n";
}

TEST(ScannerDescription, ChannelCounts) {
  std::string five = kBase;
  for (const char* n : {"a", "b", "c"}) five = replaced(five, "[selection]", drive_block(n) + "[selection]");
  EXPECT_TRUE(refused(five, "drive", "5 channels", "at most 4"));

  std::string offsets = kBase;
  for (const char* n : {"o1", "o2", "o3", "o4"}) {
    offsets = replaced(offsets, "[receive]",
                       std::string("[[offset]]\nname = \"") + n +
                           "\"\naxis = \"y\"\nfield_at_full_scale = \"1 mT\"\nmax_field = \"1 mT\"\n\n[receive]");
  }
  EXPECT_TRUE(refused(offsets, "offset", "5 channels", "at most 4"));

  // 2 drive pickups + 7 receive channels = 9 ADC channels.
  std::string receive = kBase;
  for (int i = 0; i < 6; ++i) {
    receive = replaced(receive, "[[temperature_sensor]]",
                       "[[receive.channel]]\nname = \"r" + std::to_string(i) +
                           "\"\naxis = \"x\"\ncoil_sensitivity = \"1 mT/A\"\n\n[[temperature_sensor]]");
  }
  EXPECT_TRUE(refused(receive, "[receive] channel", "7 receive channels", "2 drive reference pickups",
                      "9 ADC channels", "has 8"));
}

TEST(ScannerDescription, GradientMustSatisfyMaxwell) {
  EXPECT_TRUE(refused(replaced(kBase, R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])",
                               R"(gradient = ["-1 T/m", "-1 T/m", "2.5 T/m"])"),
                      "[selection] gradient", "not trace-free", "0.5 T/m"));
  EXPECT_TRUE(refused(replaced(kBase, R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])",
                               R"(gradient_matrix = [["-1 T/m", "0.1 T/m", "0 T/m"], ["0 T/m", "-1 T/m", "0 T/m"], ["0 T/m", "0 T/m", "2 T/m"]])"),
                      "[selection] gradient_matrix", "not symmetric", "[0][1]"));
  // A symmetric, trace-free full matrix is fine.
  const ScannerDescription s = parse(replaced(kBase, R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])",
                                              R"(gradient_matrix = [["-1 T/m", "0.1 T/m", "0 T/m"], ["0.1 T/m", "-1 T/m", "0 T/m"], ["0 T/m", "0 T/m", "2 T/m"]])"));
  EXPECT_DOUBLE_EQ(s.selection.gradient_t_per_m[1][0], 0.1);
}

TEST(ScannerDescription, Topology) {
  EXPECT_TRUE(refused(replaced(kBase, R"(topology = "ffp")", R"(topology = "fft")"), "[selection] topology",
                      "\"ffp\", \"ffl\" or \"mps\"", "got 'fft'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(topology = "ffp")", R"(topology = "mps")"), "[selection] gradient",
                      "must be zero"));
  EXPECT_TRUE(refused(replaced(kBase, R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])", R"(gradient = ["0 T/m", "-1 T/m", "1 T/m"])"),
                      "[selection] gradient", "invertible"));
  const ScannerDescription mps =
      parse(replaced(replaced(kBase, R"(topology = "ffp")", R"(topology = "mps")"),
                     R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])", ""));
  EXPECT_EQ(mps.selection.topology, Topology::mps);
  EXPECT_EQ(mps.selection.gradient_t_per_m[2][2], 0.0);
  const ScannerDescription ffl = parse(replaced(replaced(kBase, R"(topology = "ffp")", R"(topology = "ffl")"),
                                                R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])",
                                                R"(gradient = ["0 T/m", "-1 T/m", "1 T/m"])"));
  EXPECT_EQ(ffl.selection.topology, Topology::ffl);
}

TEST(ScannerDescription, AdcBits) {
  EXPECT_TRUE(refused(replaced(kBase, "adc_bits = 16", "adc_bits = 11"), "[receive] adc_bits", "at least 12"));
  EXPECT_TRUE(refused(replaced(kBase, "adc_bits = 16", "adc_bits = 17"), "[receive] adc_bits", "at most 16"));
}

TEST(ScannerDescription, AmplitudeAboveTheCoilLimit) {
  const std::string text =
      replaced(kBase, R"(drive_amplitude = { x = "12 mT", y = "12 mT" })", R"(drive_amplitude = { x = "15 mT", y = "12 mT" })");
  EXPECT_TRUE(refused(text, "[[sequence]] #1 (lissajous_2d) drive_amplitude.x: 15 mT is above the coil limit "
                            "max_amplitude = 14 mT of [[drive]] x"));
}

TEST(ScannerDescription, AmplitudeAboveTheSafetyCap) {
  std::string text = replaced(kBase, R"(hard_field_cap = "40 mT")", R"(hard_field_cap = "10 mT")");
  EXPECT_TRUE(refused(text, "[[sequence]] #1 (lissajous_2d) drive_amplitude.", "above the safety limit",
                      "hard_field_cap = 10 mT"));
}

TEST(ScannerDescription, AmplitudeAboveTheSlewLimit) {
  // 2 pi * 24.51 kHz * 12 mT = 1848 T/s.
  const std::string text = replaced(kBase, R"(rl_time_constant = "100 us")", "rl_time_constant = \"100 us\"\nmax_slew = \"1500 T/s\"");
  EXPECT_TRUE(refused(text, "drive_amplitude.x", "slew rate of 1848 T/s", "max_slew = 1500 T/s"));
}

TEST(ScannerDescription, SequenceNamesAnUnknownChannel) {
  EXPECT_TRUE(refused(replaced(kBase, R"(drive_amplitude = { x = "12 mT" })", R"(drive_amplitude = { w = "12 mT" })"),
                      "[[sequence]] #2 (patches) drive_amplitude.w", "no drive channel of that name", "x, y"));
  EXPECT_TRUE(refused(replaced(kBase, R"(offset_steps = { focus = )", R"(offset_steps = { fokus = )"),
                      "[[sequence]] #2 (patches) offset_steps.fokus", "no offset channel of that name", "focus"));
}

TEST(ScannerDescription, OffsetStepAboveTheChannelLimit) {
  EXPECT_TRUE(refused(replaced(kBase, R"("10 mT"])", R"("45 mT"])"), "[[sequence]] #2 (patches) offset_steps.focus",
                      "step 2 of 45 mT", "max_field = 40 mT of [[offset]] focus"));
}

TEST(ScannerDescription, StepsNeedStepPeriods) {
  EXPECT_TRUE(refused(replaced(kBase, "step_periods = 5", ""), "[[sequence]] #2 (patches) step_periods", "missing"));
  EXPECT_TRUE(refused(replaced(kBase, "periods_per_frame = 2", "periods_per_frame = 2\nstep_periods = 3"),
                      "[[sequence]] #1 (lissajous_2d) step_periods", "only used with offset_steps"));
}

TEST(ScannerDescription, TemperatureSensorOnAnUnknownCoil) {
  EXPECT_TRUE(refused(replaced(kBase, R"(coil = "x")", R"(coil = "q")"), "[[temperature_sensor]] #1 (coil_x) coil",
                      "no drive or offset channel", "x, y, focus", "got 'q'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(limit = "60 degC")", R"(limit = "20 degC")"),
                      "[[temperature_sensor]] #1 (coil_x) limit", "above the ambient"));
}

TEST(ScannerDescription, DuplicateNames) {
  EXPECT_TRUE(refused(replaced(kBase, "name = \"y\"", "name = \"x\""), "[[drive]] #2 (x) name", "already the name"));
  EXPECT_TRUE(refused(replaced(kBase, "name = \"focus\"", "name = \"y\""), "[[offset]] #1 (y) name", "already the name"));
  EXPECT_TRUE(refused(replaced(kBase, "name = \"patches\"", "name = \"lissajous_2d\""), "[[sequence]] #2", "already"));
}

TEST(ScannerDescription, CycleNotAWholeNumberOfSamples) {
  // 125 MHz / 64 = 1.953125 MS/s: channel x's period is 102 * 125 / 160 = 79.6875 samples.
  std::string text = replaced(kBase, "adc_decimation = 50", "adc_decimation = 64");
  text = replaced(text, R"(sample_rate = "2.5 MHz")", R"(sample_rate = "1.953125 MHz")");
  // The 2D cycle is whole (16 x periods = 75 * 17 y periods = 1275 samples); the x-only sequence's is not.
  const ScannerDescription s = parse(text.substr(0, text.find("[[sequence]]\nname = \"patches\"")));
  EXPECT_EQ(s.samples_per_cycle(*s.find_sequence("lissajous_2d")), 1275U);
  EXPECT_TRUE(refused(text, "[[sequence]] #2 (patches) drive_amplitude", "1275/16 ADC samples", "not a whole number"));
}

TEST(ScannerDescription, UnknownKeys) {
  EXPECT_TRUE(refused(replaced(kBase, "divider = 96", "dividr = 96"), "[[drive]] #2 (y) dividr: unknown key",
                      "did you mean 'divider'"));
  EXPECT_TRUE(refused(replaced(kBase, "divider = 96", "divider = 96\ndividr = 96"),
                      "[[drive]] #2 (y) dividr: unknown key"));
  EXPECT_TRUE(refused(replaced(kBase, "divider = 96", "divider = 96\nspeed = 3"), "[[drive]] #2 (y) speed: unknown key",
                      "expected one of:", "divider"));
  EXPECT_TRUE(refused(kBase + "\n[recieve]\nx = 1\n", "recieve: unknown key"));
  EXPECT_TRUE(refused(replaced(kBase, "adc_bits = 16", "adc_bits = 16\ncolour = \"blue\""), "[receive] colour: unknown key"));
  EXPECT_TRUE(refused(replaced(kBase, R"({ x = "12 mT" })", R"({ x = "12 mT", x_phase = "3 deg" })"),
                      "drive_amplitude.x_phase", "no drive channel"));
}

TEST(ScannerDescription, WrongUnitsAndTypes) {
  EXPECT_TRUE(refused(replaced(kBase, R"(max_amplitude = "14 mT")", R"(max_amplitude = "14 kHz")"),
                      "[[drive]] #1 (x) max_amplitude: expected a flux density (T, mT, uT, nT), got '14 kHz'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(max_amplitude = "14 mT")", "max_amplitude = 14"),
                      "[[drive]] #1 (x) max_amplitude: expected a flux density (T, mT, uT, nT) with its unit"));
  EXPECT_TRUE(refused(replaced(kBase, "divider = 96", "divider = \"96\""), "[[drive]] #2 (y) divider",
                      "expected a whole number", "got '96'"));
  EXPECT_TRUE(refused(replaced(kBase, "divider = 96", "divider = 96.5"), "[[drive]] #2 (y) divider", "whole number"));
  EXPECT_TRUE(refused(replaced(kBase, R"(axis = [0, 2, 0])", R"(axis = [0, 0, 0])"), "[[drive]] #2 (y) axis",
                      "zero vector"));
  EXPECT_TRUE(refused(replaced(kBase, R"(axis = [0, 2, 0])", R"(axis = "w")"), "[[drive]] #2 (y) axis", "got 'w'"));
  EXPECT_TRUE(refused(replaced(kBase, R"(gradient = ["-1 T/m", "-1 T/m", "2 T/m"])", R"(gradient = ["-1 T/m", "2 T/m"])"),
                      "[selection] gradient", "three values"));
}

TEST(ScannerDescription, MissingTables) {
  EXPECT_TRUE(refused(replaced(kBase, "[board]", "[boards]"), "boards: unknown key (did you mean 'board'?)"));
  EXPECT_TRUE(refused(replaced(kBase, "[board]\ndac_clock = \"125 MHz\"\nadc_decimation = 50\nring_frames_log2 = 16", ""),
                      "board: missing table [board]"));
  EXPECT_TRUE(refused(replaced(kBase, "[[receive.channel]]\nname = \"rx_x\"\naxis = \"x\"\ncoil_sensitivity = \"1.5 mT/A\"\nlna_gain = 50", ""),
                      "[receive] channel", "at least one"));
  EXPECT_TRUE(refused(replaced(kBase, R"(max_amplitude = "14 mT")", ""), "[[drive]] #1 (x) max_amplitude", "missing"));
}

TEST(ScannerDescription, SyntaxErrorNamesLineAndColumn) {
  const std::string base_before = kBase.substr(0, kBase.find("divider = 96"));
  const auto line = 1 + std::count(base_before.begin(), base_before.end(), '\n');
  const std::string text = replaced(kBase, "divider = 96", "divider = = 96");
  EXPECT_TRUE(throws_config_error([&] { parse(text); },
                                  {"scan.toml:" + std::to_string(line) + ":", ": not valid TOML: "}));
}

TEST(ScannerDescription, LoadNamesTheFile) {
  const testing::TempDir dir;
  const auto file = dir.write("scanner.toml", replaced(kBase, "divider = 96", "divider = 0"));
  EXPECT_TRUE(throws_config_error([&] { load_scanner_description(file); },
                                  {file.string() + ": [[drive]] #2 (y) divider"}));
  EXPECT_TRUE(throws_config_error([&] { load_scanner_description(dir.path() / "missing.toml"); },
                                  {"missing.toml", "cannot read"}));
}


TEST(ScannerDescription, HarmonicDistortion) {
  // Absent: a clean amplifier.
  EXPECT_TRUE(parse(kBase).drive[0].harmonic_distortion.empty());
  // Levels in dB relative to the fundamental, from the 2nd harmonic on, kept as amplitude ratios 10^(dB/20).
  const ScannerDescription s =
      parse(replaced(kBase, "divider = 96", "divider = 96\nharmonic_distortion = [\"-60 dB\", \"-80 dB\", \"-6.0206 dB\"]"));
  EXPECT_TRUE(s.drive[0].harmonic_distortion.empty());
  ASSERT_EQ(s.drive[1].harmonic_distortion.size(), 3U);
  EXPECT_NEAR(s.drive[1].harmonic_distortion[0], 1e-3, 1e-15);
  EXPECT_NEAR(s.drive[1].harmonic_distortion[1], 1e-4, 1e-16);
  EXPECT_NEAR(s.drive[1].harmonic_distortion[2], 0.5, 1e-5);
  const auto with = [](const std::string& value) { return replaced(kBase, "divider = 96", "divider = 96\nharmonic_distortion = " + value); };
  EXPECT_TRUE(refused(with(R"(["-70 dB", "0 dB"])"), "[[drive]] #2 (y) harmonic_distortion", "harmonic 3", "below 0 dB"));
  EXPECT_TRUE(refused(with(R"(["10 dB"])"), "[[drive]] #2 (y) harmonic_distortion", "harmonic 2", "below the fundamental"));
  EXPECT_TRUE(refused(with(R"(["-70"])"), "[[drive]] #2 (y) harmonic_distortion[0]", "with its unit"));
  EXPECT_TRUE(refused(with(R"([-70])"), "[[drive]] #2 (y) harmonic_distortion[0]"));
  EXPECT_TRUE(refused(with(R"(["-70 mT"])"), "[[drive]] #2 (y) harmonic_distortion[0]", "got '-70 mT'"));
  EXPECT_TRUE(refused(with(R"("-70 dB")"), "[[drive]] #2 (y) harmonic_distortion", "expected an array"));
  EXPECT_TRUE(refused(with("[]"), "[[drive]] #2 (y) harmonic_distortion", "at least one level"));
  std::string many = "[";
  for (int i = 0; i < 17; ++i) many += std::string(i == 0 ? "" : ", ") + "\"-90 dB\"";
  EXPECT_TRUE(refused(with(many + "]"), "[[drive]] #2 (y) harmonic_distortion", "17 levels; at most 16"));
}

}  // namespace
}  // namespace mpi::config
