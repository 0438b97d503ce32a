// Scan programs end to end: the firmware plays an x-space program (background frames, the focus field's
// ramp-up, nine overlapping partial-FOV patches, its ramp-down) through the board's offset sequence table
// on the plant (configs/scanners/xspace-ffp.toml). What the plant's logic outputs is watched through its
// registers during the scan and compared, step by step, with the program expanded here from the
// protocol's definition; after the program (or an early Stop) the focus field ramps to zero over the scan's
// ramp, never in one jump, and no step is lost.
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/hil/scenario.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/version.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

namespace fs = std::filesystem;
using namespace mpi;
namespace v1 = link::v1;
namespace regmap = drivers::regmap;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/xspace-ffp.toml";

// xspace-ffp.toml: 25 kHz drive from a 2.5 MHz base clock (divider 100) sampled at 2.5 MS/s: 100 samples a
// cycle; focus_x: 50 mT at DAC full scale (32767), coil time constant 200 us; [safety] ramp_time 10 ms.
constexpr double kSampleRate = 2.5e6;
constexpr std::uint64_t kCycle = 100;
constexpr std::uint32_t kStep = 50 * kCycle;  // 2 ms: 50 cycles per patch and repetition
constexpr std::uint32_t kRamp = 25000;         // 10 ms: the tail has kRamp / kStep = 5 steps
constexpr std::uint64_t kTailSteps = kRamp / kStep;
constexpr double kFocusFullScale = 0.05;

std::int32_t code(double field_t) { return static_cast<std::int32_t>(std::lround(field_t / kFocusFullScale * 32767)); }

struct Segment {
  v1::SegmentRole role;
  std::vector<double> fields;
  std::uint64_t repetitions;
};

const std::vector<Segment> kProgram = {
    {v1::SEGMENT_ROLE_BACKGROUND, {0.0}, 4},
    {v1::SEGMENT_ROLE_RAMP_UP, {-0.01, -0.02}, 1},
    {v1::SEGMENT_ROLE_FOREGROUND, {-0.03, -0.0225, -0.015, -0.0075, 0.0, 0.0075, 0.015, 0.0225, 0.03}, 4},
    {v1::SEGMENT_ROLE_RAMP_DOWN, {0.02, 0.01}, 1},
};

// The program step by step (repetitions expanded): the focus DAC code of each step.
std::vector<std::int32_t> expanded_program() {
  std::vector<std::int32_t> steps;
  for (const Segment& s : kProgram) {
    for (std::uint64_t r = 0; r < s.repetitions; ++r) {
      for (double f : s.fields) steps.push_back(code(f));
    }
  }
  return steps;
}

// The tail after step `last` (value `from`): linear to zero over kTailSteps steps, then zero.
std::int32_t tail_code(std::int32_t from, std::uint64_t tail_start, std::uint64_t step) {
  const std::uint64_t into = step - tail_start + 1;
  if (into >= kTailSteps) return 0;
  return static_cast<std::int32_t>(std::lround(from * (1.0 - static_cast<double>(into) / kTailSteps)));
}

v1::Envelope configure_request() {
  v1::Envelope e;
  v1::Configure* c = e.mutable_configure();
  v1::DriveChannelConfig* d = c->add_drive();
  d->set_channel(0);
  d->set_frequency_hz(25000.0);
  d->set_amplitude_t(0.015);
  c->set_ramp_samples(kRamp);
  v1::ScanProgram* p = c->mutable_program();
  p->set_step_samples(kStep);
  for (const Segment& s : kProgram) {
    v1::ScanSegment* segment = p->add_segments();
    segment->set_role(s.role);
    segment->set_repetitions(s.repetitions);
    for (double f : s.fields) segment->add_steps()->add_field_t(f);
  }
  return e;
}

std::unique_ptr<host::LinkClient> connect(std::uint16_t port) {
  auto client = std::make_unique<host::LinkClient>("127.0.0.1", port, std::chrono::milliseconds(5000));
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_major(protocol::kProtocolMajor);
  hello.mutable_hello()->set_client_name("program test");
  if (!client->request(hello).has_hello_reply()) throw std::runtime_error("no HelloReply");
  return client;
}

