#include "mpi/host/acquisition_stream.hpp"

#include <algorithm>

#include "mpi/host/drive_plan.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mpi::host {

std::uint32_t samples_per_period(double sample_rate_hz, double drive_frequency_hz) {
  if (!(drive_frequency_hz > 0.0) || !(sample_rate_hz > 0.0)) throw std::runtime_error("drive frequency and sample rate must be positive");
  const double ratio = sample_rate_hz / drive_frequency_hz;
  const double whole = std::round(ratio);
  if (whole < 4.0 || std::abs(ratio - whole) > 1e-6 * whole) {
    throw std::runtime_error("drive frequency " + std::to_string(drive_frequency_hz) + " Hz does not divide the sample rate " +
                             std::to_string(sample_rate_hz) + " Hz into a whole number of samples per period (" +
                             std::to_string(ratio) + ")");
  }
  return static_cast<std::uint32_t>(whole);
}

AcquisitionStream::AcquisitionStream(const ScanPlan& plan, const ScannerDescription& scanner, FrameSink sink)
    : plan_(plan), scanner_(scanner), sink_(std::move(sink)) {}

const AcquisitionSetup& AcquisitionStream::setup() const {
  if (!setup_) throw std::logic_error("acquisition not configured yet");
  return *setup_;
}

AssemblyCounters AcquisitionStream::counters() const { return assembler_ ? assembler_->counters() : AssemblyCounters{}; }

void AcquisitionStream::consume(const link::v1::Envelope& env) {
  using link::v1::Envelope;
  switch (env.body_case()) {
    case Envelope::kHelloReply:
      board_ = env.hello_reply().board();
      have_board_ = true;
      break;
    case Envelope::kConfigureReply: {
      if (!have_board_) throw std::runtime_error("ConfigureReply before the board's HelloReply");
      const auto& reply = env.configure_reply();
      if (reply.drive_size() < 1) throw std::runtime_error("ConfigureReply without a drive channel");
      AcquisitionSetup s;
      s.sample_rate_hz = board_.adc_sample_rate_hz();
      s.drive = {reply.drive(0).amplitude_t(), reply.drive(0).frequency_hz(), reply.drive(0).phase_rad()};
      s.receive_channel = 0;
      s.adc_channels = board_.adc_channels();
      s.first_frame_sample = reply.ramp_samples();
      if (plan_.multi_dimensional()) {
        const DrivePlan planned = plan_drive(plan_, scanner_, s.sample_rate_hz);
        check_realised_drive(planned, reply);
        if (planned.cycle_samples > UINT32_MAX / 2) throw std::runtime_error("drive cycle too long");
        s.samples_per_period = static_cast<std::uint32_t>(planned.cycle_samples);
        s.periods_per_frame = planned.periods_per_frame;
        for (const auto& r : reply.drive()) {
          if (r.channel() >= scanner_.drives.size()) throw std::runtime_error("ConfigureReply names drive channel " + std::to_string(r.channel()) + ", the scanner has fewer");
          s.drives.push_back({scanner_.drives[r.channel()].axis, r.amplitude_t(), r.frequency_hz(), r.phase_rad()});
          s.drive_channels.push_back(r.channel());
        }
      } else {
        s.samples_per_period = samples_per_period(s.sample_rate_hz, s.drive.frequency_hz);
        s.periods_per_frame = plan_.sequence.periods_per_frame;
      }
      FrameGeometry g;
      g.samples_per_period = s.samples_per_period;
      g.periods_per_frame = s.periods_per_frame;
      g.channels = board_.adc_channels();
      g.first_frame_sample = reply.ramp_samples();
      setup_ = s;
      assembler_ = std::make_unique<FrameAssembler>(g, [this](Frame&& f) {
        if (f.index < plan_.sequence.frames) {
          ++forwarded_;
          sink_(std::move(f));
        }
      });
      break;
    }
    case Envelope::kChunk: {
      if (!assembler_) throw std::runtime_error("sample chunk at sample " + std::to_string(env.chunk().first_sample()) + " before the scan was configured");
      const auto& c = env.chunk();
      flags_seen_ |= c.flags();
      const auto* bytes = reinterpret_cast<const std::byte*>(c.payload().data());  // NOLINT: byte view
      assembler_->add_chunk(c.first_sample(), c.sample_count(), c.channel_count(), c.flags(), {bytes, c.payload().size()});
      next_sample_ = std::max(next_sample_, c.first_sample() + c.sample_count());
      break;
    }
    case Envelope::kStreamEnd:
      end_ = env.stream_end();
      ended_ = true;
      break;
    case Envelope::kError:
      throw std::runtime_error("board error " + link::v1::ErrorCode_Name(env.error().code()) + ": " + env.error().message());
    default:
      break;  // status replies and the like carry nothing for the frames
  }
}

}  // namespace mpi::host
