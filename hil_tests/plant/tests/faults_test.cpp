// Faults files and control commands.
#include "mpi/hil/faults.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace mpi::hil {
namespace {

std::string error_of(const std::string& text) {
  try {
    (void)parse_faults(text, "faults.toml");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Faults, EveryKindParses) {
  const auto faults = parse_faults(R"(
[[fault]]
kind = "amplifier_dropout"
at = "0.5 s"
channel = "x"
duration = "20 ms"
[[fault]]
kind = "over_temperature"
at = "10 ms"
sensor = "coil_y"
temperature = "90 degC"
[[fault]]
kind = "adc_saturation"
at = "1 ms"
channel = "rx_x"
duration = "5 ms"
[[fault]]
kind = "clock_glitch"
at = "2 ms"
samples = 3
[[fault]]
kind = "stuck_pointer"
at = "3 ms"
duration = "20 ms"
[[fault]]
kind = "interlock"
at = "4 ms"
state = "open"
[[fault]]
kind = "instant_stop"
at = "5 ms"
state = "release"
)",
                                   "faults.toml");
  ASSERT_EQ(faults.size(), 7U);
  EXPECT_EQ(faults[0].kind, FaultKind::amplifier_dropout);
  EXPECT_DOUBLE_EQ(faults[0].at_s, 0.5);
  EXPECT_DOUBLE_EQ(faults[0].duration_s, 0.02);
  EXPECT_EQ(faults[0].channel, "x");
  EXPECT_EQ(faults[1].sensor, "coil_y");
  EXPECT_NEAR(faults[1].temperature_k, 363.15, 1e-9);
  EXPECT_EQ(faults[3].samples, 3U);
  EXPECT_TRUE(faults[5].engage);
  EXPECT_FALSE(faults[6].engage);
}

TEST(Faults, BadFilesNameFileFaultKeyAndReason) {
  struct Case {
    const char* text;
    const char* key;
    const char* reason;
  };
  const Case cases[] = {
      {"[[fault]]\nkind = \"meltdown\"\nat = \"1 s\"\n", "kind", "unknown fault kind 'meltdown'"},
      {"[[fault]]\nkind = \"clock_glitch\"\nat = \"1 s\"\nsamples = 2\nchanel = \"x\"\n", "chanel", "unknown key"},
      {"[[fault]]\nkind = \"stuck_pointer\"\nat = \"1 kHz\"\nduration = \"1 ms\"\n", "at", "time"},
      {"[[fault]]\nkind = \"adc_saturation\"\nat = \"1 s\"\nchannel = \"rx_x\"\n", "duration", "missing"},
      {"[[fault]]\nkind = \"clock_glitch\"\nat = \"1 s\"\nsamples = 0\n", "samples", "must be in"},
      {"[[fault]]\nkind = \"interlock\"\nat = \"1 s\"\nstate = \"ajar\"\n", "state", "ajar"},
      {"[[fault]]\nkind = \"amplifier_dropout\"\nat = \"-1 s\"\nchannel = \"x\"\n", "at", "negative"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of(c.text);
    SCOPED_TRACE(c.text);
    EXPECT_NE(e.find("faults.toml: [[fault]] #1"), std::string::npos) << e;
    EXPECT_NE(e.find(c.key), std::string::npos) << e;
    EXPECT_NE(e.find(c.reason), std::string::npos) << e;
  }
  EXPECT_NE(error_of("[[fault]\n").find("faults.toml:1:"), std::string::npos);
  EXPECT_NE(error_of("[other]\nx = 1\n").find("other: unknown key"), std::string::npos);
}

TEST(Faults, ControlCommandsParse) {
  Fault f = parse_control_command("amplifier_dropout x");
  EXPECT_EQ(f.kind, FaultKind::amplifier_dropout);
  EXPECT_EQ(f.channel, "x");
  EXPECT_EQ(f.duration_s, 0.0);
  f = parse_control_command("over_temperature x 90 degC");
  EXPECT_NEAR(f.temperature_k, 363.15, 1e-9);
  f = parse_control_command("  adc_saturation rx_x 5 ms");
  EXPECT_DOUBLE_EQ(f.duration_s, 5e-3);
  EXPECT_EQ(parse_control_command("clock_glitch 3").samples, 3U);
  EXPECT_DOUBLE_EQ(parse_control_command("stuck_pointer 20 ms").duration_s, 0.02);
  EXPECT_TRUE(parse_control_command("interlock open").engage);
  EXPECT_FALSE(parse_control_command("interlock close").engage);
  EXPECT_TRUE(parse_control_command("instant_stop press").engage);
  EXPECT_FALSE(parse_control_command("instant_stop release").engage);
}

TEST(Faults, BadControlCommandsSayWhy) {
  const char* bad[] = {"", "explode x", "clock_glitch", "clock_glitch three", "adc_saturation rx_x", "adc_saturation rx_x 5 kHz",
                       "interlock ajar", "over_temperature x 90", "stuck_pointer 0 ms"};
  for (const char* line : bad) EXPECT_THROW((void)parse_control_command(line), std::invalid_argument) << line;
  try {
    (void)parse_control_command("explode x");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown command 'explode'"), std::string::npos);
  }
}

TEST(Faults, SampleHolderParsesFromFileAndCommand) {
  const auto faults = parse_faults(R"(
[[fault]]
kind = "sample_holder"
at = "0 s"
state = "out"
[[fault]]
kind = "sample_holder"
at = "2 s"
state = "in"
)",
                                   "faults.toml");
  ASSERT_EQ(faults.size(), 2U);
  EXPECT_EQ(faults[0].kind, FaultKind::sample_holder);
  EXPECT_EQ(to_string(faults[0].kind), "sample_holder");
  EXPECT_FALSE(faults[0].sample_in);
  EXPECT_EQ(faults[0].at_s, 0.0);
  EXPECT_TRUE(faults[1].sample_in);
  EXPECT_DOUBLE_EQ(faults[1].at_s, 2.0);

  Fault f = parse_control_command("sample_holder out");
  EXPECT_EQ(f.kind, FaultKind::sample_holder);
  EXPECT_FALSE(f.sample_in);
  f = parse_control_command("  sample_holder   in ");
  EXPECT_EQ(f.kind, FaultKind::sample_holder);
  EXPECT_TRUE(f.sample_in);
}

TEST(Faults, BadSampleHolderStatesSayWhereAndWhat) {
  const std::string message = error_of("[[fault]]\nkind = \"interlock\"\nat = \"0 s\"\nstate = \"open\"\n"
                                       "[[fault]]\nkind = \"sample_holder\"\nat = \"1 s\"\nstate = \"half\"\n");
  EXPECT_NE(message.find("faults.toml: [[fault]] #2 (sample_holder) state: expected \"out\" or \"in\", got 'half'"), std::string::npos) << message;
  EXPECT_NE(error_of("[[fault]]\nkind = \"sample_holder\"\nat = \"1 s\"\n").find("[[fault]] #1 (sample_holder) state: missing"),
            std::string::npos);
  EXPECT_NE(error_of("[[fault]]\nkind = \"sample_holder\"\nat = \"1 s\"\nstate = \"in\"\nchannel = \"x\"\n").find("channel: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("[[fault]]\nkind = \"sample_holder\"\nat = \"1 s\"\nstate = 1\n").find("state: expected a string"),
            std::string::npos);

  for (const char* line : {"sample_holder", "sample_holder half", "sample_holder in out", "sample_holder IN"}) {
    try {
      (void)parse_control_command(line);
      ADD_FAILURE() << "accepted '" << line << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("sample_holder"), std::string::npos) << e.what();
    }
  }
  try {
    (void)parse_control_command("sample_holder half");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected out or in, got 'half'"), std::string::npos) << e.what();
  }
  try {
    (void)parse_control_command("sample_holder");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("usage: sample_holder out|in"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mpi::hil
