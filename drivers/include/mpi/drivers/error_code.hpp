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
  }
  return "unknown";
}

}  // namespace mpi::drivers
