// What the hardware-in-the-loop plant takes as the scanner's physical truth: the board geometry, the drive
// calibration, the selection gradient and the receive chain from the scanner file, and the tracer, the
// phantom and the noise seed from the scan plan. Readers name the file, the key and why on every error.
#pragma once

#include "mpi/hil/phantom.hpp"
#include "mpi/recon/tracer.hpp"

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mpi::hil {

// A bad or missing configuration value; what() names the file, the key and why.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BoardConfig {
  std::uint32_t dac_clock_hz = 125'000'000;
  std::uint32_t adc_decimation = 8;
  std::uint32_t adc_channels = 2;       // channel 0: receive coil, channel 1: drive reference pickup
  std::uint32_t ring_frames_log2 = 22;
  std::uint32_t drive_channels = 1;     // channel 0 drives the x coil
};

struct ReceiveConfig {
  double coil_sensitivity_t_per_a = 1.5e-3;    // u = -p dmu/dt
  double lna_gain = 50.0;                      // V/V between coil and ADC
  double adc_full_scale_v = 1.0;               // ADC input at code 32767
  double noise_density_v_per_sqrt_hz = 0.0;    // white noise at the coil
  double feedthrough_v_per_t_per_s = 0.0;      // u = -k dB/dt
  double reference_v_per_t = 50.0;             // reference pickup: u = k B
};

struct PlantConfig {
  BoardConfig board;
  double tesla_per_full_scale = 0.020;   // drive field at DAC full scale (calibration)
  double gradient_t_per_m = 2.0;         // selection gradient along the drive axis
  ReceiveConfig receive;
  recon::Tracer tracer;
  Phantom phantom;
  std::uint64_t seed = 1;

  [[nodiscard]] double sample_rate_hz() const noexcept {
    return static_cast<double>(board.dac_clock_hz) / static_cast<double>(board.adc_decimation);
  }
};

// Reads the scanner file ([board], [drive], [selection], [receive]) into `config`.
// `source` names the text in error messages (usually its path).
void read_scanner_config(std::string_view toml_text, const std::string& source, PlantConfig& config);
// Reads the plan's [tracer], [[phantom.point]], [[phantom.line]] and [simulation] into `config`.
void read_plan_config(std::string_view toml_text, const std::string& source, PlantConfig& config);
// Reads both files. Throws ConfigError.
PlantConfig load_plant_config(const std::filesystem::path& scanner_file, const std::filesystem::path& plan_file);

}  // namespace mpi::hil
