#include "mpi/host/analysis_report.hpp"

#include "mpi/host/image_output.hpp"
#include "mpi/host/profile_output.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <span>
#include <sstream>
#include <stdexcept>

namespace mpi::host {

namespace fs = std::filesystem;

namespace {

constexpr double kMm = 1e3;      // m -> mm
constexpr double kUg = 1e9;      // kg -> ug
constexpr double kMm3 = 1e9;     // m^3 -> mm^3

const char* axis_name(recon::Axis a) { return a == recon::Axis::x ? "x" : a == recon::Axis::y ? "y" : "z"; }

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream s;
  s << std::setprecision(10) << v;
  return s.str();
}

std::string csv_number(double v) {
  std::ostringstream s;
  s << std::setprecision(10) << v;
  return s.str();
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string csv_text(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string mm3(const Eigen::Vector3d& v) {
  return "[" + number(v.x() * kMm) + ", " + number(v.y() * kMm) + ", " + number(v.z() * kMm) + "]";
}

// "mm", "mm2" or "mm3": the unit of a voxel's measure over the imaged axes.
std::string measure_unit(const recon::AnalysisImage& image) {
  const int d = image.dimensions();
  return d <= 0 ? "" : d == 1 ? "mm" : "mm" + std::to_string(d);
}

double measure_in_mm(const recon::AnalysisImage& image) { return image.voxel_measure() * std::pow(kMm, image.dimensions()); }

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  if (!out) throw std::runtime_error(file.string() + ": cannot write");
  out << text;
  out.flush();
  if (!out) throw std::runtime_error(file.string() + ": write failed");
}

std::string fit_json(const ProfileFit& f) {
  if (!f.fit) return "{\"error\": " + quoted(f.error) + "}";
  const recon::PeakFit& p = *f.fit;
  std::ostringstream s;
  s << "{\"amplitude\": " << number(p.amplitude()) << ", \"amplitude_se\": " << number(p.amplitude_se())
    << ", \"centre_mm\": " << number(p.centre() * kMm) << ", \"centre_se_mm\": " << number(p.centre_se() * kMm)
    << ", \"fwhm_mm\": " << number(p.fwhm() * kMm) << ", \"fwhm_se_mm\": " << number(p.fwhm_se() * kMm)
    << ", \"offset\": " << number(p.offset()) << ", \"offset_se\": " << number(p.offset_se()) << ", \"r_squared\": " << number(p.r_squared)
    << ", \"residual_rms\": " << number(p.residual_rms) << ", \"points\": " << p.points << "}";
  return s.str();
}

std::string analysis_json(const AnalysisResult& r) {
  const recon::AnalysisImage& im = r.image;
  std::ostringstream j;
  j << "{\n  \"image\": " << quoted(r.image_file.string()) << ",\n";
  j << "  \"grid\": {\"counts\": [" << im.counts[0] << ", " << im.counts[1] << ", " << im.counts[2] << "], \"first_centre_mm\": " << mm3(im.origin_m)
    << ", \"pixel_mm\": " << mm3(im.pixel_m) << ", \"dimensions\": " << im.dimensions() << "},\n";
  if (r.profile) {
    const ProfileResult& p = *r.profile;
    j << "  \"profile\": {\"axis\": \"" << axis_name(p.profile.axis) << "\", \"through_mm\": " << mm3(p.profile.through_m)
      << ", \"points\": " << p.profile.values.size() << ", \"fit_window_mm\": [" << number(p.profile.position_m[p.fit_window.first] * kMm) << ", "
      << number(p.profile.position_m[p.fit_window.last] * kMm) << "],\n    \"gaussian\": " << fit_json(p.gaussian) << ",\n    \"lorentzian\": "
      << fit_json(p.lorentzian) << "},\n";
  } else {
    j << "  \"profile\": null,\n";
  }
  if (r.calibration) {
    const recon::IronCalibration& c = *r.calibration;
    j << "  \"calibration\": {\"reference\": " << quoted(c.reference) << ", \"reference_iron_ug\": " << number(c.reference_iron_kg * kUg)
      << ", \"reference_signal\": " << number(c.reference_signal) << ", \"signal_per_ug\": " << number(c.signal_per_kg / kUg) << "},\n";
  } else {
    j << "  \"calibration\": null,\n";
  }
  const std::string unit = measure_unit(im);
  j << "  \"rois\": [";
  for (std::size_t k = 0; k < r.rois.size(); ++k) {
    const RoiResult& x = r.rois[k];
    const recon::RoiStats& s = x.stats;
    j << (k == 0 ? "\n" : ",\n") << "    {\"name\": " << quoted(s.name) << ", \"shape\": \"" << recon::to_string(x.spec.roi.shape)
      << "\", \"centre_mm\": " << mm3(x.spec.roi.centre_m) << ", \"voxels\": " << s.voxels << ", \"peak\": " << number(s.peak)
      << ", \"peak_at_mm\": " << mm3(s.peak_at_m) << ", \"sum\": " << number(s.sum) << ", \"mean\": " << number(s.mean);
    if (!unit.empty()) j << ", \"integral_value_" << unit << "\": " << number(s.sum * measure_in_mm(im));
    j << ", \"background_voxels\": " << s.background_voxels << ", \"background_mean\": " << number(s.background_mean)
      << ", \"net_sum\": " << number(s.net_sum);
    j << ", \"iron_ug\": " << (x.iron_kg ? number(*x.iron_kg * kUg) : "null");
    j << ", \"known_iron_ug\": " << (x.spec.known_iron_kg ? number(*x.spec.known_iron_kg * kUg) : "null");
    const bool compare = x.iron_kg && x.spec.known_iron_kg;
    j << ", \"iron_error_percent\": " << (compare ? number((*x.iron_kg / *x.spec.known_iron_kg - 1.0) * 100.0) : "null");
    j << ", \"sample_volume_mm3\": " << (x.spec.sample_volume_m3 ? number(*x.spec.sample_volume_m3 * kMm3) : "null");
    j << ", \"concentration_mmol_per_L\": " << (x.concentration_mol_per_m3 ? number(*x.concentration_mol_per_m3) : "null") << "}";
  }
  j << (r.rois.empty() ? "]\n" : "\n  ]\n") << "}\n";
  return j.str();
}

std::string rois_csv(const AnalysisResult& r) {
  std::ostringstream c;
  const std::string unit = measure_unit(r.image);
  c << "name,shape,voxels,peak,peak_x_mm,peak_y_mm,peak_z_mm,sum,mean,integral_value_" << (unit.empty() ? "voxel" : unit)
    << ",background_voxels,background_mean,net_sum,iron_ug,known_iron_ug,iron_error_percent,concentration_mmol_per_L\n";
  for (const RoiResult& x : r.rois) {
    const recon::RoiStats& s = x.stats;
    c << csv_text(s.name) << ',' << recon::to_string(x.spec.roi.shape) << ',' << s.voxels << ',' << csv_number(s.peak) << ','
      << csv_number(s.peak_at_m.x() * kMm) << ',' << csv_number(s.peak_at_m.y() * kMm) << ',' << csv_number(s.peak_at_m.z() * kMm) << ','
      << csv_number(s.sum) << ',' << csv_number(s.mean) << ',' << csv_number(s.sum * measure_in_mm(r.image)) << ',' << s.background_voxels
      << ',' << csv_number(s.background_mean) << ',' << csv_number(s.net_sum) << ',';
    if (x.iron_kg) c << csv_number(*x.iron_kg * kUg);
    c << ',';
    if (x.spec.known_iron_kg) c << csv_number(*x.spec.known_iron_kg * kUg);
    c << ',';
    if (x.iron_kg && x.spec.known_iron_kg) c << csv_number((*x.iron_kg / *x.spec.known_iron_kg - 1.0) * 100.0);
    c << ',';
    if (x.concentration_mol_per_m3) c << csv_number(*x.concentration_mol_per_m3);
    c << '\n';
  }
  return c.str();
}

std::vector<double> fit_curve(const recon::PeakFit& f, const std::vector<double>& x_mm) {
  std::vector<double> y;
  for (double x : x_mm) y.push_back(f(x / kMm));
  return y;
}

void write_profile_files(const ProfileResult& p, const fs::path& out) {
  const std::vector<double>& pos = p.profile.position_m;
  std::ostringstream c;
  c << axis_name(p.profile.axis) << "_mm,value,gaussian,lorentzian\n";
  for (std::size_t i = 0; i < pos.size(); ++i) {
    c << csv_number(pos[i] * kMm) << ',' << csv_number(p.profile.values[i]) << ',';
    if (p.gaussian.fit) c << csv_number((*p.gaussian.fit)(pos[i]));
    c << ',';
    if (p.lorentzian.fit) c << csv_number((*p.lorentzian.fit)(pos[i]));
    c << '\n';
  }
  write_text(out / "profile.csv", c.str());

  // Data as dots (each point its own line, broken by a NaN), fits as lines over 400 points.
  std::vector<PlotSeries> series(1);
  series[0].label = "image";
  for (std::size_t i = 0; i < pos.size(); ++i) {
    series[0].x.insert(series[0].x.end(), {pos[i] * kMm, pos[i] * kMm});
    series[0].y.insert(series[0].y.end(), {p.profile.values[i], std::nan("")});
  }
  std::vector<double> fine;
  const double lo = pos.front() * kMm, hi = pos.back() * kMm;
  for (int i = 0; i <= 400; ++i) fine.push_back(lo + (hi - lo) * i / 400.0);
  for (const auto* f : {&p.gaussian, &p.lorentzian}) {
    if (!f->fit) continue;
    char label[96];
    std::snprintf(label, sizeof label, "%s fit: FWHM %.3g +- %.2g mm", f == &p.gaussian ? "Gaussian" : "Lorentzian", f->fit->fwhm() * kMm,
                  f->fit->fwhm_se() * kMm);
    series.push_back({label, fine, fit_curve(*f->fit, fine)});
  }
  PlotLabels labels;
  const Eigen::Vector3d t = p.profile.through_m * kMm;
  char title[160];
  std::snprintf(title, sizeof title, "profile along %s through (%.4g, %.4g, %.4g) mm", axis_name(p.profile.axis), t.x(), t.y(), t.z());
  labels.title = title;
  labels.x_label = std::string(axis_name(p.profile.axis)) + " (mm)";
  labels.y_label = "image value";
  labels.include_zero = false;
  write_line_plot_png(series, labels, out / "profile.png");
}

}  // namespace

recon::AnalysisImage read_analysis_image(const fs::path& csv) {
  std::vector<ImagePixel> pixels;
  try {
    pixels = read_image_csv(csv);
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(e.what());
  }
  std::vector<Eigen::Vector3d> centres;
  std::vector<double> values;
  for (const ImagePixel& p : pixels) {
    centres.emplace_back(p.centre_m[0], p.centre_m[1], p.centre_m[2]);
    values.push_back(p.value);
  }
  try {
    return recon::image_from_samples(centres, values);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(csv.string() + ": " + e.what());
  }
}

AnalysisResult analyze_image(const recon::AnalysisImage& image, const AnalysisRequest& request) {
  recon::throw_if_invalid(image);
  AnalysisResult r;
  r.image = image;
  std::optional<recon::Axis> axis = request.profile_axis;
  if (!axis) {
    for (std::size_t a = 0; a < 3 && !axis; ++a) {
      if (image.counts[a] > 1) axis = static_cast<recon::Axis>(a);
    }
  }
  if (axis) {
    ProfileResult p;
    p.profile = recon::line_profile(image, *axis, request.profile_through_m);
    p.fit_window = recon::peak_fit_window(p.profile.values);
    const std::size_t count = p.fit_window.last - p.fit_window.first + 1;
    const std::span<const double> x = std::span(p.profile.position_m).subspan(p.fit_window.first, count);
    const std::span<const double> y = std::span(p.profile.values).subspan(p.fit_window.first, count);
    for (auto [model, slot] : {std::pair{recon::PeakModel::gaussian, &p.gaussian}, std::pair{recon::PeakModel::lorentzian, &p.lorentzian}}) {
      try {
        slot->fit = recon::fit_peak(x, y, model);
      } catch (const std::exception& e) {  // FitError, or too few points / a flat profile
        slot->error = e.what();
      }
    }
    r.profile = std::move(p);
  }
  if (request.spec) {
    for (const RoiSpec& spec : request.spec->rois) r.rois.push_back({spec, recon::roi_statistics(image, spec.roi), std::nullopt, std::nullopt});
    if (const auto& cal = request.spec->calibration) {
      const RoiResult* reference = nullptr;
      for (const RoiResult& x : r.rois) {
        if (x.stats.name == cal->reference) reference = &x;
      }
      if (reference == nullptr) throw std::invalid_argument("calibration: no region named '" + cal->reference + "'");
      r.calibration = recon::calibrate_iron(reference->stats, cal->iron_kg);
      for (RoiResult& x : r.rois) {
        x.iron_kg = recon::quantify_iron_kg(*r.calibration, x.stats);
        if (x.spec.sample_volume_m3) x.concentration_mol_per_m3 = recon::iron_concentration_mol_per_m3(*x.iron_kg, *x.spec.sample_volume_m3);
      }
    }
  }
  return r;
}

std::string analysis_report(const AnalysisResult& r) {
  std::ostringstream t;
  const recon::AnalysisImage& im = r.image;
  t << "image " << r.image_file.string() << ": " << im.counts[0] << " x " << im.counts[1] << " x " << im.counts[2] << " voxels";
  for (std::size_t a = 0; a < 3; ++a) {
    if (im.counts[a] > 1) t << ", " << "xyz"[a] << " pitch " << im.pixel_m[static_cast<Eigen::Index>(a)] * kMm << " mm";
  }
  t << "\n";
  char line[256];
  if (r.profile) {
    const ProfileResult& p = *r.profile;
    const Eigen::Vector3d at = p.profile.through_m * kMm;
    std::snprintf(line, sizeof line, "profile along %s through (%.4g, %.4g, %.4g) mm, %zu points; peak fitted over %.4g .. %.4g mm\n",
                  axis_name(p.profile.axis), at.x(), at.y(), at.z(), p.profile.values.size(), p.profile.position_m[p.fit_window.first] * kMm,
                  p.profile.position_m[p.fit_window.last] * kMm);
    t << line;
    for (const auto* f : {&p.gaussian, &p.lorentzian}) {
      const char* name = f == &p.gaussian ? "gaussian" : "lorentzian";
      if (!f->fit) {
        t << "  " << name << ": no fit: " << f->error << "\n";
        continue;
      }
      const recon::PeakFit& x = *f->fit;
      std::snprintf(line, sizeof line, "  %-10s FWHM %.4g +- %.2g mm, centre %.4g +- %.2g mm, amplitude %.4g +- %.2g, offset %.4g +- %.2g, R^2 %.4f\n",
                    name, x.fwhm() * kMm, x.fwhm_se() * kMm, x.centre() * kMm, x.centre_se() * kMm, x.amplitude(), x.amplitude_se(), x.offset(),
                    x.offset_se(), x.r_squared);
      t << line;
    }
  }
  if (r.calibration) {
    std::snprintf(line, sizeof line, "calibration: '%s' holds %.4g ug of iron: %.6g per ug\n", r.calibration->reference.c_str(),
                  r.calibration->reference_iron_kg * kUg, r.calibration->signal_per_kg / kUg);
    t << line;
  }
  if (!r.rois.empty()) {
    std::snprintf(line, sizeof line, "%-16s %-9s %6s %11s %11s %11s %11s %10s %10s %8s %9s\n", "region", "shape", "voxels", "peak", "sum", "background",
                  "net sum", "iron ug", "truth ug", "error %", "mmol/L");
    t << line;
    for (const RoiResult& x : r.rois) {
      const recon::RoiStats& s = x.stats;
      const auto opt = [](const std::optional<double>& v, double scale, const char* format) {
        if (!v) return std::string("-");
        char b[32];
        std::snprintf(b, sizeof b, format, *v * scale);
        return std::string(b);
      };
      std::optional<double> error;
      if (x.iron_kg && x.spec.known_iron_kg) error = (*x.iron_kg / *x.spec.known_iron_kg - 1.0) * 100.0;
      std::snprintf(line, sizeof line, "%-16s %-9s %6zu %11.4g %11.4g %11.4g %11.4g %10s %10s %8s %9s\n", s.name.c_str(),
                    recon::to_string(x.spec.roi.shape), s.voxels, s.peak, s.sum, s.background_voxels > 0 ? s.background_mean : 0.0, s.net_sum,
                    opt(x.iron_kg, kUg, "%.4g").c_str(), opt(x.spec.known_iron_kg, kUg, "%.4g").c_str(), opt(error, 1.0, "%+.2f").c_str(),
                    opt(x.concentration_mol_per_m3, 1.0, "%.4g").c_str());
      t << line;
    }
    t << "(sum: plain sum of the region's values; background: mean of its shell, per voxel; net sum = sum - voxels x background)\n";
  }
  return t.str();
}

void write_analysis(const AnalysisResult& result, const fs::path& out_dir) {
  write_text(out_dir / "analysis.json", analysis_json(result));
  if (!result.rois.empty()) write_text(out_dir / "rois.csv", rois_csv(result));
  if (result.profile) write_profile_files(*result.profile, out_dir);
  write_text(out_dir / "report.txt", analysis_report(result));
}

}  // namespace mpi::host
