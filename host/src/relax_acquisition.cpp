#include "mpi/host/relax_acquisition.hpp"

#include "mpi/host/heartbeat_sender.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/raw_capture.hpp"
#include "mpi/protocol/version.hpp"
#include "mpi/recon/mdf.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <optional>
#include <span>
#include <stdexcept>

namespace mpi::host {

namespace mdf = recon::mdf;

namespace {

// Cuts the stream of one program run into the sweep's cycles; the same for the link and a capture.
class SweepCollector {
 public:
  SweepCollector(const RelaxProgram& program, const RelaxScanner& scanner, std::string source)
      : program_(program), scanner_(scanner), source_(std::move(source)) {}

  void consume(const link::v1::Envelope& env) {
    if (env.has_hello_reply()) {
      const auto& board = env.hello_reply().board();
      run_.sample_rate_hz = board.adc_sample_rate_hz();
      run_.channels = board.adc_channels();
      if (std::abs(run_.sample_rate_hz - scanner_.sample_rate_hz) > 1e-6 * scanner_.sample_rate_hz) {
        fail("the board samples at " + std::to_string(run_.sample_rate_hz) + " Hz, the scanner description says " +
             std::to_string(scanner_.sample_rate_hz) + " Hz");
      }
      if (run_.channels <= scanner_.reference_adc_channel) {
        fail("the board has " + std::to_string(run_.channels) + " ADC channels; the reference pickup of drive channel " + scanner_.drive_name +
             " would be channel " + std::to_string(scanner_.reference_adc_channel));
      }
    } else if (env.has_configure_reply()) {
      const auto& reply = env.configure_reply();
      if (reply.drive_size() < 1) fail("the board's ConfigureReply has no drive channel");
      run_.drive_frequency_hz = reply.drive(0).frequency_hz();
      run_.drive_amplitude_t = reply.drive(0).amplitude_t();
      run_.cycle_samples = static_cast<std::uint32_t>(reply.cycle_samples());
      if (run_.cycle_samples != program_.cycle_samples) {
        fail("the board's drive cycle is " + std::to_string(reply.cycle_samples()) + " samples, the plan's " +
             std::to_string(program_.cycle_samples));
      }
      if (reply.segments_size() != 2 || reply.segments(1).role() != link::v1::SEGMENT_ROLE_SWEEP) {
        fail("the board did not lay out the program as a ramp and a sweep segment");
      }
      run_.first_sample = reply.segments(1).first_sample();
      if (run_.first_sample != program_.sweep_first_sample()) fail("the sweep starts at another sample than planned");
      run_.cycles = program_.sweep_cycles();
      total_ = run_.cycles * run_.cycle_samples;
      if (reply.segments(1).sample_count() != total_) fail("the board's sweep segment has another length than planned");
      run_.codes.assign(total_ * run_.channels, 0);
      configured_ = true;
    } else if (env.has_chunk()) {
      if (!configured_) fail("samples before the scan was configured");
      const auto& chunk = env.chunk();
      if (chunk.first_sample() != next_) {
        fail("a gap in the stream at sample " + std::to_string(next_) + " (the next chunk starts at " + std::to_string(chunk.first_sample()) + ")");
      }
      constexpr std::uint32_t kBad = link::v1::CHUNK_FLAG_OVERWRITTEN | link::v1::CHUNK_FLAG_CORRUPTED;
      const std::uint64_t end = chunk.first_sample() + chunk.sample_count();
      if ((chunk.flags() & kBad) != 0 && end > run_.first_sample && chunk.first_sample() < run_.first_sample + total_) {
        fail("samples of the sweep were lost on the board (chunk at sample " + std::to_string(chunk.first_sample()) + ", flags " +
             std::to_string(chunk.flags()) + ")");
      }
      if ((chunk.flags() & link::v1::CHUNK_FLAG_LOST_STEPS) != 0) fail("the board lost steps of the program (chunk at sample " + std::to_string(chunk.first_sample()) + ")");
      if (chunk.channel_count() != run_.channels || chunk.payload().size() != 2ULL * chunk.sample_count() * chunk.channel_count()) {
        fail("a malformed chunk at sample " + std::to_string(chunk.first_sample()));
      }
      const auto* payload = reinterpret_cast<const unsigned char*>(chunk.payload().data());
      const std::uint64_t from = std::max<std::uint64_t>(chunk.first_sample(), run_.first_sample);
      const std::uint64_t to = std::min<std::uint64_t>(end, run_.first_sample + total_);
      for (std::uint64_t s = from; s < to; ++s) {
        const std::uint64_t i = s - run_.first_sample;
        const std::uint64_t cycle = i / run_.cycle_samples;
        const std::uint64_t k = i % run_.cycle_samples;
        for (std::uint32_t c = 0; c < run_.channels; ++c) {
          const std::size_t at = 2 * ((s - chunk.first_sample()) * run_.channels + c);
          const auto v = static_cast<std::int16_t>(static_cast<std::uint16_t>(payload[at] | (payload[at + 1] << 8)));
          run_.codes[(cycle * run_.channels + c) * run_.cycle_samples + k] = v;
        }
        ++filled_;
      }
      next_ = end;
    } else if (env.has_stream_end()) {
      run_.end_reason = env.stream_end().reason();
      ended_ = true;
    }
  }

