// The acquisition board's register map: the single source of truth for the firmware's drivers and for
// the hardware-in-the-loop plant, which plays the board's logic behind exactly this layout.
//
// The board exposes one register block (32- and 64-bit registers at fixed byte offsets) and one DMA ring
// buffer of ADC samples. In the loop both live in one shared-memory region: the register block first,
// the ring at kRingOffsetBytes. On the board they are two memory-mapped windows.
//
// Semantics that both sides implement:
// - Sample clock. The ADC produces one frame (one int16 per channel, interleaved) every kAdcDecimation
//   DAC clock ticks. A rising edge of AcqControl.run is the trigger: the sample counter restarts at 0,
//   every drive channel's DDS phase restarts at its PhaseOffset, and pending ramps start at sample 0.
//   WritePointer counts frames written since the trigger; frame n sits at ring frame (n mod ring_frames).
// - DDS. Channel phase at ADC sample n, in units of 2^-48 turn:
//     phase(n) = (PhaseOffset + n * AdcDecimation * PhaseIncrement) mod 2^48
//   output(n) = Amplitude / 65535 * ramp(n) * sin(2 pi phase(n) / 2^48), in units of DAC full scale.
// - Ramp. Writing RampCommand (up or down) starts a linear ramp of the channel's ramp factor from its
//   present value towards 1 (up) or 0 (down) at a rate of 1/RampSamples per sample. The logic records the
//   sample index at which it applied the command in RampEventSample and the present factor (Q16, 65536 =
//   1) in RampFactor. A ramp written while acquisition is stopped applies at the next trigger (sample 0).
//   The factor only changes while acquisition runs: the drive is never switched on or off in one step.
// - Enable. A disabled channel outputs zero. The firmware disables a channel only when its ramp factor is 0.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpi::drivers::regmap {

inline constexpr std::uint32_t kMagicValue = 0x4D504942U;  // "MPIB"
inline constexpr std::uint32_t kMapVersionValue = 1U;

inline constexpr std::size_t kRegisterBlockBytes = 4096;
inline constexpr std::size_t kRingOffsetBytes = kRegisterBlockBytes;  // shared-memory layout only
inline constexpr unsigned kMaxDriveChannels = 4;
inline constexpr unsigned kMaxAdcChannels = 8;
inline constexpr unsigned kPhaseBits = 48;
inline constexpr std::uint64_t kPhaseMask = (std::uint64_t{1} << kPhaseBits) - 1U;
inline constexpr std::uint32_t kAmplitudeFullScale = 65535U;
inline constexpr std::uint32_t kRampFactorOne = 65536U;

// --- identification and capabilities (read-only for the firmware) ---
inline constexpr std::uint32_t kMagic = 0x000;          // u32, kMagicValue
inline constexpr std::uint32_t kMapVersion = 0x004;     // u32, kMapVersionValue
inline constexpr std::uint32_t kDacClockHz = 0x008;     // u32, DDS/DAC clock in Hz
inline constexpr std::uint32_t kAdcDecimation = 0x00C;  // u32, DAC clock ticks per ADC frame
inline constexpr std::uint32_t kAdcChannels = 0x010;    // u32, channels per ADC frame
inline constexpr std::uint32_t kRingFramesLog2 = 0x014; // u32, ring holds 2^n frames
inline constexpr std::uint32_t kDriveChannels = 0x018;  // u32, number of drive DAC channels

// --- acquisition ---
inline constexpr std::uint32_t kAcqControl = 0x040;   // u32, bit kAcqRun
inline constexpr std::uint32_t kAcqStatus = 0x044;    // u32, bit kAcqRunning
inline constexpr std::uint32_t kWritePointer = 0x048; // u64, frames written since the trigger
inline constexpr std::uint32_t kAcqRun = 1U << 0;
inline constexpr std::uint32_t kAcqRunning = 1U << 0;

// --- safety I/O ---
inline constexpr std::uint32_t kAliveCounter = 0x080; // u32, incremented by the firmware's control tick
inline constexpr std::uint32_t kSafetyStatus = 0x084; // u32, bits below, written by the logic
inline constexpr std::uint32_t kInterlockClosed = 1U << 0;

// --- drive channels: kDriveBase + n * kDriveStride ---
inline constexpr std::uint32_t kDriveBase = 0x100;
inline constexpr std::uint32_t kDriveStride = 0x40;
inline constexpr std::uint32_t kDriveControl = 0x00;        // u32, bit kDriveEnable
inline constexpr std::uint32_t kDrivePhaseIncrement = 0x08; // u64, 48 bits used
inline constexpr std::uint32_t kDrivePhaseOffset = 0x10;    // u64, 48 bits used
inline constexpr std::uint32_t kDriveAmplitude = 0x18;      // u32, 0..kAmplitudeFullScale
inline constexpr std::uint32_t kDriveRampSamples = 0x1C;    // u32, ramp duration in ADC samples (>= 1)
inline constexpr std::uint32_t kDriveRampCommand = 0x20;    // u32, RampCommand
inline constexpr std::uint32_t kDriveRampFactor = 0x24;     // u32, Q16, read-only
inline constexpr std::uint32_t kDriveRampEventSample = 0x28;// u64, read-only
inline constexpr std::uint32_t kDriveEnable = 1U << 0;

enum class RampCommand : std::uint32_t { hold = 0, up = 1, down = 2 };

constexpr std::uint32_t drive_register(unsigned channel, std::uint32_t reg) {
  return kDriveBase + channel * kDriveStride + reg;
}

static_assert(drive_register(kMaxDriveChannels - 1, kDriveRampEventSample) + 8 <= kRegisterBlockBytes);
static_assert(kWritePointer % 8 == 0 && kDrivePhaseIncrement % 8 == 0 && kDrivePhaseOffset % 8 == 0 &&
                  kDriveRampEventSample % 8 == 0 && kDriveStride % 8 == 0,
              "64-bit registers must be naturally aligned");

// Bytes of a shared-memory region holding the register block and a ring of 2^log2 frames.
constexpr std::size_t shared_region_bytes(unsigned ring_frames_log2, unsigned adc_channels) {
  return kRingOffsetBytes + (std::size_t{1} << ring_frames_log2) * adc_channels * sizeof(std::int16_t);
}

}  // namespace mpi::drivers::regmap
