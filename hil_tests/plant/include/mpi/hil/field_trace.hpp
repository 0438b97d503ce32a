// The plant's field trace: a compact record of the field the plant applied to the coils, per acquisition
// (scan) and per block of a fixed number of samples, so that a test can check the physics that reached the
// coils (a ramp-down's envelope, the discrete slew) rather than what the firmware reports.
//
// Per block and drive channel d: the peak |B_d| over the block's samples (T), the largest discrete slew
// |B_d[n] - B_d[n-1]| * fs over the block (T/s; the first sample of a scan has no predecessor and does not
// count) and the logic's ramp factor at the block's last sample (0..1). Per offset channel: the mean field
// over the block (T). B_d[n] is the drive field at t_n along the channel's axis, after the amplifier's lag,
// gain and the DAC clamp (the field the particles see). Sample indices are physics samples since the
// trigger: they equal the ADC frame index unless a clock glitch made the ADC lose frames.
//
// Memory is bounded: the trace holds at most `max_blocks` blocks over all scans of a run, allocated up front
// (reserved; pages are touched as blocks fill). Blocks beyond are counted (dropped_blocks) but not kept.
// Recording a sample never allocates.
//
// File format (write_field_trace, read_field_trace): CSV text. Comment lines start with '#'; the header
// comments give the scanner, sample rate, block length, channel names, columns and units, and
// "# dropped_blocks: N". One header line names the columns:
//   scan,first_sample,samples,<d>_peak_t,<d>_slew_t_per_s,<d>_ramp ... ,<o>_mean_t ...
// then one row per block, scans in order, each scan introduced by a comment line "# scan K".
#pragma once

#include "mpi/drivers/register_map.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace mpi::hil {

struct FieldTraceBlock {
  std::uint64_t scan = 0;            // trigger count of the acquisition (1 for the first)
  std::uint64_t first_sample = 0;    // physics sample index since the trigger
  std::uint32_t samples = 0;         // block length (the last block of a scan may be shorter)
  std::array<double, drivers::regmap::kMaxDriveChannels> peak_t{};
  std::array<double, drivers::regmap::kMaxDriveChannels> slew_t_per_s{};
  std::array<double, drivers::regmap::kMaxDriveChannels> ramp_factor{};
  std::array<double, drivers::regmap::kMaxOffsetChannels> offset_mean_t{};
};

// What a trace file holds besides its blocks.
struct FieldTraceHeader {
  std::string scanner;
  double sample_rate_hz = 0.0;
  std::uint32_t block_samples = 0;
  std::vector<std::string> drive_names;
  std::vector<std::string> offset_names;
  std::uint64_t dropped_blocks = 0;
};

class FieldTrace {
 public:
  static constexpr std::size_t kDefaultMaxBlocks = std::size_t{1} << 18;  // 256 Ki blocks of 152 bytes: 40 MB

  // Throws std::invalid_argument for more channels than the register map has, block_samples = 0,
  // max_blocks = 0 or a sample rate that is not positive.
  FieldTrace(FieldTraceHeader header, std::size_t max_blocks = kDefaultMaxBlocks);

  // A new acquisition: the next sample is sample 0 of scan `scan`; closes nothing (see close_block).
  void begin_scan(std::uint64_t scan) noexcept;
  // Records sample `n` (consecutive within a scan): drive_t[d] for every drive channel, offset_t[o] for every
  // offset channel. Returns true when the open block is full: the caller then closes it with close_block.
  bool add(std::uint64_t n, const double* drive_t, const double* offset_t) noexcept;
  // Closes the open block (full or a partial one at the end of a scan) with the ramp factor of every drive
  // channel at its last sample; does nothing when no block is open.
  void close_block(const double* ramp_factors) noexcept;
  [[nodiscard]] bool block_open() const noexcept { return open_samples_ > 0; }

  [[nodiscard]] const FieldTraceHeader& header() const noexcept { return header_; }
  [[nodiscard]] const std::vector<FieldTraceBlock>& blocks() const noexcept { return blocks_; }
  [[nodiscard]] std::uint64_t dropped_blocks() const noexcept { return header_.dropped_blocks; }
  [[nodiscard]] std::size_t max_blocks() const noexcept { return max_blocks_; }

 private:
  FieldTraceHeader header_;
  std::size_t max_blocks_;
  std::vector<FieldTraceBlock> blocks_;
  FieldTraceBlock open_{};
  std::uint32_t open_samples_ = 0;
  std::uint64_t scan_ = 0;
  bool have_previous_ = false;
  std::array<double, drivers::regmap::kMaxDriveChannels> previous_{};
};

// Block length the plant uses when none is given: one period (rounded to whole samples) of the drive
// channel with the lowest frequency, so that a block's peak |B| is the envelope of a sinusoidal drive.
// 64 when no drive channel has a frequency.
[[nodiscard]] std::uint32_t default_field_trace_block(double sample_rate_hz, const std::vector<double>& drive_frequencies_hz);

// Writes the trace in the format above; throws std::runtime_error naming the file when it cannot.
void write_field_trace(const FieldTrace& trace, std::ostream& out);
void write_field_trace(const FieldTrace& trace, const std::filesystem::path& file);
// Reads a trace file; throws std::runtime_error naming the file and line for anything malformed.
struct FieldTraceFile {
  FieldTraceHeader header;
  std::vector<FieldTraceBlock> blocks;
};
[[nodiscard]] FieldTraceFile read_field_trace(const std::filesystem::path& file);

}  // namespace mpi::hil
