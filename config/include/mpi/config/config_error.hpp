// The one error type of configuration files (scanner, tracer, phantom, plan): what() names the file, where
// in it and why, e.g. "configs/scanners/preclinical.toml: [[drive]] #1 (x) max_amplitude: expected a flux
// density (T, mT, uT, nT), got '14 kHz'" or "plan.toml:12:5: not valid TOML: ...".
#pragma once

#include <stdexcept>

namespace mpi::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mpi::config
