// Drawing helpers shared by the image and profile writers (image_output.cpp, profile_output.cpp): tick
// values, number formatting, aligned text and PNG files written with one clear error.
#pragma once

#include <cairo.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace mpi::host::plot {

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `span` (> 0).
inline double tick_step(double span, int target) {
  const double raw = span / std::max(target, 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  }
  return 10.0 * power;
}

// The multiples of a nice step inside [lo, hi] (about `target` of them).
inline std::vector<double> ticks(double lo, double hi, int target, double* step_out = nullptr) {
  std::vector<double> out;
  if (!(hi > lo)) return out;
  const double step = tick_step(hi - lo, target);
  if (step_out != nullptr) *step_out = step;
  const double tolerance = 1e-9 * step;
  for (double k = std::ceil((lo - tolerance) / step); k * step <= hi + tolerance; k += 1.0) {
    const double t = k * step;
    out.push_back(std::abs(t) < tolerance ? 0.0 : t);
  }
  return out;
}

// A tick label: as few digits as the step needs ("2.5", "-10", "0.004", "1.5e+06").
inline std::string tick_label(double value, double step) {
  char text[32];
  const double magnitude = std::max(std::abs(value), std::abs(step));
  if (magnitude >= 1e5 || (magnitude > 0 && magnitude < 1e-3)) {
    std::snprintf(text, sizeof text, "%.3g", value);
  } else {
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(text, sizeof text, "%.*f", std::clamp(decimals, 0, 6), value);
  }
  return text;
}

enum class Align { kStart, kCentre, kEnd };

// Text with its ink box placed relative to (x, y): horizontally start/centre/end at x, vertically
// top/centre/baseline-bottom (kStart = the text's top at y, kCentre = centred on y, kEnd = its bottom at y).
inline void show_text(cairo_t* cr, const std::string& text, double x, double y, Align h, Align v) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  double ox = x - e.x_bearing;
  if (h == Align::kCentre) ox -= e.width / 2;
  if (h == Align::kEnd) ox -= e.width;
  double oy = y - e.y_bearing;
  if (v == Align::kCentre) oy -= e.height / 2;
  if (v == Align::kEnd) oy -= e.height;
  cairo_move_to(cr, ox, oy);
  cairo_show_text(cr, text.c_str());
}

// Text rotated a quarter turn anticlockwise (reading upwards), centred on (x, y).
inline void show_text_up(cairo_t* cr, const std::string& text, double x, double y) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -M_PI / 2);
  show_text(cr, text, 0, 0, Align::kCentre, Align::kCentre);
  cairo_restore(cr);
}

inline double text_width(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, text.c_str(), &e);
  return e.x_advance > e.width ? e.x_advance : e.width;
}

// A scratch context for measuring text before the canvas size is known.
class Measure {
 public:
  Measure() : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)), cr_(cairo_create(surface_)) {
    cairo_select_font_face(cr_, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  }
  ~Measure() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  Measure(const Measure&) = delete;
  Measure& operator=(const Measure&) = delete;
  double width(const std::string& text, double size) {
    cairo_set_font_size(cr_, size);
    return text_width(cr_, text);
  }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

// Opens the output first, so that a folder that does not exist or cannot be written is reported as bad
// input (std::invalid_argument naming the file) before any drawing.
class PngFile {
 public:
  explicit PngFile(const std::filesystem::path& file) : file_(file), f_(std::fopen(file.c_str(), "wb")) {
    if (f_ == nullptr) throw std::invalid_argument(file.string() + ": cannot write PNG: " + std::strerror(errno));
  }
  ~PngFile() {
    if (f_ != nullptr) std::fclose(f_);
  }
  PngFile(const PngFile&) = delete;
  PngFile& operator=(const PngFile&) = delete;

  void write(cairo_surface_t* surface) {
    const cairo_status_t status = cairo_surface_write_to_png_stream(surface, &PngFile::sink, this);
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error(file_.string() + ": cannot write PNG: " + cairo_status_to_string(status));
    if (!closed) throw std::runtime_error(file_.string() + ": cannot write PNG: " + std::strerror(errno));
  }

  // Ends the drawing: releases the context, writes the surface and releases it, also when writing fails.
  void finish(cairo_t* cr, cairo_surface_t* surface) {
    cairo_destroy(cr);
    try {
      write(surface);
    } catch (...) {
      cairo_surface_destroy(surface);
      throw;
    }
    cairo_surface_destroy(surface);
  }

 private:
  static cairo_status_t sink(void* self, const unsigned char* data, unsigned int length) {
    auto* png = static_cast<PngFile*>(self);
    return std::fwrite(data, 1, length, png->f_) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
  }
  std::filesystem::path file_;
  std::FILE* f_;
};

}  // namespace mpi::host::plot
