#include "mpi/host/mdf_reconstruction.hpp"

#include "mpi/host/acquisition_stream.hpp"
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/reconstruction_runner.hpp"
#include "mpi/recon/constants.hpp"
#include "mpi/recon/mdf.hpp"
#include "mpi/recon/real_fft.hpp"
#include "mpi/recon/row_selection.hpp"
#include "mpi/recon/sm_solvers.hpp"

#include <hdf5.h>
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <vector>

namespace mpi::host {

namespace fs = std::filesystem;
namespace mdf = recon::mdf;

namespace {

// ---- a few custom or metadata fields straight from HDF5 (the MDF model does not carry them) ----

class H5Fields {
 public:
  explicit H5Fields(const fs::path& file) : path_(file.string()) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0) throw MdfInputError(path_ + ": not an HDF5 file (MDF files are HDF5)");
  }
  ~H5Fields() {
    if (file_ >= 0) H5Fclose(file_);
  }
  H5Fields(const H5Fields&) = delete;
  H5Fields& operator=(const H5Fields&) = delete;

  [[nodiscard]] bool has(const std::string& field) const {
    // Walk the path: H5Lexists fails on a missing intermediate group.
    std::string partial;
    std::size_t pos = 1;
    while (pos <= field.size()) {
      const std::size_t next = field.find('/', pos);
      partial = field.substr(0, next);
      if (H5Lexists(file_, partial.c_str(), H5P_DEFAULT) <= 0) return false;
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    return true;
  }

  [[nodiscard]] std::vector<double> doubles(const std::string& field) const { return read<double>(field, H5T_NATIVE_DOUBLE); }
  [[nodiscard]] std::vector<std::int64_t> ints(const std::string& field) const { return read<std::int64_t>(field, H5T_NATIVE_INT64); }
  [[nodiscard]] double scalar(const std::string& field) const {
    const auto v = doubles(field);
    if (v.size() != 1) fail(field, "expected a single number, found " + std::to_string(v.size()));
    return v[0];
  }

  [[nodiscard]] std::string text(const std::string& field) const {
    const hid_t d = open(field);
    const hid_t t = H5Dget_type(d);
    std::string out;
    bool ok = H5Tget_class(t) == H5T_STRING;
    if (ok && H5Tis_variable_str(t) > 0) {
      char* buf = nullptr;
      const hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      H5Tset_cset(mt, H5Tget_cset(t));
      ok = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &buf) >= 0;
      if (ok && buf != nullptr) out = buf;
      const hid_t s = H5Dget_space(d);
      if (ok) H5Dvlen_reclaim(mt, s, H5P_DEFAULT, &buf);
      H5Sclose(s);
      H5Tclose(mt);
    } else if (ok) {
      const std::size_t len = H5Tget_size(t);
      std::vector<char> buf(len + 1, '\0');
      ok = H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) >= 0;
      out.assign(buf.data(), strnlen(buf.data(), len));
    }
    H5Tclose(t);
    H5Dclose(d);
    if (!ok) fail(field, "expected a string");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& why) const { throw MdfInputError(path_ + ": " + field + ": " + why); }
  [[nodiscard]] hid_t open(const std::string& field) const {
    if (!has(field)) fail(field, "missing");
    const hid_t d = H5Dopen2(file_, field.c_str(), H5P_DEFAULT);
    if (d < 0) fail(field, "not a dataset");
    return d;
  }
  template <class T>
  std::vector<T> read(const std::string& field, hid_t type) const {
    const hid_t d = open(field);
    const hid_t s = H5Dget_space(d);
    const hssize_t n = H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    const hid_t t = H5Dget_type(d);
    const H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    std::vector<T> v(n > 0 ? static_cast<std::size_t>(n) : 0);
    const bool ok = (cls == H5T_INTEGER || cls == H5T_FLOAT) && (v.empty() || H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
    H5Dclose(d);
    if (!ok) fail(field, "expected numbers");
    return v;
  }

  std::string path_;
  hid_t file_ = -1;
};

void require_file(const fs::path& file, const char* what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw MdfInputError(file.string() + ": no such file (" + what + ")");
  if (!fs::is_regular_file(file, ec)) throw MdfInputError(file.string() + ": not a regular file (" + what + ")");
}

mdf::File read_measurement_file(const fs::path& file) {
  require_file(file, "measurement");
  { const H5Fields probe(file); }
  mdf::File f;
  try {
    f = mdf::read_mdf(file.string());
  } catch (const mdf::MdfError& e) {
    throw MdfInputError(std::string("not a readable MDF measurement: ") + e.what());
  }
  if (!f.measurement) throw MdfInputError(file.string() + ": /measurement: missing (not a measurement file)");
  return f;
}

