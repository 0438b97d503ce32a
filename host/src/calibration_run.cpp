#include "mpi/host/calibration_run.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/config/units.hpp"
#include "mpi/host/calibration_mdf.hpp"
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/robot_client.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"
#include "mpi/recon/frame_spectrum.hpp"
#include "mpi/recon/row_selection.hpp"
#include "mpi/recon/system_matrix.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

namespace mpi::host {

namespace fs = std::filesystem;
namespace v1 = link::v1;

namespace {

using Clock = std::chrono::steady_clock;

// The board as the calibration uses it: configured for the plan's sequence, one acquisition at a time.
class Board {
 public:
  Board(const CalibrationPlan& plan, const ScannerDescription& scanner, const CalibrationOptions& options)
      : client_(options.board_host, options.board_port, options.board_timeout), drive_(plan_drive(plan.scan, scanner, scanner.sample_rate_hz)) {
    v1::Envelope hello;
    hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
    hello.mutable_hello()->set_client_name("mpi calibrate");
    const v1::Envelope reply = client_.request(hello);
    if (!reply.has_hello_reply()) throw std::runtime_error("board: no HelloReply to Hello");
    if (reply.hello_reply().role() == v1::ROLE_OBSERVER) throw std::runtime_error("board: another host controls the board (this connection is an observer)");
    board_ = reply.hello_reply().board();
    if (std::abs(board_.adc_sample_rate_hz() - scanner.sample_rate_hz) > 1e-6 * scanner.sample_rate_hz) {
      throw std::runtime_error("board: samples at " + std::to_string(board_.adc_sample_rate_hz()) + " Hz, the scanner description " +
                               scanner.file.string() + " at " + std::to_string(scanner.sample_rate_hz) + " Hz");
    }
    channels_ = board_.adc_channels();
    if (channels_ == 0) throw std::runtime_error("board: no ADC channel");
    // Volts at the coil for the receive channels (ADC full scale / 32767 / LNA gain), at the ADC for the
    // reference pickups: the scaling of `mpi scan`'s scan.mdf, so that its frames and S share units.
    for (std::size_t c = 0; c < channels_; ++c) {
      const double lna = c < scanner.receivers.size() ? scanner.receivers[c].lna_gain : 1.0;
      volts_per_code_.push_back(scanner.adc_full_scale_v / 32767.0 / lna);
    }
    v1::Envelope configure;
    *configure.mutable_configure() = configure_request(drive_);
    const v1::Envelope configured = client_.request(configure);
    if (!configured.has_configure_reply()) throw std::runtime_error("board: no ConfigureReply to Configure");
    layout_ = configured.configure_reply();
    check_realised_drive(drive_, layout_);
    frame_samples_ = drive_.samples_per_frame();
  }

  [[nodiscard]] std::size_t channels() const noexcept { return channels_; }
  [[nodiscard]] std::size_t frame_samples() const noexcept { return frame_samples_; }
  [[nodiscard]] const DrivePlan& drive() const noexcept { return drive_; }
  [[nodiscard]] const v1::ConfigureReply& layout() const noexcept { return layout_; }

