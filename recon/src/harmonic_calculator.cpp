#include "mpi/recon/harmonic_calculator.hpp"

#include "mpi/recon/real_fft.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <complex>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mpi::recon {
namespace {

std::string trim(std::string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// Splits a header cell "H_mT", "H [mT]", "H (mT)" into quantity letter and unit. Empty unit when absent.
bool split_header(const std::string& cell, std::string& quantity, std::string& unit) {
  std::string c = cell;
  const std::size_t open = c.find_first_of("[(");
  if (open != std::string::npos) {
    const std::size_t close = c.find_first_of("])", open);
    quantity = trim(c.substr(0, open));
    unit = trim(c.substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1));
    return true;
  }
  const std::size_t us = c.find('_');
  if (us == std::string::npos) {
    quantity = c;
    unit.clear();
    return true;
  }
  quantity = trim(c.substr(0, us));
  unit = trim(c.substr(us + 1));
  return true;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Tesla per unit of field (flux density mu0 H); NaN when unknown.
double field_unit_to_t(const std::string& unit) {
  std::string u = unit;
  u.erase(std::remove(u.begin(), u.end(), ' '), u.end());
  if (u == "T") return 1.0;
  if (u == "mT") return 1e-3;
  if (u == "uT" || u == "\xC2\xB5T") return 1e-6;
  if (u == "Oe") return 1e-4;
  if (u == "kOe") return 1e-1;
  if (u == "A/m" || u == "A_per_m" || u == "Apm") return 4.0e-7 * 3.14159265358979323846;
  if (u == "kA/m" || u == "kA_per_m") return 4.0e-4 * 3.14159265358979323846;
  return std::numeric_limits<double>::quiet_NaN();
}

bool known_moment_unit(const std::string& unit) {
  static const char* const units[] = {"Am2", "A m2", "Am^2", "A m^2", "emu", "emu/g", "Am2/kg", "A/m", "kA/m", "au", "a.u."};
  for (const char* u : units)
    if (unit == u) return true;
  return false;
}

bool parse_double(const std::string& text, double& value) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  const auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && ptr == last;
}

// Fritsch-Carlson slopes of a monotone-preserving cubic Hermite interpolant.
std::vector<double> pchip_slopes(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  std::vector<double> delta(n - 1), m(n);
  for (std::size_t i = 0; i + 1 < n; ++i) delta[i] = (y[i + 1] - y[i]) / (x[i + 1] - x[i]);
  m[0] = delta[0];
  m[n - 1] = delta[n - 2];
  for (std::size_t i = 1; i + 1 < n; ++i) {
    if (delta[i - 1] * delta[i] <= 0.0) {
      m[i] = 0.0;
    } else {
      const double h0 = x[i] - x[i - 1], h1 = x[i + 1] - x[i];
      const double w1 = 2.0 * h1 + h0, w2 = h1 + 2.0 * h0;
      m[i] = (w1 + w2) / (w1 / delta[i - 1] + w2 / delta[i]);  // weighted harmonic mean
    }
  }
  return m;
}

double hermite(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& m, double t) {
  auto it = std::upper_bound(x.begin(), x.end(), t);
  std::size_t i = it == x.begin() ? 0 : static_cast<std::size_t>(it - x.begin()) - 1;
  if (i + 1 >= x.size()) i = x.size() - 2;
  const double h = x[i + 1] - x[i];
  const double s = (t - x[i]) / h;
  const double s2 = s * s, s3 = s2 * s;
  return (2 * s3 - 3 * s2 + 1) * y[i] + (s3 - 2 * s2 + s) * h * m[i] + (-2 * s3 + 3 * s2) * y[i + 1] +
         (s3 - s2) * h * m[i + 1];
}

}  // namespace

MhCurveError::MhCurveError(const std::string& source, int line, const std::string& what)
    : std::runtime_error(source + ":" + std::to_string(line) + ": " + what), line_(line) {}

