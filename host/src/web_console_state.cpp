// ConsoleState: what the web console shows, and its WebSocket messages as JSON (docs/console.md).
#include "mpi/host/web_console.hpp"

#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only: compiled into this one translation unit

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numbers>
#include <sstream>

namespace mpi::host {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kAxisNames[3] = {"x", "y", "z"};

// Finite numbers as numbers, anything else as null (JSON has no NaN).
json::value number(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

// Values quantised to integers 0..1000 between the plane's min and max (-1: unsampled); keeps messages small.
json::object plane_json(const ImagePlane& p) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const double v : p.values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  json::array q;
  q.reserve(p.values.size());
  const double span = hi > lo ? hi - lo : 1.0;
  for (const double v : p.values) q.emplace_back(std::isfinite(v) ? std::lround(1000.0 * (v - lo) / span) : -1L);
  json::object o;
  o["name"] = p.name;
  o["u_axis"] = p.u_axis;
  o["v_axis"] = p.v_axis;
  o["nu"] = p.nu;
  o["nv"] = p.nv;
  o["u0_mm"] = p.u0_mm;
  o["v0_mm"] = p.v0_mm;
  o["du_mm"] = p.du_mm;
  o["dv_mm"] = p.dv_mm;
  o["min"] = number(std::isfinite(lo) ? lo : kNaN);
  o["max"] = number(std::isfinite(hi) ? hi : kNaN);
  o["q"] = std::move(q);
  return o;
}

std::vector<double> split_numbers(const std::string& line) {
  std::vector<double> out;
  std::stringstream s(line);
  std::string cell;
  while (std::getline(s, cell, ',')) {
    try {
      out.push_back(std::stod(cell));
    } catch (const std::exception&) {
      out.push_back(kNaN);
    }
  }
  return out;
}

}  // namespace

std::vector<ImagePlane> display_planes(const GridImage& image) {
  const auto& g = image.grid;
  std::vector<int> imaged;
  for (int a = 0; a < 3; ++a) {
    if (g.counts[static_cast<std::size_t>(a)] > 1) imaged.push_back(a);
  }
  if (imaged.empty()) imaged.push_back(0);
  if (image.values.size() != g.pixels()) return {};
  const auto plane_of = [&](int ua, int va, const std::string& name) {
    ImagePlane p;
    p.name = name;
    p.u_axis = kAxisNames[ua];
    p.v_axis = va < 0 ? "" : kAxisNames[va];
    p.nu = g.counts[static_cast<std::size_t>(ua)];
    p.nv = va < 0 ? 1 : g.counts[static_cast<std::size_t>(va)];
    p.u0_mm = g.origin_m[ua] * 1e3;
    p.du_mm = g.pixel_m[ua] * 1e3;
    p.v0_mm = va < 0 ? 0.0 : g.origin_m[va] * 1e3;
    p.dv_mm = va < 0 ? 0.0 : g.pixel_m[va] * 1e3;
    p.values.assign(static_cast<std::size_t>(p.nu) * static_cast<std::size_t>(p.nv), kNaN);
    return p;
  };
  const auto at = [&](int ix, int iy, int iz) { return image.values[g.index(ix, iy, iz)]; };
  std::vector<ImagePlane> planes;
  if (imaged.size() <= 2) {
    // One plane: the imaged axes (the others have one pixel).
    const int ua = imaged[0];
    const int va = imaged.size() == 2 ? imaged[1] : -1;
    ImagePlane p = plane_of(ua, va, va < 0 ? std::string(kAxisNames[ua]) : std::string(kAxisNames[ua]) + "-" + kAxisNames[va]);
    for (int iz = 0; iz < g.counts[2]; ++iz) {
      for (int iy = 0; iy < g.counts[1]; ++iy) {
        for (int ix = 0; ix < g.counts[0]; ++ix) {
          const int i[3] = {ix, iy, iz};
          const auto u = static_cast<std::size_t>(i[ua]);
          const auto v = va < 0 ? std::size_t{0} : static_cast<std::size_t>(i[va]);
          p.values[v * static_cast<std::size_t>(p.nu) + u] = at(ix, iy, iz);
        }
      }
    }
    planes.push_back(std::move(p));
    return planes;
  }
  // 3D: three maximum intensity projections and the central x-y slice.
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (const auto& pr : pairs) {
    ImagePlane p = plane_of(pr[0], pr[1], std::string("MIP ") + kAxisNames[pr[0]] + "-" + kAxisNames[pr[1]]);
    for (int iz = 0; iz < g.counts[2]; ++iz) {
      for (int iy = 0; iy < g.counts[1]; ++iy) {
        for (int ix = 0; ix < g.counts[0]; ++ix) {
          const int i[3] = {ix, iy, iz};
          const double v = at(ix, iy, iz);
          if (!std::isfinite(v)) continue;
          double& cell = p.values[static_cast<std::size_t>(i[pr[1]]) * static_cast<std::size_t>(p.nu) + static_cast<std::size_t>(i[pr[0]])];
          if (!std::isfinite(cell) || v > cell) cell = v;
        }
      }
    }
    planes.push_back(std::move(p));
  }
  const int zc = g.counts[2] / 2;
  std::ostringstream name;
  name.setf(std::ios::fixed);
  name.precision(1);
  name << "slice x-y (z = " << (g.origin_m.z() + zc * g.pixel_m.z()) * 1e3 << " mm)";
  ImagePlane s = plane_of(0, 1, name.str());
  for (int iy = 0; iy < g.counts[1]; ++iy) {
    for (int ix = 0; ix < g.counts[0]; ++ix) s.values[static_cast<std::size_t>(iy * g.counts[0] + ix)] = at(ix, iy, zc);
  }
  planes.push_back(std::move(s));
  return planes;
}

