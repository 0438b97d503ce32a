#include "mpi/host/image_output.hpp"

#include "mpi/host/profile_output.hpp"
#include "plot_support.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace {

// viridis sampled at t = 0, 1/9, ..., 1 (sRGB).
constexpr std::array<std::array<double, 3>, 10> kViridis{{{0x44, 0x01, 0x54},
                                                          {0x48, 0x28, 0x78},
                                                          {0x3e, 0x49, 0x89},
                                                          {0x31, 0x68, 0x8e},
                                                          {0x26, 0x82, 0x8e},
                                                          {0x1f, 0x9e, 0x89},
                                                          {0x35, 0xb7, 0x79},
                                                          {0x6e, 0xce, 0x58},
                                                          {0xb5, 0xde, 0x2b},
                                                          {0xfd, 0xe7, 0x25}}};

}  // namespace

std::array<double, 3> colour_map(double t) noexcept {
  if (!(t > 0.0)) t = 0.0;  // NaN too
  t = std::min(t, 1.0);
  const double position = t * static_cast<double>(kViridis.size() - 1);
  const auto k = std::min(static_cast<std::size_t>(position), kViridis.size() - 2);
  const double f = position - static_cast<double>(k);
  std::array<double, 3> rgb{};
  for (std::size_t c = 0; c < 3; ++c) rgb[c] = ((1 - f) * kViridis[k][c] + f * kViridis[k + 1][c]) / 255.0;
  return rgb;
}

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

constexpr double kTickFont = 11, kLabelFont = 12, kCaptionFont = 12, kTitleFont = 15, kSliceFont = 11;
constexpr char kAxisNames[] = "xyz";

// One axis of the grid in millimetres.
struct Axis {
  int index = 0;
  int count = 1;
  double first_mm = 0;  // centre of the first pixel
  double pixel_mm = 1;
  [[nodiscard]] double low_mm() const { return first_mm - pixel_mm / 2; }
  [[nodiscard]] double high_mm() const { return first_mm + (count - 0.5) * pixel_mm; }
  [[nodiscard]] double extent_mm() const { return count * pixel_mm; }
  [[nodiscard]] std::string label() const { return std::string(1, kAxisNames[index]) + " (mm)"; }
};

Axis grid_axis(const recon::ImageGrid& g, int a, const std::string& where) {
  Axis axis;
  axis.index = a;
  axis.count = g.counts[static_cast<std::size_t>(a)];
  axis.first_mm = g.origin_m(a) * 1e3;
  const double pixel_mm = g.pixel_m(a) * 1e3;
  if (axis.count > 1 && !(pixel_mm > 0 && std::isfinite(pixel_mm))) {
    throw std::invalid_argument(where + "the grid's pixel size along " + kAxisNames[a] + " is not a positive number");
  }
  if (!std::isfinite(axis.first_mm)) throw std::invalid_argument(where + "the grid's origin along " + kAxisNames[a] + " is not finite");
  // A collapsed axis (one pixel) may have no pixel size: it is drawn 1 mm wide.
  axis.pixel_mm = pixel_mm > 0 && std::isfinite(pixel_mm) ? pixel_mm : 1.0;
  return axis;
}

// A map to draw: values[v * u.count + u] (v grows upwards on the page).
struct Map {
  Axis u, v;
  std::vector<double> values;
};

// The maximum intensity projection of the image onto axes (u, v), or slice z = k when slice >= 0.
Map project(const GridImage& image, const Axis& u, const Axis& v, int slice = -1) {
  const recon::ImageGrid& g = image.grid;
  Map m{u, v, std::vector<double>(static_cast<std::size_t>(u.count) * static_cast<std::size_t>(v.count), -std::numeric_limits<double>::infinity())};
  const auto n0 = static_cast<std::size_t>(g.counts[0]), n1 = static_cast<std::size_t>(g.counts[1]);
  for (std::size_t i = 0; i < g.pixels(); ++i) {
    const std::array<std::size_t, 3> idx{i % n0, (i / n0) % n1, i / (n0 * n1)};
    if (slice >= 0 && idx[2] != static_cast<std::size_t>(slice)) continue;
    double& cell = m.values[idx[static_cast<std::size_t>(v.index)] * static_cast<std::size_t>(u.count) + idx[static_cast<std::size_t>(u.index)]];
    cell = std::max(cell, image.values[i]);
  }
  return m;
}

