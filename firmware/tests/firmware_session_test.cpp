// The firmware's server in-process, on 127.0.0.1 and a free port, against a fake board in shared memory.
#include "fake_board.hpp"
#include "link_test_client.hpp"
#include "mpi/drivers/register_map.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/firmware/firmware.hpp"
#include "mpi/protocol/limits.hpp"
#include "mpi/protocol/version.hpp"
#include "mpi/config/scanner_description.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mpi::firmware::test {
namespace {

namespace v1 = link::v1;
using namespace drivers::regmap;

constexpr double kTeslaPerFullScale = 0.020;  // drive x: 1 V * 10 A/V * 2 mT/A
constexpr double kMaxAmplitudeT = 0.016;      // drive x's coil limit
constexpr double kMaxSlewTPerS = 2400.0;      // drive x: 2 pi * 25 kHz * 15.3 mT
constexpr double kFieldCapT = 0.030;          // [safety] hard field cap, below drive y's coil limit

// The fake board's scanner (fake_board_scanner) with limits: drive x at 25 kHz with its coil and slew limits,
// drive y at 2.6 MHz / 100 = 26 kHz (a stronger coil, capped by [safety]), gradient diag(2, -1, -1) T/m.
config::ScannerDescription scanner() {
  config::ScannerDescription s = fake_board_scanner();
  config::DriveChannelDescription& x = s.drive[0];
  x.max_amplitude_t = kMaxAmplitudeT;
  x.max_slew_t_per_s = kMaxSlewTPerS;
  config::DriveChannelDescription& y = s.drive[1];
  y.base_clock_hz = 2.6e6;
  y.coil_sensitivity_t_per_a = 4e-3;  // 40 mT at full scale
  y.max_amplitude_t = 0.035;
  y.max_slew_t_per_s = 0.0;  // no slew limit
  s.selection.gradient_t_per_m = {{{2.0, 0.0, 0.0}, {0.0, -1.0, 0.0}, {0.0, 0.0, -1.0}}};
  s.safety.max_field_t = kFieldCapT;
  s.temperature_sensors = {{"coil_x", "x", 353.15}, {"coil_y", "y", 343.15}};  // 80 and 70 degC
  return s;
}

// Runs the firmware on its own thread; always shuts it down and joins, also when a test fails.
class FirmwareSessionTest : public ::testing::Test {
 protected:
  FirmwareSessionTest() {
    firmware_ = std::make_unique<Firmware>(std::make_unique<drivers::SharedMemoryBus>(board_.name()), scanner(), ListenAddress{"127.0.0.1", 0}, test::test_key());
    thread_ = std::thread([this] { exit_code_ = firmware_->run(); });
  }
  ~FirmwareSessionTest() override {
    firmware_->shutdown();
    thread_.join();
  }

  [[nodiscard]] std::uint16_t port() const { return firmware_->port(); }

  std::unique_ptr<LinkTestClient> connect_controller() {
    // The previous controller's disconnect may still be in flight: retry while BUSY.
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto client = std::make_unique<LinkTestClient>(port());
      const auto reply = client->request(hello());
      if (reply && reply->has_hello_reply()) return client;
      if (!reply || !reply->has_error() || reply->error().code() != v1::ERROR_BUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "no handshake";
    return nullptr;
  }

  static v1::Envelope configure(double frequency_hz, double amplitude_t, std::uint32_t ramp_samples, std::uint32_t chunk_samples) {
    v1::Envelope message;
    v1::Configure* c = message.mutable_configure();
    v1::DriveChannelConfig* d = c->add_drive();
    d->set_channel(0);
    d->set_frequency_hz(frequency_hz);
    d->set_amplitude_t(amplitude_t);
    d->set_phase_rad(0.25);
    c->set_ramp_samples(ramp_samples);
    c->set_chunk_samples(chunk_samples);
    return message;
  }

  static v1::Envelope start(std::uint64_t max_samples) {
    v1::Envelope message;
    message.mutable_start()->set_max_samples(max_samples);
    return message;
  }

  static v1::Envelope stop() {
    v1::Envelope message;
    message.mutable_stop();
    return message;
  }

  static v1::Envelope status_request() {
    v1::Envelope message;
    message.mutable_status_request();
    return message;
  }

  // Waits (bounded) until the firmware reports `state`.
  bool wait_for_state(LinkTestClient& client, v1::ScanState state) {
    for (int i = 0; i < 1000; ++i) {
      const auto reply = client.request(status_request());
      if (!reply || !reply->has_status()) return false;
      if (reply->status().state() == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  FakeBoard board_;
  std::unique_ptr<Firmware> firmware_;
  std::thread thread_;
  int exit_code_ = -1;
};

// Everything a scan sent, in order, up to and including StreamEnd.
struct ScanRecord {
  std::vector<v1::SampleChunk> chunks;
  std::optional<v1::StreamEnd> end;
  int messages_after_end = 0;
};

ScanRecord collect_until_end(LinkTestClient& client, std::uint64_t stop_after_sample, bool send_stop) {
  ScanRecord record;
  bool stop_sent = !send_stop;
  while (!record.end) {
    const auto message = client.receive();
    if (!message) break;
    if (message->has_chunk()) {
      record.chunks.push_back(message->chunk());
      if (!stop_sent && message->chunk().first_sample() >= stop_after_sample) {
        v1::Envelope stop;
        stop.mutable_stop();
        const auto reply = client.request(stop);
        EXPECT_TRUE(reply && reply->has_status());
        stop_sent = true;
      }
    } else if (message->has_stream_end()) {
      record.end = message->stream_end();
    }
  }
  if (record.end) {
    while (const auto extra = client.receive(std::chrono::milliseconds(200))) ++record.messages_after_end;
  }
  return record;
}

// Checks that the chunks tile [0, end) in order with the pattern as payload.
void expect_contiguous_pattern(const ScanRecord& r, std::uint32_t chunk_samples) {
  ASSERT_FALSE(r.chunks.empty());
  ASSERT_TRUE(r.end.has_value());
  std::uint64_t next = 0;
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < r.chunks.size(); ++i) {
    const v1::SampleChunk& c = r.chunks[i];
    ASSERT_EQ(c.first_sample(), next) << "chunk " << i;
    ASSERT_EQ(c.channel_count(), FakeBoard::kAdcChannels);
    if (i + 1 < r.chunks.size()) {
      EXPECT_EQ(c.sample_count(), chunk_samples) << "chunk " << i;
    } else {
      EXPECT_LE(c.sample_count(), chunk_samples);
      EXPECT_GE(c.sample_count(), 1U);
    }
    EXPECT_EQ(c.flags() & (v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED), 0U) << "chunk " << i;
    ASSERT_EQ(c.payload().size(), std::size_t{c.sample_count()} * c.channel_count() * 2U);
    for (std::uint32_t n = 0; n < c.sample_count(); ++n) {
      for (std::uint32_t ch = 0; ch < c.channel_count(); ++ch) {
        const std::size_t at = (std::size_t{n} * c.channel_count() + ch) * 2U;
        // little-endian int16
        const auto lo = static_cast<std::uint8_t>(c.payload()[at]);
        const auto hi = static_cast<std::uint8_t>(c.payload()[at + 1]);
        const auto value = static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8)));
        if (value != pattern(next + n, ch)) ++mismatches;
      }
    }
    next += c.sample_count();
  }
  EXPECT_EQ(mismatches, 0U);
  EXPECT_EQ(r.end->end_sample(), next);
  EXPECT_EQ(r.messages_after_end, 0);
}

TEST_F(FirmwareSessionTest, HandshakeReportsTheBoard) {
  LinkTestClient client(port());
  const auto reply = client.request(hello());
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->has_hello_reply()) << reply->DebugString();
  EXPECT_EQ(reply->hello_reply().role(), v1::ROLE_CONTROLLER);
  EXPECT_EQ(reply->hello_reply().reclaim_token().size(), protocol::kReclaimTokenBytes);
  const v1::HelloReply& h = reply->hello_reply();
  EXPECT_EQ(h.protocol_major(), 1U);
  const v1::BoardInfo& b = h.board();
  EXPECT_DOUBLE_EQ(b.adc_sample_rate_hz(), static_cast<double>(FakeBoard::kDacClockHz) / FakeBoard::kDecimation);
  EXPECT_EQ(b.adc_channels(), FakeBoard::kAdcChannels);
  EXPECT_EQ(b.ring_frames(), std::uint64_t{1} << FakeBoard::kRingLog2);
  EXPECT_DOUBLE_EQ(b.dac_clock_hz(), FakeBoard::kDacClockHz);
  EXPECT_EQ(b.drive_channels(), FakeBoard::kDriveChannels);
  EXPECT_DOUBLE_EQ(b.drive_max_amplitude_t(), kMaxAmplitudeT);  // the lower of x (16 mT) and y (capped at 30 mT)
  EXPECT_NEAR(b.selection_gradient_t_per_m(), 2.0, 1e-12);
  // Receive channels, then the drives' reference pickups.
  ASSERT_EQ(b.adc_channel_names_size(), 3);
  EXPECT_EQ(b.adc_channel_names(0), "rx_x");
  EXPECT_EQ(b.adc_channel_names(1), "ref_x");
  EXPECT_EQ(b.adc_channel_names(2), "ref_y");
}

