// What the firmware takes from the scanner description (mpi::config::ScannerDescription): per drive
// channel the calibration (field at DAC full scale), the coil's amplitude limit, the hard field cap of
// [safety] and the channel's frequency (a matched drive chain runs only at its own frequency); the ADC
// channel names it reports to the host; and a check that the description belongs to the board it runs on.
#pragma once

#include "mpi/config/scanner_description.hpp"
#include "mpi/firmware/board_geometry.hpp"

#include <string>
#include <vector>

namespace mpi::firmware {

// Relative distance from a drive channel's frequency (base_clock / divider) that Configure accepts.
inline constexpr double kDriveFrequencyTolerance = 0.01;

// The highest amplitude drive channel `channel` may be configured to: its coil limit (max_amplitude)
// or the hard field cap of [safety], whichever is lower.
[[nodiscard]] double drive_limit_t(const config::ScannerDescription& scanner, std::size_t channel) noexcept;

// The names of the ADC channels in board order: the receive channels, then "ref_<drive name>" for the
// reference pickup of each drive channel.
[[nodiscard]] std::vector<std::string> adc_channel_names(const config::ScannerDescription& scanner);

// The selection gradient along its strongest axis: the eigenvalue of G with the largest magnitude (with
// its sign), e.g. 2 T/m for diag(-1, -1, 2) T/m; 0 for a spectrometer.
[[nodiscard]] double strongest_gradient_t_per_m(const config::ScannerDescription& scanner) noexcept;

// Empty if the description fits the board (DAC clock, ADC decimation, drive, receive and ADC channel
// counts); otherwise what differs, naming the description's key: "[board] adc_decimation: the scanner
// description says 8, the board reports 125".
[[nodiscard]] std::string board_mismatch(const config::ScannerDescription& scanner, const BoardGeometry& board);

}  // namespace mpi::firmware
