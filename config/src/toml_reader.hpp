// Reading configuration tables with messages that name the file, the table and the key, and refusal of
// keys nobody asked for. Internal to the config library.
//
// Messages:  "FILE:LINE:COL: not valid TOML: ..."                       (syntax)
//            "FILE: [section] key: why, got 'text'"                      (a value)
//            "FILE: [[drive]] #2 (y) key: why"                           (an entry of an array of tables)
//            "FILE: [[drive]] #2 (y) dividr: unknown key (did you mean 'divider'?)"
#pragma once

#include "mpi/config/config_error.hpp"
#include "mpi/config/scanner_description.hpp"  // Vec3
#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::config::detail {

// The file's bytes, or ConfigError "FILE: cannot read: reason".
std::string read_text_file(const std::filesystem::path& file);

// Parses TOML; a syntax error becomes ConfigError "SOURCE:LINE:COL: not valid TOML: description".
toml::table parse_document(std::string_view text, const std::string& source);

// A view of one TOML table that remembers every key asked for (present or not).
class TableReader {
 public:
  // `section` is how messages name the table: "" for the document's root, "[board]", "[[drive]] #2".
  // `key_prefix` is put before keys of an inline table: "drive_amplitude.".
  TableReader(const toml::table& table, std::string source, std::string section, std::string key_prefix = {});

  // Adds " (label)" to the section of an array entry once its name is known: "[[drive]] #2 (y)".
  void set_label(std::string_view label);

  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] const std::string& section() const noexcept { return section_; }
  [[nodiscard]] const toml::table& table() const noexcept { return *table_; }
  // "[[drive]] #2 (y) divider" (or "divider" at the root).
  [[nodiscard]] std::string where(std::string_view key) const;

  [[noreturn]] void fail(std::string_view key, std::string_view why) const;
  // For a key that is required but absent: if the table holds an unknown key spelled close to it, that key
  // is named as unknown ("dividr: unknown key (did you mean 'divider'?)"); otherwise fail(key, why).
  [[noreturn]] void fail_missing(std::string_view key, std::string_view why) const;
  // fail() with ", got 'TEXT'" appended, TEXT being the value as written.
  [[noreturn]] void fail_value(std::string_view key, std::string_view why) const;
  [[nodiscard]] std::string text_of(std::string_view key) const;

  // Marks `key` as known; returns its node or nullptr.
  const toml::node* node(std::string_view key);
  bool has(std::string_view key);
  // Marks keys as known without reading them (tables that belong to another reader).
  void ignore(std::string_view key);
  // Every key present, marked as known (for inline maps keyed by channel name).
  std::vector<std::string> keys();

  std::optional<std::string> optional_string(std::string_view key);
  std::string string(std::string_view key, std::string fallback);
  std::string required_string(std::string_view key);
  bool boolean(std::string_view key, bool fallback);

  std::optional<std::int64_t> optional_integer(std::string_view key, std::int64_t lo, std::int64_t hi);
  std::uint32_t uint32(std::string_view key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi);
  std::uint32_t required_uint32(std::string_view key, std::uint32_t lo, std::uint32_t hi);
  std::array<std::uint32_t, 3> uint3(std::string_view key, std::array<std::uint32_t, 3> fallback, std::uint32_t lo,
                                     std::uint32_t hi);

  // Quantities are strings with units; a dimensionless quantity also takes a TOML number.
  std::optional<double> optional_quantity(std::string_view key, Quantity kind);
  // A quantity that must be > 0; `fallback` when absent (missing is an error without one).
  double positive_quantity(std::string_view key, Quantity kind, std::optional<double> fallback);
  double quantity(std::string_view key, Quantity kind, double fallback);
  double required_quantity(std::string_view key, Quantity kind);
  // Three quantities: ["1 mm", "0 mm", "-2 mm"].
  std::optional<Vec3> optional_quantity3(std::string_view key, Quantity kind);
  Vec3 quantity3(std::string_view key, Quantity kind, Vec3 fallback);
  // A 3x3 matrix of quantities: [["1 T/m", "0 T/m", "0 T/m"], [...], [...]] (rows).
  std::optional<std::array<Vec3, 3>> optional_quantity_matrix(std::string_view key, Quantity kind);
  // Any number of quantities: ["-9 mT", "-3 mT", ...].
  std::vector<double> quantity_list(std::string_view key, Quantity kind);

  // A unit vector: "x" | "y" | "z" | "-x" | ... | [a, b, c] (normalised; the zero vector is refused).
  Vec3 direction(std::string_view key, Vec3 fallback);
  // An array of such directions, at least one.
  std::vector<Vec3> directions(std::string_view key);

  // A sub-table [parent.key] (named `section` in messages), or nullopt.
  std::optional<TableReader> sub_table(std::string_view key, std::string section);
  // An inline table value (drive_amplitude = { x = "12 mT" }): same section, keys prefixed "key.".
  std::optional<TableReader> inline_table(std::string_view key);
  // The entries of an array of tables [[key]], named "<section_base> #i" (1-based) in messages.
  std::vector<TableReader> table_array(std::string_view key, const std::string& section_base);

  // Refuses every key of the table that nobody asked for.
  void finish() const;

 private:
  [[nodiscard]] double to_quantity(std::string_view key, const toml::node& node, Quantity kind) const;
  [[nodiscard]] Vec3 to_direction(std::string_view key, const toml::node& node) const;

  const toml::table* table_;
  std::string source_;
  std::string section_;
  std::string key_prefix_;
  std::shared_ptr<std::set<std::string, std::less<>>> known_;
};

// The text of a node as written in the file (strings without quotes), for messages.
std::string node_text(const toml::node& node);

}  // namespace mpi::config::detail
