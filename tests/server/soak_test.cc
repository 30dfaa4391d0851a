// A short soak of chatstored's SSE fan-out: 1,000 subscribers on 10
// sessions and a steady append load for a fixed time. Every subscriber must
// receive every event of its session in order, exactly once, and the
// server's resident memory at the end must be within 10% of what it was
// after the warm-up.
//
// CHATSTORE_SOAK_SECONDS sets the measured time (default 25, after a 5 s
// warm-up); bench/soak.sh runs the long variant.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "server/server_test_fixture.h"
#include "support/process_stats.h"
#include "support/sse_fleet.h"

namespace chatstore::testing {
namespace {

int SoakSeconds() {
  const char* text = std::getenv("CHATSTORE_SOAK_SECONDS");
  const int seconds = text != nullptr ? std::atoi(text) : 0;
  return seconds > 0 ? seconds : 25;
}

class SoakTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--rate-limit", "0"};
  }
};

TEST_F(SoakTest, EverySubscriberGetsEveryEventAndMemoryStaysFlat) {
  constexpr int kStreams = 1000;
  constexpr int kSessions = 10;
  constexpr double kEventsPerSecond = 200;  // 20,000 deliveries/s
  RaiseOpenFileLimit();
  const std::string token = TokenFor("soak");
  std::vector<std::string> sessions;
  for (int i = 0; i < kSessions; ++i) {
    sessions.push_back(CreateSessionId(token));
  }

  FleetOptions options;
  options.port = server().port();
  options.token = token;
  options.sessions = sessions;
  options.streams = kStreams;
  SseFleet fleet(options);
  ASSERT_TRUE(fleet.Open(std::chrono::seconds(60)))
      << fleet.Stats().established << " of " << kStreams << " streams";

  EventAppender appender(server().host(), server().port(), token, sessions,
                         kEventsPerSecond);
  appender.Start();
  // Warm-up: caches, pools and buffers reach their working size.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const std::int64_t warm_rss = ResidentBytes(server().pid());
  fleet.latency().Reset();
  std::this_thread::sleep_for(std::chrono::seconds(SoakSeconds()));
  appender.Stop();

  const std::map<std::string, std::int64_t> last = appender.last_seq();
  ASSERT_EQ(last.size(), sessions.size());
  EXPECT_TRUE(fleet.WaitForAll(last, std::chrono::seconds(60)));
  const std::int64_t end_rss = ResidentBytes(server().pid());

  const FleetStats stats = fleet.Stats();
  EXPECT_EQ(appender.failures(), 0u);
  EXPECT_EQ(stats.ended, 0) << "streams closed during the soak";
  EXPECT_EQ(stats.order_errors, 0u);
  // In order from seq 1 with no order error and ending at the session's
  // last seq: every event, once.
  const std::vector<std::int64_t> seen = fleet.LastSeqs();
  std::uint64_t expected_events = 0;
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(seen[i], last.at(sessions[i % kSessions])) << "stream " << i;
    expected_events += static_cast<std::uint64_t>(seen[i]);
  }
  EXPECT_EQ(stats.events, expected_events);
  EXPECT_GT(appender.appended(), kEventsPerSecond * SoakSeconds() / 2);

  const double growth =
      static_cast<double>(end_rss - warm_rss) / static_cast<double>(warm_rss);
  if (!kUnderSanitizer) {
    EXPECT_LE(std::abs(growth), 0.10)
        << "RSS after warm-up " << warm_rss / 1024 << " KiB, at the end "
        << end_rss / 1024 << " KiB";
  }
  std::printf(
      "soak: %d streams, %d s, %llu events appended, %llu delivered; "
      "append-to-delivery p50 %.0f us p99 %.0f us max %.0f us; RSS after "
      "warm-up %lld KiB, at the end %lld KiB (%+.1f%%)\n",
      kStreams, SoakSeconds(),
      static_cast<unsigned long long>(appender.appended()),
      static_cast<unsigned long long>(stats.events),
      fleet.latency().PercentileMicros(0.5),
      fleet.latency().PercentileMicros(0.99), fleet.latency().MaxMicros(),
      static_cast<long long>(warm_rss / 1024),
      static_cast<long long>(end_rss / 1024), growth * 100);
}

}  // namespace
}  // namespace chatstore::testing