std::vector<double> harmonic_levels_dbfs(std::span<const std::int16_t> interleaved, std::uint32_t channels, std::uint32_t channel,
                                         double sample_rate_hz, double fundamental_hz, int count) {
  std::vector<double> levels;
  if (channels == 0 || channel >= channels || !(sample_rate_hz > 0.0) || !(fundamental_hz > 0.0)) return levels;
  const std::size_t n = interleaved.size() / channels;
  if (n == 0) return levels;
  for (int k = 1; k <= count; ++k) {
    // Goertzel at f = k f0 (any real frequency): X(f) = sum x[i] e^{-j 2 pi f i / fs}.
    const double w = 2.0 * std::numbers::pi * k * fundamental_hz / sample_rate_hz;
    const double c = 2.0 * std::cos(w);
    double s1 = 0.0, s2 = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double s0 = interleaved[i * channels + channel] + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    // X = s1 - e^{-jw} s2 up to a phase factor; |X|^2 = s1^2 + s2^2 - c s1 s2.
    const double mag2 = std::max(0.0, s1 * s1 + s2 * s2 - c * s1 * s2);
    const double amplitude = 2.0 * std::sqrt(mag2) / static_cast<double>(n);
    levels.push_back(amplitude > 0.0 ? std::max(-200.0, 20.0 * std::log10(amplitude / 32767.0)) : -200.0);
  }
  return levels;
}

std::optional<PsfCurve> newest_psf(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return std::nullopt;
  fs::path best;
  fs::file_time_type best_time{};
  fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() >= 3) it.disable_recursion_pending();
    if (it->path().filename() != "psf.csv" || !it->is_regular_file(ec)) continue;
    const auto t = fs::last_write_time(it->path(), ec);
    if (!ec && (best.empty() || t > best_time)) {
      best = it->path();
      best_time = t;
    }
  }
  if (best.empty()) return std::nullopt;
  std::ifstream in(best);
  std::string line;
  if (!std::getline(in, line) || line.rfind("field_mT,", 0) != 0) return std::nullopt;
  PsfCurve c;
  c.file = best;
  while (std::getline(in, line)) {
    const std::vector<double> v = split_numbers(line);
    if (v.size() < 3) continue;
    c.field_mt.push_back(v[0]);
    c.rising.push_back(v[1]);
    c.falling.push_back(v[2]);
  }
  if (c.field_mt.empty()) return std::nullopt;
  return c;
}