MhCurve parse_mh_csv(std::string_view text, std::string_view source_name) {
  const std::string source(source_name);
  MhCurve curve;
  curve.source = source;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  int h_col = -1, m_col = -1, header_line = 0;
  double h_scale = 0.0;
  std::size_t columns = 0;
  std::vector<int> row_lines;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const std::vector<std::string> cells = split_csv(t);
    if (h_col < 0) {
      header_line = line_no;
      columns = cells.size();
      std::string h_unit, m_unit;
      for (std::size_t c = 0; c < cells.size(); ++c) {
        std::string q, u;
        split_header(cells[c], q, u);
        if ((q == "H" || q == "B" || lower(q) == "field") && h_col < 0) {
          h_col = static_cast<int>(c);
          h_unit = u;
        } else if ((q == "M" || lower(q) == "moment" || lower(q) == "magnetisation" || lower(q) == "magnetization") &&
                   m_col < 0) {
          m_col = static_cast<int>(c);
          m_unit = u;
        }
      }
      if (h_col < 0)
        throw MhCurveError(source, line_no, "missing field column: the header needs one named H with a unit (e.g. H_mT, H_Oe, H [A/m]), got '" + t + "'");
      if (m_col < 0)
        throw MhCurveError(source, line_no, "missing moment column: the header needs one named M with a unit (e.g. M_Am2, M_emu), got '" + t + "'");
      if (h_unit.empty()) throw MhCurveError(source, line_no, "field column '" + cells[static_cast<std::size_t>(h_col)] + "' names no unit");
      h_scale = field_unit_to_t(h_unit);
      if (std::isnan(h_scale))
        throw MhCurveError(source, line_no, "unknown field unit '" + h_unit + "' (known: T, mT, uT, Oe, kOe, A/m, kA/m)");
      if (m_unit.empty()) throw MhCurveError(source, line_no, "moment column '" + cells[static_cast<std::size_t>(m_col)] + "' names no unit");
      if (!known_moment_unit(m_unit))
        throw MhCurveError(source, line_no, "unknown moment unit '" + m_unit + "' (known: Am2, emu, emu/g, Am2/kg, A/m, kA/m, au)");
      curve.moment_unit = m_unit;
      continue;
    }
    if (cells.size() < columns)
      throw MhCurveError(source, line_no, "row has " + std::to_string(cells.size()) + " columns, the header " + std::to_string(columns));
    double h = 0.0, m = 0.0;
    const std::string& hs = cells[static_cast<std::size_t>(h_col)];
    const std::string& ms = cells[static_cast<std::size_t>(m_col)];
    if (!parse_double(hs, h)) throw MhCurveError(source, line_no, "field value '" + hs + "' is not a number");
    if (!parse_double(ms, m)) throw MhCurveError(source, line_no, "moment value '" + ms + "' is not a number");
    if (!std::isfinite(h)) throw MhCurveError(source, line_no, "field value '" + hs + "' is not finite");
    if (!std::isfinite(m)) throw MhCurveError(source, line_no, "moment value '" + ms + "' is not finite");
    curve.field_t.push_back(h * h_scale);
    curve.moment.push_back(m);
    row_lines.push_back(line_no);
  }
  if (h_col < 0) throw MhCurveError(source, line_no, "no header line (expected e.g. H_mT,M_Am2)");
  const std::size_t n = curve.field_t.size();
  if (n < 4) throw MhCurveError(source, line_no, "only " + std::to_string(n) + " data rows after the header on line " + std::to_string(header_line) + "; need at least 4");
  const bool increasing = curve.field_t[1] > curve.field_t[0];
  for (std::size_t i = 1; i < n; ++i) {
    const double d = curve.field_t[i] - curve.field_t[i - 1];
    if (!(increasing ? d > 0.0 : d < 0.0))
      throw MhCurveError(source, row_lines[i],
                         std::string("field is not strictly monotonic (") + (increasing ? "rising" : "falling") +
                             " until the line before, then " + (d == 0.0 ? "repeated" : (d > 0 ? "rising" : "falling")) +
                             "); give one branch of the loop");
  }
  if (!increasing) {
    std::reverse(curve.field_t.begin(), curve.field_t.end());
    std::reverse(curve.moment.begin(), curve.moment.end());
  }
  return curve;
}

MhCurve read_mh_csv(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw MhCurveError(path, 0, "cannot open the file");
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_mh_csv(ss.str(), path);
}

MhCurve langevin_mh_curve(const Tracer& tracer, double max_field_t, int points) {
  if (const std::string err = validate(tracer); !err.empty()) throw std::invalid_argument("langevin_mh_curve: " + err);
  if (!(max_field_t > 0.0) || !std::isfinite(max_field_t)) throw std::invalid_argument("langevin_mh_curve: max_field_t must be > 0");
  if (points < 4) throw std::invalid_argument("langevin_mh_curve: points must be >= 4");
  const ParticleEnsemble ensemble(tracer);
  MhCurve curve;
  curve.moment_unit = "Am2";
  curve.source = "langevin";
  for (int i = 0; i < points; ++i) {
    const double b = -max_field_t + 2.0 * max_field_t * i / (points - 1);
    curve.field_t.push_back(b);
    curve.moment.push_back(ensemble.mean_moment_a_m2(b));
  }
  return curve;
}

std::string mh_curve_csv(const MhCurve& curve) {
  std::ostringstream out;
  out.precision(17);
  out << "H_mT,M_" << (curve.moment_unit.empty() ? std::string("au") : curve.moment_unit) << "\n";
  for (std::size_t i = 0; i < curve.field_t.size(); ++i) out << curve.field_t[i] * 1e3 << "," << curve.moment[i] << "\n";
  return out.str();
}