std::string fmt_list(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return "[" + s + "]";
}

std::string number(double v) {
  std::ostringstream o;
  o.precision(10);
  o << v;
  return o.str();
}

// The rows of S (period, channel, bin) of every acquisition frame of the measurement, in the convention of
// the system matrix.
Eigen::MatrixXcd measurement_rows(const mdf::File& file, const fs::path& path, const mdf::MdfSystemMatrix& sm, bool sm_unnormalised) {
  const mdf::Measurement& m = *file.measurement;
  const std::size_t rows = static_cast<std::size_t>(sm.matrix.rows());
  const std::size_t kk = sm.frequency_indices.size();
  const auto v = static_cast<std::size_t>(file.acquisition.receiver.num_sampling_points);
  const std::size_t nyquist = v / 2;
  // Scale from the unnormalised DFT to the system matrix's convention.
  auto scale = [&](std::size_t bin) {
    if (sm_unnormalised) return 1.0;
    return (bin == 0 || (v % 2 == 0 && bin == nyquist)) ? 1.0 / static_cast<double>(v) : 2.0 / static_cast<double>(v);
  };
  if (!m.is_fourier_transformed) {
    const auto& shape = m.data.shape;
    if (shape.size() != 4 || shape[1] != sm.periods || shape[2] != sm.channels || shape[3] != v) {
      throw MdfInputError(path.string() + ": /measurement/data: shape does not match frames x periods x channels x numSamplingPoints");
    }
    const std::size_t n = shape[0];
    Eigen::MatrixXcd out(rows, n);
    recon::RealFft fft(v);
    std::vector<std::complex<double>> spec(v / 2 + 1);
    for (std::size_t f = 0; f < n; ++f) {
      for (std::size_t j = 0; j < sm.periods; ++j) {
        for (std::size_t c = 0; c < sm.channels; ++c) {
          const double* src = m.data.values.data() + ((f * sm.periods + j) * sm.channels + c) * v;
          fft.forward({src, v}, spec);
          for (std::size_t k = 0; k < kk; ++k) {
            const std::size_t bin = sm.frequency_indices[k];
            out((j * sm.channels + c) * kk + k, static_cast<Eigen::Index>(f)) = spec[bin] * scale(bin);
          }
        }
      }
    }
    return out;
  }
  const auto& shape = m.data_fd.shape;
  if (shape.size() != 4 || shape[1] != sm.periods || shape[2] != sm.channels) {
    throw MdfInputError(path.string() + ": /measurement/data: shape does not match frames x periods x channels x frequencies");
  }
  std::vector<std::size_t> bins = m.frequency_selection;
  if (bins.empty()) {
    bins.resize(shape[3]);
    std::iota(bins.begin(), bins.end(), std::size_t{0});
  }
  std::vector<std::size_t> where(kk);
  for (std::size_t k = 0; k < kk; ++k) {
    const auto it = std::find(bins.begin(), bins.end(), sm.frequency_indices[k]);
    if (it == bins.end()) {
      throw MdfInputError(path.string() + ": /measurement/frequencySelection: lacks frequency bin " + std::to_string(sm.frequency_indices[k]) +
                          " that the system matrix uses");
    }
    where[k] = static_cast<std::size_t>(it - bins.begin());
  }
  const std::size_t n = shape[0], kf = shape[3];
  Eigen::MatrixXcd out(rows, n);
  for (std::size_t f = 0; f < n; ++f) {
    for (std::size_t j = 0; j < sm.periods; ++j) {
      for (std::size_t c = 0; c < sm.channels; ++c) {
        const std::complex<double>* src = m.data_fd.values.data() + ((f * sm.periods + j) * sm.channels + c) * kf;
        for (std::size_t k = 0; k < kk; ++k) {
          out((j * sm.channels + c) * kk + k, static_cast<Eigen::Index>(f)) = src[where[k]] * scale(sm.frequency_indices[k]);
        }
      }
    }
  }
  return out;
}

}  // namespace

MdfSolver parse_mdf_solver(const std::string& name) {
  if (name == "tikhonov") return MdfSolver::tikhonov;
  if (name == "kaczmarz") return MdfSolver::kaczmarz;
  if (name == "kaczmarz-nonneg") return MdfSolver::kaczmarz_nonneg;
  if (name == "cgnr") return MdfSolver::cgnr;
  throw MdfInputError("--solver " + name + ": unknown solver (tikhonov, kaczmarz, kaczmarz-nonneg, cgnr)");
}

