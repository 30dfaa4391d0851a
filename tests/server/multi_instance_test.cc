// Two chatstored processes sharing one store, for each store that can be
// shared (Redis, PostgreSQL, and a SQLite file on one machine): what one
// instance appends reaches the other's streams in order and exactly once, a
// client resumes on the other instance with Last-Event-ID, and appends
// through both instances to one session number their events without gaps.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conformance/backends.h"
#include "server/http_test_client.h"
#include "server/server_process.h"
#include "server/server_test_fixture.h"
#include "support/temp_dir.h"

namespace chatstore::testing {
namespace {

using namespace std::chrono_literals;
using conformance::BackendParam;

// Reads events from `stream` until the one with id `last_seq` (or the
// deadline); returns the ids in arrival order.
std::vector<std::int64_t> ReadUntil(SseStream& stream, std::int64_t last_seq,
                                    std::chrono::seconds deadline = 30s) {
  std::vector<std::int64_t> seqs;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    std::optional<SseEvent> e =
        stream.Next(std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now()));
    if (!e) break;
    const std::int64_t seq = std::stoll(e->id);
    seqs.push_back(seq);
    if (seq >= last_seq) break;
  }
  return seqs;
}

std::vector<std::int64_t> Range(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> out;
  for (std::int64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// Two instances (A and B) on one store, each with its own data directory
// (log, dev files) and port.
class MultiInstanceTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().create();
    a_ = Start(dir_a_);
    b_ = Start(dir_b_);
    ASSERT_TRUE(a_->ok() && b_->ok());
    client_a_ = std::make_unique<HttpClient>(a_->host(), a_->port());
    client_b_ = std::make_unique<HttpClient>(b_->host(), b_->port());
  }

  std::unique_ptr<ServerProcess> Start(TempDir& dir) {
    ServerOptions options;
    options.data_dir = dir.path();
    options.store_uri = backend_->uri();
    // Refuse to start rather than pass without following.
    options.args = {"--notify", "on", "--rate-limit", "0"};
    return std::make_unique<ServerProcess>(std::move(options));
  }

  std::string CreateSession(HttpClient& client) {
    HttpResult r = client.Post("/v1/sessions", token_, "{}");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.Json().at("id").as_string());
  }
  // POST .../events with `n` events; returns the last seq (-1 on failure).
  std::int64_t Append(HttpClient& client, const std::string& id, int n) {
    std::string body = "{\"events\":[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) body += ',';
      body += "{\"type\":\"app.tick\",\"data\":{}}";
    }
    body += "]}";
    HttpResult r = client.Post("/v1/sessions/" + id + "/events", token_, body);
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return -1;
    return r.Json().at("last_seq").to_number<std::int64_t>();
  }
  std::unique_ptr<SseStream> Stream(const ServerProcess& server,
                                    const std::string& id,
                                    const std::string& last_event_id = "") {
    SseStream::Options options;
    options.last_event_id = last_event_id;
    auto stream = std::make_unique<SseStream>(server.host(), server.port(),
                                              "/v1/sessions/" + id + "/stream",
                                              token_, options);
    EXPECT_EQ(stream->status(), 200);
    return stream;
  }
  // The stored log's seqs, read through `client`.
  std::vector<std::int64_t> StoredSeqs(HttpClient& client,
                                       const std::string& id) {
    std::vector<std::int64_t> seqs;
    std::int64_t after = 0;
    while (true) {
      HttpResult r = client.Get("/v1/sessions/" + id + "/events?limit=500&" +
                                    "after_seq=" + std::to_string(after),
                                token_);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      const boost::json::object page = r.Json().as_object();
      for (const boost::json::value& e : page.at("events").as_array()) {
        seqs.push_back(e.at("seq").to_number<std::int64_t>());
      }
      if (page.at("next_after_seq").is_null()) break;
      after = page.at("next_after_seq").to_number<std::int64_t>();
    }
    return seqs;
  }

  std::unique_ptr<conformance::BackendInstance> backend_;
  TempDir dir_a_;
  TempDir dir_b_;
  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
  std::unique_ptr<HttpClient> client_a_;
  std::unique_ptr<HttpClient> client_b_;
  const std::string token_ = TokenFor("multi-user");
};

TEST_P(MultiInstanceTest, SubscriberOnAReceivesAppendsThroughBInOrderOnce) {
  const std::string id = CreateSession(*client_a_);
  std::unique_ptr<SseStream> stream = Stream(*a_, id);
  // The stream has joined once it replayed session.created.
  ASSERT_EQ(ReadUntil(*stream, 1), Range(1, 1));

  // Appends of varied sizes through B only; none is written through A, so
  // everything the stream gets came by way of the notifier.
  std::int64_t last = 1;
  for (int round = 0; round < 20; ++round) {
    last = Append(*client_b_, id, 1 + round % 4);
    ASSERT_GT(last, 0);
  }
  EXPECT_EQ(ReadUntil(*stream, last), Range(2, last));
  // And nothing after it: no duplicate arrives late (the wait ends by its
  // deadline, not because the server closed the stream).
  EXPECT_FALSE(stream->Next(500ms).has_value());
  EXPECT_TRUE(stream->timed_out());
}