  [[nodiscard]] bool ended() const noexcept { return ended_; }
  [[nodiscard]] bool sweep_complete() const noexcept { return configured_ && filled_ == total_; }

  RelaxRun finish() {
    if (!configured_) fail("no scan configuration");
    if (filled_ != total_) {
      fail("the sweep was cut short: " + std::to_string(filled_ / run_.cycle_samples) + " of " + std::to_string(run_.cycles) +
           " drive cycles received" + (run_.end_reason.empty() ? std::string() : " (the board ended the scan: " + run_.end_reason + ")"));
    }
    return std::move(run_);
  }

  [[noreturn]] void fail(const std::string& why) const { throw std::runtime_error(source_ + ": " + why); }

 private:
  const RelaxProgram& program_;
  const RelaxScanner& scanner_;
  std::string source_;
  RelaxRun run_;
  bool configured_ = false;
  bool ended_ = false;
  std::uint64_t total_ = 0;
  std::uint64_t filled_ = 0;
  std::uint64_t next_ = 0;
};

}  // namespace

RelaxRun run_relax_sweep(const RelaxProgram& program, const RelaxScanner& scanner, const RelaxLinkOptions& options) {
  LinkClient link(options.host, options.port, options.receive_timeout);
  std::optional<RawCaptureWriter> capture;
  if (!options.capture_file.empty()) {
    capture.emplace(options.capture_file);
    link.set_tee([&capture](std::string frame) { capture->push(std::move(frame)); });
  }
  SweepCollector collector(program, scanner, "relaxometry sweep on " + options.host + ":" + std::to_string(options.port));
  const std::string start_time = mdf::time_now();
  link::v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  hello.mutable_hello()->set_client_name("mpi relax");
  hello.mutable_hello()->add_capabilities("heartbeat");
  const link::v1::Envelope hello_reply = link.request(hello);
  if (!hello_reply.has_hello_reply()) throw LinkError("firmware answered Hello with something else");
  collector.consume(hello_reply);
  link::v1::Envelope configure;
  *configure.mutable_configure() = program.configure;
  const link::v1::Envelope configured = link.request(configure);
  if (!configured.has_configure_reply()) throw LinkError("firmware answered Configure with something else");
  collector.consume(configured);

  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(hello_reply.hello_reply().board().heartbeat_period_s()));
  std::optional<HeartbeatSender> heartbeats;
  if (period.count() > 0) heartbeats.emplace([&link](link::v1::Envelope& beat) { link.send(beat); }, period / 2);

