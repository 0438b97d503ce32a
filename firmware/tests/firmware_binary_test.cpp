// The mpi-firmware executable as a child process: set-up errors (one line on stderr, exit status 2), the
// "listening" line and port file, and SIGTERM (ramp-down, then exit 0).
#include "fake_board.hpp"
#include "link_test_client.hpp"
#include "mpi/firmware/firmware.hpp"

#include "mpi/protocol/auth.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace mpi::firmware::test {
namespace {

namespace v1 = link::v1;

// The shipped 1D demo scanner, and a fake board with its geometry: 125 MHz / 8, one receive channel, one
// drive channel (ADC channels rx_x, ref_x).
const std::string kScannerFile = std::string(MPI_SOURCE_DIR) + "/configs/scanners/demo-1d.toml";
const FakeBoard::Geometry kDemoBoard{125'000'000, 8, 1, 1};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mpi-firmware-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }
  [[nodiscard]] std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name)) << text;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The words that start a cross-built binary (the cross-compiling emulator, e.g. qemu-aarch64 -L /),
// none for a native build.
std::vector<std::string> emulator_words() {
  std::vector<std::string> words;
#ifdef MPI_FIRMWARE_EMULATOR
  std::istringstream text(MPI_FIRMWARE_EMULATOR);
  for (std::string word; std::getline(text, word, '|');) {
    if (!word.empty()) words.push_back(word);
  }
#endif
  return words;
}

// A link key for the firmware's --key, made once per test process (mode 0600).
const std::string& test_key_file() {
  static const std::string file = [] {
    const std::filesystem::path path = std::filesystem::temp_directory_path() / ("mpi-fw-test-" + std::to_string(::getpid()) + ".key");
    std::filesystem::remove(path);
    // test_key() in hex, so that the tests' clients (which prove they hold test_key()) get in.
    std::ostringstream hex;
    for (const std::byte b : test::test_key().bytes()) hex << "0123456789abcdef"[std::to_integer<int>(b) >> 4] << "0123456789abcdef"[std::to_integer<int>(b) & 15];
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path.string());
    const std::string text = hex.str() + "\n";
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!written) throw std::runtime_error("cannot write " + path.string());
    return path.string();
  }();
  return file;
}

