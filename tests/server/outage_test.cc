// A backend outage under load, through the real chatstored: Redis (and
// separately PostgreSQL) is stopped while a client appends one event at a
// time and another follows the session's stream. While it is down, appends
// answer 503 problem+json quickly, /readyz answers 503 naming the store, and
// the stream stays open (keepalives). When it is back, with no restart of
// chatstored, appends succeed again, the stream carries on, and the stored
// log holds every acknowledged append exactly once, without gaps.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/http_test_client.h"
#include "server/server_process.h"
#include "server/server_test_fixture.h"
#include "support/postgres_server.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace chatstore::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One POST .../events as the appender saw it.
struct Attempt {
  int marker = 0;  // the event's data: {"marker": n}, unique per attempt
  HttpResult result;
  Clock::time_point sent;
  Clock::duration took{};
};

// Appends one event at a time, each with a fresh marker, until stopped.
class Appender {
 public:
  Appender(const ServerProcess& server, std::string session_id,
           std::string token)
      : client_(server.host(), server.port()),
        session_id_(std::move(session_id)),
        token_(std::move(token)),
        thread_([this] { Run(); }) {}
  ~Appender() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Attempt> attempts() {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  // Waits (up to `deadline`) until `done(attempts)` holds.
  bool WaitUntil(const std::function<bool(const std::vector<Attempt>&)>& done,
                 std::chrono::seconds deadline = 60s) {
    const auto until = Clock::now() + deadline;
    while (Clock::now() < until) {
      if (done(attempts())) return true;
      std::this_thread::sleep_for(20ms);  // polling another thread's progress
    }
    return done(attempts());
  }

 private:
  void Run() {
    for (int marker = 1; !stop_; ++marker) {
      Attempt a;
      a.marker = marker;
      a.sent = Clock::now();
      a.result = client_.Post("/v1/sessions/" + session_id_ + "/events", token_,
                              "{\"type\":\"app.tick\",\"data\":{\"marker\":" +
                                  std::to_string(marker) + "}}");
      a.took = Clock::now() - a.sent;
      {
        std::lock_guard lock(mu_);
        attempts_.push_back(std::move(a));
      }
      // Paces the load so that a 2-core machine keeps room for the servers.
      std::this_thread::sleep_for(5ms);
    }
  }

  HttpClient client_;
  const std::string session_id_;
  const std::string token_;
  std::mutex mu_;
  std::vector<Attempt> attempts_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int CountStatus(const std::vector<Attempt>& attempts, int status,
                Clock::time_point after = Clock::time_point::min()) {
  int n = 0;
  for (const Attempt& a : attempts) {
    if (a.result.status == status && a.sent >= after) ++n;
  }
  return n;
}

// Reads events from `stream` until one has id `last_seq` (or the deadline,
// which closes the stream); returns the ids in arrival order.
std::vector<std::int64_t> ReadUntil(SseStream& stream, std::int64_t last_seq,
                                    std::chrono::seconds deadline = 30s) {
  std::vector<std::int64_t> seqs;
  const auto until = Clock::now() + deadline;
  while (Clock::now() < until) {
    std::optional<SseEvent> e =
        stream.Next(std::chrono::duration_cast<std::chrono::milliseconds>(
            until - Clock::now()));
    if (!e) break;
    seqs.push_back(std::stoll(e->id));
    if (seqs.back() >= last_seq) break;
  }
  return seqs;
}

// The outage scenario for a backend server type with Stop()/Start().
template <typename Backend>
void RunOutage(Backend& backend, const std::string& uri,
               const std::string& kind) {
  TempDir dir;
  ServerOptions options;
  options.data_dir = dir.path();
  options.store_uri = uri;
  options.args = {"--keepalive-seconds", "1", "--rate-limit", "0"};
  ServerProcess server(std::move(options));
  ASSERT_TRUE(server.ok());
  HttpClient client(server.host(), server.port());
  const std::string token = TokenFor("outage-user");

  HttpResult created = client.Post("/v1/sessions", token, "{}");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(created.Json().at("id").as_string());
  // Two followers: `watched` is read only at the end, and must then hold
  // the whole log; `pinged` shows the keepalives that flow meanwhile (the
  // test client skips events while it waits for a comment).
  const std::string target = "/v1/sessions/" + id + "/stream";
  SseStream watched(server.host(), server.port(), target, token);
  SseStream pinged(server.host(), server.port(), target, token);
  ASSERT_EQ(watched.status(), 200);
  ASSERT_EQ(pinged.status(), 200);

  Appender appender(server, id, token);
  ASSERT_TRUE(appender.WaitUntil(
      [](const auto& a) { return CountStatus(a, 201) >= 20; }));

  // --- Down. ---
  const Clock::time_point stopped_at = Clock::now();
  backend.Stop();
  ASSERT_TRUE(appender.WaitUntil([&](const auto& a) {
    return CountStatus(a, 503, Clock::now() - 1s) >= 3;  // still failing
  }));
  {
    const std::vector<Attempt> attempts = appender.attempts();
    Clock::time_point first_503 = Clock::time_point::max();
    for (const Attempt& a : attempts) {
      if (a.result.status == 503 && first_503 == Clock::time_point::max()) {
        first_503 = a.sent + a.took;
      }
    }
    EXPECT_LT(first_503 - stopped_at, 15s) << "no quick 503 after the stop";
  }
  HttpResult ready = client.Get("/readyz", "");
  ExpectProblem(ready, 503);
  EXPECT_NE(ready.body.find("primary store (" + kind + ") is down"),
            std::string::npos)
      << ready.body;
  // Streams stay open through the outage: keepalives keep coming.
  EXPECT_TRUE(pinged.WaitForComment(10s));
  EXPECT_TRUE(pinged.WaitForComment(10s));
  EXPECT_FALSE(pinged.ended());

  // --- Back, with no restart of chatstored. ---
  const Clock::time_point restarted_at = Clock::now();
  backend.Start();
  EXPECT_TRUE(appender.WaitUntil([&](const auto& a) {
    return CountStatus(a, 201, restarted_at) >= 20;
  })) << "appends did not resume";
  appender.Stop();
  EXPECT_EQ(client.Get("/readyz", "").status, 200);

  // Every answer was 201 or a 503 problem, and each came quickly.
  const std::vector<Attempt> attempts = appender.attempts();
  std::map<int, std::int64_t> acknowledged;  // marker -> seq
  for (const Attempt& a : attempts) {
    EXPECT_LT(a.took, 10s) << "attempt " << a.marker << " hung";
    if (a.result.status == 201) {
      acknowledged[a.marker] =
          a.result.Json().at("last_seq").to_number<std::int64_t>();
    } else {
      ExpectProblem(a.result, 503);
    }
  }
  ASSERT_FALSE(acknowledged.empty());

  // The stored log: gapless, every acknowledged append once, at the seq it
  // was acknowledged with; an unacknowledged one at most once.
  std::map<int, int> stored;  // marker -> times present
  std::int64_t expected_seq = 1;
  std::int64_t after = 0;
  while (true) {
    HttpResult page =
        client.Get("/v1/sessions/" + id +
                       "/events?limit=500&after_seq=" + std::to_string(after),
                   token);
    ASSERT_EQ(page.status, 200) << page.body;
    const boost::json::object body = page.Json().as_object();
    for (const boost::json::value& e : body.at("events").as_array()) {
      const std::int64_t seq = e.at("seq").to_number<std::int64_t>();
      EXPECT_EQ(seq, expected_seq++);
      const boost::json::value& data = e.at("data");
      if (data.is_object() && data.as_object().contains("marker")) {
        const int marker = data.at("marker").to_number<int>();
        ++stored[marker];
        auto ack = acknowledged.find(marker);
        if (ack != acknowledged.end()) EXPECT_EQ(ack->second, seq);
      }
    }
    if (body.at("next_after_seq").is_null()) break;
    after = body.at("next_after_seq").to_number<std::int64_t>();
  }
  const std::int64_t last_seq = expected_seq - 1;
  for (const auto& [marker, seq] : acknowledged) {
    EXPECT_EQ(stored[marker], 1) << "acknowledged marker " << marker;
  }
  for (const auto& [marker, times] : stored) EXPECT_LE(times, 1);

  // The stream that lived through the outage carried the whole log, in
  // order, once; the other one is still open too.
  std::vector<std::int64_t> expected;
  for (std::int64_t s = 1; s <= last_seq; ++s) expected.push_back(s);
  EXPECT_EQ(ReadUntil(watched, last_seq), expected);
  EXPECT_TRUE(pinged.WaitForComment(10s));
}

TEST(OutageTest, RedisDownAndBack) {
  RedisServer redis(RedisServer::Options{.durable = true});
  RunOutage(redis, redis.uri(), "redis");
}

TEST(OutageTest, PostgresDownAndBack) {
  PostgresServer postgres;
  RunOutage(postgres, postgres.uri(), "postgres");
}

}  // namespace
}  // namespace chatstore::testing
