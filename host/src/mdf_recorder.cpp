#include "mpi/host/mdf_recorder.hpp"

#include "mpi/config/scanner_description.hpp"
#include "mpi/config/tracer_description.hpp"
#include "mpi/host/frame_assembler.hpp"
#include "mpi/host/raw_capture.hpp"

#include <hdf5.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

namespace mpi::host {

namespace fs = std::filesystem;
namespace mdf = recon::mdf;

namespace {

// ---------------------------------------------------------------- HDF5: the custom /_mpi fields

struct H5Id {
  hid_t id = -1;
  herr_t (*closer)(hid_t) = nullptr;
  H5Id(hid_t i, herr_t (*c)(hid_t)) : id(i), closer(c) {}
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  ~H5Id() {
    if (id >= 0 && closer != nullptr) closer(id);
  }
};

void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

bool is_hdf5(const fs::path& file) {
  silence_hdf5();
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  return H5Fis_hdf5(file.c_str()) > 0;
}

class H5File {
 public:
  H5File(const fs::path& file, bool write) : path_(file.string()), id_(-1, H5Fclose) {
    silence_hdf5();
    if (!is_hdf5(file)) throw RecordingError(path_ + ": not an MDF file (not HDF5, missing or truncated)");
    id_.id = H5Fopen(path_.c_str(), write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id_.id < 0) throw RecordingError(path_ + ": cannot open the HDF5 file");
  }

  [[nodiscard]] bool exists(const std::string& field) const {
    // Every component must exist before the next can be asked for.
    std::size_t at = 1;
    while (at <= field.size()) {
      const std::size_t next = field.find('/', at);
      const std::string part = field.substr(0, next);
      if (H5Lexists(id_.id, part.c_str(), H5P_DEFAULT) <= 0) return false;
      if (next == std::string::npos) break;
      at = next + 1;
    }
    return true;
  }

  [[nodiscard]] std::optional<std::string> text(const std::string& field) const {
    if (!exists(field)) return std::nullopt;
    const H5Id d(H5Dopen2(id_.id, field.c_str(), H5P_DEFAULT), H5Dclose);
    if (d.id < 0) fail(field, "cannot open");
    const H5Id ft(H5Dget_type(d.id), H5Tclose);
    if (H5Tget_class(ft.id) != H5T_STRING || H5Tis_variable_str(ft.id) <= 0) fail(field, "not a variable-length string");
    const H5Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt.id, H5T_VARIABLE);
    H5Tset_cset(mt.id, H5T_CSET_UTF8);
    char* value = nullptr;
    if (H5Dread(d.id, mt.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, static_cast<void*>(&value)) < 0) fail(field, "cannot read");
    std::string out = value != nullptr ? value : "";
    H5free_memory(value);
    return out;
  }

