#include "mpi/host/image_output.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace {

// black -> red -> yellow -> white
void colour(double t, double& r, double& g, double& b) {
  t = std::clamp(t, 0.0, 1.0);
  r = std::min(1.0, 3.0 * t);
  g = std::clamp(3.0 * t - 1.0, 0.0, 1.0);
  b = std::clamp(3.0 * t - 2.0, 0.0, 1.0);
}

}  // namespace

void write_image_csv(const GridImage& image, const std::filesystem::path& file) {
  std::ofstream out(file);
  if (!out) throw std::runtime_error(file.string() + ": cannot write");
  out << "x_mm,y_mm,z_mm,intensity\n" << std::setprecision(17);
  for (std::size_t i = 0; i < image.values.size() && i < image.grid.pixels(); ++i) {
    const Eigen::Vector3d c = image.grid.centre_m(i) * 1e3;
    out << c.x() << ',' << c.y() << ',' << c.z() << ',' << image.values[i] << '\n';
  }
  if (!out) throw std::runtime_error(file.string() + ": write failed");
}

std::vector<ImagePixel> read_image_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read");
  std::string line;
  std::getline(in, line);
  if (line != "x_mm,y_mm,z_mm,intensity") throw std::runtime_error(file.string() + ": not an image CSV (header)");
  std::vector<ImagePixel> out;
  std::size_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    std::istringstream fields(line);
    ImagePixel p;
    std::string cell;
    for (int k = 0; k < 4; ++k) {
      if (!std::getline(fields, cell, ',')) throw std::runtime_error(file.string() + ": line " + std::to_string(row) + ": fewer than 4 columns");
      double v = 0.0;
      try {
        v = std::stod(cell);
      } catch (const std::exception&) {
        throw std::runtime_error(file.string() + ": line " + std::to_string(row) + ": '" + cell + "' is not a number");
      }
      if (k < 3) p.centre_m[static_cast<std::size_t>(k)] = v * 1e-3;
      else p.value = v;
    }
    out.push_back(p);
  }
  if (out.empty()) throw std::runtime_error(file.string() + ": no pixels");
  return out;
}

void write_image_png(const GridImage& image, const std::filesystem::path& file, const std::string& title) {
  const recon::ImageGrid& g = image.grid;
  // The two first imaged axes (a 1D image is shown as one row).
  std::array<int, 2> shown{0, 1};
  int found = 0;
  for (int a = 0; a < 3 && found < 2; ++a) {
    if (g.counts[static_cast<std::size_t>(a)] > 1) shown[static_cast<std::size_t>(found++)] = a;
  }
  if (found == 1) shown[1] = shown[0] == 0 ? 1 : 0;
  const int nu = g.counts[static_cast<std::size_t>(shown[0])], nv = g.counts[static_cast<std::size_t>(shown[1])];
  std::vector<double> map(static_cast<std::size_t>(nu) * static_cast<std::size_t>(nv), -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < image.values.size() && i < g.pixels(); ++i) {
    std::array<int, 3> idx{static_cast<int>(i % static_cast<std::size_t>(g.counts[0])),
                           static_cast<int>((i / static_cast<std::size_t>(g.counts[0])) % static_cast<std::size_t>(g.counts[1])),
                           static_cast<int>(i / (static_cast<std::size_t>(g.counts[0]) * static_cast<std::size_t>(g.counts[1])))};
    double& m = map[static_cast<std::size_t>(idx[static_cast<std::size_t>(shown[1])]) * static_cast<std::size_t>(nu) +
                    static_cast<std::size_t>(idx[static_cast<std::size_t>(shown[0])])];
    m = std::max(m, image.values[i]);  // maximum intensity projection along the axes not shown
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const double v : map) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) lo = 0.0, hi = 1.0;
  if (hi <= lo) hi = lo + 1.0;

  const double scale = std::max(1.0, std::floor(480.0 / std::max(nu, nv)));
  const double w = nu * scale, h = nv * scale;
  constexpr double left = 70, top = 40, bottom = 55, bar = 120;
  const int width = static_cast<int>(left + w + bar), height = static_cast<int>(top + h + bottom);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  double r = 0, gr = 0, b = 0;
  for (int v = 0; v < nv; ++v) {
    for (int u = 0; u < nu; ++u) {
      const double value = map[static_cast<std::size_t>(v) * static_cast<std::size_t>(nu) + static_cast<std::size_t>(u)];
      colour((value - lo) / (hi - lo), r, gr, b);
      cairo_set_source_rgb(cr, r, gr, b);
      // the second axis grows upwards
      cairo_rectangle(cr, left + u * scale, top + (nv - 1 - v) * scale, scale, scale);
      cairo_fill(cr);
    }
  }
  for (int k = 0; k < 100; ++k) {
    colour(k / 99.0, r, gr, b);
    cairo_set_source_rgb(cr, r, gr, b);
    cairo_rectangle(cr, left + w + 20, top + h - (k + 1) * h / 100.0, 15, h / 100.0 + 1);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 12);
  char label[64];
  const char* names = "xyz";
  const auto edge_mm = [&](int axis, int end) {
    const auto a = static_cast<std::size_t>(axis);
    const int n = g.counts[a];
    return (g.origin_m(axis) + (end == 0 ? -0.5 : n - 0.5) * (n > 1 ? g.pixel_m(axis) : 0.0)) * 1e3;
  };
  std::snprintf(label, sizeof label, "%.3g", edge_mm(shown[0], 0));
  cairo_move_to(cr, left, top + h + 16);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", edge_mm(shown[0], 1));
  cairo_move_to(cr, left + w - 24, top + h + 16);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%c (mm)", names[shown[0]]);
  cairo_move_to(cr, left + w / 2 - 20, top + h + 36);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", edge_mm(shown[1], 0));
  cairo_move_to(cr, 8, top + h);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", edge_mm(shown[1], 1));
  cairo_move_to(cr, 8, top + 10);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%c (mm)", names[shown[1]]);
  cairo_move_to(cr, 8, top + h / 2);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", hi);
  cairo_move_to(cr, left + w + 38, top + 10);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", lo);
  cairo_move_to(cr, left + w + 38, top + h);
  cairo_show_text(cr, label);
  cairo_set_font_size(cr, 14);
  cairo_move_to(cr, left, 25);
  cairo_show_text(cr, title.c_str());

  const cairo_status_t status = cairo_surface_write_to_png(surface, file.c_str());
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error(file.string() + ": cannot write PNG: " + cairo_status_to_string(status));
}

}  // namespace mpi::host
