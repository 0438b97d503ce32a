#include "mpi/firmware/firmware.hpp"

#include "mpi/drivers/device_bus.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/link_server.hpp"
#include "mpi/firmware/scanner_limits.hpp"
#include "mpi/firmware/sequencer.hpp"
#include "mpi/firmware/streamer.hpp"
#include "mpi/firmware/wakeup.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

namespace mpi::firmware {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t kQueueArenaBytes = std::size_t{16} << 20;
constexpr std::size_t kQueueMaxSlots = 512;
constexpr auto kControlTick = std::chrono::milliseconds(1);
// How long a shutdown waits for the board to ramp down and the last frames to go out.
constexpr auto kShutdownTimeout = std::chrono::seconds(10);

std::string lower_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

std::string cpu_list_text(const std::vector<int>& cpus) {
  std::string text;
  for (const int cpu : cpus) text += (text.empty() ? "" : ",") + std::to_string(cpu);
  return text;
}

// The calling thread's scheduling and CPU set, to be restored after the threads that inherit them are
// started.
struct SchedulingSnapshot {
  int policy = SCHED_OTHER;
  sched_param param{};
  cpu_set_t cpus{};
  bool have_cpus = false;
};

SchedulingSnapshot current_scheduling() {
  SchedulingSnapshot snapshot;
  ::pthread_getschedparam(::pthread_self(), &snapshot.policy, &snapshot.param);
  CPU_ZERO(&snapshot.cpus);
  snapshot.have_cpus = ::pthread_getaffinity_np(::pthread_self(), sizeof snapshot.cpus, &snapshot.cpus) == 0;
  return snapshot;
}

void restore_scheduling(const SchedulingSnapshot& snapshot) {
  ::pthread_setschedparam(::pthread_self(), snapshot.policy, &snapshot.param);
  if (snapshot.have_cpus) ::pthread_setaffinity_np(::pthread_self(), sizeof snapshot.cpus, &snapshot.cpus);
}

// Applies the policy to one thread. Returns the error of the priority (0, EPERM, ...) and throws
// SetupError when the CPU set cannot be applied.
int apply_thread_policy(pthread_t thread, const ThreadPolicy& policy) {
  int priority_error = 0;
  if (policy.rt_priority > 0) {
    sched_param param{};
    param.sched_priority = policy.rt_priority;
    priority_error = ::pthread_setschedparam(thread, SCHED_FIFO, &param);
  }
  if (!policy.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (const int cpu : policy.cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
    if (const int error = ::pthread_setaffinity_np(thread, sizeof set, &set); error != 0) {
      throw SetupError("--cpu-affinity " + cpu_list_text(policy.cpus) + ": cannot pin the threads: " + std::strerror(error));
    }
  }
  return priority_error;
}

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  const long configured = ::sysconf(_SC_NPROCESSORS_CONF);
  const int available = static_cast<int>(std::min<long>(configured > 0 ? configured : 1, CPU_SETSIZE));
  const auto fail = [&text](const std::string& why) { return SetupError("--cpu-affinity '" + text + "': " + why); };
  const auto number = [&](const std::string& word) {
    int value = 0;
    const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (word.empty() || ec != std::errc{} || end != word.data() + word.size() || value < 0) {
      throw fail("'" + word + "' is not a CPU number");
    }
    if (value >= available) throw fail("CPU " + word + " does not exist (this machine has CPUs 0.." + std::to_string(available - 1) + ")");
    return value;
  };
  if (text.empty()) throw fail("expected a list of CPUs such as 0,1 or 0-3");
  std::vector<int> cpus;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, comma - begin);
    const std::size_t dash = item.find('-');
    const int first = number(item.substr(0, dash));
    const int last = dash == std::string::npos ? first : number(item.substr(dash + 1));
    if (last < first) throw fail("range '" + item + "' runs backwards");
    for (int cpu = first; cpu <= last; ++cpu) {
      if (std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) cpus.push_back(cpu);
    }
    begin = comma + 1;
  }
  return cpus;
}

