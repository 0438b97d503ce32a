// Replays a fuzz target's committed corpus through its LLVMFuzzerTestOneInput, in an ordinary build:
// the harness and its seeds stay checked without libFuzzer. A harness reports a failed check by aborting,
// which fails the test; the seed being replayed is printed first.
// MPI_FUZZ_CORPUS_DIR: the target's corpus directory; MPI_FUZZ_REPLAY_SUITE: the test suite's name.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> corpus_files() {
  std::vector<std::filesystem::path> files;
  const std::filesystem::path dir(MPI_FUZZ_CORPUS_DIR);
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(MPI_FUZZ_REPLAY_SUITE, CorpusHoldsSeeds) {
  EXPECT_GE(corpus_files().size(), 5U) << "no seed corpus in " << MPI_FUZZ_CORPUS_DIR;
}

TEST(MPI_FUZZ_REPLAY_SUITE, EverySeedRunsThroughTheHarness) {
  for (const std::filesystem::path& file : corpus_files()) {
    const std::vector<std::uint8_t> bytes = read_file(file);
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.filename().c_str(), bytes.size());
    EXPECT_EQ(LLVMFuzzerTestOneInput(bytes.data(), bytes.size()), 0) << file;
  }
}

TEST(MPI_FUZZ_REPLAY_SUITE, EmptyAndOneByteInputs) {
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  for (unsigned value = 0; value < 256; ++value) {
    const auto byte = static_cast<std::uint8_t>(value);
    EXPECT_EQ(LLVMFuzzerTestOneInput(&byte, 1), 0);
  }
}

}  // namespace
