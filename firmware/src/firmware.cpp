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

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <thread>

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

}  // namespace

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
  Impl(std::unique_ptr<drivers::RegisterBus> b, const config::ScannerDescription& scanner, const tcp::endpoint& endpoint)
      : bus(std::move(b)),
        queue(kQueueArenaBytes, kQueueMaxSlots),
        streamer(*bus, queue, wakeup),
        sequencer(*bus, scanner, streamer),
        server(io, endpoint, sequencer, queue, wakeup),
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
};

Firmware::Firmware(std::unique_ptr<drivers::RegisterBus> bus, const config::ScannerDescription& scanner, const ListenAddress& listen) {
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
    impl_ = std::make_unique<Impl>(std::move(bus), scanner, tcp::endpoint(address, listen.port));
  } catch (const boost::system::system_error& e) {
    const std::string reason = e.code() == asio::error::address_in_use ? "address already in use" : lower_first(e.code().message());
    throw SetupError("cannot listen on " + where + ": " + reason);
  }
  impl_->host_text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

void Firmware::set_field_control(bool on) { impl_->sequencer.set_field_control(on); }

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
  s.streamer.start_thread();
  s.control = std::thread([&s] { s.control_loop(); });
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
