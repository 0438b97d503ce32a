#include "mpi/recon/mdf.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <functional>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

namespace mpi::recon::mdf {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Files of this process go to one directory, removed when the process ends.
struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("mdf_test_" + std::to_string(::getpid()));
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string temp_path(const std::string& name) {
  static TempDir t;
  fs::create_directories(t.dir);
  return (t.dir / name).string();
}

// ------------------------------------------------------------------ raw HDF5 helpers ("another tool")

void raw_write(hid_t f, const std::string& field, hid_t ftype, hid_t mtype, const std::vector<hsize_t>& dims,
               const void* data, bool chunked = false) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked) {
    H5Pset_chunk(dcpl, static_cast<int>(dims.size()), dims.data());
    H5Pset_deflate(dcpl, 4);
  }
  hid_t d = H5Dcreate2(f, field.c_str(), ftype, space, lcpl, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0) << field;
  ASSERT_GE(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << field;
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Pclose(lcpl);
}

// Variable-length strings, or fixed-length ones as some tools write them (not conformant, but readable).
bool g_fixed_strings = false;
void raw_str(hid_t f, const std::string& field, const std::string& s) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (g_fixed_strings) {
    H5Tset_size(t, s.size() + 1);
    raw_write(f, field, t, t, {}, s.c_str());
  } else {
    H5Tset_size(t, H5T_VARIABLE);
    const char* p = s.c_str();
    raw_write(f, field, t, t, {}, &p);
  }
  H5Tclose(t);
}
void raw_i64(hid_t f, const std::string& field, std::int64_t v) { raw_write(f, field, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &v); }
void raw_i8(hid_t f, const std::string& field, int v) {
  const std::int8_t x = static_cast<std::int8_t>(v);
  raw_write(f, field, H5T_STD_I8LE, H5T_NATIVE_INT8, {}, &x);
}
void raw_f64(hid_t f, const std::string& field, double v) { raw_write(f, field, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &v); }
void raw_dv(hid_t f, const std::string& field, const std::vector<hsize_t>& dims, const std::vector<double>& v) {
  raw_write(f, field, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, dims, v.data());
}
void raw_iv(hid_t f, const std::string& field, const std::vector<hsize_t>& dims, const std::vector<std::int64_t>& v) {
  raw_write(f, field, H5T_STD_I64LE, H5T_NATIVE_INT64, dims, v.data());
}
void raw_i8v(hid_t f, const std::string& field, const std::vector<std::int8_t>& v) {
  raw_write(f, field, H5T_STD_I8LE, H5T_NATIVE_INT8, {v.size()}, v.data());
}

struct Dims {
  std::size_t N = 3, J = 1, C = 2, V = 8, D = 1, F = 1;
};

// All mandatory metadata, written field by field with the C API.
void raw_metadata(hid_t f, const Dims& d) {
  const double bandwidth = static_cast<double>(d.V) / (102.0 / 2.5e6) / 2.0;
  raw_str(f, "/version", "2.0.1");
  raw_str(f, "/uuid", "3170fdf8-f8e1-4cbf-ac73-41520b41f6ee");
  raw_str(f, "/time", "2021-03-04T05:06:07.089");
  raw_str(f, "/study/name", "s");
  raw_i64(f, "/study/number", 1);
  raw_str(f, "/study/uuid", "295258fe-b650-4e5f-96db-b83f11089a6c");
  raw_str(f, "/study/description", "");
  raw_str(f, "/experiment/name", "e");
  raw_i64(f, "/experiment/number", 2);
  raw_str(f, "/experiment/uuid", "f96dbc48-1ebd-44c7-b04d-1b45da054693");
  raw_str(f, "/experiment/description", "");
  raw_str(f, "/experiment/subject", "phantom");
  raw_i8(f, "/experiment/isSimulation", 0);
  raw_str(f, "/scanner/facility", "lab");
  raw_str(f, "/scanner/manufacturer", "m");
  raw_str(f, "/scanner/name", "n");
  raw_str(f, "/scanner/operator", "o");
  raw_str(f, "/scanner/topology", "FFP");
  raw_i64(f, "/acquisition/numAverages", 1);
  raw_i64(f, "/acquisition/numFrames", static_cast<std::int64_t>(d.N));
  raw_i64(f, "/acquisition/numPeriodsPerFrame", static_cast<std::int64_t>(d.J));
  raw_str(f, "/acquisition/startTime", "2021-03-04T05:06:07");
  raw_f64(f, "/acquisition/drivefield/baseFrequency", 2.5e6);
  raw_i64(f, "/acquisition/drivefield/numChannels", static_cast<std::int64_t>(d.D));
  raw_f64(f, "/acquisition/drivefield/cycle", 102.0 / 2.5e6);
  raw_iv(f, "/acquisition/drivefield/divider", {d.D, d.F}, std::vector<std::int64_t>(d.D * d.F, 102));
  if (g_fixed_strings) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 5);
    std::vector<char> w(d.D * d.F * 5, '\0');
    for (std::size_t i = 0; i < d.D * d.F; ++i) std::memcpy(&w[i * 5], "sine", 4);
    raw_write(f, "/acquisition/drivefield/waveform", t, t, {d.D, d.F}, w.data());
    H5Tclose(t);
  } else {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    std::vector<const char*> w(d.D * d.F, "sine");
    raw_write(f, "/acquisition/drivefield/waveform", t, t, {d.D, d.F}, w.data());
    H5Tclose(t);
  }
  raw_dv(f, "/acquisition/drivefield/phase", {d.J, d.D, d.F}, std::vector<double>(d.J * d.D * d.F, 0.0));
  raw_dv(f, "/acquisition/drivefield/strength", {d.J, d.D, d.F}, std::vector<double>(d.J * d.D * d.F, 0.012));
  raw_f64(f, "/acquisition/receiver/bandwidth", bandwidth);
  raw_i64(f, "/acquisition/receiver/numChannels", static_cast<std::int64_t>(d.C));
  raw_i64(f, "/acquisition/receiver/numSamplingPoints", static_cast<std::int64_t>(d.V));
  raw_str(f, "/acquisition/receiver/unit", "V");
}

