// A scan program (link::v1::ScanProgram) checked against the scanner and turned into the offset sequence
// table's segments: background frames, the offsets' ramp-up, gradient/focus patches, foreground frames,
// the ramp-down, or a relaxometry bias sweep, each a segment of equal-length steps with a role.
//
// The table plays the program from the trigger (sample 0); step k covers samples [k S, (k + 1) S) for
// S = step_samples, a whole number of drive cycles so that every step holds whole frames. After the last
// step, and from the first step not yet written when a scan ends early, the table's tail ramps every offset
// channel to zero over the scan's ramp (at least kMinTailSteps steps: never in one jump) and holds zero.
// The sequencer keeps `look_ahead_steps` steps (about kLookAheadSeconds) written ahead of the logic: a
// control thread held up for less never loses a step, and an early end reaches the offsets that soon.
#pragma once

#include "mpi/config/scanner_description.hpp"
#include "mpi/drivers/offset_sequence.hpp"
#include "mpi/link/v1/link.pb.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mpi::firmware {

inline constexpr std::uint64_t kMinTailSteps = 4;
inline constexpr double kLookAheadSeconds = 0.05;
inline constexpr std::size_t kMaxProgramSegments = 64;
inline constexpr std::size_t kMaxProgramSteps = 65536;  // distinct steps, before repetition

struct ProgramSegment {
  link::v1::SegmentRole role = link::v1::SEGMENT_ROLE_UNSPECIFIED;
  std::string label;
  std::uint64_t first_sample = 0;
  std::uint64_t sample_count = 0;
};

struct CompiledProgram {
  std::vector<drivers::SequenceSegment> segments;  // for drivers::OffsetSequence::load
  std::vector<ProgramSegment> layout;              // where each segment lies in the stream
  std::uint32_t step_samples = 0;
  std::uint64_t total_steps = 0;
  std::uint64_t tail_ramp_steps = 0;
  std::uint32_t look_ahead_steps = 0;

  [[nodiscard]] std::uint64_t end_sample() const noexcept { return total_steps * step_samples; }
};

// One cycle of the drive channels marked in `configured` (indices into scanner.drive), in ADC samples:
// the shortest whole number of samples after which every configured channel is back in phase. Throws
// config::ConfigError if the clocks give no such number.
std::uint64_t drive_cycle_samples(const config::ScannerDescription& scanner, const std::vector<bool>& configured);

// Checks `program` and fills `out`; returns "" or the first problem, naming the field ("program.segments[2]
// .steps[0].field_t[1] = 0.06 T exceeds the limit 0.04 T (max_field of offset channel focus_x)").
// `cycle_samples`: drive_cycle_samples() of the configuration; `ramp_samples`: the scan's ramp;
// `board_offset_channels`: the offset channels the board has.
std::string compile_program(const link::v1::ScanProgram& program, const config::ScannerDescription& scanner,
                            unsigned board_offset_channels, std::uint64_t cycle_samples, std::uint32_t ramp_samples,
                            double sample_rate_hz, CompiledProgram& out);

}  // namespace mpi::firmware
