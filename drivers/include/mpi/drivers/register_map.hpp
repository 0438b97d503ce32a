// The acquisition board's register map: the single source of truth for the firmware's drivers and for
// the hardware-in-the-loop plant, which plays the board's logic behind exactly this layout.
//
// The board exposes one register window (32- and 64-bit registers at fixed byte offsets, followed by the
// arbitrary-waveform and sequence-table memories) and one DMA ring buffer of ADC samples. In the loop both
// live in one shared-memory region: the register window first, the ring at kRingOffsetBytes. On the board
// they are two memory-mapped windows.
//
// Semantics that both sides implement:
// - Sample clock. The ADC produces one frame (one int16 per channel, interleaved) every AdcDecimation DAC
//   clock ticks. A rising edge of AcqControl.run is the trigger: the sample counter restarts at 0, every
//   DDS component's phase restarts at its PhaseOffset, pending ramps start at sample 0 and the sequence
//   table (when enabled) starts its step 0 at sample 0. WritePointer counts frames written since the
//   trigger; frame n sits at ring frame (n mod ring_frames). The logic publishes WritePointer after the
//   frame is in the ring (release order).
// - ADC channels. Channels [0, ReceiveChannels) are receive coils; channel ReceiveChannels + d is the
//   reference pickup of drive channel d (a voltage proportional to the coil's field); the rest read 0.
// - DDS. Each drive channel has kDdsComponents sine components. Component k's phase at ADC sample n, in
//   units of 2^-48 turn:
//     phase_k(n) = (PhaseOffset_k + (n - s_sync) * AdcDecimation * PhaseIncrement_k) mod 2^48
//   where s_sync is the trigger (0) or the start sample of the latest sequence step with kStepResync.
//   The channel's DAC output in units of full scale (written for sample instants; the analog chain
//   reconstructs the smooth waveform, so between samples the output follows the same expression at the
//   fractional sample time, the arbitrary waveform interpolated linearly between its points):
//     out(n) = clamp( ramp(n) * step_enable(n) * ( sum_k Amplitude_k / 65535 * sin(2 pi phase_k(n) / 2^48)
//                     + AwgAmplitude / 65535 * awg[floor(phase_0(n) * AwgPoints / 2^48)] / 32767 )
//                     + DcOffset / 32767,   -DacLimit / 32767, +DacLimit / 32767 )
//   The arbitrary waveform (AwgPoints <= kAwgMaxPoints int16 values) plays one period per turn of
//   component 0's phase; AwgPoints = 0 disables it. When clamping changes a value the logic sets
//   kDriveClamped in DriveStatus (latched until the firmware writes that bit to DriveStatusClear).
// - Ramp. Writing RampCommand (up or down) starts a linear ramp of the channel's ramp factor from its
//   present value towards 1 (up) or 0 (down) at a rate of 1/RampSamples per sample. The logic records the
//   sample index at which it applied the command in RampEventSample and the present factor (Q16, 65536 =
//   1) in RampFactor. A ramp written while acquisition is stopped applies at the next trigger (sample 0).
//   The factor only changes while acquisition runs: the drive is never switched on or off in one step.
// - Enable. A disabled channel outputs zero. The firmware disables a channel only when its ramp factor is 0.
//   AmplifierControl.enable powers the channel's power amplifier; a disabled amplifier drives no current.
// - Sequence table (gradient/focus/offset channels). The table memory holds kSeqSlots steps. When
//   SeqControl.enable is set at the trigger, step k covers samples [k * SeqStepSamples, (k+1) * SeqStepSamples).
//   The firmware writes step k into slot (k mod kSeqSlots) and then raises SeqWriteCount to k + 1
//   (look-ahead refill). Entering step k, the logic loads the slot if k < SeqWriteCount; otherwise the
//   step is lost: the outputs hold their previous values, SeqLostSteps counts it and SeqFirstLostSample
//   keeps the sample of the first loss (0 when none). SeqReadIndex is the step the logic is in. A step's
//   flags: kStepEnable (drive outputs on during the step; off multiplies every drive output by 0) and
//   kStepResync (DDS phases restart at the step's first sample). Offset channel c outputs the step's
//   value c (int32 DAC code, full scale 32767, clamped to the channel's DacLimit) until the next step.
//   With the table disabled, each offset channel outputs its StaticValue register.
// - Safety. SafetyStatus is written by the logic: interlock closed, instant-stop pressed, over-temperature
//   (any sensor above its limit), amplifier fault (any channel), ADC overrange (any channel this run),
//   watchdog expired, sample-clock unlocked. The firmware increments AliveCounter on every control tick and
//   writes WatchdogKick; if WatchdogKick does not change for WatchdogTimeoutSamples samples while acquisition
//   runs (0 disables the watchdog), the logic latches kWatchdogExpired and ramps every drive channel down
//   by itself. Latched bits (overrange, watchdog, clock unlocked, amplifier fault) clear when the firmware
//   writes them to SafetyClear. Temperatures are in milli-degrees Celsius, refreshed every millisecond.
// - Robot (simulation port). A calibration robot that carries a small sample: the host sets RobotTarget
//   (grid index, or kRobotPark to take the sample out of the bore) and the robot reports RobotPosition and
//   kRobotMoving; a scan on a moving robot is invalid.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpi::drivers::regmap {