TEST_F(FirmwareSessionTest, ControlTickAdvancesTheAliveCounter) {
  const std::uint32_t first = board_.registers().read32(kAliveCounter);
  std::uint32_t later = first;
  for (int i = 0; i < 2000 && later == first; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    later = board_.registers().read32(kAliveCounter);
  }
  EXPECT_NE(later, first);
}

TEST_F(FirmwareSessionTest, WrongMajorVersionIsRefusedAndClosed) {
  LinkTestClient client(port());
  v1::Envelope message = hello(2);
  message.mutable_hello()->set_client_nonce(std::string(protocol::kNonceBytes, 'v'));
  const auto reply = client.request_raw(message);
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::ERROR_VERSION_MISMATCH);
  // Both versions are named.
  EXPECT_NE(reply->error().message().find("2.0.0"), std::string::npos) << reply->error().message();
  EXPECT_NE(reply->error().message().find(protocol::version_text()), std::string::npos) << reply->error().message();
  EXPECT_TRUE(client.wait_for_close());
  EXPECT_TRUE(connect_controller() != nullptr);  // the next connection is served
}

// Status carries every temperature sensor: the scanner description's name and limit, the board's reading.
TEST_F(FirmwareSessionTest, StatusCarriesEveryTemperatureSensorWithItsNameReadingAndLimit) {
  board_.set_temperature(0, 31.25);
  board_.set_temperature(1, -4.5);
  auto client = connect_controller();
  ASSERT_TRUE(client);
  const auto reply = client->request(status_request());
  ASSERT_TRUE(reply && reply->has_status());
  const auto& t = reply->status().temperatures();
  ASSERT_EQ(t.size(), 2);
  EXPECT_EQ(t[0].name(), "coil_x");
  EXPECT_DOUBLE_EQ(t[0].celsius(), 31.25);
  EXPECT_NEAR(t[0].limit_celsius(), 80.0, 1e-9);
  EXPECT_EQ(t[1].name(), "coil_y");
  EXPECT_DOUBLE_EQ(t[1].celsius(), -4.5);
  EXPECT_NEAR(t[1].limit_celsius(), 70.0, 1e-9);
}

TEST_F(FirmwareSessionTest, FirstMessageMustBeHello) {
  LinkTestClient client(port());
  const auto reply = client.request(status_request());
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::ERROR_UNAUTHENTICATED);
  EXPECT_TRUE(client.wait_for_close());
}

TEST_F(FirmwareSessionTest, UnexpectedMessagesAreNotAllowedButTheSessionStays) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  v1::Envelope chunk;
  chunk.mutable_chunk()->set_sample_count(0);
  for (const v1::Envelope& message : {hello(), chunk, start(0)}) {
    const auto reply = client->request(message);
    ASSERT_TRUE(reply && reply->has_error()) << message.DebugString();
    EXPECT_EQ(reply->error().code(), v1::ERROR_NOT_ALLOWED) << message.DebugString();
  }
  const auto status = client->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  EXPECT_EQ(status->status().state(), v1::SCAN_STATE_IDLE);
}

struct BadConfigure {
  const char* what;
  void (*edit)(v1::Configure&);
  const char* expected;  // the message must contain this
  bool limit = false;    // refused by the link's limits (ERROR_LIMIT_EXCEEDED)
};

class ConfigureValidation : public FirmwareSessionTest, public ::testing::WithParamInterface<BadConfigure> {};

TEST_P(ConfigureValidation, NamesTheBadField) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  v1::Envelope message = configure(25000.0, 0.012, 1000, 1000);
  v1::DriveChannelConfig* second = message.mutable_configure()->add_drive();
  second->set_channel(1);
  second->set_frequency_hz(26000.0);
  second->set_amplitude_t(0.010);
  GetParam().edit(*message.mutable_configure());
  const auto reply = client->request(message);
  ASSERT_TRUE(reply && reply->has_error()) << (reply ? reply->DebugString() : "no reply");
  // Beyond a documented limit of the link (protocol/limits.hpp: sizes, counts, finite numbers) before
  // the board's own checks; out of the scanner's range after.
  EXPECT_EQ(reply->error().code(), GetParam().limit ? v1::ERROR_LIMIT_EXCEEDED : v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(reply->error().message().find(GetParam().expected), std::string::npos) << reply->error().message();
  // Nothing was configured, and the session goes on.
  const auto status = client->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  EXPECT_EQ(status->status().state(), v1::SCAN_STATE_IDLE);
}

INSTANTIATE_TEST_SUITE_P(
    Firmware, ConfigureValidation,
    ::testing::Values(
        BadConfigure{"no_drive", [](v1::Configure& c) { c.clear_drive(); }, "drive: at least one"},
        BadConfigure{"channel", [](v1::Configure& c) { c.mutable_drive(1)->set_channel(5); }, "drive[1].channel = 5"},
        BadConfigure{"duplicate", [](v1::Configure& c) { c.mutable_drive(1)->set_channel(0); }, "drive[1].channel = 0 is already configured"},
        BadConfigure{"frequency_zero", [](v1::Configure& c) { c.mutable_drive(0)->set_frequency_hz(0.0); }, "drive[0].frequency_hz = 0 Hz"},
        BadConfigure{"frequency_nan", [](v1::Configure& c) { c.mutable_drive(0)->set_frequency_hz(std::nan("")); }, "configure.drive[0].frequency_hz", true},
        BadConfigure{"frequency_far", [](v1::Configure& c) { c.mutable_drive(1)->set_frequency_hz(200000.0); },
                     "drive[1].frequency_hz = 200000 Hz is not the frequency of drive channel y (26000 Hz within 1 %"},
        BadConfigure{"frequency_just_outside", [](v1::Configure& c) { c.mutable_drive(0)->set_frequency_hz(25251.0); },
                     "drive[0].frequency_hz = 25251 Hz is not the frequency of drive channel x (25000 Hz within 1 %"},
        BadConfigure{"frequency_of_the_other_channel", [](v1::Configure& c) { c.mutable_drive(1)->set_frequency_hz(25000.0); },
                     "drive[1].frequency_hz = 25000 Hz is not the frequency of drive channel y"},
        BadConfigure{"amplitude_limit", [](v1::Configure& c) { c.mutable_drive(0)->set_amplitude_t(0.03); },
                     "drive[0].amplitude_t = 0.03 T exceeds the limit 0.016 T (max_amplitude of drive channel x)"},
        BadConfigure{"field_cap", [](v1::Configure& c) { c.mutable_drive(1)->set_amplitude_t(0.032); },
                     "drive[1].amplitude_t = 0.032 T exceeds the limit 0.03 T (the hard field cap of [safety])"},
        BadConfigure{"slew", [](v1::Configure& c) { c.mutable_drive(0)->set_amplitude_t(0.0155); },
                     "drive[0]: peak slew rate 2 pi f A = 2434"},
        BadConfigure{"amplitude_negative", [](v1::Configure& c) { c.mutable_drive(1)->set_amplitude_t(-0.001); }, "drive[1].amplitude_t = -0.001 T"},
        BadConfigure{"amplitude_zero", [](v1::Configure& c) { c.mutable_drive(0)->set_amplitude_t(0.0); }, "drive[0].amplitude_t = 0 T"},
        BadConfigure{"phase", [](v1::Configure& c) { c.mutable_drive(0)->set_phase_rad(INFINITY); }, "configure.drive[0].phase_rad", true},
        BadConfigure{"ramp", [](v1::Configure& c) { c.set_ramp_samples(0); }, "ramp_samples = 0"},
        BadConfigure{"chunk", [](v1::Configure& c) { c.set_chunk_samples(4000000); }, "configure.chunk_samples: is 4000000, the limit is 65536", true}),
    [](const ::testing::TestParamInfo<BadConfigure>& param_info) { return std::string(param_info.param.what); });

