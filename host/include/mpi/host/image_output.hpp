// Writes a reconstructed image on a grid (1D, 2D or 3D) for people and programs: a CSV table (one row per
// pixel: x_mm, y_mm, z_mm of its centre, intensity; x fastest) and a PNG in millimetres with a colour bar
// on a perceptual colour map (viridis: dark blue for the lowest value, yellow for the highest):
//   - a 2D image (two imaged axes): the map with ticked axes in mm, a title and the colour bar with its unit;
//   - a volume (three imaged axes): its three maximum intensity projections (xy, xz, yz) with axes in mm,
//     then a montage of all z slices (each labelled with its z in mm), all on one shared colour scale;
//   - a 1D image (one imaged axis): a line plot of the value over the axis in mm.
// The writers return the layout they drew (plot areas in canvas pixels and the data ranges they show), so
// that programs can map a pixel of the PNG back to millimetres.
#pragma once

#include "mpi/host/pipeline_lissajous.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mpi::host {

// A plot area on a PNG canvas: its pixel rectangle (canvas pixel (0, 0) is the top-left corner; pixel
// (i, j) covers [i, i + 1) x [j, j + 1)) and the data range it shows: x_min at the left edge, x_max at the
// right edge, y_min at the bottom edge and y_max at the top edge. For image panels the ranges are in mm and
// run over the outer edges of the grid's pixels (first centre - pixel / 2 to last centre + pixel / 2).
struct PlotArea {
  std::string name;  // "xy", "xz", "yz" (projections), "z = 1.5 mm" (slices), "colour bar", "plot"
  double left = 0, top = 0, width = 0, height = 0;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;

  [[nodiscard]] double x_of(double canvas_x) const noexcept { return x_min + (canvas_x - left) / width * (x_max - x_min); }
  [[nodiscard]] double y_of(double canvas_y) const noexcept { return y_max - (canvas_y - top) / height * (y_max - y_min); }
  [[nodiscard]] double canvas_x(double x) const noexcept { return left + (x - x_min) / (x_max - x_min) * width; }
  [[nodiscard]] double canvas_y(double y) const noexcept { return top + (y_max - y) / (y_max - y_min) * height; }
};

// What write_image_png drew. panels: one map (2D) or plot (1D); for a volume first the projections xy, xz,
// yz, then one panel per z slice in z order. colour_bar: x range 0..1, y range low..high (the values of its
// bottom and top edges); empty (width 0) for a 1D plot.
struct ImageFigure {
  int width = 0, height = 0;
  std::vector<PlotArea> panels;
  std::size_t projections = 0;
  std::size_t slices = 0;
  PlotArea colour_bar;
  double low = 0, high = 1;
};

void write_image_csv(const GridImage& image, const std::filesystem::path& file);

// Throws std::invalid_argument naming the file for an image without pixels, with fewer values than the grid
// has pixels, with NaN or infinite values, or for a file that cannot be opened for writing;
// std::runtime_error when writing fails half-way. unit labels the colour bar (e.g. "ug Fe / pixel").
ImageFigure write_image_png(const GridImage& image, const std::filesystem::path& file, const std::string& title,
                            const std::string& unit = "a.u.");

// The colour map of the images at t in [0, 1] (clamped): viridis as sRGB components in [0, 1],
// piecewise linear between ten samples from #440154 (t = 0) to #fde725 (t = 1); its lightness rises
// monotonically, so brighter means more.
std::array<double, 3> colour_map(double t) noexcept;

struct ImagePixel {
  std::array<double, 3> centre_m{};
  double value = 0.0;
};
// Reads a CSV written by write_image_csv back; throws std::runtime_error naming the file and line.
std::vector<ImagePixel> read_image_csv(const std::filesystem::path& file);

}  // namespace mpi::host