// The map in colour, nearest-neighbour scaled onto the panel's rectangle.
void draw_map(cairo_t* cr, const Map& m, const PlotArea& p, double lo, double hi) {
  cairo_surface_t* pixels = cairo_image_surface_create(CAIRO_FORMAT_RGB24, m.u.count, m.v.count);
  cairo_surface_flush(pixels);
  unsigned char* data = cairo_image_surface_get_data(pixels);
  const int stride = cairo_image_surface_get_stride(pixels);
  for (int row = 0; row < m.v.count; ++row) {
    auto* line = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(row) * stride);
    const int v = m.v.count - 1 - row;  // the second axis grows upwards
    for (int u = 0; u < m.u.count; ++u) {
      const double value = m.values[static_cast<std::size_t>(v) * static_cast<std::size_t>(m.u.count) + static_cast<std::size_t>(u)];
      const std::array<double, 3> c = colour_map((value - lo) / (hi - lo));
      const auto byte = [](double x) { return static_cast<std::uint32_t>(std::lround(x * 255.0)); };
      line[u] = (byte(c[0]) << 16) | (byte(c[1]) << 8) | byte(c[2]);
    }
  }
  cairo_surface_mark_dirty(pixels);
  cairo_save(cr);
  cairo_rectangle(cr, p.left, p.top, p.width, p.height);
  cairo_clip(cr);
  cairo_translate(cr, p.left, p.top);
  cairo_scale(cr, p.width / m.u.count, p.height / m.v.count);
  cairo_set_source_surface(cr, pixels, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(pixels);
  // A frame just outside the map.
  cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, p.left - 0.5, p.top - 0.5, p.width + 1, p.height + 1);
  cairo_stroke(cr);
}

// Ticks about every 60 px along an edge of `length` px over [lo, hi].
std::vector<double> edge_ticks(double lo, double hi, double length, double& step) {
  return plot::ticks(lo, hi, std::clamp(static_cast<int>(length / 60.0), 3, 10), &step);
}

// The space left of a panel for its tick labels and rotated axis label.
double left_margin(plot::Measure& measure, const PlotArea& p, double height) {
  double step = 1, widest = 0;
  for (const double t : edge_ticks(p.y_min, p.y_max, height, step)) widest = std::max(widest, measure.width(plot::tick_label(t, step), kTickFont));
  return 4 + 4 + widest + 8 + 14 + 6;
}
constexpr double kBottomMargin = 4 + 4 + 12 + 8 + 14 + 4;

void draw_axes(cairo_t* cr, const PlotArea& p, const std::string& u_label, const std::string& v_label, double margin) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1.0);
  cairo_set_font_size(cr, kTickFont);
  double step = 1;
  for (const double t : edge_ticks(p.x_min, p.x_max, p.width, step)) {
    const double x = std::round(p.canvas_x(t) - 0.5) + 0.5;
    cairo_move_to(cr, x, p.top + p.height + 1);
    cairo_line_to(cr, x, p.top + p.height + 5);
    cairo_stroke(cr);
    plot::show_text(cr, plot::tick_label(t, step), x, p.top + p.height + 8, plot::Align::kCentre, plot::Align::kStart);
  }
  double widest = 0;
  for (const double t : edge_ticks(p.y_min, p.y_max, p.height, step)) {
    const double y = std::round(p.canvas_y(t) - 0.5) + 0.5;
    cairo_move_to(cr, p.left - 1, y);
    cairo_line_to(cr, p.left - 5, y);
    cairo_stroke(cr);
    const std::string label = plot::tick_label(t, step);
    widest = std::max(widest, plot::text_width(cr, label));
    plot::show_text(cr, label, p.left - 8, y, plot::Align::kEnd, plot::Align::kCentre);
  }
  cairo_set_font_size(cr, kLabelFont);
  plot::show_text(cr, u_label, p.left + p.width / 2, p.top + p.height + kBottomMargin - 4, plot::Align::kCentre, plot::Align::kEnd);
  plot::show_text_up(cr, v_label, p.left - margin + 4 + 7, p.top + p.height / 2);
}

