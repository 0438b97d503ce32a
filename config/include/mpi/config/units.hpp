// Physical quantities written with their units in configuration files: "12 mT", "2 T/m", "25 kHz",
// "1.5 mT/A", "30 nm", "10 us", "0.1 %/K". A value is parsed against the kind of quantity a key expects;
// a unit of another kind, a missing unit or an unknown unit is an error that says which units the key takes.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::config {

// Molar mass of iron, for concentrations in mol/L: 1 mmol/L Fe = 55.845e-3 kg/m^3.
inline constexpr double kIronMolarMassKgPerMol = 55.845e-3;

// What a key measures; each kind has its SI unit and a list of accepted spellings with their factors.
enum class Quantity {
  dimensionless,        // "" (plain number), "%", "ppm"
  length,               // m, mm, um, nm
  time,                 // s, ms, us, ns
  frequency,            // Hz, kHz, MHz
  flux_density,         // T, mT, uT, nT  (field strengths are written as mu0 H)
  gradient,             // T/m, mT/m
  slew_rate,            // T/s, mT/ms, mT/us
  sensitivity,          // T/A, mT/A, uT/A  (coil field per unit current)
  transconductance,     // A/V
  voltage,              // V, mV, uV
  voltage_per_tesla,    // V/T, mV/mT (reference pickups)
  feedthrough,          // V*s/T, mV*s/T, uV*s/T  (voltage per rate of change of the drive field)
  noise_density,        // V/sqrtHz, nV/sqrtHz, uV/sqrtHz
  decibel,              // dB
  angle,                // rad, deg
  temperature,          // K, degC (stored in kelvin)
  temperature_rise,     // K (a difference; degC not accepted)
  per_kelvin,           // 1/K, %/K, ppm/K (relative drift)
  angle_per_kelvin,     // rad/K, deg/K
  magnetisation,        // A/m, kA/m
  viscosity,            // Pa*s, mPa*s
  energy_density,       // J/m^3, kJ/m^3
  mass,                 // kg, g, mg, ug, ng  (iron mass)
  concentration,        // mol/L, mmol/L (iron), and mg/mL (iron mass per volume); stored as iron kg/m^3
  density,              // kg/m^3, g/cm^3
  mass_per_length,      // kg/m, mg/mm, ug/mm (iron per length of a line source)
};

// The name of a kind and its accepted units, for messages: "flux density (T, mT, uT, nT)".
std::string describe(Quantity kind);

// A value that cannot be read as the expected quantity. what() says why, e.g.
// "expected a flux density (T, mT, uT, nT), got '12 kHz'".
class UnitError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Parses "<number> <unit>" (space optional, number in any C locale floating form such as "1e-6") into SI
// units of `kind`. "u" and "µ" both mean micro; "degC" and "°C" both mean Celsius, converted to
// kelvin. A dimensionless quantity also takes a bare number. Refuses NaN, infinities, trailing text and
// units of another kind. Concentrations are stored as iron mass per volume (kg/m^3): 1 mmol/L of iron is
// kIronMolarMassKgPerMol kg/m^3. Throws UnitError.
double parse_quantity(std::string_view text, Quantity kind);

// A value in SI units of `kind` written back with the unit of the kind's list that gives the shortest
// mantissa in [1, 1000) where possible: format_quantity(0.014, Quantity::flux_density) == "14 mT".
// Temperatures are written in degC. For messages.
std::string format_quantity(double value, Quantity kind);

}  // namespace mpi::config
