#include "mpi/host/relax_report.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string csv_num(double v) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

class JsonObject {
 public:
  void add(const std::string& key, double v) { items_.emplace_back(key, num(v)); }
  void add(const std::string& key, const std::string& v) { items_.emplace_back(key, quoted(v)); }
  [[nodiscard]] std::string text() const {
    std::string out = "{\n";
    for (std::size_t i = 0; i < items_.size(); ++i) {
      out += "  " + quoted(items_[i].first) + ": " + items_[i].second + (i + 1 < items_.size() ? ",\n" : "\n");
    }
    return out + "}\n";
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error(file.string() + ": cannot write");
}

double mt(double t) { return t * 1e3; }

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

// A CSV with a header: columns by name.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  [[nodiscard]] std::vector<double> column(const std::string& name, const fs::path& file) const {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw std::runtime_error(file.string() + ": line 1: no column " + name);
    const auto c = static_cast<std::size_t>(it - header.begin());
    std::vector<double> out;
    for (const auto& r : rows) out.push_back(r[c]);
    return out;
  }
};

Csv read_csv(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read");
  Csv csv;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> cells = split_csv(line);
    if (csv.header.empty()) {
      csv.header = cells;
      continue;
    }
    if (cells.size() != csv.header.size()) {
      throw std::runtime_error(file.string() + ": line " + std::to_string(number) + ": " + std::to_string(cells.size()) + " cells, the header has " +
                               std::to_string(csv.header.size()));
    }
    std::vector<double> row;
    for (const std::string& cell : cells) {
      if (cell == "nan") {
        row.push_back(kNaN);
        continue;
      }
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      if (end == cell.c_str() || *end != '\0') throw std::runtime_error(file.string() + ": line " + std::to_string(number) + ": '" + cell + "' is not a number");
      row.push_back(v);
    }
    csv.rows.push_back(std::move(row));
  }
  if (csv.header.empty()) throw std::runtime_error(file.string() + ": empty");
  return csv;
}

// --- plots -----------------------------------------------------------------------------------------

const double kColours[][3] = {{0.1, 0.3, 0.8}, {0.85, 0.3, 0.1}, {0.1, 0.6, 0.2}, {0.6, 0.2, 0.7}, {0.8, 0.6, 0.0}, {0.2, 0.7, 0.8}, {0.4, 0.4, 0.4}};

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// Nice tick spacing for [lo, hi].
double tick_step(double lo, double hi) {
  const double span = hi - lo;
  if (!(span > 0)) return 1.0;
  const double raw = span / 6.0;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

struct Frame {
  cairo_surface_t* surface = nullptr;
  cairo_t* cr = nullptr;
  double left = 90, right = 30, top = 45, bottom = 55;
  int width = 900, height = 560;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  [[nodiscard]] double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  [[nodiscard]] double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }
};

Frame begin_plot(const std::string& title, const std::string& x_label, const std::string& y_label, double x0, double x1, double y0, double y1,
                 bool x_ticks = true) {
  Frame f;
  f.x0 = x0;
  f.x1 = x1;
  f.y0 = y0;
  f.y1 = y1;
  f.surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, f.width, f.height);
  f.cr = cairo_create(f.surface);
  cairo_t* cr = f.cr;
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 13);
  cairo_set_line_width(cr, 1.0);
  if (x_ticks) {
    const double sx = tick_step(x0, x1);
    for (double t = std::ceil(x0 / sx) * sx; t <= x1 + 1e-9 * sx; t += sx) {
      cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
      cairo_move_to(cr, f.px(t), f.top);
      cairo_line_to(cr, f.px(t), f.height - f.bottom);
      cairo_stroke(cr);
      const std::string label = tick_label(t);
      cairo_text_extents_t ext;
      cairo_text_extents(cr, label.c_str(), &ext);
      cairo_set_source_rgb(cr, 0, 0, 0);
      cairo_move_to(cr, f.px(t) - ext.width / 2, f.height - f.bottom + 18);
      cairo_show_text(cr, label.c_str());
    }
  }
  const double sy = tick_step(y0, y1);
  for (double t = std::ceil(y0 / sy) * sy; t <= y1 + 1e-9 * sy; t += sy) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, f.left, f.py(t));
    cairo_line_to(cr, f.width - f.right, f.py(t));
    cairo_stroke(cr);
    const std::string label = tick_label(t);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, label.c_str(), &ext);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, f.left - ext.width - 6, f.py(t) + ext.height / 2);
    cairo_show_text(cr, label.c_str());
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, f.left, f.top, f.width - f.left - f.right, f.height - f.top - f.bottom);
  cairo_stroke(cr);
  cairo_move_to(cr, f.width / 2.0 - 40, f.height - 15);
  cairo_show_text(cr, x_label.c_str());
  cairo_save(cr);
  cairo_move_to(cr, 18, f.height / 2.0 + 80);
  cairo_rotate(cr, -M_PI / 2);
  cairo_show_text(cr, y_label.c_str());
  cairo_restore(cr);
  cairo_set_font_size(cr, 15);
  cairo_move_to(cr, f.left, 28);
  cairo_show_text(cr, title.c_str());
  cairo_set_font_size(cr, 13);
  return f;
}

