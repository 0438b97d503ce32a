// Every documented limit of the link (link.proto) in one place, and check_limits(), which a peer applies
// to each message it receives before acting on it (the board answers ERROR_LIMIT_EXCEEDED naming the field
// and the limit). The limits bound sizes, counts and ranges only; whether a value suits the scanner (a
// drive amplitude, a program's fields) the firmware checks against the scanner description.
// protocol/README.md lists them as a table; keep both in step.
#pragma once

#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/auth.hpp"     // kNonceBytes, kProofBytes: nonces and proofs, exactly (or absent)
#include "mpi/protocol/framing.hpp"  // kMaxFrameBytes: one frame's payload, whatever the message

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mpi::protocol {

// Hello.client_name, HelloReply.server_name, each of BoardInfo.adc_channel_names: bytes of UTF-8.
inline constexpr std::size_t kMaxNameBytes = 64;
// Hello.capabilities, HelloReply.capabilities: entries, and bytes of each.
inline constexpr std::size_t kMaxCapabilities = 32;
inline constexpr std::size_t kMaxCapabilityBytes = 32;
// Hello.reclaim_token, HelloReply.reclaim_token: exactly this many bytes, or absent.
inline constexpr std::size_t kReclaimTokenBytes = 16;
// Configure.drive and ConfigureReply.drive entries, BoardInfo.drive_channels; a drive channel index
// (DriveChannelConfig, RealisedDriveChannel, FieldReport .channel) is below it.
inline constexpr std::size_t kMaxDriveChannels = 8;
// ScanProgram.segments and ConfigureReply.segments entries. The board's offset sequence table holds as
// many (firmware/scan_program.hpp has the same values: it should use these).
inline constexpr std::size_t kMaxProgramSegments = 64;
// Distinct steps of a scan program before repetition: ScanSegment.steps entries, LinearSweep.steps, and
// their sum over all segments of the program.
inline constexpr std::size_t kMaxProgramSteps = 65536;
// OffsetStep.field_t entries (offset channels); LinearSweep.offset_channel is below it.
inline constexpr std::size_t kMaxOffsetChannels = 16;
// ScanSegment.repetitions.
inline constexpr std::uint64_t kMaxRepetitions = std::uint64_t{1} << 32;
// ScanSegment.label, RealisedSegment.label: bytes of UTF-8.
inline constexpr std::size_t kMaxLabelBytes = 64;
// Configure.chunk_samples, ConfigureReply.chunk_samples, SampleChunk.sample_count: frames per chunk (the
// chunk must fit kMaxFrameBytes as well, so with many channels the board allows fewer).
inline constexpr std::uint32_t kMaxChunkSamples = 65536;
// Configure.ramp_samples, ConfigureReply.ramp_samples (the scanner's ramp time limits it further).
inline constexpr std::uint32_t kMaxRampSamples = std::uint32_t{1} << 30;
// Start.max_samples, and a scan program's length in samples (sum over segments of distinct steps x
// repetitions x step_samples).
inline constexpr std::uint64_t kMaxScanSamples = std::uint64_t{1} << 48;
// SampleChunk.channel_count, BoardInfo.adc_channels and adc_channel_names entries. A chunk's payload is
// exactly sample_count x channel_count x 2 bytes (int16).
inline constexpr std::uint32_t kMaxChunkChannels = 32;
// Status.faults entries (the latched faults).
inline constexpr std::size_t kMaxStatusFaults = 16;
// Status.last_field entries (the latest field control reports).
inline constexpr std::size_t kMaxFieldReports = 32;
// Status.temperatures entries (the board's temperature sensors).
inline constexpr std::size_t kMaxTemperatureReadings = 8;
// Every other string (Error.message, Fault.message, Status.fault, StreamEnd.reason, FieldReport.verdict):
// bytes of UTF-8. Senders cut longer text with fit_text().
inline constexpr std::size_t kMaxTextBytes = 1024;
// Besides: every double (and float) field is finite, NaN and infinities are violations.

struct LimitViolation {
  std::string field;   // the field's path from the Envelope: "configure.program.segments[3].steps[17].field_t"
  std::string detail;  // what it holds and the limit: "has 40 entries, the limit is 16"
};

// The first field of `envelope` (whichever body it carries) that exceeds its limit, or nullopt.
[[nodiscard]] std::optional<LimitViolation> check_limits(const link::v1::Envelope& envelope);

// The limits check_limits() applies to one field of link.proto (0: none of that kind).
struct FieldLimits {
  std::uint64_t max_count = 0;    // repeated: most entries
  std::uint64_t max_bytes = 0;    // string or bytes (each entry): most bytes
  std::uint64_t exact_bytes = 0;  // bytes: exactly this many, or empty (absent)
  std::uint64_t max_value = 0;    // unsigned integer: largest value
};
[[nodiscard]] FieldLimits field_limits(const google::protobuf::FieldDescriptor& field);

// The longest prefix of `text` of at most `limit` bytes that ends on a UTF-8 character boundary.
[[nodiscard]] std::string_view fit_text(std::string_view text, std::size_t limit = kMaxTextBytes) noexcept;

}  // namespace mpi::protocol