ListenAddress parse_listen_address(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw SetupError("--listen '" + text + "': expected HOST:PORT");
  }
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    throw SetupError("--listen '" + text + "': port '" + port + "' is not a number 0..65535");
  }
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

std::unique_ptr<drivers::RegisterBus> open_bus(const std::string& spec) {
  if (spec.starts_with("shm:") && spec.size() > 4) return std::make_unique<drivers::SharedMemoryBus>(spec.substr(4));
  if (spec.starts_with("dev:") && spec.size() > 4) {
    drivers::DeviceWindows windows;
    windows.device_path = spec.substr(4);
    return std::make_unique<drivers::DeviceBus>(windows);
  }
  throw SetupError("--bus '" + spec + "': expected shm:NAME or dev:PATH");
}

struct Firmware::Impl {
  Impl(std::unique_ptr<drivers::RegisterBus> b, const config::ScannerDescription& scanner, const tcp::endpoint& endpoint, protocol::Key key)
      : bus(std::move(b)),
        queue(kQueueArenaBytes, kQueueMaxSlots),
        streamer(*bus, queue, wakeup),
        sequencer(*bus, scanner, streamer),
        server(io, endpoint, sequencer, queue, wakeup, std::move(key)),
        signals(io) {}

  void control_loop() {
    auto next = std::chrono::steady_clock::now();
    while (!quit_control.load(std::memory_order_acquire)) {
      sequencer.tick();
      next += kControlTick;
      const auto now = std::chrono::steady_clock::now();
      if (next < now - 10 * kControlTick) next = now;  // fell far behind: resynchronise, do not burst
      std::this_thread::sleep_until(next);
    }
  }

  void begin_shutdown() {
    if (shutting_down) return;
    shutting_down = true;
    spdlog::info("shutting down: ramping any drive down");
    server.stop_accepting();
    sequencer.shutdown();
    deadline = std::chrono::steady_clock::now() + kShutdownTimeout;
    poll_shutdown();
  }

  void poll_shutdown() {
    const bool done = !sequencer.scanning() && server.flushed();
    if (done || std::chrono::steady_clock::now() >= deadline) {
      if (!done) {
        spdlog::error("shutdown: the board did not complete the ramp-down within {} s", kShutdownTimeout.count());
        exit_code = 1;
      }
      error_code_ignored_close();
      return;
    }
    shutdown_timer.expires_after(std::chrono::milliseconds(1));
    shutdown_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll_shutdown();
    });
  }

  void error_code_ignored_close() {
    boost::system::error_code ignored;
    signals.cancel(ignored);
    server.close();
  }

  asio::io_context io;
  std::unique_ptr<drivers::RegisterBus> bus;
  Wakeup wakeup;
  FrameQueue queue;
  Streamer streamer;
  Sequencer sequencer;
  LinkServer server;
  asio::signal_set signals;
  asio::steady_timer shutdown_timer{io};
  std::thread control;
  std::atomic<bool> quit_control{false};
  bool shutting_down = false;
  std::chrono::steady_clock::time_point deadline{};
  int exit_code = 0;
  std::string host_text;
  ThreadPolicy thread_policy;
};

