// The outputs of relaxometry: a sample's result folder (result.json with units in the keys, psf.csv,
// mh.csv, harmonics.csv, PNG plots of the PSF in both scan directions, of M(H) and of the harmonic
// spectrum), the comparison of several result folders (table as CSV and JSON, overlaid PSFs, harmonic
// bar chart) and the harmonic calculator's spectrum (CSV and PNG).
#pragma once

#include "mpi/host/relax_plan.hpp"
#include "mpi/recon/harmonic_calculator.hpp"
#include "mpi/recon/relaxometry.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mpi::host {

// What result.json records besides the analysis.
struct RelaxContext {
  SampleInfo sample;
  std::string plan_file;
  std::string scanner_name;
  std::string tracer_file;
  std::string shape;
  double drive_frequency_hz = 0.0;
  double drive_amplitude_t = 0.0;     // as planned
  double bias_amplitude_t = 0.0;
  double sweep_rate_hz = 0.0;
  std::uint32_t sweeps = 0;
  std::string background;             // "none", "empty acquisition", or the recording's path
};

// Writes result.json, psf.csv, mh.csv, harmonics.csv, psf.png, mh.png, harmonics.png into `out`.
// Returns the names written.
std::vector<std::string> write_relax_result(const recon::RelaxometryResult& result, const RelaxContext& context, const std::filesystem::path& out);

// The text of result.json (a flat JSON object, one "key": value per line).
std::string relax_result_json(const recon::RelaxometryResult& result, const RelaxContext& context);

// Reads a result folder written by write_relax_result back into a result (figures from result.json,
// curves from psf.csv and mh.csv, the spectrum from harmonics.csv). Throws std::runtime_error naming the
// file and line.
recon::RelaxometryResult read_relax_result(const std::filesystem::path& folder);

// The flat JSON object of result.json: key -> raw value text (strings unquoted). Throws naming the line.
std::map<std::string, std::string> read_flat_json(const std::filesystem::path& file);

// mpi relax-compare: comparison.csv, comparison.json, psf_overlay.png, harmonics_bars.png. Returns the names.
std::vector<std::string> write_relax_comparison(const std::vector<recon::RelaxometryResult>& results, const std::filesystem::path& out);

// mpi harmonics: spectrum.csv (n, amplitude, dB) and spectrum.png. Returns the names.
std::vector<std::string> write_harmonic_spectrum(const recon::HarmonicSpectrum& spectrum, const std::string& title, const std::filesystem::path& out);

// Plots (cairo PNG).
struct PlotSeries {
  std::string label;
  std::vector<double> x;
  std::vector<double> y;  // NaN: a break in the line
};
void write_line_plot(const std::filesystem::path& file, const std::string& title, const std::string& x_label, const std::string& y_label,
                     const std::vector<PlotSeries>& series);
// Grouped bars: groups[g] labelled group_labels[g], one bar per series; values are dB (drawn down from 0).
void write_bar_chart(const std::filesystem::path& file, const std::string& title, const std::string& y_label,
                     const std::vector<std::string>& group_labels, const std::vector<PlotSeries>& series);

}  // namespace mpi::host
