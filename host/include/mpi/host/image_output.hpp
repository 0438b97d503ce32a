// Writes a reconstructed image on a grid (1D, 2D or 3D) for people and programs: a CSV table (one row per
// pixel: x_mm, y_mm, z_mm of its centre, intensity; x fastest) and a PNG in millimetres with a colour bar:
// for a volume (three imaged axes) its three orthogonal maximum intensity projections (xy, xz, yz) side by
// side on one colour scale, else a map of the two first imaged axes (projected along the third).
#pragma once

#include "mpi/host/pipeline_lissajous.hpp"

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace mpi::host {

void write_image_csv(const GridImage& image, const std::filesystem::path& file);
void write_image_png(const GridImage& image, const std::filesystem::path& file, const std::string& title);

struct ImagePixel {
  std::array<double, 3> centre_m{};
  double value = 0.0;
};
// Reads a CSV written by write_image_csv back; throws std::runtime_error naming the file and line.
std::vector<ImagePixel> read_image_csv(const std::filesystem::path& file);

}  // namespace mpi::host
