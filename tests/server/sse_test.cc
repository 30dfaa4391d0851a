// SSE streams over real sockets: replay, live, exact resume (also across a
// restart and during concurrent appends), slow subscribers, keepalives.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_fixture.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;

class SseTest : public ServerTest {
 protected:
  std::unique_ptr<SseStream> Open(const std::string& id,
                                  const std::string& token,
                                  SseStream::Options options = {},
                                  const std::string& query = "") {
    return std::make_unique<SseStream>(server().host(), server().port(),
                                       "/v1/sessions/" + id + "/stream" + query,
                                       token, options);
  }

  // Reads events until one with seq `last` (inclusive); returns their seqs.
  static std::vector<std::int64_t> ReadThrough(SseStream& stream,
                                               std::int64_t last) {
    std::vector<std::int64_t> seqs;
    while (seqs.empty() || seqs.back() < last) {
      std::optional<SseEvent> e = stream.Next();
      if (!e) break;
      seqs.push_back(std::stoll(e->id));
    }
    return seqs;
  }

  static std::vector<std::int64_t> Range(std::int64_t first,
                                         std::int64_t last) {
    std::vector<std::int64_t> out;
    for (std::int64_t s = first; s <= last; ++s) out.push_back(s);
    return out;
  }
};

TEST_F(SseTest, ReplaysTheLogThenDeliversLiveEvents) {
  const std::string token = TokenFor("viewer");
  const std::string id = CreateSessionId(token);
  AppendEvents(token, id, 4);  // seqs 2..5

  auto stream = Open(id, token);
  ASSERT_EQ(stream->status(), 200);
  EXPECT_EQ(stream->headers().at("content-type"), "text/event-stream");
  EXPECT_EQ(stream->headers().at("cache-control"), "no-cache");
  EXPECT_EQ(stream->headers().at("x-accel-buffering"), "no");

  std::optional<SseEvent> first = stream->Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(stream->retry_ms(), 3000);  // sent before any event
  EXPECT_EQ(first->id, "1");
  EXPECT_EQ(first->event, "session.created");
  EXPECT_EQ(json::parse(first->data).as_object()["id"], json::value(id));
  EXPECT_EQ(ReadThrough(*stream, 5), Range(2, 5));

  HttpResult added = client().Post("/v1/sessions/" + id + "/messages", token,
                                   R"({"role":"user","content":"live"})");
  ASSERT_EQ(added.status, 201);
  std::optional<SseEvent> live = stream->Next();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->id, "6");
  EXPECT_EQ(live->event, "message.created");
  EXPECT_EQ(json::parse(live->data).as_object()["content"], "live");
}

TEST_F(SseTest, ResumeWithLastEventIdGetsExactlyTheMissedEvents) {
  const std::string token = TokenFor("resumer");
  const std::string id = CreateSessionId(token);
  AppendEvents(token, id, 9);  // 1..10
  {
    auto stream = Open(id, token);
    EXPECT_EQ(ReadThrough(*stream, 4), Range(1, 4));
  }                            // disconnect after event 4
  AppendEvents(token, id, 5);  // 11..15

  SseStream::Options resume;
  resume.last_event_id = "4";
  auto stream = Open(id, token, resume);
  ASSERT_EQ(stream->status(), 200);
  EXPECT_EQ(ReadThrough(*stream, 15), Range(5, 15));
  AppendEvents(token, id, 1);
  EXPECT_EQ(ReadThrough(*stream, 16), Range(16, 16));

  // after_seq works the same for clients that cannot set headers, and the
  // token may come as access_token.
  auto by_query = std::make_unique<SseStream>(
      server().host(), server().port(),
      "/v1/sessions/" + id + "/stream?after_seq=14&access_token=" + token, "");
  ASSERT_EQ(by_query->status(), 200);
  EXPECT_EQ(ReadThrough(*by_query, 16), Range(15, 16));
}

