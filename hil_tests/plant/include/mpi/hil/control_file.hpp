// The plant's control file: a text file to which an operator or a test appends fault commands, one per
// line (faults.hpp). The plant polls it and applies each complete new line once. Lines present when the
// plant starts are not commands of this run and are skipped; a file that does not exist yet is empty.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mpi::hil {

class ControlFile {
 public:
  explicit ControlFile(std::filesystem::path path);
  // Complete lines appended since the last call (without the newline; blank lines and '#' comments dropped).
  std::vector<std::string> new_lines();

 private:
  std::filesystem::path path_;
  std::uint64_t offset_ = 0;
  std::string partial_;
};

}  // namespace mpi::hil
