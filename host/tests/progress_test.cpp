// The progress reporter with a fake clock: rate and ETA arithmetic (worked by hand below), the line
// formats, throttling of terminal redraws and plain lines, an unknown total, and concurrent updates.
#include "mpi/host/progress.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace mpi::host {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::steady_clock::duration(1'000'000'000'000)};
  Progress::Clock clock() {
    return [this] { return now; };
  }
};

std::size_t count(const std::string& s, char c) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), c)); }

TEST(Progress, PlainLineShowsCountRateAndEta) {
  FakeClock t;
  std::ostringstream out;
  Progress p("scan", 3000, "frames", out, false, t.clock(), ProgressOptions{100ms, 1000ms, 20});
  t.now += 1s;
  p.update(1532);
  // 1532 frames in 1 s: 1532 frames/s shown as 1530; (3000 - 1532) / 1532 = 0.96 s, rounded up to 1 s.
  EXPECT_EQ(out.str(), "scan: 1532/3000 frames, 1530 frames/s, ETA 1 s\n");
}

TEST(Progress, PlainLinesAtMostEveryFiveSecondsAndOneAtTheEnd) {
  FakeClock t;
  std::ostringstream out;
  Progress p("calibration", 12000, "positions", out, false, t.clock());
  for (int k = 1; k <= 120; ++k) {  // 100 positions every 100 ms for 12 s
    t.now += 100ms;
    p.update(static_cast<std::uint64_t>(100 * k));
  }
  // Lines at 5 s (5000 done, 1000/s, 7 s left) and 10 s (10000 done, 2 s left).
  EXPECT_EQ(out.str(),
            "calibration: 5000/12000 positions, 1000 positions/s, ETA 7 s\n"
            "calibration: 10000/12000 positions, 1000 positions/s, ETA 2 s\n");
  p.finish();
  EXPECT_EQ(out.str().substr(out.str().rfind("calibration")), "calibration: 12000/12000 positions, 1000 positions/s, done in 12 s\n");
  p.update(12001);  // nothing after the end
  p.finish();
  EXPECT_EQ(count(out.str(), '\n'), 3U);
}

