#include "mpi/hil/field_trace.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace mpi::hil {

using drivers::regmap::kMaxDriveChannels;
using drivers::regmap::kMaxOffsetChannels;

FieldTrace::FieldTrace(FieldTraceHeader header, std::size_t max_blocks) : header_(std::move(header)), max_blocks_(max_blocks) {
  if (header_.drive_names.size() > kMaxDriveChannels || header_.offset_names.size() > kMaxOffsetChannels) {
    throw std::invalid_argument("field trace: at most " + std::to_string(kMaxDriveChannels) + " drive and " +
                                std::to_string(kMaxOffsetChannels) + " offset channels");
  }
  if (header_.block_samples == 0) throw std::invalid_argument("field trace: the block length must be at least 1 sample");
  if (max_blocks_ == 0) throw std::invalid_argument("field trace: the maximum number of blocks must be at least 1");
  if (!(header_.sample_rate_hz > 0.0)) throw std::invalid_argument("field trace: the sample rate must be positive");
  header_.dropped_blocks = 0;
  blocks_.reserve(max_blocks_);
}

void FieldTrace::begin_scan(std::uint64_t scan) noexcept {
  scan_ = scan;
  open_samples_ = 0;
  have_previous_ = false;
}

bool FieldTrace::add(std::uint64_t n, const double* drive_t, const double* offset_t) noexcept {
  const std::size_t drives = header_.drive_names.size();
  const std::size_t offsets = header_.offset_names.size();
  if (open_samples_ == 0) {
    open_ = FieldTraceBlock{};
    open_.scan = scan_;
    open_.first_sample = n;
  }
  for (std::size_t d = 0; d < drives; ++d) {
    const double b = drive_t[d];
    open_.peak_t[d] = std::max(open_.peak_t[d], std::abs(b));
    if (have_previous_) open_.slew_t_per_s[d] = std::max(open_.slew_t_per_s[d], std::abs(b - previous_[d]));
    previous_[d] = b;
  }
  for (std::size_t o = 0; o < offsets; ++o) open_.offset_mean_t[o] += offset_t[o];
  have_previous_ = true;
  return ++open_samples_ >= header_.block_samples;
}

void FieldTrace::close_block(const double* ramp_factors) noexcept {
  if (open_samples_ == 0) return;
  open_.samples = open_samples_;
  for (std::size_t d = 0; d < header_.drive_names.size(); ++d) {
    open_.slew_t_per_s[d] *= header_.sample_rate_hz;
    open_.ramp_factor[d] = ramp_factors[d];
  }
  for (std::size_t o = 0; o < header_.offset_names.size(); ++o) open_.offset_mean_t[o] /= open_samples_;
  if (blocks_.size() < max_blocks_) blocks_.push_back(open_);  // capacity reserved: no allocation
  else ++header_.dropped_blocks;
  open_samples_ = 0;
}

std::uint32_t default_field_trace_block(double sample_rate_hz, const std::vector<double>& drive_frequencies_hz) {
  double lowest = 0.0;
  for (double f : drive_frequencies_hz) {
    if (f > 0.0 && (lowest == 0.0 || f < lowest)) lowest = f;
  }
  if (lowest == 0.0 || !(sample_rate_hz > 0.0)) return 64;
  return static_cast<std::uint32_t>(std::max(1.0, std::round(sample_rate_hz / lowest)));
}

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += (i > 0 ? " " : "") + names[i];
  return s;
}

std::vector<std::string> split(const std::string& s, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(separator, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return parts;
}

constexpr const char* kDriveColumns[] = {"_peak_t", "_slew_t_per_s", "_ramp"};
constexpr const char* kOffsetColumn = "_mean_t";

}  // namespace

