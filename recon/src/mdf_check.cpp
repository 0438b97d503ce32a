// check_mdf: conformance of a file to MDF v2 (REFERENCE 5), as a list of findings rather than a first error.
#include "mpi/recon/mdf.hpp"

#include "mdf_h5.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace mpi::recon::mdf {
namespace {

enum class T { string, int64, float64, int8, number };

struct Checker {
  const h5::Reader& r;
  std::vector<Finding> out;

  void error(const std::string& f, const std::string& m) { out.push_back({Finding::Severity::error, f, m}); }
  void warn(const std::string& f, const std::string& m) { out.push_back({Finding::Severity::warning, f, m}); }

  // Runs `fn`, turning an MdfError into an error finding.
  void guard(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const MdfError& e) {
      const std::string prefix = e.file() + ": " + e.field() + ": ";
      std::string what = e.what();
      if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
      error(e.field(), what);
    }
  }

  static std::string shape_text(const std::vector<std::size_t>& s) {
    if (s.empty()) return "scalar";
    std::string t;
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? " x " : "") + std::to_string(s[i]);
    return t;
  }

  // Presence and type; `scalar`: dimension 1 (a scalar, or tolerated as one element with a warning).
  bool field(const std::string& f, T t, bool mandatory, bool scalar) {
    if (!r.exists(f)) {
      if (mandatory) error(f, "mandatory field missing");
      return false;
    }
    if (r.is_group(f)) {
      error(f, "is a group, expected a dataset");
      return false;
    }
    std::size_t bytes = 0;
    const h5::Kind k = r.kind(f, &bytes);
    bool ok = true;
    switch (t) {
      case T::string: ok = k == h5::Kind::string; break;
      case T::int64: ok = k == h5::Kind::integer; break;
      case T::float64: ok = k == h5::Kind::floating || k == h5::Kind::integer; break;
      case T::int8: ok = k == h5::Kind::integer; break;
      case T::number: ok = k == h5::Kind::floating || k == h5::Kind::integer || k == h5::Kind::complex; break;
    }
    if (!ok) {
      static const char* names[] = {"String", "Int64", "Float64", "Int8", "a number"};
      error(f, std::string("wrong type, expected ") + names[static_cast<int>(t)]);
      return false;
    }
    if (t == T::string && !r.variable_length_string(f))
      error(f, "fixed-length string; MDF strings are variable-length");
    if (t == T::int64 && bytes != 8) warn(f, "integer of " + std::to_string(bytes) + " bytes, MDF uses Int64");
    if (t == T::float64 && k == h5::Kind::integer) warn(f, "stored as an integer, MDF uses Float64");
    if (t == T::int8 && bytes != 1) error(f, "a flag must be Int8, found an integer of " + std::to_string(bytes) + " bytes");
    if (scalar) {
      const auto d = r.dims(f);
      const std::size_t n = std::accumulate(d.begin(), d.end(), std::size_t{1}, std::multiplies<>());
      if (n != 1) {
        error(f, "expected one value, shape " + shape_text(d));
        return false;
      }
      if (!d.empty()) warn(f, "a field of dimension 1 should be a scalar, found shape " + shape_text(d));
    }
    return true;
  }

  void flag(const std::string& f, bool mandatory) {
    if (!field(f, T::int8, mandatory, true)) return;
    guard([&] { (void)r.flag(f); });
  }

  void time_string(const std::string& f, bool mandatory) {
    if (!field(f, T::string, mandatory, true)) return;
    guard([&] {
      const std::string s = r.str(f);
      if (!is_valid_time(s)) error(f, "time '" + s + "' is not yyyy-mm-ddThh:mm:ss.sss (at most 3 fractional digits, no zone)");
    });
  }

  void uuid_string(const std::string& f) {
    if (!field(f, T::string, true, true)) return;
    guard([&] {
      const std::string s = r.str(f);
      if (!is_valid_uuid(s)) {
        error(f, "'" + s + "' is not a UUID (8-4-4-4-12 hexadecimal digits)");
      } else if (s[14] != '4' || std::string("89abAB").find(s[19]) == std::string::npos) {
        warn(f, "UUID '" + s + "' is not version 4 (RFC 4122)");
      }
    });
  }

  void shape(const std::string& f, const std::vector<std::size_t>& want, const std::string& names) {
    if (!r.exists(f)) return;
    guard([&] {
      auto d = r.dims(f);
      if (d != want) error(f, "shape " + shape_text(d) + ", expected " + names + " = " + shape_text(want));
    });
  }

  std::size_t count_of(const std::string& f) {
    std::size_t n = 0;
    guard([&] {
      const std::int64_t v = r.i64(f);
      if (v < 1) error(f, "must be at least 1, is " + std::to_string(v));
      n = v < 0 ? 0 : static_cast<std::size_t>(v);
    });
    return n;
  }

  // 1-based index array of `n` entries with values in 1..hi; returns the 0-based values (empty on error).
  std::vector<std::size_t> indices(const std::string& f, std::size_t n, std::size_t hi, bool permutation) {
    std::vector<std::size_t> v;
    if (!field(f, T::int64, true, false)) return v;
    guard([&] {
      const ArrayI a = r.arr_i(f);
      if (a.shape.size() != 1 || (n != 0 && a.values.size() != n)) {
        error(f, "shape " + shape_text(a.shape) + ", expected " + std::to_string(n) + " entries");
        return;
      }
      std::vector<bool> seen(hi, false);
      for (auto x : a.values) {
        if (x < 1 || static_cast<std::size_t>(x) > hi) {
          error(f, "index " + std::to_string(x) + " outside 1.." + std::to_string(hi) + " (indices are 1-based)");
          v.clear();
          return;
        }
        if (permutation && seen[static_cast<std::size_t>(x - 1)]) {
          error(f, "index " + std::to_string(x) + " repeated: not a permutation");
          v.clear();
          return;
        }
        seen[static_cast<std::size_t>(x - 1)] = true;
        v.push_back(static_cast<std::size_t>(x - 1));
      }
    });
    return v;
  }
};

