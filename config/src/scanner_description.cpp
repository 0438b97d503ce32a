#include "mpi/config/scanner_description.hpp"

#include "toml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

namespace mpi::config {

namespace {

using detail::TableReader;

// Board limits (the register map's kMaxDriveChannels, kMaxOffsetChannels, kMaxAdcChannels,
// kMaxTemperatureSensors; config depends on no other layer, so they are repeated here).
constexpr std::size_t kMaxDrive = 4;
constexpr std::size_t kMaxOffset = 4;
constexpr std::size_t kMaxAdc = 8;
constexpr std::size_t kMaxSensors = 8;

constexpr double kMaxwellTolerance = 1e-9;
constexpr double kSampleRateTolerance = 1e-9;

double non_negative(TableReader& r, std::string_view key, Quantity kind, double fallback) {
  const auto value = r.optional_quantity(key, kind);
  if (!value) return fallback;
  if (*value < 0.0) r.fail_value(key, "must not be negative");
  return *value;
}

std::string names_of(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string read_name(TableReader& r, std::set<std::string>& used, std::string_view what) {
  std::string name = r.required_string("name");
  if (name.empty()) r.fail("name", "must not be empty");
  r.set_label(name);
  if (!used.insert(name).second) {
    r.fail("name", "'" + name + "' is already the name of another " + std::string(what));
  }
  return name;
}

void read_board(TableReader& root, BoardDescription& board) {
  auto t = root.sub_table("board", "[board]");
  if (!t) root.fail_missing("board", "missing table [board] (dac_clock, adc_decimation, ring_frames_log2)");
  const double clock = t->positive_quantity("dac_clock", Quantity::frequency, std::nullopt);
  if (std::fabs(clock - std::round(clock)) > 1e-6 ||
      clock > static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
    t->fail_value("dac_clock", "must be a whole number of Hz below 4.295 GHz");
  }
  board.dac_clock_hz = static_cast<std::uint32_t>(std::llround(clock));
  board.adc_decimation = t->required_uint32("adc_decimation", 1, 1U << 20);
  board.ring_frames_log2 = t->uint32("ring_frames_log2", board.ring_frames_log2, 10, 28);
  t->finish();
}

DriveChannelDescription read_drive(TableReader& r, std::set<std::string>& names) {
  DriveChannelDescription d;
  d.name = read_name(r, names, "drive or offset channel");
  if (!r.has("axis")) r.fail_missing("axis", "missing (\"x\", \"y\", \"z\" or [a, b, c])");
  d.axis = r.direction("axis", d.axis);
  d.base_clock_hz = r.positive_quantity("base_clock", Quantity::frequency, std::nullopt);
  d.divider = r.required_uint32("divider", 1, 1U << 24);
  d.dac_full_scale_v = r.positive_quantity("dac_full_scale", Quantity::voltage, d.dac_full_scale_v);
  d.amplifier_gain_a_per_v = r.positive_quantity("amplifier_gain", Quantity::transconductance, std::nullopt);
  d.amplifier_phase_rad = r.quantity("amplifier_phase", Quantity::angle, d.amplifier_phase_rad);
  d.coil_sensitivity_t_per_a = r.positive_quantity("coil_sensitivity", Quantity::sensitivity, std::nullopt);
  d.rl_time_constant_s = r.positive_quantity("rl_time_constant", Quantity::time, d.rl_time_constant_s);
  d.gain_drift_per_k = r.quantity("gain_drift", Quantity::per_kelvin, d.gain_drift_per_k);
  d.phase_drift_rad_per_k = r.quantity("phase_drift", Quantity::angle_per_kelvin, d.phase_drift_rad_per_k);
  d.heating_time_constant_s = r.positive_quantity("heating_time_constant", Quantity::time, d.heating_time_constant_s);
  d.cooling_time_constant_s = r.positive_quantity("cooling_time_constant", Quantity::time, d.cooling_time_constant_s);
  d.temperature_rise_at_limit_k =
      non_negative(r, "temperature_rise_at_limit", Quantity::temperature_rise, d.temperature_rise_at_limit_k);
  d.max_amplitude_t = r.positive_quantity("max_amplitude", Quantity::flux_density, std::nullopt);
  d.max_slew_t_per_s = non_negative(r, "max_slew", Quantity::slew_rate, d.max_slew_t_per_s);
  d.reference_v_per_t = r.positive_quantity("reference_pickup", Quantity::voltage_per_tesla, d.reference_v_per_t);
  if (r.has("harmonic_distortion")) {
    const std::vector<double> levels_db = r.quantity_list("harmonic_distortion", Quantity::decibel);
    if (levels_db.empty()) r.fail("harmonic_distortion", "expected at least one level (the 2nd harmonic's, e.g. [\"-70 dB\"])");
    if (levels_db.size() > DriveChannelDescription::kMaxDistortionHarmonics) {
      r.fail("harmonic_distortion", std::to_string(levels_db.size()) + " levels; at most " +
                                        std::to_string(DriveChannelDescription::kMaxDistortionHarmonics) +
                                        " (harmonics 2 to " +
                                        std::to_string(DriveChannelDescription::kMaxDistortionHarmonics + 1) + ")");
    }
    for (std::size_t i = 0; i < levels_db.size(); ++i) {
      if (!(levels_db[i] < 0.0)) {
        r.fail("harmonic_distortion", "level of harmonic " + std::to_string(i + 2) + " is " +
                                          format_quantity(levels_db[i], Quantity::decibel) +
                                          "; it must be below the fundamental (below 0 dB)");
      }
      d.harmonic_distortion.push_back(std::pow(10.0, levels_db[i] / 20.0));
    }
  }
  r.finish();
  return d;
}

void read_selection(TableReader& root, SelectionDescription& selection) {
  auto t = root.sub_table("selection", "[selection]");
  if (!t) root.fail_missing("selection", "missing table [selection] (topology and gradient)");
  const std::string topology = t->string("topology", "ffp");
  if (topology == "ffp") {
    selection.topology = Topology::ffp;
  } else if (topology == "ffl") {
    selection.topology = Topology::ffl;
  } else if (topology == "mps") {
    selection.topology = Topology::mps;
  } else {
    t->fail_value("topology", "expected \"ffp\", \"ffl\" or \"mps\"");
  }
  const auto diagonal = t->optional_quantity3("gradient", Quantity::gradient);
  const auto matrix = t->optional_quantity_matrix("gradient_matrix", Quantity::gradient);
  if (diagonal && matrix) t->fail("gradient_matrix", "give either gradient (a diagonal) or gradient_matrix, not both");
  const std::string key = matrix ? "gradient_matrix" : "gradient";
  Mat3 g{};
  if (diagonal) {
    for (std::size_t i = 0; i < 3; ++i) g[i][i] = (*diagonal)[i];
  } else if (matrix) {
    g = *matrix;
  } else if (selection.topology != Topology::mps) {
    t->fail_missing("gradient", "missing (e.g. gradient = [\"-1 T/m\", \"-1 T/m\", \"2 T/m\"])");
  }
  double scale = 0.0;
  for (const auto& row : g) {
    for (double v : row) scale = std::max(scale, std::fabs(v));
  }
  for (std::size_t r = 0; r < 3; ++r) {
    for (std::size_t c = r + 1; c < 3; ++c) {
      if (std::fabs(g[r][c] - g[c][r]) > kMaxwellTolerance * scale) {
        t->fail_value(key, "not symmetric: element [" + std::to_string(r) + "][" + std::to_string(c) + "] = " +
                               format_quantity(g[r][c], Quantity::gradient) + " but [" + std::to_string(c) + "][" +
                               std::to_string(r) + "] = " + format_quantity(g[c][r], Quantity::gradient) +
                               " (Maxwell: a static field in the bore has no curl)");
      }
    }
  }
  const double trace = g[0][0] + g[1][1] + g[2][2];
  if (std::fabs(trace) > kMaxwellTolerance * scale) {
    t->fail_value(key, "not trace-free: the diagonal sums to " + format_quantity(trace, Quantity::gradient) +
                           " (Maxwell: div B = 0 needs a sum of 0)");
  }
  const double det = g[0][0] * (g[1][1] * g[2][2] - g[1][2] * g[2][1]) -
                     g[0][1] * (g[1][0] * g[2][2] - g[1][2] * g[2][0]) +
                     g[0][2] * (g[1][0] * g[2][1] - g[1][1] * g[2][0]);
  const bool singular = std::fabs(det) <= 1e-9 * scale * scale * scale;
  switch (selection.topology) {
    case Topology::mps:
      if (scale != 0.0) t->fail_value(key, "a spectrometer (topology = \"mps\") has no selection field: must be zero");
      break;
    case Topology::ffp:
      if (singular) t->fail_value(key, "a field-free point needs an invertible gradient");
      break;
    case Topology::ffl:
      if (scale == 0.0 || !singular) {
        t->fail_value(key, "a field-free line needs a gradient of rank 2 (one direction without field change)");
      }
      break;
  }
  selection.gradient_t_per_m = g;
  t->finish();
}

OffsetChannelDescription read_offset(TableReader& r, std::set<std::string>& names) {
  OffsetChannelDescription o;
  o.name = read_name(r, names, "drive or offset channel");
  if (!r.has("axis")) r.fail_missing("axis", "missing (\"x\", \"y\", \"z\" or [a, b, c])");
  o.axis = r.direction("axis", o.axis);
  o.tesla_per_full_scale = r.positive_quantity("field_at_full_scale", Quantity::flux_density, std::nullopt);
  o.max_field_t = r.positive_quantity("max_field", Quantity::flux_density, std::nullopt);
  if (o.max_field_t > o.tesla_per_full_scale * (1.0 + 1e-12)) {
    r.fail_value("max_field", "is above the field at full scale " + format_quantity(o.tesla_per_full_scale,
                                                                                      Quantity::flux_density));
  }
  o.rl_time_constant_s = r.positive_quantity("rl_time_constant", Quantity::time, o.rl_time_constant_s);
  r.finish();
  return o;
}

void read_receive(TableReader& root, ScannerDescription& s) {
  auto t = root.sub_table("receive", "[receive]");
  if (!t) root.fail_missing("receive", "missing table [receive] with at least one [[receive.channel]]");
  ReceiveDescription& rx = s.receive;
  const double board_rate = s.board.sample_rate_hz();
  rx.sample_rate_hz = board_rate;
  if (const auto rate = t->optional_quantity("sample_rate", Quantity::frequency)) {
    if (std::fabs(*rate - board_rate) > kSampleRateTolerance * board_rate) {
      t->fail_value("sample_rate", "must equal [board] dac_clock / adc_decimation = " +
                                       format_quantity(board_rate, Quantity::frequency));
    }
    rx.sample_rate_hz = *rate;
  }
  rx.adc_bits = t->uint32("adc_bits", rx.adc_bits, 12, 16);
  rx.adc_full_scale_v = t->positive_quantity("adc_full_scale", Quantity::voltage, rx.adc_full_scale_v);
  std::set<std::string> names;
  for (TableReader& c : t->table_array("channel", "[[receive.channel]]")) {
    ReceiveChannelDescription ch;
    ch.name = read_name(c, names, "receive channel");
    if (!c.has("axis")) c.fail_missing("axis", "missing (\"x\", \"y\", \"z\" or [a, b, c])");
    ch.axis = c.direction("axis", ch.axis);
    ch.coil_sensitivity_t_per_a = c.positive_quantity("coil_sensitivity", Quantity::sensitivity, std::nullopt);
    ch.lna_gain = c.positive_quantity("lna_gain", Quantity::dimensionless, ch.lna_gain);
    ch.feedthrough_v_s_per_t = non_negative(c, "feedthrough", Quantity::feedthrough, ch.feedthrough_v_s_per_t);
    ch.noise_density_v_per_sqrt_hz =
        non_negative(c, "noise_density", Quantity::noise_density, ch.noise_density_v_per_sqrt_hz);
    ch.fundamental_suppression_db =
        non_negative(c, "analog_suppression", Quantity::decibel, ch.fundamental_suppression_db);
    c.finish();
    rx.channels.push_back(std::move(ch));
  }
  if (rx.channels.empty()) t->fail_missing("channel", "missing: at least one [[receive.channel]] is required");
  const std::size_t adc = rx.channels.size() + s.drive.size();
  if (adc > kMaxAdc) {
    t->fail("channel", std::to_string(rx.channels.size()) + " receive channels and " +
                           std::to_string(s.drive.size()) + " drive reference pickups need " + std::to_string(adc) +
                           " ADC channels; the board has " + std::to_string(kMaxAdc));
  }
  t->finish();
}

void read_safety(TableReader& root, SafetyDescription& safety) {
  auto t = root.sub_table("safety", "[safety]");
  if (!t) return;
  safety.ambient_temperature_k = t->positive_quantity("ambient", Quantity::temperature, safety.ambient_temperature_k);
  safety.ramp_time_s = t->positive_quantity("ramp_time", Quantity::time, safety.ramp_time_s);
  safety.watchdog_timeout_s = non_negative(*t, "watchdog_timeout", Quantity::time, safety.watchdog_timeout_s);
  safety.max_field_t = t->positive_quantity("hard_field_cap", Quantity::flux_density, safety.max_field_t);
  safety.interlock_closed_at_start = t->boolean("interlock_closed", safety.interlock_closed_at_start);
  t->finish();
}

void read_sensors(TableReader& root, ScannerDescription& s) {
  std::set<std::string> names;
  std::vector<std::string> coils;
  for (const auto& d : s.drive) coils.push_back(d.name);
  for (const auto& o : s.offset) coils.push_back(o.name);
  auto entries = root.table_array("temperature_sensor", "[[temperature_sensor]]");
  if (entries.size() > kMaxSensors) {
    root.fail("temperature_sensor", std::to_string(entries.size()) + " sensors; the board reads at most " +
                                        std::to_string(kMaxSensors));
  }
  for (TableReader& r : entries) {
    TemperatureSensorDescription sensor;
    sensor.name = read_name(r, names, "temperature sensor");
    sensor.coil = r.required_string("coil");
    if (std::find(coils.begin(), coils.end(), sensor.coil) == coils.end()) {
      r.fail_value("coil", "no drive or offset channel of that name (channels: " + names_of(coils) + ")");
    }
    sensor.limit_k = r.positive_quantity("limit", Quantity::temperature, sensor.limit_k);
    if (sensor.limit_k <= s.safety.ambient_temperature_k) {
      r.fail_value("limit", "must be above the ambient temperature " +
                                format_quantity(s.safety.ambient_temperature_k, Quantity::temperature));
    }
    r.finish();
    s.temperature_sensors.push_back(std::move(sensor));
  }
}

std::vector<double> read_steps(TableReader& steps, const std::string& key) {
  const toml::node* n = steps.node(key);
  if (n != nullptr && n->is_table()) {
    TableReader range = *steps.inline_table(key);
    const double from = range.required_quantity("from", Quantity::flux_density);
    const double to = range.required_quantity("to", Quantity::flux_density);
    const std::uint32_t count = range.required_uint32("count", 1, 1U << 20);
    if (count == 1 && from != to) range.fail("count", "a single step cannot go from one field to another");
    range.finish();
    std::vector<double> out(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      out[i] = count == 1 ? from : from + (to - from) * static_cast<double>(i) / static_cast<double>(count - 1);
    }
    return out;
  }
  std::vector<double> out = steps.quantity_list(key, Quantity::flux_density);
  if (out.empty()) steps.fail(key, "expected at least one step");
  return out;
}

SequenceDescription read_sequence(TableReader& q, std::set<std::string>& names, const ScannerDescription& s) {
  SequenceDescription seq;
  seq.name = read_name(q, names, "sequence");
  std::vector<std::string> drive_names;
  for (const auto& d : s.drive) drive_names.push_back(d.name);
  std::vector<std::string> offset_names;
  for (const auto& o : s.offset) offset_names.push_back(o.name);

  auto amplitude = q.inline_table("drive_amplitude");
  if (!amplitude) q.fail_missing("drive_amplitude", "missing (e.g. drive_amplitude = { x = \"12 mT\" })");
  seq.drive_amplitude_t.assign(s.drive.size(), 0.0);
  for (const std::string& channel : amplitude->keys()) {
    const int index = s.find_drive_channel(channel);
    if (index < 0) amplitude->fail(channel, "no drive channel of that name (channels: " + names_of(drive_names) + ")");
    const DriveChannelDescription& d = s.drive[static_cast<std::size_t>(index)];
    const double a = amplitude->required_quantity(channel, Quantity::flux_density);
    const std::string text = amplitude->text_of(channel);
    if (a < 0.0) amplitude->fail_value(channel, "must not be negative");
    if (a > d.max_amplitude_t) {
      amplitude->fail(channel, text + " is above the coil limit max_amplitude = " +
                                   format_quantity(d.max_amplitude_t, Quantity::flux_density) + " of [[drive]] " +
                                   d.name);
    }
    if (a > s.safety.max_field_t) {
      amplitude->fail(channel, text + " is above the safety limit [safety] hard_field_cap = " +
                                   format_quantity(s.safety.max_field_t, Quantity::flux_density));
    }
    const double slew = 2.0 * 3.14159265358979323846 * d.frequency_hz() * a;
    if (d.max_slew_t_per_s > 0.0 && slew > d.max_slew_t_per_s) {
      amplitude->fail(channel, text + " at " + format_quantity(d.frequency_hz(), Quantity::frequency) +
                                   " needs a slew rate of " + format_quantity(slew, Quantity::slew_rate) +
                                   ", above max_slew = " + format_quantity(d.max_slew_t_per_s, Quantity::slew_rate) +
                                   " of [[drive]] " + d.name);
    }
    seq.drive_amplitude_t[static_cast<std::size_t>(index)] = a;
  }
  amplitude->finish();
  if (std::none_of(seq.drive_amplitude_t.begin(), seq.drive_amplitude_t.end(), [](double a) { return a > 0.0; })) {
    q.fail("drive_amplitude", "drives no channel: at least one amplitude must be above zero");
  }
  seq.periods_per_frame = q.uint32("periods_per_frame", seq.periods_per_frame, 1, 1U << 24);

  if (auto steps = q.inline_table("offset_steps")) {
    std::size_t count = 0;
    std::string first;
    seq.offset_steps_t.assign(s.offset.size(), {});
    for (const std::string& channel : steps->keys()) {
      const int index = s.find_offset_channel(channel);
      if (index < 0) steps->fail(channel, "no offset channel of that name (channels: " + names_of(offset_names) + ")");
      const OffsetChannelDescription& o = s.offset[static_cast<std::size_t>(index)];
      std::vector<double> values = read_steps(*steps, channel);
      for (std::size_t k = 0; k < values.size(); ++k) {
        if (std::fabs(values[k]) > o.max_field_t * (1.0 + 1e-12)) {
          steps->fail(channel, "step " + std::to_string(k) + " of " + format_quantity(values[k], Quantity::flux_density) +
                                   " is above the channel limit max_field = " +
                                   format_quantity(o.max_field_t, Quantity::flux_density) + " of [[offset]] " + o.name);
        }
      }
      if (count != 0 && values.size() != count) {
        steps->fail(channel, std::to_string(values.size()) + " steps, but " + first + " has " + std::to_string(count) +
                                 " (every stepped channel needs the same number)");
      }
      count = values.size();
      first = channel;
      seq.offset_steps_t[static_cast<std::size_t>(index)] = std::move(values);
    }
    steps->finish();
    if (count == 0) {
      q.fail("offset_steps", "names no channel");
    }
    for (auto& values : seq.offset_steps_t) {
      if (values.empty()) values.assign(count, 0.0);
    }
    seq.step_periods = q.required_uint32("step_periods", 1, 1U << 24);
  } else if (q.has("step_periods")) {
    q.fail("step_periods", "only used with offset_steps");
  }

  try {
    (void)s.samples_per_cycle(seq);
  } catch (const ConfigError& e) {
    q.fail("drive_amplitude", e.what());
  }
  q.finish();
  return seq;
}

std::uint64_t checked_lcm(std::uint64_t a, std::uint64_t b, const std::string& sequence) {
  const std::uint64_t g = std::gcd(a, b);
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a / g, b, &out)) {
    throw ConfigError("sequence '" + sequence + "': the drive cycle is too long to count in samples");
  }
  return out;
}

}  // namespace