void legend(Frame& f, const std::vector<PlotSeries>& series) {
  cairo_t* cr = f.cr;
  double y = f.top + 20;
  for (std::size_t i = 0; i < series.size(); ++i) {
    if (series[i].label.empty()) continue;
    const double* c = kColours[i % std::size(kColours)];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_rectangle(cr, f.width - f.right - 230, y - 9, 14, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, f.width - f.right - 210, y);
    cairo_show_text(cr, series[i].label.c_str());
    y += 18;
  }
}

void end_plot(Frame& f, const fs::path& file) {
  cairo_destroy(f.cr);
  const cairo_status_t status = cairo_surface_write_to_png(f.surface, file.string().c_str());
  cairo_surface_destroy(f.surface);
  if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error(file.string() + ": cannot write PNG: " + cairo_status_to_string(status));
}

}  // namespace

void write_line_plot(const fs::path& file, const std::string& title, const std::string& x_label, const std::string& y_label,
                     const std::vector<PlotSeries>& series) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const PlotSeries& s : series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (!(x1 > x0)) {
    x0 = std::isfinite(x0) ? x0 - 1 : 0;
    x1 = x0 + 2;
  }
  if (!(y1 > y0)) {
    y0 = std::isfinite(y0) ? y0 - 1 : 0;
    y1 = y0 + 2;
  }
  const double pad = 0.05 * (y1 - y0);
  Frame f = begin_plot(title, x_label, y_label, x0, x1, y0 - pad, y1 + pad);
  cairo_set_line_width(f.cr, 1.8);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const double* c = kColours[k % std::size(kColours)];
    cairo_set_source_rgb(f.cr, c[0], c[1], c[2]);
    bool pen = false;
    const PlotSeries& s = series[k];
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        pen = false;
        continue;
      }
      if (pen) {
        cairo_line_to(f.cr, f.px(s.x[i]), f.py(s.y[i]));
      } else {
        cairo_move_to(f.cr, f.px(s.x[i]), f.py(s.y[i]));
        pen = true;
      }
    }
    cairo_stroke(f.cr);
  }
  legend(f, series);
  end_plot(f, file);
}

void write_bar_chart(const fs::path& file, const std::string& title, const std::string& y_label, const std::vector<std::string>& group_labels,
                     const std::vector<PlotSeries>& series) {
  double lo = 0.0;
  for (const PlotSeries& s : series) {
    for (const double v : s.y) {
      if (std::isfinite(v)) lo = std::min(lo, v);
    }
  }
  lo = std::floor(lo / 10.0) * 10.0 - 10.0;
  const double groups = static_cast<double>(std::max<std::size_t>(group_labels.size(), 1));
  Frame f = begin_plot(title, "harmonic", y_label, 0.0, groups, lo, 5.0, false);
  const double group_width = (f.width - f.left - f.right) / groups;
  const double bar = 0.8 * group_width / static_cast<double>(std::max<std::size_t>(series.size(), 1));
  for (std::size_t g = 0; g < group_labels.size(); ++g) {
    for (std::size_t k = 0; k < series.size(); ++k) {
      if (g >= series[k].y.size() || !std::isfinite(series[k].y[g])) continue;
      const double* c = kColours[k % std::size(kColours)];
      cairo_set_source_rgb(f.cr, c[0], c[1], c[2]);
      const double x = f.left + static_cast<double>(g) * group_width + 0.1 * group_width + static_cast<double>(k) * bar;
      const double ytop = f.py(std::min(0.0, series[k].y[g]));
      const double ybottom = f.py(lo);
      cairo_rectangle(f.cr, x, ytop, bar * 0.9, ybottom - ytop);
      cairo_fill(f.cr);
    }
    cairo_set_source_rgb(f.cr, 0, 0, 0);
    cairo_text_extents_t ext;
    cairo_text_extents(f.cr, group_labels[g].c_str(), &ext);
    cairo_move_to(f.cr, f.left + (static_cast<double>(g) + 0.5) * group_width - ext.width / 2, f.height - f.bottom + 18);
    cairo_show_text(f.cr, group_labels[g].c_str());
  }
  legend(f, series);
  end_plot(f, file);
}