  // `frames` whole frames at full field after `settle` frames, each frame_samples x channels in volts.
  std::vector<Eigen::MatrixXd> acquire(std::size_t frames, std::size_t settle) {
    const std::size_t n = frame_samples_;
    v1::Envelope start;
    start.mutable_start()->set_max_samples((settle + frames) * n);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    for (;;) {  // a Start refused while the previous acquisition still winds down is retried
      try {
        if (!client_.request(start).has_status()) throw std::runtime_error("board: no Status reply to Start");
        break;
      } catch (const LinkError&) {
        if (Clock::now() > deadline) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    std::vector<std::int16_t> codes;
    std::uint64_t next = 0;
    v1::StreamEnd end;
    bool ended = false;
    v1::Envelope message;
    while (!ended && client_.receive(message)) {
      if (message.has_chunk()) {
        const v1::SampleChunk& chunk = message.chunk();
        if (chunk.first_sample() != next) throw std::runtime_error("board: a gap in the stream at sample " + std::to_string(next));
        constexpr std::uint32_t bad = v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED | v1::CHUNK_FLAG_FAULT;
        if ((chunk.flags() & bad) != 0) throw std::runtime_error("board: chunk at sample " + std::to_string(next) + " flagged " + std::to_string(chunk.flags()));
        if (chunk.channel_count() != channels_ || chunk.payload().size() != std::size_t{chunk.sample_count()} * channels_ * 2) {
          throw std::runtime_error("board: a chunk of " + std::to_string(chunk.channel_count()) + " channels or of the wrong size at sample " + std::to_string(next));
        }
        const auto* p = reinterpret_cast<const std::uint8_t*>(chunk.payload().data());
        const std::size_t values = std::size_t{chunk.sample_count()} * channels_;
        for (std::size_t i = 0; i < values; ++i) codes.push_back(static_cast<std::int16_t>(static_cast<std::uint16_t>(p[2 * i] | (p[2 * i + 1] << 8))));
        next = chunk.first_sample() + chunk.sample_count();
      } else if (message.has_stream_end()) {
        end = message.stream_end();
        ended = true;
      } else if (message.has_error()) {
        throw std::runtime_error("board: " + message.error().message());
      }
    }
    if (!ended) throw std::runtime_error("board: the stream ended without StreamEnd");
    const std::size_t first = static_cast<std::size_t>((end.ramp_up_end_sample() + n - 1) / n) + settle;
    if ((first + frames) * n > std::min<std::uint64_t>(end.ramp_down_start_sample(), next)) {
      throw std::runtime_error("board: too few samples at full field (ramp-down at sample " + std::to_string(end.ramp_down_start_sample()) +
                               (end.reason().empty() ? "" : ", " + end.reason()) + ")");
    }
    std::vector<Eigen::MatrixXd> out;
    out.reserve(frames);
    for (std::size_t f = first; f < first + frames; ++f) {
      Eigen::MatrixXd m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(channels_));
      for (std::size_t s = 0; s < n; ++s) {
        for (std::size_t c = 0; c < channels_; ++c) {
          m(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(c)) = codes[(f * n + s) * channels_ + c] * volts_per_code_[c];
        }
      }
      out.push_back(std::move(m));
    }
    return out;
  }

 private:
  LinkClient client_;
  DrivePlan drive_;
  v1::BoardInfo board_;
  v1::ConfigureReply layout_;
  std::size_t channels_ = 0;
  std::size_t frame_samples_ = 0;
  std::vector<double> volts_per_code_;
};

Eigen::MatrixXd mean_of(const std::vector<Eigen::MatrixXd>& frames, std::size_t from, std::size_t count) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(frames[from].rows(), frames[from].cols());
  for (std::size_t i = from; i < from + count; ++i) m += frames[i];
  return m / static_cast<double>(count);
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(digits);
  s << v;
  return s.str();
}

// One background measurement: its frames' spectra (noise), the spectrum of their mean, and when it was
// taken (positions done before it).
struct Background {
  std::size_t after_positions = 0;
  Eigen::MatrixXcd mean;                  // bins x channels, FrameSpectrum scaling
  std::vector<Eigen::MatrixXcd> blocks;   // spectra of means of frames_per_position frames (MDF background frames)
};

}  // namespace

void check_calibration_plan(const CalibrationPlan& plan, const ScannerDescription& scanner) {
  const DrivePlan drive = plan_drive(plan.scan, scanner, scanner.sample_rate_hz);
  if (drive.periods_per_frame != 1) {
    throw PlanError(plan.file.string() + ": [sequence] periods_per_frame: a calibration takes one frame per drive cycle");
  }
  if (drive.dividers.empty()) throw PlanError(plan.file.string() + ": [sequence] name: the calibration needs a named sequence of the scanner");
  const double top = scanner.sample_rate_hz / 2.0;
  if (plan.calibration.min_frequency_hz >= top) {
    throw PlanError(plan.file.string() + ": [calibration] min_frequency: at or above the Nyquist frequency " + fixed(top / 1e3, 1) + " kHz");
  }
}

std::string calibration_progress_line(std::size_t done, std::size_t total, std::size_t backgrounds, double elapsed_s) {
  return "calibrate: " + std::to_string(done) + "/" + std::to_string(total) + " positions (" + std::to_string(total > 0 ? 100 * done / total : 0) +
         " %), " + std::to_string(backgrounds) + " background measurements, " + fixed(elapsed_s, 1) + " s";
}

bool calibration_progress_due(std::size_t done, std::size_t total) {
  const std::size_t step = std::max<std::size_t>(1, (total + 19) / 20);
  return done % step == 0 || done == total;
}

CalibrationOutcome run_calibration(const CalibrationPlan& plan, const ScannerDescription& scanner, const CalibrationOptions& options) {
  check_calibration_plan(plan, scanner);
  const CalibrationSettings& cal = plan.calibration;
  std::string tracer_name;
  try {
    tracer_name = config::load_tracer_description(plan.scan.tracer_file).name;
  } catch (const config::ConfigError& e) {
    throw PlanError(plan.file.string() + ": tracer: " + e.what());
  }
  const auto started = Clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  const auto interrupted = [&] { return options.interrupt != nullptr && options.interrupt->load(); };
  const fs::path final_file = options.out / "system_matrix.mdf";
  const fs::path part_file = options.out / "system_matrix.mdf.part";
  std::error_code ignored;
  fs::remove(part_file, ignored);

  Board board(plan, scanner, options);
  RobotTimeouts timeouts;
  timeouts.move = options.move_timeout;
  RobotClient robot(options.robot_host, options.robot_port, timeouts);

  const std::size_t positions = cal.positions();
  const std::size_t C = board.channels();
  const std::size_t V = board.frame_samples();
  const std::size_t F = cal.frames_per_position;
  const DrivePlan& drive = board.drive();
  const double base_clock_hz = scanner.drives.at(drive.drives.front().channel).base_clock_hz;
  recon::FrameSpectrum spectrum(recon::FrameGeometry::lissajous(drive.dividers, base_clock_hz, scanner.sample_rate_hz, V, C));

  std::vector<Background> backgrounds;
  std::vector<Eigen::MatrixXcd> position_spectra(positions);  // grid order
  std::vector<std::size_t> visit_rank(positions, 0);          // when each position was measured
  std::size_t frames_acquired = 0;

  const auto measure_background = [&](std::size_t done) {
    robot.park();
    const std::vector<Eigen::MatrixXd> frames = board.acquire(cal.background_frames, cal.settle_frames);
    frames_acquired += frames.size();
    Background b;
    b.after_positions = done;
    b.mean = spectrum.transform_channels(mean_of(frames, 0, frames.size()));
    for (std::size_t i = 0; i + F <= frames.size(); i += F) b.blocks.push_back(spectrum.transform_channels(mean_of(frames, i, F)));
    backgrounds.push_back(std::move(b));
    return frames;
  };
  std::vector<Eigen::MatrixXcd> background_frame_spectra;  // single frames, for the row noise

  try {
    for (const Eigen::MatrixXd& f : measure_background(0)) background_frame_spectra.push_back(spectrum.transform_channels(f));
    std::size_t done = 0;
    const auto [nx, ny, nz] = cal.grid;
    for (std::size_t iz = 0; iz < nz; ++iz) {
      for (std::size_t iy = 0; iy < ny; ++iy) {
        const bool reverse = (iz * ny + iy) % 2 == 1;
        for (std::size_t k = 0; k < nx; ++k) {
          if (interrupted()) throw CalibrationInterrupted("interrupted");
          const std::size_t ix = reverse ? nx - 1 - k : k;
          const std::size_t voxel = ix + nx * (iy + ny * iz);
          const Eigen::Vector3d p = cal.position_m(voxel) * 1e3;
          robot.move_to({p.x(), p.y(), p.z()});
          const std::vector<Eigen::MatrixXd> frames = board.acquire(F, cal.settle_frames);
          frames_acquired += frames.size();
          position_spectra[voxel] = spectrum.transform_channels(mean_of(frames, 0, frames.size()));
          visit_rank[voxel] = done;
          ++done;
          if (options.progress) options.progress(done, positions, backgrounds.size(), seconds());
          if (cal.park_every > 0 && done % cal.park_every == 0 && done < positions) {
            if (interrupted()) throw CalibrationInterrupted("interrupted");
            for (const Eigen::MatrixXd& f : measure_background(done)) background_frame_spectra.push_back(spectrum.transform_channels(f));
          }
        }
      }
    }
    if (interrupted()) throw CalibrationInterrupted("interrupted");
    for (const Eigen::MatrixXd& f : measure_background(positions)) background_frame_spectra.push_back(spectrum.transform_channels(f));
  } catch (const CalibrationInterrupted&) {
    std::string parked = "the robot is parked";
    try {
      robot.park();
    } catch (const std::exception& e) {
      parked = std::string("the robot could not be parked: ") + e.what();
    }
    std::size_t measured = 0;
    for (const auto& s : position_spectra) measured += s.size() > 0 ? 1 : 0;
    throw CalibrationInterrupted("interrupted after " + std::to_string(measured) + " of " + std::to_string(positions) + " positions; " + parked +
                                 "; no system matrix written");
  } catch (...) {
    try {
      robot.park();
    } catch (const std::exception&) {
      // the original error is the one to report
    }
    throw;
  }

  // The matrix: each position minus the background interpolated between the measurements around it.
  recon::VoxelGrid grid;
  grid.shape = {cal.grid[0], cal.grid[1], cal.grid[2]};
  grid.fov_m = cal.fov_m;
  grid.centre_m = cal.centre_m;
  recon::CalibrationSystemMatrixBuilder builder(grid, C, V, scanner.sample_rate_hz);
  for (const Eigen::MatrixXcd& b : background_frame_spectra) builder.add_background(b);
  const auto background_at = [&](std::size_t rank) -> Eigen::MatrixXcd {
    const double t = static_cast<double>(rank) + 0.5;
    std::size_t after = 0;
    while (after + 1 < backgrounds.size() && static_cast<double>(backgrounds[after + 1].after_positions) < t) ++after;
    if (after + 1 >= backgrounds.size()) return backgrounds[after].mean;
    const double t0 = static_cast<double>(backgrounds[after].after_positions);
    const double t1 = static_cast<double>(backgrounds[after + 1].after_positions);
    const double w = (t - t0) / (t1 - t0);
    return (1.0 - w) * backgrounds[after].mean + w * backgrounds[after + 1].mean;
  };
  std::vector<Eigen::MatrixXcd> corrected(positions);
  for (std::size_t v = 0; v < positions; ++v) {
    const Eigen::MatrixXcd bg = background_at(visit_rank[v]);
    corrected[v] = position_spectra[v] - bg;
    builder.add_position(v, position_spectra[v], bg, cal.delta_iron_kg);
  }
  const recon::SystemMatrix s = builder.finish();
  const Eigen::VectorXd noise = builder.row_noise() / std::sqrt(static_cast<double>(F));
  const Eigen::VectorXd snr = recon::row_snr(s.matrix, noise);

  // The stored bins and their SNR per channel.
  std::vector<std::size_t> bins;
  for (std::size_t k = 0; k < spectrum.bins(); ++k) {
    if (spectrum.bin_frequency_hz(k) >= cal.min_frequency_hz) bins.push_back(k);
  }
  const std::size_t K = bins.size();
  Eigen::MatrixXd snr_ck = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(C), static_cast<Eigen::Index>(K));
  std::vector<double> receive_snr;
  double max_snr = 0.0;
  std::size_t rows_10 = 0, rows_3 = 0;
  for (std::size_t r = 0; r < s.rows(); ++r) {
    const auto it = std::lower_bound(bins.begin(), bins.end(), s.bins[r]);
    if (it == bins.end() || *it != s.bins[r]) continue;
    const double value = std::isfinite(snr(static_cast<Eigen::Index>(r))) ? snr(static_cast<Eigen::Index>(r)) : 0.0;
    snr_ck(static_cast<Eigen::Index>(s.channels[r]), it - bins.begin()) = value;
    if (s.channels[r] < scanner.receivers.size()) {
      receive_snr.push_back(value);
      max_snr = std::max(max_snr, value);
      rows_10 += value >= 10.0 ? 1 : 0;
      rows_3 += value >= 3.0 ? 1 : 0;
    }
  }
  std::sort(receive_snr.begin(), receive_snr.end());
  const double median_snr = receive_snr.empty() ? 0.0 : receive_snr[receive_snr.size() / 2];