TEST_F(FirmwareSessionTest, ConfigureReportsWhatTheDdsPlays) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  const double f = 25000.0;
  const double a = 0.012;
  const auto reply = client->request(configure(f, a, 777, 0));
  ASSERT_TRUE(reply && reply->has_configure_reply()) << (reply ? reply->DebugString() : "no reply");
  const v1::ConfigureReply& r = reply->configure_reply();
  EXPECT_EQ(r.ramp_samples(), 777U);
  EXPECT_EQ(r.chunk_samples(), 8192U);  // the default
  ASSERT_EQ(r.drive_size(), 1);
  const v1::RealisedDriveChannel& d = r.drive(0);
  // Independent reference: increment = round(f / clock * 2^48), played frequency = increment * clock / 2^48.
  const double clock = FakeBoard::kDacClockHz;
  const auto increment = static_cast<std::uint64_t>(std::llround(f / clock * std::ldexp(1.0, 48)));
  EXPECT_EQ(d.phase_increment(), increment);
  EXPECT_DOUBLE_EQ(d.frequency_hz(), static_cast<double>(increment) * clock / std::ldexp(1.0, 48));
  EXPECT_LE(std::abs(d.frequency_hz() - f), clock / std::ldexp(1.0, 49));
  const double code = std::round(a / kTeslaPerFullScale * 65535.0);
  EXPECT_DOUBLE_EQ(d.amplitude_t(), code / 65535.0 * kTeslaPerFullScale);
  EXPECT_NEAR(d.phase_rad(), 0.25, 2.0 * M_PI / std::ldexp(1.0, 48) * 2.0);
  // And that is what the registers hold.
  const auto& regs = board_.registers();
  EXPECT_EQ(regs.read64(drive_register(0, kDrivePhaseIncrement)), increment);
  EXPECT_EQ(regs.read32(drive_register(0, kDriveAmplitude)), static_cast<std::uint32_t>(code));
  EXPECT_EQ(regs.read32(drive_register(0, kDriveRampSamples)), 777U);
  EXPECT_EQ(regs.read32(drive_register(0, kDriveControl)) & kDriveEnable, 0U);  // not enabled before Start
  // The DAC limit: the coil's 16 mT of 20 mT at full scale, 26213.6 codes, with room for the amplitude
  // code's rounding (a quarter code): 26214.
  EXPECT_EQ(regs.read32(drive_register(0, kDriveDacLimit)), 26214U);
  EXPECT_EQ(regs.read32(drive_register(0, kDriveAmplifierControl)) & kAmplifierEnable, kAmplifierEnable);
  EXPECT_EQ(regs.read32(drive_register(1, kDriveAmplifierControl)) & kAmplifierEnable, 0U) << "channel 1 is not configured";
  // A single tone: the other DDS components, the arbitrary waveform and the DC offset are zero.
  EXPECT_EQ(regs.read32(dds_register(0, 1, kDdsAmplitude)), 0U);
  EXPECT_EQ(regs.read32(dds_register(0, 2, kDdsAmplitude)), 0U);
  EXPECT_EQ(regs.read32(drive_register(0, kDriveAwgPoints)), 0U);
  EXPECT_EQ(regs.read32(drive_register(0, kDriveDcOffset)), 0U);
  const auto status = client->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  EXPECT_EQ(status->status().state(), v1::SCAN_STATE_CONFIGURED);
}

TEST_F(FirmwareSessionTest, StartStreamsEverySampleAndStopRampsDownFirst) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  constexpr std::uint32_t kRamp = 3000;
  constexpr std::uint32_t kChunk = 1000;
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, kRamp, kChunk))->has_configure_reply());
  const auto started = client->request(start(0));
  ASSERT_TRUE(started && started->has_status()) << (started ? started->DebugString() : "no reply");
  EXPECT_EQ(started->status().state(), v1::SCAN_STATE_RAMPING_UP);

  const ScanRecord r = collect_until_end(*client, 40000, true);
  expect_contiguous_pattern(r, kChunk);
  ASSERT_TRUE(r.end);
  EXPECT_EQ(r.end->reason(), "stop requested");
  EXPECT_EQ(r.end->ramp_up_end_sample(), kRamp);

  // The board: ramp-down applied, zero field and drive off before acquisition stopped; never a hard cut.
  ASSERT_TRUE(board_.wait_for_stops(1));
  const StopObservation seen = board_.last_stop();
  EXPECT_TRUE(seen.ramped_down[0]);
  EXPECT_EQ(seen.ramp_factor[0], 0U);
  EXPECT_FALSE(seen.enabled[0]);
  EXPECT_FALSE(seen.amplifier_enabled[0]) << "the amplifier is switched off once the field is zero";
  EXPECT_EQ(board_.hard_cuts(), 0U);
  EXPECT_EQ(r.end->ramp_down_start_sample(), seen.down_event_sample[0]);
  EXPECT_GE(r.end->ramp_down_start_sample(), 40000U);
  // The whole ramp was streamed, and acquisition ran until the last streamed sample.
  EXPECT_GE(r.end->end_sample(), r.end->ramp_down_start_sample() + kRamp);
  EXPECT_GE(seen.write_pointer, r.end->end_sample());

  // Ramp flags: on chunks overlapping [0, ramp) and [ramp-down, end), not between.
  for (const v1::SampleChunk& c : r.chunks) {
    const std::uint64_t last = c.first_sample() + c.sample_count() - 1;
    const bool in_ramp_up = c.first_sample() < kRamp;
    const bool in_ramp_down = last >= r.end->ramp_down_start_sample();
    if (in_ramp_up || in_ramp_down) {
      EXPECT_NE(c.flags() & v1::CHUNK_FLAG_RAMPING, 0U) << "chunk at " << c.first_sample();
    }
    if (c.first_sample() >= kRamp && last + 2 * kChunk < r.end->ramp_down_start_sample()) {
      EXPECT_EQ(c.flags() & v1::CHUNK_FLAG_RAMPING, 0U) << "chunk at " << c.first_sample();
    }
  }

  EXPECT_TRUE(wait_for_state(*client, v1::SCAN_STATE_CONFIGURED));
  // A second scan on the same configuration starts again from sample 0.
  ASSERT_TRUE(client->request(start(2000))->has_status());
  const ScanRecord second = collect_until_end(*client, 0, false);
  expect_contiguous_pattern(second, kChunk);
  ASSERT_TRUE(second.end);
  EXPECT_EQ(second.end->reason(), "max_samples reached");
  EXPECT_GE(second.end->ramp_down_start_sample(), kRamp + 2000U);
  EXPECT_TRUE(board_.wait_for_stops(2));
  EXPECT_EQ(board_.hard_cuts(), 0U);
  EXPECT_EQ(board_.unpowered_triggers(), 0U) << "Start powers the amplifier again after the first scan switched it off";
}

