#include "toml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace mpi::config::detail {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0U : 1U)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string a_kind(Quantity kind) {
  const std::string name = describe(kind);
  const bool vowel = !name.empty() && std::string_view("aeiou").find(name.front()) != std::string_view::npos;
  return (vowel ? "an " : "a ") + name;
}

}  // namespace

std::string read_text_file(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    throw ConfigError(file.string() + ": cannot read: no such file");
  }
  if (std::filesystem::is_directory(file, error)) {
    throw ConfigError(file.string() + ": cannot read: it is a directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file.string() + ": cannot read: cannot open the file");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw ConfigError(file.string() + ": cannot read: read error");
  return content.str();
}

toml::table parse_document(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    std::ostringstream message;
    message << source << ":" << where.line << ":" << where.column << ": not valid TOML: " << e.description();
    throw ConfigError(message.str());
  }
}

std::string node_text(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  std::ostringstream out;
  node.visit([&out](const auto& value) { out << value; });
  return out.str();
}

TableReader::TableReader(const toml::table& table, std::string source, std::string section, std::string key_prefix)
    : table_(&table),
      source_(std::move(source)),
      section_(std::move(section)),
      key_prefix_(std::move(key_prefix)),
      known_(std::make_shared<std::set<std::string, std::less<>>>()) {}

void TableReader::set_label(std::string_view label) {
  if (!label.empty()) section_ += " (" + std::string(label) + ")";
}

std::string TableReader::where(std::string_view key) const {
  std::string out = section_;
  if (!out.empty()) out += " ";
  out += key_prefix_;
  out += key;
  return out;
}

void TableReader::fail(std::string_view key, std::string_view why) const {
  throw ConfigError(source_ + ": " + where(key) + ": " + std::string(why));
}

void TableReader::fail_missing(std::string_view key, std::string_view why) const {
  for (const auto& [present, value] : *table_) {
    if (known_->contains(present.str())) continue;
    if (edit_distance(present.str(), key) <= 2) fail(present.str(), "unknown key (did you mean '" + std::string(key) + "'?)");
  }
  fail(key, why);
}

void TableReader::fail_value(std::string_view key, std::string_view why) const {
  fail(key, std::string(why) + ", got '" + text_of(key) + "'");
}

std::string TableReader::text_of(std::string_view key) const {
  const toml::node* n = table_->get(key);
  return n == nullptr ? std::string() : node_text(*n);
}

const toml::node* TableReader::node(std::string_view key) {
  known_->emplace(key);
  return table_->get(key);
}

bool TableReader::has(std::string_view key) { return node(key) != nullptr; }

void TableReader::ignore(std::string_view key) { known_->emplace(key); }

std::vector<std::string> TableReader::keys() {
  std::vector<std::string> out;
  for (const auto& [key, value] : *table_) {
    out.emplace_back(key.str());
    known_->emplace(key.str());
  }
  return out;
}

std::optional<std::string> TableReader::optional_string(std::string_view key) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  const auto* s = n->as_string();
  if (s == nullptr) fail_value(key, "expected a string in quotes");
  return s->get();
}

std::string TableReader::string(std::string_view key, std::string fallback) {
  return optional_string(key).value_or(std::move(fallback));
}

std::string TableReader::required_string(std::string_view key) {
  auto value = optional_string(key);
  if (!value) fail_missing(key, "missing (a string is required)");
  return *value;
}

bool TableReader::boolean(std::string_view key, bool fallback) {
  const toml::node* n = node(key);
  if (n == nullptr) return fallback;
  const auto* b = n->as_boolean();
  if (b == nullptr) fail_value(key, "expected true or false");
  return b->get();
}

std::optional<std::int64_t> TableReader::optional_integer(std::string_view key, std::int64_t lo, std::int64_t hi) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  const auto* i = n->as_integer();
  if (i == nullptr) fail_value(key, "expected a whole number");
  const std::int64_t value = i->get();
  if (value < lo) fail(key, "must be at least " + std::to_string(lo) + ", got " + std::to_string(value));
  if (value > hi) fail(key, "must be at most " + std::to_string(hi) + ", got " + std::to_string(value));
  return value;
}

std::uint32_t TableReader::uint32(std::string_view key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi) {
  const auto value = optional_integer(key, lo, hi);
  return value ? static_cast<std::uint32_t>(*value) : fallback;
}

std::uint32_t TableReader::required_uint32(std::string_view key, std::uint32_t lo, std::uint32_t hi) {
  const auto value = optional_integer(key, lo, hi);
  if (!value) fail_missing(key, "missing (a whole number is required)");
  return static_cast<std::uint32_t>(*value);
}