void raw_flags(hid_t f, bool fourier, bool fast, bool perm, bool fsel, std::size_t frames_without_background = 0) {
  if (frames_without_background > 0) raw_i8v(f, "/measurement/isBackgroundFrame", std::vector<std::int8_t>(frames_without_background, 0));
  raw_i8(f, "/measurement/isFourierTransformed", fourier);
  raw_i8(f, "/measurement/isFastFrameAxis", fast);
  raw_i8(f, "/measurement/isFramePermutation", perm);
  raw_i8(f, "/measurement/isFrequencySelection", fsel);
  raw_i8(f, "/measurement/isBackgroundCorrected", 0);
  raw_i8(f, "/measurement/isTransferFunctionCorrected", 0);
  raw_i8(f, "/measurement/isSpectralLeakageCorrected", 0);
  raw_i8(f, "/measurement/isSparsityTransformed", 0);
}

hid_t raw_create(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
}

struct RawComplex {
  float r, i;
};
hid_t raw_complex_type() {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(RawComplex));
  H5Tinsert(t, "r", HOFFSET(RawComplex, r), H5T_NATIVE_FLOAT);
  H5Tinsert(t, "i", HOFFSET(RawComplex, i), H5T_NATIVE_FLOAT);
  return t;
}

// Field edits on a finished file.
void edit(const std::string& path, const std::function<void(hid_t)>& fn) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  fn(f);
  H5Fclose(f);
}
void remove_field(hid_t f, const std::string& field) { ASSERT_GE(H5Ldelete(f, field.c_str(), H5P_DEFAULT), 0) << field; }

// ----------------------------------------------------------------------------- a complete model file

File full_file(std::size_t N, std::size_t J, std::size_t C, std::size_t V) {
  File f;
  f.uuid = make_uuid_v4();
  f.time = "2026-01-02T03:04:05.678";
  f.study = {"study", 7, make_uuid_v4(), "a study", "2026-01-01T00:00:00.000"};
  f.experiment = {"exp", 3, make_uuid_v4(), "desc", "phantom A", true};
  f.scanner = {"facility", "maker", "scanner-1", "op", "FFP", 0.072};
  f.tracer = {{"perimag", "b1", "micromod", 1e-6, 0.5, "Fe", "2026-01-02T03:04:06.000"},
              {"synomag", "b2", "micromod", 2e-6, 0.25, "Fe", "2026-01-02T03:04:07.000"}};
  Acquisition& q = f.acquisition;
  q.num_averages = 4;
  q.num_frames = static_cast<std::int64_t>(N);
  q.num_periods_per_frame = static_cast<std::int64_t>(J);
  q.start_time = "2026-01-02T03:04:05.000";
  q.gradient = ArrayD({J, 1, 3, 3});
  for (std::size_t i = 0; i < q.gradient.values.size(); ++i) q.gradient.values[i] = (i % 4 == 0) ? -1.0 : 0.5;
  q.offset_field = ArrayD({J, 1, 3});
  for (std::size_t i = 0; i < q.offset_field.values.size(); ++i) q.offset_field.values[i] = 0.001 * static_cast<double>(i);
  q.drivefield.base_frequency_hz = 2.5e6;
  q.drivefield.num_channels = 2;
  q.drivefield.cycle_s = 102.0 * 96.0 / 6.0 / 2.5e6;  // lcm(102, 96) = 1632
  q.drivefield.divider = ArrayI({2, 1}, {102, 96});
  q.drivefield.waveform = Array<std::string>({2, 1}, {"sine", "triangle"});
  q.drivefield.phase_rad = ArrayD({J, 2, 1});
  q.drivefield.strength = ArrayD({J, 2, 1});
  for (std::size_t i = 0; i < 2 * J; ++i) {
    q.drivefield.phase_rad.values[i] = -1.5 + 0.1 * static_cast<double>(i);
    q.drivefield.strength.values[i] = 0.012 + 0.001 * static_cast<double>(i);
  }
  q.receiver.bandwidth_hz = static_cast<double>(V) / q.drivefield.cycle_s / 2.0;
  q.receiver.num_channels = static_cast<std::int64_t>(C);
  q.receiver.num_sampling_points = static_cast<std::int64_t>(V);
  q.receiver.unit = "V";
  q.receiver.data_conversion_factor = ArrayD({C, 2});
  for (std::size_t c = 0; c < C; ++c) {
    q.receiver.data_conversion_factor.values[2 * c] = 1.0 / 1024.0 * static_cast<double>(c + 1);
    q.receiver.data_conversion_factor.values[2 * c + 1] = 0.25 * static_cast<double>(c);
  }
  q.receiver.transfer_function = ArrayC({C, V / 2 + 1});
  for (std::size_t i = 0; i < q.receiver.transfer_function.values.size(); ++i)
    q.receiver.transfer_function.values[i] = {1.0 + 0.5 * static_cast<double>(i), -0.25 * static_cast<double>(i)};
  q.applied_field = ArrayC({N, 2});
  q.measured_field = ArrayC({N, 2});
  for (std::size_t i = 0; i < 2 * N; ++i) {
    q.applied_field.values[i] = {0.012, 0.0};
    q.measured_field.values[i] = {0.0119, 1e-4 * static_cast<double>(i)};
  }
  f.faults = {{12345, "overtemperature", 1, "coil 1 at 61 degC"}, {99999, "link", -1, "reconnected"}};
  f.temperatures = ArrayD({N, 2});
  for (std::size_t i = 0; i < 2 * N; ++i) f.temperatures.values[i] = 20.0 + 0.5 * static_cast<double>(i);
  return f;
}

// Time-domain measurement whose values are exact on an int16 code grid of the file's conversion factors.
Measurement code_measurement(const File& f, StorageType storage) {
  const auto N = static_cast<std::size_t>(f.acquisition.num_frames), J = static_cast<std::size_t>(f.acquisition.num_periods_per_frame);
  const auto C = static_cast<std::size_t>(f.acquisition.receiver.num_channels);
  const auto V = static_cast<std::size_t>(f.acquisition.receiver.num_sampling_points);
  Measurement m;
  m.storage = storage;
  m.data = ArrayD({N, J, C, V});
  for (std::size_t i = 0; i < m.data.values.size(); ++i) {
    const std::size_t c = (i / V) % C;
    const double a = f.acquisition.receiver.data_conversion_factor.values[2 * c];
    const double b = f.acquisition.receiver.data_conversion_factor.values[2 * c + 1];
    const auto code = static_cast<double>(static_cast<std::int64_t>(i * 37 % 2001) - 1000);
    m.data.values[i] = a * code + b;
  }
  m.is_background_frame.assign(N, false);
  m.is_background_frame[0] = true;
  return m;
}