TEST_F(FirmwareSessionTest, CommandsThatDoNotFitTheStateAreRefused) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  const auto again = client->request(start(0));
  ASSERT_TRUE(again && again->has_error());
  EXPECT_EQ(again->error().code(), v1::ERROR_NOT_ALLOWED);
  const auto reconfigure = client->request(configure(25000.0, 0.012, 1000, 1000));
  ASSERT_TRUE(reconfigure && reconfigure->has_error());
  EXPECT_EQ(reconfigure->error().code(), v1::ERROR_NOT_ALLOWED);
  ASSERT_TRUE(client->request(stop())->has_status());
  EXPECT_TRUE(collect_until_end(*client, 0, false).end.has_value());
}

TEST_F(FirmwareSessionTest, SecondHostGetsBusyAndTheNextControllerIsServed) {
  auto first = connect_controller();
  ASSERT_TRUE(first);
  LinkTestClient second(port());
  const auto refused = second.request(hello());  // authenticated, but a controller is there already
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::ERROR_BUSY);
  EXPECT_NE(refused->error().message().find("connect as an observer"), std::string::npos) << refused->error().message();
  EXPECT_TRUE(second.wait_for_close());
  // The first host still controls the scanner.
  const auto status = first->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  first->close();
  EXPECT_TRUE(connect_controller() != nullptr);
}

TEST_F(FirmwareSessionTest, LinkLossWhileScanningRampsDown) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  // Wait for full field.
  for (;;) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (message->has_chunk() && message->chunk().first_sample() >= 5000) break;
  }
  client->close();
  ASSERT_TRUE(board_.wait_for_stops(1));
  const StopObservation seen = board_.last_stop();
  EXPECT_TRUE(seen.ramped_down[0]);
  EXPECT_EQ(seen.ramp_factor[0], 0U);
  EXPECT_FALSE(seen.enabled[0]);
  EXPECT_EQ(board_.hard_cuts(), 0U);
  auto next = connect_controller();
  ASSERT_TRUE(next);
  EXPECT_TRUE(wait_for_state(*next, v1::SCAN_STATE_CONFIGURED));
}

struct MalformedInput {
  const char* what;
  std::string (*bytes)();
  const char* expected;
};

std::string length_prefix(std::uint32_t length) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xFFU);
  return out;
}

class MalformedFrames : public FirmwareSessionTest, public ::testing::WithParamInterface<MalformedInput> {};

TEST_P(MalformedFrames, AreReportedTheConnectionClosedAndTheScanRampedDown) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  client->send_raw(GetParam().bytes());
  bool got_error = false;
  while (const auto message = client->receive()) {
    if (message->has_error()) {
      EXPECT_EQ(message->error().code(), v1::ERROR_MALFORMED_FRAME);
      EXPECT_NE(message->error().message().find(GetParam().expected), std::string::npos) << message->error().message();
      got_error = true;
      break;
    }
  }
  EXPECT_TRUE(got_error);
  EXPECT_TRUE(client->wait_for_close());
  ASSERT_TRUE(board_.wait_for_stops(1));
  EXPECT_TRUE(board_.last_stop().ramped_down[0]);
  EXPECT_EQ(board_.hard_cuts(), 0U);
  auto next = connect_controller();
  ASSERT_TRUE(next);
  EXPECT_TRUE(wait_for_state(*next, v1::SCAN_STATE_CONFIGURED));
}

INSTANTIATE_TEST_SUITE_P(
    Firmware, MalformedFrames,
    ::testing::Values(MalformedInput{"oversized", [] { return length_prefix(0xFFFFFFF0U) + std::string(16, 'x'); }, "exceeds the limit"},
                      MalformedInput{"undecodable", [] { return length_prefix(3) + std::string("\xFF\xFF\xFF", 3); }, "not a valid link v1 Envelope"},
                      MalformedInput{"chunk_payload_size",
                                     [] {
                                       v1::Envelope e;
                                       e.mutable_chunk()->set_sample_count(10);
                                       e.mutable_chunk()->set_channel_count(2);
                                       e.mutable_chunk()->set_payload(std::string(7, 'x'));
                                       std::string frame;
                                       protocol::append_frame(e, frame);
                                       return frame;
                                     },
                                     "payload bytes"}),
    [](const ::testing::TestParamInfo<MalformedInput>& param_info) { return std::string(param_info.param.what); });

TEST_F(FirmwareSessionTest, ReaderThatFallsARingBehindSkipsAheadAndFlagsIt) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  const std::uint64_t ring = std::uint64_t{1} << FakeBoard::kRingLog2;
  std::uint64_t expected_next = 0;
  bool jumped = false;
  bool flagged = false;
  std::uint64_t flagged_first = 0;
  while (!flagged) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (!message->has_chunk()) continue;
    const v1::SampleChunk& c = message->chunk();
    if ((c.flags() & (v1::CHUNK_FLAG_OVERWRITTEN | v1::CHUNK_FLAG_CORRUPTED)) != 0) {
      flagged = true;
      flagged_first = c.first_sample();
      EXPECT_GT(c.first_sample(), expected_next);  // the gap is explicit: the index is re-anchored
      const auto first = static_cast<std::int16_t>(static_cast<std::uint16_t>(static_cast<std::uint8_t>(c.payload()[0]) |
                                                                              (static_cast<std::uint8_t>(c.payload()[1]) << 8)));
      EXPECT_EQ(first, pattern(c.first_sample(), 0));
      break;
    }
    ASSERT_EQ(c.first_sample(), expected_next);
    expected_next += c.sample_count();
    if (!jumped && expected_next >= 5000) {
      board_.jump(3 * ring);
      jumped = true;
    }
  }
  EXPECT_GE(flagged_first, 2 * ring);
  const auto status = client->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  // A chunk overwritten before it was read counts as overwritten; one overwritten while being read, as corrupted.
  EXPECT_GE(status->status().overwritten_events() + status->status().corrupted_events(), 1U);
  ASSERT_TRUE(client->request(stop())->has_status());
  EXPECT_TRUE(collect_until_end(*client, 0, false).end.has_value());
}

TEST_F(FirmwareSessionTest, ShutdownWhileScanningRampsDownAndSendsStreamEnd) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  for (;;) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (message->has_chunk() && message->chunk().first_sample() >= 4000) break;
  }
  firmware_->shutdown();
  const ScanRecord r = collect_until_end(*client, 0, false);
  ASSERT_TRUE(r.end);
  EXPECT_EQ(r.end->reason(), "firmware shutting down");
  EXPECT_TRUE(client->wait_for_close());
  ASSERT_TRUE(board_.wait_for_stops(1));
  EXPECT_TRUE(board_.last_stop().ramped_down[0]);
  EXPECT_EQ(board_.hard_cuts(), 0U);
  thread_.join();
  EXPECT_EQ(exit_code_, 0);
  thread_ = std::thread([] {});
}

// --- Modes and the safety supervisor ---

TEST_F(FirmwareSessionTest, CommandsOutsideTheirModeAreRefusedNamingTheModeThatAllowsThem) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  const auto started = client->request(start(0));
  ASSERT_TRUE(started && started->has_error());
  EXPECT_EQ(started->error().code(), v1::ERROR_NOT_ALLOWED);
  EXPECT_EQ(started->error().message(), "Start is accepted in ARMED, the board is in CONFIG");
  v1::Envelope clear;
  clear.mutable_clear_faults();
  const auto cleared = client->request(clear);
  ASSERT_TRUE(cleared && cleared->has_error());
  EXPECT_EQ(cleared->error().message(), "ClearFaults is accepted in SAFE, the board is in CONFIG");
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  const auto armed = client->request(status_request());
  ASSERT_TRUE(armed && armed->has_status());
  EXPECT_EQ(armed->status().mode(), v1::BOARD_MODE_ARMED);
  ASSERT_TRUE(client->request(start(0))->has_status());
  const auto reconfigure = client->request(configure(25000.0, 0.012, 1000, 1000));
  ASSERT_TRUE(reconfigure && reconfigure->has_error());
  EXPECT_EQ(reconfigure->error().message(), "Configure is accepted in CONFIG or ARMED, the board is in RUNNING");
  ASSERT_TRUE(client->request(stop())->has_status());
  EXPECT_TRUE(collect_until_end(*client, 0, false).end.has_value());
}

