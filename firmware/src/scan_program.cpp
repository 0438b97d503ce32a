#include "mpi/firmware/scan_program.hpp"

#include "mpi/config/config_error.hpp"
#include "mpi/drivers/register_map.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace mpi::firmware {

namespace v1 = link::v1;

std::uint64_t drive_cycle_samples(const config::ScannerDescription& scanner, const std::vector<bool>& configured) {
  config::SequenceDescription sequence;
  sequence.name = "configured drive";
  sequence.drive_amplitude_t.assign(scanner.drive.size(), 0.0);
  for (std::size_t ch = 0; ch < scanner.drive.size() && ch < configured.size(); ++ch) {
    if (configured[ch]) sequence.drive_amplitude_t[ch] = 1.0;
  }
  return scanner.samples_per_cycle(sequence);
}

namespace {

// The DAC code of `field_t` on offset channel `c`, or an error naming `name`.
std::string offset_code(const config::ScannerDescription& scanner, std::size_t c, double field_t, const std::string& name,
                        std::int32_t& code) {
  const config::OffsetChannelDescription& coil = scanner.offset[c];
  if (!std::isfinite(field_t)) return fmt::format("{} = {} T must be finite", name, field_t);
  if (std::abs(field_t) > coil.max_field_t) {
    return fmt::format("{} = {} T exceeds the limit {} T (max_field of offset channel {})", name, field_t, coil.max_field_t, coil.name);
  }
  if (std::abs(field_t) > coil.tesla_per_full_scale) {
    return fmt::format("{} = {} T exceeds the limit {} T (DAC full scale of offset channel {})", name, field_t, coil.tesla_per_full_scale,
                       coil.name);
  }
  code = static_cast<std::int32_t>(std::lround(field_t / coil.tesla_per_full_scale * drivers::regmap::kDacFullScale));
  return {};
}

std::string compile_steps(const v1::ScanSegment& segment, const config::ScannerDescription& scanner, const std::string& name,
                          drivers::SequenceSegment& out) {
  for (int k = 0; k < segment.steps_size(); ++k) {
    const v1::OffsetStep& step = segment.steps(k);
    const std::string step_name = fmt::format("{}.steps[{}]", name, k);
    if (static_cast<std::size_t>(step.field_t_size()) > scanner.offset.size()) {
      return fmt::format("{}.field_t has {} values but the scanner has {} offset channel(s)", step_name, step.field_t_size(),
                         scanner.offset.size());
    }
    drivers::SequenceStep table_step;
    table_step.enable = !step.drive_off();
    table_step.resync = step.resync();
    for (int c = 0; c < step.field_t_size(); ++c) {
      const std::string error =
          offset_code(scanner, static_cast<std::size_t>(c), step.field_t(c), fmt::format("{}.field_t[{}]", step_name, c), table_step.values[c]);
      if (!error.empty()) return error;
    }
    out.steps.push_back(table_step);
  }
  return {};
}

std::string compile_sweep(const v1::LinearSweep& sweep, const config::ScannerDescription& scanner, const std::string& name,
                          std::size_t steps_left, drivers::SequenceSegment& out) {
  if (sweep.offset_channel() >= scanner.offset.size()) {
    return fmt::format("{}.offset_channel = {} does not exist: the scanner has {} offset channel(s)", name, sweep.offset_channel(),
                       scanner.offset.size());
  }
  if (sweep.steps() < 2) return fmt::format("{}.steps = {} must be at least 2 (from_t and to_t included)", name, sweep.steps());
  if (sweep.steps() > steps_left) {
    return fmt::format("{}.steps = {} exceeds the {} distinct steps left in the table's program memory", name, sweep.steps(), steps_left);
  }
  std::int32_t from = 0;
  std::int32_t to = 0;
  if (std::string e = offset_code(scanner, sweep.offset_channel(), sweep.from_t(), name + ".from_t", from); !e.empty()) return e;
  if (std::string e = offset_code(scanner, sweep.offset_channel(), sweep.to_t(), name + ".to_t", to); !e.empty()) return e;
  const double field_per_code = scanner.offset[sweep.offset_channel()].tesla_per_full_scale / drivers::regmap::kDacFullScale;
  for (std::uint32_t k = 0; k < sweep.steps(); ++k) {
    const double field = sweep.from_t() + (sweep.to_t() - sweep.from_t()) * k / (sweep.steps() - 1);
    drivers::SequenceStep step;
    step.values[sweep.offset_channel()] = static_cast<std::int32_t>(std::lround(field / field_per_code));
    out.steps.push_back(step);
  }
  return {};
}

}  // namespace