// The firmware as a child process with stdout on a pipe and stderr in a file (with --key of
// test_key_file() unless the arguments give one). Killed if still running.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& stderr_path) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    // Everything the child needs is allocated before fork().
    std::vector<std::string> words = emulator_words();
    words.emplace_back(MPI_FIRMWARE_BINARY);
    words.insert(words.end(), args.begin(), args.end());
    if (std::find(args.begin(), args.end(), "--key") == args.end()) words.insert(words.end(), {"--key", test_key_file()});
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
      ::execvp(argv[0], argv.data());  // the emulator is looked up on PATH
      ::_exit(127);
    }
    ::close(out[1]);
    stdout_fd_ = out[0];
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The first line on stdout, or "" if none comes in time.
  std::string read_line(int timeout_ms = 20000) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c = 0;
      if (::read(stdout_fd_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line.push_back(c);
    }
    return line;
  }
  // Everything else the child writes to stdout until it exits.
  std::string rest_of_stdout() {
    std::string text;
    char buffer[256];
    ssize_t n = 0;
    while ((n = ::read(stdout_fd_, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
    return text;
  }
  void signal(int number) const { ::kill(pid_, number); }
  // The exit status; -1 if the child does not exit in time, -100 - N if signal N ended it.
  int wait(int timeout_ms = 30000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    do {
      int status = 0;
      const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -100 - WTERMSIG(status);
      }
      if (reaped < 0 && errno != EINTR) return -2;  // not our child any more: nothing to wait for
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } while (std::chrono::steady_clock::now() < deadline);
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
};

// A listening socket on 127.0.0.1 and a free port.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 || ::listen(fd_, 1) != 0) {
      throw std::runtime_error("cannot listen");
    }
    socklen_t size = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(FirmwareBinary, PortInUseIsOneLineAndExitTwo) {
  FakeBoard board(kDemoBoard);
  TempDir dir;
  const std::string scanner = kScannerFile;
  Listener taken;
  const std::string where = "127.0.0.1:" + std::to_string(taken.port());
  Child child({"--bus", "shm:" + board.name(), "--scanner", scanner, "--listen", where}, dir.file("stderr"));
  EXPECT_EQ(child.wait(), 2);
  EXPECT_EQ(child.rest_of_stdout(), "");
  const auto lines = lines_of(read_file(dir.file("stderr")));
  ASSERT_EQ(lines.size(), 1U) << read_file(dir.file("stderr"));
  EXPECT_EQ(lines[0], "mpi-firmware: cannot listen on " + where + ": address already in use");
}

TEST(FirmwareBinary, MissingSharedMemoryIsOneLineAndExitTwo) {
  TempDir dir;
  const std::string scanner = kScannerFile;
  Child child({"--bus", "shm:/mpi-fw-test-no-such-region", "--scanner", scanner, "--listen", "127.0.0.1:0"}, dir.file("stderr"));
  EXPECT_EQ(child.wait(), 2);
  const auto lines = lines_of(read_file(dir.file("stderr")));
  ASSERT_EQ(lines.size(), 1U) << read_file(dir.file("stderr"));
  EXPECT_EQ(lines[0].rfind("mpi-firmware: ", 0), 0U) << lines[0];
  EXPECT_NE(lines[0].find("does not exist (is the plant running?)"), std::string::npos) << lines[0];
}

TEST(FirmwareBinary, InvalidScannerConfigIsOneLineAndExitTwo) {
  FakeBoard board(kDemoBoard);
  TempDir dir;
  // The demo scanner with its drive coil's limit made negative.
  std::string text = read_file(kScannerFile);
  const std::size_t key = text.find("max_amplitude =");
  ASSERT_NE(key, std::string::npos) << "the demo scanner has no max_amplitude";
  const std::size_t end = text.find('\n', key);
  text.replace(key, end - key, "max_amplitude = \"-16 mT\"");
  const std::string scanner = dir.write("scanner.toml", text);
  Child child({"--bus", "shm:" + board.name(), "--scanner", scanner, "--listen", "127.0.0.1:0"}, dir.file("stderr"));
  EXPECT_EQ(child.wait(), 2);
  const auto lines = lines_of(read_file(dir.file("stderr")));
  ASSERT_EQ(lines.size(), 1U) << read_file(dir.file("stderr"));
  EXPECT_EQ(lines[0].rfind("mpi-firmware: " + scanner + ": ", 0), 0U) << lines[0];
  EXPECT_NE(lines[0].find("max_amplitude"), std::string::npos) << lines[0];

  const std::string broken = dir.write("broken.toml", "[board\ndac_clock = \"125 MHz\"\n");
  Child child2({"--bus", "shm:" + board.name(), "--scanner", broken, "--listen", "127.0.0.1:0"}, dir.file("stderr2"));
  EXPECT_EQ(child2.wait(), 2);
  const auto lines2 = lines_of(read_file(dir.file("stderr2")));
  ASSERT_EQ(lines2.size(), 1U) << read_file(dir.file("stderr2"));
  EXPECT_EQ(lines2[0].rfind("mpi-firmware: " + broken + ":1:", 0), 0U) << lines2[0];
}

TEST(FirmwareBinary, ScannerOfAnotherBoardIsOneLineAndExitTwo) {
  FakeBoard board;  // 1 MS/s (decimation 125), two drive channels: not the demo scanner's board
  TempDir dir;
  Child child({"--bus", "shm:" + board.name(), "--scanner", kScannerFile, "--listen", "127.0.0.1:0"}, dir.file("stderr"));
  EXPECT_EQ(child.wait(), 2);
  const auto lines = lines_of(read_file(dir.file("stderr")));
  ASSERT_EQ(lines.size(), 1U) << read_file(dir.file("stderr"));
  EXPECT_EQ(lines[0], "mpi-firmware: " + kScannerFile + ": [board] adc_decimation: the scanner description says 8, the board reports 125");
}

TEST(FirmwareBinary, ListensReportsThePortAndRampsDownOnSigterm) {
  FakeBoard board(kDemoBoard);
  TempDir dir;
  const std::string scanner = kScannerFile;
  Child child({"--bus", "shm:" + board.name(), "--scanner", scanner, "--listen", "127.0.0.1:0", "--port-file", dir.file("port")},
              dir.file("stderr"));
  const std::string line = child.read_line();
  const std::string prefix = "firmware listening on 127.0.0.1:";
  ASSERT_EQ(line.rfind(prefix, 0), 0U) << line << "\n" << read_file(dir.file("stderr"));
  const auto port = static_cast<std::uint16_t>(std::stoi(line.substr(prefix.size())));
  EXPECT_NE(port, 0);
  EXPECT_EQ(std::stoi(read_file(dir.file("port"))), port);

  LinkTestClient client(port);
  const auto reply = client.request(hello());
  ASSERT_TRUE(reply && reply->has_hello_reply());
  v1::Envelope configure;
  v1::DriveChannelConfig* d = configure.mutable_configure()->add_drive();
  d->set_channel(0);
  d->set_frequency_hz(25000.0);
  d->set_amplitude_t(0.012);
  configure.mutable_configure()->set_ramp_samples(2000);
  configure.mutable_configure()->set_chunk_samples(1000);
  ASSERT_TRUE(client.request(configure)->has_configure_reply());
  v1::Envelope start;
  start.mutable_start();
  ASSERT_TRUE(client.request(start)->has_status());
  for (;;) {
    const auto message = client.receive();
    ASSERT_TRUE(message);
    if (message->has_chunk() && message->chunk().first_sample() >= 4000) break;
  }
  child.signal(SIGTERM);
  std::optional<v1::StreamEnd> end;
  while (const auto message = client.receive()) {
    if (message->has_stream_end()) end = message->stream_end();
  }
  ASSERT_TRUE(end);
  EXPECT_EQ(end->reason(), "firmware shutting down");
  EXPECT_EQ(child.wait(), 0) << read_file(dir.file("stderr"));
  ASSERT_TRUE(board.wait_for_stops(1));
  EXPECT_TRUE(board.last_stop().ramped_down[0]);
  EXPECT_EQ(board.last_stop().ramp_factor[0], 0U);
  EXPECT_FALSE(board.last_stop().amplifier_enabled[0]);
  EXPECT_EQ(board.hard_cuts(), 0U);
  EXPECT_EQ(board.unpowered_triggers(), 0U);
  EXPECT_EQ(child.rest_of_stdout(), "");  // exactly one line on stdout
}

TEST(FirmwareBinary, InvalidCpuAffinityIsOneLineNamingTheOptionAndExitTwo) {
  FakeBoard board(kDemoBoard);
  TempDir dir;
  // Wrong on any machine, whatever its number of CPUs: not a number, empty, a backwards range, a
  // negative number, beyond what a CPU set can hold.
  const std::string too_many = std::to_string(CPU_SETSIZE + 1);
  int case_number = 0;
  for (const std::string& list : {std::string("0,x"), std::string(""), std::string("1-0"), std::string("-1"), too_many}) {
    const std::string stderr_file = dir.file("stderr-" + std::to_string(case_number++));
    Child child({"--bus", "shm:" + board.name(), "--scanner", kScannerFile, "--listen", "127.0.0.1:0", "--cpu-affinity", list},
                stderr_file);
    const int status = child.wait();
    const std::string errors = read_file(stderr_file);
    EXPECT_EQ(status, 2) << "--cpu-affinity '" << list << "', stderr: " << errors;
    EXPECT_EQ(child.rest_of_stdout(), "") << list;
    const auto lines = lines_of(errors);
    ASSERT_EQ(lines.size(), 1U) << "--cpu-affinity '" << list << "', stderr: " << errors;
    EXPECT_EQ(lines[0].rfind("mpi-firmware: ", 0), 0U) << lines[0];
    EXPECT_NE(lines[0].find("--cpu-affinity"), std::string::npos) << lines[0];
  }
}

TEST(FirmwareBinary, RtPriorityOutOfRangeIsExitTwo) {
  FakeBoard board(kDemoBoard);
  TempDir dir;
  for (const std::string& priority : {std::string("0"), std::string("100"), std::string("high")}) {
    Child child({"--bus", "shm:" + board.name(), "--scanner", kScannerFile, "--listen", "127.0.0.1:0", "--rt-priority", priority},
                dir.file("stderr"));
    EXPECT_EQ(child.wait(), 2) << priority;
    EXPECT_NE(read_file(dir.file("stderr")).find("--rt-priority"), std::string::npos) << read_file(dir.file("stderr"));
  }
}

// With or without permission for SCHED_FIFO, the daemon serves; its log says which scheduling it got.
TEST(FirmwareBinary, RtPriorityAndCpuAffinityRunAndSayWhichSchedulingApplies) {
  FakeBoard board(kDemoBoard);
  TempDir dir;
  Child child({"--bus", "shm:" + board.name(), "--scanner", kScannerFile, "--listen", "127.0.0.1:0", "--rt-priority", "10",
               "--cpu-affinity", "0"},
              dir.file("stderr"));
  const std::string line = child.read_line();
  const std::string prefix = "firmware listening on 127.0.0.1:";
  ASSERT_EQ(line.rfind(prefix, 0), 0U) << line << "\n" << read_file(dir.file("stderr"));
  const auto port = static_cast<std::uint16_t>(std::stoi(line.substr(prefix.size())));
  LinkTestClient client(port);
  const auto reply = client.request(hello());
  ASSERT_TRUE(reply && reply->has_hello_reply());
  // The log lines are written before the link serves: they are in the file once a request is answered.
  const std::string log = read_file(dir.file("stderr"));
  const bool fifo = log.find("SCHED_FIFO priority 10 for the control and streaming threads") != std::string::npos;
  const bool refused = log.find("--rt-priority 10: real-time scheduling not permitted") != std::string::npos &&
                       log.find("normal scheduling") != std::string::npos;
  EXPECT_NE(fifo, refused) << log;  // exactly one of the two
  EXPECT_NE(log.find("pinned to CPUs 0"), std::string::npos) << log;
  child.signal(SIGTERM);
  EXPECT_EQ(child.wait(), 0) << read_file(dir.file("stderr"));
}

TEST(CpuList, ParsesListsAndRanges) {
  EXPECT_EQ(parse_cpu_list("0"), std::vector<int>{0});
  const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
  if (cpus >= 2) {
    EXPECT_EQ(parse_cpu_list("1"), std::vector<int>{1});
    EXPECT_EQ(parse_cpu_list("0,1"), (std::vector<int>{0, 1}));
    EXPECT_EQ(parse_cpu_list("1,0-1"), (std::vector<int>{1, 0}));
  }
  EXPECT_EQ(parse_cpu_list("0-0,0"), std::vector<int>{0});
  for (const std::string& bad : std::vector<std::string>{"", "0,", ",0", "a", "0-", "1-0", " 0", std::to_string(cpus)}) {
    try {
      (void)parse_cpu_list(bad);
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const SetupError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--cpu-affinity '" + bad + "'", 0), 0U) << e.what();
    }
  }
}

}  // namespace
}  // namespace mpi::firmware::test