void write_field_trace(const FieldTrace& trace, std::ostream& out) {
  const FieldTraceHeader& h = trace.header();
  char number[64];
  const auto put = [&out, &number](double v) {
    std::snprintf(number, sizeof number, ",%.12g", v);
    out << number;
  };
  std::snprintf(number, sizeof number, "%.12g", h.sample_rate_hz);
  out << "# mpi-plant field trace: the field the plant applied, per block of samples and channel\n"
      << "# scanner: " << h.scanner << "\n"
      << "# sample_rate_hz: " << number << "\n"
      << "# block_samples: " << h.block_samples << "\n"
      << "# drive_channels: " << join(h.drive_names) << "\n"
      << "# offset_channels: " << join(h.offset_names) << "\n"
      << "# dropped_blocks: " << trace.dropped_blocks() << " (beyond the " << trace.max_blocks() << " blocks kept)\n"
      << "# scan: acquisition (trigger count); first_sample: samples since the trigger; samples: block length\n"
      << "# <drive>_peak_t: max |B| in the block (T); <drive>_slew_t_per_s: max |B[n] - B[n-1]| * fs (T/s);\n"
      << "# <drive>_ramp: the logic's ramp factor at the block's last sample; <offset>_mean_t: mean field (T)\n"
      << "scan,first_sample,samples";
  for (const std::string& d : h.drive_names) {
    for (const char* c : kDriveColumns) out << ',' << d << c;
  }
  for (const std::string& o : h.offset_names) out << ',' << o << kOffsetColumn;
  out << '\n';
  std::uint64_t scan = 0;
  for (const FieldTraceBlock& b : trace.blocks()) {
    if (b.scan != scan) {
      scan = b.scan;
      out << "# scan " << scan << '\n';
    }
    out << b.scan << ',' << b.first_sample << ',' << b.samples;
    for (std::size_t d = 0; d < h.drive_names.size(); ++d) {
      put(b.peak_t[d]);
      put(b.slew_t_per_s[d]);
      put(b.ramp_factor[d]);
    }
    for (std::size_t o = 0; o < h.offset_names.size(); ++o) put(b.offset_mean_t[o]);
    out << '\n';
  }
}

void write_field_trace(const FieldTrace& trace, const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write the field trace '" + file.string() + "'");
  write_field_trace(trace, out);
  out.flush();
  if (!out) throw std::runtime_error("writing the field trace '" + file.string() + "' failed");
}

FieldTraceFile read_field_trace(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read the field trace '" + file.string() + "'");
  FieldTraceFile result;
  FieldTraceHeader& h = result.header;
  std::string line;
  std::size_t line_no = 0;
  bool have_columns = false;
  const auto fail = [&](const std::string& why) {
    return std::runtime_error("field trace '" + file.string() + "' line " + std::to_string(line_no) + ": " + why);
  };
  const auto number = [&](const std::string& text, auto& value) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end) throw fail("'" + text + "' is not a number");
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (line[0] == '#') {
      const std::size_t colon = line.find(": ");
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(2, colon - 2);
      std::string value = line.substr(colon + 2);
      if (key == "scanner") h.scanner = value;
      else if (key == "sample_rate_hz") number(value, h.sample_rate_hz);
      else if (key == "block_samples") number(value, h.block_samples);
      else if (key == "dropped_blocks") number(value.substr(0, value.find(' ')), h.dropped_blocks);
      else if (key == "drive_channels" || key == "offset_channels") {
        std::vector<std::string> names;
        for (std::string& n : split(value, ' ')) {
          if (!n.empty()) names.push_back(std::move(n));
        }
        (key == "drive_channels" ? h.drive_names : h.offset_names) = std::move(names);
      }
      continue;
    }
    const std::vector<std::string> fields = split(line, ',');
    const std::size_t expected = 3 + 3 * h.drive_names.size() + h.offset_names.size();
    if (!have_columns) {
      if (fields.size() != expected || fields[0] != "scan") throw fail("expected the column line for the channels named in the header");
      have_columns = true;
      continue;
    }
    if (fields.size() != expected) throw fail(std::to_string(fields.size()) + " fields, expected " + std::to_string(expected));
    if (h.drive_names.size() > kMaxDriveChannels || h.offset_names.size() > kMaxOffsetChannels) throw fail("too many channels");
    FieldTraceBlock b;
    number(fields[0], b.scan);
    number(fields[1], b.first_sample);
    number(fields[2], b.samples);
    std::size_t f = 3;
    for (std::size_t d = 0; d < h.drive_names.size(); ++d) {
      number(fields[f++], b.peak_t[d]);
      number(fields[f++], b.slew_t_per_s[d]);
      number(fields[f++], b.ramp_factor[d]);
    }
    for (std::size_t o = 0; o < h.offset_names.size(); ++o) number(fields[f++], b.offset_mean_t[o]);
    result.blocks.push_back(b);
  }
  if (!have_columns) throw std::runtime_error("field trace '" + file.string() + "' has no column line");
  return result;
}

}  // namespace mpi::hil
