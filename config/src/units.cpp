#include "mpi/config/units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <system_error>

namespace mpi::config {

namespace {

struct Unit {
  std::string_view spelling;  // canonical spelling, listed in messages
  double factor;              // SI value of 1 unit
  double offset = 0.0;        // SI value = number * factor + offset (degC)
  bool listed = true;         // false: an accepted alias that messages do not list
};

struct Kind {
  std::string_view name;
  std::vector<Unit> units;
};

const Kind& kind_info(Quantity kind) {
  static const Kind dimensionless{"number", {{"", 1.0}, {"%", 1e-2}, {"ppm", 1e-6}}};
  static const Kind length{"length", {{"m", 1.0}, {"cm", 1e-2, 0.0, false}, {"mm", 1e-3}, {"um", 1e-6}, {"nm", 1e-9}}};
  static const Kind time{"time", {{"s", 1.0}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}}};
  static const Kind frequency{"frequency", {{"Hz", 1.0}, {"kHz", 1e3}, {"MHz", 1e6}}};
  static const Kind flux_density{"flux density", {{"T", 1.0}, {"mT", 1e-3}, {"uT", 1e-6}, {"nT", 1e-9}}};
  static const Kind gradient{"gradient", {{"T/m", 1.0}, {"mT/m", 1e-3}, {"mT/mm", 1.0, 0.0, false}}};
  static const Kind slew_rate{"slew rate", {{"T/s", 1.0}, {"mT/ms", 1.0}, {"mT/us", 1e3}}};
  static const Kind sensitivity{"coil sensitivity", {{"T/A", 1.0}, {"mT/A", 1e-3}, {"uT/A", 1e-6}}};
  static const Kind transconductance{"amplifier gain", {{"A/V", 1.0}}};
  static const Kind voltage{"voltage", {{"V", 1.0}, {"mV", 1e-3}, {"uV", 1e-6}}};
  static const Kind voltage_per_tesla{"voltage per field", {{"V/T", 1.0}, {"mV/mT", 1.0}}};
  static const Kind feedthrough{"feedthrough coupling",
                                {{"V*s/T", 1.0}, {"mV*s/T", 1e-3}, {"uV*s/T", 1e-6}}};
  static const Kind noise_density{"noise density",
                                  {{"V/sqrtHz", 1.0}, {"nV/sqrtHz", 1e-9}, {"uV/sqrtHz", 1e-6},
                                   {"V/sqrt(Hz)", 1.0, 0.0, false}, {"nV/sqrt(Hz)", 1e-9, 0.0, false},
                                   {"uV/sqrt(Hz)", 1e-6, 0.0, false}}};
  static const Kind decibel{"level", {{"dB", 1.0}}};
  static const Kind angle{"angle", {{"rad", 1.0}, {"mrad", 1e-3}, {"deg", std::numbers::pi / 180.0}}};
  static const Kind temperature{"temperature", {{"K", 1.0}, {"degC", 1.0, 273.15}}};
  static const Kind temperature_rise{"temperature difference", {{"K", 1.0}, {"mK", 1e-3}}};
  static const Kind per_kelvin{"relative drift", {{"1/K", 1.0}, {"%/K", 1e-2}, {"ppm/K", 1e-6}}};
  static const Kind angle_per_kelvin{"phase drift",
                                     {{"rad/K", 1.0}, {"mrad/K", 1e-3}, {"deg/K", std::numbers::pi / 180.0}}};
  static const Kind magnetisation{"magnetisation", {{"A/m", 1.0}, {"kA/m", 1e3}}};
  static const Kind viscosity{"viscosity", {{"Pa*s", 1.0}, {"mPa*s", 1e-3}}};
  static const Kind energy_density{"energy density",
                                   {{"J/m^3", 1.0}, {"kJ/m^3", 1e3}, {"J/m3", 1.0, 0.0, false},
                                    {"kJ/m3", 1e3, 0.0, false}}};
  static const Kind mass{"mass", {{"kg", 1.0}, {"g", 1e-3}, {"mg", 1e-6}, {"ug", 1e-9}, {"ng", 1e-12}}};
  static const Kind concentration{"iron concentration",
                                  {{"mol/L", kIronMolarMassKgPerMol * 1e3},
                                   {"mmol/L", kIronMolarMassKgPerMol},
                                   {"mg/mL", 1.0},
                                   {"ug/mL", 1e-3},
                                   {"mM", kIronMolarMassKgPerMol, 0.0, false}}};
  static const Kind density{"density",
                            {{"kg/m^3", 1.0}, {"g/cm^3", 1e3}, {"kg/m3", 1.0, 0.0, false},
                             {"g/cm3", 1e3, 0.0, false}}};
  static const Kind mass_per_length{"mass per length", {{"kg/m", 1.0}, {"mg/mm", 1e-3}, {"ug/mm", 1e-6}}};