// --------------------------------------------------------------------------------------------- tests

TEST(MdfUtil, UuidIsVersion4WithRfcVariant) {
  for (int k = 0; k < 50; ++k) {
    const std::string u = make_uuid_v4();
    ASSERT_TRUE(is_valid_uuid(u)) << u;
    EXPECT_EQ(u[14], '4') << u;
    EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
  }
  EXPECT_NE(make_uuid_v4(), make_uuid_v4());
  EXPECT_FALSE(is_valid_uuid("3170fdf8f8e1-4cbf-ac73-41520b41f6ee0"));
}

TEST(MdfUtil, TimeFormat) {
  const std::string t = time_now();
  EXPECT_TRUE(is_valid_time(t)) << t;
  EXPECT_EQ(t.size(), 23u);
  EXPECT_TRUE(is_valid_time("2021-03-04T05:06:07"));
  EXPECT_TRUE(is_valid_time("2021-03-04T05:06:07.1"));
  EXPECT_FALSE(is_valid_time("2021-03-04T05:06:07.1234"));
  EXPECT_FALSE(is_valid_time("2021-03-04T05:06:07Z"));
  EXPECT_FALSE(is_valid_time("2021-03-04 05:06:07"));
  EXPECT_FALSE(is_valid_time("2021-13-04T05:06:07"));
}

TEST(MdfRoundTrip, EveryFieldFloat64) {
  File f = full_file(4, 2, 3, 16);
  f.measurement = code_measurement(f, StorageType::float64);
  f.calibration = Calibration{"robot", {3, 1, 1}, {0.03, 0.01, 0.01}, {0.0, 0.0, -0.001}, ArrayD({2, 3, 9}), "xyz",
                              ArrayD({3, 3}, {-0.01, 0, 0, 0, 0, 0, 0.01, 0, 0}), {0.001, 0.001, 0.001}};
  for (std::size_t i = 0; i < 54; ++i) f.calibration->snr.values[i] = static_cast<double>(i);
  f.reconstruction = Reconstruction{ArrayD({1, 4, 1}, {1, 2, 3, 4}), {2, 2, 1}, {0.02, 0.02, 0.001}, {0, 0, 0}, "xyz"};
  const std::string path = temp_path("roundtrip.mdf");
  write_mdf(path, f);
  const File g = read_mdf(path);
  EXPECT_EQ(g.study, f.study);
  EXPECT_EQ(g.experiment, f.experiment);
  EXPECT_EQ(g.scanner, f.scanner);
  EXPECT_EQ(g.tracer, f.tracer);
  EXPECT_EQ(g.acquisition, f.acquisition);
  // float64 with a conversion factor: the file holds (x - b)/a rounded; reading applies a r + b.
  ASSERT_TRUE(g.measurement);
  EXPECT_EQ(g.measurement->data.shape, f.measurement->data.shape);
  for (std::size_t i = 0; i < f.measurement->data.values.size(); ++i)
    ASSERT_NEAR(g.measurement->data.values[i], f.measurement->data.values[i], 1e-12) << i;
  EXPECT_EQ(g.measurement->is_background_frame, f.measurement->is_background_frame);
  EXPECT_EQ(g.calibration, f.calibration);
  EXPECT_EQ(g.reconstruction, f.reconstruction);
  EXPECT_EQ(g.faults, f.faults);
  EXPECT_EQ(g.temperatures, f.temperatures);
  EXPECT_EQ(g.uuid, f.uuid);
  EXPECT_EQ(g.time, f.time);
  EXPECT_EQ(g.version, "2.1.0");
}