TEST(Progress, TerminalRedrawsAtMostTenTimesASecond) {
  FakeClock t;
  std::ostringstream out;
  Progress p("replay", 1000, "frames", out, true, t.clock());
  for (int k = 0; k <= 100; ++k) {  // an update every 10 ms for 1 s: redraws at 0, 100, ..., 1000 ms
    p.update(static_cast<std::uint64_t>(k));
    t.now += 10ms;
  }
  EXPECT_EQ(count(out.str(), '\r'), 11U);
  EXPECT_EQ(count(out.str(), '\n'), 0U);
  for (int k = 0; k < 89; ++k) {  // 1 ms apart from 10 ms to 98 ms after the last redraw: none due
    p.update(static_cast<std::uint64_t>(101 + k));
    t.now += 1ms;
  }
  EXPECT_EQ(count(out.str(), '\r'), 11U);
  t.now += 2ms;
  p.update(200);  // 100 ms after the last redraw
  EXPECT_EQ(count(out.str(), '\r'), 12U);
  p.finish();
  EXPECT_EQ(count(out.str(), '\r'), 13U);
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(Progress, TerminalLineHasABarCountRateAndEta) {
  FakeClock t;
  std::ostringstream out;
  Progress p("scan", 40, "frames", out, true, t.clock());
  t.now += 2s;
  p.update(10);
  // A quarter done: 5 of 20 bar cells; 10 frames in 2 s = 5 frames/s; 30 left at 5/s = 6 s.
  EXPECT_EQ(out.str(), "\rscan [#####...............] 10/40 frames, 5.00 frames/s, ETA 6 s");
  t.now += 6s;
  p.update(40);
  p.finish();
  const std::string last = out.str().substr(out.str().rfind('\r'));
  EXPECT_EQ(last, "\rscan [####################] 40/40 frames, 5.00 frames/s, done in 8.0 s\n");
}

TEST(Progress, ShorterTerminalLineWipesTheLongerOne) {
  FakeClock t;
  std::ostringstream out;
  Progress p("scan", 100, "frames", out, true, t.clock());
  t.now += 1s;
  p.update(50);  // "..., 50.0 frames/s, ETA 1 s"
  const std::size_t first = out.str().size() - 1;
  t.now += 99s;
  p.update(60);  // "..., 0.600 frames/s, ETA 1 min 7 s" is longer; then a shorter one must be padded
  t.now += 1s;
  p.update(100);  // "..., 0.990 frames/s, ETA 0 s"
  const std::string s = out.str();
  const std::string last = s.substr(s.rfind('\r') + 1);
  const std::string middle = s.substr(s.find('\r', 1) + 1, s.rfind('\r') - s.find('\r', 1) - 1);
  EXPECT_EQ(middle, "scan [############........] 60/100 frames, 0.600 frames/s, ETA 1 min 7 s");
  EXPECT_EQ(last.size(), middle.size());
  EXPECT_EQ(last.substr(0, last.find_last_not_of(' ') + 1), "scan [####################] 100/100 frames, 0.990 frames/s, ETA 0 s");
  EXPECT_GT(first, 0U);
}

TEST(Progress, UnknownTotalHasNoBarAndNoEta) {
  FakeClock t;
  std::ostringstream terminal, plain;
  Progress a("batch", 0, "images", terminal, true, t.clock());
  Progress b("batch", 0, "images", plain, false, t.clock());
  t.now += 2s;
  a.update(30);
  EXPECT_EQ(terminal.str(), "\rbatch: 30 images, 15.0 images/s");
  t.now += 3s;
  b.update(30);
  EXPECT_EQ(plain.str(), "batch: 30 images, 6.00 images/s\n");
  b.finish();
  EXPECT_EQ(plain.str(), "batch: 30 images, 6.00 images/s\nbatch: 30 images, 6.00 images/s, done in 5.0 s\n");
}

TEST(Progress, NoRateBeforeTimePasses) {
  FakeClock t;
  std::ostringstream out;
  Progress p("scan", 10, "frames", out, true, t.clock());
  p.update(0);
  EXPECT_EQ(out.str(), "\rscan [....................] 0/10 frames");
}

TEST(Progress, RateAndEtaFormats) {
  EXPECT_EQ(Progress::format_rate(1532.0), "1530");
  EXPECT_EQ(Progress::format_rate(153.24), "153");
  EXPECT_EQ(Progress::format_rate(15320.0), "15300");
  EXPECT_EQ(Progress::format_rate(15.32), "15.3");
  EXPECT_EQ(Progress::format_rate(1.532), "1.53");
  EXPECT_EQ(Progress::format_rate(0.01532), "0.0153");
  EXPECT_EQ(Progress::format_rate(0.6), "0.600");
  EXPECT_EQ(Progress::format_rate(0.0), "0");
  EXPECT_EQ(Progress::format_eta(0.0), "0 s");
  EXPECT_EQ(Progress::format_eta(0.2), "1 s");
  EXPECT_EQ(Progress::format_eta(59.0), "59 s");
  EXPECT_EQ(Progress::format_eta(59.5), "1 min 0 s");
  EXPECT_EQ(Progress::format_eta(125.0), "2 min 5 s");
  EXPECT_EQ(Progress::format_eta(3725.0), "1 h 2 min");
}

TEST(Progress, CountNeverGoesBackAndAdvanceAdds) {
  FakeClock t;
  std::ostringstream out;
  Progress p("scan", 100, "frames", out, false, t.clock());
  p.update(10);
  p.update(5);
  EXPECT_EQ(p.done(), 10U);
  p.advance(3);
  p.advance();
  EXPECT_EQ(p.done(), 14U);
  EXPECT_EQ(out.str(), "");  // plain mode: nothing before 5 s
}

TEST(Progress, DestructorEndsAnOpenTerminalLine) {
  FakeClock t;
  std::ostringstream out;
  {
    Progress p("scan", 100, "frames", out, true, t.clock());
    p.update(1);
  }
  EXPECT_EQ(out.str().back(), '\n');
  std::ostringstream plain;
  { Progress p("scan", 100, "frames", plain, false, t.clock()); }
  EXPECT_EQ(plain.str(), "");
}

TEST(Progress, ConcurrentUpdatesCountEveryUnitAndKeepLinesWhole) {
  std::ostringstream out;
  Progress p("pool", 40000, "items", out, true, {}, ProgressOptions{0ms, 0ms, 10});  // redraw on every due update
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&p] {
      for (int i = 0; i < 10000; ++i) p.advance();
    });
  }
  for (std::thread& th : threads) th.join();
  p.finish();
  EXPECT_EQ(p.done(), 40000U);
  const std::string s = out.str();
  EXPECT_NE(s.find("40000/40000 items"), std::string::npos);
  // Every drawn line starts with the label: writes never interleave.
  for (std::size_t at = s.find('\r'); at != std::string::npos; at = s.find('\r', at + 1)) EXPECT_EQ(s.compare(at + 1, 5, "pool "), 0);
}

}  // namespace
}  // namespace mpi::host