double interpolate_moment(const MhCurve& curve, double field_t) {
  if (curve.field_t.size() < 2 || curve.field_t.size() != curve.moment.size())
    throw std::invalid_argument("interpolate_moment: curve needs >= 2 points and as many moments as fields");
  if (field_t < curve.field_t.front() || field_t > curve.field_t.back())
    throw std::invalid_argument("interpolate_moment: field outside the curve's range");
  const std::vector<double> m = pchip_slopes(curve.field_t, curve.moment);
  return hermite(curve.field_t, curve.moment, m, field_t);
}

void finish_harmonic_spectrum(HarmonicSpectrum& s) {
  if (s.amplitude.size() < 2) throw std::invalid_argument("finish_harmonic_spectrum: need the fundamental");
  const double a1 = s.amplitude[1];
  s.db.assign(s.amplitude.size(), 0.0);
  for (std::size_t n = 0; n < s.amplitude.size(); ++n)
    s.db[n] = s.amplitude[n] > 0.0 && a1 > 0.0 ? 20.0 * std::log10(s.amplitude[n] / a1)
                                               : -std::numeric_limits<double>::infinity();
  const auto at = [&](std::size_t n) { return n < s.amplitude.size() ? s.amplitude[n] : 0.0; };
  s.a3_over_a1 = a1 > 0.0 ? at(3) / a1 : 0.0;
  s.a5_over_a3 = at(3) > 0.0 ? at(5) / at(3) : 0.0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int count = 0;
  for (std::size_t n = 3; n < s.amplitude.size(); n += 2) {
    if (!std::isfinite(s.db[n])) continue;
    const double x = static_cast<double>(n);
    sx += x;
    sy += s.db[n];
    sxx += x * x;
    sxy += x * s.db[n];
    ++count;
  }
  s.decay_db_per_order = count >= 2 ? (count * sxy - sx * sy) / (count * sxx - sx * sx) : 0.0;
}

HarmonicSpectrum harmonic_spectrum(const MhCurve& curve, const HarmonicCalculatorOptions& o) {
  if (curve.field_t.size() < 4 || curve.field_t.size() != curve.moment.size())
    throw std::invalid_argument("harmonic_spectrum: the curve needs >= 4 points and as many moments as fields");
  if (!(o.drive_amplitude_t > 0.0) || !std::isfinite(o.drive_amplitude_t) || !std::isfinite(o.bias_t))
    throw std::invalid_argument("harmonic_spectrum: drive amplitude must be > 0 and finite");
  if (o.max_harmonic < 1 || o.points_per_period % 2 != 0 || o.points_per_period < 4 * o.max_harmonic)
    throw std::invalid_argument("harmonic_spectrum: need max_harmonic >= 1 and an even points_per_period >= 4 * max_harmonic");
  const double lo = o.bias_t - o.drive_amplitude_t, hi = o.bias_t + o.drive_amplitude_t;
  if (lo < curve.field_t.front() - 1e-12 || hi > curve.field_t.back() + 1e-12) {
    std::ostringstream msg;
    msg << "harmonic_spectrum: the drive reaches " << lo * 1e3 << " .. " << hi * 1e3 << " mT but the curve '"
        << curve.source << "' covers only " << curve.field_t.front() * 1e3 << " .. " << curve.field_t.back() * 1e3 << " mT";
    throw std::invalid_argument(msg.str());
  }
  const std::vector<double> slopes = pchip_slopes(curve.field_t, curve.moment);
  const std::size_t n = static_cast<std::size_t>(o.points_per_period);
  std::vector<double> m(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double b = std::clamp(o.bias_t + o.drive_amplitude_t * std::cos(2.0 * 3.14159265358979323846 * double(i) / double(n)),
                                curve.field_t.front(), curve.field_t.back());
    m[i] = hermite(curve.field_t, curve.moment, slopes, b);
  }
  RealFft fft(n);
  std::vector<std::complex<double>> spec(fft.bins());
  fft.forward(m, spec);
  HarmonicSpectrum s;
  const std::size_t count = static_cast<std::size_t>(o.max_harmonic) + 1;
  s.amplitude.assign(count, 0.0);
  s.phase_rad.assign(count, 0.0);
  for (std::size_t k = 0; k < count; ++k) {
    std::complex<double> c = spec[k] * ((k == 0 ? 1.0 : 2.0) / double(n));
    // dM/dt: harmonic k gains a factor j k (per unit angular drive frequency).
    if (o.quantity == HarmonicQuantity::induced_signal) c *= std::complex<double>(0.0, double(k));
    s.amplitude[k] = std::abs(c);
    s.phase_rad[k] = std::arg(c);
  }
  finish_harmonic_spectrum(s);
  return s;
}

}  // namespace mpi::recon