TEST_F(FirmwareSessionTest, RampLongerThanTheSafetyRampTimeIsRefused) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  // [safety] ramp_time defaults to 10 ms: 10000 samples at 1 MS/s.
  const auto reply = client->request(configure(25000.0, 0.012, 10001, 1000));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(reply->error().message().find("ramp_time"), std::string::npos) << reply->error().message();
}

// An output the logic had to clamp at its calibrated DAC limit means something commanded more than the
// coil may take: an out-of-limit fault, SAFE, and ClearFaults asks the logic to clear the bit.
TEST_F(FirmwareSessionTest, ClampedOutputIsAnOutOfLimitFault) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  std::optional<v1::Fault> fault;
  std::optional<v1::StreamEnd> end;
  bool injected = false;
  while (!end) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (message->has_chunk() && !injected && message->chunk().first_sample() >= 5000) {
      board_.set_clamped(0, true);
      injected = true;
    } else if (message->has_fault()) {
      fault = message->fault();
    } else if (message->has_stream_end()) {
      end = message->stream_end();
    }
  }
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->kind(), v1::FAULT_KIND_OUT_OF_LIMIT);
  EXPECT_EQ(fault->channel(), 0);
  EXPECT_GE(fault->sample(), 5000U);
  EXPECT_NE(fault->message().find("beyond its limit"), std::string::npos) << fault->message();
  EXPECT_EQ(end->reason(), "safety fault");
  ASSERT_TRUE(board_.wait_for_stops(1));
  EXPECT_TRUE(board_.last_stop().ramped_down[0]);
  EXPECT_EQ(board_.hard_cuts(), 0U);
  ASSERT_TRUE(wait_for_state(*client, v1::SCAN_STATE_SAFE));
  v1::Envelope clear;
  clear.mutable_clear_faults();
  const auto cleared = client->request(clear);
  ASSERT_TRUE(cleared && cleared->has_status());
  EXPECT_EQ(cleared->status().mode(), v1::BOARD_MODE_CONFIG);
  EXPECT_NE(board_.registers().read32(drivers::regmap::drive_register(0, drivers::regmap::kDriveStatusClear)) & drivers::regmap::kDriveClamped,
            0U)
      << "ClearFaults did not ask the logic to clear the clamp bit";
}

TEST_F(FirmwareSessionTest, AmplifierFaultRampsDownLatchesReportsAndFlagsTheStream) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  std::optional<v1::Fault> fault;
  std::vector<v1::SampleChunk> chunks;
  std::optional<v1::StreamEnd> end;
  bool injected = false;
  while (!end) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (message->has_chunk()) {
      chunks.push_back(message->chunk());
      if (!injected && message->chunk().first_sample() >= 5000) {
        board_.set_amplifier_fault(1, true);  // channel 1 is not configured: the supervisor ignores it
        board_.set_amplifier_fault(0, true);
        injected = true;
      }
    } else if (message->has_fault()) {
      EXPECT_FALSE(fault.has_value()) << "one fault, reported once";
      fault = message->fault();
    } else if (message->has_stream_end()) {
      end = message->stream_end();
    }
  }
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->kind(), v1::FAULT_KIND_AMPLIFIER);
  EXPECT_EQ(fault->channel(), 0);
  EXPECT_GE(fault->sample(), 5000U);
  EXPECT_EQ(end->reason(), "safety fault");
  for (const v1::SampleChunk& c : chunks) {
    const bool flagged = (c.flags() & v1::CHUNK_FLAG_FAULT) != 0;
    EXPECT_EQ(flagged, c.first_sample() + c.sample_count() > fault->sample()) << "chunk at " << c.first_sample();
  }
  ASSERT_TRUE(board_.wait_for_stops(1));
  const StopObservation seen = board_.last_stop();
  EXPECT_TRUE(seen.ramped_down[0]);
  EXPECT_EQ(seen.ramp_factor[0], 0U);
  EXPECT_EQ(board_.hard_cuts(), 0U);
  ASSERT_TRUE(wait_for_state(*client, v1::SCAN_STATE_SAFE));
  const auto status = client->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  EXPECT_EQ(status->status().mode(), v1::BOARD_MODE_SAFE);
  ASSERT_EQ(status->status().faults_size(), 1);
  EXPECT_EQ(status->status().faults(0).sample(), fault->sample());
  EXPECT_FALSE(board_.registers().read32(drivers::regmap::drive_register(0, drivers::regmap::kDriveAmplifierControl)) &
               drivers::regmap::kAmplifierEnable);
  const auto refused = client->request(configure(25000.0, 0.012, 2000, 1000));
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().message(), "Configure is accepted in CONFIG or ARMED, the board is in SAFE");
  board_.set_amplifier_fault(0, false);
  board_.set_amplifier_fault(1, false);
  v1::Envelope clear;
  clear.mutable_clear_faults();
  const auto cleared = client->request(clear);
  ASSERT_TRUE(cleared && cleared->has_status());
  EXPECT_EQ(cleared->status().mode(), v1::BOARD_MODE_CONFIG);
  EXPECT_EQ(cleared->status().faults_size(), 0);
}

TEST_F(FirmwareSessionTest, ClearFaultsIsRefusedWhileTheInterlockStaysOpen) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  board_.set_safety_status(0);  // interlock open while ARMED: amplifiers off, SAFE
  ASSERT_TRUE(wait_for_state(*client, v1::SCAN_STATE_SAFE));
  v1::Envelope clear;
  clear.mutable_clear_faults();
  const auto refused = client->request(clear);
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_NE(refused->error().message().find("the interlock is open"), std::string::npos) << refused->error().message();
  board_.set_safety_status(drivers::regmap::kInterlockClosed);
  const auto cleared = client->request(clear);
  ASSERT_TRUE(cleared && cleared->has_status());
  EXPECT_EQ(cleared->status().mode(), v1::BOARD_MODE_CONFIG);
}

TEST_F(FirmwareSessionTest, SupervisedHostThatStopsSendingHeartbeatsEndsTheScanInSafe) {
  auto client = std::make_unique<LinkTestClient>(port());
  v1::Envelope greeting = hello();
  greeting.mutable_hello()->add_capabilities("heartbeat");
  const auto reply = client->request(greeting);
  ASSERT_TRUE(reply && reply->has_hello_reply());
  EXPECT_DOUBLE_EQ(reply->hello_reply().board().heartbeat_period_s(), 0.1);  // [safety] watchdog_timeout
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  // No heartbeat is sent: three periods later the supervisor ramps down.
  std::optional<v1::Fault> fault;
  std::optional<v1::StreamEnd> end;
  while (!end) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (message->has_fault()) fault = message->fault();
    if (message->has_stream_end()) end = message->stream_end();
  }
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->kind(), v1::FAULT_KIND_HEARTBEAT_LOST);
  EXPECT_EQ(fault->channel(), -1);
  EXPECT_GT(fault->sample(), 0U);  // during the scan (the fake board's samples do not follow the wall clock)
  EXPECT_EQ(end->reason(), "safety fault");
  EXPECT_TRUE(wait_for_state(*client, v1::SCAN_STATE_SAFE));
}

// --- Resume after a reconnect ---

v1::Envelope resume(std::uint64_t scan_id, std::uint64_t from_sample) {
  v1::Envelope message;
  message.mutable_resume()->set_scan_id(scan_id);
  message.mutable_resume()->set_from_sample(from_sample);
  return message;
}

