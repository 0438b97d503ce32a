#include "mpi/firmware/scanner_config.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace mpi::firmware {

namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) { throw ConfigError(source + ": " + what); }

double positive_number(const toml::table& root, const std::string& source, const char* table, const char* key) {
  const std::string where = std::string("[") + table + "] " + key;
  const toml::node_view<const toml::node> node = root[table][key];
  if (!node) fail(source, where + ": missing");
  const std::optional<double> value = node.value<double>();
  if (!value || !(node.is_floating_point() || node.is_integer())) fail(source, where + ": must be a number");
  if (!std::isfinite(*value) || !(*value > 0.0)) fail(source, where + ": must be positive");
  return *value;
}

}  // namespace

ScannerConfig parse_scanner_config(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    fail(source, "line " + std::to_string(begin.line) + " col " + std::to_string(begin.column) + ": " + std::string(e.description()));
  }

  ScannerConfig config;
  const toml::node_view<const toml::node> names = std::as_const(root)["board"]["adc_channel_names"];
  if (!names) fail(source, "[board] adc_channel_names: missing");
  const toml::array* list = names.as_array();
  if (list == nullptr || list->empty()) fail(source, "[board] adc_channel_names: must be a non-empty array of strings");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::optional<std::string> name = (*list)[i].value<std::string>();
    if (!name || !(*list)[i].is_string() || name->empty()) {
      fail(source, "[board] adc_channel_names[" + std::to_string(i) + "]: must be a non-empty string");
    }
    config.adc_channel_names.push_back(*name);
  }
  config.tesla_per_full_scale = positive_number(root, source, "drive", "tesla_per_full_scale");
  config.max_amplitude_t = positive_number(root, source, "drive", "max_amplitude_t");
  config.max_frequency_hz = positive_number(root, source, "drive", "max_frequency_hz");
  config.selection_gradient_t_per_m = positive_number(root, source, "selection", "gradient_t_per_m");
  return config;
}

ScannerConfig load_scanner_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    fail(path, std::string("cannot read: ") + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, "cannot read");
  return parse_scanner_config(text.str(), path);
}

}  // namespace mpi::firmware
