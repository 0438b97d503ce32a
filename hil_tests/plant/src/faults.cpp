#include "mpi/hil/faults.hpp"

#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mpi::hil {

namespace {

struct KindName {
  FaultKind kind;
  std::string_view name;
};
constexpr KindName kKinds[] = {
    {FaultKind::amplifier_dropout, "amplifier_dropout"}, {FaultKind::over_temperature, "over_temperature"},
    {FaultKind::adc_saturation, "adc_saturation"},       {FaultKind::clock_glitch, "clock_glitch"},
    {FaultKind::stuck_pointer, "stuck_pointer"},         {FaultKind::interlock, "interlock"},
    {FaultKind::instant_stop, "instant_stop"},           {FaultKind::sample_holder, "sample_holder"},
};

bool kind_from_name(std::string_view name, FaultKind& kind) noexcept {
  for (const auto& k : kKinds) {
    if (k.name == name) {
      kind = k.kind;
      return true;
    }
  }
  return false;
}

std::string kind_list() {
  std::string out;
  for (const auto& k : kKinds) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

// Keys each kind takes besides kind and at.
std::set<std::string> keys_of(FaultKind kind) {
  switch (kind) {
    case FaultKind::amplifier_dropout: return {"channel", "duration"};
    case FaultKind::over_temperature: return {"channel", "sensor", "temperature"};
    case FaultKind::adc_saturation: return {"channel", "duration"};
    case FaultKind::clock_glitch: return {"samples"};
    case FaultKind::stuck_pointer: return {"duration"};
    case FaultKind::interlock:
    case FaultKind::instant_stop:
    case FaultKind::sample_holder: return {"state"};
  }
  return {};
}

class FaultReader {
 public:
  FaultReader(const toml::table& table, std::string where) : table_(table), where_(std::move(where)) {}

  [[noreturn]] void fail(std::string_view key, const std::string& why) const {
    throw config::ConfigError(where_ + (key.empty() ? "" : " " + std::string(key)) + ": " + why);
  }

  [[nodiscard]] const toml::node* find(std::string_view key) const { return table_.get(key); }

  [[nodiscard]] std::string string(std::string_view key) const {
    const toml::node* node = find(key);
    if (node == nullptr) fail(key, "missing");
    const auto* s = node->as_string();
    if (s == nullptr) fail(key, "expected a string");
    return s->get();
  }

  [[nodiscard]] double quantity(std::string_view key, config::Quantity kind) const {
    const std::string text = string(key);
    try {
      return config::parse_quantity(text, kind);
    } catch (const std::exception& e) {
      fail(key, std::string(e.what()));
    }
  }

 private:
  const toml::table& table_;
  std::string where_;
};

Fault read_fault(const toml::table& table, const std::string& where_base) {
  FaultReader head(table, where_base);
  const std::string kind_name = head.string("kind");
  Fault fault;
  if (!kind_from_name(kind_name, fault.kind)) head.fail("kind", "unknown fault kind '" + kind_name + "' (one of " + kind_list() + ")");
  const FaultReader r(table, where_base + " (" + kind_name + ")");
  const std::set<std::string> allowed = keys_of(fault.kind);
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    if (k != "kind" && k != "at" && allowed.count(k) == 0) r.fail(k, "unknown key for this kind of fault");
  }
  fault.at_s = r.quantity("at", config::Quantity::time);
  if (!(fault.at_s >= 0.0)) r.fail("at", "must not be negative");
  if (r.find("duration") != nullptr) {
    fault.duration_s = r.quantity("duration", config::Quantity::time);
    if (!(fault.duration_s > 0.0)) r.fail("duration", "must be positive");
  }
  switch (fault.kind) {
    case FaultKind::amplifier_dropout:
      fault.channel = r.string("channel");
      break;
    case FaultKind::adc_saturation:
      fault.channel = r.string("channel");
      if (fault.duration_s <= 0.0) r.fail("duration", "missing");
      break;
    case FaultKind::stuck_pointer:
      if (fault.duration_s <= 0.0) r.fail("duration", "missing");
      break;
    case FaultKind::over_temperature:
      if ((r.find("channel") == nullptr) == (r.find("sensor") == nullptr)) r.fail("channel", "give exactly one of channel (a coil) or sensor");
      if (r.find("channel") != nullptr) fault.channel = r.string("channel");
      if (r.find("sensor") != nullptr) fault.sensor = r.string("sensor");
      fault.temperature_k = r.quantity("temperature", config::Quantity::temperature);
      break;
    case FaultKind::clock_glitch: {
      const toml::node* node = r.find("samples");
      if (node == nullptr) r.fail("samples", "missing");
      const auto* value = node->as_integer();
      if (value == nullptr) r.fail("samples", "expected an integer");
      if (value->get() < 1 || value->get() > 1'000'000'000) r.fail("samples", "must be in [1, 1e9], got " + std::to_string(value->get()));
      fault.samples = static_cast<std::uint32_t>(value->get());
      break;
    }
    case FaultKind::interlock:
    case FaultKind::instant_stop: {
      const std::string state = r.string("state");
      const bool lock = fault.kind == FaultKind::interlock;
      if (state == (lock ? "open" : "press")) fault.engage = true;
      else if (state == (lock ? "close" : "release")) fault.engage = false;
      else r.fail("state", std::string("expected ") + (lock ? "\"open\" or \"close\"" : "\"press\" or \"release\"") + ", got '" + state + "'");
      break;
    }
    case FaultKind::sample_holder: {
      const std::string state = r.string("state");
      if (state == "out") fault.sample_in = false;
      else if (state == "in") fault.sample_in = true;
      else r.fail("state", "expected \"out\" or \"in\", got '" + state + "'");
      break;
    }
  }
  return fault;
}

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

std::string join(const std::vector<std::string>& words, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < words.size(); ++i) out += (i == from ? "" : " ") + words[i];
  return out;
}

double command_quantity(const std::vector<std::string>& words, std::size_t from, config::Quantity kind, const char* what) {
  if (from >= words.size()) throw std::invalid_argument(std::string("missing ") + what);
  try {
    return config::parse_quantity(join(words, from), kind);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string(what) + ": " + e.what());
  }
}

}  // namespace