  link::v1::Envelope start;
  start.mutable_start();
  link.send(start);
  std::vector<std::string> faults;
  bool stop_sent = false;
  link::v1::Envelope env;
  while (!collector.ended()) {
    if (!link.receive(env)) throw LinkError("firmware closed the link before the end of the stream");
    if (env.has_fault()) {
      spdlog::error("safety fault: {}", env.fault().message());
      faults.push_back(env.fault().message());
      continue;
    }
    if (env.has_error()) throw LinkError("firmware error during the sweep: " + env.error().message());
    if (env.has_status()) continue;
    collector.consume(env);
    if (!stop_sent && options.interrupt != nullptr && options.interrupt->load()) {
      link::v1::Envelope stop;
      stop.mutable_stop();
      link.send(stop);
      stop_sent = true;
    }
  }
  if (heartbeats) heartbeats->stop();
  if (capture) capture->finish();
  if (!faults.empty()) {
    std::string all;
    for (const auto& f : faults) all += (all.empty() ? "" : "; ") + f;
    throw std::runtime_error("the sweep was ended by a safety fault: " + all + " (mpi clear-faults)");
  }
  RelaxRun run = collector.finish();
  run.start_time = start_time;
  return run;
}

RelaxRun read_relax_capture(const RelaxProgram& program, const RelaxScanner& scanner, const std::filesystem::path& file) {
  RawCaptureReader reader(file);
  SweepCollector collector(program, scanner, file.string());
  link::v1::Envelope env;
  while (reader.next(env)) {
    if (env.has_fault() || env.has_error() || env.has_status()) continue;
    collector.consume(env);
  }
  RelaxRun run = collector.finish();
  run.start_time = mdf::time_now();
  return run;
}

std::vector<double> relax_bias_samples(const RelaxProgram& program, const RelaxScanner& scanner) {
  const double full_scale = scanner.bias_full_scale_t;
  const auto quantise = [full_scale](double b) { return std::round(b / full_scale * 32767.0) / 32767.0 * full_scale; };
  const double dt = 1.0 / scanner.sample_rate_hz;
  const double alpha = scanner.bias_time_constant_s > 0.0 ? 1.0 - std::exp(-dt / scanner.bias_time_constant_s) : 1.0;
  const std::uint32_t n = program.cycle_samples;
  const std::size_t ramp = program.ramp_steps;
  const double to = program.sweep_bias_t.front();
  double b = 0.0;
  // The ramp segment: a linear sweep from 0 to the sweep's first value (value k of `ramp`).
  for (std::size_t k = 0; k < ramp; ++k) {
    const double target = quantise(to * static_cast<double>(k) / static_cast<double>(ramp - 1));
    for (std::uint32_t i = 0; i < n; ++i) b += alpha * (target - b);
  }
  std::vector<double> out;
  out.reserve(program.sweep_cycles() * n);
  for (std::uint32_t s = 0; s < program.sweeps; ++s) {
    for (const double step : program.sweep_bias_t) {
      const double target = quantise(step);
      for (std::uint32_t i = 0; i < n; ++i) {
        b += alpha * (target - b);
        out.push_back(b);
      }
    }
  }
  return out;
}

void check_relax_adc_range(const RelaxRun& run, const RelaxScanner& scanner, const std::string& what) {
  const std::uint32_t n = run.cycle_samples;
  for (std::uint32_t c = 0; c < run.channels; ++c) {
    std::uint64_t count = 0, first_cycle = 0, first_sample = 0;
    for (std::uint64_t q = 0; q < run.cycles; ++q) {
      const std::int16_t* codes = &run.codes[(q * run.channels + c) * n];
      for (std::uint32_t k = 0; k < n; ++k) {
        if (codes[k] < 32764 && codes[k] > -32768) continue;
        if (count++ == 0) {
          first_cycle = q;
          first_sample = k;
        }
      }
    }
    if (count == 0) continue;
    const std::string channel = c == 0 ? "receive channel '" + scanner.receive_name + "'"
                                : c == scanner.reference_adc_channel ? "the reference pickup of drive '" + scanner.drive_name + "'"
                                                                     : "ADC channel " + std::to_string(c);
    throw std::runtime_error(what + ": " + channel + " reached the ADC's full scale in " + std::to_string(count) + " samples (first in drive cycle " +
                             std::to_string(first_cycle) + ", sample " + std::to_string(first_sample) +
                             "): the signal clipped, which widens the PSF and lowers its peak; use less iron in the sample or a smaller drive amplitude");
  }
}