const char* to_string(MdfSolver solver) noexcept {
  switch (solver) {
    case MdfSolver::tikhonov: return "tikhonov";
    case MdfSolver::kaczmarz: return "kaczmarz";
    case MdfSolver::kaczmarz_nonneg: return "kaczmarz-nonneg";
    case MdfSolver::cgnr: return "cgnr";
  }
  return "?";
}

void parse_frame_range(const std::string& text, MdfReconstructionOptions& options) {
  const auto colon = text.find(':');
  if (colon == std::string::npos) throw MdfInputError("--frames " + text + ": expected a:b (0-based foreground frames, b excluded)");
  auto part = [&](const std::string& s) -> std::optional<std::size_t> {
    if (s.empty()) return std::nullopt;
    if (s.find_first_not_of("0123456789") != std::string::npos || s.size() > 12) {
      throw MdfInputError("--frames " + text + ": '" + s + "' is not a frame number");
    }
    return static_cast<std::size_t>(std::stoull(s));
  };
  options.first_frame = part(text.substr(0, colon));
  options.last_frame = part(text.substr(colon + 1));
  if (options.first_frame && options.last_frame && *options.last_frame <= *options.first_frame) {
    throw MdfInputError("--frames " + text + ": empty range");
  }
}

recon::ImageGrid image_grid_of(const recon::VoxelGrid& grid) {
  recon::ImageGrid g;
  const Eigen::Vector3d pitch = grid.pitch_m();
  for (int a = 0; a < 3; ++a) {
    g.counts[a] = static_cast<int>(grid.shape[a]);
    g.pixel_m[a] = pitch[a];
    g.origin_m[a] = grid.centre_m[a] - 0.5 * grid.fov_m[a] + 0.5 * pitch[a];
  }
  return g;
}