// Watches the plant's sequence table while a scan runs: the focus output code seen in each step (read
// between two equal readings of the step index, so both belong to the same step).
class TableWatcher {
 public:
  explicit TableWatcher(const std::string& shm) : bus_(shm), thread_([this] { run(); }) {}
  ~TableWatcher() { finish(); }
  TableWatcher(const TableWatcher&) = delete;
  TableWatcher& operator=(const TableWatcher&) = delete;
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // step -> every code seen in it
  [[nodiscard]] const std::map<std::uint64_t, std::vector<std::int32_t>>& seen() const { return seen_; }

 private:
  void run() {
    while (!stop_) {
      if ((bus_.read32(regmap::kAcqStatus) & regmap::kAcqRunning) != 0 && (bus_.read32(regmap::kSeqControl) & regmap::kSeqEnable) != 0) {
        const std::uint64_t before = bus_.read64(regmap::kSeqReadIndex);
        const auto value = static_cast<std::int32_t>(bus_.read32(regmap::offset_register(0, regmap::kOffsetOutput)));
        const std::uint64_t after = bus_.read64(regmap::kSeqReadIndex);
        if (before == after) {
          auto& codes = seen_[before];
          if (codes.empty() || codes.back() != value) codes.push_back(value);
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  drivers::SharedMemoryBus bus_;
  std::atomic<bool> stop_{false};
  std::map<std::uint64_t, std::vector<std::int32_t>> seen_;
  std::thread thread_;
};

struct Stream {
  v1::StreamEnd end;
  std::uint64_t samples = 0;
  bool contiguous = true;
  bool lost_steps = false;
};

Stream receive_to_end(host::LinkClient& client, const std::function<void(std::uint64_t)>& on_sample = {}) {
  Stream out;
  v1::Envelope message;
  while (client.receive(message)) {
    if (message.has_chunk()) {
      const v1::SampleChunk& chunk = message.chunk();
      if (chunk.first_sample() != out.samples) out.contiguous = false;
      out.samples = chunk.first_sample() + chunk.sample_count();
      if ((chunk.flags() & v1::CHUNK_FLAG_LOST_STEPS) != 0) out.lost_steps = true;
      if (on_sample) on_sample(out.samples);
    } else if (message.has_stream_end()) {
      out.end = message.stream_end();
      return out;
    }
  }
  throw std::runtime_error("the stream ended without StreamEnd");
}

// Starts the configured scan and receives it to its StreamEnd while `watcher` watches the table.
Stream scan_watched(host::LinkClient& client, TableWatcher& watcher, const std::function<void(std::uint64_t)>& on_sample = {}) {
  v1::Envelope start;
  start.mutable_start();
  if (!client.request(start).has_status()) throw std::runtime_error("Start was not answered with Status");
  Stream stream = receive_to_end(client, on_sample);
  watcher.finish();
  return stream;
}

hil::ScenarioFiles files(const fs::path& dir) {
  hil::ScenarioFiles f;
  f.scanner = kScanner;
  f.plan = hil::test::demo_plan_with_frames(kSource, dir, 10);  // the plant's tracer and phantom
  f.work_dir = dir / "logs";
  f.plant_pace = 1.0;
  return f;
}

}  // namespace

TEST(HilProgram, XSpacePatchesPlayStepByStepAndTheFocusFieldRampsToZeroAfterwards) {
  const fs::path dir = hil::test::fresh_work_dir("program", "patches");
  hil::Scenario scenario(kPrograms, files(dir));
  auto client = connect(scenario.firmware_port());
  v1::Envelope configure = configure_request();
  const v1::Envelope reply = client->request(configure);
  ASSERT_TRUE(reply.has_configure_reply());
  const v1::ConfigureReply& layout = reply.configure_reply();
  EXPECT_EQ(layout.cycle_samples(), kCycle);
  const std::vector<std::int32_t> program = expanded_program();
  ASSERT_EQ(layout.segments_size(), 4);
  std::uint64_t first = 0;
  for (int i = 0; i < 4; ++i) {
    const Segment& s = kProgram[static_cast<std::size_t>(i)];
    EXPECT_EQ(layout.segments(i).role(), s.role);
    EXPECT_EQ(layout.segments(i).first_sample(), first) << i;
    EXPECT_EQ(layout.segments(i).sample_count(), s.fields.size() * s.repetitions * kStep) << i;
    first += s.fields.size() * s.repetitions * kStep;
  }
  EXPECT_EQ(layout.program_end_sample(), program.size() * kStep);

  TableWatcher watcher(scenario.shm_name());
  const Stream stream = scan_watched(*client, watcher);

  EXPECT_EQ(stream.end.reason(), "scan program complete");
  EXPECT_TRUE(stream.contiguous);
  EXPECT_FALSE(stream.lost_steps) << "a step of the program was lost";
  EXPECT_GE(stream.end.ramp_down_start_sample(), layout.program_end_sample());
  // Acquisition ran until the tail reached zero and the slowest coil settled (10 time constants of 200 us).
  const std::uint64_t zero_sample = (program.size() + kTailSteps) * kStep + static_cast<std::uint64_t>(10 * 200e-6 * kSampleRate);
  EXPECT_GE(stream.end.end_sample(), zero_sample);

  // Every step seen shows the program's code; after the program, the tail from its last value.
  std::size_t checked = 0;
  for (const auto& [step, codes] : watcher.seen()) {
    const std::int32_t expected = step < program.size() ? program[step] : tail_code(program.back(), program.size(), step);
    for (std::int32_t c : codes) EXPECT_EQ(c, expected) << "step " << step;
    ++checked;
  }
  // The plant publishes its registers once per block: on a loaded machine only some steps are seen.
  EXPECT_GE(checked, 12U) << "too few steps observed to judge the table";
  drivers::SharedMemoryBus bus(scenario.shm_name());
  EXPECT_EQ(bus.read32(regmap::kSeqLostSteps), 0U);
  EXPECT_EQ(static_cast<std::int32_t>(bus.read32(regmap::offset_register(0, regmap::kOffsetOutput))), 0);
}

TEST(HilProgram, StopMidProgramRampsTheFocusFieldDownFromWhereItWas) {
  const fs::path dir = hil::test::fresh_work_dir("program", "stop");
  hil::Scenario scenario(kPrograms, files(dir));
  auto client = connect(scenario.firmware_port());
  v1::Envelope configure = configure_request();
  configure.mutable_configure()->mutable_program()->mutable_segments(2)->set_repetitions(50);  // long enough to stop in it
  ASSERT_TRUE(client->request(configure).has_configure_reply());
  TableWatcher watcher(scenario.shm_name());
  bool stopped = false;
  const Stream stream = scan_watched(*client, watcher, [&](std::uint64_t samples) {
    if (!stopped && samples > 30 * kStep) {  // inside the patches
      v1::Envelope stop;
      stop.mutable_stop();
      client->send(stop);
      stopped = true;
    }
  });
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stream.end.reason(), "stop requested");
  EXPECT_FALSE(stream.lost_steps);

  // Before the stop: the program. After it: a linear ramp from the last value played to zero in
  // kTailSteps steps, so consecutive steps never differ by more than the largest |code| / kTailSteps
  // (rounded), and the last steps seen are zero.
  const std::vector<std::int32_t> program = [] {
    std::vector<Segment> long_program = kProgram;
    long_program[2].repetitions = 50;
    std::vector<std::int32_t> steps;
    for (const Segment& s : long_program) {
      for (std::uint64_t r = 0; r < s.repetitions; ++r) {
        for (double f : s.fields) steps.push_back(code(f));
      }
    }
    return steps;
  }();
  std::optional<std::uint64_t> tail_start;
  std::int32_t previous = 0;
  std::uint64_t previous_step = 0;
  for (const auto& [step, codes] : watcher.seen()) {
    for (std::int32_t c : codes) {
      if (!tail_start && step < program.size() && c == program[step]) {
        previous = c;
        previous_step = step;
        continue;
      }
      if (!tail_start) tail_start = step;
      if (step == previous_step + 1) {
        EXPECT_LE(std::abs(c - previous), code(0.03) / static_cast<std::int32_t>(kTailSteps) + 1)
            << "step " << step << ": the focus field jumped from " << previous << " to " << c;
      }
      EXPECT_LE(std::abs(c), code(0.03)) << step;
      previous = c;
      previous_step = step;
    }
  }
  ASSERT_TRUE(tail_start) << "no step of the ramp-down was observed";
  EXPECT_LT(*tail_start, program.size()) << "the stop did not cut the program short";
  // The ramp ends at zero: the offset output the logic holds after the stream ended (the watcher polls, and
  // a loaded machine may let it miss the last steps, so its last value seen is not the measure).
  drivers::SharedMemoryBus bus(scenario.shm_name());
  EXPECT_EQ(static_cast<std::int32_t>(bus.read32(regmap::offset_register(0, regmap::kOffsetOutput))), 0)
      << "the focus field did not reach zero (last seen by the watcher: " << previous << " at step " << previous_step << ")";
  EXPECT_EQ(bus.read32(regmap::kSeqLostSteps), 0U);
}

// A relaxometry sweep on the relaxometer (configs/scanners/relaxometer.toml: 2.5 MHz / 102 = 24.5 kHz
// drive sampled at 2.5 MS/s, 102 samples a cycle; bias: 50 mT at full scale): the bias ramps up to -45 mT,
// sweeps continuously (one step per drive cycle) to +45 mT and back, and ramps down; every step the table
// plays is the linear sweep's value.
TEST(HilProgram, RelaxometryBiasSweepIsPlayedContinuously) {
  const fs::path dir = hil::test::fresh_work_dir("program", "sweep");
  hil::ScenarioFiles f = files(dir);
  f.scanner = kSource / "configs/scanners/relaxometer.toml";
  hil::Scenario scenario(kPrograms, f);
  auto client = connect(scenario.firmware_port());
  constexpr std::uint32_t kCycleSamples = 102;
  constexpr std::uint32_t kSweepSteps = 2001;
  const auto sweep = [](v1::ScanProgram* p, v1::SegmentRole role, double from, double to, std::uint32_t steps) {
    v1::ScanSegment* s = p->add_segments();
    s->set_role(role);
    s->set_repetitions(1);
    s->mutable_sweep()->set_offset_channel(0);
    s->mutable_sweep()->set_from_t(from);
    s->mutable_sweep()->set_to_t(to);
    s->mutable_sweep()->set_steps(steps);
  };
  v1::Envelope configure;
  v1::Configure* c = configure.mutable_configure();
  v1::DriveChannelConfig* d = c->add_drive();
  d->set_channel(0);
  d->set_frequency_hz(2.5e6 / 102);
  d->set_amplitude_t(0.015);
  c->set_ramp_samples(25000);
  v1::ScanProgram* p = c->mutable_program();
  p->set_step_samples(kCycleSamples);
  sweep(p, v1::SEGMENT_ROLE_RAMP_UP, 0.0, -0.045, 50);
  sweep(p, v1::SEGMENT_ROLE_SWEEP, -0.045, 0.045, kSweepSteps);
  sweep(p, v1::SEGMENT_ROLE_SWEEP, 0.045, -0.045, kSweepSteps);
  sweep(p, v1::SEGMENT_ROLE_RAMP_DOWN, -0.045, 0.0, 50);
  const v1::Envelope reply = client->request(configure);
  ASSERT_TRUE(reply.has_configure_reply());
  EXPECT_EQ(reply.configure_reply().cycle_samples(), kCycleSamples);
  EXPECT_EQ(reply.configure_reply().segments(1).first_sample(), 50U * kCycleSamples);
  EXPECT_EQ(reply.configure_reply().segments(2).first_sample(), (50U + kSweepSteps) * kCycleSamples);

  // The program, expanded from the sweeps' definition: value k of n from `from` to `to`.
  std::vector<std::int32_t> program;
  const auto expand = [&program](double from, double to, std::uint32_t n) {
    for (std::uint32_t k = 0; k < n; ++k) program.push_back(code(from + (to - from) * k / (n - 1)));
  };
  expand(0.0, -0.045, 50);
  expand(-0.045, 0.045, kSweepSteps);
  expand(0.045, -0.045, kSweepSteps);
  expand(-0.045, 0.0, 50);

  TableWatcher watcher(scenario.shm_name());
  const Stream stream = scan_watched(*client, watcher);
  EXPECT_EQ(stream.end.reason(), "scan program complete");
  EXPECT_FALSE(stream.lost_steps);
  std::size_t checked = 0;
  for (const auto& [step, codes] : watcher.seen()) {
    if (step >= program.size()) continue;  // the tail: zero from the last value 0
    for (std::int32_t value : codes) EXPECT_EQ(value, program[step]) << "step " << step;
    ++checked;
  }
  // The plant publishes its registers once per block of samples, so a fast sweep is seen in samples.
  EXPECT_GE(checked, 20U) << "too few steps observed to judge the sweep";
}