TEST(MdfRoundTrip, Int16WithConversionFactorIsExactAndConformant) {
  File f = full_file(3, 1, 2, 32);
  f.measurement = code_measurement(f, StorageType::int16);
  const std::string path = temp_path("int16.mdf");
  write_mdf(path, f);
  const File g = read_mdf(path);
  ASSERT_TRUE(g.measurement);
  EXPECT_EQ(g.measurement->storage, StorageType::int16);
  EXPECT_EQ(g.measurement->data, f.measurement->data);  // a * code + b in double, exactly
  const auto findings = check_mdf(path);
  for (const auto& x : findings) ADD_FAILURE() << x.field << ": " << x.message;
  // Stored as int16 codes: read them raw.
  hid_t h = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(h, "/measurement/data", H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  EXPECT_EQ(H5Tget_class(t), H5T_INTEGER);
  EXPECT_EQ(H5Tget_size(t), 2u);
  std::vector<std::int16_t> codes(3 * 2 * 32);
  H5Dread(d, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, codes.data());
  EXPECT_EQ(codes[5], static_cast<std::int16_t>(5 * 37 % 2001 - 1000));
  hid_t p = H5Dget_create_plist(d);
  EXPECT_EQ(H5Pget_layout(p), H5D_CONTIGUOUS);
  EXPECT_EQ(H5Pget_nfilters(p), 0);
  hid_t s = H5Dopen2(h, "/acquisition/numFrames", H5P_DEFAULT);
  hid_t ss = H5Dget_space(s);
  EXPECT_EQ(H5Sget_simple_extent_type(ss), H5S_SCALAR);
  H5Sclose(ss);
  H5Dclose(s);
  H5Pclose(p);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(h);
}

TEST(MdfRoundTrip, FrequencyDomainPermutedFastAxisSelected) {
  File f = full_file(5, 1, 2, 16);
  Measurement m;
  m.is_fourier_transformed = true;
  m.storage = StorageType::float64;
  m.frequency_selection = {1, 3, 4};
  m.is_frequency_selection = true;
  m.frame_permutation = {2, 0, 4, 1, 3};
  m.is_frame_permutation = true;
  m.is_fast_frame_axis = true;
  m.data_fd = ArrayC({5, 1, 2, 3});
  for (std::size_t i = 0; i < m.data_fd.values.size(); ++i)
    m.data_fd.values[i] = {static_cast<double>(i), -0.5 * static_cast<double>(i)};
  m.is_background_frame = {true, false, false, false, true};
  f.measurement = m;
  f.acquisition.receiver.data_conversion_factor = ArrayD();
  const std::string path = temp_path("fd.mdf");
  write_mdf(path, f);
  const File g = read_mdf(path);
  ASSERT_TRUE(g.measurement);
  EXPECT_EQ(*g.measurement, m);
  for (const auto& x : check_mdf(path)) ADD_FAILURE() << x.field << ": " << x.message;
}

TEST(MdfWriter, StreamsFramesInAnyOrderAndNamesAMissingFrame) {
  File meta = full_file(4, 1, 2, 8);
  const std::string path = temp_path("stream.mdf");
  {
    Writer w = Writer::create(path, meta);
    MeasurementSpec s;
    s.frames = 4;
    s.channels = 2;
    s.points = 8;
    s.storage = StorageType::float32;
    w.begin_measurement(s);
    std::vector<float> two(2 * 2 * 8);
    for (std::size_t i = 0; i < two.size(); ++i) two[i] = static_cast<float>(i) + 100.0f;
    w.write_frames(2, std::span<const float>(two));
    for (std::size_t i = 0; i < two.size(); ++i) two[i] = static_cast<float>(i);
    w.write_frames(0, std::span<const float>(two).first(16));
    EXPECT_THROW(w.write_frames(3, std::span<const float>(two)), MdfError);   // beyond frame 4
    EXPECT_THROW(w.write_frames(0, std::span<const float>(two).first(5)), MdfError);  // not whole frames
    std::vector<std::int16_t> codes(16);
    EXPECT_THROW(w.write_frames(0, std::span<const std::int16_t>(codes)), MdfError);  // wrong type
    try {
      w.finish();
      ADD_FAILURE() << "finish with frame 1 missing";
    } catch (const MdfError& e) {
      EXPECT_THAT(e.what(), HasSubstr("frame 1"));
      EXPECT_THAT(e.what(), HasSubstr("/measurement/data"));
    }
    w.write_frames(1, std::span<const float>(two).subspan(16));
    w.set_background_frames(3, {true});
    w.finish();
  }
  // Read back with the conversion factor of the metadata applied.
  const File g = read_mdf(path);
  ASSERT_TRUE(g.measurement);
  const auto& fac = meta.acquisition.receiver.data_conversion_factor.values;
  for (std::size_t fr = 0; fr < 4; ++fr)
    for (std::size_t i = 0; i < 16; ++i) {
      const double raw = fr >= 2 ? static_cast<double>((fr - 2) * 16 + i) + 100.0 : static_cast<double>(fr * 16 + i);
      const std::size_t c = i / 8;
      ASSERT_DOUBLE_EQ(g.measurement->data.values[fr * 16 + i], fac[2 * c] * raw + fac[2 * c + 1]);
    }
  EXPECT_EQ(g.measurement->is_background_frame, (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(g.acquisition.num_frames, 4);
}

TEST(MdfWriter, MeasurementFromCallbackWhenFrameCountKnownAtEnd) {
  File meta = full_file(1, 1, 2, 8);  // numFrames in meta is overwritten by the spec
  const std::string path = temp_path("from.mdf");
  MeasurementSpec s;
  s.frames = 7;
  s.channels = 2;
  s.points = 8;
  s.storage = StorageType::int16;
  std::size_t calls = 0;
  write_measurement_from(
      path, meta, s,
      [&](std::size_t first, std::size_t count, std::span<std::byte> out) {
        ++calls;
        ASSERT_EQ(out.size(), count * 16 * sizeof(std::int16_t));
        auto* p = reinterpret_cast<std::int16_t*>(out.data());
        for (std::size_t i = 0; i < count * 16; ++i) p[i] = static_cast<std::int16_t>((first * 16 + i) * 3 - 100);
      },
      {false, true, false, false, false, false, true});
  EXPECT_GE(calls, 1u);
  EXPECT_FALSE(fs::exists(path + ".part"));
  const File g = read_mdf(path);
  EXPECT_EQ(g.acquisition.num_frames, 7);
  const auto& fac = meta.acquisition.receiver.data_conversion_factor.values;
  for (std::size_t i = 0; i < 7 * 16; ++i) {
    const std::size_t c = (i / 8) % 2;
    ASSERT_DOUBLE_EQ(g.measurement->data.values[i], fac[2 * c] * (static_cast<double>(i) * 3 - 100) + fac[2 * c + 1]);
  }
  EXPECT_EQ(g.measurement->is_background_frame[6], true);
  EXPECT_EQ(g.measurement->is_background_frame[2], false);
}

// Acquisition-order value of frame n, period j, channel c, point v.
double formula(std::size_t n, std::size_t j, std::size_t c, std::size_t v) {
  return static_cast<double>(n) * 1000.0 + static_cast<double>(j) * 100.0 + static_cast<double>(c) * 10.0 + static_cast<double>(v) * 0.5;
}

TEST(MdfOtherTool, FramePermutationOneBasedUndone) {
  const Dims d{4, 2, 2, 6, 1, 1};
  const std::vector<std::size_t> perm = {3, 1, 4, 2};  // 1-based: stored s holds acquisition frame perm[s]-1
  const std::string path = temp_path("perm.mdf");
  hid_t f = raw_create(path);
  g_fixed_strings = true;
  raw_metadata(f, d);
  g_fixed_strings = false;
  raw_flags(f, false, false, true, false);
  std::vector<double> data(d.N * d.J * d.C * d.V);
  std::size_t i = 0;
  for (std::size_t s = 0; s < d.N; ++s)
    for (std::size_t j = 0; j < d.J; ++j)
      for (std::size_t c = 0; c < d.C; ++c)
        for (std::size_t v = 0; v < d.V; ++v) data[i++] = formula(perm[s] - 1, j, c, v);
  raw_dv(f, "/measurement/data", {d.N, d.J, d.C, d.V}, data);
  raw_iv(f, "/measurement/framePermutation", {d.N}, {3, 1, 4, 2});
  raw_i8v(f, "/measurement/isBackgroundFrame", {1, 0, 0, 0});  // stored frame 0 = acquisition frame 2
  H5Fclose(f);

  const File g = read_mdf(path);
  ASSERT_TRUE(g.measurement);
  const auto& m = *g.measurement;
  EXPECT_EQ(m.frame_permutation, (std::vector<std::size_t>{2, 0, 3, 1}));
  EXPECT_EQ(m.is_background_frame, (std::vector<bool>{false, false, true, false}));
  i = 0;
  for (std::size_t n = 0; n < d.N; ++n)
    for (std::size_t j = 0; j < d.J; ++j)
      for (std::size_t c = 0; c < d.C; ++c)
        for (std::size_t v = 0; v < d.V; ++v) ASSERT_EQ(m.data.values[i++], formula(n, j, c, v));
  EXPECT_EQ(g.scanner.topology, "FFP");  // fixed-length strings
  EXPECT_EQ(g.acquisition.drivefield.waveform.values[0], "sine");
}

TEST(MdfOtherTool, FastFrameAxisTimeDomain) {
  const Dims d{3, 1, 2, 4, 1, 1};
  const std::string path = temp_path("fast.mdf");
  hid_t f = raw_create(path);
  raw_metadata(f, d);
  raw_flags(f, false, true, false, false, d.N);
  std::vector<double> data;
  for (std::size_t j = 0; j < d.J; ++j)
    for (std::size_t c = 0; c < d.C; ++c)
      for (std::size_t v = 0; v < d.V; ++v)
        for (std::size_t n = 0; n < d.N; ++n) data.push_back(formula(n, j, c, v));
  raw_dv(f, "/measurement/data", {d.J, d.C, d.V, d.N}, data);
  H5Fclose(f);
  const File g = read_mdf(path);
  std::size_t i = 0;
  EXPECT_EQ(g.measurement->data.shape, (std::vector<std::size_t>{3, 1, 2, 4}));
  for (std::size_t n = 0; n < d.N; ++n)
    for (std::size_t c = 0; c < d.C; ++c)
      for (std::size_t v = 0; v < d.V; ++v) ASSERT_EQ(g.measurement->data.values[i++], formula(n, 0, c, v));
  EXPECT_EQ(g.measurement->is_background_frame, std::vector<bool>(3, false));
}

TEST(MdfOtherTool, FrequencyDomainWithSelectionFloatCompound) {
  const Dims d{2, 1, 2, 16, 1, 1};
  const std::vector<std::int64_t> sel = {2, 4, 9};  // 1-based, V/2+1 = 9
  const std::string path = temp_path("fsel.mdf");
  hid_t f = raw_create(path);
  raw_metadata(f, d);
  raw_flags(f, true, false, false, true, d.N);
  std::vector<RawComplex> data;
  for (std::size_t n = 0; n < d.N; ++n)
    for (std::size_t c = 0; c < d.C; ++c)
      for (std::size_t k = 0; k < sel.size(); ++k)
        data.push_back({static_cast<float>(formula(n, 0, c, k)), -static_cast<float>(k) * 0.25f});
  hid_t t = raw_complex_type();
  raw_write(f, "/measurement/data", t, t, {d.N, d.J, d.C, sel.size()}, data.data());
  H5Tclose(t);
  raw_iv(f, "/measurement/frequencySelection", {3}, sel);
  H5Fclose(f);
  const File g = read_mdf(path);
  const auto& m = *g.measurement;
  EXPECT_TRUE(m.is_fourier_transformed);
  EXPECT_EQ(m.storage, StorageType::float32);
  EXPECT_EQ(m.frequency_selection, (std::vector<std::size_t>{1, 3, 8}));
  std::size_t i = 0;
  for (std::size_t n = 0; n < d.N; ++n)
    for (std::size_t c = 0; c < d.C; ++c)
      for (std::size_t k = 0; k < sel.size(); ++k) {
        ASSERT_EQ(m.data_fd.values[i].real(), formula(n, 0, c, k));
        ASSERT_EQ(m.data_fd.values[i++].imag(), -static_cast<double>(k) * 0.25);
      }
}

TEST(MdfOtherTool, Int16CodesWithConversionFactor) {
  const Dims d{2, 1, 2, 8, 1, 1};
  const std::string path = temp_path("codes.mdf");
  hid_t f = raw_create(path);
  raw_metadata(f, d);
  raw_flags(f, false, false, false, false, d.N);
  std::vector<std::int16_t> codes(d.N * d.C * d.V);
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::int16_t>(static_cast<int>(i) * 1000 - 15000);
  raw_write(f, "/measurement/data", H5T_STD_I16LE, H5T_NATIVE_INT16, {d.N, d.J, d.C, d.V}, codes.data());
  raw_dv(f, "/acquisition/receiver/dataConversionFactor", {2, 2}, {0.5, 0.125, 0.25, -1.0});
  H5Fclose(f);
  const File g = read_mdf(path);
  EXPECT_EQ(g.measurement->storage, StorageType::int16);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const std::size_t c = (i / d.V) % d.C;
    const double want = c == 0 ? 0.5 * codes[i] + 0.125 : 0.25 * codes[i] - 1.0;
    ASSERT_EQ(g.measurement->data.values[i], want) << i;
  }
}

TEST(MdfOtherTool, Int32WithoutConversionFactor) {
  const Dims d{1, 1, 1, 4, 1, 1};
  const std::string path = temp_path("int32.mdf");
  hid_t f = raw_create(path);
  raw_metadata(f, d);
  raw_flags(f, false, false, false, false, d.N);
  const std::vector<std::int32_t> v = {-2000000000, 1, 2, 2000000000};
  raw_write(f, "/measurement/data", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 1, 1, 4}, v.data());
  H5Fclose(f);
  const File g = read_mdf(path);
  EXPECT_EQ(g.measurement->storage, StorageType::int32);
  EXPECT_EQ(g.measurement->data.values, (std::vector<double>{-2e9, 1, 2, 2e9}));
}

// A calibration file as MDF system-matrix files usually are: frequency domain, fast frame axis, frames
// permuted, background frames among them.
TEST(MdfSystemMatrixFile, ForegroundColumnsBackgroundSeparateOneBasedSelection) {
  const Dims d{6, 1, 2, 16, 1, 1};  // 4 voxels (2 x 2 x 1) + 2 background frames
  const std::vector<std::int64_t> sel = {2, 3, 5};
  const std::vector<std::int64_t> perm = {2, 4, 5, 6, 1, 3};  // stored -> acquisition (1-based)
  const std::vector<std::int8_t> bg_stored = {0, 0, 0, 0, 1, 1};
  const std::string path = temp_path("sm.mdf");
  hid_t f = raw_create(path);
  raw_metadata(f, d);
  raw_flags(f, true, true, true, true);
  // value of stored frame s, channel c, selected k
  auto value = [](std::size_t s, std::size_t c, std::size_t k) {
    return std::complex<float>(static_cast<float>(s * 100 + c * 10 + k), static_cast<float>(s) - 0.5f * static_cast<float>(k));
  };
  std::vector<RawComplex> data;  // J x C x K x N
  for (std::size_t c = 0; c < d.C; ++c)
    for (std::size_t k = 0; k < sel.size(); ++k)
      for (std::size_t s = 0; s < d.N; ++s) data.push_back({value(s, c, k).real(), value(s, c, k).imag()});
  hid_t t = raw_complex_type();
  raw_write(f, "/measurement/data", t, t, {1, 2, 3, 6}, data.data());
  H5Tclose(t);
  raw_iv(f, "/measurement/frequencySelection", {3}, sel);
  raw_iv(f, "/measurement/framePermutation", {6}, perm);
  raw_i8v(f, "/measurement/isBackgroundFrame", bg_stored);
  raw_str(f, "/calibration/method", "robot");
  raw_iv(f, "/calibration/size", {3}, {2, 2, 1});
  raw_dv(f, "/calibration/fieldOfView", {3}, {0.02, 0.02, 0.001});
  raw_dv(f, "/calibration/fieldOfViewCenter", {3}, {0.0, 0.001, 0.0});
  std::vector<double> snr(2 * 3);  // J x C x K, K = the selected frequencies
  for (std::size_t i = 0; i < snr.size(); ++i) snr[i] = static_cast<double>(i);
  raw_dv(f, "/calibration/snr", {1, 2, 3}, snr);
  raw_str(f, "/tracer/name", "perimag");  // one material, written as scalars
  raw_str(f, "/tracer/batch", "b");
  raw_str(f, "/tracer/vendor", "v");
  raw_str(f, "/tracer/solute", "Fe");
  raw_f64(f, "/tracer/volume", 1e-6);
  raw_f64(f, "/tracer/concentration", 0.5);
  H5Fclose(f);

  const MdfSystemMatrix s = read_system_matrix(path);
  ASSERT_EQ(s.matrix.rows(), 6);
  ASSERT_EQ(s.matrix.cols(), 4);
  ASSERT_EQ(s.background.cols(), 2);
  EXPECT_EQ(s.frequency_indices, (std::vector<std::size_t>{1, 2, 4}));
  for (std::size_t c = 0; c < 2; ++c)
    for (std::size_t k = 0; k < 3; ++k) {
      const auto row = static_cast<Eigen::Index>(c * 3 + k);
      EXPECT_EQ(s.row_channel[static_cast<std::size_t>(row)], c);
      EXPECT_EQ(s.row_bin[static_cast<std::size_t>(row)], s.frequency_indices[k]);
      for (std::size_t v = 0; v < 4; ++v) ASSERT_EQ(s.matrix(row, static_cast<Eigen::Index>(v)), std::complex<double>(value(v, c, k)));
      for (std::size_t b = 0; b < 2; ++b)
        ASSERT_EQ(s.background(row, static_cast<Eigen::Index>(b)), std::complex<double>(value(4 + b, c, k)));
      EXPECT_EQ(s.snr(row), static_cast<double>(c * 3 + k));
    }
  EXPECT_EQ(s.grid.shape, (std::array<std::size_t, 3>{2, 2, 1}));
  EXPECT_DOUBLE_EQ(s.grid.centre_m.y(), 0.001);
  EXPECT_DOUBLE_EQ(s.sample_rate_hz, 16.0 / (102.0 / 2.5e6));
  const File g = read_mdf(path);
  ASSERT_EQ(g.tracer.size(), 1u);
  EXPECT_EQ(g.tracer[0].name, "perimag");
  EXPECT_EQ(g.tracer[0].concentration_mol_per_l, 0.5);
  for (const auto& x : check_mdf(path))
    if (x.severity == Finding::Severity::error) ADD_FAILURE() << x.field << ": " << x.message;
}

TEST(MdfSystemMatrixFile, TimeDomainCalibrationTransformedWithAmplitudeScaling) {
  File f = full_file(3, 1, 1, 32);
  f.acquisition.receiver.data_conversion_factor = ArrayD();
  Measurement m;
  m.storage = StorageType::float64;
  m.data = ArrayD({3, 1, 1, 32});
  // frame n: amplitude (n+1) cosine at bin 3, phase 0.3 n, plus DC n
  for (std::size_t n = 0; n < 3; ++n)
    for (std::size_t v = 0; v < 32; ++v)
      m.data.values[n * 32 + v] = static_cast<double>(n) + static_cast<double>(n + 1) *
                                  std::cos(2 * std::numbers::pi * 3.0 * static_cast<double>(v) / 32.0 + 0.3 * static_cast<double>(n));
  m.is_background_frame = {false, true, false};
  f.measurement = m;
  f.calibration = Calibration{"robot", {2, 1, 1}, {0.02, 0.01, 0.01}, {0, 0, 0}, ArrayD(), "xyz", ArrayD(), {}};
  const std::string path = temp_path("sm_td.mdf");
  write_mdf(path, f);
  const MdfSystemMatrix s = read_system_matrix(path);
  ASSERT_EQ(s.matrix.rows(), 17);
  ASSERT_EQ(s.matrix.cols(), 2);
  const std::size_t fg[2] = {0, 2};
  for (int v = 0; v < 2; ++v) {
    const double n = static_cast<double>(fg[v]);
    EXPECT_NEAR(std::abs(s.matrix(3, v) - std::polar(n + 1, 0.3 * n)), 0.0, 1e-12);
    EXPECT_NEAR(std::abs(s.matrix(0, v) - n), 0.0, 1e-12);
    EXPECT_NEAR(std::abs(s.matrix(5, v)), 0.0, 1e-12);
  }
  EXPECT_NEAR(std::abs(s.background(3, 0) - std::polar(2.0, 0.3)), 0.0, 1e-12);
}

// ------------------------------------------------------------------------------------ errors

File small_file() {
  File f = full_file(2, 1, 2, 8);
  f.measurement = code_measurement(f, StorageType::int16);
  return f;
}

void expect_mdf_error(const std::string& path, const std::string& field, const std::string& reason_part = "") {
  try {
    (void)read_mdf(path);
    ADD_FAILURE() << "no MdfError for " << field;
  } catch (const MdfError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ": " + field + ": "));
    EXPECT_EQ(e.field(), field);
    if (!reason_part.empty()) {
      EXPECT_THAT(e.what(), HasSubstr(reason_part));
    }
  }
}