MdfReconstruction reconstruct_mdf(const fs::path& measurement, const fs::path& system_matrix, const MdfReconstructionOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!(options.relative_lambda >= 0.0) || !std::isfinite(options.relative_lambda)) throw MdfInputError("--lambda must be finite and >= 0");
  if (options.iterations < 0) throw MdfInputError("--iterations must be >= 0");
  if (!(options.min_snr >= 0.0)) throw MdfInputError("--min-snr must be >= 0");

  const mdf::File meas = read_measurement_file(measurement);
  require_file(system_matrix, "system matrix");
  mdf::MdfSystemMatrix sm;
  {
    const H5Fields probe(system_matrix);
    if (!probe.has("/calibration")) throw MdfInputError(system_matrix.string() + ": /calibration: missing (not a system matrix file)");
  }
  try {
    sm = mdf::read_system_matrix(system_matrix.string());
  } catch (const mdf::MdfError& e) {
    throw MdfInputError(std::string("not a readable MDF system matrix: ") + e.what());
  }
  const H5Fields smf(system_matrix);

  // The two files must describe the same acquisition.
  const std::string both = measurement.string() + " and " + system_matrix.string();
  auto mismatch = [&](const std::string& field, const std::string& a, const std::string& b) {
    throw MdfInputError(both + " differ in " + field + ": " + a + " vs " + b);
  };
  const auto& mdrive = meas.acquisition.drivefield;
  const double sm_base = smf.scalar("/acquisition/drivefield/baseFrequency");
  if (std::abs(mdrive.base_frequency_hz - sm_base) > 1e-9 * std::abs(sm_base)) {
    mismatch("/acquisition/drivefield/baseFrequency", number(mdrive.base_frequency_hz), number(sm_base));
  }
  const std::vector<std::int64_t> sm_div = smf.ints("/acquisition/drivefield/divider");
  if (mdrive.divider.values != sm_div) mismatch("/acquisition/drivefield/divider", fmt_list(mdrive.divider.values), fmt_list(sm_div));
  const auto& rx = meas.acquisition.receiver;
  if (static_cast<std::size_t>(rx.num_channels) != sm.channels) {
    mismatch("/acquisition/receiver/numChannels", std::to_string(rx.num_channels), std::to_string(sm.channels));
  }
  if (static_cast<std::size_t>(rx.num_sampling_points) != sm.sampling_points) {
    mismatch("/acquisition/receiver/numSamplingPoints", std::to_string(rx.num_sampling_points), std::to_string(sm.sampling_points));
  }
  if (static_cast<std::size_t>(meas.acquisition.num_periods_per_frame) != sm.periods) {
    mismatch("/acquisition/numPeriodsPerFrame", std::to_string(meas.acquisition.num_periods_per_frame), std::to_string(sm.periods));
  }
  if (sm.matrix.rows() == 0 || sm.matrix.cols() == 0) throw MdfInputError(system_matrix.string() + ": /measurement/data: empty system matrix");

  // Measurement rows, background subtracted, foreground frames chosen.
  const bool sm_fd = smf.has("/measurement/isFourierTransformed") && smf.scalar("/measurement/isFourierTransformed") != 0.0;
  const Eigen::MatrixXcd all = measurement_rows(meas, measurement, sm, sm_fd);
  const mdf::Measurement& mm = *meas.measurement;
  std::vector<Eigen::Index> fg, bg;
  for (Eigen::Index f = 0; f < all.cols(); ++f) {
    const bool is_bg = static_cast<std::size_t>(f) < mm.is_background_frame.size() && mm.is_background_frame[static_cast<std::size_t>(f)];
    (is_bg ? bg : fg).push_back(f);
  }
  if (fg.empty()) throw MdfInputError(measurement.string() + ": /measurement/isBackgroundFrame: no foreground frame");
  const std::size_t first = options.first_frame.value_or(0);
  const std::size_t last = std::min(options.last_frame.value_or(fg.size()), fg.size());
  if (first >= last) {
    throw MdfInputError("--frames: no foreground frame in the range (the measurement has " + std::to_string(fg.size()) + ")");
  }
  Eigen::VectorXcd bg_mean = Eigen::VectorXcd::Zero(all.rows());
  if (!bg.empty() && !mm.is_background_corrected) {
    for (const Eigen::Index f : bg) bg_mean += all.col(f);
    bg_mean /= static_cast<double>(bg.size());
  }
  std::vector<Eigen::VectorXcd> frames;
  for (std::size_t i = first; i < last; ++i) frames.emplace_back(all.col(fg[i]) - bg_mean);
  if (options.average) {
    Eigen::VectorXcd mean = Eigen::VectorXcd::Zero(all.rows());
    for (const auto& u : frames) mean += u;
    mean /= static_cast<double>(frames.size());
    frames.assign(1, mean);
  }

  // System matrix: calibration background subtracted, rows ranked.
  Eigen::MatrixXcd s = sm.matrix;
  const bool sm_bg_corrected = smf.has("/measurement/isBackgroundCorrected") && smf.scalar("/measurement/isBackgroundCorrected") != 0.0;
  if (sm.background.cols() > 0 && !sm_bg_corrected) s.colwise() -= sm.background.rowwise().mean();
  const auto nrows = static_cast<std::size_t>(s.rows());
  std::vector<double> freqs(nrows);
  const double fs = sm.sample_rate_hz;
  for (std::size_t r = 0; r < nrows; ++r) freqs[r] = static_cast<double>(sm.row_bin[r]) * fs / static_cast<double>(sm.sampling_points);
  Eigen::VectorXd snr;
  recon::RowSelectionOptions sel;
  sel.min_snr = options.min_snr;
  sel.max_rows = options.max_rows;
  std::string rule;
  if (sm.snr.size() == s.rows()) {
    snr = sm.snr;
    rule = "calibration SNR (/calibration/snr) >= " + number(options.min_snr);
  } else if (sm.background.cols() >= 2) {
    const Eigen::MatrixXcd centred = sm.background.colwise() - sm.background.rowwise().mean();
    const Eigen::VectorXd noise = (centred.cwiseAbs2().rowwise().sum() / static_cast<double>(sm.background.cols() - 1)).cwiseSqrt();
    snr = recon::row_snr(s, noise);
    rule = "SNR against the calibration's background frames >= " + number(options.min_snr);
  } else {
    snr = (s.cwiseAbs2().rowwise().mean()).cwiseSqrt();
    if (snr.maxCoeff() > 0.0) snr /= snr.maxCoeff();
    sel.min_snr = 0.0;
    rule = "row energy (no SNR and no background in the calibration; --min-snr not applied)";
  }
  const recon::RowSelection chosen = recon::select_rows(freqs, sm.row_channel, snr, sel);
  if (chosen.count() == 0) {
    throw MdfInputError(system_matrix.string() + ": /calibration/snr: no row reaches --min-snr " + number(options.min_snr));
  }
  Eigen::MatrixXcd s_sel(static_cast<Eigen::Index>(chosen.count()), s.cols());
  for (std::size_t i = 0; i < chosen.count(); ++i) s_sel.row(static_cast<Eigen::Index>(i)) = s.row(static_cast<Eigen::Index>(chosen.rows[i]));
  auto gather = [&](const Eigen::VectorXcd& u) {
    Eigen::VectorXcd out(static_cast<Eigen::Index>(chosen.count()));
    for (std::size_t i = 0; i < chosen.count(); ++i) out[static_cast<Eigen::Index>(i)] = u[static_cast<Eigen::Index>(chosen.rows[i])];
    return out;
  };

  // Solve every frame.
  MdfReconstruction result;
  const recon::ImageGrid grid = image_grid_of(sm.grid);
  const auto voxels = static_cast<std::size_t>(s.cols());
  std::vector<double> sum(voxels, 0.0);
  std::vector<double> image(voxels, 0.0);
  std::size_t solved = 0;
  auto store = [&](const auto& c) {
    if (options.on_frame) options.on_frame(++solved, frames.size());
    for (std::size_t i = 0; i < voxels; ++i) {
      image[i] = static_cast<double>(c[static_cast<Eigen::Index>(i)]);
      sum[i] += image[i];
    }
  };
  int iterations = options.iterations;
  switch (options.solver) {
    case MdfSolver::tikhonov: {
      recon::TikhonovOptions o;
      o.relative_lambda = options.relative_lambda;
      o.method = options.relative_lambda > 0.0 ? recon::TikhonovMethod::normal_equations : recon::TikhonovMethod::svd;
      recon::TikhonovOperator op(s_sel, o);
      result.lambda = op.lambda();
      Eigen::VectorXf c;
      for (const auto& u : frames) {
        op.apply(gather(u), c);
        store(c);
      }
      iterations = 0;
      break;
    }
    case MdfSolver::kaczmarz:
    case MdfSolver::kaczmarz_nonneg: {
      recon::KaczmarzOptions o;
      o.iterations = iterations > 0 ? iterations : 10;
      o.relative_lambda = options.relative_lambda;
      o.non_negative = options.solver == MdfSolver::kaczmarz_nonneg;
      iterations = o.iterations;
      recon::KaczmarzSolver solver(s_sel, o);
      result.lambda = solver.lambda();
      Eigen::VectorXd c;
      for (const auto& u : frames) {
        solver.solve(gather(u), c);
        store(c);
      }
      break;
    }
    case MdfSolver::cgnr: {
      recon::CgnrOptions o;
      o.iterations = iterations > 0 ? iterations : 50;
      o.relative_lambda = options.relative_lambda;
      iterations = o.iterations;
      recon::CgnrSolver solver(s_sel, o);
      result.lambda = solver.lambda();
      Eigen::VectorXd c;
      for (const auto& u : frames) {
        solver.solve(gather(u), c);
        store(c);
      }
      break;
    }
  }
  for (double& v : sum) v /= static_cast<double>(frames.size());
  result.mean = GridImage{grid, sum};
  result.last = GridImage{grid, image};
  result.frames = last - first;
  result.background_frames = mm.is_background_corrected ? 0 : bg.size();
  result.rows = nrows;
  result.selected_rows = chosen.count();
  result.row_rule = rule;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::ostringstream r;
  r.setf(std::ios::fixed);
  r.precision(4);
  r << "measurement: " << measurement.string() << " (" << meas.scanner.name << ", " << meas.acquisition.receiver.num_channels
    << " channels, " << meas.acquisition.receiver.num_sampling_points << " samples per period, " << mm.is_background_frame.size()
    << " frames)\n";
  r << "system matrix: " << system_matrix.string() << " (" << sm.grid.shape[0] << " x " << sm.grid.shape[1] << " x " << sm.grid.shape[2]
    << " voxels over " << sm.grid.fov_m.x() * 1e3 << " x " << sm.grid.fov_m.y() * 1e3 << " x " << sm.grid.fov_m.z() * 1e3 << " mm, "
    << sm.background.cols() << " background frames" << (sm.background.cols() > 0 && !sm_bg_corrected ? " averaged and subtracted" : "") << ")\n";
  r << "frames reconstructed: foreground " << first << " to " << last - 1 << " (" << result.frames << ")"
    << (options.average ? ", averaged before reconstruction" : ", each on its own; image = their mean") << "\n";
  r << "background: " << (result.background_frames > 0 ? std::to_string(result.background_frames) + " measurement frames averaged and subtracted"
                                                        : std::string(mm.is_background_corrected ? "the file is background corrected" : "none in the file"))
    << "\n";
  r << "rows: " << result.selected_rows << " of " << result.rows << " by " << rule
    << (options.max_rows > 0 ? ", at most " + std::to_string(options.max_rows) : std::string()) << "\n";
  r << "solver: " << to_string(options.solver) << ", relative lambda " << options.relative_lambda << " (lambda " << std::scientific
    << result.lambda << std::fixed << ")" << (iterations > 0 ? ", " + std::to_string(iterations) + " iterations" : std::string()) << "\n";
  r << "image: amount relative to the calibration's delta sample\n";
  const auto peak = static_cast<std::size_t>(std::max_element(sum.begin(), sum.end()) - sum.begin());
  const Eigen::Vector3d pc = grid.centre_m(peak) * 1e3;
  r << "peak at voxel " << peak << " (" << pc.x() << ", " << pc.y() << ", " << pc.z() << ") mm, value " << sum[peak] << "\n";
  r << "time: " << result.seconds << " s\n";
  result.report = r.str();
  return result;
}