std::string_view to_string(FaultKind kind) noexcept {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "?";
}

std::vector<Fault> parse_faults(std::string_view toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw config::ConfigError(source + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": not valid TOML: " +
                              std::string(e.description()));
  }
  std::vector<Fault> faults;
  for (const auto& [key, node] : root) {
    if (key.str() != "fault") throw config::ConfigError(source + ": " + std::string(key.str()) + ": unknown key (a faults file holds [[fault]] tables)");
  }
  const toml::node* list = root.get("fault");
  if (list == nullptr) return faults;
  const toml::array* array = list->as_array();
  if (array == nullptr) throw config::ConfigError(source + ": fault: expected an array of tables [[fault]]");
  std::size_t index = 0;
  for (const toml::node& item : *array) {
    ++index;
    const std::string where = source + ": [[fault]] #" + std::to_string(index);
    const toml::table* table = item.as_table();
    if (table == nullptr) throw config::ConfigError(where + ": expected a table");
    faults.push_back(read_fault(*table, where));
  }
  return faults;
}

std::vector<Fault> load_faults(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config::ConfigError(file.string() + ": cannot open the faults file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_faults(text.str(), file.string());
}

Fault parse_control_command(std::string_view line) {
  const std::vector<std::string> words = split_words(line);
  if (words.empty()) throw std::invalid_argument("empty command");
  Fault fault;
  if (!kind_from_name(words[0], fault.kind)) throw std::invalid_argument("unknown command '" + words[0] + "' (one of " + kind_list() + ")");
  const auto need = [&](std::size_t count, const char* usage) {
    if (words.size() < count) throw std::invalid_argument(words[0] + ": usage: " + usage);
  };
  switch (fault.kind) {
    case FaultKind::amplifier_dropout:
      need(2, "amplifier_dropout CHANNEL [DURATION]");
      fault.channel = words[1];
      if (words.size() > 2) fault.duration_s = command_quantity(words, 2, config::Quantity::time, "duration");
      break;
    case FaultKind::over_temperature:
      need(3, "over_temperature COIL TEMPERATURE");
      fault.channel = words[1];
      fault.temperature_k = command_quantity(words, 2, config::Quantity::temperature, "temperature");
      break;
    case FaultKind::adc_saturation:
      need(3, "adc_saturation CHANNEL DURATION");
      fault.channel = words[1];
      fault.duration_s = command_quantity(words, 2, config::Quantity::time, "duration");
      break;
    case FaultKind::clock_glitch: {
      need(2, "clock_glitch SAMPLES");
      if (words.size() != 2) throw std::invalid_argument("clock_glitch: usage: clock_glitch SAMPLES");
      std::uint32_t samples = 0;
      const auto* end = words[1].data() + words[1].size();
      const auto [ptr, ec] = std::from_chars(words[1].data(), end, samples);
      if (ec != std::errc{} || ptr != end || samples == 0) throw std::invalid_argument("clock_glitch: expected a positive number of samples, got '" + words[1] + "'");
      fault.samples = samples;
      break;
    }
    case FaultKind::stuck_pointer:
      need(2, "stuck_pointer DURATION");
      fault.duration_s = command_quantity(words, 1, config::Quantity::time, "duration");
      break;
    case FaultKind::interlock:
    case FaultKind::instant_stop: {
      const bool lock = fault.kind == FaultKind::interlock;
      need(2, lock ? "interlock open|close" : "instant_stop press|release");
      if (words.size() == 2 && words[1] == (lock ? "open" : "press")) fault.engage = true;
      else if (words.size() == 2 && words[1] == (lock ? "close" : "release")) fault.engage = false;
      else throw std::invalid_argument(words[0] + ": expected " + (lock ? "open or close" : "press or release") + ", got '" + join(words, 1) + "'");
      break;
    }
    case FaultKind::sample_holder:
      need(2, "sample_holder out|in");
      if (words.size() == 2 && words[1] == "out") fault.sample_in = false;
      else if (words.size() == 2 && words[1] == "in") fault.sample_in = true;
      else throw std::invalid_argument("sample_holder: expected out or in, got '" + join(words, 1) + "'");
      break;
  }
  if ((fault.kind == FaultKind::adc_saturation || fault.kind == FaultKind::stuck_pointer ||
       (fault.kind == FaultKind::amplifier_dropout && words.size() > 2)) &&
      !(fault.duration_s > 0.0)) {
    throw std::invalid_argument(words[0] + ": the duration must be positive");
  }
  return fault;
}

}  // namespace mpi::hil
