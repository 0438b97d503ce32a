// Observers on the link change nothing in a scan's data: a live 2D scan on the preclinical FFP scanner
// (plant, firmware and `mpi scan` as processes on loopback) while an observer attaches to the board,
// reads part of the stream, is refused a command and detaches, ten times. The host's raw capture (every
// sample the controller received, the journal of scan.mdf) must tile the stream without a gap and
// without a flag of lost or overwritten samples, the scan must record all its frames, and every chunk an
// observer saw must be the controller's chunk of the same first sample, byte for byte. (Two runs do not
// give the same samples: the drive-field control acts in real time.)
#include "mpi/hil/scenario.hpp"
#include "mpi/host/link_client.hpp"
#include "mpi/host/raw_capture.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;
namespace v1 = mpi::link::v1;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
constexpr long kFrames = 3000;  // about 2 s of 652.8 us frames


struct Capture {
  std::vector<std::uint64_t> first_samples;
  std::map<std::uint64_t, std::string> payloads;
  std::uint64_t gaps = 0;  // chunks that do not start where the previous one ended
  std::uint64_t last_count = 0;
  std::uint32_t flags = 0;
};

Capture read_capture(const fs::path& file) {
  host::RawCaptureReader reader(file);
  Capture c;
  v1::Envelope env;
  while (reader.next(env)) {
    if (!env.has_chunk()) continue;
    if (!c.first_samples.empty() && env.chunk().first_sample() != c.first_samples.back() + c.last_count) ++c.gaps;
    c.first_samples.push_back(env.chunk().first_sample());
    c.last_count = env.chunk().sample_count();
    c.payloads[env.chunk().first_sample()] = env.chunk().payload();
    c.flags |= env.chunk().flags() & (v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED | v1::CHUNK_FLAG_LOST_STEPS);
  }
  return c;
}

struct ObserverVisit {
  std::size_t chunks = 0;
  std::map<std::uint64_t, std::string> payloads;  // first_sample -> payload
  bool refused_configure = false;
};

// Attaches as an observer, reads up to `chunks` data chunks, tries a command, detaches.
ObserverVisit observe(std::uint16_t port, std::size_t chunks) {
  ObserverVisit visit;
  host::LinkClient link("127.0.0.1", port, std::chrono::seconds(2));
  v1::Envelope hello;
  hello.mutable_hello()->set_client_name("observer");
  hello.mutable_hello()->set_role(v1::ROLE_OBSERVER);
  const v1::Envelope reply = link.request(hello);
  if (!reply.has_hello_reply() || reply.hello_reply().role() != v1::ROLE_OBSERVER) return visit;
  v1::Envelope env;
  while (visit.chunks < chunks && link.receive(env)) {
    if (env.has_chunk()) {
      ++visit.chunks;
      visit.payloads[env.chunk().first_sample()] = env.chunk().payload();
    }
    if (env.has_stream_end()) break;
  }
  v1::Envelope stop;
  stop.mutable_stop();
  try {
    (void)link.request(stop);
  } catch (const host::LinkError& e) {
    visit.refused_configure = std::string(e.what()).find("ERROR_NOT_ALLOWED") != std::string::npos;
  }
  return visit;
}

}  // namespace

TEST(HilObserver, TenObserversAttachingAndDetachingDuringAScanChangeNothingInItsData) {
  const fs::path dir = hil::test::fresh_work_dir("observer", "ten");
  hil::ScenarioFiles files = hil::test::preclinical_point_scenario(kSource, dir, kFrames);
  hil::Scenario scenario(kPrograms, files);
  std::string output;
  auto scan = std::async(std::launch::async, [&] { return scenario.run_scan(dir / "out", &output); });
  // Wait for the scan to stream (its raw capture grows), then attach and detach ten times.
  const fs::path raw = dir / "out/raw.mpilink";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((!fs::exists(raw) || fs::file_size(raw) < 100000) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<ObserverVisit> visits;
  for (int i = 0; i < 10; ++i) visits.push_back(observe(scenario.firmware_port(), 20));
  ASSERT_EQ(scan.get(), 0) << output << hil::test::read_file(dir / "logs/mpi.log");
  EXPECT_NE(output.find("frames reconstructed: " + std::to_string(kFrames)), std::string::npos) << output;

  const Capture controller = read_capture(raw);
  ASSERT_FALSE(controller.first_samples.empty());
  EXPECT_EQ(controller.first_samples.front(), 0U);
  EXPECT_EQ(controller.gaps, 0U);
  EXPECT_EQ(controller.flags, 0U);
  ASSERT_EQ(visits.size(), 10U);
  std::size_t compared = 0;
  for (std::size_t i = 0; i < visits.size(); ++i) {
    EXPECT_GT(visits[i].chunks, 0U) << "observer " << i << " saw no samples";
    EXPECT_TRUE(visits[i].refused_configure) << "observer " << i << " was not refused a command";
    for (const auto& [first, payload] : visits[i].payloads) {
      const auto it = controller.payloads.find(first);
      ASSERT_NE(it, controller.payloads.end()) << "observer " << i << " saw a chunk at sample " << first << " the controller did not get";
      EXPECT_TRUE(it->second == payload) << "observer " << i << ": chunk at sample " << first << " differs from the controller's";
      ++compared;
    }
  }
  std::cout << "controller: " << controller.first_samples.size() << " chunks without a gap; observers' chunks compared: " << compared << "\n";
}