std::uint64_t ScannerDescription::samples_per_cycle(const SequenceDescription& sequence) const {
  // Channel d's period in ADC samples is divider * dac_clock / (adc_decimation * base_clock) = a / b (reduced);
  // the shortest common multiple of such fractions is lcm(a) / gcd(b).
  std::uint64_t lcm_numerator = 1;
  std::uint64_t gcd_denominator = 0;
  bool any = false;
  for (std::size_t i = 0; i < drive.size() && i < sequence.drive_amplitude_t.size(); ++i) {
    if (!(sequence.drive_amplitude_t[i] > 0.0)) continue;
    const DriveChannelDescription& d = drive[i];
    const double base = std::round(d.base_clock_hz);
    if (!(base >= 1.0) || std::fabs(d.base_clock_hz - base) > 1e-9 * base || base > 1.8e19) {
      throw ConfigError("sequence '" + sequence.name + "': the base clock of drive channel " + d.name +
                        " is not a whole number of Hz");
    }
    if (d.divider == 0) throw ConfigError("sequence '" + sequence.name + "': drive channel " + d.name + " has divider 0");
    if (board.adc_decimation == 0) throw ConfigError("the board's adc_decimation is 0");
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(d.divider), static_cast<std::uint64_t>(board.dac_clock_hz),
                               &a) ||
        __builtin_mul_overflow(static_cast<std::uint64_t>(board.adc_decimation), static_cast<std::uint64_t>(base),
                               &b)) {
      throw ConfigError("sequence '" + sequence.name + "': the drive cycle is too long to count in samples");
    }
    const std::uint64_t g = std::gcd(a, b);
    a /= g;
    b /= g;
    lcm_numerator = checked_lcm(lcm_numerator, a, sequence.name);
    gcd_denominator = std::gcd(gcd_denominator, b);
    any = true;
  }
  if (!any) throw ConfigError("sequence '" + sequence.name + "' drives no channel");
  if (gcd_denominator != 1) {
    throw ConfigError("sequence '" + sequence.name + "': a drive cycle lasts " + std::to_string(lcm_numerator) + "/" +
                      std::to_string(gcd_denominator) +
                      " ADC samples, not a whole number (choose dividers and clocks so that base_clock / divider "
                      "divides the sample rate a whole number of times per cycle)");
  }
  return lcm_numerator;
}

