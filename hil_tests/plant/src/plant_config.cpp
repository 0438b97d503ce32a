#include "mpi/hil/plant_config.hpp"

#include "mpi/drivers/register_map.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

namespace mpi::hil {

namespace {

constexpr double kMetresPerMm = 1e-3;
constexpr double kKgPerUg = 1e-9;

// Reads keys of one TOML document and reports every problem as "source:line:col: [section] key: why".
class Reader {
 public:
  Reader(std::string_view text, std::string source) : source_(std::move(source)) {
    try {
      root_ = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      const auto& at = e.source().begin;
      throw ConfigError(source_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                        ": not valid TOML: " + std::string(e.description()));
    }
  }

  [[nodiscard]] const toml::table& root() const noexcept { return root_; }

  // A required section.
  [[nodiscard]] const toml::table& section(std::string_view name) const {
    const toml::node* node = root_.get(name);
    if (node == nullptr) throw ConfigError(source_ + ": section [" + std::string(name) + "] is missing");
    const toml::table* table = node->as_table();
    if (table == nullptr) fail(*node, "[" + std::string(name) + "]", "expected a table");
    return *table;
  }

  [[nodiscard]] const toml::table* optional_section(std::string_view name) const {
    const toml::node* node = root_.get(name);
    if (node == nullptr) return nullptr;
    const toml::table* table = node->as_table();
    if (table == nullptr) fail(*node, "[" + std::string(name) + "]", "expected a table");
    return table;
  }

  // A finite number (integer or float) in the given range. `where` names the key, e.g. "[receive] lna_gain".
  [[nodiscard]] double number(const toml::table& table, const std::string& where, std::string_view key,
                              double low, double high, bool low_open, bool high_open) const {
    const toml::node& node = required(table, where, key);
    const std::optional<double> value = node.is_number() ? node.value<double>() : std::nullopt;
    const std::string name = where + " " + std::string(key);
    if (!value) fail(node, name, std::string("expected a number, got ") + type_name(node));
    const double v = *value;
    const bool below = low_open ? !(v > low) : !(v >= low);
    const bool above = high_open ? !(v < high) : !(v <= high);
    if (!std::isfinite(v) || below || above) {
      fail(node, name, "must be in " + std::string(low_open ? "(" : "[") + format(low) + ", " + format(high) +
                           (high_open ? ")" : "]") + ", got " + format(v));
    }
    return v;
  }

  [[nodiscard]] std::int64_t integer(const toml::table& table, const std::string& where, std::string_view key,
                                     std::int64_t low, std::int64_t high) const {
    const toml::node& node = required(table, where, key);
    const std::string name = where + " " + std::string(key);
    const auto* value = node.as_integer();
    if (value == nullptr) fail(node, name, std::string("expected an integer, got ") + type_name(node));
    const std::int64_t v = value->get();
    if (v < low || v > high) fail(node, name, "must be in [" + std::to_string(low) + ", " + std::to_string(high) + "], got " + std::to_string(v));
    return v;
  }

  [[noreturn]] void fail(const toml::node& node, const std::string& name, const std::string& why) const {
    const auto& at = node.source().begin;
    throw ConfigError(source_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + name + ": " + why);
  }

  [[noreturn]] void fail_in(const std::string& name, const std::string& why) const {
    throw ConfigError(source_ + ": " + name + ": " + why);
  }

 private:
  [[nodiscard]] const toml::node& required(const toml::table& table, const std::string& where, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) throw ConfigError(source_ + ": " + where + " " + std::string(key) + ": missing");
    return *node;
  }

  static std::string type_name(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "an array";
      case toml::node_type::table: return "a table";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      default: return "a date or time";
    }
  }

  static std::string format(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  }