// ---- replay of a recorded file through the live stages ----

namespace {

struct StoredTexts {
  std::string plan, scanner, tracer;
};

// Loads plan and scanner from the texts stored in the file (through a private temporary folder, since
// plans name their tracer file by path).
void load_stored(const fs::path& file, const H5Fields& h5, const fs::path& plan_file, const fs::path& scanner_file, ScanPlan& plan,
                 ScannerDescription& scanner) {
  const bool need_stored = plan_file.empty() || scanner_file.empty();
  if (!need_stored) {
    plan = load_scan_plan(plan_file);
    scanner = load_scanner_description(scanner_file);
    return;
  }
  std::mt19937_64 rng{std::random_device{}()};
  const fs::path dir = fs::temp_directory_path() / ("mpi-replay-" + std::to_string(rng()));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  auto stored = [&](const char* field) {
    if (!h5.has(field)) {
      throw MdfInputError(file.string() + ": " + field + ": missing (only files recorded by mpi scan store it; give --plan and --scanner)");
    }
    return h5.text(field);
  };
  auto rethrow = [&](const char* field, const std::exception& e) {
    std::string msg = e.what();
    const std::string tmp = dir.string();
    for (std::size_t p; (p = msg.find(tmp)) != std::string::npos;) msg.replace(p, tmp.size(), "(stored)");
    throw MdfInputError(file.string() + ": " + field + ": " + msg);
  };
  if (scanner_file.empty()) {
    std::ofstream(dir / "scanner.toml") << stored("/_mpi/scanner");
    try {
      scanner = load_scanner_description(dir / "scanner.toml");
    } catch (const std::exception& e) {
      rethrow("/_mpi/scanner", e);
    }
  } else {
    scanner = load_scanner_description(scanner_file);
  }
  if (!plan_file.empty()) {
    plan = load_scan_plan(plan_file);
    return;
  }
  toml::table table;
  try {
    table = toml::parse(stored("/_mpi/plan"));
  } catch (const toml::parse_error& e) {
    throw MdfInputError(file.string() + ": /_mpi/plan: " + std::string(e.description()));
  }
  std::ofstream(dir / "tracer.toml") << stored("/_mpi/tracer");
  table.insert_or_assign("tracer", "tracer.toml");
  if (auto* bg = table["background"].as_table()) {
    if (auto rec = (*bg)["recording"].value<std::string>(); rec && fs::path(*rec).is_relative()) {
      // Relative to the recorded plan's folder (/_mpi/planFile), else to the file's.
      const fs::path base = h5.has("/_mpi/planFile") ? fs::path(h5.text("/_mpi/planFile")).parent_path() : file.parent_path();
      bg->insert_or_assign("recording", fs::absolute(base / *rec).lexically_normal().string());
    }
  }
  std::ofstream(dir / "plan.toml") << table;
  try {
    plan = load_scan_plan(dir / "plan.toml");
  } catch (const std::exception& e) {
    rethrow("/_mpi/plan", e);
  }
}

}  // namespace

