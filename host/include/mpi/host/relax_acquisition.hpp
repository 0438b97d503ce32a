// One relaxometry acquisition: the bias sweep's scan program sent to the firmware daemon, the stream
// received to its end and cut into drive cycles (one program step each), or the same read back from a
// raw capture or from the MDF file a run wrote. The cycles then become the analysis' input
// (mpi/recon/relaxometry.hpp): receive voltage at the coil, the drive field from the reference pickup and
// the bias of each sample from the program through the bias coil's first-order lag.
#pragma once

#include "mpi/host/relax_plan.hpp"
#include "mpi/recon/relaxometry.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mpi::host {

// The sweep's samples, cycle by cycle: codes[(cycle * channels + channel) * cycle_samples + sample].
struct RelaxRun {
  double sample_rate_hz = 0.0;
  double drive_frequency_hz = 0.0;   // as realised by the board
  double drive_amplitude_t = 0.0;
  std::uint32_t cycle_samples = 0;
  std::uint32_t channels = 0;        // ADC channels: receive channels, then reference pickups
  std::uint64_t cycles = 0;
  std::uint64_t first_sample = 0;    // sample index of the sweep's first sample
  std::vector<std::int16_t> codes;
  std::string end_reason;
  std::string start_time;            // MDF time string of the acquisition's start
};

struct RelaxLinkOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7600;
  std::chrono::milliseconds receive_timeout{5000};
  std::filesystem::path capture_file;           // raw capture of the link (empty: none)
  const std::atomic<bool>* interrupt = nullptr;  // stop early (the run is then incomplete: an error)
};

// Runs the program on the board. Throws LinkError / std::runtime_error naming what failed (a safety
// fault, a gap in the stream, the sweep cut short).
RelaxRun run_relax_sweep(const RelaxProgram& program, const RelaxScanner& scanner, const RelaxLinkOptions& options);
// The same from a raw capture of such a run.
RelaxRun read_relax_capture(const RelaxProgram& program, const RelaxScanner& scanner, const std::filesystem::path& file);

// The bias of each sample of the sweep (T): the program's steps (DAC-quantised) through the bias coil's
// first-order lag, from the trigger on.
std::vector<double> relax_bias_samples(const RelaxProgram& program, const RelaxScanner& scanner);

// The analysis input of a run (voltage at the coil, drive field per sample, bias per sample).
// Throws std::runtime_error naming `what`, the channel, the number of samples and the first drive cycle and
// sample when any ADC code of the run sits at the converter's limits (|code| >= 32764 or -32768): a
// clipped receive signal (too much iron for the LNA gain and drive) or a clipped reference pickup makes
// the PSF wider and its peak lower without any other sign, so such a run is not analysed.
void check_relax_adc_range(const RelaxRun& run, const RelaxScanner& scanner, const std::string& what);
recon::RelaxometryAcquisition relax_cycles(const RelaxRun& run, const RelaxProgram& program, const RelaxScanner& scanner);

// The raw data as MDF (topology MPS): one frame per drive cycle, background cycles (if any) first and
// flagged, channels as the ADC's, int16 codes with their conversion to volts at the ADC input.
struct RelaxMdfInfo {
  std::string sample_name;
  std::string batch;
  double iron_ug = 0.0;
  std::string description;   // plan summary
};
void write_relax_mdf(const std::filesystem::path& file, const RelaxRun& sample, const RelaxRun* background, const RelaxScanner& scanner,
                     const RelaxProgram& program, const RelaxMdfInfo& info);
// Reads the sample (non-background) cycles of such a file back into a run. Throws naming the file.
RelaxRun read_relax_mdf(const std::filesystem::path& file);

}  // namespace mpi::host
