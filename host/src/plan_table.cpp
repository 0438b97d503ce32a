#include "plan_table.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mpi::host {

namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string range_text(double lo, double hi) { return "[" + number_text(lo) + ", " + number_text(hi) + "]"; }

std::string a_kind(config::Quantity kind) {
  const std::string name = config::describe(kind);
  const bool vowel = !name.empty() && std::string_view("aeiou").find(name.front()) != std::string_view::npos;
  return (vowel ? "an " : "a ") + name;
}

std::string how_many(std::size_t n) {
  static constexpr std::array<const char*, 4> kWords{"no", "one", "two", "three"};
  return n < kWords.size() ? kWords[n] : std::to_string(n);
}

}  // namespace

std::string read_plan_file(const std::filesystem::path& file, const std::string& what, RaiseError raise) {
  std::ifstream in(file, std::ios::binary);
  if (!in) raise(file.string() + ": cannot read the " + what);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) raise(file.string() + ": cannot read the " + what);
  return text.str();
}

toml::table parse_plan_toml(std::string_view text, const std::string& file, RaiseError raise) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << file << ": line " << e.source().begin.line << " col " << e.source().begin.column << ": " << e.description();
    raise(msg.str());
  }
  return {};
}

void only_top_level(const toml::table& root, const std::string& file, std::initializer_list<std::string_view> known,
                    const std::string& contents, RaiseError raise) {
  for (const auto& [key, value] : root) {
    bool listed = false;
    for (const std::string_view k : known) listed = listed || key.str() == k;
    if (!listed) raise(file + ": " + std::string(key.str()) + ": unknown key (" + contents + ")");
  }
}

PlanTable::PlanTable(const toml::table* table, std::string file, std::string label, RaiseError raise)
    : table_(table), file_(std::move(file)), label_(std::move(label)), raise_(raise) {}

PlanTable::PlanTable(const toml::table& root, std::string file, const std::string& name, RaiseError raise, bool required)
    : PlanTable(nullptr, std::move(file), "[" + name + "]", raise) {
  const toml::node* node = root.get(name);
  if (node == nullptr) {
    if (required) raise_(file_ + ": " + label_ + ": missing table");
    return;
  }
  table_ = node->as_table();
  if (table_ == nullptr) raise_(file_ + ": " + label_ + ": must be a table");
}

PlanTable PlanTable::entry(const toml::table& table, std::string file, std::string label, RaiseError raise) {
  return PlanTable(&table, std::move(file), std::move(label), raise);
}

const toml::node* PlanTable::get(std::string_view key) const { return table_ == nullptr ? nullptr : table_->get(key); }

void PlanTable::add_label(const std::string& name) { label_ += " (" + name + ")"; }

void PlanTable::only(std::initializer_list<std::string_view> known) const {
  if (table_ == nullptr) return;
  for (const auto& [key, value] : *table_) {
    bool listed = false;
    std::string allowed;
    for (const std::string_view k : known) {
      listed = listed || key.str() == k;
      allowed += (allowed.empty() ? "" : ", ") + std::string(k);
    }
    if (!listed) fail(std::string(key.str()), "unknown key (allowed: " + allowed + ")");
  }
}

void PlanTable::fail(const std::string& key, const std::string& why) const {
  raise_(file_ + ": " + label_ + " " + key + ": " + why);
  std::abort();  // a RaiseError always throws
}

void PlanTable::fail_value(const std::string& key, const std::string& text, const std::string& why) const {
  fail(key + " = \"" + text + "\"", why);
}

std::optional<std::string> PlanTable::optional_text(const std::string& key) const {
  const toml::node* node = get(key);
  if (node == nullptr) return std::nullopt;
  const std::optional<std::string> v = node->value_exact<std::string>();
  if (!v) fail(key, "must be a string");
  return v;
}

std::string PlanTable::text(const std::string& key, const std::string& fallback) const { return optional_text(key).value_or(fallback); }

std::string PlanTable::required_text(const std::string& key) const {
  const std::optional<std::string> v = optional_text(key);
  if (!v) fail(key, "missing");
  return *v;
}

bool PlanTable::flag(const std::string& key, bool fallback) const {
  const toml::node* node = get(key);
  if (node == nullptr) return fallback;
  const std::optional<bool> v = node->value_exact<bool>();
  if (!v) fail(key, "must be true or false");
  return *v;
}

