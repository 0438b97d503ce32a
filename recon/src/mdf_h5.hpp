// Private: a thin layer over the HDF5 C API for the MDF reader, writer and check. Every failure is an
// MdfError naming the file and the field.
#pragma once

#include "mpi/recon/mdf.hpp"

#include <hdf5.h>

#include <string>
#include <utility>
#include <vector>

namespace mpi::recon::mdf::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, -1);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && closer_ != nullptr) closer_(id_);
    id_ = -1;
  }
  [[nodiscard]] hid_t get() const noexcept { return id_; }
  hid_t release() noexcept { return std::exchange(id_, -1); }
  [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Turns off HDF5's printing of its error stack (errors are reported as MdfError instead).
void silence_errors();

// Memory compound {r, i} of doubles (or floats).
Handle complex_memory_type(bool single_precision);
// File compound {r, i} of little-endian IEEE doubles (or floats).
Handle complex_file_type(bool single_precision);
Handle vlen_string_type();

enum class Kind { string, integer, floating, complex, other };

class Reader {
 public:
  explicit Reader(std::string path);
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] hid_t file() const noexcept { return file_.get(); }

  [[nodiscard]] bool exists(const std::string& field) const;  // every component is checked
  [[nodiscard]] bool is_group(const std::string& field) const;
  [[nodiscard]] Handle open(const std::string& field) const;  // dataset; throws when missing
  [[nodiscard]] std::vector<std::size_t> dims(const std::string& field) const;
  // Kind of the stored type; for integers also the byte size (1 for Int8) and signedness.
  [[nodiscard]] Kind kind(const std::string& field, std::size_t* bytes = nullptr) const;
  [[nodiscard]] bool contiguous(const std::string& field) const;
  [[nodiscard]] bool variable_length_string(const std::string& field) const;
  [[nodiscard]] bool filtered(const std::string& field) const;

  [[nodiscard]] std::string str(const std::string& field) const;
  [[nodiscard]] Array<std::string> strs(const std::string& field) const;
  [[nodiscard]] double f64(const std::string& field) const;
  [[nodiscard]] std::int64_t i64(const std::string& field) const;
  [[nodiscard]] bool flag(const std::string& field) const;  // Int8 0 or 1
  [[nodiscard]] ArrayD arr_d(const std::string& field) const;
  [[nodiscard]] ArrayI arr_i(const std::string& field) const;
  // Compound {r, i} of any numeric members, or a real array whose last dimension is 2 (older layout).
  [[nodiscard]] ArrayC arr_c(const std::string& field) const;

  [[noreturn]] void fail(const std::string& field, const std::string& reason) const;

 private:
  std::string path_;
  Handle file_;
};

class Writer {
 public:
  explicit Writer(std::string path);  // creates (truncates)
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] hid_t file() const noexcept { return file_.get(); }
  void close();

  void str(const std::string& field, const std::string& value);
  void strs(const std::string& field, const Array<std::string>& value);
  void f64(const std::string& field, double value);
  void i64(const std::string& field, std::int64_t value);
  void flag(const std::string& field, bool value);
  void arr_d(const std::string& field, const ArrayD& value);
  void arr_i(const std::string& field, const ArrayI& value);
  void arr_c(const std::string& field, const ArrayC& value);
  void arr_i8(const std::string& field, const std::vector<std::int8_t>& value);
  // A contiguous, unfiltered dataset of `file_type` and `dims`, allocated now (early allocation).
  Handle create(const std::string& field, hid_t file_type, const std::vector<std::size_t>& dims);

  [[noreturn]] void fail(const std::string& field, const std::string& reason) const;

 private:
  void write(const std::string& field, hid_t file_type, hid_t mem_type, const std::vector<std::size_t>& dims,
             const void* data, bool scalar);
  std::string path_;
  Handle file_;
};

}  // namespace mpi::recon::mdf::h5