recon::RelaxometryAcquisition relax_cycles(const RelaxRun& run, const RelaxProgram& program, const RelaxScanner& scanner) {
  const std::vector<double> bias = relax_bias_samples(program, scanner);
  const std::uint32_t n = run.cycle_samples;
  const double volts_per_code = scanner.adc_full_scale_v / 32767.0;
  const double to_coil = volts_per_code / scanner.lna_gain;
  const double to_field = volts_per_code / scanner.reference_v_per_t;
  std::vector<double> c(n), s(n);
  for (std::uint32_t k = 0; k < n; ++k) {
    c[k] = std::cos(2.0 * std::numbers::pi * k / n);
    s[k] = std::sin(2.0 * std::numbers::pi * k / n);
  }
  recon::RelaxometryAcquisition out;
  out.cycles.resize(run.cycles);
  for (std::uint64_t q = 0; q < run.cycles; ++q) {
    recon::RelaxometryCycle& cycle = out.cycles[q];
    const std::int16_t* rx = &run.codes[(q * run.channels + 0) * n];
    const std::int16_t* ref = &run.codes[(q * run.channels + scanner.reference_adc_channel) * n];
    cycle.samples_v.resize(n);
    for (std::uint32_t k = 0; k < n; ++k) cycle.samples_v[k] = rx[k] * to_coil;
    // The drive field: the reference pickup's fundamental over the cycle (its noise and quantisation
    // averaged out), evaluated at every sample.
    double a = 0.0, b = 0.0;
    for (std::uint32_t k = 0; k < n; ++k) {
      a += ref[k] * c[k];
      b += ref[k] * s[k];
    }
    a *= 2.0 / n * to_field;
    b *= 2.0 / n * to_field;
    cycle.drive_field_t.resize(n);
    for (std::uint32_t k = 0; k < n; ++k) cycle.drive_field_t[k] = a * c[k] + b * s[k];
    cycle.bias_samples_t.assign(bias.begin() + static_cast<std::ptrdiff_t>(q * n), bias.begin() + static_cast<std::ptrdiff_t>((q + 1) * n));
    double mean = 0.0;
    for (const double v : cycle.bias_samples_t) mean += v;
    cycle.bias_field_t = mean / n;
  }
  return out;
}

