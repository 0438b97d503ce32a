// The input format of the command-handling fuzz target (command_handler_fuzz.cpp), shared with the seed
// generator (make_corpus.cpp).
//
// The input is a stream of link frames (mpi/protocol/framing.hpp), as a controlling host would send them.
// Each frame's Envelope is one command to the sequencer. Its request_id, which the firmware only echoes,
// also carries what the board does while the command is handled and after it:
//   bits  0-5   control ticks to run after the command (each: one step of the simulated logic, then
//               Sequencer::tick())
//   bit   6     the interlock is open
//   bit   7     the instant stop is pressed
//   bit   8     over-temperature
//   bit   9     drive channel 0's amplifier reports a fault (latched until cleared)
//   bit  10     the logic clamped drive channel 1's output (latched until cleared)
//   bit  11     the logic does not answer the trigger and produces no samples
//   bit  12     the controller's link is lost just before the command
//   bit  13     drive-field control on (for the next Configure)
//   bits 16-27  ADC frames per logic step (0: kDefaultFramesPerStep)
// The board conditions (bits 6-11) hold while that frame's command and ticks run: a frame without them
// returns the board to normal.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpi::fuzz {

inline constexpr std::uint64_t kTicksMask = 0x3FU;
inline constexpr std::uint64_t kInterlockOpen = 1U << 6;
inline constexpr std::uint64_t kInstantStop = 1U << 7;
inline constexpr std::uint64_t kOverTemperature = 1U << 8;
inline constexpr std::uint64_t kAmplifierFault = 1U << 9;
inline constexpr std::uint64_t kClamped = 1U << 10;
inline constexpr std::uint64_t kLogicSilent = 1U << 11;
inline constexpr std::uint64_t kLinkLost = 1U << 12;
inline constexpr std::uint64_t kFieldControl = 1U << 13;
inline constexpr unsigned kFramesShift = 16;
inline constexpr std::uint64_t kFramesMask = 0xFFFU;
inline constexpr std::uint32_t kDefaultFramesPerStep = 250;

// A request id with `ticks` control ticks, the board flags above and `frames_per_step` (0: default).
constexpr std::uint64_t request_id(std::uint64_t ticks, std::uint64_t flags = 0, std::uint64_t frames_per_step = 0) {
  return (ticks & kTicksMask) | flags | ((frames_per_step & kFramesMask) << kFramesShift);
}

// The frame-decoder target's input: a control byte, then the piece sizes, then the byte stream.
//   byte 0: bits 0-2 the number n of piece-size bytes that follow; bit 3 a small frame limit
//           (kSmallFrameLimit) instead of protocol::kMaxFrameBytes
//   bytes 1..n: piece sizes (value + 1 bytes each), used in turn and cyclically; none: one piece
//   the rest: the byte stream fed to the decoder
inline constexpr std::uint8_t kPieceCountMask = 0x07U;
inline constexpr std::uint8_t kSmallLimitFlag = 0x08U;
inline constexpr std::size_t kSmallFrameLimit = 256;

}  // namespace mpi::fuzz
