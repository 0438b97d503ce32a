#include "mpi/hil/plant_config.hpp"

#include "mpi/config/plan_simulation.hpp"

#include <algorithm>

namespace mpi::hil {

namespace {

bool has_drive(const config::ScannerDescription& s, const std::string& name) {
  return std::any_of(s.drive.begin(), s.drive.end(), [&](const auto& d) { return d.name == name; });
}
bool has_coil(const config::ScannerDescription& s, const std::string& name) {
  return has_drive(s, name) || std::any_of(s.offset.begin(), s.offset.end(), [&](const auto& o) { return o.name == name; });
}
bool has_adc_channel(const config::ScannerDescription& s, const std::string& name) {
  if (std::any_of(s.receive.channels.begin(), s.receive.channels.end(), [&](const auto& c) { return c.name == name; })) return true;
  return std::any_of(s.drive.begin(), s.drive.end(), [&](const auto& d) { return "ref_" + d.name == name; });
}
bool has_sensor(const config::ScannerDescription& s, const std::string& name) {
  return std::any_of(s.temperature_sensors.begin(), s.temperature_sensors.end(), [&](const auto& t) { return t.name == name; });
}

}  // namespace

void check_faults(const std::vector<Fault>& faults, const config::ScannerDescription& scanner, const std::string& source) {
  for (std::size_t i = 0; i < faults.size(); ++i) {
    const Fault& f = faults[i];
    const std::string where = source + ": [[fault]] #" + std::to_string(i + 1) + " (" + std::string(to_string(f.kind)) + ")";
    switch (f.kind) {
      case FaultKind::amplifier_dropout:
        if (!has_drive(scanner, f.channel)) throw config::ConfigError(where + " channel: the scanner has no drive channel '" + f.channel + "'");
        break;
      case FaultKind::over_temperature:
        if (!f.sensor.empty() && !has_sensor(scanner, f.sensor)) throw config::ConfigError(where + " sensor: the scanner has no temperature sensor '" + f.sensor + "'");
        if (f.sensor.empty() && !has_coil(scanner, f.channel)) throw config::ConfigError(where + " channel: the scanner has no coil '" + f.channel + "'");
        break;
      case FaultKind::adc_saturation:
        if (!has_adc_channel(scanner, f.channel)) throw config::ConfigError(where + " channel: the scanner has no ADC channel '" + f.channel + "'");
        break;
      default:
        break;
    }
  }
}

PlantConfig load_plant_config(const std::filesystem::path& scanner_file, const std::filesystem::path& tracer_file,
                              const std::filesystem::path& phantom_file, std::uint64_t seed,
                              const std::filesystem::path& faults_file) {
  PlantConfig c;
  c.scanner = config::load_scanner_description(scanner_file);
  c.tracer = config::load_tracer_description(tracer_file);
  c.phantom = config::load_phantom_description(phantom_file);
  c.seed = seed;
  if (!faults_file.empty()) {
    c.faults = load_faults(faults_file);
    check_faults(c.faults, c.scanner, faults_file.string());
  }
  return c;
}

PlantConfig load_plant_config_from_plan(const std::filesystem::path& scanner_file, const std::filesystem::path& plan_file,
                                        std::optional<std::uint64_t> seed, const std::filesystem::path& faults_file) {
  const config::PlanSimulation plan = config::load_plan_simulation(plan_file);
  if (plan.tracer_file.empty()) throw config::ConfigError(plan_file.string() + ": tracer: missing (the plant needs the tracer file)");
  if (plan.phantom_file.empty()) throw config::ConfigError(plan_file.string() + ": [simulation] phantom: missing (the plant needs the phantom file)");
  return load_plant_config(scanner_file, plan.tracer_file, plan.phantom_file, seed.value_or(plan.seed),
                           faults_file.empty() ? plan.faults_file : faults_file);
}

drivers::RegionGeometry region_geometry(const config::ScannerDescription& s) noexcept {
  drivers::RegionGeometry g;
  g.dac_clock_hz = s.board.dac_clock_hz;
  g.adc_decimation = s.board.adc_decimation;
  g.adc_channels = s.adc_channels();
  g.ring_frames_log2 = s.board.ring_frames_log2;
  g.drive_channels = static_cast<std::uint32_t>(s.drive.size());
  g.offset_channels = static_cast<std::uint32_t>(s.offset.size());
  g.receive_channels = static_cast<std::uint32_t>(s.receive.channels.size());
  g.temperature_sensors = static_cast<std::uint32_t>(s.temperature_sensors.size());
  return g;
}

}  // namespace mpi::hil