ConsoleState::ConsoleState(std::chrono::milliseconds frame_copy_interval) : interval_(frame_copy_interval) {}

void ConsoleState::set_board(BoardView board) {
  const std::lock_guard lock(mutex_);
  board_ = std::move(board);
}

BoardView ConsoleState::board() const {
  const std::lock_guard lock(mutex_);
  return board_;
}

void ConsoleState::set_scan(ScanView scan) {
  const std::lock_guard lock(mutex_);
  scan_ = std::move(scan);
}

ScanView ConsoleState::scan() const {
  const std::lock_guard lock(mutex_);
  return scan_;
}

void ConsoleState::set_psf(std::optional<PsfCurve> psf) {
  const std::lock_guard lock(mutex_);
  const bool changed = psf.has_value() != psf_.has_value() || (psf && (psf->file != psf_->file || psf->field_mt != psf_->field_mt));
  psf_ = std::move(psf);
  if (changed) ++psf_sequence_;
}

void ConsoleState::set_session_info(std::string plan, std::string scanner, std::string out) {
  const std::lock_guard lock(mutex_);
  plan_ = std::move(plan);
  scanner_ = std::move(scanner);
  out_ = std::move(out);
}

void ConsoleState::on_frame(const LiveFrameEvent& event) {
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(mutex_);
  scan_.frames = event.frames_done;
  scan_.planned = event.frames_planned;
  scan_.dropped = event.frames_dropped;
  if (live_.sequence > 0 && now - last_copy_ < interval_) return;
  last_copy_ = now;
  ++live_.sequence;
  live_.frames_done = event.frames_done;
  live_.frames_planned = event.frames_planned;
  live_.grid = event.image != nullptr;
  if (event.image != nullptr) live_.image = *event.image;
  if (event.profile != nullptr) live_.profile = *event.profile;
  live_.channel0.clear();
  if (event.frame != nullptr && event.frame->channels > 0) {
    const std::size_t n = event.frame->samples.size() / event.frame->channels;
    live_.channel0.resize(n);
    for (std::size_t i = 0; i < n; ++i) live_.channel0[i] = event.frame->samples[i * event.frame->channels];
  }
  if (event.setup != nullptr) {
    live_.sample_rate_hz = event.setup->sample_rate_hz;
    live_.fundamental_hz = !event.setup->drives.empty() ? event.setup->drives.front().frequency_hz : event.setup->drive.frequency_hz;
  }
}

void ConsoleState::clear_image() {
  const std::lock_guard lock(mutex_);
  const std::uint64_t sequence = live_.sequence;
  live_ = Live{};
  live_.sequence = sequence;  // sequences only grow: a session's `seen` stays meaningful
}

std::string ConsoleState::status_json() const {
  const std::lock_guard lock(mutex_);
  json::object o;
  o["type"] = "status";
  json::object b;
  b["connection"] = board_.connection;
  b["board"] = board_.board;
  b["mode"] = board_.mode;
  b["state"] = board_.state;
  b["write_pointer"] = board_.write_pointer;
  b["scan_id"] = board_.scan_id;
  b["gradient_t_per_m"] = number(board_.gradient_t_per_m);
  json::array drives;
  for (const auto& d : board_.drives) {
    json::object j;
    j["channel"] = d.channel;
    j["name"] = d.name;
    j["frequency_hz"] = number(d.frequency_hz);
    j["target_mt"] = number(d.target_t * 1e3);
    j["measured_mt"] = number(d.measured_t * 1e3);
    j["error_percent"] = number(d.target_t != 0.0 ? 100.0 * (d.measured_t - d.target_t) / d.target_t : kNaN);
    j["applied_amplitude"] = number(d.applied_amplitude);
    j["verdict"] = d.verdict;
    drives.push_back(std::move(j));
  }
  b["drives"] = std::move(drives);
  json::array temps;
  for (const auto& t : board_.temperatures) {
    temps.push_back(json::object{{"name", t.name}, {"celsius", number(t.celsius)}, {"limit_celsius", number(t.limit_celsius)}});
  }
  b["temperatures"] = std::move(temps);
  json::array faults;
  for (const auto& f : board_.faults) {
    faults.push_back(json::object{{"kind", f.kind}, {"channel", f.channel}, {"sample", f.sample}, {"message", f.message}});
  }
  b["faults"] = std::move(faults);
  o["board"] = std::move(b);
  o["scan"] = json::object{{"state", scan_.state}, {"message", scan_.message}, {"frames", scan_.frames},
                           {"planned", scan_.planned}, {"dropped", scan_.dropped}};
  o["session"] = json::object{{"plan", plan_}, {"scanner", scanner_}, {"out", out_}};
  return json::serialize(o);
}

