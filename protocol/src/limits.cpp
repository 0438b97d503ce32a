#include "mpi/protocol/limits.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace mpi::protocol {

namespace {

namespace v1 = link::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

struct Rule {
  std::string_view message;
  std::string_view field;
  FieldLimits limits;
};

// The fields with a limit of their own; every other string field gets kMaxTextBytes.
constexpr std::array kRules{
    Rule{"Hello", "client_name", {.max_bytes = kMaxNameBytes}},
    Rule{"Hello", "capabilities", {.max_count = kMaxCapabilities, .max_bytes = kMaxCapabilityBytes}},
    Rule{"Hello", "client_nonce", {.exact_bytes = kNonceBytes}},
    Rule{"Hello", "reclaim_token", {.exact_bytes = kReclaimTokenBytes}},
    Rule{"AuthChallenge", "server_nonce", {.exact_bytes = kNonceBytes}},
    Rule{"AuthChallenge", "server_proof", {.exact_bytes = kProofBytes}},
    Rule{"AuthResponse", "client_proof", {.exact_bytes = kProofBytes}},
    Rule{"BoardInfo", "adc_channels", {.max_value = kMaxChunkChannels}},
    Rule{"BoardInfo", "drive_channels", {.max_value = kMaxDriveChannels}},
    Rule{"BoardInfo", "adc_channel_names", {.max_count = kMaxChunkChannels, .max_bytes = kMaxNameBytes}},
    Rule{"HelloReply", "server_name", {.max_bytes = kMaxNameBytes}},
    Rule{"HelloReply", "capabilities", {.max_count = kMaxCapabilities, .max_bytes = kMaxCapabilityBytes}},
    Rule{"HelloReply", "reclaim_token", {.exact_bytes = kReclaimTokenBytes}},
    Rule{"DriveChannelConfig", "channel", {.max_value = kMaxDriveChannels - 1}},
    Rule{"Configure", "drive", {.max_count = kMaxDriveChannels}},
    Rule{"Configure", "ramp_samples", {.max_value = kMaxRampSamples}},
    Rule{"Configure", "chunk_samples", {.max_value = kMaxChunkSamples}},
    Rule{"OffsetStep", "field_t", {.max_count = kMaxOffsetChannels}},
    Rule{"LinearSweep", "offset_channel", {.max_value = kMaxOffsetChannels - 1}},
    Rule{"LinearSweep", "steps", {.max_value = kMaxProgramSteps}},
    Rule{"ScanSegment", "steps", {.max_count = kMaxProgramSteps}},
    Rule{"ScanSegment", "repetitions", {.max_value = kMaxRepetitions}},
    Rule{"ScanSegment", "label", {.max_bytes = kMaxLabelBytes}},
    Rule{"ScanProgram", "segments", {.max_count = kMaxProgramSegments}},
    Rule{"RealisedDriveChannel", "channel", {.max_value = kMaxDriveChannels - 1}},
    Rule{"RealisedSegment", "label", {.max_bytes = kMaxLabelBytes}},
    Rule{"ConfigureReply", "drive", {.max_count = kMaxDriveChannels}},
    Rule{"ConfigureReply", "ramp_samples", {.max_value = kMaxRampSamples}},
    Rule{"ConfigureReply", "chunk_samples", {.max_value = kMaxChunkSamples}},
    Rule{"ConfigureReply", "segments", {.max_count = kMaxProgramSegments}},
    Rule{"Start", "max_samples", {.max_value = kMaxScanSamples}},
    Rule{"Status", "faults", {.max_count = kMaxStatusFaults}},
    Rule{"Status", "last_field", {.max_count = kMaxFieldReports}},
    Rule{"Status", "temperatures", {.max_count = kMaxTemperatureReadings}},
    Rule{"Temperature", "name", {.max_bytes = kMaxNameBytes}},
    Rule{"FieldReport", "channel", {.max_value = kMaxDriveChannels - 1}},
    Rule{"SampleChunk", "sample_count", {.max_value = kMaxChunkSamples}},
    Rule{"SampleChunk", "channel_count", {.max_value = kMaxChunkChannels}},
    Rule{"SampleChunk", "payload", {.max_bytes = kMaxFrameBytes}},
};

const std::unordered_map<const FieldDescriptor*, FieldLimits>& rule_map() {
  static const std::unordered_map<const FieldDescriptor*, FieldLimits> map = [] {
    std::unordered_map<const FieldDescriptor*, FieldLimits> built;
    const google::protobuf::FileDescriptor* file = v1::Envelope::descriptor()->file();
    for (const Rule& rule : kRules) {
      const google::protobuf::Descriptor* message = file->FindMessageTypeByName(std::string(rule.message));
      const FieldDescriptor* field = message == nullptr ? nullptr : message->FindFieldByName(std::string(rule.field));
      if (field == nullptr) throw std::logic_error("limits: link.proto has no field " + std::string(rule.message) + "." + std::string(rule.field));
      built.emplace(field, rule.limits);
    }
    return built;
  }();
  return map;
}

std::string number(double value) {
  if (std::isnan(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

LimitViolation violation(const std::string& path, std::string detail) { return LimitViolation{path, std::move(detail)}; }

std::optional<LimitViolation> check_bytes(const std::string& path, std::size_t size, const FieldLimits& limits) {
  if (limits.exact_bytes != 0 && size != 0 && size != limits.exact_bytes) {
    return violation(path, "has " + std::to_string(size) + " bytes, exactly " + std::to_string(limits.exact_bytes) + " are required (or none)");
  }
  if (limits.max_bytes != 0 && size > limits.max_bytes) {
    return violation(path, "has " + std::to_string(size) + " bytes, the limit is " + std::to_string(limits.max_bytes));
  }
  return std::nullopt;
}

std::optional<LimitViolation> check_finite(const std::string& path, double value) {
  if (std::isfinite(value)) return std::nullopt;
  return violation(path, "is " + number(value) + ", must be finite");
}

std::optional<LimitViolation> walk(const Message& message, std::string& path);

std::optional<LimitViolation> check_repeated(const Message& message, const Reflection& reflection, const FieldDescriptor& field,
                                             const FieldLimits& limits, std::string& path) {
  const int count = reflection.FieldSize(message, &field);
  if (limits.max_count != 0 && static_cast<std::uint64_t>(count) > limits.max_count) {
    return violation(path, "has " + std::to_string(count) + " entries, the limit is " + std::to_string(limits.max_count));
  }
  const std::size_t base = path.size();
  for (int i = 0; i < count; ++i) {
    path.resize(base);
    path += '[';
    path += std::to_string(i);
    path += ']';
    std::optional<LimitViolation> found;
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE: found = walk(reflection.GetRepeatedMessage(message, &field, i), path); break;
      case FieldDescriptor::CPPTYPE_DOUBLE: found = check_finite(path, reflection.GetRepeatedDouble(message, &field, i)); break;
      case FieldDescriptor::CPPTYPE_FLOAT: found = check_finite(path, reflection.GetRepeatedFloat(message, &field, i)); break;
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& text = reflection.GetRepeatedStringReference(message, &field, i, &scratch);
        found = check_bytes(path, text.size(), limits);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        const std::uint64_t value = field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ? reflection.GetRepeatedUInt32(message, &field, i)
                                                                                         : reflection.GetRepeatedUInt64(message, &field, i);
        if (limits.max_value != 0 && value > limits.max_value) {
          found = violation(path, "is " + std::to_string(value) + ", the limit is " + std::to_string(limits.max_value));
        }
        break;
      }
      default: break;
    }
    if (found) return found;
  }
  path.resize(base);
  return std::nullopt;
}

std::optional<LimitViolation> check_singular(const Message& message, const Reflection& reflection, const FieldDescriptor& field,
                                             const FieldLimits& limits, std::string& path) {
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE: return walk(reflection.GetMessage(message, &field), path);
    case FieldDescriptor::CPPTYPE_DOUBLE: return check_finite(path, reflection.GetDouble(message, &field));
    case FieldDescriptor::CPPTYPE_FLOAT: return check_finite(path, reflection.GetFloat(message, &field));
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      return check_bytes(path, reflection.GetStringReference(message, &field, &scratch).size(), limits);
    }
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64: {
      const std::uint64_t value = field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ? reflection.GetUInt32(message, &field)
                                                                                       : reflection.GetUInt64(message, &field);
      if (limits.max_value != 0 && value > limits.max_value) {
        return violation(path, "is " + std::to_string(value) + ", the limit is " + std::to_string(limits.max_value));
      }
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

// Depth-first over the fields set, in field-number order; `path` is restored on return without a violation.
std::optional<LimitViolation> walk(const Message& message, std::string& path) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);
  const std::size_t base = path.size();
  for (const FieldDescriptor* field : fields) {
    path.resize(base);
    if (!path.empty()) path += '.';
    path += field->name();
    const FieldLimits limits = field_limits(*field);
    std::optional<LimitViolation> found = field->is_repeated() ? check_repeated(message, reflection, *field, limits, path)
                                                               : check_singular(message, reflection, *field, limits, path);
    if (found) return found;
  }
  path.resize(base);
  return std::nullopt;
}

std::uint64_t saturating_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
  return a * b;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

// The limits that span fields: the program's totals.
std::optional<LimitViolation> check_program(const v1::ScanProgram& program, const std::string& path) {
  std::uint64_t steps = 0;
  std::uint64_t samples = 0;
  for (const v1::ScanSegment& segment : program.segments()) {
    const std::uint64_t distinct = static_cast<std::uint64_t>(segment.steps_size()) + segment.sweep().steps();
    steps = saturating_add(steps, distinct);
    const std::uint64_t repetitions = segment.repetitions() == 0 ? 1 : segment.repetitions();
    samples = saturating_add(samples, saturating_multiply(saturating_multiply(distinct, repetitions), program.step_samples()));
  }
  if (steps > kMaxProgramSteps) {
    return violation(path + ".segments",
                     "hold " + std::to_string(steps) + " distinct steps in all, the limit is " + std::to_string(kMaxProgramSteps));
  }
  if (samples > kMaxScanSamples) {
    const std::string length = samples == std::numeric_limits<std::uint64_t>::max() ? "more than 2^64" : std::to_string(samples);
    return violation(path, "lasts " + length + " samples (steps x repetitions x step_samples), the limit is " + std::to_string(kMaxScanSamples));
  }
  return std::nullopt;
}

}  // namespace