TEST(MdfErrors, MissingField) {
  const std::string path = temp_path("missing.mdf");
  write_mdf(path, small_file());
  edit(path, [](hid_t f) { remove_field(f, "/acquisition/receiver/numChannels"); });
  expect_mdf_error(path, "/acquisition/receiver/numChannels", "missing");
}

TEST(MdfErrors, WrongShape) {
  const std::string path = temp_path("shape.mdf");
  write_mdf(path, small_file());
  edit(path, [](hid_t f) {
    remove_field(f, "/acquisition/drivefield/strength");
    raw_dv(f, "/acquisition/drivefield/strength", {2, 2}, {1, 2, 3, 4});
  });
  expect_mdf_error(path, "/acquisition/drivefield/strength", "J x D x F");
}

TEST(MdfErrors, MeasurementShapeDisagreesWithReceiver) {
  const std::string path = temp_path("dshape.mdf");
  write_mdf(path, small_file());
  edit(path, [](hid_t f) {
    remove_field(f, "/acquisition/receiver/numSamplingPoints");
    raw_i64(f, "/acquisition/receiver/numSamplingPoints", 10);
  });
  expect_mdf_error(path, "/measurement/data", "N x J x C x V");
}

TEST(MdfErrors, FlagNotZeroOrOne) {
  const std::string path = temp_path("flag.mdf");
  write_mdf(path, small_file());
  edit(path, [](hid_t f) {
    remove_field(f, "/measurement/isFastFrameAxis");
    raw_i8(f, "/measurement/isFastFrameAxis", 2);
  });
  expect_mdf_error(path, "/measurement/isFastFrameAxis", "0 or 1");
}

