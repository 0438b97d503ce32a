#include "mpi/host/background_stage.hpp"

#include "mpi/host/acquisition_stream.hpp"
#include "mpi/host/raw_capture.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace {

std::string prefix(const ScanPlan& plan) { return plan.file.string() + ": [background] recording: "; }

bool same_frequency(double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(std::abs(a), std::abs(b)); }
bool same_amplitude(double a, double b) { return std::abs(a - b) <= 1e-3 * std::max(std::abs(a), std::abs(b)); }

// The first difference between the recorded acquisition and the scan's, or "".
std::string difference(const AcquisitionSetup& recorded, const AcquisitionSetup& scan) {
  std::ostringstream why;
  if (!same_frequency(recorded.sample_rate_hz, scan.sample_rate_hz)) {
    why << "sampled at " << recorded.sample_rate_hz << " Hz, the scan at " << scan.sample_rate_hz << " Hz";
  } else if (recorded.adc_channels != scan.adc_channels) {
    why << recorded.adc_channels << " ADC channels, the scan has " << scan.adc_channels;
  } else if (std::uint64_t{recorded.samples_per_period} * recorded.periods_per_frame !=
             std::uint64_t{scan.samples_per_period} * scan.periods_per_frame) {
    why << std::uint64_t{recorded.samples_per_period} * recorded.periods_per_frame << " samples per frame, the scan has "
        << std::uint64_t{scan.samples_per_period} * scan.periods_per_frame;
  } else if (recorded.drive_channels != scan.drive_channels) {
    why << "drives " << recorded.drive_channels.size() << " channel(s), the scan's sequence " << scan.drive_channels.size()
        << " (another sequence)";
  } else if (recorded.drives.empty()) {
    if (!same_frequency(recorded.drive.frequency_hz, scan.drive.frequency_hz)) {
      why << "drive at " << recorded.drive.frequency_hz << " Hz, the scan at " << scan.drive.frequency_hz << " Hz";
    } else if (!same_amplitude(recorded.drive.amplitude_t, scan.drive.amplitude_t)) {
      why << "drive amplitude " << recorded.drive.amplitude_t * 1e3 << " mT, the scan's " << scan.drive.amplitude_t * 1e3 << " mT";
    }
  } else {
    for (std::size_t i = 0; i < recorded.drives.size() && i < scan.drives.size(); ++i) {
      const auto& r = recorded.drives[i];
      const auto& s = scan.drives[i];
      const std::uint32_t channel = recorded.drive_channels[i];
      if (!same_frequency(r.frequency_hz, s.frequency_hz)) {
        why << "drive channel " << channel << " at " << r.frequency_hz << " Hz, the scan's at " << s.frequency_hz << " Hz";
        break;
      }
      if (!same_amplitude(r.amplitude_t, s.amplitude_t)) {
        why << "drive channel " << channel << " at " << r.amplitude_t * 1e3 << " mT, the scan's at " << s.amplitude_t * 1e3 << " mT";
        break;
      }
    }
  }
  return why.str();
}

}  // namespace

BackgroundFrame::BackgroundFrame(std::filesystem::path file, const AcquisitionSetup& setup, std::vector<double> mean_codes,
                                 std::uint64_t frames)
    : file_(std::move(file)),
      setup_(setup),
      mean_(std::move(mean_codes)),
      samples_per_frame_(std::size_t{setup.samples_per_period} * setup.periods_per_frame),
      channels_(setup.adc_channels),
      frames_(frames) {
  if (samples_per_frame_ == 0 || channels_ == 0 || mean_.size() != samples_per_frame_ * channels_) {
    throw std::invalid_argument(file_.string() + ": background of " + std::to_string(mean_.size()) + " values for frames of " +
                                std::to_string(samples_per_frame_) + " samples x " + std::to_string(channels_) + " channels");
  }
}

BackgroundFrame BackgroundFrame::load(const ScanPlan& plan, const ScannerDescription& scanner) {
  const std::filesystem::path& file = plan.background.recording;
  if (file.empty()) throw std::logic_error("the plan names no background recording");
  // Every complete frame of the recording, however many the plan asks of its own scan.
  ScanPlan recording_plan = plan;
  recording_plan.sequence.frames = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::int64_t> sums;
  std::uint64_t frames = 0;
  std::optional<AcquisitionSetup> setup;
  try {
    RawCaptureReader reader(file);
    AcquisitionStream stream(recording_plan, scanner, [&](Frame&& f) {
      if (sums.empty()) sums.assign(f.samples.size(), 0);
      if (f.samples.size() != sums.size()) throw std::runtime_error("frames of different lengths");
      for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += f.samples[i];
      ++frames;
    });
    link::v1::Envelope env;
    while (reader.next(env)) {
      try {
        stream.consume(env);
      } catch (const std::exception& e) {
        // The stream checks the recorded drive against the plan's sequence (plan_drive).
        throw std::runtime_error(file.string() + ": not a recording of the scan's drive: " + e.what());
      }
      if (!setup && stream.configured()) setup = stream.setup();
    }
    if (!setup) throw std::runtime_error(file.string() + ": the capture holds no scan configuration");
  } catch (const PlanError&) {
    throw;
  } catch (const std::exception& e) {
    throw PlanError(prefix(plan) + e.what());
  }
  if (frames == 0) throw PlanError(prefix(plan) + file.string() + ": holds no complete frame");
  if (setup->adc_channels != scanner.adc_channel_names.size() && !scanner.adc_channel_names.empty()) {
    throw PlanError(prefix(plan) + file.string() + ": recorded " + std::to_string(setup->adc_channels) +
                    " ADC channels, the scanner description has " + std::to_string(scanner.adc_channel_names.size()));
  }
  if (!plan.multi_dimensional()) {
    // A 1D plan's drive is its own: the recording's must be it.
    AcquisitionSetup planned = *setup;
    planned.drive.frequency_hz = plan.sequence.drive_frequency_hz;
    planned.drive.amplitude_t = plan.sequence.drive_amplitude_t;
    if (const std::string why = difference(*setup, planned); !why.empty()) {
      throw PlanError(prefix(plan) + file.string() + ": not a recording of the scan's drive: it was " + why);
    }
  }
  std::vector<double> mean(sums.size());
  for (std::size_t i = 0; i < sums.size(); ++i) mean[i] = static_cast<double>(sums[i]) / static_cast<double>(frames);
  try {
    return BackgroundFrame(file, *setup, std::move(mean), frames);
  } catch (const std::exception& e) {
    throw PlanError(prefix(plan) + e.what());
  }
}

void BackgroundFrame::check_matches(const AcquisitionSetup& scan) const {
  if (const std::string why = difference(setup_, scan); !why.empty()) {
    throw PlanError(file_.string() + ": the background recording does not match the scan: it was " + why);
  }
}

void BackgroundFrame::check_frame(const Frame& frame) const {
  if (frame.channels != channels_ || frame.samples.size() != samples_per_frame_ * channels_) {
    throw std::runtime_error("background " + file_.string() + " has frames of " + std::to_string(samples_per_frame_) + " samples x " +
                             std::to_string(channels_) + " channels, this frame " +
                             std::to_string(frame.channels == 0 ? 0 : frame.samples.size() / frame.channels) + " x " +
                             std::to_string(frame.channels));
  }
}

std::string BackgroundFrame::description() const {
  return file_.string() + ", mean of " + std::to_string(frames_) + " frames of " + std::to_string(samples_per_frame_) + " samples x " +
         std::to_string(channels_) + " channels (time domain, per sample and channel)";
}

}  // namespace mpi::host
