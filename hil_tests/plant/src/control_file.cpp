#include "mpi/hil/control_file.hpp"

#include <fstream>
#include <system_error>

namespace mpi::hil {

ControlFile::ControlFile(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  offset_ = ec ? 0 : size;
}

std::vector<std::string> ControlFile::new_lines() {
  std::vector<std::string> lines;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  if (ec) return lines;
  if (size < offset_) offset_ = 0;  // truncated: start again
  if (size == offset_) return lines;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return lines;
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string chunk(static_cast<std::size_t>(size - offset_), '\0');
  in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  chunk.resize(static_cast<std::size_t>(in.gcount()));
  offset_ += chunk.size();
  partial_ += chunk;
  std::size_t start = 0;
  for (std::size_t end = partial_.find('\n'); end != std::string::npos; end = partial_.find('\n', start)) {
    std::string line = partial_.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    lines.push_back(line.substr(first));
  }
  partial_.erase(0, start);
  return lines;
}

}  // namespace mpi::hil