Firmware::Firmware(std::unique_ptr<drivers::RegisterBus> bus, const config::ScannerDescription& scanner, const ListenAddress& listen,
                   protocol::Key key) {
  if (!bus) throw SetupError("no register bus");
  const BoardGeometry board = read_board_geometry(*bus);
  if (board.adc_channels == 0 || board.adc_decimation == 0 || board.dac_clock_hz <= 0.0 || board.drive_channels == 0) {
    throw SetupError("the board reports an implausible geometry (no ADC channels, clock or drive channels)");
  }
  if (const std::string mismatch = board_mismatch(scanner, board); !mismatch.empty()) throw SetupError(mismatch);
  const std::string where = listen.host + ":" + std::to_string(listen.port);
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(listen.host == "localhost" ? "127.0.0.1" : listen.host, ec);
  if (ec) throw SetupError("cannot listen on " + where + ": '" + listen.host + "' is not an IP address");
  try {
    impl_ = std::make_unique<Impl>(std::move(bus), scanner, tcp::endpoint(address, listen.port), std::move(key));
  } catch (const boost::system::system_error& e) {
    const std::string reason = e.code() == asio::error::address_in_use ? "address already in use" : lower_first(e.code().message());
    throw SetupError("cannot listen on " + where + ": " + reason);
  }
  impl_->host_text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

void Firmware::set_field_control(bool on) { impl_->sequencer.set_field_control(on); }

void Firmware::set_thread_policy(const ThreadPolicy& policy) {
  if (policy.rt_priority < 0 || policy.rt_priority > 99) {
    throw SetupError("--rt-priority " + std::to_string(policy.rt_priority) + ": expected 1..99");
  }
  impl_->thread_policy = policy;
}

Firmware::~Firmware() {
  if (impl_ && impl_->control.joinable()) {
    impl_->quit_control.store(true);
    impl_->control.join();
  }
}

std::uint16_t Firmware::port() const { return impl_->server.local_endpoint().port(); }

std::string Firmware::listen_text() const { return impl_->host_text + ":" + std::to_string(port()); }

void Firmware::handle_signals() {
  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  impl_->signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received", signal);
    impl_->begin_shutdown();
  });
}

int Firmware::run() {
  Impl& s = *impl_;
  const ThreadPolicy& policy = s.thread_policy;
  if (policy.rt_priority == 0 && policy.cpus.empty()) {
    s.streamer.start_thread();
    s.control = std::thread([&s] { s.control_loop(); });
  } else {
    // Threads inherit their creator's scheduling and CPU set: the calling thread takes the policy while it
    // starts the streaming and control threads, then goes back to its own.
    const SchedulingSnapshot own = current_scheduling();
    int priority_error = 0;
    try {
      priority_error = apply_thread_policy(::pthread_self(), policy);
      if (priority_error == 0) {
        s.streamer.start_thread();
        s.control = std::thread([&s] { s.control_loop(); });
        apply_thread_policy(s.control.native_handle(), policy);
      } else {
        // Without the priority: start the threads pinned only.
        ThreadPolicy pinned_only = policy;
        pinned_only.rt_priority = 0;
        restore_scheduling(own);
        apply_thread_policy(::pthread_self(), pinned_only);
        s.streamer.start_thread();
        s.control = std::thread([&s] { s.control_loop(); });
      }
    } catch (...) {
      restore_scheduling(own);
      if (s.control.joinable()) {
        s.quit_control.store(true);
        s.control.join();
      }
      s.streamer.stop_thread();
      throw;
    }
    restore_scheduling(own);
    if (policy.rt_priority > 0) {
      if (priority_error == 0) {
        spdlog::info("real-time scheduling: SCHED_FIFO priority {} for the control and streaming threads", policy.rt_priority);
      } else {
        spdlog::warn("--rt-priority {}: real-time scheduling not permitted ({}); the control and streaming threads run with normal scheduling",
                     policy.rt_priority, priority_error == EPERM ? "EPERM" : std::strerror(priority_error));
      }
    }
    if (!policy.cpus.empty()) spdlog::info("control and streaming threads pinned to CPUs {}", cpu_list_text(policy.cpus));
  }
  s.server.start();
  s.io.run();
  s.quit_control.store(true);
  s.control.join();
  s.streamer.stop_thread();
  return s.exit_code;
}

void Firmware::shutdown() {
  asio::post(impl_->io, [this] { impl_->begin_shutdown(); });
}

}  // namespace mpi::firmware