std::string relax_result_json(const recon::RelaxometryResult& r, const RelaxContext& c) {
  JsonObject j;
  j.add("sample_name", c.sample.name);
  j.add("sample_batch", c.sample.batch);
  j.add("sample_notes", c.sample.notes);
  j.add("iron_ug", c.sample.iron_ug);
  j.add("core_size_nm", c.sample.core_size_nm > 0 ? c.sample.core_size_nm : kNaN);
  j.add("plan", c.plan_file);
  j.add("scanner", c.scanner_name);
  j.add("tracer_file", c.tracer_file);
  j.add("background", c.background);
  j.add("sweep_shape", c.shape);
  j.add("drive_frequency_hz", c.drive_frequency_hz);
  j.add("drive_amplitude_mT", mt(c.drive_amplitude_t));
  j.add("drive_amplitude_measured_mT", r.drive_amplitude_mt);
  j.add("bias_amplitude_mT", mt(c.bias_amplitude_t));
  j.add("sweep_rate_hz", c.sweep_rate_hz);
  j.add("sweeps", static_cast<double>(c.sweeps));
  j.add("cycles", static_cast<double>(r.cycles));
  j.add("fwhm_rising_mT", r.rising.fwhm_mt);
  j.add("fwhm_falling_mT", r.falling.fwhm_mt);
  j.add("fwhm_mT", r.fwhm_mean_mt);
  j.add("fwhm_mm", r.fwhm_mm);
  j.add("psf_peak_rising_Am2_per_T", r.rising.peak_a_m2_per_t);
  j.add("psf_peak_falling_Am2_per_T", r.falling.peak_a_m2_per_t);
  j.add("psf_peak_Am2_per_T", r.psf_peak_a_m2_per_t);
  j.add("psf_peak_per_ug_Am2_per_T_per_ug", r.psf_peak_per_ug);
  j.add("peak_offset_rising_mT", r.rising.peak_offset_mt);
  j.add("peak_offset_falling_mT", r.falling.peak_offset_mt);
  j.add("peak_separation_mT", r.peak_separation_mt);
  j.add("peak_height_asymmetry", r.peak_height_asymmetry);
  j.add("tau_centroid_us", r.tau_centroid_s * 1e6);
  j.add("tau_mirror_us", r.tau_mirror_s * 1e6);
  const auto amp = [&r](std::size_t n) { return n < r.harmonics.amplitude.size() ? r.harmonics.amplitude[n] : kNaN; };
  j.add("a1_V", amp(1));
  j.add("a3_V", amp(3));
  j.add("a3_over_a1", r.harmonics.a3_over_a1);
  j.add("a5_over_a3", r.harmonics.a5_over_a3);
  j.add("harmonic_decay_dB_per_order", r.harmonics.decay_db_per_order);
  j.add("a3_per_ug_V", r.a3_per_ug_v);
  j.add("a3_moment_rate_per_ug_Am2_per_s", r.a3_moment_rate_per_ug);
  j.add("saturation_moment_Am2", r.saturation_moment_a_m2);
  return j.text();
}

