// Faults the plant injects into the simulated scanner, scheduled from a faults file or commanded while it
// runs (a control file, one command per line).
//
// Faults file (TOML), each fault one [[fault]] table; `at` is sample time since the trigger:
//   [[fault]]
//   kind = "amplifier_dropout"      # the amplifier of drive `channel` stops driving (field decays with RL)
//   at = "0.5 s"
//   channel = "x"
//   duration = "20 ms"              # optional: recovers afterwards; without it, until the amplifier is cycled
//   [[fault]]
//   kind = "over_temperature"       # the coil's temperature jumps to `temperature`, then cools normally
//   at = "0.2 s"
//   channel = "x"                   # a drive or offset coil; or sensor = "coil_x"
//   temperature = "90 degC"
//   [[fault]]
//   kind = "adc_saturation"         # +2x ADC full scale on ADC channel `channel` (a receive channel or
//   at = "10 ms"                    #  "ref_<drive>") for `duration`
//   channel = "rx_x"
//   duration = "5 ms"
//   [[fault]]
//   kind = "clock_glitch"           # the ADC loses `samples` frames
//   at = "30 ms"
//   samples = 3
//   [[fault]]
//   kind = "stuck_pointer"          # WritePointer is not published for `duration`, then jumps
//   at = "40 ms"
//   duration = "20 ms"
//   [[fault]]
//   kind = "interlock"              # state = "open" | "close"
//   at = "50 ms"
//   state = "open"
//   [[fault]]
//   kind = "instant_stop"           # state = "press" | "release"
//   at = "60 ms"
//   state = "press"
//   [[fault]]
//   kind = "sample_holder"          # state = "out" (the bore is empty: no particle signal; feedthrough,
//   at = "0 s"                      #  noise and distortion stay) | "in" (the phantom's sample is back)
//   state = "out"
//
// Control commands (the same kinds, applied at the sample the plant is at when it reads them):
//   amplifier_dropout x [20 ms] | over_temperature x 90 degC | adc_saturation rx_x 5 ms | clock_glitch 3 |
//   stuck_pointer 20 ms | interlock open|close | instant_stop press|release | sample_holder out|in
#pragma once

#include "mpi/config/config_error.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::hil {

enum class FaultKind {
  amplifier_dropout,
  over_temperature,
  adc_saturation,
  clock_glitch,
  stuck_pointer,
  interlock,
  instant_stop,
  sample_holder,
};

// "amplifier_dropout", ...
std::string_view to_string(FaultKind kind) noexcept;

struct Fault {
  FaultKind kind = FaultKind::amplifier_dropout;
  double at_s = 0.0;             // sample time since the trigger (scheduled faults)
  double duration_s = 0.0;       // 0: none
  std::string channel;           // drive channel, coil, or ADC channel name (by kind)
  std::string sensor;            // over_temperature: a temperature sensor instead of a coil
  double temperature_k = 0.0;    // over_temperature
  std::uint32_t samples = 0;     // clock_glitch
  bool engage = true;            // interlock: open; instant_stop: press (false: close / release)
  bool sample_in = true;         // sample_holder: in (false: out, the sample holder is empty)
};

// Parses a faults file's text; `source` names it in messages. Throws config::ConfigError naming the file,
// the fault ("[[fault]] #2 (adc_saturation)"), the key and why.
std::vector<Fault> parse_faults(std::string_view toml_text, const std::string& source);
std::vector<Fault> load_faults(const std::filesystem::path& file);

// Parses one control command (see above). Throws std::invalid_argument saying what is wrong.
Fault parse_control_command(std::string_view line);

}  // namespace mpi::hil
