#include "mdf_h5.hpp"

#include <cstring>

namespace mpi::recon::mdf {

MdfError::MdfError(std::string file, std::string field, const std::string& reason)
    : std::runtime_error(file + ": " + field + ": " + reason), file_(std::move(file)), field_(std::move(field)) {}

}  // namespace mpi::recon::mdf

namespace mpi::recon::mdf::h5 {
namespace {

std::vector<hsize_t> to_hsize(const std::vector<std::size_t>& d) { return {d.begin(), d.end()}; }

std::size_t count(const std::vector<std::size_t>& d) {
  std::size_t n = 1;
  for (auto x : d) n *= x;
  return n;
}

}  // namespace

void silence_errors() {
  // The error stack (and so its printing) is per thread in a thread-safe HDF5 build.
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

Handle complex_memory_type(bool single_precision) {
  const std::size_t s = single_precision ? sizeof(float) : sizeof(double);
  Handle t(H5Tcreate(H5T_COMPOUND, 2 * s), H5Tclose);
  const hid_t m = single_precision ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
  H5Tinsert(t.get(), "r", 0, m);
  H5Tinsert(t.get(), "i", s, m);
  return t;
}

Handle complex_file_type(bool single_precision) {
  const std::size_t s = single_precision ? 4 : 8;
  Handle t(H5Tcreate(H5T_COMPOUND, 2 * s), H5Tclose);
  const hid_t m = single_precision ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
  H5Tinsert(t.get(), "r", 0, m);
  H5Tinsert(t.get(), "i", s, m);
  return t;
}

Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

// ---------------------------------------------------------------------------------------------- Reader

Reader::Reader(std::string path) : path_(std::move(path)) {
  silence_errors();
  if (H5Fis_hdf5(path_.c_str()) <= 0) fail("/", "not an HDF5 file (missing, unreadable or truncated)");
  file_ = Handle(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file_.valid()) fail("/", "cannot open the HDF5 file (truncated or corrupt)");
}

void Reader::fail(const std::string& field, const std::string& reason) const { throw MdfError(path_, field, reason); }

bool Reader::exists(const std::string& field) const {
  if (field == "/") return true;
  std::size_t pos = 1;
  while (true) {
    const std::size_t next = field.find('/', pos);
    const std::string part = field.substr(0, next);
    if (H5Lexists(file_.get(), part.c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Oexists_by_name(file_.get(), part.c_str(), H5P_DEFAULT) <= 0) return false;
    if (next == std::string::npos) return true;
    pos = next + 1;
  }
}

bool Reader::is_group(const std::string& field) const {
  if (!exists(field)) return false;
  H5O_info_t info;
  if (H5Oget_info_by_name(file_.get(), field.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

Handle Reader::open(const std::string& field) const {
  if (!exists(field)) fail(field, "missing");
  Handle d(H5Dopen2(file_.get(), field.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) fail(field, "not a dataset");
  return d;
}

std::vector<std::size_t> Reader::dims(const std::string& field) const {
  const Handle d = open(field);
  const Handle s(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(s.get());
  if (rank < 0) fail(field, "unreadable dataspace");
  std::vector<hsize_t> h(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(s.get(), h.data(), nullptr);
  return {h.begin(), h.end()};
}

Kind Reader::kind(const std::string& field, std::size_t* bytes) const {
  const Handle d = open(field);
  const Handle t(H5Dget_type(d.get()), H5Tclose);
  if (bytes != nullptr) *bytes = H5Tget_size(t.get());
  switch (H5Tget_class(t.get())) {
    case H5T_STRING: return Kind::string;
    case H5T_INTEGER: return Kind::integer;
    case H5T_FLOAT: return Kind::floating;
    case H5T_COMPOUND:
      if (H5Tget_nmembers(t.get()) == 2 && H5Tget_member_index(t.get(), "r") >= 0 &&
          H5Tget_member_index(t.get(), "i") >= 0)
        return Kind::complex;
      return Kind::other;
    default: return Kind::other;
  }
}

bool Reader::contiguous(const std::string& field) const {
  const Handle d = open(field);
  const Handle p(H5Dget_create_plist(d.get()), H5Pclose);
  return H5Pget_layout(p.get()) == H5D_CONTIGUOUS;
}

bool Reader::variable_length_string(const std::string& field) const {
  const Handle d = open(field);
  const Handle t(H5Dget_type(d.get()), H5Tclose);
  return H5Tget_class(t.get()) == H5T_STRING && H5Tis_variable_str(t.get()) > 0;
}

bool Reader::filtered(const std::string& field) const {
  const Handle d = open(field);
  const Handle p(H5Dget_create_plist(d.get()), H5Pclose);
  return H5Pget_nfilters(p.get()) > 0;
}

Array<std::string> Reader::strs(const std::string& field) const {
  const Handle d = open(field);
  const Handle t(H5Dget_type(d.get()), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_STRING) fail(field, "expected a String");
  Array<std::string> out;
  out.shape = dims(field);
  const std::size_t n = count(out.shape);
  out.values.resize(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(t.get()) > 0) {
    std::vector<char*> buf(n, nullptr);
    const Handle mt = vlen_string_type();
    H5Tset_cset(mt.get(), H5Tget_cset(t.get()));  // HDF5 does not convert between ASCII and UTF-8
    if (H5Dread(d.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) fail(field, "read failed");
    for (std::size_t i = 0; i < n; ++i) out.values[i] = buf[i] != nullptr ? buf[i] : "";
    const Handle s(H5Dget_space(d.get()), H5Sclose);
    H5Dvlen_reclaim(mt.get(), s.get(), H5P_DEFAULT, buf.data());
  } else {
    const std::size_t len = H5Tget_size(t.get());
    std::vector<char> buf(len * n + 1, '\0');
    const Handle mt(H5Tcopy(t.get()), H5Tclose);
    if (H5Dread(d.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) fail(field, "read failed");
    for (std::size_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * len;
      out.values[i] = std::string(p, strnlen(p, len));
    }
  }
  return out;
}

std::string Reader::str(const std::string& field) const {
  auto a = strs(field);
  if (a.values.size() != 1) fail(field, "expected a single String, found " + std::to_string(a.values.size()));
  return a.values[0];
}

ArrayD Reader::arr_d(const std::string& field) const {
  const Handle d = open(field);
  const Kind k = kind(field);
  if (k != Kind::integer && k != Kind::floating) fail(field, "expected a number");
  ArrayD out(dims(field));
  if (!out.values.empty() &&
      H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0)
    fail(field, "read failed (truncated file?)");
  return out;
}

ArrayI Reader::arr_i(const std::string& field) const {
  const Handle d = open(field);
  if (kind(field) != Kind::integer) fail(field, "expected an Integer");
  ArrayI out(dims(field));
  if (!out.values.empty() &&
      H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0)
    fail(field, "read failed (truncated file?)");
  return out;
}

ArrayC Reader::arr_c(const std::string& field) const {
  const Handle d = open(field);
  const Kind k = kind(field);
  if (k == Kind::complex) {
    ArrayC out(dims(field));
    const Handle mt = complex_memory_type(false);
    if (!out.values.empty() && H5Dread(d.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0)
      fail(field, "read failed (truncated file?)");
    return out;
  }
  if (k == Kind::integer || k == Kind::floating) {
    ArrayD raw = arr_d(field);
    if (raw.shape.empty() || raw.shape.back() != 2)
      fail(field, "expected complex numbers (compound {r, i} or a last dimension of 2)");
    ArrayC out;
    out.shape.assign(raw.shape.begin(), raw.shape.end() - 1);
    out.values.resize(raw.values.size() / 2);
    for (std::size_t i = 0; i < out.values.size(); ++i) out.values[i] = {raw.values[2 * i], raw.values[2 * i + 1]};
    return out;
  }
  fail(field, "expected complex numbers (compound {r, i})");
}

double Reader::f64(const std::string& field) const {
  const ArrayD a = arr_d(field);
  if (a.values.size() != 1) fail(field, "expected a scalar, found " + std::to_string(a.values.size()) + " values");
  return a.values[0];
}

std::int64_t Reader::i64(const std::string& field) const {
  const ArrayI a = arr_i(field);
  if (a.values.size() != 1) fail(field, "expected a scalar, found " + std::to_string(a.values.size()) + " values");
  return a.values[0];
}

bool Reader::flag(const std::string& field) const {
  const std::int64_t v = i64(field);
  if (v != 0 && v != 1) fail(field, "a flag must be 0 or 1, found " + std::to_string(v));
  return v == 1;
}

// ---------------------------------------------------------------------------------------------- Writer

Writer::Writer(std::string path) : path_(std::move(path)) {
  silence_errors();
  file_ = Handle(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file_.valid()) fail("/", "cannot create the file");
}

void Writer::close() {
  if (!file_.valid()) return;
  if (H5Fclose(file_.release()) < 0) fail("/", "closing the file failed (disk full?)");
}

void Writer::fail(const std::string& field, const std::string& reason) const { throw MdfError(path_, field, reason); }

Handle Writer::create(const std::string& field, hid_t file_type, const std::vector<std::size_t>& dims) {
  const auto h = to_hsize(dims);
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr),
               H5Sclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS);
  H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY);
  Handle d(H5Dcreate2(file_.get(), field.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
           H5Dclose);
  if (!d.valid()) fail(field, "cannot create the dataset (exists already, or disk full)");
  return d;
}

void Writer::write(const std::string& field, hid_t file_type, hid_t mem_type, const std::vector<std::size_t>& dims,
                   const void* data, bool scalar) {
  const Handle d = create(field, file_type, scalar ? std::vector<std::size_t>{} : dims);
  if ((scalar || count(dims) > 0) && H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(field, "write failed (disk full?)");
}

void Writer::str(const std::string& field, const std::string& value) {
  const Handle t = vlen_string_type();
  const char* p = value.c_str();
  write(field, t.get(), t.get(), {}, &p, true);
}

void Writer::strs(const std::string& field, const Array<std::string>& value) {
  const Handle t = vlen_string_type();
  std::vector<const char*> p;
  p.reserve(value.values.size());
  for (const auto& s : value.values) p.push_back(s.c_str());
  write(field, t.get(), t.get(), value.shape, p.data(), false);
}

void Writer::f64(const std::string& field, double value) {
  write(field, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value, true);
}
void Writer::i64(const std::string& field, std::int64_t value) {
  write(field, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value, true);
}
void Writer::flag(const std::string& field, bool value) {
  const std::int8_t v = value ? 1 : 0;
  write(field, H5T_STD_I8LE, H5T_NATIVE_INT8, {}, &v, true);
}
void Writer::arr_d(const std::string& field, const ArrayD& value) {
  write(field, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, value.shape, value.values.data(), false);
}
void Writer::arr_i(const std::string& field, const ArrayI& value) {
  write(field, H5T_STD_I64LE, H5T_NATIVE_INT64, value.shape, value.values.data(), false);
}
void Writer::arr_c(const std::string& field, const ArrayC& value) {
  const Handle ft = complex_file_type(false);
  const Handle mt = complex_memory_type(false);
  write(field, ft.get(), mt.get(), value.shape, value.values.data(), false);
}
void Writer::arr_i8(const std::string& field, const std::vector<std::int8_t>& value) {
  write(field, H5T_STD_I8LE, H5T_NATIVE_INT8, {value.size()}, value.data(), false);
}

}  // namespace mpi::recon::mdf::h5