  // The MDF file: the background-corrected positions, then the background measurements in blocks of F
  // frames (the averaging of the positions).
  std::vector<Eigen::MatrixXcd> background_blocks;
  for (const Background& b : backgrounds) background_blocks.insert(background_blocks.end(), b.blocks.begin(), b.blocks.end());
  const std::size_t D = drive.drives.size();
  const double edge = cal.sample_edge_m;
  CalibrationAcquisition acq;
  acq.scanner_name = scanner.file.stem().string();
  acq.study_description = "system-matrix calibration with the robot (" + plan.file.filename().string() + ")";
  acq.tracer_name = tracer_name;
  acq.gradient_t_per_m = scanner.gradient_matrix_t_per_m;
  acq.base_frequency_hz = base_clock_hz;
  acq.dividers.assign(drive.dividers.begin(), drive.dividers.end());
  for (int d = 0; d < board.layout().drive_size(); ++d) {
    acq.phase_rad.push_back(board.layout().drive(d).phase_rad());
    acq.strength_t.push_back(board.layout().drive(d).amplitude_t());
  }
  acq.sample_rate_hz = scanner.sample_rate_hz;
  acq.samples = V;
  acq.channels = C;
  acq.tracer_volume_l = edge * edge * edge * 1e3;
  acq.tracer_iron_mol_per_l = cal.delta_iron_kg / config::kIronMolarMassKgPerMol / acq.tracer_volume_l;
  try {
    write_calibration_mdf(part_file.string(), acq, grid, corrected, background_blocks, bins, snr_ck, edge, static_cast<std::int64_t>(F), true);
  } catch (...) {
    fs::remove(part_file, ignored);
    throw;
  }
  fs::rename(part_file, final_file);

