#include "mpi/firmware/scanner_config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mpi::firmware {
namespace {

const std::string kGood = R"(
[board]
adc_channel_names = ["rx_x", "ref_x"]

[drive]
tesla_per_full_scale = 0.020
max_amplitude_t = 0.016
max_frequency_hz = 150000

[selection]
gradient_t_per_m = 2
)";

std::string error_of(const std::string& text) {
  try {
    (void)parse_scanner_config(text, "scanner.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(FirmwareScannerConfig, ReadsTheFirmwareFields) {
  const ScannerConfig c = parse_scanner_config(kGood, "scanner.toml");
  ASSERT_EQ(c.adc_channel_names.size(), 2U);
  EXPECT_EQ(c.adc_channel_names[0], "rx_x");
  EXPECT_EQ(c.adc_channel_names[1], "ref_x");
  EXPECT_DOUBLE_EQ(c.tesla_per_full_scale, 0.020);
  EXPECT_DOUBLE_EQ(c.max_amplitude_t, 0.016);
  EXPECT_DOUBLE_EQ(c.max_frequency_hz, 150000.0);
  EXPECT_DOUBLE_EQ(c.selection_gradient_t_per_m, 2.0);  // an integer in the file is accepted
}

TEST(FirmwareScannerConfig, ReadsTheProjectScannerFile) {
  const ScannerConfig c = load_scanner_config(std::string(MPI_SOURCE_DIR) + "/configs/scanner-1d.toml");
  EXPECT_EQ(c.adc_channel_names.size(), 2U);
  EXPECT_GT(c.max_amplitude_t, 0.0);
  EXPECT_LE(c.max_amplitude_t, c.tesla_per_full_scale);
}

TEST(FirmwareScannerConfig, SyntaxErrorsNameFileLineAndColumn) {
  const std::string text = "[board]\nadc_channel_names = [\"a\"\n";
  const std::string message = error_of(text);
  EXPECT_EQ(message.rfind("scanner.toml: line ", 0), 0U) << message;
  EXPECT_NE(message.find(" col "), std::string::npos) << message;
}

TEST(FirmwareScannerConfig, BadValuesNameTableAndKey) {
  EXPECT_EQ(error_of(replace(kGood, "max_amplitude_t = 0.016", "max_amplitude_t = -0.016")),
            "scanner.toml: [drive] max_amplitude_t: must be positive");
  EXPECT_EQ(error_of(replace(kGood, "max_amplitude_t = 0.016", "max_amplitude_t = 0")),
            "scanner.toml: [drive] max_amplitude_t: must be positive");
  EXPECT_EQ(error_of(replace(kGood, "tesla_per_full_scale = 0.020", "tesla_per_full_scale = \"x\"")),
            "scanner.toml: [drive] tesla_per_full_scale: must be a number");
  EXPECT_EQ(error_of(replace(kGood, "max_frequency_hz = 150000", "")), "scanner.toml: [drive] max_frequency_hz: missing");
  EXPECT_EQ(error_of(replace(kGood, "gradient_t_per_m = 2", "gradient_t_per_m = nan")),
            "scanner.toml: [selection] gradient_t_per_m: must be positive");
  EXPECT_EQ(error_of(replace(kGood, "[\"rx_x\", \"ref_x\"]", "[\"rx_x\", 3]")),
            "scanner.toml: [board] adc_channel_names[1]: must be a non-empty string");
  EXPECT_EQ(error_of(replace(kGood, "adc_channel_names = [\"rx_x\", \"ref_x\"]", "")), "scanner.toml: [board] adc_channel_names: missing");
}

TEST(FirmwareScannerConfig, MissingFileIsNamed) {
  try {
    (void)load_scanner_config("/nonexistent/scanner.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("/nonexistent/scanner.toml: cannot read", 0), 0U) << e.what();
  }
}

}  // namespace
}  // namespace mpi::firmware
