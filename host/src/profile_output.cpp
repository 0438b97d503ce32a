#include "mpi/host/profile_output.hpp"

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

double pixel_x_mm(const recon::Profile1D& p, std::size_t i) { return (p.first_pixel_centre_m + static_cast<double>(i) * p.pixel_m) * 1e3; }

double at(const std::vector<double>& v, std::size_t i) { return i < v.size() ? v[i] : std::nan(""); }

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `span`.
double tick_step(double span, int target) {
  const double raw = span / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10.0 * power;
}

}  // namespace

void write_profile_csv(const recon::Profile1D& p, const std::filesystem::path& file) {
  std::ofstream out(file);
  if (!out) throw std::runtime_error(file.string() + ": cannot write");
  out << "x_mm,intensity,rising,falling\n" << std::setprecision(9);
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    out << pixel_x_mm(p, i) << ',' << p.values[i] << ',' << at(p.rising, i) << ',' << at(p.falling, i) << '\n';
  }
  if (!out) throw std::runtime_error(file.string() + ": write failed");
}

recon::Profile1D read_profile_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read");
  std::string line;
  std::getline(in, line);
  if (!line.starts_with("x_mm,intensity")) throw std::runtime_error(file.string() + ": not a profile CSV (header)");
  std::vector<double> x, v;
  std::size_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    double xv = 0, vv = 0;
    char comma = 0;
    std::istringstream fields(line);
    if (!(fields >> xv >> comma) || comma != ',') throw std::runtime_error(file.string() + ": line " + std::to_string(row) + ": bad x_mm");
    std::string value;
    std::getline(fields, value, ',');
    vv = value == "nan" || value == "-nan" ? std::nan("") : std::stod(value);
    x.push_back(xv * 1e-3);
    v.push_back(vv);
  }
  if (x.size() < 2) throw std::runtime_error(file.string() + ": fewer than two pixels");
  recon::Profile1D p;
  p.first_pixel_centre_m = x.front();
  p.pixel_m = (x.back() - x.front()) / static_cast<double>(x.size() - 1);
  p.values = std::move(v);
  return p;
}

void write_profile_png(const recon::Profile1D& p, const std::filesystem::path& file, const std::string& title) {
  constexpr int width = 900, height = 500;
  constexpr double left = 80, right = 20, top = 40, bottom = 60;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : p.values) {
    if (!std::isnan(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  lo = std::min(lo, 0.0);
  if (hi <= lo) hi = lo + 1;
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  const double x0 = pixel_x_mm(p, 0), x1 = pixel_x_mm(p, p.values.empty() ? 0 : p.values.size() - 1);
  const double xs = x1 > x0 ? x1 - x0 : 1.0;
  auto px = [&](double x_mm) { return left + (x_mm - x0) / xs * (width - left - right); };
  auto py = [&](double v) { return height - bottom - (v - lo) / (hi - lo) * (height - top - bottom); };

  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 13);
  cairo_set_line_width(cr, 1.0);
  // grid and x ticks
  const double step = tick_step(xs, 10);
  for (double t = std::ceil(x0 / step) * step; t <= x1 + 1e-9; t += step) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, px(t), top);
    cairo_line_to(cr, px(t), height - bottom);
    cairo_stroke(cr);
    char label[32];
    std::snprintf(label, sizeof label, "%g", std::abs(t) < 1e-12 ? 0.0 : t);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, label, &ext);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, px(t) - ext.width / 2, height - bottom + 18);
    cairo_show_text(cr, label);
  }
  const double ystep = tick_step(hi - lo, 6);
  for (double t = std::ceil(lo / ystep) * ystep; t <= hi; t += ystep) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, left, py(t));
    cairo_line_to(cr, width - right, py(t));
    cairo_stroke(cr);
    char label[32];
    std::snprintf(label, sizeof label, "%.3g", std::abs(t) < 1e-9 * ystep ? 0.0 : t);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, label, &ext);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, left - ext.width - 6, py(t) + ext.height / 2);
    cairo_show_text(cr, label);
  }
  // axes and labels
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, left, top, width - left - right, height - top - bottom);
  cairo_stroke(cr);
  cairo_move_to(cr, width / 2.0 - 30, height - 15);
  cairo_show_text(cr, "x (mm)");
  cairo_save(cr);
  cairo_move_to(cr, 18, height / 2.0 + 60);
  cairo_rotate(cr, -M_PI / 2);
  cairo_show_text(cr, "x-space intensity (particles/m)");
  cairo_restore(cr);
  cairo_set_font_size(cr, 15);
  cairo_move_to(cr, left, 25);
  cairo_show_text(cr, title.c_str());
  // the profile
  cairo_set_source_rgb(cr, 0.1, 0.3, 0.8);
  cairo_set_line_width(cr, 1.8);
  bool pen = false;
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    if (std::isnan(p.values[i])) {
      pen = false;
      continue;
    }
    if (pen) cairo_line_to(cr, px(pixel_x_mm(p, i)), py(p.values[i]));
    else cairo_move_to(cr, px(pixel_x_mm(p, i)), py(p.values[i]));
    pen = true;
  }
  cairo_stroke(cr);

  const cairo_status_t status = cairo_surface_write_to_png(surface, file.c_str());
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error(file.string() + ": cannot write PNG: " + cairo_status_to_string(status));
}

}  // namespace mpi::host
