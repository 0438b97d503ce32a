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

namespace {

// The maximum intensity projection of an image onto axes (u, v): map[v * nu + u].
std::vector<double> projection(const GridImage& image, int u_axis, int v_axis) {
  const recon::ImageGrid& g = image.grid;
  const auto nu = static_cast<std::size_t>(g.counts[static_cast<std::size_t>(u_axis)]);
  const auto nv = static_cast<std::size_t>(g.counts[static_cast<std::size_t>(v_axis)]);
  std::vector<double> map(nu * nv, -std::numeric_limits<double>::infinity());
  const auto n0 = static_cast<std::size_t>(g.counts[0]), n1 = static_cast<std::size_t>(g.counts[1]);
  for (std::size_t i = 0; i < image.values.size() && i < g.pixels(); ++i) {
    const std::array<std::size_t, 3> idx{i % n0, (i / n0) % n1, i / (n0 * n1)};
    double& m = map[idx[static_cast<std::size_t>(v_axis)] * nu + idx[static_cast<std::size_t>(u_axis)]];
    m = std::max(m, image.values[i]);
  }
  return map;
}

struct Panel {
  int u_axis = 0, v_axis = 1;
  std::vector<double> map;
  double x = 0, y = 0, scale = 1;  // top-left corner and pixel size on the page
};

void draw_panel(cairo_t* cr, const recon::ImageGrid& g, const Panel& p, double lo, double hi) {
  const int nu = g.counts[static_cast<std::size_t>(p.u_axis)], nv = g.counts[static_cast<std::size_t>(p.v_axis)];
  const double w = nu * p.scale, h = nv * p.scale;
  double r = 0, gr = 0, b = 0;
  for (int v = 0; v < nv; ++v) {
    for (int u = 0; u < nu; ++u) {
      const double value = p.map[static_cast<std::size_t>(v) * static_cast<std::size_t>(nu) + static_cast<std::size_t>(u)];
      colour((value - lo) / (hi - lo), r, gr, b);
      cairo_set_source_rgb(cr, r, gr, b);
      // the second axis grows upwards
      cairo_rectangle(cr, p.x + u * p.scale, p.y + (nv - 1 - v) * p.scale, p.scale, p.scale);
      cairo_fill(cr);
    }
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, 12);
  char label[64];
  const char* names = "xyz";
  const auto edge_mm = [&](int axis, int end) {
    const auto a = static_cast<std::size_t>(axis);
    const int n = g.counts[a];
    return (g.origin_m(axis) + (end == 0 ? -0.5 : n - 0.5) * (n > 1 ? g.pixel_m(axis) : 0.0)) * 1e3;
  };
  std::snprintf(label, sizeof label, "%.3g", edge_mm(p.u_axis, 0));
  cairo_move_to(cr, p.x, p.y + h + 16);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", edge_mm(p.u_axis, 1));
  cairo_move_to(cr, p.x + w - 24, p.y + h + 16);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%c (mm)", names[p.u_axis]);
  cairo_move_to(cr, p.x + w / 2 - 20, p.y + h + 36);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", edge_mm(p.v_axis, 0));
  cairo_move_to(cr, p.x - 62, p.y + h);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", edge_mm(p.v_axis, 1));
  cairo_move_to(cr, p.x - 62, p.y + 10);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%c (mm)", names[p.v_axis]);
  cairo_move_to(cr, p.x - 62, p.y + h / 2);
  cairo_show_text(cr, label);
}

}  // namespace

void write_image_png(const GridImage& image, const std::filesystem::path& file, const std::string& title) {
  const recon::ImageGrid& g = image.grid;
  std::vector<int> imaged;
  for (int a = 0; a < 3; ++a) {
    if (g.counts[static_cast<std::size_t>(a)] > 1) imaged.push_back(a);
  }
  // A volume: three orthogonal maximum intensity projections (xy, xz, yz) on one colour scale. Otherwise the
  // two first imaged axes (a 1D image is shown as one row), projected along the others.
  std::vector<Panel> panels;
  if (imaged.size() == 3) {
    panels = {Panel{0, 1, {}, 0, 0, 1}, Panel{0, 2, {}, 0, 0, 1}, Panel{1, 2, {}, 0, 0, 1}};
  } else {
    Panel p;
    if (imaged.size() == 2) p.u_axis = imaged[0], p.v_axis = imaged[1];
    else if (imaged.size() == 1) p.u_axis = imaged[0], p.v_axis = imaged[0] == 0 ? 1 : 0;
    panels.push_back(p);
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int largest = 1;
  for (Panel& p : panels) {
    p.map = projection(image, p.u_axis, p.v_axis);
    for (const double v : p.map) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    largest = std::max({largest, g.counts[static_cast<std::size_t>(p.u_axis)], g.counts[static_cast<std::size_t>(p.v_axis)]});
  }
  if (!std::isfinite(lo)) lo = 0.0, hi = 1.0;
  if (hi <= lo) hi = lo + 1.0;

  // One pixel size for all panels, so that millimetres look the same in each.
  const double scale = std::max(1.0, std::floor((panels.size() == 1 ? 480.0 : 300.0) / largest));
  constexpr double left = 70, top = 40, bottom = 55, bar = 120, gap = 80;
  double x = left, h = 0;
  for (Panel& p : panels) {
    p.x = x;
    p.y = top;
    p.scale = scale;
    x += g.counts[static_cast<std::size_t>(p.u_axis)] * scale + gap;
    h = std::max(h, g.counts[static_cast<std::size_t>(p.v_axis)] * scale);
  }
  const double right = x - gap;  // end of the last panel
  const int width = static_cast<int>(right + bar), height = static_cast<int>(top + h + bottom);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  for (const Panel& p : panels) draw_panel(cr, g, p, lo, hi);
  double r = 0, gr = 0, b = 0;
  for (int k = 0; k < 100; ++k) {
    colour(k / 99.0, r, gr, b);
    cairo_set_source_rgb(cr, r, gr, b);
    cairo_rectangle(cr, right + 20, top + h - (k + 1) * h / 100.0, 15, h / 100.0 + 1);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, 12);
  char label[64];
  std::snprintf(label, sizeof label, "%.3g", hi);
  cairo_move_to(cr, right + 38, top + 10);
  cairo_show_text(cr, label);
  std::snprintf(label, sizeof label, "%.3g", lo);
  cairo_move_to(cr, right + 38, top + h);
  cairo_show_text(cr, label);
  cairo_set_font_size(cr, 14);
  cairo_move_to(cr, left, 25);
  cairo_show_text(cr, (panels.size() == 3 ? title + " (maximum intensity projections)" : title).c_str());

  const cairo_status_t status = cairo_surface_write_to_png(surface, file.c_str());
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error(file.string() + ": cannot write PNG: " + cairo_status_to_string(status));
}

}  // namespace mpi::host