MdfReplay replay_mdf(const fs::path& file, const fs::path& plan_file, const fs::path& scanner_file, const FrameHook& on_frame) {
  const mdf::File f = read_measurement_file(file);
  const H5Fields h5(file);
  MdfReplay out;
  load_stored(file, h5, plan_file, scanner_file, out.plan, out.scanner);
  const ScanPlan& plan = out.plan;
  const ScannerDescription& scanner = out.scanner;

  const mdf::Measurement& m = *f.measurement;
  if (m.is_fourier_transformed) throw MdfInputError(file.string() + ": /measurement/isFourierTransformed: replay needs time-domain ADC samples");
  const auto& shape = m.data.shape;
  if (shape.size() != 4) throw MdfInputError(file.string() + ": /measurement/data: expected 4 dimensions");
  const std::size_t n = shape[0], periods = shape[1], channels = shape[2], points = shape[3];
  const std::size_t frame_samples = periods * points;

  // The realised acquisition.
  const auto& rx = f.acquisition.receiver;
  const double fs = h5.has("/_mpi/sampleRate") ? h5.scalar("/_mpi/sampleRate") : 2.0 * rx.bandwidth_hz;
  const DrivePlan planned = plan_drive(plan, scanner, fs);
  link::v1::Envelope hello;
  auto* board = hello.mutable_hello_reply()->mutable_board();
  board->set_adc_sample_rate_hz(fs);
  board->set_adc_channels(static_cast<std::uint32_t>(channels));
  link::v1::Envelope configure;
  auto* reply = configure.mutable_configure_reply();
  const std::uint64_t ramp =
      h5.has("/_mpi/firstFrameSample") ? static_cast<std::uint64_t>(h5.ints("/_mpi/firstFrameSample").at(0)) : planned.ramp_samples;
  std::vector<std::int64_t> frame_first;  // per frame, where the recorder stored it
  if (h5.has("/_mpi/frameFirstSample")) frame_first = h5.ints("/_mpi/frameFirstSample");
  reply->set_ramp_samples(static_cast<std::uint32_t>(ramp));
  reply->set_cycle_samples(planned.cycle_samples);
  {
    const auto& df = f.acquisition.drivefield;
    const auto d_count = static_cast<std::size_t>(df.num_channels);
    const std::size_t comps = df.divider.shape.size() == 2 ? df.divider.shape[1] : 1;
    if (d_count == 0 || df.divider.values.size() != d_count * comps || df.strength.values.size() < d_count * comps ||
        df.phase_rad.values.size() < d_count * comps) {
      throw MdfInputError(file.string() + ": /acquisition/drivefield: divider, strength and phase do not cover numChannels");
    }
    // The realised (DDS) frequencies, exact, where the recorder stored them; else baseFrequency / divider.
    std::vector<double> realised_hz;
    if (h5.has("/_mpi/driveFrequency")) {
      realised_hz = h5.doubles("/_mpi/driveFrequency");
      if (realised_hz.size() != d_count) throw MdfInputError(file.string() + ": /_mpi/driveFrequency: expected one value per drive channel");
    }
    std::vector<std::uint32_t> channel_of(d_count);
    if (d_count == planned.drives.size()) {
      for (std::size_t d = 0; d < d_count; ++d) channel_of[d] = planned.drives[d].channel;
    } else if (d_count == scanner.drives.size()) {
      std::iota(channel_of.begin(), channel_of.end(), 0U);
    } else {
      throw MdfInputError(file.string() + ": /acquisition/drivefield/numChannels: " + std::to_string(d_count) + " channels; the plan drives " +
                          std::to_string(planned.drives.size()) + " of the scanner's " + std::to_string(scanner.drives.size()));
    }
    for (std::size_t d = 0; d < d_count; ++d) {
      const bool driven = std::any_of(planned.drives.begin(), planned.drives.end(), [&](const PlannedDrive& p) { return p.channel == channel_of[d]; });
      if (!driven) continue;
      auto* r = reply->add_drive();
      r->set_channel(channel_of[d]);
      r->set_frequency_hz(realised_hz.empty() ? df.base_frequency_hz / static_cast<double>(df.divider.values[d * comps]) : realised_hz[d]);
      r->set_amplitude_t(df.strength.values[d * comps]);  // first period; MDF's T/mu0 is mu0 H in tesla
      r->set_phase_rad(df.phase_rad.values[d * comps]);
    }
  }

  // Int16 codes from the physical values.
  std::vector<double> a(channels, 1.0), b(channels, 0.0);
  if (!rx.data_conversion_factor.empty()) {
    if (rx.data_conversion_factor.values.size() != 2 * channels) {
      throw MdfInputError(file.string() + ": /acquisition/receiver/dataConversionFactor: expected " + std::to_string(channels) + " x 2");
    }
    for (std::size_t c = 0; c < channels; ++c) {
      a[c] = rx.data_conversion_factor.values[2 * c];
      b[c] = rx.data_conversion_factor.values[2 * c + 1];
      if (!(a[c] != 0.0) || !std::isfinite(a[c])) throw MdfInputError(file.string() + ": /acquisition/receiver/dataConversionFactor: zero scale");
    }
  }

  ReconstructionRunner runner(plan, scanner, WhenFull::block);
  if (on_frame) runner.set_frame_hook(on_frame);
  AcquisitionStream stream(plan, scanner, [&runner](Frame&& fr) {
    fr.arrival = std::chrono::steady_clock::now();
    runner.push(std::move(fr));
  });
  try {
    stream.consume(hello);
    stream.consume(configure);
  } catch (const std::runtime_error& e) {
    throw MdfInputError(file.string() + ": /acquisition/drivefield: the recorded drive does not fit the plan: " + e.what());
  }
  const AcquisitionSetup& setup = stream.setup();
  const std::uint64_t spf = std::uint64_t{setup.samples_per_period} * setup.periods_per_frame;
  if (spf != frame_samples) {
    throw MdfInputError(file.string() + ": /acquisition/receiver/numSamplingPoints: frames of " + std::to_string(frame_samples) +
                        " samples (numPeriodsPerFrame x numSamplingPoints), the plan's frames have " + std::to_string(spf));
  }
  const auto t0 = std::chrono::steady_clock::now();
  runner.start(setup);
  std::string payload(frame_samples * channels * 2, '\0');
  for (std::size_t fr = 0; fr < n; ++fr) {
    for (std::size_t j = 0; j < periods; ++j) {
      for (std::size_t c = 0; c < channels; ++c) {
        const double* src = m.data.values.data() + ((fr * periods + j) * channels + c) * points;
        for (std::size_t v = 0; v < points; ++v) {
          const double code = std::round((src[v] - b[c]) / a[c]);
          if (!(code >= -32768.0 && code <= 32767.0) || std::abs(code * a[c] + b[c] - src[v]) > 1e-3 * std::abs(a[c])) {
            throw MdfInputError(file.string() + ": /measurement/data: frame " + std::to_string(fr) + " channel " + std::to_string(c) +
                                " is not an int16 ADC code through dataConversionFactor");
          }
          const auto u = static_cast<std::uint16_t>(static_cast<std::int16_t>(code));
          const std::size_t at = ((j * points + v) * channels + c) * 2;
          payload[at] = static_cast<char>(u & 0xFF);
          payload[at + 1] = static_cast<char>(u >> 8);
        }
      }
    }
    link::v1::Envelope chunk;
    auto* ch = chunk.mutable_chunk();
    if (frame_first.size() == n) {
      if (frame_first[fr] < static_cast<std::int64_t>(ramp) || (static_cast<std::uint64_t>(frame_first[fr]) - ramp) % spf != 0) {
        throw MdfInputError(file.string() + ": /_mpi/frameFirstSample: frame " + std::to_string(fr) + " does not start on a frame boundary");
      }
      ch->set_first_sample(static_cast<std::uint64_t>(frame_first[fr]));
    } else {
      ch->set_first_sample(ramp + fr * spf);
    }
    ch->set_sample_count(static_cast<std::uint32_t>(frame_samples));
    ch->set_channel_count(static_cast<std::uint32_t>(channels));
    ch->set_payload(payload);
    stream.consume(chunk);
  }
  link::v1::Envelope end;
  end.mutable_stream_end()->set_end_sample(frame_first.size() == n && n > 0 ? static_cast<std::uint64_t>(frame_first.back()) + spf : ramp + n * spf);
  end.mutable_stream_end()->set_reason("end of the recorded file");
  stream.consume(end);

  ReconstructionResult result = runner.finish();
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.file_frames = n;
  out.acquisition_s = static_cast<double>(n * spf) / fs;
  ScanOutcome& o = out.outcome;
  o.image = std::move(result.profile);
  o.mean_image = std::move(result.mean);
  o.last_image = std::move(result.last);
  o.frames = result.frames;
  o.dropped = result.dropped;
  o.latency = result.latency;
  o.reconstruction_summary = result.summary;
  o.background = result.background;
  o.drives = setup.drives;
  o.counters = stream.counters();
  o.chunk_flags = static_cast<std::uint32_t>(stream.chunk_flags_seen());
  o.sample_rate_hz = setup.sample_rate_hz;
  o.drive_frequency_hz = setup.drive.frequency_hz;
  o.drive_amplitude_t = setup.drive.amplitude_t;
  o.end_reason = stream.stream_end().reason();
  return out;
}

}  // namespace mpi::host