// The colour bar: viridis from low (bottom) to high (top), ticks on its right and the unit along it.
void draw_colour_bar(cairo_t* cr, const PlotArea& bar, const std::string& unit) {
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bar.top + bar.height, 0, bar.top);
  for (std::size_t k = 0; k < kViridis.size(); ++k) {
    const double t = static_cast<double>(k) / static_cast<double>(kViridis.size() - 1);
    cairo_pattern_add_color_stop_rgb(gradient, t, kViridis[k][0] / 255.0, kViridis[k][1] / 255.0, kViridis[k][2] / 255.0);
  }
  cairo_set_source(cr, gradient);
  cairo_rectangle(cr, bar.left, bar.top, bar.width, bar.height);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
  cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
  cairo_set_line_width(cr, 1.0);
  cairo_rectangle(cr, bar.left - 0.5, bar.top - 0.5, bar.width + 1, bar.height + 1);
  cairo_stroke(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, kTickFont);
  double step = 1, widest = 0;
  for (const double t : edge_ticks(bar.y_min, bar.y_max, bar.height, step)) {
    const double y = std::round(bar.canvas_y(t) - 0.5) + 0.5;
    cairo_move_to(cr, bar.left + bar.width + 1, y);
    cairo_line_to(cr, bar.left + bar.width + 5, y);
    cairo_stroke(cr);
    const std::string label = plot::tick_label(t, step);
    widest = std::max(widest, plot::text_width(cr, label));
    plot::show_text(cr, label, bar.left + bar.width + 8, y, plot::Align::kStart, plot::Align::kCentre);
  }
  cairo_set_font_size(cr, kLabelFont);
  plot::show_text_up(cr, unit, bar.left + bar.width + 8 + widest + 8 + 7, bar.top + bar.height / 2);
}

double colour_bar_space(plot::Measure& measure, double lo, double hi, double height) {
  double step = 1, widest = 0;
  for (const double t : edge_ticks(lo, hi, height, step)) widest = std::max(widest, measure.width(plot::tick_label(t, step), kTickFont));
  return 18 + 8 + widest + 8 + 14 + 10;
}

void check_values(const GridImage& image, const std::string& where) {
  const recon::ImageGrid& g = image.grid;
  if (std::any_of(g.counts.begin(), g.counts.end(), [](int n) { return n < 1; }) || image.values.empty()) {
    throw std::invalid_argument(where + "empty image (grid " + std::to_string(g.counts[0]) + " x " + std::to_string(g.counts[1]) + " x " +
                                std::to_string(g.counts[2]) + ", " + std::to_string(image.values.size()) + " values)");
  }
  if (image.values.size() != g.pixels()) {
    throw std::invalid_argument(where + "image has " + std::to_string(image.values.size()) + " values for a grid of " +
                                std::to_string(g.pixels()) + " pixels");
  }
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < image.values.size(); ++i) {
    if (!std::isfinite(image.values[i]) && bad++ == 0) first = i;
  }
  if (bad > 0) {
    const Eigen::Vector3d c = g.centre_m(first) * 1e3;
    char text[160];
    std::snprintf(text, sizeof text, "%zu pixel(s) not finite (NaN or infinite), the first at x = %g, y = %g, z = %g mm", bad, c.x(), c.y(),
                  c.z());
    throw std::invalid_argument(where + text);
  }
}

}  // namespace