TEST(MdfErrors, ZeroBasedPermutationRejected) {
  const std::string path = temp_path("perm0.mdf");
  write_mdf(path, small_file());
  edit(path, [](hid_t f) {
    remove_field(f, "/measurement/isFramePermutation");
    raw_i8(f, "/measurement/isFramePermutation", 1);
    raw_iv(f, "/measurement/framePermutation", {2}, {0, 1});
  });
  expect_mdf_error(path, "/measurement/framePermutation", "1-based");
}

TEST(MdfErrors, WrongTypeStringForNumber) {
  const std::string path = temp_path("type.mdf");
  write_mdf(path, small_file());
  edit(path, [](hid_t f) {
    remove_field(f, "/acquisition/numAverages");
    raw_str(f, "/acquisition/numAverages", "four");
  });
  expect_mdf_error(path, "/acquisition/numAverages", "Integer");
}

TEST(MdfErrors, TruncatedNotHdf5AndAbsentFiles) {
  const std::string path = temp_path("trunc.mdf");
  write_mdf(path, small_file());
  fs::resize_file(path, fs::file_size(path) / 2);
  EXPECT_THROW((void)read_mdf(path), MdfError);
  try {
    (void)read_mdf(path);
  } catch (const MdfError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ": /"));
  }
  const std::string text = temp_path("text.mdf");
  std::ofstream(text) << "not an hdf5 file\n";
  expect_mdf_error(text, "/", "not an HDF5 file");
  expect_mdf_error(temp_path("absent.mdf"), "/", "not an HDF5 file");
  EXPECT_THROW((void)read_system_matrix(text), MdfError);
}

