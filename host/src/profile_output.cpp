#include "mpi/host/profile_output.hpp"

#include "plot_support.hpp"

#include <cairo.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace {

double pixel_x_mm(const recon::Profile1D& p, std::size_t i) { return (p.first_pixel_centre_m + static_cast<double>(i) * p.pixel_m) * 1e3; }

double at(const std::vector<double>& v, std::size_t i) { return i < v.size() ? v[i] : std::nan(""); }

// Line colours in series order (a qualitative palette that stays apart for colour-blind readers).
constexpr std::array<std::array<double, 3>, 8> kPalette{{{0.122, 0.467, 0.706},
                                                         {1.000, 0.498, 0.055},
                                                         {0.173, 0.627, 0.173},
                                                         {0.839, 0.153, 0.157},
                                                         {0.580, 0.404, 0.741},
                                                         {0.549, 0.337, 0.294},
                                                         {0.890, 0.467, 0.761},
                                                         {0.498, 0.498, 0.498}}};

constexpr double kTickFont = 12, kLabelFont = 13, kTitleFont = 15, kLegendFont = 12;

}  // namespace

LinePlotFigure write_line_plot_png(const std::vector<PlotSeries>& series, const PlotLabels& labels,
                                   const std::filesystem::path& file) {
  const std::string where = file.string() + ": ";
  if (series.empty()) throw std::invalid_argument(where + "plot without series");
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, lo = x_lo, hi = -x_lo;
  for (const PlotSeries& s : series) {
    if (s.x.size() != s.y.size()) {
      throw std::invalid_argument(where + "series '" + s.label + "' has " + std::to_string(s.x.size()) + " x values but " +
                                  std::to_string(s.y.size()) + " y values");
    }
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i])) throw std::invalid_argument(where + "series '" + s.label + "': x[" + std::to_string(i) + "] is not finite");
      if (std::isinf(s.y[i])) throw std::invalid_argument(where + "series '" + s.label + "': y[" + std::to_string(i) + "] is infinite");
      if (std::isnan(s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      lo = std::min(lo, s.y[i]);
      hi = std::max(hi, s.y[i]);
    }
  }
  if (!std::isfinite(lo)) throw std::invalid_argument(where + "no finite value to plot");
  plot::PngFile png(file);

  if (labels.include_zero) lo = std::min(lo, 0.0), hi = std::max(hi, 0.0);
  if (hi <= lo) {
    const double half = lo == 0.0 ? 0.5 : 0.1 * std::abs(lo);
    lo -= half;
    hi += half;
  }
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  if (x_hi <= x_lo) x_lo -= 0.5, x_hi += 0.5;

  // Margins from the text they hold.
  plot::Measure measure;
  double ystep = 1;
  const std::vector<double> yticks = plot::ticks(lo, hi, 8, &ystep);
  double tick_w = 0;
  for (const double t : yticks) tick_w = std::max(tick_w, measure.width(plot::tick_label(t, ystep), kTickFont));
  const double left = 12 + (labels.y_label.empty() ? 0 : 20) + tick_w + 8;
  constexpr double right = 24, top = 44, bottom = 58;
  const double title_w = measure.width(labels.title, kTitleFont);
  const int width = static_cast<int>(std::ceil(std::max(900.0, left + title_w + right)));
  constexpr int height = 500;

  LinePlotFigure figure;
  figure.width = width;
  figure.height = height;
  PlotArea& a = figure.area;
  a.name = "plot";
  a.left = left;
  a.top = top;
  a.width = width - left - right;
  a.height = height - top - bottom;
  a.x_min = x_lo, a.x_max = x_hi, a.y_min = lo, a.y_max = hi;

  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_line_width(cr, 1.0);

  // Grid lines and tick labels.
  cairo_set_font_size(cr, kTickFont);
  double xstep = 1;
  for (const double t : plot::ticks(x_lo, x_hi, 10, &xstep)) {
    const double px = std::round(a.canvas_x(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, px, a.top);
    cairo_line_to(cr, px, a.top + a.height);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, px, a.top + a.height);
    cairo_line_to(cr, px, a.top + a.height + 4);
    cairo_stroke(cr);
    plot::show_text(cr, plot::tick_label(t, xstep), px, a.top + a.height + 7, plot::Align::kCentre, plot::Align::kStart);
  }
  for (const double t : yticks) {
    const double py = std::round(a.canvas_y(t)) + 0.5;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, a.left, py);
    cairo_line_to(cr, a.left + a.width, py);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, a.left - 4, py);
    cairo_line_to(cr, a.left, py);
    cairo_stroke(cr);
    plot::show_text(cr, plot::tick_label(t, ystep), a.left - 7, py, plot::Align::kEnd, plot::Align::kCentre);
  }
  // The frame, the axis labels and the title.
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, a.left + 0.5, a.top + 0.5, a.width - 1, a.height - 1);
  cairo_stroke(cr);
  cairo_set_font_size(cr, kLabelFont);
  plot::show_text(cr, labels.x_label, a.left + a.width / 2, height - 10, plot::Align::kCentre, plot::Align::kEnd);
  if (!labels.y_label.empty()) plot::show_text_up(cr, labels.y_label, 20, a.top + a.height / 2);
  cairo_set_font_size(cr, kTitleFont);
  plot::show_text(cr, labels.title, a.left, 14, plot::Align::kStart, plot::Align::kStart);

  // The series, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, a.left, a.top, a.width, a.height);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const PlotSeries& s = series[k];
    const auto& c = kPalette[k % kPalette.size()];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, k == 0 ? 2.0 : 1.5);
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (std::isnan(s.y[i])) continue;
      const double px = a.canvas_x(s.x[i]), py = a.canvas_y(s.y[i]);
      const bool joined_before = i > 0 && !std::isnan(s.y[i - 1]);
      const bool joined_after = i + 1 < s.y.size() && !std::isnan(s.y[i + 1]);
      if (!joined_before && !joined_after) {  // a lone point
        cairo_new_sub_path(cr);
        cairo_arc(cr, px, py, 2.0, 0, 2 * M_PI);
        cairo_fill(cr);
        continue;
      }
      if (joined_before) cairo_line_to(cr, px, py);
      else cairo_move_to(cr, px, py);
    }
    cairo_stroke(cr);
  }
  cairo_restore(cr);

  // The legend, at the top right inside the plot area.
  if (series.size() > 1) {
    cairo_set_font_size(cr, kLegendFont);
    double label_w = 0;
    for (const PlotSeries& s : series) label_w = std::max(label_w, plot::text_width(cr, s.label));
    constexpr double row = 18, sample = 24;
    PlotArea& l = figure.legend;
    l.name = "legend";
    l.width = std::min(a.width - 16, 8 + sample + 6 + label_w + 8);
    l.height = 6 + row * static_cast<double>(series.size());
    l.left = a.left + a.width - l.width - 8;
    l.top = a.top + 8;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, l.left, l.top, l.width, l.height);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
    for (std::size_t k = 0; k < series.size(); ++k) {
      const double y = l.top + 3 + row * (static_cast<double>(k) + 0.5);
      const auto& c = kPalette[k % kPalette.size()];
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 3.0);
      cairo_move_to(cr, l.left + 8, y);
      cairo_line_to(cr, l.left + 8 + sample, y);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0, 0, 0);
      plot::show_text(cr, series[k].label, l.left + 8 + sample + 6, y, plot::Align::kStart, plot::Align::kCentre);
    }
  }

  png.finish(cr, surface);
  return figure;
}

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

LinePlotFigure write_profile_png(const recon::Profile1D& p, const std::filesystem::path& file, const std::string& title) {
  if (p.values.empty()) throw std::invalid_argument(file.string() + ": empty profile");
  std::vector<PlotSeries> series;
  const auto add = [&](const std::string& label, const std::vector<double>& values) {
    if (values.size() != p.values.size() || std::none_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) return;
    PlotSeries s{label, {}, values};
    s.x.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) s.x.push_back(pixel_x_mm(p, i));
    series.push_back(std::move(s));
  };
  add("image", p.values);
  if (series.empty()) throw std::invalid_argument(file.string() + ": profile has no finite value");
  add("rising", p.rising);
  add("falling", p.falling);
  return write_line_plot_png(series, PlotLabels{title, "x (mm)", "x-space intensity (particles/m)", true}, file);
}

}  // namespace mpi::host