// Checks that the chunks tile [from, end) in order with the pattern as payload, each ending on the
// chunk grid of the first stream.
void expect_pattern_from(const ScanRecord& r, std::uint64_t from, std::uint32_t chunk_samples) {
  ASSERT_TRUE(r.end.has_value());
  std::uint64_t next = from;
  std::size_t mismatches = 0;
  for (const v1::SampleChunk& c : r.chunks) {
    ASSERT_EQ(c.first_sample(), next) << "no gap, no duplicate";
    const std::uint64_t boundary = (next / chunk_samples + 1) * chunk_samples;
    EXPECT_EQ(c.sample_count(), std::min(boundary, r.end->end_sample()) - next) << "chunk at " << next;
    ASSERT_EQ(c.payload().size(), std::size_t{c.sample_count()} * c.channel_count() * 2U);
    for (std::uint32_t n = 0; n < c.sample_count(); ++n) {
      for (std::uint32_t ch = 0; ch < c.channel_count(); ++ch) {
        std::int16_t value = 0;
        std::memcpy(&value, c.payload().data() + (std::size_t{n} * c.channel_count() + ch) * 2U, 2U);
        if (value != pattern(next + n, ch)) ++mismatches;
      }
    }
    next += c.sample_count();
  }
  EXPECT_EQ(mismatches, 0U);
  EXPECT_EQ(r.end->end_sample(), next);
  EXPECT_EQ(r.messages_after_end, 0);
}

TEST_F(FirmwareSessionTest, ResumeAfterALostLinkSendsEveryRemainingSampleOnceAndTheScansStreamEnd) {
  constexpr std::uint32_t kChunk = 1000;
  auto client = connect_controller();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 2000, kChunk))->has_configure_reply());
  const auto started = client->request(start(0));
  ASSERT_TRUE(started && started->has_status());
  const std::uint64_t scan_id = started->status().scan_id();
  EXPECT_EQ(scan_id, 1U);
  std::uint64_t received_to = 0;  // the first sample the lost host did not receive
  while (received_to < 6000) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (!message->has_chunk()) continue;
    ASSERT_EQ(message->chunk().first_sample(), received_to);
    received_to += message->chunk().sample_count();
  }
  client->close();  // the link is lost: the scan ramps down and ends
  ASSERT_TRUE(board_.wait_for_stops(1));
  auto next = connect_controller();
  ASSERT_TRUE(next);
  ASSERT_TRUE(wait_for_state(*next, v1::SCAN_STATE_CONFIGURED));
  const auto status = next->request(status_request());
  ASSERT_TRUE(status && status->has_status());
  EXPECT_EQ(status->status().scan_id(), scan_id);

  const auto resumed = next->request(resume(scan_id, received_to));
  ASSERT_TRUE(resumed && resumed->has_status()) << (resumed && resumed->has_error() ? resumed->error().message() : "no reply");
  const ScanRecord record = collect_until_end(*next, 0, false);
  expect_pattern_from(record, received_to, kChunk);
  ASSERT_TRUE(record.end);
  EXPECT_EQ(record.end->scan_id(), scan_id);
  EXPECT_EQ(record.end->reason(), "controller link lost");
  EXPECT_EQ(record.end->ramp_up_end_sample(), 2000U);
  EXPECT_EQ(record.end->ramp_down_start_sample(), status->status().ramp_down_start_sample());
  // The link was lost after the host had received up to received_to: the ramp-down starts there or later
  // (at exactly received_to when the streamer had sent everything acquired when the link went).
  EXPECT_GE(record.end->ramp_down_start_sample(), received_to);
  EXPECT_LE(record.end->end_sample(), board_.last_stop().write_pointer) << "only samples the board acquired";
  ASSERT_FALSE(record.chunks.empty());
  EXPECT_NE(record.chunks.back().flags() & v1::CHUNK_FLAG_RAMPING, 0U) << "the ramp-down is flagged again";

  // Resuming at the very end gives the StreamEnd alone; scan id 0 means the latest.
  ASSERT_TRUE(next->request(resume(0, record.end->end_sample()))->has_status());
  const ScanRecord again = collect_until_end(*next, 0, false);
  EXPECT_TRUE(again.chunks.empty());
  ASSERT_TRUE(again.end);
  EXPECT_EQ(again.end->end_sample(), record.end->end_sample());
  // A new scan can start once the resumed stream ended.
  ASSERT_TRUE(wait_for_state(*next, v1::SCAN_STATE_CONFIGURED));
  const auto second = next->request(start(0));
  ASSERT_TRUE(second && second->has_status());
  EXPECT_EQ(second->status().scan_id(), scan_id + 1);
  ASSERT_TRUE(next->request(stop())->has_status());
  const ScanRecord second_scan = collect_until_end(*next, 0, false);
  ASSERT_TRUE(second_scan.end);
  EXPECT_EQ(second_scan.end->scan_id(), scan_id + 1);
}

// The Error's message, or "" if the reply is not an Error with `code`.
std::string refusal(const std::optional<v1::Envelope>& reply, v1::ErrorCode code) {
  if (!reply || !reply->has_error() || reply->error().code() != code) return "";
  return reply->error().message();
}

