// A cut link during a live scan loses no sample: `mpi scan` talks to the firmware through a TCP relay
// (the "cable") on loopback; 0.7 s into a 2D scan on the preclinical FFP scanner the relay drops both
// connections and refuses new ones for 500 ms. The host reconnects by itself, takes the control back
// and resumes the stream at the first sample it lacks. The board's safety reaction to the lost
// controller stands (its scan ramps down: the operator sees the fault), and every sample it acquired
// must be in the host's raw capture once, from sample 0 to the stream's end, with no flag of lost or
// overwritten samples.
#include "mpi/hil/scenario.hpp"
#include "mpi/host/raw_capture.hpp"

#include "hil_test_files.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace mpi;
namespace v1 = mpi::link::v1;

namespace {

const fs::path kSource = MPI_SOURCE_DIR;
const hil::ScenarioPrograms kPrograms{MPI_PLANT_EXE, MPI_FIRMWARE_EXE, MPI_HOST_EXE};
const fs::path kScanner = kSource / "configs/scanners/preclinical-ffp.toml";

// A TCP relay on 127.0.0.1 to `target_port`, one connection pair at a time, that can be cut.
class Relay {
 public:
  explicit Relay(std::uint16_t target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 8) != 0) throw std::runtime_error("relay: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Relay() {
    quit_ = true;
    thread_.join();
    close_pair();
    ::close(listener_);
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // Drops the connections and refuses new ones for `outage`.
  void cut(std::chrono::milliseconds outage) {
    const std::lock_guard lock(mutex_);
    refuse_until_ = std::chrono::steady_clock::now() + outage;
    cut_requested_ = true;
  }
  [[nodiscard]] int connections() const { return connections_; }

 private:
  void close_pair() {
    for (int* fd : {&client_, &upstream_}) {
      if (*fd >= 0) {
        ::shutdown(*fd, SHUT_RDWR);
        ::close(*fd);
        *fd = -1;
      }
    }
  }
  static bool forward(int from, int to) {
    char buffer[1 << 16];
    const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t m = ::send(to, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
      if (m <= 0) return false;
      sent += m;
    }
    return true;
  }
  void run() {
    while (!quit_) {
      bool refusing = false;
      {
        const std::lock_guard lock(mutex_);
        if (cut_requested_) {
          close_pair();
          cut_requested_ = false;
        }
        refusing = std::chrono::steady_clock::now() < refuse_until_;
      }
      pollfd fds[3] = {{listener_, POLLIN, 0}, {client_, POLLIN, 0}, {upstream_, POLLIN, 0}};
      if (::poll(fds, 3, 5) <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0 && (refusing || client_ >= 0)) {
          ::close(fd);  // the cable is out (or a second connection): the host sees a closed link
        } else if (fd >= 0) {
          const int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in a{};
          a.sin_family = AF_INET;
          a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          a.sin_port = htons(target_port_);
          if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(up);
            ::close(fd);
          } else {
            client_ = fd;
            upstream_ = up;
            ++connections_;
          }
        }
      }
      if (client_ >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !forward(client_, upstream_)) close_pair();
      if (upstream_ >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !forward(upstream_, client_)) close_pair();
    }
  }

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1, client_ = -1, upstream_ = -1;
  std::atomic<bool> quit_{false};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  bool cut_requested_ = false;
  std::chrono::steady_clock::time_point refuse_until_{};
  std::thread thread_;
};


}  // namespace

TEST(HilReconnect, AFiveHundredMillisecondCutLosesNoSample) {
  const fs::path dir = hil::test::fresh_work_dir("reconnect", "cut");
  hil::ScenarioFiles files = hil::test::preclinical_point_scenario(kSource, dir, 3000);
  hil::Scenario scenario(kPrograms, files);
  Relay relay(scenario.firmware_port());
  std::string output;
  auto scan = std::async(std::launch::async, [&] {
    return hil::run_program({MPI_HOST_EXE, "scan", "--connect", "127.0.0.1:" + std::to_string(relay.port()), "--scanner", kScanner.string(), "--plan",
                             files.plan.string(), "--out", (dir / "out").string()},
                            &output, (dir / "logs/mpi.log").string());
  });
  // Cut once the stream has run for a while (the raw capture has grown past about 0.7 s of samples).
  const fs::path raw = dir / "out/raw.mpilink";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((!fs::exists(raw) || fs::file_size(raw) < 20'000'000) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  relay.cut(std::chrono::milliseconds(500));
  const int rc = scan.get();
  const std::string log = hil::test::read_file(dir / "logs/mpi.log");
  EXPECT_NE((output + log).find("link restored"), std::string::npos) << output << log;
  EXPECT_GE(relay.connections(), 2);
  std::cout << "mpi scan exit " << rc << "; " << output.substr(0, 400) << "\n";

  host::RawCaptureReader reader(raw);
  v1::Envelope env;
  std::uint64_t next = 0, gaps = 0, overlaps = 0, chunks = 0;
  std::uint32_t flags = 0;
  std::optional<v1::StreamEnd> end;
  while (reader.next(env)) {
    if (env.has_chunk()) {
      const auto& c = env.chunk();
      if (c.first_sample() > next) ++gaps;
      if (c.first_sample() < next) ++overlaps;
      next = std::max<std::uint64_t>(next, c.first_sample() + c.sample_count());
      flags |= c.flags() & (v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED);
      ++chunks;
    }
    if (env.has_stream_end()) end = env.stream_end();
  }
  ASSERT_TRUE(end.has_value()) << "the capture has no StreamEnd";
  std::cout << chunks << " chunks, samples 0.." << next << ", stream end at " << end->end_sample() << " (" << end->reason() << ")\n";
  EXPECT_EQ(gaps, 0U);
  EXPECT_EQ(overlaps, 0U);
  EXPECT_EQ(flags, 0U);
  EXPECT_EQ(next, end->end_sample());
  // The recording is finished from that capture: complete, with the board's fault in it.
  std::string inspect;
  ASSERT_EQ(hil::run_program({MPI_HOST_EXE, "inspect", (dir / "out/scan.mdf").string()}, &inspect, (dir / "logs/inspect.log").string()), 0) << inspect;
  EXPECT_NE(inspect.find("recording: complete"), std::string::npos) << inspect;
  EXPECT_NE(inspect.find("faults: 1"), std::string::npos) << inspect;
}