std::uint32_t PlanTable::whole(const std::string& key, const toml::node& node, std::uint32_t lo, std::uint32_t hi) const {
  const std::optional<std::int64_t> v = node.value_exact<std::int64_t>();
  if (!v) fail(key, "must be an integer");
  if (*v < lo || *v > hi) {
    fail(key, "= " + std::to_string(*v) + " is outside the allowed range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<std::uint32_t>(*v);
}

std::uint32_t PlanTable::count(const std::string& key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi) const {
  const toml::node* node = get(key);
  return node == nullptr ? fallback : whole(key, *node, lo, hi);
}

std::array<std::uint32_t, 3> PlanTable::counts3(const std::string& key, std::uint32_t lo, std::uint32_t hi) const {
  const toml::node* node = get(key);
  if (node == nullptr) fail(key, "missing");
  const toml::array* a = node->as_array();
  if (a == nullptr || a->size() != 3) fail(key, "must be three whole numbers, x y z (e.g. [9, 9, 1])");
  std::array<std::uint32_t, 3> out{};
  for (std::size_t k = 0; k < 3; ++k) out[k] = whole(key + "[" + std::to_string(k) + "]", *a->get(k), lo, hi);
  return out;
}

double PlanTable::in_range(const std::string& key, const toml::node& node, double lo, double hi, bool array_entry) const {
  const std::optional<double> v = node.value<double>();
  if (!v) fail(key, array_entry ? "must be a non-empty array of numbers" : "must be a number");
  if (!std::isfinite(*v) || *v < lo || *v > hi) {
    fail(key, (array_entry ? "entry " : "= ") + number_text(*v) + " is outside the allowed range " + range_text(lo, hi));
  }
  return *v;
}

double PlanTable::number(const std::string& key, double fallback, double lo, double hi) const {
  const toml::node* node = get(key);
  return node == nullptr ? fallback : in_range(key, *node, lo, hi, false);
}

double PlanTable::required_number(const std::string& key, double lo, double hi) const {
  if (!has(key)) fail(key, "missing");
  return number(key, 0.0, lo, hi);
}

std::vector<double> PlanTable::numbers(const std::string& key, double lo, double hi) const {
  std::vector<double> out;
  const toml::node* node = get(key);
  if (node == nullptr) return out;
  const toml::array* array = node->as_array();
  if (array == nullptr || array->empty()) fail(key, "must be a non-empty array of numbers");
  for (const toml::node& item : *array) out.push_back(in_range(key, item, lo, hi, true));
  return out;
}

std::vector<std::pair<std::string, double>> PlanTable::named_numbers(const std::string& key, double lo, double hi) const {
  std::vector<std::pair<std::string, double>> out;
  const toml::node* node = get(key);
  if (node == nullptr) return out;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(key, "must be a table of numbers per drive channel name, e.g. { x = 0.0, y = 1.57 }");
  for (const auto& [name, value] : *table) {
    out.emplace_back(std::string(name.str()), in_range(key + "." + std::string(name.str()), value, lo, hi, false));
  }
  return out;
}

double PlanTable::value_of(const std::string& key, const toml::node& node, config::Quantity kind, double lo, double hi) const {
  const std::optional<std::string> text = node.value_exact<std::string>();
  if (!text) {
    if (kind == config::Quantity::dimensionless && node.value<double>()) return in_range(key, node, lo, hi, false);
    fail(key, "must be a value with its unit in quotes, e.g. \"" + config::format_quantity(hi, kind) + "\": " + a_kind(kind));
  }
  double v = 0.0;
  try {
    v = config::parse_quantity(*text, kind);
  } catch (const config::UnitError& e) {
    fail_value(key, *text, e.what());
  }
  if (!(v >= lo && v <= hi)) {
    fail_value(key, *text, "outside the allowed range " + config::format_quantity(lo, kind) + " to " + config::format_quantity(hi, kind));
  }
  return v;
}

bool PlanTable::older_given(const std::string& key, const OlderKey& older, const std::string& what) const {
  if (older.key.empty() || !has(older.key)) return false;
  if (has(key)) fail(older.key, "give " + key + " (" + what + ") or the older " + older.key + ", not both");
  return true;
}

double PlanTable::quantity(const std::string& key, config::Quantity kind, double fallback, double lo, double hi, const OlderKey& older) const {
  if (older_given(key, older, "a value with its unit")) {
    return number(older.key, fallback / older.to_si, lo / older.to_si, hi / older.to_si) * older.to_si;
  }
  return optional_quantity(key, kind, lo, hi).value_or(fallback);
}

double PlanTable::required_quantity(const std::string& key, config::Quantity kind, double lo, double hi, const std::string& example,
                                    const OlderKey& older) const {
  if (!has(key) && (older.key.empty() || !has(older.key))) fail(key, "missing (e.g. " + key + " = \"" + example + "\")");
  return quantity(key, kind, 0.0, lo, hi, older);
}

std::optional<double> PlanTable::optional_quantity(const std::string& key, config::Quantity kind, double lo, double hi) const {
  const toml::node* node = get(key);
  if (node == nullptr) return std::nullopt;
  return value_of(key, *node, kind, lo, hi);
}

std::vector<double> PlanTable::quantities(const std::string& key, config::Quantity kind, double lo, double hi, std::size_t size,
                                          const std::string& example, const OlderKey& older) const {
  if (older_given(key, older, "values with their units")) {
    std::vector<double> out = numbers(older.key, lo / older.to_si, hi / older.to_si);
    for (double& v : out) v *= older.to_si;
    return out;
  }
  std::vector<double> out;
  const toml::node* node = get(key);
  if (node == nullptr) return out;
  const toml::array* array = node->as_array();
  if (size == 0 && (array == nullptr || array->empty())) fail(key, "must be a non-empty array of values with units, e.g. " + example);
  if (size != 0 && (array == nullptr || array->size() != size)) fail(key, "must be " + how_many(size) + " values with units, e.g. " + example);
  for (std::size_t i = 0; i < array->size(); ++i) out.push_back(value_of(key + "[" + std::to_string(i) + "]", *array->get(i), kind, lo, hi));
  return out;
}

std::vector<std::pair<std::string, double>> PlanTable::named_angles(const std::string& key, const std::string& older) const {
  if (older_given(key, {older, 1.0}, "angles with their units")) return named_numbers(older, -100.0, 100.0);
  std::vector<std::pair<std::string, double>> out;
  const toml::node* node = get(key);
  if (node == nullptr) return out;
  const toml::table* table = node->as_table();
  if (table == nullptr) fail(key, "must be a table of angles per drive channel name, e.g. { x = \"0 deg\", y = \"90 deg\" }");
  for (const auto& [name, value] : *table) {
    out.emplace_back(std::string(name.str()), value_of(key + "." + std::string(name.str()), value, config::Quantity::angle, -100.0, 100.0));
  }
  return out;
}

}  // namespace mpi::host