std::uint64_t ScannerDescription::samples_per_frame(const SequenceDescription& sequence) const {
  return samples_per_cycle(sequence) * sequence.periods_per_frame;
}

const SequenceDescription* ScannerDescription::find_sequence(std::string_view wanted) const noexcept {
  for (const auto& s : sequences) {
    if (s.name == wanted) return &s;
  }
  return nullptr;
}

int ScannerDescription::find_drive_channel(std::string_view wanted) const noexcept {
  for (std::size_t i = 0; i < drive.size(); ++i) {
    if (drive[i].name == wanted) return static_cast<int>(i);
  }
  return -1;
}

int ScannerDescription::find_offset_channel(std::string_view wanted) const noexcept {
  for (std::size_t i = 0; i < offset.size(); ++i) {
    if (offset[i].name == wanted) return static_cast<int>(i);
  }
  return -1;
}

ScannerDescription parse_scanner_description(std::string_view toml_text, const std::string& source) {
  const toml::table document = detail::parse_document(toml_text, source);
  TableReader root(document, source, "");
  ScannerDescription s;

  if (auto t = root.sub_table("scanner", "[scanner]")) {
    s.name = t->string("name", "");
    s.manufacturer = t->string("manufacturer", "");
    t->finish();
  }
  read_board(root, s.board);
  read_safety(root, s.safety);

  std::set<std::string> coil_names;
  auto drives = root.table_array("drive", "[[drive]]");
  if (drives.empty()) root.fail_missing("drive", "missing: at least one [[drive]] channel is required");
  if (drives.size() > kMaxDrive) {
    root.fail("drive", std::to_string(drives.size()) + " channels; the board has at most " +
                           std::to_string(kMaxDrive) + " drive channels");
  }
  for (TableReader& r : drives) s.drive.push_back(read_drive(r, coil_names));

  read_selection(root, s.selection);

  auto offsets = root.table_array("offset", "[[offset]]");
  if (offsets.size() > kMaxOffset) {
    root.fail("offset", std::to_string(offsets.size()) + " channels; the board has at most " +
                            std::to_string(kMaxOffset) + " offset channels");
  }
  for (TableReader& r : offsets) s.offset.push_back(read_offset(r, coil_names));

  read_receive(root, s);
  read_sensors(root, s);

  std::set<std::string> sequence_names;
  for (TableReader& q : root.table_array("sequence", "[[sequence]]")) {
    s.sequences.push_back(read_sequence(q, sequence_names, s));
  }
  root.finish();
  return s;
}

ScannerDescription load_scanner_description(const std::filesystem::path& file) {
  return parse_scanner_description(detail::read_text_file(file), file.string());
}

}  // namespace mpi::config