inline constexpr std::uint32_t kMagicValue = 0x4D504942U;  // "MPIB"
inline constexpr std::uint32_t kMapVersionValue = 2U;

inline constexpr unsigned kMaxDriveChannels = 4;
inline constexpr unsigned kMaxOffsetChannels = 4;
inline constexpr unsigned kMaxAdcChannels = 8;
inline constexpr unsigned kMaxTemperatureSensors = 8;
inline constexpr unsigned kDdsComponents = 3;
inline constexpr unsigned kAwgMaxPoints = 16384;
inline constexpr unsigned kSeqSlots = 1024;
inline constexpr unsigned kPhaseBits = 48;
inline constexpr std::uint64_t kPhaseMask = (std::uint64_t{1} << kPhaseBits) - 1U;
inline constexpr std::uint32_t kAmplitudeFullScale = 65535U;
inline constexpr std::int32_t kDacFullScale = 32767;
inline constexpr std::uint32_t kRampFactorOne = 65536U;

// --- identification and capabilities (read-only for the firmware) ---
inline constexpr std::uint32_t kMagic = 0x000;            // u32, kMagicValue
inline constexpr std::uint32_t kMapVersion = 0x004;       // u32, kMapVersionValue
inline constexpr std::uint32_t kDacClockHz = 0x008;       // u32, DDS/DAC clock in Hz
inline constexpr std::uint32_t kAdcDecimation = 0x00C;    // u32, DAC clock ticks per ADC frame
inline constexpr std::uint32_t kAdcChannels = 0x010;      // u32, channels per ADC frame
inline constexpr std::uint32_t kRingFramesLog2 = 0x014;   // u32, ring holds 2^n frames
inline constexpr std::uint32_t kDriveChannels = 0x018;    // u32, number of drive DAC channels
inline constexpr std::uint32_t kOffsetChannels = 0x01C;   // u32, number of offset (gradient/focus) channels
inline constexpr std::uint32_t kReceiveChannels = 0x020;  // u32, ADC channels that are receive coils
inline constexpr std::uint32_t kTemperatureSensors = 0x024;  // u32, number of temperature sensors

// --- acquisition ---
inline constexpr std::uint32_t kAcqControl = 0x040;    // u32, bit kAcqRun
inline constexpr std::uint32_t kAcqStatus = 0x044;     // u32, bit kAcqRunning
inline constexpr std::uint32_t kWritePointer = 0x048;  // u64, frames written since the trigger
inline constexpr std::uint32_t kAdcOverrange = 0x050;  // u32, bit per ADC channel that clipped this run (latched)
inline constexpr std::uint32_t kAcqRun = 1U << 0;
inline constexpr std::uint32_t kAcqRunning = 1U << 0;

// --- safety I/O ---
inline constexpr std::uint32_t kAliveCounter = 0x080;           // u32, incremented by the firmware's control tick
inline constexpr std::uint32_t kSafetyStatus = 0x084;           // u32, bits below, written by the logic
inline constexpr std::uint32_t kWatchdogKick = 0x088;           // u32, written by the firmware
inline constexpr std::uint32_t kWatchdogTimeoutSamples = 0x08C; // u32, 0 = watchdog off
inline constexpr std::uint32_t kSafetyClear = 0x090;            // u32, write latched bits to clear them
inline constexpr std::uint32_t kClockSlipSamples = 0x094;       // u32, samples the ADC lost through clock glitches (read-only)
inline constexpr std::uint32_t kTemperatureBase = 0x0A0;        // i32 per sensor, milli-degrees Celsius
inline constexpr std::uint32_t kInterlockClosed = 1U << 0;
inline constexpr std::uint32_t kInstantStop = 1U << 1;
inline constexpr std::uint32_t kOverTemperature = 1U << 2;
inline constexpr std::uint32_t kAmplifierFault = 1U << 3;
inline constexpr std::uint32_t kAdcOverrangeAny = 1U << 4;
inline constexpr std::uint32_t kWatchdogExpired = 1U << 5;
inline constexpr std::uint32_t kClockUnlocked = 1U << 6;