TEST_P(MultiInstanceTest, ClientResumesOnBWithLastEventIdAndMissesNothing) {
  const std::string id = CreateSession(*client_a_);
  const std::int64_t first = Append(*client_a_, id, 5);
  std::unique_ptr<SseStream> on_a = Stream(*a_, id);
  ASSERT_EQ(ReadUntil(*on_a, first), Range(1, first));
  on_a->Close();

  // While the client is away, both instances append.
  Append(*client_a_, id, 3);
  const std::int64_t missed = Append(*client_b_, id, 4);
  std::unique_ptr<SseStream> on_b = Stream(*b_, id, std::to_string(first));
  EXPECT_EQ(ReadUntil(*on_b, missed), Range(first + 1, missed));

  // Live again on B: appends through A reach it.
  const std::int64_t live = Append(*client_a_, id, 2);
  EXPECT_EQ(ReadUntil(*on_b, live), Range(missed + 1, live));
}

TEST_P(MultiInstanceTest, TempStateOnlyReachesTheWritingInstancesStreams) {
  const std::string id = CreateSession(*client_a_);
  std::unique_ptr<SseStream> on_a = Stream(*a_, id);
  std::unique_ptr<SseStream> on_b = Stream(*b_, id);
  ASSERT_EQ(ReadUntil(*on_a, 1), Range(1, 1));
  ASSERT_EQ(ReadUntil(*on_b, 1), Range(1, 1));

  HttpResult patched =
      client_a_->Patch("/v1/sessions/" + id, token_,
                       R"({"state":{"step":1,"temp:t":"x","user:lang":"fr"}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  // A made the change: its subscriber gets the live form, temp: included;
  // B's subscriber reads the log, which holds the stored form.
  std::optional<SseEvent> live = on_a->Next();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->id, "2");
  EXPECT_EQ(boost::json::parse(live->data),
            boost::json::parse(
                R"({"delta":{"step":1,"temp:t":"x","user:lang":"fr"}})"));
  std::optional<SseEvent> read = on_b->Next();
  ASSERT_TRUE(read);
  EXPECT_EQ(read->id, "2");
  EXPECT_EQ(read->event, "state.delta");
  EXPECT_EQ(boost::json::parse(read->data),
            boost::json::parse(R"({"delta":{"step":1,"user:lang":"fr"}})"));

  // The user: key is shared through the store: a session made through B
  // sees it.
  const std::string other = CreateSession(*client_b_);
  HttpResult got = client_b_->Get("/v1/sessions/" + other, token_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json().at("state"),
            boost::json::parse(R"({"user:lang":"fr"})"));
}

TEST_P(MultiInstanceTest, ConcurrentAppendsThroughBothInstancesAreGapless) {
  const std::string id = CreateSession(*client_a_);
  std::unique_ptr<SseStream> on_a = Stream(*a_, id);
  std::unique_ptr<SseStream> on_b = Stream(*b_, id);
  ASSERT_EQ(ReadUntil(*on_a, 1), Range(1, 1));
  ASSERT_EQ(ReadUntil(*on_b, 1), Range(1, 1));

  constexpr int kThreadsPerInstance = 2;
  constexpr int kAppendsPerThread = 25;
  std::mutex mu;
  std::vector<std::int64_t> acknowledged;  // the last seq of each append
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerInstance; ++t) {
    HttpClient& client = t % 2 == 0 ? *client_a_ : *client_b_;
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const std::int64_t seq = Append(client, id, 1 + (t + i) % 2);
        std::lock_guard lock(mu);
        acknowledged.push_back(seq);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  // Every event of every append, exactly once, numbered without gaps.
  std::int64_t expected_events = 1;  // session.created
  for (int t = 0; t < 2 * kThreadsPerInstance; ++t) {
    for (int i = 0; i < kAppendsPerThread; ++i)
      expected_events += 1 + (t + i) % 2;
  }
  std::set<std::int64_t> distinct(acknowledged.begin(), acknowledged.end());
  EXPECT_EQ(distinct.size(), acknowledged.size());
  EXPECT_EQ(*distinct.rbegin(), expected_events);
  EXPECT_EQ(StoredSeqs(*client_a_, id), Range(1, expected_events));
  EXPECT_EQ(StoredSeqs(*client_b_, id), Range(1, expected_events));
  // Each instance's stream carried the whole log in order, once.
  EXPECT_EQ(ReadUntil(*on_a, expected_events), Range(2, expected_events));
  EXPECT_EQ(ReadUntil(*on_b, expected_events), Range(2, expected_events));
}

TEST_P(MultiInstanceTest, DeletionThroughBEndsTheStreamOnA) {
  const std::string id = CreateSession(*client_a_);
  std::unique_ptr<SseStream> on_a = Stream(*a_, id);
  ASSERT_EQ(ReadUntil(*on_a, 1), Range(1, 1));
  EXPECT_EQ(client_b_->Delete("/v1/sessions/" + id, token_).status, 204);
  std::optional<SseEvent> e = on_a->Next(30s);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->event, "session.deleted");
  EXPECT_EQ(e->id, "2");
  EXPECT_EQ(boost::json::parse(e->data).at("id").as_string(), id);
  EXPECT_FALSE(on_a->Next(10s).has_value());
  EXPECT_TRUE(on_a->ended());
  EXPECT_FALSE(on_a->timed_out());
}

INSTANTIATE_TEST_SUITE_P(SharedStore, MultiInstanceTest,
                         ::testing::ValuesIn(conformance::SharedBackends()),
                         conformance::BackendName);

TEST(NotifyFlagTest, OnWithAPrivateStoreRefusesToStart) {
  TempDir dir;
  ServerOptions options;
  options.data_dir = dir.path();
  options.store_uri = "memory://";
  options.args = {"--notify", "on"};
  options.expect_listening = false;
  ServerProcess server(std::move(options));
  EXPECT_EQ(server.WaitExit(30s), 1);
}

}  // namespace
}  // namespace chatstore::testing