std::vector<std::string> write_relax_result(const recon::RelaxometryResult& r, const RelaxContext& c, const fs::path& out) {
  write_text(out / "result.json", relax_result_json(r, c));
  std::ostringstream psf;
  psf << "field_mT,psf_rising_Am2_per_T,psf_falling_Am2_per_T\n";
  for (std::size_t i = 0; i < r.field_mt.size(); ++i) {
    psf << csv_num(r.field_mt[i]) << ',' << csv_num(r.rising.psf_a_m2_per_t.at(i)) << ',' << csv_num(r.falling.psf_a_m2_per_t.at(i)) << '\n';
  }
  write_text(out / "psf.csv", psf.str());
  // M(H): the mean of both directions first, so `mpi harmonics --mh mh.csv` reads it.
  std::ostringstream mh;
  mh << "H_mT,M_Am2,M_rising_Am2,M_falling_Am2\n";
  for (std::size_t i = 0; i < r.field_mt.size(); ++i) {
    if (!std::isfinite(r.moment_mean_a_m2.at(i))) continue;
    mh << csv_num(r.field_mt[i]) << ',' << csv_num(r.moment_mean_a_m2[i]) << ',' << csv_num(r.rising.moment_a_m2.at(i)) << ','
       << csv_num(r.falling.moment_a_m2.at(i)) << '\n';
  }
  write_text(out / "mh.csv", mh.str());
  std::ostringstream h;
  h << "harmonic,amplitude_V,phase_rad,level_dB\n";
  for (std::size_t n = 1; n < r.harmonics.amplitude.size(); ++n) {
    h << n << ',' << csv_num(r.harmonics.amplitude[n]) << ',' << csv_num(n < r.harmonics.phase_rad.size() ? r.harmonics.phase_rad[n] : kNaN) << ','
      << csv_num(n < r.harmonics.db.size() ? r.harmonics.db[n] : kNaN) << '\n';
  }
  write_text(out / "harmonics.csv", h.str());

  const std::string who = c.sample.name;
  write_line_plot(out / "psf.png", "PSF, " + who + " (FWHM " + tick_label(r.rising.fwhm_mt) + " / " + tick_label(r.falling.fwhm_mt) + " mT)",
                  "applied field (mT)", "dM/dB (A m^2/T)",
                  {{"rising field", r.field_mt, r.rising.psf_a_m2_per_t}, {"falling field", r.field_mt, r.falling.psf_a_m2_per_t}});
  write_line_plot(out / "mh.png", "M(H), " + who, "applied field (mT)", "moment (A m^2)",
                  {{"rising field", r.field_mt, r.rising.moment_a_m2}, {"falling field", r.field_mt, r.falling.moment_a_m2},
                   {"mean", r.field_mt, r.moment_mean_a_m2}});
  std::vector<std::string> labels;
  PlotSeries bars{who, {}, {}};
  for (std::size_t n = 1; n < r.harmonics.db.size(); ++n) {
    labels.push_back(std::to_string(n));
    bars.y.push_back(r.harmonics.db[n]);
  }
  write_bar_chart(out / "harmonics.png", "harmonic spectrum at zero bias, " + who, "level relative to the fundamental (dB)", labels, {bars});
  return {"result.json", "psf.csv", "mh.csv", "harmonics.csv", "psf.png", "mh.png", "harmonics.png"};
}

std::map<std::string, std::string> read_flat_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read");
  std::map<std::string, std::string> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '{' || line[first] == '}') continue;
    const auto bad = [&](const std::string& why) { return std::runtime_error(file.string() + ": line " + std::to_string(number) + ": " + why); };
    if (line[first] != '"') throw bad("expected \"key\": value");
    const std::size_t key_end = line.find('"', first + 1);
    const std::size_t colon = key_end == std::string::npos ? key_end : line.find(':', key_end);
    if (colon == std::string::npos) throw bad("expected \"key\": value");
    const std::string key = line.substr(first + 1, key_end - first - 1);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == ',' || value.back() == ' ' || value.back() == '\r')) value.pop_back();
    const std::size_t v0 = value.find_first_not_of(' ');
    value = v0 == std::string::npos ? std::string() : value.substr(v0);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      std::string s;
      for (std::size_t i = 1; i + 1 < value.size(); ++i) {
        if (value[i] == '\\' && i + 2 < value.size()) {
          const char e = value[++i];
          s += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        } else {
          s += value[i];
        }
      }
      value = s;
    }
    out[key] = value;
  }
  return out;
}