std::array<std::uint32_t, 3> TableReader::uint3(std::string_view key, std::array<std::uint32_t, 3> fallback,
                                                std::uint32_t lo, std::uint32_t hi) {
  const toml::node* n = node(key);
  if (n == nullptr) return fallback;
  const auto* array = n->as_array();
  if (array == nullptr || array->size() != 3) fail_value(key, "expected three whole numbers [nx, ny, nz]");
  std::array<std::uint32_t, 3> out{};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto* v = array->get(i)->as_integer();
    if (v == nullptr) fail_value(key, "expected three whole numbers [nx, ny, nz]");
    const std::int64_t value = v->get();
    const std::string element = std::string(key) + "[" + std::to_string(i) + "]";
    if (value < lo) fail(element, "must be at least " + std::to_string(lo) + ", got " + std::to_string(value));
    if (value > hi) fail(element, "must be at most " + std::to_string(hi) + ", got " + std::to_string(value));
    out[i] = static_cast<std::uint32_t>(value);
  }
  return out;
}

double TableReader::to_quantity(std::string_view key, const toml::node& n, Quantity kind) const {
  if (const auto* s = n.as_string()) {
    try {
      return parse_quantity(s->get(), kind);
    } catch (const UnitError& e) {
      fail(key, e.what());
    }
  }
  if (n.is_number()) {
    const double value = n.value<double>().value_or(std::numeric_limits<double>::quiet_NaN());
    if (kind == Quantity::dimensionless) {
      if (!std::isfinite(value)) fail(key, "expected a finite number, got '" + node_text(n) + "'");
      return value;
    }
    fail(key, "expected " + a_kind(kind) + " with its unit, got '" + node_text(n) + "'");
  }
  fail(key, "expected " + a_kind(kind) + " written as a string with its unit, got '" + node_text(n) + "'");
}

std::optional<double> TableReader::optional_quantity(std::string_view key, Quantity kind) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  return to_quantity(key, *n, kind);
}

double TableReader::quantity(std::string_view key, Quantity kind, double fallback) {
  return optional_quantity(key, kind).value_or(fallback);
}

double TableReader::required_quantity(std::string_view key, Quantity kind) {
  const auto value = optional_quantity(key, kind);
  if (!value) fail_missing(key, "missing (expected " + describe(kind) + ")");
  return *value;
}

std::optional<Vec3> TableReader::optional_quantity3(std::string_view key, Quantity kind) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  const auto* array = n->as_array();
  if (array == nullptr || array->size() != 3) {
    fail_value(key, "expected three values [x, y, z] of " + describe(kind));
  }
  Vec3 out{};
  for (std::size_t i = 0; i < 3; ++i) {
    out[i] = to_quantity(std::string(key) + "[" + std::to_string(i) + "]", *array->get(i), kind);
  }
  return out;
}

Vec3 TableReader::quantity3(std::string_view key, Quantity kind, Vec3 fallback) {
  return optional_quantity3(key, kind).value_or(fallback);
}

std::optional<std::array<Vec3, 3>> TableReader::optional_quantity_matrix(std::string_view key, Quantity kind) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  const std::string expected = "expected three rows of three values of " + describe(kind);
  const auto* rows = n->as_array();
  if (rows == nullptr || rows->size() != 3) fail_value(key, expected);
  std::array<Vec3, 3> out{};
  for (std::size_t r = 0; r < 3; ++r) {
    const auto* row = rows->get(r)->as_array();
    if (row == nullptr || row->size() != 3) fail_value(key, expected);
    for (std::size_t c = 0; c < 3; ++c) {
      out[r][c] = to_quantity(std::string(key) + "[" + std::to_string(r) + "][" + std::to_string(c) + "]",
                              *row->get(c), kind);
    }
  }
  return out;
}

std::vector<double> TableReader::quantity_list(std::string_view key, Quantity kind) {
  std::vector<double> out;
  const toml::node* n = node(key);
  if (n == nullptr) return out;
  const auto* array = n->as_array();
  if (array == nullptr) fail_value(key, "expected an array of " + describe(kind));
  for (std::size_t i = 0; i < array->size(); ++i) {
    out.push_back(to_quantity(std::string(key) + "[" + std::to_string(i) + "]", *array->get(i), kind));
  }
  return out;
}