std::optional<std::string> ConsoleState::image_json(std::uint64_t& seen) const {
  Live copy;
  {
    const std::lock_guard lock(mutex_);
    if (live_.sequence == seen || live_.frames_done == 0) return std::nullopt;
    seen = live_.sequence;
    copy.sequence = live_.sequence;
    copy.frames_done = live_.frames_done;
    copy.frames_planned = live_.frames_planned;
    copy.grid = live_.grid;
    if (live_.grid) copy.image = live_.image;
    else copy.profile = live_.profile;
  }
  json::object o;
  o["type"] = "image";
  o["sequence"] = copy.sequence;
  o["frames"] = copy.frames_done;
  o["planned"] = copy.frames_planned;
  if (copy.grid) {
    o["kind"] = "grid";
    o["counts"] = json::array{copy.image.grid.counts[0], copy.image.grid.counts[1], copy.image.grid.counts[2]};
    json::array planes;
    for (const ImagePlane& p : display_planes(copy.image)) planes.push_back(plane_json(p));
    o["planes"] = std::move(planes);
  } else {
    o["kind"] = "profile";
    o["x0_mm"] = copy.profile.first_pixel_centre_m * 1e3;
    o["dx_mm"] = copy.profile.pixel_m * 1e3;
    json::array v;
    for (const double x : copy.profile.values) v.push_back(number(x));
    o["values"] = std::move(v);
  }
  return json::serialize(o);
}

std::optional<std::string> ConsoleState::spectrum_json(std::uint64_t& seen) const {
  std::vector<std::int16_t> samples;
  double rate = 0.0, f0 = 0.0;
  std::uint64_t sequence = 0;
  {
    const std::lock_guard lock(mutex_);
    if (live_.sequence == seen || live_.channel0.empty()) return std::nullopt;
    seen = live_.sequence;
    samples = live_.channel0;
    rate = live_.sample_rate_hz;
    f0 = live_.fundamental_hz;
    sequence = live_.sequence;
  }
  constexpr int kHarmonics = 20;
  const std::vector<double> levels = harmonic_levels_dbfs(samples, 1, 0, rate, f0, kHarmonics);
  json::object o;
  o["type"] = "spectrum";
  o["sequence"] = sequence;
  o["channel"] = 0;
  o["fundamental_hz"] = number(f0);
  json::array db;
  for (const double v : levels) db.push_back(number(v));
  o["dbfs"] = std::move(db);
  return json::serialize(o);
}

std::optional<std::string> ConsoleState::psf_json(std::uint64_t& seen) const {
  const std::lock_guard lock(mutex_);
  if (psf_sequence_ == seen) return std::nullopt;
  seen = psf_sequence_;
  json::object o;
  o["type"] = "psf";
  if (!psf_) {
    o["file"] = nullptr;
    return json::serialize(o);
  }
  o["file"] = psf_->file.string();
  const auto arr = [](const std::vector<double>& v) {
    json::array a;
    for (const double x : v) a.push_back(number(x));
    return a;
  };
  o["field_mt"] = arr(psf_->field_mt);
  o["rising"] = arr(psf_->rising);
  o["falling"] = arr(psf_->falling);
  return json::serialize(o);
}

}  // namespace mpi::host