recon::RelaxometryResult read_relax_result(const fs::path& folder) {
  const fs::path json = folder / "result.json";
  const auto j = read_flat_json(json);
  const auto number = [&](const std::string& key) {
    const auto it = j.find(key);
    if (it == j.end()) throw std::runtime_error(json.string() + ": no " + key);
    if (it->second == "null") return kNaN;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0') throw std::runtime_error(json.string() + ": " + key + ": '" + it->second + "' is not a number");
    return v;
  };
  recon::RelaxometryResult r;
  r.sample_name = j.count("sample_name") != 0 ? j.at("sample_name") : folder.filename().string();
  r.iron_mass_ug = number("iron_ug");
  r.rising.fwhm_mt = number("fwhm_rising_mT");
  r.falling.fwhm_mt = number("fwhm_falling_mT");
  r.fwhm_mean_mt = number("fwhm_mT");
  r.fwhm_mm = number("fwhm_mm");
  r.rising.peak_a_m2_per_t = number("psf_peak_rising_Am2_per_T");
  r.falling.peak_a_m2_per_t = number("psf_peak_falling_Am2_per_T");
  r.psf_peak_a_m2_per_t = number("psf_peak_Am2_per_T");
  r.psf_peak_per_ug = number("psf_peak_per_ug_Am2_per_T_per_ug");
  r.rising.peak_offset_mt = number("peak_offset_rising_mT");
  r.falling.peak_offset_mt = number("peak_offset_falling_mT");
  r.peak_separation_mt = number("peak_separation_mT");
  r.peak_height_asymmetry = number("peak_height_asymmetry");
  r.tau_centroid_s = number("tau_centroid_us") * 1e-6;
  r.tau_mirror_s = number("tau_mirror_us") * 1e-6;
  r.a3_per_ug_v = number("a3_per_ug_V");
  r.a3_moment_rate_per_ug = number("a3_moment_rate_per_ug_Am2_per_s");
  r.saturation_moment_a_m2 = number("saturation_moment_Am2");
  r.drive_amplitude_mt = number("drive_amplitude_measured_mT");
  r.cycles = static_cast<std::size_t>(number("cycles"));
  const fs::path psf_file = folder / "psf.csv";
  const Csv psf = read_csv(psf_file);
  r.field_mt = psf.column("field_mT", psf_file);
  r.rising.psf_a_m2_per_t = psf.column("psf_rising_Am2_per_T", psf_file);
  r.falling.psf_a_m2_per_t = psf.column("psf_falling_Am2_per_T", psf_file);
  r.rising.moment_a_m2.assign(r.field_mt.size(), kNaN);
  r.falling.moment_a_m2.assign(r.field_mt.size(), kNaN);
  r.moment_mean_a_m2.assign(r.field_mt.size(), kNaN);
  const fs::path h_file = folder / "harmonics.csv";
  const Csv h = read_csv(h_file);
  const std::vector<double> n = h.column("harmonic", h_file);
  const std::vector<double> a = h.column("amplitude_V", h_file);
  const std::vector<double> p = h.column("phase_rad", h_file);
  r.harmonics.amplitude.assign(1, 0.0);
  r.harmonics.phase_rad.assign(1, 0.0);
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (static_cast<std::size_t>(n[i]) != i + 1) throw std::runtime_error(h_file.string() + ": line " + std::to_string(i + 2) + ": harmonics must run 1, 2, 3, ...");
    r.harmonics.amplitude.push_back(a[i]);
    r.harmonics.phase_rad.push_back(p[i]);
  }
  if (r.harmonics.amplitude.size() >= 2) recon::finish_harmonic_spectrum(r.harmonics);
  return r;
}