  switch (kind) {
    case Quantity::dimensionless: return dimensionless;
    case Quantity::length: return length;
    case Quantity::time: return time;
    case Quantity::frequency: return frequency;
    case Quantity::flux_density: return flux_density;
    case Quantity::gradient: return gradient;
    case Quantity::slew_rate: return slew_rate;
    case Quantity::sensitivity: return sensitivity;
    case Quantity::transconductance: return transconductance;
    case Quantity::voltage: return voltage;
    case Quantity::voltage_per_tesla: return voltage_per_tesla;
    case Quantity::feedthrough: return feedthrough;
    case Quantity::noise_density: return noise_density;
    case Quantity::decibel: return decibel;
    case Quantity::angle: return angle;
    case Quantity::temperature: return temperature;
    case Quantity::temperature_rise: return temperature_rise;
    case Quantity::per_kelvin: return per_kelvin;
    case Quantity::angle_per_kelvin: return angle_per_kelvin;
    case Quantity::magnetisation: return magnetisation;
    case Quantity::viscosity: return viscosity;
    case Quantity::energy_density: return energy_density;
    case Quantity::mass: return mass;
    case Quantity::concentration: return concentration;
    case Quantity::density: return density;
    case Quantity::mass_per_length: return mass_per_length;
  }
  return dimensionless;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Writes the unit in its canonical ASCII spelling: the micro sign and the Greek mu become "u", the degree
// sign before C becomes "deg", the middle dot and a space inside a compound unit become "*".
std::string normalise_unit(std::string_view unit) {
  std::string out;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    const auto rest = unit.substr(i);
    if (rest.starts_with("\u00b5") || rest.starts_with("\u03bc")) {
      out += 'u';
      ++i;  // both are two bytes in UTF-8
    } else if (rest.starts_with("\u00b0")) {
      out += "deg";
      ++i;
    } else if (rest.starts_with("\u00b7")) {
      out += '*';
      ++i;
    } else {
      out += unit[i];
    }
  }
  return out;
}

std::string article_for(std::string_view name) {
  const char c = name.empty() ? 'x' : name.front();
  const bool vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
  return vowel ? "an " : "a ";
}

[[noreturn]] void refuse(std::string_view text, Quantity kind, bool unit_missing, std::string_view detail = {}) {
  std::string message = "expected " + article_for(kind_info(kind).name) + describe(kind);
  if (unit_missing && kind != Quantity::dimensionless) message += " with its unit";
  message += ", got '" + std::string(text) + "'";
  if (!detail.empty()) message += " (" + std::string(detail) + ")";
  throw UnitError(message);
}

}  // namespace

std::string describe(Quantity kind) {
  const Kind& info = kind_info(kind);
  std::string out(info.name);
  out += " (";
  bool first = true;
  for (const Unit& unit : info.units) {
    if (!unit.listed) continue;
    if (!first) out += ", ";
    first = false;
    out += unit.spelling.empty() ? std::string_view("plain") : unit.spelling;
  }
  out += ")";
  return out;
}

double parse_quantity(std::string_view text, Quantity kind) {
  const std::string_view s = trim(text);
  std::string_view number_text = s;
  if (number_text.starts_with('+')) {
    number_text.remove_prefix(1);
    if (number_text.starts_with('-') || number_text.starts_with('+')) refuse(text, kind, false);
  }
  double number = 0.0;
  const auto [end, error] =
      std::from_chars(number_text.data(), number_text.data() + number_text.size(), number);
  if (error != std::errc() || end == number_text.data()) refuse(text, kind, false);
  if (!std::isfinite(number)) refuse(text, kind, false, "not a finite number");
  const std::string_view unit_text = trim(std::string_view(end, static_cast<std::size_t>(
                                                                    number_text.data() + number_text.size() - end)));
  const std::string unit = normalise_unit(unit_text);
  for (const Unit& candidate : kind_info(kind).units) {
    if (candidate.spelling == unit) {
      const double value = number * candidate.factor + candidate.offset;
      if (!std::isfinite(value)) refuse(text, kind, false, "out of range");
      return value;
    }
  }
  refuse(text, kind, unit.empty());
}

std::string format_quantity(double value, Quantity kind) {
  const Kind& info = kind_info(kind);
  char buffer[64];
  if (kind == Quantity::temperature) {
    std::snprintf(buffer, sizeof buffer, "%.6g degC", value - 273.15);
    return buffer;
  }
  // The SI unit when its mantissa lies in [0.1, 10000), else the first listed unit whose mantissa lies in
  // [1, 1000), else the SI unit.
  const Unit* best = &info.units.front();
  const double si_mantissa = std::fabs(value) / best->factor;
  if (value != 0.0 && kind != Quantity::dimensionless && !(si_mantissa >= 0.1 && si_mantissa < 1e4)) {
    for (const Unit& unit : info.units) {
      const double mantissa = std::fabs(value) / unit.factor;
      if (unit.listed && unit.offset == 0.0 && mantissa >= 1.0 && mantissa < 1000.0) {
        best = &unit;
        break;
      }
    }
  }
  if (best->spelling.empty()) {
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "%.6g", value / best->factor);
  return std::string(buffer) + " " + std::string(best->spelling);
}

}  // namespace mpi::config
