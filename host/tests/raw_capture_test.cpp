#include "mpi/host/raw_capture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace mpi::host;
namespace fs = std::filesystem;

namespace {

fs::path temp(const std::string& name) { return fs::temp_directory_path() / ("mpi_capture_test_" + std::to_string(::getpid()) + "_" + name); }

std::string frame_of(const mpi::link::v1::Envelope& env) {
  std::string out;
  EXPECT_TRUE(mpi::protocol::append_frame(env, out));
  return out;
}

mpi::link::v1::Envelope chunk(std::uint64_t first) {
  mpi::link::v1::Envelope env;
  auto* c = env.mutable_chunk();
  c->set_first_sample(first);
  c->set_sample_count(3);
  c->set_channel_count(1);
  c->set_payload(std::string(6, '\x11'));
  return env;
}

}  // namespace

TEST(RawCapture, RoundTripKeepsEveryMessageInOrder) {
  const fs::path p = temp("roundtrip.mpilink");
  {
    RawCaptureWriter w(p);
    for (std::uint64_t i = 0; i < 100; ++i) w.push(frame_of(chunk(i * 3)));
    w.finish();
  }
  RawCaptureReader r(p);
  mpi::link::v1::Envelope env;
  std::uint64_t n = 0;
  while (r.next(env)) {
    ASSERT_TRUE(env.has_chunk());
    EXPECT_EQ(env.chunk().first_sample(), n * 3);
    ++n;
  }
  EXPECT_EQ(n, 100U);
}

TEST(RawCapture, TruncatedFileIsAnErrorNamingFileAndOffset) {
  const fs::path p = temp("truncated.mpilink");
  {
    RawCaptureWriter w(p);
    w.push(frame_of(chunk(0)));
    w.push(frame_of(chunk(3)));
  }
  fs::resize_file(p, fs::file_size(p) - 2);
  RawCaptureReader r(p);
  mpi::link::v1::Envelope env;
  ASSERT_TRUE(r.next(env));
  try {
    r.next(env);
    FAIL() << "truncation not detected";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

TEST(RawCapture, WrongFileIsRefused) {
  const fs::path p = temp("wrong.mpilink");
  std::ofstream(p) << "not a capture at all";
  EXPECT_THROW(RawCaptureReader{p}, std::runtime_error);
  EXPECT_THROW(RawCaptureReader{temp("missing.mpilink")}, std::runtime_error);
}

TEST(RawCapture, CorruptFrameIsReported) {
  const fs::path p = temp("corrupt.mpilink");
  {
    RawCaptureWriter w(p);
    w.push(std::string("\x05\x00\x00\x00\xff\xff\xff\xff\xff", 9));
  }
  RawCaptureReader r(p);
  mpi::link::v1::Envelope env;
  EXPECT_THROW(r.next(env), std::runtime_error);
}