std::vector<std::string> write_relax_comparison(const std::vector<recon::RelaxometryResult>& results, const fs::path& out) {
  const recon::ComparisonTable table = recon::compare_samples(results, 0);
  write_text(out / "comparison.csv", recon::comparison_csv(table));
  std::string json = "{\n  \"reference\": " + quoted(table.rows.at(table.reference).sample_name) + ",\n  \"samples\": [\n";
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    const recon::ComparisonRow& row = table.rows[i];
    JsonObject o;
    o.add("sample_name", row.sample_name);
    o.add("iron_ug", row.iron_mass_ug);
    o.add("fwhm_rising_mT", row.fwhm_rising_mt);
    o.add("fwhm_falling_mT", row.fwhm_falling_mt);
    o.add("fwhm_mT", row.fwhm_mean_mt);
    o.add("fwhm_mm", row.fwhm_mm);
    o.add("psf_peak_per_ug_Am2_per_T_per_ug", row.psf_peak_per_ug);
    o.add("a3_per_ug_V", row.a3_per_ug_v);
    o.add("a3_over_a1", row.a3_over_a1);
    o.add("a5_over_a3", row.a5_over_a3);
    o.add("harmonic_decay_dB_per_order", row.decay_db_per_order);
    o.add("peak_separation_mT", row.peak_separation_mt);
    o.add("tau_centroid_us", row.tau_centroid_us);
    o.add("tau_mirror_us", row.tau_mirror_us);
    o.add("sensitivity_change_pct", row.sensitivity_change_pct);
    o.add("resolution_change_pct", row.resolution_change_pct);
    o.add("sensitivity_rank", static_cast<double>(row.sensitivity_rank));
    o.add("resolution_rank", static_cast<double>(row.resolution_rank));
    std::string text = o.text();
    // Indent the object inside the array.
    std::string indented;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) indented += "    " + line + "\n";
    indented.pop_back();
    json += indented + (i + 1 < table.rows.size() ? ",\n" : "\n");
  }
  json += "  ]\n}\n";
  write_text(out / "comparison.json", json);

  std::vector<PlotSeries> psf;
  for (const auto& r : results) {
    // Per ug of iron, the mean of both directions: sensitivity and resolution at a glance.
    PlotSeries s{r.sample_name, r.field_mt, {}};
    for (std::size_t i = 0; i < r.field_mt.size(); ++i) {
      s.y.push_back(0.5 * (r.rising.psf_a_m2_per_t.at(i) + r.falling.psf_a_m2_per_t.at(i)) / r.iron_mass_ug);
    }
    psf.push_back(std::move(s));
  }
  write_line_plot(out / "psf_overlay.png", "PSF per ug Fe (mean of both scan directions)", "applied field (mT)", "dM/dB per ug Fe (A m^2/T/ug)", psf);
  std::size_t max_n = 0;
  for (const auto& r : results) max_n = std::max(max_n, r.harmonics.db.size());
  max_n = std::min<std::size_t>(max_n, 12);
  std::vector<std::string> labels;
  std::vector<PlotSeries> bars;
  for (std::size_t n = 1; n < max_n; n += 2) labels.push_back(std::to_string(n));
  for (const auto& r : results) {
    PlotSeries s{r.sample_name, {}, {}};
    for (std::size_t n = 1; n < max_n; n += 2) s.y.push_back(n < r.harmonics.db.size() ? r.harmonics.db[n] : kNaN);
    bars.push_back(std::move(s));
  }
  write_bar_chart(out / "harmonics_bars.png", "odd harmonics relative to the fundamental", "level (dB)", labels, bars);
  return {"comparison.csv", "comparison.json", "psf_overlay.png", "harmonics_bars.png"};
}

std::vector<std::string> write_harmonic_spectrum(const recon::HarmonicSpectrum& spectrum, const std::string& title, const fs::path& out) {
  std::ostringstream csv;
  csv << "harmonic,amplitude,phase_rad,level_dB\n";
  for (std::size_t n = 1; n < spectrum.amplitude.size(); ++n) {
    csv << n << ',' << csv_num(spectrum.amplitude[n]) << ',' << csv_num(n < spectrum.phase_rad.size() ? spectrum.phase_rad[n] : kNaN) << ','
        << csv_num(n < spectrum.db.size() ? spectrum.db[n] : kNaN) << '\n';
  }
  write_text(out / "spectrum.csv", csv.str());
  std::vector<std::string> labels;
  PlotSeries bars{"", {}, {}};
  for (std::size_t n = 1; n < spectrum.db.size(); ++n) {
    labels.push_back(std::to_string(n));
    bars.y.push_back(spectrum.db[n]);
  }
  write_bar_chart(out / "spectrum.png", title, "level relative to the fundamental (dB)", labels, {bars});
  return {"spectrum.csv", "spectrum.png"};
}

}  // namespace mpi::host