TEST_F(SseTest, TempStateKeysReachLiveSubscribersButNoReplay) {
  const std::string token = TokenFor("tempuser");
  const std::string id = CreateSessionId(token);
  auto live = Open(id, token);
  ASSERT_EQ(ReadThrough(*live, 1), Range(1, 1));

  const std::string marker = "tempmarker-quasar-" + id;
  ASSERT_EQ(
      client()
          .Patch("/v1/sessions/" + id, token,
                 R"({"state":{"step":1,"temp:note":")" + marker + R"("}})")
          .status,
      200);
  // Connected during the change: the state.delta as sent, temp: included.
  std::optional<SseEvent> delta = live->Next();
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->id, "2");
  EXPECT_EQ(delta->event, "state.delta");
  EXPECT_EQ(
      json::parse(delta->data),
      json::parse(R"({"delta":{"step":1,"temp:note":")" + marker + R"("}})"));

  // A replay (Last-Event-ID) reads the stored form: the same seq without it.
  SseStream::Options resume;
  resume.last_event_id = "1";
  auto replay = Open(id, token, resume);
  ASSERT_EQ(replay->status(), 200);
  std::optional<SseEvent> stored = replay->Next();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->id, "2");
  EXPECT_EQ(stored->event, "state.delta");
  EXPECT_EQ(json::parse(stored->data), json::parse(R"({"delta":{"step":1}})"));
  // Nor does the paged log, nor any byte the server stored.
  const std::string events =
      client().Get("/v1/sessions/" + id + "/events", token).body;
  EXPECT_EQ(events.find(marker), std::string::npos) << events;
  EXPECT_EQ(AllBytesUnder(dir_.path()).find(marker), std::string::npos);
}

TEST_F(SseTest, ResumeWhileAppendsContinueHasNoGapAndNoDuplicate) {
  const std::string token = TokenFor("busy");
  const std::string id = CreateSessionId(token);
  constexpr int kBatches = 60;
  std::atomic<bool> writer_failed{false};
  std::thread writer([&] {
    HttpClient c(server().host(), server().port());
    for (int i = 0; i < kBatches; ++i) {
      HttpResult r = c.Post(
          "/v1/sessions/" + id + "/events", token,
          R"({"events":[{"type":"a.b","data":1},{"type":"a.b","data":2}]})");
      if (r.status != 201) writer_failed = true;
    }
  });
  const std::int64_t last = 1 + 2 * kBatches;

  std::vector<std::int64_t> seen;
  std::string last_id;
  // Reconnect every few events while the writer keeps appending.
  for (int round = 0; round < 500 && (seen.empty() || seen.back() < last);
       ++round) {
    SseStream::Options options;
    options.last_event_id = last_id;
    auto stream = Open(id, token, options);
    ASSERT_EQ(stream->status(), 200);
    for (int i = 0; i < 7; ++i) {
      std::optional<SseEvent> e = stream->Next();
      if (!e) break;
      seen.push_back(std::stoll(e->id));
      last_id = e->id;
      if (seen.back() == last) break;
    }
  }
  writer.join();
  ASSERT_FALSE(writer_failed);
  EXPECT_EQ(seen, Range(1, last));
}

TEST_F(SseTest, ResumeAcrossARestartOfThePersistentServer) {
  const std::string token = TokenFor("survivor");
  const std::string id = CreateSessionId(token);
  AppendEvents(token, id, 19);  // 1..20
  {
    auto stream = Open(id, token);
    EXPECT_EQ(ReadThrough(*stream, 8), Range(1, 8));
  }
  ASSERT_EQ(server().Stop(SIGTERM), 0);
  StartServer();               // same data directory, new port
  AppendEvents(token, id, 5);  // 21..25

  SseStream::Options resume;
  resume.last_event_id = "8";
  auto stream = Open(id, token, resume);
  ASSERT_EQ(stream->status(), 200);
  EXPECT_EQ(ReadThrough(*stream, 25), Range(9, 25));
}

TEST_F(SseTest, AnonymousSessionIsGoneAfterARestart) {
  HttpResult anon = client().Request("POST", "/v1/auth/anonymous");
  ASSERT_EQ(anon.status, 201);
  const std::string token(anon.Json().as_object()["token"].as_string());
  const std::string id = CreateSessionId(token);
  ASSERT_EQ(client().Get("/v1/sessions/" + id, token).status, 200);
  ASSERT_EQ(server().Stop(SIGTERM), 0);
  StartServer();
  ExpectProblem(client().Get("/v1/sessions/" + id, token), 404);
  auto stream = Open(id, token);
  EXPECT_EQ(stream->status(), 404);
}