constexpr std::uint32_t temperature_register(unsigned sensor) { return kTemperatureBase + sensor * 4U; }

// --- sequence table control ---
inline constexpr std::uint32_t kSeqControl = 0x0E0;         // u32, bit kSeqEnable
inline constexpr std::uint32_t kSeqStepSamples = 0x0E4;     // u32, ADC samples per step (>= 1)
inline constexpr std::uint32_t kSeqWriteCount = 0x0E8;      // u64, steps written by the firmware
inline constexpr std::uint32_t kSeqReadIndex = 0x0F0;       // u64, step the logic is in (read-only)
inline constexpr std::uint32_t kSeqFirstLostSample = 0x0F8; // u64, sample of the first lost step (read-only)
inline constexpr std::uint32_t kSeqLostSteps = 0x100;       // u32, lost steps this run (read-only)
inline constexpr std::uint32_t kSeqEnable = 1U << 0;

// --- robot (simulation port) ---
inline constexpr std::uint32_t kRobotTarget = 0x110;    // u32, grid index to move to
inline constexpr std::uint32_t kRobotPosition = 0x114;  // u32, grid index reached (read-only)
inline constexpr std::uint32_t kRobotStatus = 0x118;    // u32, bit kRobotMoving (read-only)
inline constexpr std::uint32_t kRobotMoving = 1U << 0;
// RobotTarget / RobotPosition value of the park position: the sample out of the bore, far outside the FOV
// (background measurements during a calibration). Moves to and from it take the longest way across the grid.
inline constexpr std::uint32_t kRobotPark = 0xFFFFFFFFU;

// --- drive channels: kDriveBase + n * kDriveStride ---
inline constexpr std::uint32_t kDriveBase = 0x200;
inline constexpr std::uint32_t kDriveStride = 0x80;
inline constexpr std::uint32_t kDriveControl = 0x00;          // u32, bit kDriveEnable
inline constexpr std::uint32_t kDdsBase = 0x08;               // component k at kDdsBase + k * kDdsStride
inline constexpr std::uint32_t kDdsStride = 0x18;
inline constexpr std::uint32_t kDdsPhaseIncrement = 0x00;     // u64, 48 bits used
inline constexpr std::uint32_t kDdsPhaseOffset = 0x08;        // u64, 48 bits used
inline constexpr std::uint32_t kDdsAmplitude = 0x10;          // u32, 0..kAmplitudeFullScale
inline constexpr std::uint32_t kDriveDcOffset = 0x50;         // i32, DAC codes (full scale kDacFullScale)
inline constexpr std::uint32_t kDriveRampSamples = 0x54;      // u32, ramp duration in ADC samples (>= 1)
inline constexpr std::uint32_t kDriveRampCommand = 0x58;      // u32, RampCommand
inline constexpr std::uint32_t kDriveRampFactor = 0x5C;       // u32, Q16, read-only
inline constexpr std::uint32_t kDriveRampEventSample = 0x60;  // u64, read-only
inline constexpr std::uint32_t kDriveAwgPoints = 0x68;        // u32, 0..kAwgMaxPoints (0 = off)
inline constexpr std::uint32_t kDriveAwgAmplitude = 0x6C;     // u32, 0..kAmplitudeFullScale
inline constexpr std::uint32_t kDriveDacLimit = 0x70;         // u32, peak DAC code the logic clamps to (0..kDacFullScale)
inline constexpr std::uint32_t kDriveAmplifierControl = 0x74; // u32, bit kAmplifierEnable
inline constexpr std::uint32_t kDriveStatus = 0x78;           // u32, bits kDriveClamped, kDriveAmplifierFault (read-only)
inline constexpr std::uint32_t kDriveStatusClear = 0x7C;      // u32, write latched DriveStatus bits to clear them
inline constexpr std::uint32_t kDriveEnable = 1U << 0;
inline constexpr std::uint32_t kAmplifierEnable = 1U << 0;
inline constexpr std::uint32_t kDriveClamped = 1U << 0;
inline constexpr std::uint32_t kDriveAmplifierFault = 1U << 1;

// Component 0 under the names the single-tone drivers use.
inline constexpr std::uint32_t kDrivePhaseIncrement = kDdsBase + kDdsPhaseIncrement;
inline constexpr std::uint32_t kDrivePhaseOffset = kDdsBase + kDdsPhaseOffset;
inline constexpr std::uint32_t kDriveAmplitude = kDdsBase + kDdsAmplitude;