Vec3 TableReader::to_direction(std::string_view key, const toml::node& n) const {
  constexpr std::string_view kExpected = "expected \"x\", \"y\", \"z\" (optionally with a sign) or [a, b, c]";
  Vec3 v{};
  if (const auto* s = n.as_string()) {
    std::string_view text = s->get();
    double sign = 1.0;
    if (text.starts_with('-') || text.starts_with('+')) {
      sign = text.front() == '-' ? -1.0 : 1.0;
      text.remove_prefix(1);
    }
    if (text == "x") {
      v = {sign, 0.0, 0.0};
    } else if (text == "y") {
      v = {0.0, sign, 0.0};
    } else if (text == "z") {
      v = {0.0, 0.0, sign};
    } else {
      fail(key, std::string(kExpected) + ", got '" + node_text(n) + "'");
    }
    return v;
  }
  const auto* array = n.as_array();
  if (array == nullptr || array->size() != 3) fail(key, std::string(kExpected) + ", got '" + node_text(n) + "'");
  for (std::size_t i = 0; i < 3; ++i) {
    const toml::node* element = array->get(i);
    if (!element->is_number()) fail(key, std::string(kExpected) + ", got '" + node_text(n) + "'");
    v[i] = element->value<double>().value_or(0.0);
    if (!std::isfinite(v[i])) fail(key, "components must be finite, got '" + node_text(n) + "'");
  }
  const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (!(norm > 0.0)) fail(key, "a direction cannot be the zero vector, got '" + node_text(n) + "'");
  for (double& c : v) c /= norm;
  return v;
}

Vec3 TableReader::direction(std::string_view key, Vec3 fallback) {
  const toml::node* n = node(key);
  if (n == nullptr) return fallback;
  return to_direction(key, *n);
}

std::vector<Vec3> TableReader::directions(std::string_view key) {
  const toml::node* n = node(key);
  if (n == nullptr) fail_missing(key, "missing (expected at least one direction, e.g. [[1, 0, 0]])");
  const auto* array = n->as_array();
  if (array == nullptr) fail_value(key, "expected an array of directions");
  if (array->empty()) fail(key, "expected at least one direction, got none");
  std::vector<Vec3> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    out.push_back(to_direction(std::string(key) + "[" + std::to_string(i) + "]", *array->get(i)));
  }
  return out;
}

std::optional<TableReader> TableReader::sub_table(std::string_view key, std::string section) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  const auto* t = n->as_table();
  if (t == nullptr) fail_value(key, "expected a table " + section);
  return TableReader(*t, source_, std::move(section));
}

std::optional<TableReader> TableReader::inline_table(std::string_view key) {
  const toml::node* n = node(key);
  if (n == nullptr) return std::nullopt;
  const auto* t = n->as_table();
  if (t == nullptr) fail_value(key, "expected a table { name = value, ... }");
  return TableReader(*t, source_, section_, key_prefix_ + std::string(key) + ".");
}

std::vector<TableReader> TableReader::table_array(std::string_view key, const std::string& section_base) {
  std::vector<TableReader> out;
  const toml::node* n = node(key);
  if (n == nullptr) return out;
  const auto* array = n->as_array();
  if (array != nullptr && array->empty()) return out;
  if (array == nullptr || !array->is_array_of_tables()) {
    fail(key, "expected an array of tables (" + section_base + " entries)");
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    out.emplace_back(*array->get(i)->as_table(), source_, section_base + " #" + std::to_string(i + 1));
  }
  return out;
}

void TableReader::finish() const {
  for (const auto& [key, value] : *table_) {
    if (known_->contains(key.str())) continue;
    std::string why = "unknown key";
    std::string closest;
    std::size_t best = 3;
    for (const std::string& candidate : *known_) {
      const std::size_t d = edit_distance(key.str(), candidate);
      if (d < best) {
        best = d;
        closest = candidate;
      }
    }
    if (!closest.empty()) {
      why += " (did you mean '" + closest + "'?)";
    } else if (!known_->empty()) {
      why += " (expected one of:";
      bool first = true;
      for (const std::string& candidate : *known_) {
        why += first ? " " : ", ";
        why += candidate;
        first = false;
      }
      why += ")";
    }
    fail(key.str(), why);
  }
}

double TableReader::positive_quantity(std::string_view key, Quantity kind, std::optional<double> fallback) {
  const auto value = optional_quantity(key, kind);
  if (!value) {
    if (!fallback) fail_missing(key, "missing (expected " + describe(kind) + ")");
    return *fallback;
  }
  if (!(*value > 0.0)) fail_value(key, "must be positive");
  return *value;
}

}  // namespace mpi::config::detail