TEST_F(SseTest, SessionDeletedEndsTheStream) {
  const std::string token = TokenFor("deleter");
  const std::string id = CreateSessionId(token);
  auto stream = Open(id, token);
  ASSERT_TRUE(stream->Next());  // session.created
  ASSERT_EQ(client().Delete("/v1/sessions/" + id, token).status, 204);
  std::optional<SseEvent> deleted = stream->Next();
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->event, "session.deleted");
  EXPECT_EQ(json::parse(deleted->data).as_object()["id"], json::value(id));
  EXPECT_FALSE(stream->Next());
  EXPECT_TRUE(stream->ended());
  EXPECT_FALSE(stream->timed_out());
}

TEST_F(SseTest, ErasingTheUserEndsTheirStreams) {
  const std::string token = TokenFor("forgotten");
  const std::string id = CreateSessionId(token);
  auto stream = Open(id, token);
  ASSERT_TRUE(stream->Next());
  ASSERT_EQ(client().Delete("/v1/me", token).status, 200);
  EXPECT_FALSE(stream->Next(std::chrono::seconds(10)));
  EXPECT_TRUE(stream->ended());
  EXPECT_FALSE(stream->timed_out());
}

TEST_F(SseTest, StaleLastEventIdGetsASnapshot) {
  const std::string token = TokenFor("time-traveller");
  const std::string id = CreateSessionId(token);
  client().Post("/v1/sessions/" + id + "/messages", token,
                R"({"role":"user","content":"hi"})");
  SseStream::Options options;
  options.last_event_id = "99";  // newer than the log: not this session's past
  auto stream = Open(id, token, options);
  std::optional<SseEvent> snapshot = stream->Next();
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->event, "snapshot");
  EXPECT_EQ(snapshot->id, "2");
  json::object data = json::parse(snapshot->data).as_object();
  EXPECT_EQ(data["session"].as_object()["id"], json::value(id));
  EXPECT_EQ(data["messages"].as_array().size(), 1u);
  AppendEvents(token, id, 1);
  std::optional<SseEvent> live = stream->Next();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->id, "3");
}

class KeepaliveTest : public SseTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--keepalive-seconds", "1"};
  }
};

TEST_F(KeepaliveTest, IdleStreamsGetKeepaliveComments) {
  const std::string token = TokenFor("idle");
  const std::string id = CreateSessionId(token);
  auto stream = Open(id, token);
  ASSERT_TRUE(stream->Next());
  EXPECT_TRUE(stream->WaitForComment(std::chrono::seconds(5)));
  EXPECT_TRUE(stream->WaitForComment(std::chrono::seconds(5)));
  // Still a live stream afterwards.
  AppendEvents(token, id, 1);
  std::optional<SseEvent> e = stream->Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "2");
}

class SlowSubscriberTest : public SseTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--max-body-bytes", "4194304", "--sse-queue-events", "256"};
  }
};

TEST_F(SlowSubscriberTest, SlowSubscriberIsCutOffThenCatchesUpWithoutLoss) {
  const std::string token = TokenFor("slowpoke");
  const std::string id = CreateSessionId(token);
  SseStream::Options small;
  small.receive_buffer_bytes = 4096;
  auto slow = Open(id, token, small);
  ASSERT_EQ(slow->status(), 200);

  // ~24 MB of events while the subscriber reads nothing: far more than the
  // socket buffers and the subscriber's queue hold.
  const std::string data = "\"" + std::string(2000, 'x') + "\"";
  std::int64_t last = 1;
  for (int batch = 0; batch < 24; ++batch) {
    last = AppendEvents(token, id, 500, data);
  }

  // Whatever was buffered arrives, then the stream ends (cut off).
  std::vector<std::int64_t> seen;
  while (std::optional<SseEvent> e = slow->Next(std::chrono::seconds(20))) {
    seen.push_back(std::stoll(e->id));
  }
  EXPECT_TRUE(slow->ended());
  EXPECT_FALSE(slow->timed_out());
  ASSERT_FALSE(seen.empty());
  ASSERT_LT(seen.back(), last) << "the slow subscriber was never cut off";
  EXPECT_EQ(seen, Range(1, seen.back()));

  // Resuming from the last event it saw loses nothing.
  SseStream::Options resume;
  resume.last_event_id = std::to_string(seen.back());
  auto again = Open(id, token, resume);
  std::vector<std::int64_t> rest = ReadThrough(*again, last);
  EXPECT_EQ(rest, Range(seen.back() + 1, last));

  HttpResult metrics = client().Get("/metrics", "");
  EXPECT_NE(metrics.body.find("chatstore_sse_subscribers_dropped_total 1"),
            std::string::npos);
}

}  // namespace
}  // namespace chatstore::testing