enum class RampCommand : std::uint32_t { hold = 0, up = 1, down = 2 };

constexpr std::uint32_t drive_register(unsigned channel, std::uint32_t reg) {
  return kDriveBase + channel * kDriveStride + reg;
}
constexpr std::uint32_t dds_register(unsigned channel, unsigned component, std::uint32_t reg) {
  return drive_register(channel, kDdsBase + component * kDdsStride + reg);
}

// --- offset (gradient/focus) channels: kOffsetBase + n * kOffsetStride ---
inline constexpr std::uint32_t kOffsetBase = 0x400;
inline constexpr std::uint32_t kOffsetStride = 0x20;
inline constexpr std::uint32_t kOffsetStaticValue = 0x00;  // i32, DAC code while the table is disabled
inline constexpr std::uint32_t kOffsetDacLimit = 0x04;     // u32, peak DAC code the logic clamps to
inline constexpr std::uint32_t kOffsetOutput = 0x08;       // i32, DAC code output now (read-only)

constexpr std::uint32_t offset_register(unsigned channel, std::uint32_t reg) {
  return kOffsetBase + channel * kOffsetStride + reg;
}

// --- memories ---
// Arbitrary waveform of drive channel n: kAwgPoints int16 values, two per 32-bit word (low half first).
inline constexpr std::uint32_t kAwgBase = 0x1000;
inline constexpr std::uint32_t kAwgStride = kAwgMaxPoints * 2;
constexpr std::uint32_t awg_word(unsigned channel, unsigned pair) { return kAwgBase + channel * kAwgStride + pair * 4U; }

// Sequence table slot s: u32 flags, then one i32 value per offset channel.
inline constexpr std::uint32_t kSeqTableBase = kAwgBase + kMaxDriveChannels * kAwgStride;
inline constexpr std::uint32_t kSeqSlotBytes = 0x20;
inline constexpr std::uint32_t kStepFlags = 0x00;
inline constexpr std::uint32_t kStepValueBase = 0x04;  // i32 per offset channel
inline constexpr std::uint32_t kStepEnable = 1U << 0;
inline constexpr std::uint32_t kStepResync = 1U << 1;
constexpr std::uint32_t seq_slot_register(unsigned slot, std::uint32_t reg) {
  return kSeqTableBase + slot * kSeqSlotBytes + reg;
}
constexpr std::uint32_t seq_value_register(unsigned slot, unsigned offset_channel) {
  return seq_slot_register(slot, kStepValueBase + offset_channel * 4U);
}

inline constexpr std::size_t kRegisterBlockBytes = kSeqTableBase + kSeqSlots * kSeqSlotBytes;
inline constexpr std::size_t kRingOffsetBytes = kRegisterBlockBytes;  // shared-memory layout only

static_assert(kTemperatureBase + kMaxTemperatureSensors * 4 <= kSeqControl);
static_assert(kSeqLostSteps + 4 <= kRobotTarget);
static_assert(kDdsBase + kDdsComponents * kDdsStride <= kDriveDcOffset);
static_assert(drive_register(kMaxDriveChannels - 1, kDriveStatusClear) + 4 <= kOffsetBase);
static_assert(kDriveStatusClear + 4 <= kDriveStride);
static_assert(offset_register(kMaxOffsetChannels - 1, kOffsetOutput) + 4 <= kAwgBase);
static_assert(kStepValueBase + kMaxOffsetChannels * 4 <= kSeqSlotBytes);
static_assert(kRegisterBlockBytes % 4096 == 0, "the register window spans whole pages");
static_assert(kWritePointer % 8 == 0 && kDriveBase % 8 == 0 && kDriveStride % 8 == 0 && kDdsBase % 8 == 0 &&
                  kDdsStride % 8 == 0 && kDdsPhaseIncrement % 8 == 0 && kDdsPhaseOffset % 8 == 0 &&
                  kDriveRampEventSample % 8 == 0 && kSeqWriteCount % 8 == 0 && kSeqReadIndex % 8 == 0 &&
                  kSeqFirstLostSample % 8 == 0,
              "64-bit registers must be naturally aligned");

// Bytes of a shared-memory region holding the register window and a ring of 2^log2 frames.
constexpr std::size_t shared_region_bytes(unsigned ring_frames_log2, unsigned adc_channels) {
  return kRingOffsetBytes + (std::size_t{1} << ring_frames_log2) * adc_channels * sizeof(std::int16_t);
}

}  // namespace mpi::drivers::regmap
