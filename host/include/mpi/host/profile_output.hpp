// Writes a reconstructed 1D profile for people and programs: a CSV table (x in mm, intensity, and the
// two scan directions) and a PNG plot with the position axis in millimetres; and line plots in general
// (several series over a common axis, with ticks, grid lines and a legend when there is more than one).
#pragma once

#include "mpi/host/image_output.hpp"
#include "mpi/recon/xspace_1d.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace mpi::host {

// One line of a plot: y over x (same length); a NaN y breaks the line (a gap), x must be finite.
struct PlotSeries {
  std::string label;  // the legend entry
  std::vector<double> x;
  std::vector<double> y;
};

struct PlotLabels {
  std::string title;
  std::string x_label = "x (mm)";
  std::string y_label;
  bool include_zero = true;  // the value axis reaches down (or up) to 0
};

// What write_line_plot_png drew: the plot area (its x and y ranges are the data values at its edges) and,
// with more than one series, the legend box (width 0 without one).
struct LinePlotFigure {
  int width = 0, height = 0;
  PlotArea area;
  PlotArea legend;
};

// Throws std::invalid_argument naming the file when there is no series, a series' x and y differ in length,
// an x is not finite, no y is finite, or the file cannot be opened for writing; std::runtime_error when
// writing fails half-way. Series are drawn in a fixed palette (blue, orange, green, red, purple, ...).
LinePlotFigure write_line_plot_png(const std::vector<PlotSeries>& series, const PlotLabels& labels,
                                   const std::filesystem::path& file);

void write_profile_csv(const recon::Profile1D& profile, const std::filesystem::path& file);
// The profile ("image") and, where present, its two scan directions ("rising", "falling") over x in mm.
LinePlotFigure write_profile_png(const recon::Profile1D& profile, const std::filesystem::path& file, const std::string& title);
// Reads a CSV written by write_profile_csv (x_mm and intensity columns) back into a profile.
recon::Profile1D read_profile_csv(const std::filesystem::path& file);

}  // namespace mpi::host
