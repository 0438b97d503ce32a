#include "mpi/config/units.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace mpi::config {
namespace {

struct Case {
  const char* text;
  Quantity kind;
  double si;
};

// One value in every accepted unit of every kind, with its SI value worked out by hand.
const std::vector<Case> kCases = {
    {"3", Quantity::dimensionless, 3.0},
    {"2.5 %", Quantity::dimensionless, 0.025},
    {"40 ppm", Quantity::dimensionless, 40e-6},
    {"2 m", Quantity::length, 2.0},
    {"3 cm", Quantity::length, 0.03},
    {"1.5 mm", Quantity::length, 1.5e-3},
    {"7 um", Quantity::length, 7e-6},
    {"30 nm", Quantity::length, 30e-9},
    {"0.2 s", Quantity::time, 0.2},
    {"10 ms", Quantity::time, 0.01},
    {"100 us", Quantity::time, 1e-4},
    {"5 ns", Quantity::time, 5e-9},
    {"50 Hz", Quantity::frequency, 50.0},
    {"25 kHz", Quantity::frequency, 25e3},
    {"2.5 MHz", Quantity::frequency, 2.5e6},
    {"1 T", Quantity::flux_density, 1.0},
    {"12 mT", Quantity::flux_density, 0.012},
    {"40 uT", Quantity::flux_density, 40e-6},
    {"9 nT", Quantity::flux_density, 9e-9},
    {"2 T/m", Quantity::gradient, 2.0},
    {"500 mT/m", Quantity::gradient, 0.5},
    {"3000 T/s", Quantity::slew_rate, 3000.0},
    {"2 mT/ms", Quantity::slew_rate, 2.0},
    {"2 mT/us", Quantity::slew_rate, 2000.0},
    {"0.002 T/A", Quantity::sensitivity, 2e-3},
    {"1.5 mT/A", Quantity::sensitivity, 1.5e-3},
    {"800 uT/A", Quantity::sensitivity, 8e-4},
    {"10 A/V", Quantity::transconductance, 10.0},
    {"1 V", Quantity::voltage, 1.0},
    {"250 mV", Quantity::voltage, 0.25},
    {"3 uV", Quantity::voltage, 3e-6},
    {"50 V/T", Quantity::voltage_per_tesla, 50.0},
    {"50 mV/mT", Quantity::voltage_per_tesla, 50.0},
    {"1e-6 V*s/T", Quantity::feedthrough, 1e-6},
    {"2 mV*s/T", Quantity::feedthrough, 2e-3},
    {"4 uV*s/T", Quantity::feedthrough, 4e-6},
    {"1e-9 V/sqrtHz", Quantity::noise_density, 1e-9},
    {"2 nV/sqrtHz", Quantity::noise_density, 2e-9},
    {"0.5 uV/sqrtHz", Quantity::noise_density, 5e-7},
    {"40 dB", Quantity::decibel, 40.0},
    {"0.5 rad", Quantity::angle, 0.5},
    {"180 deg", Quantity::angle, 3.14159265358979323846},
    {"300 K", Quantity::temperature, 300.0},
    {"22 degC", Quantity::temperature, 295.15},
    {"-10 degC", Quantity::temperature, 263.15},
    {"25 K", Quantity::temperature_rise, 25.0},
    {"0.001 1/K", Quantity::per_kelvin, 1e-3},
    {"-0.1 %/K", Quantity::per_kelvin, -1e-3},
    {"50 ppm/K", Quantity::per_kelvin, 5e-5},
    {"0.01 rad/K", Quantity::angle_per_kelvin, 0.01},
    {"0.02 deg/K", Quantity::angle_per_kelvin, 0.02 * 3.14159265358979323846 / 180.0},
    {"8e5 A/m", Quantity::magnetisation, 8e5},
    {"446 kA/m", Quantity::magnetisation, 4.46e5},
    {"0.001 Pa*s", Quantity::viscosity, 1e-3},
    {"1 mPa*s", Quantity::viscosity, 1e-3},
    {"1e4 J/m^3", Quantity::energy_density, 1e4},
    {"10 kJ/m^3", Quantity::energy_density, 1e4},
    {"1 kg", Quantity::mass, 1.0},
    {"2 g", Quantity::mass, 2e-3},
    {"3 mg", Quantity::mass, 3e-6},
    {"10 ug", Quantity::mass, 1e-8},
    {"50 ng", Quantity::mass, 5e-11},
    {"0.1 mol/L", Quantity::concentration, 0.1 * 1000.0 * 55.845e-3},
    {"100 mmol/L", Quantity::concentration, 100.0 * 55.845e-3},
    {"1 mg/mL", Quantity::concentration, 1.0},
    {"5170 kg/m^3", Quantity::density, 5170.0},
    {"5.17 g/cm^3", Quantity::density, 5170.0},
    {"1 kg/m", Quantity::mass_per_length, 1.0},
    {"5 ug/mm", Quantity::mass_per_length, 5e-6},
    {"2 mg/mm", Quantity::mass_per_length, 2e-3},
};

TEST(Units, EveryUnitOfEveryKind) {
  for (const Case& c : kCases) {
    EXPECT_NEAR(parse_quantity(c.text, c.kind), c.si, 1e-12 * std::abs(c.si) + 1e-300) << c.text;
  }
}

TEST(Units, EveryKindHasACase) {
  std::vector<bool> seen(static_cast<std::size_t>(Quantity::mass_per_length) + 1, false);
  for (const Case& c : kCases) seen[static_cast<std::size_t>(c.kind)] = true;
  for (std::size_t k = 0; k < seen.size(); ++k) EXPECT_TRUE(seen[k]) << "kind " << k << " untested";
}

TEST(Units, MicroAndDegreeSpellings) {
  EXPECT_DOUBLE_EQ(parse_quantity("40 \u00b5T", Quantity::flux_density), 40e-6);  // micro sign
  EXPECT_DOUBLE_EQ(parse_quantity("40 \u03bcT", Quantity::flux_density), 40e-6);  // Greek mu
  EXPECT_DOUBLE_EQ(parse_quantity("100 \u00b5s", Quantity::time), 1e-4);
  EXPECT_DOUBLE_EQ(parse_quantity("22 \u00b0C", Quantity::temperature), 295.15);
  EXPECT_DOUBLE_EQ(parse_quantity("10 \u00b5g", Quantity::mass), 1e-8);
}

TEST(Units, NumberForms) {
  EXPECT_DOUBLE_EQ(parse_quantity("12mT", Quantity::flux_density), 0.012);
  EXPECT_DOUBLE_EQ(parse_quantity("  12   mT ", Quantity::flux_density), 0.012);
  EXPECT_DOUBLE_EQ(parse_quantity("1e-6 V*s/T", Quantity::feedthrough), 1e-6);
  EXPECT_DOUBLE_EQ(parse_quantity("1.5E3 Hz", Quantity::frequency), 1500.0);
  EXPECT_DOUBLE_EQ(parse_quantity("+3 mm", Quantity::length), 3e-3);
  EXPECT_DOUBLE_EQ(parse_quantity("-.5 T/m", Quantity::gradient), -0.5);
}

TEST(Units, RefusesGarbage) {
  for (const char* text : {"12 mT x", "12 mTT", "12 m T", "mT", "", "  ", "abc", "nan mT", "inf mT", "-inf mT",
                           "1e999 mT", "12 mT;", "++1 mT", "+-1 mT", "0x10 mT"}) {
    EXPECT_THROW(parse_quantity(text, Quantity::flux_density), UnitError) << "'" << text << "'";
  }
}

TEST(Units, WrongKindListsAcceptedUnits) {
  try {
    parse_quantity("14 kHz", Quantity::flux_density);
    FAIL() << "accepted a frequency as a flux density";
  } catch (const UnitError& e) {
    EXPECT_STREQ(e.what(), "expected a flux density (T, mT, uT, nT), got '14 kHz'");
  }
  try {
    parse_quantity("14", Quantity::flux_density);
    FAIL() << "accepted a bare number as a flux density";
  } catch (const UnitError& e) {
    EXPECT_STREQ(e.what(), "expected a flux density (T, mT, uT, nT) with its unit, got '14'");
  }
  EXPECT_THROW(parse_quantity("20 degC", Quantity::temperature_rise), UnitError);
  EXPECT_THROW(parse_quantity("1 mmol", Quantity::concentration), UnitError);
  EXPECT_THROW(parse_quantity("5 %", Quantity::length), UnitError);
}

TEST(Units, Describe) {
  EXPECT_EQ(describe(Quantity::flux_density), "flux density (T, mT, uT, nT)");
  EXPECT_EQ(describe(Quantity::temperature), "temperature (K, degC)");
  EXPECT_NE(describe(Quantity::concentration).find("mmol/L"), std::string::npos);
}

TEST(Units, FormatQuantity) {
  EXPECT_EQ(format_quantity(0.014, Quantity::flux_density), "14 mT");
  EXPECT_EQ(format_quantity(2.5e6, Quantity::frequency), "2.5 MHz");
  EXPECT_EQ(format_quantity(-1.0, Quantity::gradient), "-1 T/m");
  EXPECT_EQ(format_quantity(333.15, Quantity::temperature), "60 degC");
  EXPECT_EQ(format_quantity(0.0, Quantity::length), "0 m");
  // Round trip through the parser.
  for (double v : {1.23e-7, 4.5e-3, 0.75, 12.0, 3e4}) {
    EXPECT_NEAR(parse_quantity(format_quantity(v, Quantity::time), Quantity::time), v, 1e-6 * v);
  }
}

}  // namespace
}  // namespace mpi::config