  std::string source_;
  toml::table root_;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

// The entries of an array of tables such as [[phantom.point]]; empty when absent.
const toml::array* table_array(const Reader& reader, const toml::table* phantom, std::string_view key) {
  if (phantom == nullptr) return nullptr;
  const toml::node* node = phantom->get(key);
  if (node == nullptr) return nullptr;
  const toml::array* array = node->as_array();
  const std::string name = "[[phantom." + std::string(key) + "]]";
  if (array == nullptr || !array->is_array_of_tables()) reader.fail(*node, name, "expected an array of tables");
  return array;
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ConfigError(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string() + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

void read_scanner_config(std::string_view toml_text, const std::string& source, PlantConfig& config) {
  const Reader reader(toml_text, source);

  const toml::table& board = reader.section("board");
  BoardConfig& b = config.board;
  b.dac_clock_hz = static_cast<std::uint32_t>(reader.integer(board, "[board]", "dac_clock_hz", 1, std::numeric_limits<std::uint32_t>::max()));
  b.adc_decimation = static_cast<std::uint32_t>(reader.integer(board, "[board]", "adc_decimation", 1, 1 << 16));
  b.adc_channels = static_cast<std::uint32_t>(reader.integer(board, "[board]", "adc_channels", 2, drivers::regmap::kMaxAdcChannels));
  b.ring_frames_log2 = static_cast<std::uint32_t>(reader.integer(board, "[board]", "ring_frames_log2", 10, 28));
  b.drive_channels = static_cast<std::uint32_t>(reader.integer(board, "[board]", "drive_channels", 1, drivers::regmap::kMaxDriveChannels));

  const toml::table& drive = reader.section("drive");
  config.tesla_per_full_scale = reader.number(drive, "[drive]", "tesla_per_full_scale", 0.0, 1.0, true, false);

  const toml::table& selection = reader.section("selection");
  config.gradient_t_per_m = reader.number(selection, "[selection]", "gradient_t_per_m", 0.0, 100.0, true, false);

  const toml::table& receive = reader.section("receive");
  ReceiveConfig& r = config.receive;
  r.coil_sensitivity_t_per_a = reader.number(receive, "[receive]", "coil_sensitivity_t_per_a", 0.0, kInf, true, true);
  r.lna_gain = reader.number(receive, "[receive]", "lna_gain", 0.0, kInf, true, true);
  r.adc_full_scale_v = reader.number(receive, "[receive]", "adc_full_scale_v", 0.0, kInf, true, true);
  r.noise_density_v_per_sqrt_hz = reader.number(receive, "[receive]", "noise_density_v_per_sqrt_hz", 0.0, kInf, false, true);
  r.feedthrough_v_per_t_per_s = reader.number(receive, "[receive]", "feedthrough_v_per_t_per_s", -kInf, kInf, true, true);
  r.reference_v_per_t = reader.number(receive, "[receive]", "reference_v_per_t", 0.0, kInf, true, true);
}

void read_plan_config(std::string_view toml_text, const std::string& source, PlantConfig& config) {
  const Reader reader(toml_text, source);

  const toml::table& tracer = reader.section("tracer");
  recon::Tracer& t = config.tracer;
  t.core_diameter_m = reader.number(tracer, "[tracer]", "core_diameter_nm", 0.0, 1000.0, true, true) * 1e-9;
  t.diameter_sigma = reader.number(tracer, "[tracer]", "diameter_sigma", 0.0, 1.0, false, false);
  t.saturation_magnetisation_a_per_m = reader.number(tracer, "[tracer]", "saturation_magnetisation_a_per_m", 0.0, 2e6, true, true);
  t.temperature_k = reader.number(tracer, "[tracer]", "temperature_k", 0.0, 1000.0, true, true);
  if (const std::string why = recon::validate(t); !why.empty()) reader.fail_in("[tracer]", why);

  config.phantom = {};
  const toml::table* phantom = reader.optional_section("phantom");
  if (const toml::array* points = table_array(reader, phantom, "point")) {
    for (std::size_t i = 0; i < points->size(); ++i) {
      const toml::table& p = *points->get(i)->as_table();
      const std::string where = "[[phantom.point]] #" + std::to_string(i + 1);
      PointSource s;
      s.x_m = reader.number(p, where, "x_mm", -1e4, 1e4, false, false) * kMetresPerMm;
      s.iron_kg = reader.number(p, where, "iron_ug", 0.0, 1e9, false, false) * kKgPerUg;
      config.phantom.points.push_back(s);
    }
  }
  if (const toml::array* lines = table_array(reader, phantom, "line")) {
    for (std::size_t i = 0; i < lines->size(); ++i) {
      const toml::table& l = *lines->get(i)->as_table();
      const std::string where = "[[phantom.line]] #" + std::to_string(i + 1);
      LineSource s;
      const double from_mm = reader.number(l, where, "from_mm", -1e4, 1e4, false, false);
      const double to_mm = reader.number(l, where, "to_mm", -1e4, 1e4, false, false);
      if (from_mm == to_mm) reader.fail(*l.get("to_mm"), where + " to_mm", "must differ from from_mm (a line needs a length)");
      s.from_m = from_mm * kMetresPerMm;
      s.to_m = to_mm * kMetresPerMm;
      s.iron_kg_per_m = reader.number(l, where, "iron_ug_per_mm", 0.0, 1e9, false, false) * kKgPerUg / kMetresPerMm;
      config.phantom.lines.push_back(s);
    }
  }

  config.seed = 1;
  if (const toml::table* simulation = reader.optional_section("simulation"); simulation != nullptr && simulation->contains("seed")) {
    config.seed = static_cast<std::uint64_t>(reader.integer(*simulation, "[simulation]", "seed", 0, std::numeric_limits<std::int64_t>::max()));
  }
}

PlantConfig load_plant_config(const std::filesystem::path& scanner_file, const std::filesystem::path& plan_file) {
  PlantConfig config;
  read_scanner_config(read_file(scanner_file), scanner_file.string(), config);
  read_plan_config(read_file(plan_file), plan_file.string(), config);
  return config;
}

}  // namespace mpi::hil
