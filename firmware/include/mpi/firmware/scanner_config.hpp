// The part of the scanner description (configs/scanner-*.toml) that the firmware enforces: drive-field
// calibration and hard limits, the selection gradient reported to the host, and the ADC channel names.
// Board geometry (clocks, channel counts, ring size) comes from the board's registers, not from here.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::firmware {

struct ScannerConfig {
  std::vector<std::string> adc_channel_names;  // [board] adc_channel_names
  double tesla_per_full_scale = 0.0;           // [drive] field at DAC full scale, T
  double max_amplitude_t = 0.0;                // [drive] hard amplitude limit per channel, T
  double max_frequency_hz = 0.0;               // [drive] highest drive frequency, Hz
  double selection_gradient_t_per_m = 0.0;     // [selection] gradient_t_per_m
};

// A scanner description that cannot be read or is invalid. The message names the file and where in it:
// "FILE: line L col C: ..." for syntax errors, "FILE: [drive] max_amplitude_t: must be positive" for values.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and validates a scanner description file. Throws ConfigError.
ScannerConfig load_scanner_config(const std::string& path);
// Parses and validates scanner description text; `source` names it in error messages. Throws ConfigError.
ScannerConfig parse_scanner_config(std::string_view text, const std::string& source);

}  // namespace mpi::firmware