TEST(MdfErrors, SystemMatrixWithoutCalibrationOrWrongVoxelCount) {
  const std::string path = temp_path("nocal.mdf");
  write_mdf(path, small_file());
  try {
    (void)read_system_matrix(path);
    ADD_FAILURE();
  } catch (const MdfError& e) {
    EXPECT_EQ(e.field(), "/calibration");
  }
  File f = small_file();
  f.calibration = Calibration{"robot", {3, 1, 1}, {0.02, 0.01, 0.01}, {0, 0, 0}, ArrayD(), "xyz", ArrayD(), {}};
  write_mdf(path, f);  // 1 foreground frame (frame 0 is background) for 3 voxels
  try {
    (void)read_system_matrix(path);
    ADD_FAILURE();
  } catch (const MdfError& e) {
    EXPECT_EQ(e.field(), "/calibration/size");
  }
}

TEST(MdfErrors, WriterRejectsBadInput) {
  File f = small_file();
  f.acquisition.receiver.data_conversion_factor = ArrayD();
  EXPECT_THROW(write_mdf(temp_path("nodcf.mdf"), f), MdfError);
  File g = small_file();
  g.acquisition.drivefield.phase_rad = ArrayD({3});
  try {
    write_mdf(temp_path("badphase.mdf"), g);
    ADD_FAILURE();
  } catch (const MdfError& e) {
    EXPECT_EQ(e.field(), "/acquisition/drivefield/phase");
  }
  File h = small_file();
  h.measurement->is_frame_permutation = true;
  h.measurement->frame_permutation = {0, 0};
  EXPECT_THROW(write_mdf(temp_path("badperm.mdf"), h), MdfError);
  EXPECT_THROW((void)Writer::create("/nonexistent-dir/x.mdf", small_file()), MdfError);
}

// ------------------------------------------------------------------------------------ check_mdf

bool has_error(const std::vector<Finding>& v, const std::string& field, const std::string& part = "") {
  for (const auto& x : v)
    if (x.severity == Finding::Severity::error && x.field == field && x.message.find(part) != std::string::npos) return true;
  return false;
}

std::string defect(const std::string& name, const std::function<void(hid_t)>& fn) {
  const std::string path = temp_path(name);
  write_mdf(path, small_file());
  edit(path, fn);
  return path;
}

TEST(MdfCheck, CleanFileHasNoFindings) {
  const std::string path = temp_path("clean.mdf");
  write_mdf(path, small_file());
  const auto v = check_mdf(path);
  for (const auto& x : v) ADD_FAILURE() << x.field << ": " << x.message;
}