  [[nodiscard]] std::optional<std::int64_t> integer(const std::string& field) const {
    if (!exists(field)) return std::nullopt;
    const H5Id d(H5Dopen2(id_.id, field.c_str(), H5P_DEFAULT), H5Dclose);
    const H5Id space(H5Dget_space(d.id), H5Sclose);
    if (d.id < 0 || H5Sget_simple_extent_npoints(space.id) != 1) fail(field, "not an integer scalar");
    std::int64_t v = 0;
    if (H5Dread(d.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0) fail(field, "cannot read as an integer");
    return v;
  }

  void write_text(const std::string& field, const std::string& value) {
    ensure_group(field);
    const H5Id t(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(t.id, H5T_VARIABLE);
    H5Tset_cset(t.id, H5T_CSET_UTF8);
    const H5Id space(H5Screate(H5S_SCALAR), H5Sclose);
    const H5Id d(H5Dcreate2(id_.id, field.c_str(), t.id, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    const char* p = value.c_str();
    if (d.id < 0 || H5Dwrite(d.id, t.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, static_cast<const void*>(&p)) < 0) fail(field, "cannot write");
  }

  void write_integers(const std::string& field, const std::vector<std::int64_t>& values, bool scalar) {
    ensure_group(field);
    const hsize_t n = values.size();
    const H5Id space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    const H5Id d(H5Dcreate2(id_.id, field.c_str(), H5T_STD_I64LE, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (d.id < 0) fail(field, "cannot create");
    if (!values.empty() && H5Dwrite(d.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) fail(field, "cannot write");
  }

  [[nodiscard]] std::vector<double> reals(const std::string& field) const {
    if (!exists(field)) return {};
    const H5Id d(H5Dopen2(id_.id, field.c_str(), H5P_DEFAULT), H5Dclose);
    const H5Id space(H5Dget_space(d.id), H5Sclose);
    if (d.id < 0 || space.id < 0) fail(field, "cannot open");
    std::vector<double> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.id)));
    if (!v.empty() && H5Dread(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) fail(field, "cannot read as reals");
    return v;
  }

  void write_reals(const std::string& field, const std::vector<double>& values, bool scalar) {
    ensure_group(field);
    const hsize_t n = values.size();
    const H5Id space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    const H5Id d(H5Dcreate2(id_.id, field.c_str(), H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (d.id < 0) fail(field, "cannot create");
    if (!values.empty() && H5Dwrite(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) fail(field, "cannot write");
  }

  [[nodiscard]] std::vector<std::string> top_level() const {
    std::vector<std::string> names;
    H5Literate(
        id_.id, H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
          static_cast<std::vector<std::string>*>(data)->emplace_back(name);
          return 0;
        },
        &names);
    return names;
  }

  void close() {
    if (id_.id >= 0) H5Fclose(id_.id);
    id_.id = -1;
  }

  [[noreturn]] void fail(const std::string& field, const std::string& why) const { throw RecordingError(path_ + ": " + field + ": " + why); }

 private:
  void ensure_group(const std::string& field) {
    const std::size_t slash = field.rfind('/');
    if (slash == 0 || slash == std::string::npos) return;
    const std::string group = field.substr(0, slash);
    if (exists(group)) return;
    const H5Id g(H5Gcreate2(id_.id, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (g.id < 0) fail(group, "cannot create the group");
  }

  std::string path_;
  H5Id id_;
};

// ---------------------------------------------------------------- metadata

std::string read_text_file(const fs::path& file, const std::string& what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw RecordingError(file.string() + ": cannot read the " + what + " for the recording");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint64_t fnv1a(const std::string& bytes, std::uint64_t h = 1469598103934665603ULL) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// Identifies the scan a journal belongs to: the board's HelloReply and the realised ConfigureReply.
std::string fingerprint(const link::v1::HelloReply& hello, const link::v1::ConfigureReply& configure) {
  const std::uint64_t h = fnv1a(configure.SerializeAsString(), fnv1a(hello.SerializeAsString()));
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::string topology_name(config::Topology t) {
  switch (t) {
    case config::Topology::ffp: return "FFP";
    case config::Topology::ffl: return "FFL";
    case config::Topology::mps: return "MPS";
  }
  return "FFP";
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// Divider of each driven channel against one base frequency, so that lcm(divider) / base is the cycle.
void drive_dividers(const RecordingStart& s, double& base_hz, std::vector<std::int64_t>& dividers) {
  const auto& reply = s.configure;
  const ScannerDescription& scanner = *s.scanner;
  dividers.clear();
  bool same_clock = !s.setup.drive_channels.empty();
  double clock = 0.0;
  for (const auto& d : reply.drive()) {
    if (d.channel() >= scanner.drives.size()) {
      same_clock = false;
      break;
    }
    const double c = scanner.drives[d.channel()].base_clock_hz;
    if (clock == 0.0) clock = c;
    if (c != clock) same_clock = false;
  }
  if (same_clock && clock > 0.0) {
    base_hz = clock;
    for (const auto& d : reply.drive()) dividers.push_back(scanner.drives[d.channel()].divider);
    std::int64_t l = 1;
    for (const auto v : dividers) l = std::lcm(l, v);
    // The cycle must be the frame's period (V samples): otherwise fall back to the sample clock below.
    if (std::abs(static_cast<double>(l) / base_hz - s.setup.samples_per_period / s.setup.sample_rate_hz) <=
        1e-9 * s.setup.samples_per_period / s.setup.sample_rate_hz) {
      return;
    }
    dividers.clear();
  }
  // Against the ADC clock: each channel's samples per period (a whole number for every realised drive).
  base_hz = s.setup.sample_rate_hz;
  for (const auto& d : reply.drive()) {
    dividers.push_back(std::max<std::int64_t>(1, std::llround(s.setup.sample_rate_hz / d.frequency_hz())));
  }
}

}  // namespace

mdf::File recording_metadata(const RecordingStart& s) {
  if (s.plan == nullptr || s.scanner == nullptr) throw RecordingError("recording: no plan or scanner given");
  const ScanPlan& plan = *s.plan;
  const ScannerDescription& scanner = *s.scanner;
  const std::string start = s.start_time.empty() ? mdf::time_now() : s.start_time;
  mdf::File f;
  f.uuid = mdf::make_uuid_v4();
  f.time = start;

  const std::string plan_name = plan.file.empty() ? std::string("plan") : plan.file.stem().string();
  f.study.name = plan_name;
  f.study.number = 1;
  f.study.uuid = mdf::make_uuid_v4();
  f.study.description = "mpi scan with plan " + plan.file.filename().string() + " on " + scanner.file.filename().string();
  f.study.time = start;

  f.experiment.name = plan.multi_dimensional() ? plan.sequence.name : std::string("1D drive");
  f.experiment.number = 1;
  f.experiment.uuid = mdf::make_uuid_v4();
  f.experiment.description = "live scan, " + std::to_string(plan.sequence.frames) + " frames planned";
  f.experiment.subject = "";
  // The board does not say whether it is the simulated plant; a plan with a [simulation] table is meant for it.
  try {
    const toml::table t = toml::parse(read_text_file(plan.file, "scan plan"), plan.file.string());
    f.experiment.is_simulation = t.contains("simulation");
  } catch (const toml::parse_error& e) {
    throw RecordingError(plan.file.string() + ": " + std::string(e.description()));
  }

  config::ScannerDescription description;
  try {
    description = config::load_scanner_description(scanner.file);
  } catch (const std::exception& e) {
    throw RecordingError(std::string("recording: ") + e.what());
  }
  f.scanner.name = description.name;
  f.scanner.manufacturer = description.manufacturer;
  f.scanner.facility = "";
  f.scanner.operator_name = env_or("USER", "");
  f.scanner.topology = topology_name(description.selection.topology);

  try {
    const config::TracerDescription tracer = config::load_tracer_description(plan.tracer_file);
    mdf::TracerMaterial m;
    m.name = tracer.name;
    f.tracer.push_back(m);
  } catch (const std::exception& e) {
    throw RecordingError(std::string("recording: ") + e.what());
  }

  const AcquisitionSetup& setup = s.setup;
  const std::size_t J = setup.periods_per_frame;
  const std::size_t C = setup.adc_channels;
  auto& a = f.acquisition;
  a.num_averages = 1;
  a.num_frames = 0;
  a.num_periods_per_frame = static_cast<std::int64_t>(J);
  a.start_time = start;
  a.gradient = mdf::ArrayD({J, 1, 3, 3});
  for (std::size_t j = 0; j < J; ++j)
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) a.gradient.values[j * 9 + static_cast<std::size_t>(r * 3 + c)] = scanner.gradient_matrix_t_per_m(r, c);

  auto& d = a.drivefield;
  const std::size_t D = static_cast<std::size_t>(s.configure.drive_size());
  if (D == 0) throw RecordingError("recording: the board's ConfigureReply has no drive channel");
  std::vector<std::int64_t> dividers;
  drive_dividers(s, d.base_frequency_hz, dividers);
  d.num_channels = static_cast<std::int64_t>(D);
  std::int64_t l = 1;
  for (const auto v : dividers) l = std::lcm(l, v);
  d.cycle_s = static_cast<double>(l) / d.base_frequency_hz;
  d.divider = mdf::ArrayI({D, 1}, dividers);
  d.waveform = mdf::Array<std::string>({D, 1}, std::vector<std::string>(D, "sine"));
  d.phase_rad = mdf::ArrayD({J, D, 1});
  d.strength = mdf::ArrayD({J, D, 1});
  for (std::size_t j = 0; j < J; ++j)
    for (std::size_t i = 0; i < D; ++i) {
      d.phase_rad.values[j * D + i] = s.configure.drive(static_cast<int>(i)).phase_rad();
      d.strength.values[j * D + i] = s.configure.drive(static_cast<int>(i)).amplitude_t();
    }

  auto& r = a.receiver;
  r.bandwidth_hz = setup.sample_rate_hz / 2.0;
  r.num_channels = static_cast<std::int64_t>(C);
  r.num_sampling_points = setup.samples_per_period;
  r.unit = "V";
  // Receive channels: volts at the coil (ADC full scale / 32767 / LNA gain); reference pickups: at the ADC.
  r.data_conversion_factor = mdf::ArrayD({C, 2});
  for (std::size_t c = 0; c < C; ++c) {
    const double lna = c < scanner.receivers.size() ? scanner.receivers[c].lna_gain : 1.0;
    r.data_conversion_factor.values[2 * c] = scanner.adc_full_scale_v / 32767.0 / lna;
    r.data_conversion_factor.values[2 * c + 1] = 0.0;
  }
  return f;
}

void begin_recording(const fs::path& file, const fs::path& journal, const RecordingStart& s) {
  const mdf::File meta = recording_metadata(s);
  const std::string plan_text = read_text_file(s.plan->file, "scan plan");
  const std::string scanner_text = read_text_file(s.scanner->file, "scanner description");
  const std::string tracer_text = read_text_file(s.plan->tracer_file, "tracer description");
  try {
    mdf::Writer w = mdf::Writer::create(file.string(), meta);
    w.finish();
  } catch (const mdf::MdfError& e) {
    throw RecordingError(e.what());
  }
  H5File h(file, true);
  h.write_text("/_mpi/recording", "incomplete");
  h.write_text("/_mpi/journal", journal.filename().string());
  h.write_text("/_mpi/plan", plan_text);
  h.write_text("/_mpi/planFile", fs::absolute(s.plan->file).lexically_normal().string());
  h.write_text("/_mpi/scanner", scanner_text);
  h.write_text("/_mpi/scannerFile", fs::absolute(s.scanner->file).lexically_normal().string());
  h.write_text("/_mpi/tracer", tracer_text);
  h.write_text("/_mpi/journalFingerprint", fingerprint(s.hello, s.configure));
  h.write_integers("/_mpi/firstFrameSample", {static_cast<std::int64_t>(s.setup.first_frame_sample)}, true);
  h.write_integers("/_mpi/plannedFrames", {static_cast<std::int64_t>(s.plan->sequence.frames)}, true);
  // Exact realised values (the DDS frequencies are not exactly baseFrequency / divider) for replay.
  h.write_reals("/_mpi/sampleRate", {s.setup.sample_rate_hz}, true);
  std::vector<double> realised;
  for (const auto& d : s.configure.drive()) realised.push_back(d.frequency_hz());
  h.write_reals("/_mpi/driveFrequency", realised, false);
  h.close();
}

std::string recording_state(const fs::path& file) {
  const H5File h(file, false);
  return h.text("/_mpi/recording").value_or("");
}

namespace {

// ---------------------------------------------------------------- reading the journal

struct Geometry {
  std::uint32_t V = 0, J = 0, C = 0;
  std::uint64_t first_frame_sample = 0;
  std::uint64_t planned = 0;
  std::string fingerprint;
  std::string file;  // the recording, for messages
};

// One pass over the journal: the board's messages in order, frames through the FrameAssembler. Reading
// stops at the end of the file, or at a record the file ends inside (or that does not decode): the frames
// complete before it are kept.
class JournalPass {
 public:
  JournalPass(fs::path journal, const Geometry& g, std::function<void(Frame&&)> sink)
      : path_(std::move(journal)), geometry_(g), sink_(std::move(sink)), reader_(path_) {}

  // Reads one message; false at the end (clean or cut).
  bool step() {
    if (done_) return false;
    link::v1::Envelope env;
    try {
      if (!reader_.next(env)) {
        done_ = true;
        return false;
      }
    } catch (const std::exception& e) {
      done_ = true;
      cut_ = true;
      note_ = e.what();
      return false;
    }
    consume(env);
    return true;
  }

  link::v1::HelloReply hello;
  link::v1::ConfigureReply configure;
  bool have_hello = false, have_configure = false;
  std::vector<mdf::FaultEvent> events;
  std::vector<link::v1::FieldReport> reports;
  std::optional<link::v1::StreamEnd> end;
  [[nodiscard]] bool cut() const noexcept { return cut_; }
  [[nodiscard]] const std::string& note() const noexcept { return note_; }

 private:
  void consume(const link::v1::Envelope& env) {
    switch (env.body_case()) {
      case link::v1::Envelope::kHelloReply:
        if (!have_hello) {
          hello = env.hello_reply();
          have_hello = true;
        }
        break;
      case link::v1::Envelope::kConfigureReply: {
        if (have_configure) break;
        configure = env.configure_reply();
        have_configure = true;
        if (!have_hello) throw RecordingError(path_.string() + ": ConfigureReply before the board's HelloReply");
        if (!geometry_.fingerprint.empty() && fingerprint(hello, configure) != geometry_.fingerprint) {
          throw RecordingError(path_.string() + ": the journal belongs to another scan than " + geometry_.file +
                               " (its board set-up differs from the file's /_mpi/journalFingerprint)");
        }
        if (hello.board().adc_channels() != geometry_.C) {
          throw RecordingError(path_.string() + ": the journal's board has " + std::to_string(hello.board().adc_channels()) +
                               " ADC channels, " + geometry_.file + " " + std::to_string(geometry_.C) + ": a journal of another scan");
        }
        FrameGeometry fg;
        fg.samples_per_period = geometry_.V;
        fg.periods_per_frame = geometry_.J;
        fg.channels = geometry_.C;
        fg.first_frame_sample = geometry_.first_frame_sample;
        assembler_.emplace(fg, [this](Frame&& f) {
          if (f.index < geometry_.planned) sink_(std::move(f));
        });
        break;
      }
      case link::v1::Envelope::kChunk: {
        const auto& c = env.chunk();
        if (!assembler_) throw RecordingError(path_.string() + ": sample chunk at sample " + std::to_string(c.first_sample()) + " before the configuration");
        if (have_next_ && c.first_sample() != next_) {
          if (c.first_sample() > next_) {
            events.push_back({static_cast<std::int64_t>(next_), "samples_lost", -1,
                              std::to_string(c.first_sample() - next_) + " samples lost before sample " + std::to_string(c.first_sample())});
          } else {
            events.push_back({static_cast<std::int64_t>(c.first_sample()), "samples_repeated", -1,
                              std::to_string(next_ - c.first_sample()) + " samples sent again from sample " + std::to_string(c.first_sample())});
          }
        }
        next_ = c.first_sample() + c.sample_count();
        have_next_ = true;
        const std::uint32_t rising = c.flags() & ~last_flags_;
        last_flags_ = c.flags();
        const std::pair<std::uint32_t, const char*> named[] = {{link::v1::CHUNK_FLAG_OVERWRITTEN, "overwritten"},
                                                                {link::v1::CHUNK_FLAG_CORRUPTED, "corrupted"},
                                                                {link::v1::CHUNK_FLAG_LOST_STEPS, "lost_steps"},
                                                                {link::v1::CHUNK_FLAG_FAULT, "fault_active"}};
        for (const auto& [bit, name] : named) {
          if ((rising & bit) != 0) {
            events.push_back({static_cast<std::int64_t>(c.first_sample()), std::string("chunk_") + name, -1,
                              std::string("chunk flag ") + name + " set from sample " + std::to_string(c.first_sample())});
          }
        }
        const auto* bytes = reinterpret_cast<const std::byte*>(c.payload().data());  // NOLINT: byte view
        try {
          assembler_->add_chunk(c.first_sample(), c.sample_count(), c.channel_count(), c.flags(), {bytes, c.payload().size()});
        } catch (const std::exception& e) {
          throw RecordingError(path_.string() + ": chunk at sample " + std::to_string(c.first_sample()) + ": " + e.what());
        }
        break;
      }
      case link::v1::Envelope::kFault: {
        const auto& f = env.fault();
        std::string kind = link::v1::FaultKind_Name(f.kind());
        if (kind.rfind("FAULT_KIND_", 0) == 0) kind = kind.substr(11);
        std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        events.push_back({static_cast<std::int64_t>(f.sample()), kind, f.channel(), f.message()});
        break;
      }
      case link::v1::Envelope::kFieldReport:
        reports.push_back(env.field_report());
        break;
      case link::v1::Envelope::kStreamEnd:
        end = env.stream_end();
        break;
      default:
        break;
    }
  }

  fs::path path_;
  Geometry geometry_;
  std::function<void(Frame&&)> sink_;
  RawCaptureReader reader_;
  std::optional<FrameAssembler> assembler_;
  bool done_ = false, cut_ = false;
  std::string note_;
  std::uint64_t next_ = 0;
  bool have_next_ = false;
  std::uint32_t last_flags_ = 0;
};

struct FrameInfo {
  std::uint64_t first_sample = 0;
};

}  // namespace

RecordingSummary finish_recording(const fs::path& file) {
  const std::string name = file.string();
  std::string state;
  Geometry g;
  g.file = name;
  std::string journal_name, plan_text, scanner_text, tracer_text, plan_file, scanner_file;
  std::vector<double> sample_rate, drive_frequency;
  {
    const H5File h(file, false);
    if (!h.exists("/_mpi/recording")) throw RecordingError(name + ": not a recording of mpi scan (no /_mpi/recording)");
    state = h.text("/_mpi/recording").value_or("");
    if (state == "complete") throw RecordingError(name + ": the recording is already complete; nothing to recover");
    if (state != "incomplete") throw RecordingError(name + ": /_mpi/recording: unknown state '" + state + "'");
    journal_name = h.text("/_mpi/journal").value_or("");
    if (journal_name.empty()) throw RecordingError(name + ": /_mpi/journal: missing; the file names no journal to recover from");
    g.fingerprint = h.text("/_mpi/journalFingerprint").value_or("");
    g.first_frame_sample = static_cast<std::uint64_t>(h.integer("/_mpi/firstFrameSample").value_or(0));
    const auto planned = h.integer("/_mpi/plannedFrames");
    if (!planned || *planned < 0) throw RecordingError(name + ": /_mpi/plannedFrames: missing or negative");
    g.planned = static_cast<std::uint64_t>(*planned);
    plan_text = h.text("/_mpi/plan").value_or("");
    scanner_text = h.text("/_mpi/scanner").value_or("");
    tracer_text = h.text("/_mpi/tracer").value_or("");
    plan_file = h.text("/_mpi/planFile").value_or("");
    scanner_file = h.text("/_mpi/scannerFile").value_or("");
    sample_rate = h.reals("/_mpi/sampleRate");
    drive_frequency = h.reals("/_mpi/driveFrequency");
  }
  const fs::path journal = file.parent_path() / journal_name;
  std::error_code ec;
  if (!fs::is_regular_file(journal, ec)) {
    throw RecordingError(name + ": its journal " + journal.string() + " is missing; the frames of this scan cannot be recovered");
  }

  mdf::File meta;
  try {
    meta = mdf::read_mdf(name);
  } catch (const mdf::MdfError& e) {
    throw RecordingError(e.what());
  }
  const auto& rx = meta.acquisition.receiver;
  if (rx.num_sampling_points <= 0 || rx.num_channels <= 0 || meta.acquisition.num_periods_per_frame <= 0) {
    throw RecordingError(name + ": /acquisition: the receiver or the periods per frame are not set");
  }
  g.V = static_cast<std::uint32_t>(rx.num_sampling_points);
  g.C = static_cast<std::uint32_t>(rx.num_channels);
  g.J = static_cast<std::uint32_t>(meta.acquisition.num_periods_per_frame);
  const std::uint64_t spf = std::uint64_t{g.V} * g.J;

  // Pass 1: which frames are complete, the events, the field reports.
  std::vector<FrameInfo> frames;
  JournalPass first(journal, g, [&frames](Frame&& f) { frames.push_back({f.first_sample}); });
  while (first.step()) {
  }
  if (!first.have_configure) throw RecordingError(journal.string() + ": the journal holds no scan configuration (ConfigureReply)");
  const std::size_t N = frames.size();

  // Background frames: those wholly inside a background segment of the scan program.
  std::vector<bool> background(N, false);
  std::uint64_t n_background = 0;
  for (std::size_t n = 0; n < N; ++n) {
    for (const auto& seg : first.configure.segments()) {
      if (seg.role() == link::v1::SEGMENT_ROLE_BACKGROUND && frames[n].first_sample >= seg.first_sample() &&
          frames[n].first_sample + spf <= seg.first_sample() + seg.sample_count()) {
        background[n] = true;
        ++n_background;
        break;
      }
    }
  }

  meta.acquisition.num_frames = static_cast<std::int64_t>(N);
  meta.faults = first.events;
  std::sort(meta.faults.begin(), meta.faults.end(), [](const auto& a, const auto& b) { return a.sample_index < b.sample_index; });

  // Drive field per frame and drive channel: the latest report of the channel whose block began before
  // the frame's end (before any report: the first one).
  const std::size_t D = static_cast<std::size_t>(first.configure.drive_size());
  std::map<std::uint32_t, std::vector<const link::v1::FieldReport*>> by_channel;
  for (const auto& r : first.reports) by_channel[r.channel()].push_back(&r);
  bool every_channel = D > 0 && N > 0;
  for (std::size_t i = 0; i < D; ++i) every_channel = every_channel && by_channel.count(first.configure.drive(static_cast<int>(i)).channel()) > 0;
  if (every_channel) {
    std::vector<double> tesla_per_full_scale(D, 0.0);
    try {
      const config::ScannerDescription sd = config::parse_scanner_description(scanner_text, name + ": /_mpi/scanner");
      for (std::size_t i = 0; i < D; ++i) {
        const std::uint32_t ch = first.configure.drive(static_cast<int>(i)).channel();
        if (ch < sd.drive.size()) tesla_per_full_scale[i] = sd.drive[ch].tesla_per_full_scale();
      }
    } catch (const std::exception& e) {
      throw RecordingError(std::string("recording: ") + e.what());
    }
    meta.acquisition.applied_field = mdf::ArrayC({N, D});
    meta.acquisition.measured_field = mdf::ArrayC({N, D});
    for (std::size_t i = 0; i < D; ++i) {
      const auto& list = by_channel[first.configure.drive(static_cast<int>(i)).channel()];
      std::size_t k = 0;
      for (std::size_t n = 0; n < N; ++n) {
        const std::uint64_t frame_end = frames[n].first_sample + spf;
        while (k + 1 < list.size() && list[k + 1]->first_sample() < frame_end) ++k;
        const link::v1::FieldReport& r = *list[k];
        meta.acquisition.applied_field.values[n * D + i] = std::polar(r.applied_amplitude() * tesla_per_full_scale[i], r.applied_phase_rad());
        meta.acquisition.measured_field.values[n * D + i] = std::polar(r.measured_t(), r.measured_phase_rad());
      }
    }
  }

  // Pass 2: the frames' samples, in order, reordered from interleaved (sample, channel) to J x C x V.
  const fs::path tmp = fs::path(name + ".tmp");
  try {
    if (N == 0) {
      mdf::Writer w = mdf::Writer::create(tmp.string(), meta);
      w.finish();
    } else {
      std::deque<Frame> ready;
      JournalPass second(journal, g, [&ready](Frame&& f) { ready.push_back(std::move(f)); });
      std::size_t delivered = 0;
      mdf::MeasurementSpec spec;
      spec.frames = N;
      spec.periods = g.J;
      spec.channels = g.C;
      spec.points = g.V;
      spec.storage = mdf::StorageType::int16;
      const std::size_t per_frame = spf * g.C;
      mdf::write_measurement_from(
          tmp.string(), meta, spec,
          [&](std::size_t first_frame, std::size_t count, std::span<std::byte> out) {
            if (first_frame != delivered) throw RecordingError(name + ": frames asked out of order");
            auto* codes = reinterpret_cast<std::int16_t*>(out.data());  // NOLINT: the writer's int16 block
            for (std::size_t k = 0; k < count; ++k) {
              while (ready.empty()) {
                if (!second.step()) throw RecordingError(journal.string() + ": the journal changed while it was read");
              }
              const Frame& f = ready.front();
              if (f.samples.size() != per_frame) throw RecordingError(journal.string() + ": frame of an unexpected size");
              std::int16_t* dst = codes + k * per_frame;
              for (std::size_t j = 0; j < g.J; ++j)
                for (std::size_t c = 0; c < g.C; ++c)
                  for (std::size_t v = 0; v < g.V; ++v) dst[(j * g.C + c) * g.V + v] = f.samples[(j * g.V + v) * g.C + c];
              ready.pop_front();
            }
            delivered += count;
          },
          background);
    }
    H5File h(tmp, true);
    h.write_text("/_mpi/recording", "complete");
    h.write_text("/_mpi/journal", journal_name);
    h.write_text("/_mpi/plan", plan_text);
    h.write_text("/_mpi/planFile", plan_file);
    h.write_text("/_mpi/scanner", scanner_text);
    h.write_text("/_mpi/scannerFile", scanner_file);
    h.write_text("/_mpi/tracer", tracer_text);
    h.write_text("/_mpi/journalFingerprint", g.fingerprint);
    h.write_integers("/_mpi/firstFrameSample", {static_cast<std::int64_t>(g.first_frame_sample)}, true);
    h.write_integers("/_mpi/plannedFrames", {static_cast<std::int64_t>(g.planned)}, true);
    if (!sample_rate.empty()) h.write_reals("/_mpi/sampleRate", sample_rate, true);
    if (!drive_frequency.empty()) h.write_reals("/_mpi/driveFrequency", drive_frequency, false);
    std::vector<std::int64_t> starts(N);
    for (std::size_t n = 0; n < N; ++n) starts[n] = static_cast<std::int64_t>(frames[n].first_sample);
    h.write_integers("/_mpi/frameFirstSample", starts, false);
    if (first.cut()) h.write_text("/_mpi/journalNote", first.note());
    h.close();
  } catch (const mdf::MdfError& e) {
    fs::remove(tmp, ec);
    throw RecordingError(e.what());
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, file, ec);
  if (ec) throw RecordingError(tmp.string() + ": cannot rename over " + name + ": " + ec.message());

  RecordingSummary out;
  out.frames = N;
  out.background_frames = n_background;
  out.faults = meta.faults.size();
  out.journal_cut = first.cut();
  out.journal_note = first.note();
  return out;
}

Inspection inspect_mdf(const fs::path& file) {
  const std::string name = file.string();
  Inspection out;
  std::ostringstream t;
  t << "file: " << name << '\n';
  std::string state;
  {
    const H5File h(file, false);  // throws for a file that is not HDF5
    const auto groups = h.top_level();
    t << "groups:";
    for (const auto& gname : groups) t << " /" << gname;
    t << '\n';
    state = h.text("/_mpi/recording").value_or("");
  }
  if (state == "incomplete") {
    t << "recording: INCOMPLETE (the scan did not finish writing it; run `mpi recover " << name << "`)\n";
  } else if (!state.empty()) {
    t << "recording: " << state << '\n';
  }
  try {
    const mdf::File f = mdf::read_mdf(name);
    const auto& a = f.acquisition;
    const auto& d = a.drivefield;
    const auto& r = a.receiver;
    const long long N = a.num_frames, J = a.num_periods_per_frame, C = r.num_channels, V = r.num_sampling_points;
    t << "dimensions: N = " << N << " frames, J = " << J << " periods per frame, C = " << C << " channels, V = " << V
      << " sampling points\n";
    t << "scanner: " << f.scanner.name << " (" << f.scanner.manufacturer << "), topology " << f.scanner.topology;
    if (!f.scanner.facility.empty()) t << ", facility " << f.scanner.facility;
    t << '\n';
    t << "experiment: " << f.experiment.name << (f.experiment.is_simulation ? " (simulation)" : "") << ", started " << a.start_time << '\n';
    t << "sequence: base frequency " << d.base_frequency_hz << " Hz, cycle " << d.cycle_s * 1e6 << " us, " << d.num_channels
      << " drive channel(s):";
    const std::size_t F = d.divider.shape.size() == 2 ? d.divider.shape[1] : 1;
    for (std::size_t i = 0; i < static_cast<std::size_t>(d.num_channels) && i * F < d.divider.values.size(); ++i) {
      const auto div = d.divider.values[i * F];
      t << " [divider " << div << ", " << d.base_frequency_hz / static_cast<double>(div) << " Hz";
      if (i * F < d.strength.values.size()) t << ", " << d.strength.values[i * F] * 1e3 << " mT";
      t << ']';
    }
    t << '\n';
    t << "receiver: bandwidth " << r.bandwidth_hz << " Hz, unit " << r.unit << (r.data_conversion_factor.empty() ? "" : ", with dataConversionFactor")
      << '\n';
    t << "tracer:";
    if (f.tracer.empty()) t << " none";
    for (const auto& m : f.tracer) t << " '" << m.name << "'";
    t << '\n';
    std::size_t bg = 0;
    if (f.measurement) bg = static_cast<std::size_t>(std::count(f.measurement->is_background_frame.begin(), f.measurement->is_background_frame.end(), true));
    t << "frames: " << (f.measurement ? std::to_string(N) : std::string("none (no /measurement)")) << ", background frames: " << bg << '\n';
    if (!a.measured_field.empty()) t << "drive field per frame: /acquisition/_appliedField, /acquisition/_measuredField\n";
    t << "faults: " << f.faults.size() << '\n';
    for (std::size_t i = 0; i < f.faults.size() && i < 10; ++i) {
      const auto& e = f.faults[i];
      t << "  sample " << e.sample_index << ": " << e.kind << (e.channel >= 0 ? " (channel " + std::to_string(e.channel) + ")" : "") << ": "
        << e.message << '\n';
    }
    if (f.faults.size() > 10) t << "  ... " << f.faults.size() - 10 << " more\n";
  } catch (const std::exception& e) {
    t << "summary: cannot read the file as MDF: " << e.what() << '\n';
    ++out.errors;
  }
  std::vector<mdf::Finding> findings;
  try {
    findings = mdf::check_mdf(name);
  } catch (const std::exception& e) {
    findings.push_back({mdf::Finding::Severity::error, "/", e.what()});
  }
  for (const auto& fnd : findings) {
    if (fnd.severity == mdf::Finding::Severity::error) {
      ++out.errors;
    } else {
      ++out.warnings;
    }
  }
  t << "conformance: " << out.errors << " error(s), " << out.warnings << " warning(s)\n";
  for (const auto& fnd : findings) {
    t << "  " << (fnd.severity == mdf::Finding::Severity::error ? "error " : "warning ") << fnd.field << ": " << fnd.message << '\n';
  }
  out.text = t.str();
  return out;
}

}  // namespace mpi::host