std::string compile_program(const v1::ScanProgram& program, const config::ScannerDescription& scanner, unsigned board_offset_channels,
                            std::uint64_t cycle_samples, std::uint32_t ramp_samples, double sample_rate_hz, CompiledProgram& out) {
  out = CompiledProgram{};
  if (scanner.offset.empty() || board_offset_channels == 0) {
    return "program: the scanner has no offset (gradient/focus/bias) channels to program";
  }
  const std::uint32_t s = program.step_samples();
  if (s == 0) return "program.step_samples = 0: a step must last at least one drive cycle";
  if (cycle_samples == 0 || s % cycle_samples != 0) {
    return fmt::format("program.step_samples = {} is not a whole number of drive cycles ({} samples each): every step must hold whole frames",
                       s, cycle_samples);
  }
  const std::uint64_t tail = (std::uint64_t{ramp_samples} + s - 1) / s;
  if (tail < kMinTailSteps) {
    return fmt::format("program.step_samples = {} is too long for ramp_samples = {}: the offsets ramp down in steps, at least {} within the "
                       "ramp (step_samples at most {})",
                       s, ramp_samples, kMinTailSteps, ramp_samples / kMinTailSteps);
  }
  if (program.segments_size() == 0) return "program.segments: a program needs at least one segment";
  if (static_cast<std::size_t>(program.segments_size()) > kMaxProgramSegments) {
    return fmt::format("program.segments: {} segments exceed the limit of {}", program.segments_size(), kMaxProgramSegments);
  }
  std::size_t distinct = 0;
  std::uint64_t total = 0;
  const std::uint64_t max_total = std::numeric_limits<std::int64_t>::max() / s;  // samples must fit a signed 64-bit count
  for (int i = 0; i < program.segments_size(); ++i) {
    const v1::ScanSegment& segment = program.segments(i);
    const std::string name = fmt::format("program.segments[{}]", i);
    if (segment.role() == v1::SEGMENT_ROLE_UNSPECIFIED || !v1::SegmentRole_IsValid(segment.role())) {
      return fmt::format("{}.role must be BACKGROUND, RAMP_UP, FOREGROUND, RAMP_DOWN or SWEEP", name);
    }
    if (segment.has_sweep() == (segment.steps_size() > 0)) {
      return fmt::format("{}: give either steps or a sweep ({})", name, segment.has_sweep() ? "both given" : "neither given");
    }
    if (segment.repetitions() == 0) return fmt::format("{}.repetitions = 0 must be at least 1", name);
    drivers::SequenceSegment table_segment;
    table_segment.kind = segment.role() == v1::SEGMENT_ROLE_RAMP_UP     ? drivers::SegmentKind::ramp_up
                         : segment.role() == v1::SEGMENT_ROLE_RAMP_DOWN ? drivers::SegmentKind::ramp_down
                                                                        : drivers::SegmentKind::regular;
    table_segment.repetitions = segment.repetitions();
    if (segment.has_sweep()) {
      if (std::string e = compile_sweep(segment.sweep(), scanner, name + ".sweep", kMaxProgramSteps - distinct, table_segment); !e.empty()) {
        return e;
      }
    } else {
      if (distinct + static_cast<std::size_t>(segment.steps_size()) > kMaxProgramSteps) {
        return fmt::format("{}.steps: {} distinct steps in all exceed the limit of {}", name, distinct + segment.steps_size(), kMaxProgramSteps);
      }
      if (std::string e = compile_steps(segment, scanner, name, table_segment); !e.empty()) return e;
    }
    distinct += table_segment.steps.size();
    const std::uint64_t count = table_segment.steps.size();
    if (segment.repetitions() > (max_total - total) / count) {
      return fmt::format("{}.repetitions = {}: the program would last more samples than a 64-bit count holds", name, segment.repetitions());
    }
    ProgramSegment placed;
    placed.role = segment.role();
    placed.label = segment.label();
    placed.first_sample = total * s;
    placed.sample_count = count * segment.repetitions() * s;
    out.layout.push_back(std::move(placed));
    total += count * segment.repetitions();
    out.segments.push_back(std::move(table_segment));
  }
  out.step_samples = s;
  out.total_steps = total;
  out.tail_ramp_steps = tail;
  const double look_ahead = std::ceil(kLookAheadSeconds * sample_rate_hz / s);
  out.look_ahead_steps = static_cast<std::uint32_t>(std::clamp(look_ahead, 2.0, static_cast<double>(drivers::regmap::kSeqSlots)));
  return {};
}

}  // namespace mpi::firmware
