// The link server's close() must leave the io_context without work, also when one of its own waits has
// already completed (its handler queued, no longer cancellable) in the reactor pass that runs close().
#include "fake_board.hpp"
#include "link_test_client.hpp"
#include "mpi/drivers/shared_memory_bus.hpp"
#include "mpi/firmware/frame_queue.hpp"
#include "mpi/firmware/link_server.hpp"
#include "mpi/firmware/sequencer.hpp"
#include "mpi/firmware/streamer.hpp"
#include "mpi/firmware/wakeup.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace mpi::firmware::test {
namespace {

namespace asio = boost::asio;

TEST(LinkServerShutdownTest, CloseInTheSameReactorPassAsAnExpiredFaultPollLeavesNoWork) {
  FakeBoard board;
  drivers::SharedMemoryBus bus(board.name());
  Wakeup wakeup;
  FrameQueue queue(std::size_t{1} << 20, 16);
  Streamer streamer(bus, queue, wakeup);
  Sequencer sequencer(bus, fake_board_scanner(), streamer);
  asio::io_context io;
  LinkServer server(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), sequencer, queue, wakeup, test::test_key());

  // This timer expires before the server's fault poll (armed by start()), so one reactor pass that finds
  // both expired runs it first: close() then meets a fault poll that has completed but not yet run.
  asio::steady_timer closer(io);
  closer.expires_at(std::chrono::steady_clock::now());
  closer.async_wait([&server](const boost::system::error_code& ec) {
    if (!ec) server.close();
  });
  server.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both waits expire before the io_context runs

  // Without work left, run_for returns at once with the io_context stopped; a re-arming handler would
  // keep it running until the bound.
  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(io.stopped()) << "the link server left work on the io_context after close()";
}

}  // namespace
}  // namespace mpi::firmware::test
