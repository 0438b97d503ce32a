// Error codes returned by the drivers on the control and streaming paths (no exceptions there).
#pragma once

#include <cstdint>
#include <string_view>

namespace mpi::drivers {

enum class ErrorCode : std::uint8_t {
  ok = 0,
  invalid_channel,
  frequency_out_of_range,
  amplitude_out_of_range,
  invalid_ramp,
  dac_limit_out_of_range,
  not_written_yet,   // the requested samples are not in the ring yet
  overwritten,       // the requested samples were overwritten before they were read
  corrupted,         // the requested samples were overwritten while they were read
  invalid_component,        // DDS component index not below kDdsComponents
  dc_offset_out_of_range,   // DC offset outside -1..1 of full scale
  invalid_waveform,         // arbitrary waveform empty, too long, or a point outside -32767..32767
  value_out_of_range,       // an offset channel DAC code outside -kDacFullScale..kDacFullScale
  invalid_sensor,           // temperature sensor index not on the board
  invalid_step_samples,     // sequence step duration of 0 samples
  invalid_look_ahead,       // sequence look-ahead of 0 or more than kSeqSlots steps
  sequence_empty,           // no sequence loaded
  acquisition_running,      // the request needs acquisition stopped
};

constexpr std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::invalid_channel: return "invalid drive channel";
    case ErrorCode::frequency_out_of_range: return "drive frequency out of range";
    case ErrorCode::amplitude_out_of_range: return "drive amplitude out of range";
    case ErrorCode::invalid_ramp: return "invalid ramp duration";
    case ErrorCode::dac_limit_out_of_range: return "DAC limit out of range";
    case ErrorCode::not_written_yet: return "samples not written yet";
    case ErrorCode::overwritten: return "samples overwritten before read";
    case ErrorCode::corrupted: return "samples overwritten while read";
    case ErrorCode::invalid_component: return "invalid DDS component";
    case ErrorCode::dc_offset_out_of_range: return "DC offset out of range";
    case ErrorCode::invalid_waveform: return "invalid arbitrary waveform";
    case ErrorCode::value_out_of_range: return "offset DAC value out of range";
    case ErrorCode::invalid_sensor: return "invalid temperature sensor";
    case ErrorCode::invalid_step_samples: return "invalid sequence step duration";
    case ErrorCode::invalid_look_ahead: return "invalid sequence look-ahead";
    case ErrorCode::sequence_empty: return "no sequence loaded";
    case ErrorCode::acquisition_running: return "acquisition is running";
  }
  return "unknown";
}

}  // namespace mpi::drivers
