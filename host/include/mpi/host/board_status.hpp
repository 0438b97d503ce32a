// The board's state as an observer sees it: what `mpi status` prints and the console shows. An observer
// connection never disturbs a running scan or its controller.
#pragma once

#include "mpi/link/v1/link.pb.h"

#include <chrono>
#include <cstdint>
#include <string>

namespace mpi::host {

struct BoardSnapshot {
  link::v1::HelloReply hello;  // the board: name, protocol, ADC and drive description
  link::v1::Status status;     // mode, scan state, faults, field control reports, temperatures
};

// Connects as an observer (authenticated with the link key, see LinkClient), asks for the Status and
// disconnects. Throws LinkError naming the address when the board cannot be reached or refuses.
BoardSnapshot read_board_status(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

// Relative drive-field control error of a field report: (measured - target) / target (0 when no target).
double control_error(const link::v1::FieldReport& report);

// A few lines for an operator: board and protocol, mode and scan state, samples, faults, the latest field
// control report per drive channel (target, measured, error, verdict) and every temperature with its limit.
std::string format_board_status(const BoardSnapshot& snapshot);

}  // namespace mpi::host