void write_relax_mdf(const std::filesystem::path& file, const RelaxRun& sample, const RelaxRun* background, const RelaxScanner& scanner,
                     const RelaxProgram& program, const RelaxMdfInfo& info) {
  mdf::File f;
  f.uuid = mdf::make_uuid_v4();
  f.time = sample.start_time.empty() ? mdf::time_now() : sample.start_time;
  f.study.name = info.sample_name;
  f.study.number = 1;
  f.study.uuid = mdf::make_uuid_v4();
  f.study.description = info.description;
  f.study.time = f.time;
  f.experiment.name = "relaxometry";
  f.experiment.number = 1;
  f.experiment.uuid = mdf::make_uuid_v4();
  f.experiment.description = info.description;
  f.experiment.subject = info.sample_name;
  f.scanner.name = scanner.name;
  f.scanner.manufacturer = scanner.manufacturer;
  f.scanner.topology = "MPS";
  mdf::TracerMaterial m;
  m.name = info.sample_name;
  m.batch = info.batch;
  f.tracer.push_back(m);
  const std::size_t C = sample.channels;
  const std::size_t V = sample.cycle_samples;
  const std::size_t Nb = background != nullptr ? background->cycles : 0;
  const std::size_t N = Nb + sample.cycles;
  auto& a = f.acquisition;
  a.num_averages = 1;
  a.num_frames = static_cast<std::int64_t>(N);
  a.num_periods_per_frame = 1;
  a.start_time = f.time;
  auto& d = a.drivefield;
  d.base_frequency_hz = scanner.drive_base_clock_hz;
  d.num_channels = 1;
  d.cycle_s = scanner.drive_divider / scanner.drive_base_clock_hz;
  d.divider = mdf::ArrayI({1, 1}, {static_cast<std::int64_t>(scanner.drive_divider)});
  d.waveform = mdf::Array<std::string>({1, 1}, {"sine"});
  d.phase_rad = mdf::ArrayD({1, 1, 1}, {0.0});
  d.strength = mdf::ArrayD({1, 1, 1}, {sample.drive_amplitude_t});
  auto& r = a.receiver;
  r.bandwidth_hz = sample.sample_rate_hz / 2.0;
  r.num_channels = static_cast<std::int64_t>(C);
  r.num_sampling_points = static_cast<std::int64_t>(V);
  r.unit = "V";
  r.data_conversion_factor = mdf::ArrayD({C, 2});
  for (std::size_t c = 0; c < C; ++c) {
    r.data_conversion_factor.values[2 * c] = scanner.adc_full_scale_v / 32767.0 / (c == 0 ? scanner.lna_gain : 1.0);
  }
  // The bias of each cycle (its mean), as the offset field of each frame's period: N x 1 x 3 is not an MDF
  // shape, so it goes into the frames' order only: the plan gives it back (relax_bias_samples).
  (void)program;
  mdf::MeasurementSpec spec;
  spec.frames = N;
  spec.periods = 1;
  spec.channels = C;
  spec.points = V;
  spec.storage = mdf::StorageType::int16;
  mdf::Writer w = mdf::Writer::create(file.string(), f);
  w.begin_measurement(spec);
  if (background != nullptr) {
    if (background->channels != C || background->cycle_samples != V) throw std::runtime_error(file.string() + ": the background has another layout");
    w.write_frames(0, std::span<const std::int16_t>(background->codes));
    w.set_background_frames(0, std::vector<bool>(Nb, true));
  }
  w.write_frames(Nb, std::span<const std::int16_t>(sample.codes));
  w.finish();
}

RelaxRun read_relax_mdf(const std::filesystem::path& file) {
  const mdf::File f = mdf::read_mdf(file.string());
  const std::string name = file.string();
  if (!f.measurement || f.measurement->is_fourier_transformed) throw std::runtime_error(name + ": no time-domain measurement");
  const auto& m = *f.measurement;
  const auto& r = f.acquisition.receiver;
  if (m.data.shape.size() != 4 || m.data.shape[1] != 1) throw std::runtime_error(name + ": /measurement/data is not N x 1 x C x V");
  if (r.data_conversion_factor.values.size() != 2 * m.data.shape[2]) throw std::runtime_error(name + ": no dataConversionFactor per channel");
  RelaxRun run;
  run.sample_rate_hz = 2.0 * r.bandwidth_hz;
  run.drive_frequency_hz = f.acquisition.drivefield.base_frequency_hz / static_cast<double>(f.acquisition.drivefield.divider.values.at(0));
  run.drive_amplitude_t = f.acquisition.drivefield.strength.values.at(0);
  run.channels = static_cast<std::uint32_t>(m.data.shape[2]);
  run.cycle_samples = static_cast<std::uint32_t>(m.data.shape[3]);
  run.start_time = f.acquisition.start_time;
  const std::size_t per = static_cast<std::size_t>(run.channels) * run.cycle_samples;
  for (std::size_t q = 0; q < m.data.shape[0]; ++q) {
    if (q < m.is_background_frame.size() && m.is_background_frame[q]) continue;
    for (std::size_t i = 0; i < per; ++i) {
      const std::size_t c = i / run.cycle_samples;
      const double code = (m.data.values[q * per + i] - r.data_conversion_factor.values[2 * c + 1]) / r.data_conversion_factor.values[2 * c];
      run.codes.push_back(static_cast<std::int16_t>(std::lround(code)));
    }
    ++run.cycles;
  }
  if (run.cycles == 0) throw std::runtime_error(name + ": no sample (non-background) frames");
  return run;
}

}  // namespace mpi::host
