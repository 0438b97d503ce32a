// Test helpers for the host's 2D pipelines on the preclinical scanner (configs/scanners/preclinical-ffp.toml,
// REFERENCE 2.1): 2.5 MHz base clock and ADC, dividers 102 / 96, 12 mT, G = diag(-1, -1, 2) T/m, receive
// coils along x, y, z of 1 mT/A behind an LNA of 100, 1 V ADC. Synthetic frames are the receive signals of a
// point source from recon's physical forward model, computed here sample by sample (independently of the
// reconstruction code), quantised like the board's ADC; and plan files written for a test.
#pragma once

#include "mpi/host/frame.hpp"
#include "mpi/host/pipeline_1d.hpp"
#include "mpi/recon/forward_model.hpp"
#include "mpi/recon/tracer.hpp"
#include "mpi/recon/tracer_model.hpp"

#include <Eigen/Core>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

namespace mpi::host::test {

inline const std::filesystem::path kSource = MPI_SOURCE_DIR;
constexpr double kRate = 2.5e6;
constexpr std::size_t kFrame = 1632;
constexpr double kAmplitude = 0.012;
constexpr double kCoil = 1e-3;
constexpr double kLna = 100.0;
constexpr std::uint64_t kFirstFrameSample = 10 * kFrame;

// The realised 2D acquisition: drives x and y, six ADC channels (rx_x, rx_y, rx_z, ref_x, ref_y, ref_z).
inline AcquisitionSetup setup_2d() {
  AcquisitionSetup s;
  s.sample_rate_hz = kRate;
  s.samples_per_period = kFrame;
  s.periods_per_frame = 1;
  s.drives = {{Eigen::Vector3d::UnitX(), kAmplitude, kRate / 102.0, 0.0}, {Eigen::Vector3d::UnitY(), kAmplitude, kRate / 96.0, 0.0}};
  s.drive_channels = {0, 1};
  s.adc_channels = 6;
  s.first_frame_sample = kFirstFrameSample;
  return s;
}

// A tracer as the forward model's single mode.
inline recon::TracerModel tracer_model(const recon::Tracer& t) {
  recon::TracerModel m;
  recon::TracerMode mode;
  mode.name = "cores";
  mode.tracer = t;
  m.modes.push_back(mode);
  return m;
}

// u_c(t) = -p e_c . dmu/dt for a point source, dmu/dt by a central difference of the equilibrium moment
// along the field's path; plus (optionally) feedthrough k dB_c/dt and an offset. Volts at the coil,
// channel-major.
struct Synthetic {
  Eigen::Vector3d source_m;
  double iron_kg = 10e-9;
  double feedthrough_v_s_per_t = 0.0;
  double offset_v = 0.0;

  [[nodiscard]] std::vector<double> volts(const recon::TracerModel& tracer, std::uint64_t first_sample) const {
    const Eigen::Matrix3d g = Eigen::Vector3d(-1.0, -1.0, 2.0).asDiagonal();
    const recon::ParticleSignalModel model(tracer, {{source_m, iron_kg}}, g, 0.1);
    const double wx = 2.0 * std::numbers::pi * kRate / 102.0, wy = 2.0 * std::numbers::pi * kRate / 96.0;
    std::vector<double> u(3 * kFrame);
    std::vector<Eigen::Vector3d> plus(1), minus(1);
    for (std::size_t i = 0; i < kFrame; ++i) {
      const double t = static_cast<double>(first_sample + i) / kRate;
      const Eigen::Vector3d b(kAmplitude * std::sin(wx * t), kAmplitude * std::sin(wy * t), 0.0);
      const Eigen::Vector3d rate(kAmplitude * wx * std::cos(wx * t), kAmplitude * wy * std::cos(wy * t), 0.0);
      const double h = 1e-6 / rate.norm();  // seconds for 1 uT along the path
      model.equilibrium_moments(b + h * rate, plus);
      model.equilibrium_moments(b - h * rate, minus);
      const Eigen::Vector3d dmu = (plus[0] - minus[0]) / (2.0 * h);
      for (int c = 0; c < 3; ++c) u[static_cast<std::size_t>(c) * kFrame + i] = -kCoil * dmu(c) + feedthrough_v_s_per_t * rate(c) + offset_v;
    }
    return u;
  }
};

// Volts at the coil times `gain` (e.g. the LNA's) into the 1 V, 16-bit ADC, as frame kFirstFrameSample;
// the reference channels hold a constant that must not be imaged.
inline Frame to_frame(const std::vector<double>& u, double gain) {
  Frame f;
  f.first_sample = kFirstFrameSample;
  f.channels = 6;
  f.samples.assign(kFrame * 6, 0);
  for (std::size_t i = 0; i < kFrame; ++i) {
    for (std::size_t c = 0; c < 3; ++c) {
      const double code = std::round(u[c * kFrame + i] * gain * 32767.0);
      f.samples[i * 6 + c] = static_cast<std::int16_t>(std::clamp(code, -32768.0, 32767.0));
    }
    for (std::size_t c = 3; c < 6; ++c) f.samples[i * 6 + c] = 12345;
  }
  return f;
}

// A plan file with the shipped 30 nm tracer and `body`, in a fresh folder named after `suite`.
inline std::filesystem::path write_plan(const std::string& suite, const std::string& body) {
  static int counter = 0;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / (suite + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "plan.toml";
  std::ofstream(file) << "tracer = \"" << (kSource / "configs/tracers/single-core-30nm.toml").string() << "\"\n" << body;
  return file;
}

}  // namespace mpi::host::test