ImageFigure write_image_png(const GridImage& image, const std::filesystem::path& file, const std::string& title, const std::string& unit) {
  const std::string where = file.string() + ": ";
  check_values(image, where);
  const recon::ImageGrid& g = image.grid;
  std::vector<int> imaged;
  for (int a = 0; a < 3; ++a) {
    if (g.counts[static_cast<std::size_t>(a)] > 1) imaged.push_back(a);
  }
  const std::array<Axis, 3> axes{grid_axis(g, 0, where), grid_axis(g, 1, where), grid_axis(g, 2, where)};

  if (imaged.size() == 1) {  // a line plot over the imaged axis
    const Axis& a = axes[static_cast<std::size_t>(imaged[0])];
    PlotSeries s{"image", {}, image.values};
    for (int i = 0; i < a.count; ++i) s.x.push_back(a.first_mm + i * a.pixel_mm);
    const LinePlotFigure plot = write_line_plot_png({s}, PlotLabels{title, a.label(), unit, false}, file);
    ImageFigure figure;
    figure.width = plot.width;
    figure.height = plot.height;
    figure.panels.push_back(plot.area);
    figure.low = plot.area.y_min;
    figure.high = plot.area.y_max;
    return figure;
  }
  plot::PngFile png(file);

  ImageFigure figure;
  const auto [lo_it, hi_it] = std::minmax_element(image.values.begin(), image.values.end());
  double lo = *lo_it, hi = *hi_it;
  if (hi <= lo) {
    const double half = lo == 0.0 ? 0.5 : 0.1 * std::abs(lo);
    lo -= half;
    hi += half;
  }
  figure.low = lo;
  figure.high = hi;

  // The maps: one (2D) or the three projections of a volume; then the volume's z slices.
  const bool volume = imaged.size() == 3;
  std::vector<Map> maps;
  std::vector<std::string> captions;
  if (volume) {
    maps = {project(image, axes[0], axes[1]), project(image, axes[0], axes[2]), project(image, axes[1], axes[2])};
    captions = {"projection xy (MIP)", "projection xz (MIP)", "projection yz (MIP)"};
  } else {
    const int u = imaged.size() == 2 ? imaged[0] : 0, v = imaged.size() == 2 ? imaged[1] : 1;
    maps = {project(image, axes[static_cast<std::size_t>(u)], axes[static_cast<std::size_t>(v)])};
    captions = {""};
  }
  // One scale in px per mm for all maps (at least one px per grid pixel), so that millimetres look the same.
  double longest_mm = 0, finest_mm = std::numeric_limits<double>::infinity();
  for (const Map& m : maps) {
    longest_mm = std::max({longest_mm, m.u.extent_mm(), m.v.extent_mm()});
    finest_mm = std::min({finest_mm, m.u.pixel_mm, m.v.pixel_mm});
  }
  const double scale = std::max((volume ? 300.0 : 480.0) / longest_mm, 1.0 / finest_mm);

  plot::Measure measure;
  constexpr double outer = 12;  // free border of the canvas
  const double top = outer + 22 + (volume ? 20 : 0);
  double x = outer, block_h = 0;
  for (std::size_t k = 0; k < maps.size(); ++k) {
    PlotArea p;
    p.name = volume ? std::string{kAxisNames[maps[k].u.index], kAxisNames[maps[k].v.index]} : "map";
    p.width = std::max(1.0, std::round(maps[k].u.extent_mm() * scale));
    p.height = std::max(1.0, std::round(maps[k].v.extent_mm() * scale));
    p.x_min = maps[k].u.low_mm(), p.x_max = maps[k].u.high_mm();
    p.y_min = maps[k].v.low_mm(), p.y_max = maps[k].v.high_mm();
    const double margin = left_margin(measure, p, p.height);
    p.left = std::round(x + margin);
    p.top = top;
    const double caption_w = measure.width(captions[k], kCaptionFont);
    x = std::max(p.left + p.width, p.left + p.width / 2 + caption_w / 2) + 16;
    block_h = std::max(block_h, p.height);
    figure.panels.push_back(p);
  }
  figure.projections = volume ? 3 : 0;
  double canvas_h = top + block_h + kBottomMargin;

  // The montage of z slices beside the projections, at most as tall as they are with their axes and about
  // as wide: the number of rows that gives the largest slices, at least one px per grid pixel.
  if (volume) {
    const Axis &ax = axes[0], &ay = axes[1], &az = axes[2];
    constexpr double caption_h = 16, gap = 10;
    const double width_limit = std::max(x - outer, 2 * block_h), height_limit = block_h + kBottomMargin;
    double best = 0;
    int rows = 1;
    for (int r = 1; r <= az.count; ++r) {
      const int c = (az.count + r - 1) / r;
      const double s = std::min((height_limit - r * caption_h - (r - 1) * gap) / (r * ay.extent_mm()), (width_limit - (c - 1) * gap) / (c * ax.extent_mm()));
      if (s > best) best = s, rows = r;
    }
    const double s = std::max(best, 1.0 / std::min(ax.pixel_mm, ay.pixel_mm));
    const int cols = (az.count + rows - 1) / rows;
    const double w = std::max(1.0, std::round(ax.extent_mm() * s)), h = std::max(1.0, std::round(ay.extent_mm() * s));
    double caption_w = 0;
    std::vector<std::string> names;
    for (int k = 0; k < az.count; ++k) {
      char text[48];
      std::snprintf(text, sizeof text, "z = %g mm", az.first_mm + k * az.pixel_mm);
      names.emplace_back(text);
      caption_w = std::max(caption_w, measure.width(names.back(), kSliceFont));
    }
    const double cell_w = std::ceil(std::max(w, caption_w)) + gap;
    const double x0 = x + 14;
    for (int k = 0; k < az.count; ++k) {
      PlotArea p;
      p.name = names[static_cast<std::size_t>(k)];
      p.width = w;
      p.height = h;
      p.left = std::round(x0 + (k % cols) * cell_w + (cell_w - gap - w) / 2);
      p.top = std::round(top + (k / cols) * (caption_h + h + gap) + caption_h);
      p.x_min = ax.low_mm(), p.x_max = ax.high_mm(), p.y_min = ay.low_mm(), p.y_max = ay.high_mm();
      figure.panels.push_back(p);
      maps.push_back(project(image, ax, ay, k));
      captions.push_back(p.name);
    }
    figure.slices = static_cast<std::size_t>(az.count);
    x = x0 + cols * cell_w;
    canvas_h = std::max(canvas_h, top + rows * (caption_h + h + gap) + outer);
  }

  // The colour bar, as tall as the maps' block.
  PlotArea& bar = figure.colour_bar;
  bar.name = "colour bar";
  bar.left = std::round(x + 10);
  bar.top = top;
  bar.width = 18;
  bar.height = block_h;
  bar.x_min = 0, bar.x_max = 1, bar.y_min = lo, bar.y_max = hi;
  const double unit_h = measure.width(unit, kLabelFont);
  canvas_h = std::max(canvas_h, top + unit_h + outer);
  x = bar.left + colour_bar_space(measure, lo, hi, bar.height) + outer;
  figure.width = static_cast<int>(std::ceil(std::max(x, 2 * outer + measure.width(title, kTitleFont))));
  figure.height = static_cast<int>(std::ceil(canvas_h));

  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, figure.width, figure.height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  for (std::size_t k = 0; k < maps.size(); ++k) {
    const PlotArea& p = figure.panels[k];
    draw_map(cr, maps[k], p, lo, hi);
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (k < maps.size() - figure.slices) {
      draw_axes(cr, p, maps[k].u.label(), maps[k].v.label(), left_margin(measure, p, p.height));
      cairo_set_font_size(cr, kCaptionFont);
      plot::show_text(cr, captions[k], p.left + p.width / 2, p.top - 6, plot::Align::kCentre, plot::Align::kEnd);
    } else {
      cairo_set_font_size(cr, kSliceFont);
      plot::show_text(cr, captions[k], p.left + p.width / 2, p.top - 4, plot::Align::kCentre, plot::Align::kEnd);
    }
  }
  draw_colour_bar(cr, bar, unit);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_font_size(cr, kTitleFont);
  plot::show_text(cr, title, outer, outer, plot::Align::kStart, plot::Align::kStart);
  png.finish(cr, surface);
  return figure;
}

}  // namespace mpi::host