TEST_F(FirmwareSessionTest, ResumeIsRefusedNamingTheFieldAndTheLimit) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  EXPECT_NE(refusal(client->request(resume(0, 0)), v1::ERROR_NOT_ALLOWED).find("no scan has been started"), std::string::npos);
  ASSERT_TRUE(client->request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  ASSERT_TRUE(client->request(start(0))->has_status());
  // While the scan runs (its first chunk came): not beyond the write pointer.
  for (;;) {
    const auto message = client->receive();
    ASSERT_TRUE(message);
    if (message->has_chunk()) break;
  }
  const auto running = client->request(status_request());
  ASSERT_TRUE(running && running->has_status());
  const std::string ahead = refusal(client->request(resume(1, running->status().write_pointer() + 100000000)), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(ahead.find("from_sample = " + std::to_string(running->status().write_pointer() + 100000000)), std::string::npos) << ahead;
  EXPECT_NE(ahead.find("write pointer"), std::string::npos) << ahead;
  // The logic runs three rings ahead: the first samples are overwritten.
  const std::uint64_t ring = std::uint64_t{1} << FakeBoard::kRingLog2;
  board_.jump(3 * ring);
  for (int i = 0; i < 1000; ++i) {
    const auto s = client->request(status_request());
    ASSERT_TRUE(s && s->has_status());
    if (s->status().write_pointer() > 3 * ring) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(client->request(stop())->has_status());
  const ScanRecord record = collect_until_end(*client, 0, false);
  ASSERT_TRUE(record.end);
  const std::uint64_t end = record.end->end_sample();
  ASSERT_TRUE(wait_for_state(*client, v1::SCAN_STATE_CONFIGURED));
  const auto ended = client->request(status_request());
  ASSERT_TRUE(ended && ended->has_status());
  const std::uint64_t oldest = ended->status().write_pointer() - ring / 2;  // half the ring kept as margin

  const std::string wrong_scan = refusal(client->request(resume(7, end)), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(wrong_scan.find("scan_id = 7"), std::string::npos) << wrong_scan;
  EXPECT_NE(wrong_scan.find("scan 1"), std::string::npos) << wrong_scan;
  const std::string beyond = refusal(client->request(resume(1, end + 1)), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(beyond.find("from_sample = " + std::to_string(end + 1) + " is beyond the end of scan 1"), std::string::npos) << beyond;
  EXPECT_NE(beyond.find(std::to_string(end)), std::string::npos) << beyond;
  const std::string overwritten = refusal(client->request(resume(1, 12)), v1::ERROR_INVALID_ARGUMENT);
  EXPECT_NE(overwritten.find("from_sample = 12 is no longer in the ring: the oldest sample held is " + std::to_string(oldest)),
            std::string::npos)
      << overwritten;
  // The oldest sample held is accepted, and streamed from there to the end.
  ASSERT_TRUE(client->request(resume(1, oldest))->has_status());
  const ScanRecord tail = collect_until_end(*client, 0, false);
  expect_pattern_from(tail, oldest, 1000);
}

}  // namespace
}  // namespace mpi::firmware::test

// --- authentication, roles, limits (link.proto: the handshake) ---

namespace mpi::firmware::test {
namespace {

v1::Envelope hello_as(v1::Role role, const std::string& reclaim_token = "") {
  v1::Envelope message = hello();
  message.mutable_hello()->set_role(role);
  message.mutable_hello()->set_reclaim_token(reclaim_token);
  return message;
}

// Hello with a fixed client nonce, sent as it is: returns the board's challenge.
v1::Envelope challenge_for(LinkTestClient& client, const std::string& client_nonce) {
  v1::Envelope message = hello();
  message.mutable_hello()->set_protocol_minor(protocol::kProtocolMinor);
  message.mutable_hello()->set_client_nonce(client_nonce);
  const auto reply = client.request_raw(message);
  EXPECT_TRUE(reply && reply->has_auth_challenge()) << (reply ? reply->DebugString() : "no reply");
  return reply ? *reply : v1::Envelope{};
}

v1::Envelope auth_response(const std::string& proof) {
  v1::Envelope message;
  message.mutable_auth_response()->set_client_proof(proof);
  return message;
}

std::string correct_proof(const v1::Envelope& challenge, const std::string& client_nonce) {
  const auto proof = protocol::client_proof(test_key(), protocol::as_byte_span(challenge.auth_challenge().server_nonce()), protocol::as_byte_span(client_nonce));
  return {reinterpret_cast<const char*>(proof.data()), proof.size()};
}

}  // namespace

TEST_F(FirmwareSessionTest, AWrongKeyIsRefusedAndTheFirmwareServesOn) {
  {
    LinkTestClient client(port());
    const std::string nonce(32, 'n');
    const v1::Envelope challenge = challenge_for(client, nonce);
    // The board proved it holds the key: its proof is the one test_key() gives.
    const auto expected = protocol::server_proof(test_key(), protocol::as_byte_span(nonce), protocol::as_byte_span(challenge.auth_challenge().server_nonce()));
    EXPECT_EQ(challenge.auth_challenge().server_proof(), std::string(reinterpret_cast<const char*>(expected.data()), expected.size()));
    // A client with another key answers with a proof made with it.
    std::array<std::byte, 32> other{};
    other.fill(std::byte{1});
    const auto wrong = protocol::client_proof(protocol::Key(other), protocol::as_byte_span(challenge.auth_challenge().server_nonce()), protocol::as_byte_span(nonce));
    const auto reply = client.request_raw(auth_response(std::string(reinterpret_cast<const char*>(wrong.data()), wrong.size())));
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_EQ(reply->error().code(), v1::ERROR_UNAUTHENTICATED);
    EXPECT_NE(reply->error().message().find("does not match"), std::string::npos) << reply->error().message();
    EXPECT_TRUE(client.wait_for_close());
  }
  {
    // The client side: a board with another key is detected before the client proves anything.
    LinkTestClient client(port());
    std::array<std::byte, 32> other{};
    other.fill(std::byte{2});
    const auto reply = client.request(hello(), protocol::Key(other));
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_NE(reply->error().message().find("does not match the key"), std::string::npos) << reply->error().message();
  }
  EXPECT_TRUE(connect_controller() != nullptr);
}

TEST_F(FirmwareSessionTest, AReplayedHandshakeIsRefused) {
  const std::string nonce(32, 'r');
  std::string recorded;
  {
    LinkTestClient first(port());
    const v1::Envelope challenge = challenge_for(first, nonce);
    recorded = correct_proof(challenge, nonce);
    const auto reply = first.request_raw(auth_response(recorded));
    ASSERT_TRUE(reply && reply->has_hello_reply());
  }
  auto listener = connect_controller();  // the first connection may still be closing: wait until it is
  ASSERT_TRUE(listener);
  listener->close();
  // The same Hello and the recorded response on a new connection: the board's nonce is new, the proof stale.
  for (int attempt = 0; attempt < 50; ++attempt) {
    LinkTestClient replay(port());
    const v1::Envelope challenge = challenge_for(replay, nonce);
    const auto reply = replay.request_raw(auth_response(recorded));
    ASSERT_TRUE(reply && reply->has_error());
    if (reply->error().code() == v1::ERROR_BUSY) continue;
    EXPECT_EQ(reply->error().code(), v1::ERROR_UNAUTHENTICATED);
    EXPECT_TRUE(replay.wait_for_close());
    break;
  }
  EXPECT_TRUE(connect_controller() != nullptr);
}

TEST_F(FirmwareSessionTest, RepeatedFailedHandshakesAreRateLimited) {
  for (int i = 0; i < 4; ++i) {
    LinkTestClient client(port());
    const v1::Envelope challenge = challenge_for(client, std::string(32, 'f'));
    const auto reply = client.request_raw(auth_response(std::string(32, 'x')));
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_EQ(reply->error().code(), v1::ERROR_UNAUTHENTICATED);
  }
  // The fourth failure blocked the address for a second: even the right key must wait.
  LinkTestClient blocked(port());
  const auto refused = blocked.request(hello());
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::ERROR_RATE_LIMITED);
  EXPECT_NE(refused->error().message().find("try again in"), std::string::npos) << refused->error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_TRUE(connect_controller() != nullptr);
}

TEST_F(FirmwareSessionTest, NothingButTheHandshakeBeforeIt) {
  LinkTestClient client(port());
  (void)challenge_for(client, std::string(32, 'a'));
  const auto reply = client.request_raw(status_request());  // instead of AuthResponse
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::ERROR_UNAUTHENTICATED);
  EXPECT_TRUE(client.wait_for_close());
  LinkTestClient unauthenticated(port());
  v1::Envelope no_nonce = hello();  // a Hello of an unauthenticated client
  const auto refused = unauthenticated.request_raw(no_nonce);
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::ERROR_UNAUTHENTICATED);
  EXPECT_NE(refused->error().message().find("client_nonce"), std::string::npos) << refused->error().message();
}

TEST_F(FirmwareSessionTest, ObserversSeeTheScanButCannotCommandAndASecondControllerDoesNotDisturbIt) {
  auto controller = connect_controller();
  ASSERT_TRUE(controller);
  LinkTestClient observer(port());
  const auto granted = observer.request(hello_as(v1::ROLE_OBSERVER));
  ASSERT_TRUE(granted && granted->has_hello_reply());
  EXPECT_EQ(granted->hello_reply().role(), v1::ROLE_OBSERVER);
  EXPECT_TRUE(granted->hello_reply().reclaim_token().empty());
  const auto refused = observer.request(configure(25000.0, 0.012, 1000, 1000));
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::ERROR_NOT_ALLOWED);
  EXPECT_NE(refused->error().message().find("observer"), std::string::npos);

  ASSERT_TRUE(controller->request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  ASSERT_TRUE(controller->request(start(30000))->has_status());
  {
    LinkTestClient intruder(port());
    const auto busy = intruder.request(hello());
    ASSERT_TRUE(busy && busy->has_error());
    EXPECT_EQ(busy->error().code(), v1::ERROR_BUSY);
  }
  const ScanRecord controlled = collect_until_end(*controller, 0, false);
  expect_contiguous_pattern(controlled, 1000);
  // The observer got the same samples (its copy of every chunk, in order).
  ScanRecord observed;
  while (!observed.end) {
    const auto message = observer.receive();
    if (!message) break;
    if (message->has_chunk()) observed.chunks.push_back(message->chunk());
    if (message->has_stream_end()) observed.end = message->stream_end();
  }
  ASSERT_EQ(observed.chunks.size(), controlled.chunks.size());
  for (std::size_t i = 0; i < observed.chunks.size(); ++i) {
    EXPECT_EQ(observed.chunks[i].first_sample(), controlled.chunks[i].first_sample());
    EXPECT_EQ(observed.chunks[i].payload(), controlled.chunks[i].payload());
  }
  const auto status = observer.request(status_request());
  ASSERT_TRUE(status && status->has_status());
  EXPECT_EQ(board_.hard_cuts(), 0U);
}