FieldLimits field_limits(const FieldDescriptor& field) {
  const auto& map = rule_map();
  const auto it = map.find(&field);
  FieldLimits limits = it == map.end() ? FieldLimits{} : it->second;
  if (field.type() == FieldDescriptor::TYPE_STRING && limits.max_bytes == 0) limits.max_bytes = kMaxTextBytes;
  return limits;
}

std::optional<LimitViolation> check_limits(const v1::Envelope& envelope) {
  std::string path;
  path.reserve(96);
  if (std::optional<LimitViolation> found = walk(envelope, path)) return found;
  if (envelope.has_configure() && envelope.configure().has_program()) {
    if (std::optional<LimitViolation> found = check_program(envelope.configure().program(), "configure.program")) return found;
  }
  if (envelope.has_chunk()) {
    const v1::SampleChunk& chunk = envelope.chunk();
    const std::uint64_t expected = std::uint64_t{chunk.sample_count()} * chunk.channel_count() * 2U;
    if (chunk.payload().size() != expected) {
      return violation("chunk.payload", "has " + std::to_string(chunk.payload().size()) + " bytes, sample_count " +
                                            std::to_string(chunk.sample_count()) + " x channel_count " + std::to_string(chunk.channel_count()) +
                                            " x 2 bytes = " + std::to_string(expected) + " are required");
    }
  }
  return std::nullopt;
}

std::string_view fit_text(std::string_view text, std::size_t limit) noexcept {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  // Back up over continuation bytes (10xxxxxx): the cut then lies before a character's first byte.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) --cut;
  return text.substr(0, cut);
}

}  // namespace mpi::protocol