TEST(MdfCheck, FindsEachDefect) {
  EXPECT_TRUE(has_error(check_mdf(defect("c1.mdf", [](hid_t f) { remove_field(f, "/scanner/topology"); })),
                        "/scanner/topology", "missing"));
  EXPECT_TRUE(has_error(check_mdf(defect("c2.mdf", [](hid_t f) { remove_field(f, "/study"); })), "/study", "group"));
  EXPECT_TRUE(has_error(check_mdf(defect("c3.mdf", [](hid_t f) {
                          remove_field(f, "/acquisition/numFrames");
                          raw_str(f, "/acquisition/numFrames", "2");
                        })),
                        "/acquisition/numFrames", "Int64"));
  EXPECT_TRUE(has_error(check_mdf(defect("c4.mdf", [](hid_t f) {
                          remove_field(f, "/measurement/isFourierTransformed");
                          raw_i64(f, "/measurement/isFourierTransformed", 0);
                        })),
                        "/measurement/isFourierTransformed", "Int8"));
  EXPECT_TRUE(has_error(check_mdf(defect("c5.mdf", [](hid_t f) {
                          remove_field(f, "/experiment/isSimulation");
                          raw_i8(f, "/experiment/isSimulation", 3);
                        })),
                        "/experiment/isSimulation", "0 or 1"));
  EXPECT_TRUE(has_error(check_mdf(defect("c6.mdf", [](hid_t f) {
                          remove_field(f, "/acquisition/drivefield/strength");
                          raw_dv(f, "/acquisition/drivefield/strength", {1, 2, 2}, {1, 2, 3, 4});
                        })),
                        "/acquisition/drivefield/strength", "J x D x F"));
  EXPECT_TRUE(has_error(check_mdf(defect("c7.mdf", [](hid_t f) {
                          remove_field(f, "/acquisition/receiver/numChannels");
                          raw_i64(f, "/acquisition/receiver/numChannels", 3);
                        })),
                        "/measurement/data", "N x J x C x V"));
  EXPECT_TRUE(has_error(check_mdf(defect("c8.mdf", [](hid_t f) {
                          remove_field(f, "/measurement/isFramePermutation");
                          raw_i8(f, "/measurement/isFramePermutation", 1);
                          raw_iv(f, "/measurement/framePermutation", {2}, {1, 1});
                        })),
                        "/measurement/framePermutation", "repeated"));
  EXPECT_TRUE(has_error(check_mdf(defect("c9.mdf", [](hid_t f) {
                          remove_field(f, "/measurement/isFourierTransformed");
                          raw_i8(f, "/measurement/isFourierTransformed", 0);
                          remove_field(f, "/measurement/isFrequencySelection");
                          raw_i8(f, "/measurement/isFrequencySelection", 1);
                          raw_iv(f, "/measurement/frequencySelection", {2}, {0, 3});
                        })),
                        "/measurement/frequencySelection", "1-based"));
  EXPECT_TRUE(has_error(check_mdf(defect("c10.mdf", [](hid_t f) {
                          remove_field(f, "/measurement/data");
                          std::vector<std::int16_t> z(2 * 2 * 8, 0);
                          raw_write(f, "/measurement/data", H5T_STD_I16LE, H5T_NATIVE_INT16, {2, 1, 2, 8}, z.data(), true);
                        })),
                        "/measurement/data", "CONTIGUOUS"));
  EXPECT_TRUE(has_error(check_mdf(defect("c11.mdf", [](hid_t f) {
                          remove_field(f, "/time");
                          raw_str(f, "/time", "2021-03-04 05:06:07+01:00");
                        })),
                        "/time", "yyyy"));
  EXPECT_TRUE(has_error(check_mdf(defect("c12.mdf", [](hid_t f) {
                          remove_field(f, "/uuid");
                          raw_str(f, "/uuid", "not-a-uuid");
                        })),
                        "/uuid", "UUID"));
  EXPECT_TRUE(has_error(check_mdf(defect("c13.mdf", [](hid_t f) {
                          remove_field(f, "/measurement/isBackgroundFrame");
                          raw_i8v(f, "/measurement/isBackgroundFrame", {0, 1, 0});
                        })),
                        "/measurement/isBackgroundFrame", "N"));
  EXPECT_TRUE(has_error(check_mdf(defect("c14.mdf", [](hid_t f) {
                          remove_field(f, "/acquisition/receiver/dataConversionFactor");
                          raw_dv(f, "/acquisition/receiver/dataConversionFactor", {2}, {1, 0});
                        })),
                        "/acquisition/receiver/dataConversionFactor", "C x 2"));
  EXPECT_TRUE(has_error(check_mdf(defect("c16.mdf", [](hid_t f) {
                          remove_field(f, "/scanner/name");
                          g_fixed_strings = true;
                          raw_str(f, "/scanner/name", "fixed");
                          g_fixed_strings = false;
                        })),
                        "/scanner/name", "variable-length"));
  EXPECT_TRUE(has_error(check_mdf(defect("c17.mdf", [](hid_t f) {
                          remove_field(f, "/acquisition/drivefield/cycle");
                          raw_f64(f, "/acquisition/drivefield/cycle", 1e-3);
                        })),
                        "/acquisition/drivefield/cycle", "lcm"));
  EXPECT_TRUE(has_error(check_mdf(defect("c18.mdf", [](hid_t f) {
                          raw_str(f, "/calibration/method", "robot");
                          raw_iv(f, "/calibration/size", {3}, {2, 2, 1});  // 4 voxels, 1 foreground frame
                          raw_str(f, "/calibration/order", "xyy");
                        })),
                        "/calibration/size", "foreground"));
  EXPECT_TRUE(has_error(check_mdf(temp_path("c18.mdf")), "/calibration/order", "xyz"));
  EXPECT_TRUE(has_error(check_mdf(defect("c19.mdf", [](hid_t f) { remove_field(f, "/measurement/isBackgroundFrame"); })),
                        "/measurement/isBackgroundFrame", "missing"));
  const std::string text = temp_path("c15.mdf");
  std::ofstream(text) << "garbage";
  EXPECT_TRUE(has_error(check_mdf(text), "/", "HDF5"));
  const std::string cut = temp_path("c20.mdf");
  write_mdf(cut, small_file());
  fs::resize_file(cut, fs::file_size(cut) * 2 / 3);
  std::vector<Finding> v;
  EXPECT_NO_THROW(v = check_mdf(cut));
  EXPECT_FALSE(v.empty());
}

}  // namespace
}  // namespace mpi::recon::mdf