TEST_F(FirmwareSessionTest, TheControllerHandsTheControlOverToAnObserver) {
  auto controller = connect_controller();
  ASSERT_TRUE(controller);
  LinkTestClient observer(port());
  const auto granted = observer.request(hello_as(v1::ROLE_OBSERVER));
  ASSERT_TRUE(granted && granted->has_hello_reply());
  v1::Envelope to_nobody;
  to_nobody.mutable_hand_over()->set_session_id(999);
  const auto bad = controller->request(to_nobody);
  ASSERT_TRUE(bad && bad->has_error());
  EXPECT_EQ(bad->error().code(), v1::ERROR_INVALID_ARGUMENT);
  v1::Envelope hand_over;
  hand_over.mutable_hand_over()->set_session_id(granted->hello_reply().session_id());
  ASSERT_TRUE(controller->request(hand_over)->has_status());
  // The observer is told, and commands now; the former controller observes.
  const auto notice = observer.receive();
  ASSERT_TRUE(notice && notice->has_hello_reply());
  EXPECT_EQ(notice->hello_reply().role(), v1::ROLE_CONTROLLER);
  EXPECT_FALSE(notice->hello_reply().reclaim_token().empty());
  EXPECT_TRUE(observer.request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  const auto refused = controller->request(configure(25000.0, 0.012, 1000, 1000));
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::ERROR_NOT_ALLOWED);
}

TEST_F(FirmwareSessionTest, AControllerWhoseConnectionWentSilentTakesTheControlBackWithItsToken) {
  auto silent = std::make_unique<LinkTestClient>(port());
  const auto granted = silent->request(hello());
  ASSERT_TRUE(granted && granted->has_hello_reply());
  const std::string token = granted->hello_reply().reclaim_token();
  ASSERT_EQ(token.size(), 16U);
  ASSERT_TRUE(silent->request(configure(25000.0, 0.012, 1000, 1000))->has_configure_reply());
  ASSERT_TRUE(silent->request(start(40000))->has_status());
  // Another token is no token.
  {
    LinkTestClient impostor(port());
    const auto busy = impostor.request(hello_as(v1::ROLE_CONTROLLER, std::string(16, 'z')));
    ASSERT_TRUE(busy && busy->has_error());
    EXPECT_EQ(busy->error().code(), v1::ERROR_BUSY);
  }
  // The old connection reads nothing more (a cut cable); a new one reclaims the control and resumes.
  LinkTestClient again(port());
  const auto reclaimed = again.request(hello_as(v1::ROLE_CONTROLLER, token));
  ASSERT_TRUE(reclaimed && reclaimed->has_hello_reply());
  EXPECT_EQ(reclaimed->hello_reply().role(), v1::ROLE_CONTROLLER);
  EXPECT_NE(reclaimed->hello_reply().reclaim_token(), token);
  v1::Envelope resume;
  resume.mutable_resume()->set_from_sample(0);
  std::optional<v1::Envelope> resumed;
  for (int attempt = 0; attempt < 200; ++attempt) {  // until the scan has begun acquiring (its trigger)
    resumed = again.request(resume);
    if (!resumed || !resumed->has_error() || resumed->error().message().find("has not begun acquiring") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(resumed && resumed->has_status()) << (resumed ? resumed->DebugString() : "no reply");
  const ScanRecord record = collect_until_end(again, 0, false);
  expect_contiguous_pattern(record, 1000);
  EXPECT_NE(record.end->reason().find("max"), std::string::npos) << record.end->reason();  // not a lost controller
  EXPECT_TRUE(silent->wait_for_close());
}

TEST_F(FirmwareSessionTest, AFieldBeyondItsDocumentedLimitIsRefusedNamingFieldAndLimit) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  v1::Envelope message = configure(25000.0, 0.012, 1000, 1000);
  for (int i = 0; i < 12; ++i) message.mutable_configure()->add_drive()->set_channel(static_cast<std::uint32_t>(i));
  const auto reply = client->request(message);
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::ERROR_LIMIT_EXCEEDED);
  EXPECT_NE(reply->error().message().find("configure.drive"), std::string::npos) << reply->error().message();
  EXPECT_NE(reply->error().message().find(std::to_string(protocol::kMaxDriveChannels)), std::string::npos) << reply->error().message();
  const auto status = client->request(status_request());
  ASSERT_TRUE(status && status->has_status());
}

}  // namespace mpi::firmware::test

namespace mpi::firmware::test {

TEST_F(FirmwareSessionTest, ATruncatedFrameLeavesTheFirmwareServing) {
  {
    LinkTestClient client(port());
    std::string frame;
    v1::Envelope message = hello();
    protocol::append_frame(message, frame);
    client.send_raw(frame.substr(0, frame.size() - 3));  // the header promises more than comes
    client.close();
  }
  EXPECT_TRUE(connect_controller() != nullptr);
}

TEST_F(FirmwareSessionTest, AnUnknownMessageGetsAnErrorAndTheFirmwareServesOn) {
  auto client = connect_controller();
  ASSERT_TRUE(client);
  // An Envelope whose body is a field this firmware does not know (number 99, a newer peer's message).
  std::string payload;
  payload.push_back(static_cast<char>(0x08));  // request_id = 7
  payload.push_back(static_cast<char>(7));
  constexpr unsigned kTag = (99U << 3U) | 2U;  // field 99, length-delimited
  payload.push_back(static_cast<char>((kTag & 0x7FU) | 0x80U));
  payload.push_back(static_cast<char>(kTag >> 7U));
  payload.push_back(static_cast<char>(0));
  std::string frame;
  protocol::append_frame_bytes(std::as_bytes(std::span(payload.data(), payload.size())), frame);
  client->send_raw(frame);
  const auto reply = client->receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::ERROR_MALFORMED_FRAME);
  EXPECT_NE(reply->error().message().find("unknown message type"), std::string::npos) << reply->error().message();
  EXPECT_TRUE(client->wait_for_close());
  EXPECT_TRUE(connect_controller() != nullptr);
}

}  // namespace mpi::firmware::test

namespace mpi::firmware::test {

TEST_F(FirmwareSessionTest, TheBoardSendsHeartbeatsToConnectionsThatAnnouncedThem) {
  LinkTestClient quiet(port());
  const auto observer_reply = quiet.request(hello_as(v1::ROLE_OBSERVER));  // no "heartbeat" capability
  ASSERT_TRUE(observer_reply && observer_reply->has_hello_reply());
  LinkTestClient client(port());
  v1::Envelope greeting = hello();
  greeting.mutable_hello()->add_capabilities("heartbeat");
  const auto reply = client.request(greeting);
  ASSERT_TRUE(reply && reply->has_hello_reply());
  const double period_s = reply->hello_reply().board().heartbeat_period_s();
  ASSERT_GT(period_s, 0.0);
  // Several in a row, with increasing sequence numbers (waiting far longer than a period for each).
  std::uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    std::optional<v1::Envelope> beat;
    while ((beat = client.receive(std::chrono::seconds(5))) && !beat->has_heartbeat()) {
    }
    ASSERT_TRUE(beat.has_value()) << "no heartbeat from the board";
    EXPECT_GT(beat->heartbeat().sequence(), last);
    last = beat->heartbeat().sequence();
    client.send([] {
      v1::Envelope h;
      h.mutable_heartbeat();
      return h;
    }());
  }
  // The connection without the capability got none.
  while (const auto message = quiet.receive(std::chrono::milliseconds(50))) EXPECT_FALSE(message->has_heartbeat());
}

}  // namespace mpi::firmware::test