std::int64_t lcm_all(const std::vector<std::int64_t>& v) {
  std::int64_t l = 1;
  for (auto x : v)
    if (x > 0) l = std::lcm(l, x);
  return l;
}

}  // namespace

namespace {
void check_fields(Checker& c, const h5::Reader& r);
}  // namespace

std::vector<Finding> check_mdf(const std::string& path) {
  std::unique_ptr<h5::Reader> reader;
  try {
    reader = std::make_unique<h5::Reader>(path);
  } catch (const MdfError& e) {
    return {{Finding::Severity::error, "/", "cannot open: not an HDF5 file, or truncated"}};
  }
  Checker c{*reader, {}};
  try {
    check_fields(c, *reader);
  } catch (const MdfError& e) {
    // A read that fails outside a guarded check (a corrupt object): report it and stop.
    c.error(e.field(), std::string("checking stopped: ") + e.what());
  }
  return c.out;
}

namespace {

void check_fields(Checker& c, const h5::Reader& r) {

  if (c.field("/version", T::string, true, true))
    c.guard([&] {
      const std::string v = r.str("/version");
      if (v.rfind("2.", 0) != 0) c.error("/version", "version '" + v + "' is not 2.x");
    });
  c.uuid_string("/uuid");
  c.time_string("/time", true);

  for (const char* g : {"/study", "/experiment", "/scanner", "/acquisition", "/acquisition/drivefield",
                        "/acquisition/receiver"})
    if (!r.is_group(g)) c.error(g, "mandatory group missing");

  for (const char* f : {"/study/name", "/study/description"}) c.field(f, T::string, true, true);
  c.field("/study/number", T::int64, true, true);
  if (r.exists("/study/uuid")) c.uuid_string("/study/uuid");
  else c.error("/study/uuid", "mandatory field missing");
  if (r.exists("/study/time")) c.time_string("/study/time", false);

  for (const char* f : {"/experiment/name", "/experiment/description", "/experiment/subject"})
    c.field(f, T::string, true, true);
  c.field("/experiment/number", T::int64, true, true);
  if (r.exists("/experiment/uuid")) c.uuid_string("/experiment/uuid");
  else c.error("/experiment/uuid", "mandatory field missing");
  c.flag("/experiment/isSimulation", true);

  for (const char* f : {"/scanner/facility", "/scanner/manufacturer", "/scanner/name", "/scanner/operator",
                        "/scanner/topology"})
    c.field(f, T::string, true, true);
  if (r.exists("/scanner/topology"))
    c.guard([&] {
      const std::string t = r.str("/scanner/topology");
      if (t != "FFP" && t != "FFL" && t != "MPS") c.warn("/scanner/topology", "'" + t + "' is none of FFP, FFL, MPS");
    });
  c.field("/scanner/boreSize", T::float64, false, true);

  // Tracer: A entries in every field.
  if (!r.is_group("/tracer")) {
    if (r.is_group("/calibration"))
      c.error("/tracer", "mandatory group missing (a calibration scan has particles in the scanner)");
    else
      c.warn("/tracer", "group missing (mandatory when particles were in the scanner)");
  } else {
    std::size_t a = 0;
    if (c.field("/tracer/name", T::string, true, false))
      c.guard([&] {
        const auto names = r.strs("/tracer/name");
        a = names.values.size();
        if (names.shape.empty()) c.warn("/tracer/name", "one material stored as a scalar; MDF lists A = 1 entries");
        else if (names.shape.size() != 1) c.error("/tracer/name", "must be one-dimensional (A)");
      });
    // A entries; one material may be stored as scalars.
    auto per_material = [&](const std::string& f) {
      if (a == 0) return;
      c.guard([&] {
        const auto d = r.dims(f);
        if (a == 1 && d.empty())
          c.warn(f, "one material stored as a scalar; MDF lists A = 1 entries");
        else if (d != std::vector<std::size_t>{a})
          c.error(f, "shape " + Checker::shape_text(d) + ", expected A = " + std::to_string(a) + " entries like /tracer/name");
      });
    };
    for (const char* f : {"/tracer/batch", "/tracer/vendor", "/tracer/solute"})
      if (c.field(f, T::string, true, false)) per_material(f);
    for (const char* f : {"/tracer/volume", "/tracer/concentration"})
      if (c.field(f, T::float64, true, false)) per_material(f);
    if (r.exists("/tracer/injectionTime") && c.field("/tracer/injectionTime", T::string, false, false))
      c.guard([&] {
        for (const auto& s : r.strs("/tracer/injectionTime").values)
          if (!is_valid_time(s)) c.error("/tracer/injectionTime", "time '" + s + "' is not yyyy-mm-ddThh:mm:ss.sss");
      });
  }

  // Acquisition: the dimensions N, J, D, F, C, V.
  std::size_t N = 0, J = 0, D = 0, F = 0, C = 0, V = 0;
  if (c.field("/acquisition/numAverages", T::int64, true, true)) c.count_of("/acquisition/numAverages");
  if (c.field("/acquisition/numFrames", T::int64, true, true)) N = c.count_of("/acquisition/numFrames");
  if (c.field("/acquisition/numPeriodsPerFrame", T::int64, true, true)) J = c.count_of("/acquisition/numPeriodsPerFrame");
  c.time_string("/acquisition/startTime", true);
  if (c.field("/acquisition/gradient", T::float64, false, false))
    c.guard([&] {
      const auto d = r.dims("/acquisition/gradient");
      if (d.size() != 4 || d[0] != J || d[2] != 3 || d[3] != 3)
        c.error("/acquisition/gradient", "shape " + Checker::shape_text(d) + ", expected J x Y x 3 x 3 with J = " + std::to_string(J));
    });
  if (c.field("/acquisition/offsetField", T::float64, false, false))
    c.guard([&] {
      const auto d = r.dims("/acquisition/offsetField");
      if (d.size() != 3 || d[0] != J || d[2] != 3)
        c.error("/acquisition/offsetField", "shape " + Checker::shape_text(d) + ", expected J x Y x 3 with J = " + std::to_string(J));
    });

  const std::string dg = "/acquisition/drivefield/";
  double base = 0.0;
  if (c.field(dg + "baseFrequency", T::float64, true, true))
    c.guard([&] {
      base = r.f64(dg + "baseFrequency");
      if (!(base > 0.0)) c.error(dg + "baseFrequency", "must be positive");
    });
  if (c.field(dg + "numChannels", T::int64, true, true)) D = c.count_of(dg + "numChannels");
  if (c.field(dg + "divider", T::int64, true, false))
    c.guard([&] {
      const ArrayI div = r.arr_i(dg + "divider");
      if (div.shape.size() != 2 || div.shape[0] != D) {
        c.error(dg + "divider", "shape " + Checker::shape_text(div.shape) + ", expected D x F with D = " + std::to_string(D));
        return;
      }
      F = div.shape[1];
      for (auto x : div.values)
        if (x < 1) c.error(dg + "divider", "every divider must be at least 1");
      if (c.field(dg + "cycle", T::float64, true, true) && base > 0.0) {
        const double cyc = r.f64(dg + "cycle");
        const double want = static_cast<double>(lcm_all(div.values)) / base;
        if (std::abs(cyc - want) > 1e-9 * want)
          c.error(dg + "cycle", "is " + std::to_string(cyc) + " s, lcm(divider)/baseFrequency = " + std::to_string(want) + " s");
      }
    });
  else c.field(dg + "cycle", T::float64, true, true);
  if (c.field(dg + "waveform", T::string, true, false) && F > 0) c.shape(dg + "waveform", {D, F}, "D x F");
  if (c.field(dg + "phase", T::float64, true, false) && F > 0) c.shape(dg + "phase", {J, D, F}, "J x D x F");
  if (c.field(dg + "strength", T::float64, true, false) && F > 0) c.shape(dg + "strength", {J, D, F}, "J x D x F");

  const std::string rg = "/acquisition/receiver/";
  if (c.field(rg + "bandwidth", T::float64, true, true))
    c.guard([&] {
      if (!(r.f64(rg + "bandwidth") > 0.0)) c.error(rg + "bandwidth", "must be positive");
    });
  if (c.field(rg + "numChannels", T::int64, true, true)) C = c.count_of(rg + "numChannels");
  if (c.field(rg + "numSamplingPoints", T::int64, true, true)) V = c.count_of(rg + "numSamplingPoints");
  c.field(rg + "unit", T::string, true, true);
  if (V > 0 && r.exists(rg + "bandwidth") && r.exists(dg + "cycle"))
    c.guard([&] {
      const double cyc = r.f64(dg + "cycle"), bw = r.f64(rg + "bandwidth");
      const double want = static_cast<double>(V) / cyc / 2.0;
      if (cyc > 0.0 && std::abs(bw - want) > 1e-6 * want)
        c.warn(rg + "bandwidth", "is " + std::to_string(bw) + " Hz, half the sampling rate numSamplingPoints/cycle/2 is " +
                                     std::to_string(want) + " Hz");
    });
  if (c.field(rg + "dataConversionFactor", T::number, false, false)) c.shape(rg + "dataConversionFactor", {C, 2}, "C x 2");
  if (c.field(rg + "transferFunction", T::number, false, false))
    c.guard([&] {
      if (r.kind(rg + "transferFunction") != h5::Kind::complex) c.error(rg + "transferFunction", "must be complex (compound {r, i})");
      const auto d = r.dims(rg + "transferFunction");
      if (d.size() != 2 || d[0] != C) c.error(rg + "transferFunction", "shape " + Checker::shape_text(d) + ", expected C x K");
      else if (d[1] != V / 2 + 1) c.warn(rg + "transferFunction", "K = " + std::to_string(d[1]) + ", usually V/2+1 = " + std::to_string(V / 2 + 1));
    });

  // Measurement.
  std::vector<bool> bg;
  std::size_t K = V / 2 + 1;  // frequencies of the processed data
  if (r.is_group("/measurement")) {
    const std::string g = "/measurement/";
    for (const char* f : {"isFourierTransformed", "isFastFrameAxis", "isFramePermutation", "isFrequencySelection",
                          "isBackgroundCorrected", "isTransferFunctionCorrected", "isSpectralLeakageCorrected"})
      c.flag(g + f, true);
    c.flag(g + "isSparsityTransformed", false);
    auto flag_or = [&](const std::string& f) {
      bool v = false;
      if (r.exists(f)) c.guard([&] { v = r.flag(f); });
      return v;
    };
    const bool fourier = flag_or(g + "isFourierTransformed");
    const bool fast = flag_or(g + "isFastFrameAxis");
    const bool perm = flag_or(g + "isFramePermutation");
    const bool fsel = flag_or(g + "isFrequencySelection");
    std::size_t P = fourier ? V / 2 + 1 : V;
    if (fsel) {
      if (!fourier) c.error(g + "isFrequencySelection", "a frequency selection needs isFourierTransformed = 1");
      const auto sel = c.indices(g + "frequencySelection", 0, V / 2 + 1, false);
      if (!sel.empty()) P = K = sel.size();
    }
    if (perm) c.indices(g + "framePermutation", N, N, true);
    if (c.field(g + "isBackgroundFrame", T::int8, true, false))
      c.guard([&] {
        const ArrayI b = r.arr_i(g + "isBackgroundFrame");
        if (b.shape != std::vector<std::size_t>{N}) {
          c.error(g + "isBackgroundFrame", "shape " + Checker::shape_text(b.shape) + ", expected N = " + std::to_string(N));
          return;
        }
        for (auto x : b.values) {
          if (x != 0 && x != 1) {
            c.error(g + "isBackgroundFrame", "flags must be 0 or 1, found " + std::to_string(x));
            return;
          }
          bg.push_back(x == 1);
        }
      });
    if (c.field(g + "data", T::number, true, false))
      c.guard([&] {
        const std::string f = g + "data";
        const bool cplx = r.kind(f) == h5::Kind::complex;
        if (fourier && !cplx) c.error(f, "isFourierTransformed = 1 but the data is not complex (compound {r, i})");
        if (!fourier && cplx) c.error(f, "complex data but isFourierTransformed = 0");
        const std::vector<std::size_t> want = fast ? std::vector<std::size_t>{J, C, P, N} : std::vector<std::size_t>{N, J, C, P};
        const char* pn = fourier ? "K" : "V";
        const std::string names = fast ? std::string("J x C x ") + pn + " x N" : std::string("N x J x C x ") + pn;
        const auto d = r.dims(f);
        if (d != want) c.error(f, "shape " + Checker::shape_text(d) + ", expected " + names + " = " + Checker::shape_text(want));
        if (!r.contiguous(f)) c.error(f, "not stored CONTIGUOUS (readers memory-map it): repack the file");
        if (r.filtered(f)) c.error(f, "compressed or filtered (readers memory-map it): repack the file");
      });
  }

  // Calibration.
  auto order_ok = [&](const std::string& f) {
    if (!c.field(f, T::string, false, true)) return;
    c.guard([&] {
      std::string o = r.str(f);
      std::sort(o.begin(), o.end());
      if (o != "xyz") c.error(f, "order '" + r.str(f) + "' is not a permutation of xyz");
    });
  };
  if (r.is_group("/calibration")) {
    const std::string g = "/calibration/";
    c.field(g + "method", T::string, true, true);
    std::size_t vox = 0;
    if (!r.exists(g + "size")) {
      c.warn(g + "size", "missing; readers need the grid size to use the system matrix");
    } else if (c.field(g + "size", T::int64, true, false)) {
      c.shape(g + "size", {3}, "3");
      c.guard([&] {
        const ArrayI s = r.arr_i(g + "size");
        if (s.values.size() != 3) return;
        for (auto x : s.values)
          if (x < 1) {
            c.error(g + "size", "grid sizes must be at least 1");
            return;
          }
        vox = static_cast<std::size_t>(s.values[0] * s.values[1] * s.values[2]);
        std::size_t fg = N;
        for (bool b : bg) fg -= b ? 1 : 0;
        if (r.is_group("/measurement") && vox != fg)
          c.error(g + "size", "product " + std::to_string(vox) + " differs from the " + std::to_string(fg) + " foreground frames");
      });
    }
    for (const char* f : {"fieldOfView", "fieldOfViewCenter"}) {
      if (!r.exists(g + f)) c.warn(g + f, "missing; readers need it to place the system matrix");
      else if (c.field(g + f, T::float64, false, false)) c.shape(g + f, {3}, "3");
    }
    if (c.field(g + "snr", T::float64, false, false))
      c.guard([&] {
        const auto d = r.dims(g + "snr");
        if (d != std::vector<std::size_t>{J, C, K})
          c.error(g + "snr", "shape " + Checker::shape_text(d) + ", expected J x C x K = " + Checker::shape_text({J, C, K}));
      });
    if (c.field(g + "positions", T::float64, false, false))
      c.guard([&] {
        const auto d = r.dims(g + "positions");
        if (d.size() != 2 || d[1] != 3 || (vox > 0 && d[0] != vox))
          c.error(g + "positions", "shape " + Checker::shape_text(d) + ", expected O x 3 with O = prod(size) = " + std::to_string(vox));
      });
    if (c.field(g + "deltaSampleSize", T::float64, false, false)) c.shape(g + "deltaSampleSize", {3}, "3");
    order_ok(g + "order");
  }

  // Reconstruction.
  if (r.is_group("/reconstruction")) {
    const std::string g = "/reconstruction/";
    std::size_t P = 0;
    if (c.field(g + "data", T::number, true, false))
      c.guard([&] {
        const auto d = r.dims(g + "data");
        if (d.size() != 3) c.error(g + "data", "shape " + Checker::shape_text(d) + ", expected Q x P x S");
        else P = d[1];
      });
    if (c.field(g + "size", T::int64, true, false)) {
      c.shape(g + "size", {3}, "3");
      c.guard([&] {
        const ArrayI s = r.arr_i(g + "size");
        if (s.values.size() == 3 && P > 0 && static_cast<std::size_t>(std::max<std::int64_t>(0, s.values[0] * s.values[1] * s.values[2])) != P)
          c.error(g + "size", "product differs from the number of voxels P = " + std::to_string(P));
      });
    }
    for (const char* f : {"fieldOfView", "fieldOfViewCenter"})
      if (c.field(g + f, T::float64, true, false)) c.shape(g + f, {3}, "3");
    order_ok(g + "order");
  }
}

}  // namespace

}  // namespace mpi::recon::mdf
