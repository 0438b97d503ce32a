#pragma once
// The reader of the host's TOML files (scan, relaxometry and calibration plans, analysis specs): parsing with
// line and column in syntax errors, and PlanTable, the reader of one table of such a file. Every error names
// "FILE: [table] key"; numbers and counts are checked against their ranges, values with units are read
// through config::parse_quantity ("25 kHz"), and keys the parser did not list are refused.
//
// Each file has its own error type (PlanError, AnalysisSpecError): the reader is given the function that
// throws it, raise_error<PlanError>.

#include "mpi/config/units.hpp"

#include <toml++/toml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mpi::host {

// Throws the file's error with `message`; never returns.
using RaiseError = void (*)(const std::string& message);

template <class Error>
[[noreturn]] void raise_error(const std::string& message) {
  throw Error(message);
}

// The whole of `file`; an unreadable file raises "FILE: cannot read the WHAT".
std::string read_plan_file(const std::filesystem::path& file, const std::string& what, RaiseError raise);

// Parses TOML; a syntax error raises "FILE: line L col C: why".
toml::table parse_plan_toml(std::string_view text, const std::string& file, RaiseError raise);

// Refuses top-level keys and tables other than `known`: "FILE: KEY: unknown key (CONTENTS)", CONTENTS saying
// what the file holds, e.g. "a plan has tracer, [sequence]".
void only_top_level(const toml::table& root, const std::string& file, std::initializer_list<std::string_view> known,
                    const std::string& contents, RaiseError raise);

// A key's older spelling: a plain number in the unit its name ends with (pixel_mm = 1.0), which times `to_si`
// is SI. Plans recorded in older MDF files use it.
struct OlderKey {
  std::string key;
  double to_si = 1.0;
};

class PlanTable {
 public:
  // The table `name` of `root`, "[name]" in messages. When it is absent, a required table raises
  // "FILE: [name]: missing table" and an optional one reads as empty.
  PlanTable(const toml::table& root, std::string file, const std::string& name, RaiseError raise, bool required = true);

  // A table the caller found (an entry of an array of tables), `label` in messages ("[[roi]] #2").
  static PlanTable entry(const toml::table& table, std::string file, std::string label, RaiseError raise);

  [[nodiscard]] bool present() const noexcept { return table_ != nullptr; }
  [[nodiscard]] const toml::node* get(std::string_view key) const;
  [[nodiscard]] bool has(std::string_view key) const { return get(key) != nullptr; }
  // Adds a name to the table's label: "[[roi]] #1" becomes "[[roi]] #1 (cube 1)".
  void add_label(const std::string& name);

  // Refuses keys other than `known`: "FILE: [table] key: unknown key (allowed: a, b)".
  void only(std::initializer_list<std::string_view> known) const;

  [[nodiscard]] std::string text(const std::string& key, const std::string& fallback) const;
  [[nodiscard]] std::string required_text(const std::string& key) const;
  [[nodiscard]] std::optional<std::string> optional_text(const std::string& key) const;
  [[nodiscard]] bool flag(const std::string& key, bool fallback) const;

  // A whole number within [lo, hi].
  [[nodiscard]] std::uint32_t count(const std::string& key, std::uint32_t fallback, std::uint32_t lo, std::uint32_t hi) const;
  // Three whole numbers x y z ([9, 9, 1]), each within [lo, hi]; required.
  [[nodiscard]] std::array<std::uint32_t, 3> counts3(const std::string& key, std::uint32_t lo, std::uint32_t hi) const;

  // A plain number within [lo, hi].
  [[nodiscard]] double number(const std::string& key, double fallback, double lo, double hi) const;
  [[nodiscard]] double required_number(const std::string& key, double lo, double hi) const;
  // A non-empty array of numbers, each within [lo, hi]; empty when absent.
  [[nodiscard]] std::vector<double> numbers(const std::string& key, double lo, double hi) const;
  // A table of numbers keyed by name ({ x = 0.1, y = 0.2 }), each within [lo, hi]; empty when absent.
  [[nodiscard]] std::vector<std::pair<std::string, double>> named_numbers(const std::string& key, double lo, double hi) const;

  // A value with its unit ("25 kHz") as a quantity of `kind`, in SI units within [lo, hi]. A dimensionless
  // value may also be a plain number. `older` is the key's older spelling; giving both is an error.
  [[nodiscard]] double quantity(const std::string& key, config::Quantity kind, double fallback, double lo, double hi,
                                const OlderKey& older = {}) const;
  // The same, required: a missing key raises "key: missing (e.g. key = "EXAMPLE")".
  [[nodiscard]] double required_quantity(const std::string& key, config::Quantity kind, double lo, double hi, const std::string& example,
                                         const OlderKey& older = {}) const;
  [[nodiscard]] std::optional<double> optional_quantity(const std::string& key, config::Quantity kind, double lo, double hi) const;
  // An array of values with units (fov = ["24 mm", "24 mm"]), each within [lo, hi]: `size` of them, or any
  // number but none when `size` is 0. Empty when absent. `example` shows the spelling in messages.
  [[nodiscard]] std::vector<double> quantities(const std::string& key, config::Quantity kind, double lo, double hi, std::size_t size,
                                               const std::string& example, const OlderKey& older = {}) const;
  // A table of angles per drive channel ({ x = "0 rad", y = "90 deg" }); the older spelling takes numbers in rad.
  [[nodiscard]] std::vector<std::pair<std::string, double>> named_angles(const std::string& key, const std::string& older) const;

  // Raises "FILE: [table] key: why".
  [[noreturn]] void fail(const std::string& key, const std::string& why) const;
  // Raises "FILE: [table] key = "TEXT": why".
  [[noreturn]] void fail_value(const std::string& key, const std::string& text, const std::string& why) const;

 private:
  PlanTable(const toml::table* table, std::string file, std::string label, RaiseError raise);

  // Whether the older spelling is given (raises when the key is given too).
  [[nodiscard]] bool older_given(const std::string& key, const OlderKey& older, const std::string& what) const;
  [[nodiscard]] double value_of(const std::string& key, const toml::node& node, config::Quantity kind, double lo, double hi) const;
  [[nodiscard]] std::uint32_t whole(const std::string& key, const toml::node& node, std::uint32_t lo, std::uint32_t hi) const;
  [[nodiscard]] double in_range(const std::string& key, const toml::node& node, double lo, double hi, bool array_entry) const;

  const toml::table* table_ = nullptr;
  std::string file_;
  std::string label_;
  RaiseError raise_;
};

}  // namespace mpi::host