  CalibrationOutcome o;
  o.system_matrix = final_file;
  o.report_file = options.out / "report.txt";
  o.positions = positions;
  o.background_measurements = backgrounds.size();
  o.frames = frames_acquired;
  o.rows = C * K;
  o.max_snr = max_snr;
  o.median_snr = median_snr;
  o.rows_snr_10 = rows_10;
  o.seconds = seconds();
  std::ostringstream r;
  r << "calibration plan: " << plan.file.string() << "\n";
  r << "sequence " << plan.scan.sequence.name << ": " << D << " drive channels, dividers";
  for (std::uint32_t d : drive.dividers) r << ' ' << d;
  r << " of " << fixed(base_clock_hz / 1e6, 3) << " MHz; one frame per cycle of " << V << " samples (" << fixed(static_cast<double>(V) / scanner.sample_rate_hz * 1e6, 1)
    << " us)\n";
  r << "grid: " << cal.grid[0] << " x " << cal.grid[1] << " x " << cal.grid[2] << " positions over " << fixed(cal.fov_m.x() * 1e3, 2) << " x "
    << fixed(cal.fov_m.y() * 1e3, 2) << " x " << fixed(cal.fov_m.z() * 1e3, 2) << " mm about (" << fixed(cal.centre_m.x() * 1e3, 2) << ", "
    << fixed(cal.centre_m.y() * 1e3, 2) << ", " << fixed(cal.centre_m.z() * 1e3, 2) << ") mm\n";
  r << "delta sample: " << fixed(cal.delta_iron_kg * 1e9, 3) << " ug iron, " << fixed(edge * 1e3, 2) << " mm cube\n";
  r << "frames: " << F << " per position after " << cal.settle_frames << " settle frames; background: " << backgrounds.size() << " measurements of "
    << cal.background_frames << " frames with the robot parked ("
    << (cal.park_every > 0 ? "every " + std::to_string(cal.park_every) + " positions and " : std::string()) << "before and after), interpolated; "
    << frames_acquired << " frames in all\n";
  r << "rows: " << C * K << " stored (" << C << " channels x " << K << " bins from " << fixed(cal.min_frequency_hz / 1e3, 1) << " kHz)\n";
  r << "SNR of the receive channels' rows: max " << fixed(max_snr, 1) << ", median " << fixed(median_snr, 2) << "; " << rows_10
    << " rows with SNR >= 10, " << rows_3 << " with SNR >= 3\n";
  r << "time: " << fixed(o.seconds, 1) << " s (" << fixed(o.seconds / static_cast<double>(positions), 3) << " s per position)\n";
  r << "system matrix: " << final_file.string() << "\n";
  o.report = r.str();
  std::ofstream(o.report_file) << o.report;
  return o;
}

}  // namespace mpi::host
