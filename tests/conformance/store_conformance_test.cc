// The store conformance suite: every backend in AllBackends() must pass every
// test here. Tests drive a store through SessionService (with the store as
// both the primary and the ephemeral store) and call the Store directly where
// the service has no equivalent (sweeping, stats, message lookup). Time comes
// from a ManualClock given to both the store and the service, so TTLs and
// orderings are exact and no test ever sleeps.
//
// Where service.h leaves a behaviour open, the tests assert what a demanding
// API user would expect and say so in a comment.
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <source_location>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/encryption.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/status.h"
#include "chatstore/store.h"
#include "chatstore/types.h"
#include "conformance/backend_test.h"
#include "conformance/backends.h"
#include "gtest/gtest.h"
#include "store/encrypted/encryption_keys.h"

namespace chatstore::conformance {
namespace {

using namespace std::chrono_literals;

// 2027-01-15T08:00:00Z: far from the epoch, so "0" never looks plausible.
constexpr std::chrono::seconds kTtl{60};

std::string CodeOf(const Status& s) {
  return std::string(Status::CodeName(s.code()));
}
template <typename T>
std::string CodeOf(const Result<T>& r) {
  return CodeOf(r.status());
}

void MustOk(const Status& s,
            std::source_location loc = std::source_location::current()) {
  if (!s.ok()) {
    ADD_FAILURE_AT(loc.file_name(), static_cast<int>(loc.line()))
        << s.ToString();
    throw std::runtime_error(s.ToString());
  }
}

boost::json::value Json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) ADD_FAILURE() << "not JSON: " << text;
  return v;
}

// The member `key` of the JSON object `text`; null (and a failure) when
// absent.
boost::json::value Field(std::string_view text, std::string_view key) {
  const boost::json::value v = Json(text);
  if (const boost::json::object* o = v.if_object()) {
    if (const boost::json::value* f = o->if_contains(key)) return *f;
  }
  ADD_FAILURE() << "no \"" << key << "\" in " << text;
  return nullptr;
}

// Compares JSON by value (object key order does not matter).
#define EXPECT_JSON_EQ(actual, expected) \
  EXPECT_EQ(Json(actual), Json(expected)) << "actual: " << (actual)

bool NewerFirst(const Session& a, const Session& b) {
  return std::tie(a.updated_at, a.id) > std::tie(b.updated_at, b.id);
}

std::vector<std::string> Ids(const std::vector<Session>& sessions) {
  std::vector<std::string> out;
  for (const Session& s : sessions) out.push_back(s.id);
  return out;
}

std::vector<std::string> HitIds(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const SearchHit& h : hits) out.push_back(h.message_id);
  return out;
}

void ExpectSameSession(const Session& a, const Session& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.status, b.status);
  EXPECT_JSON_EQ(a.metadata, b.metadata);
  EXPECT_JSON_EQ(a.state, b.state);
  EXPECT_EQ(a.persistent, b.persistent);
  EXPECT_EQ(a.message_count, b.message_count);
  EXPECT_EQ(a.last_seq, b.last_seq);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
}

void ExpectSameMessage(const Message& a, const Message& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.session_id, b.session_id);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.role, b.role);
  EXPECT_EQ(a.content, b.content);
  EXPECT_EQ(a.status, b.status);
  EXPECT_JSON_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

class StoreConformanceTest : public BackendTest {
 protected:
  StoreConformanceTest() : BackendTest(kTtl) {}

  // True for an encrypted instance, after checking that it refuses to
  // search with the documented error: the caller then skips what it would
  // have checked of search results.
  bool SearchIsDisabled(const std::string& user) {
    if (!GetParam().encrypted) return false;
    Result<SearchPage> r = svc().Search(user, "anything", {}, 10);
    EXPECT_TRUE(IsSearchDisabled(r.status())) << r.status().ToString();
    return true;
  }

  SessionService& svc() { return *service_; }
  Store& store() { return *store_; }

  Session Create(const std::string& user, bool persistent = true,
                 std::string title = "a session") {
    CreateSessionRequest request;
    request.title = std::move(title);
    request.persistent = persistent;
    return Must(svc().CreateSession(user, request));
  }

  Message Say(const std::string& user, const std::string& session_id,
              std::string content, Role role = Role::kUser) {
    NewMessage m;
    m.role = role;
    m.content = std::move(content);
    return Must(svc().AddMessage(user, session_id, m));
  }

  Message OpenStreaming(const std::string& user, const std::string& session_id,
                        std::string content = "") {
    NewMessage m;
    m.role = Role::kAssistant;
    m.content = std::move(content);
    m.status = MessageStatus::kStreaming;
    return Must(svc().AddMessage(user, session_id, m));
  }

  Session Get(const std::string& user, const std::string& session_id) {
    return Must(svc().GetSession(user, session_id));
  }

  // The whole log, read page by page through the service.
  std::vector<Event> AllEvents(const std::string& user,
                               const std::string& session_id,
                               std::int64_t after_seq = 0) {
    std::vector<Event> out;
    for (int pages = 0; pages < 10000; ++pages) {
      EventPage page = Must(svc().ReadEvents(user, session_id, after_seq, 100));
      for (Event& e : page.events) out.push_back(std::move(e));
      if (!page.next_after_seq) return out;
      if (*page.next_after_seq <= after_seq) {
        ADD_FAILURE() << "next_after_seq does not advance";
        return out;
      }
      after_seq = *page.next_after_seq;
    }
    ADD_FAILURE() << "ReadEvents never caught up";
    return out;
  }

  std::vector<Message> AllMessages(const std::string& user,
                                   const std::string& session_id) {
    std::vector<Message> out;
    std::int64_t after_seq = 0;
    for (int pages = 0; pages < 10000; ++pages) {
      MessagePage page =
          Must(svc().ReadMessages(user, session_id, after_seq, 100));
      for (Message& m : page.messages) out.push_back(std::move(m));
      if (!page.next_after_seq) return out;
      if (*page.next_after_seq <= after_seq) {
        ADD_FAILURE() << "next_after_seq does not advance";
        return out;
      }
      after_seq = *page.next_after_seq;
    }
    ADD_FAILURE() << "ReadMessages never caught up";
    return out;
  }

  // Every session of the user, page by page.
  std::vector<Session> AllSessions(const std::string& user, int page_size,
                                   std::optional<SessionStatus> status = {}) {
    std::vector<Session> out;
    std::optional<SessionCursor> cursor;
    for (int pages = 0; pages < 10000; ++pages) {
      SessionPage page =
          Must(svc().ListSessions(user, status, cursor, page_size));
      EXPECT_LE(page.sessions.size(), static_cast<std::size_t>(page_size));
      for (Session& s : page.sessions) out.push_back(std::move(s));
      if (!page.next) return out;
      cursor = page.next;
    }
    ADD_FAILURE() << "ListSessions never ended";
    return out;
  }

  std::vector<SearchHit> AllHits(const std::string& user,
                                 const std::string& query, int page_size) {
    std::vector<SearchHit> out;
    std::optional<SearchCursor> cursor;
    for (int pages = 0; pages < 10000; ++pages) {
      SearchPage page = Must(svc().Search(user, query, cursor, page_size));
      EXPECT_LE(page.hits.size(), static_cast<std::size_t>(page_size));
      for (SearchHit& h : page.hits) out.push_back(std::move(h));
      if (!page.next) return out;
      cursor = page.next;
    }
    ADD_FAILURE() << "Search never ended";
    return out;
  }

  // Checks the log of a session: seqs exactly 1..last_seq, the first event
  // session.created, message_count equal to the messages stored, and each
  // message's seq naming its message.created event. Returns the log.
  std::vector<Event> ExpectConsistent(const std::string& user,
                                      const std::string& session_id) {
    const Session s = Get(user, session_id);
    const std::vector<Event> events = AllEvents(user, session_id);
    EXPECT_EQ(static_cast<std::int64_t>(events.size()), s.last_seq);
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].seq, static_cast<std::int64_t>(i) + 1);
      EXPECT_EQ(events[i].session_id, session_id);
    }
    if (!events.empty()) {
      EXPECT_EQ(events[0].type, "session.created");
    }
    const std::vector<Message> messages = AllMessages(user, session_id);
    EXPECT_EQ(static_cast<std::int64_t>(messages.size()), s.message_count);
    std::int64_t created = 0;
    for (const Event& e : events) created += e.type == "message.created";
    EXPECT_EQ(created, s.message_count);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (i > 0) {
        EXPECT_LT(messages[i - 1].seq, messages[i].seq);
      }
      const std::int64_t seq = messages[i].seq;
      if (seq < 1 || seq > static_cast<std::int64_t>(events.size())) {
        ADD_FAILURE() << "message seq " << seq << " outside the log";
        continue;
      }
      const Event& e = events[static_cast<std::size_t>(seq - 1)];
      EXPECT_EQ(e.type, "message.created");
      EXPECT_EQ(Field(e.data, "id"), boost::json::value(messages[i].id));
    }
    return events;
  }
};

// ---- Sessions -------------------------------------------------------------

TEST_P(StoreConformanceTest, CreateAndGetSession) {
  const std::string user = NewUser();
  CreateSessionRequest request;
  request.title = "Trip to Kyoto";
  request.metadata = R"({"app":"demo","n":1})";
  request.state = R"({"phase":"plan"})";
  const Session s = Must(svc().CreateSession(user, request));
  EXPECT_TRUE(IsValidId(s.id)) << s.id;
  EXPECT_FALSE(IsEphemeralSessionId(s.id));
  EXPECT_EQ(s.user_id, user);
  EXPECT_EQ(s.title, "Trip to Kyoto");
  EXPECT_EQ(s.status, SessionStatus::kActive);
  EXPECT_JSON_EQ(s.metadata, request.metadata);
  EXPECT_JSON_EQ(s.state, request.state);
  EXPECT_TRUE(s.persistent);
  EXPECT_EQ(s.message_count, 0);
  EXPECT_EQ(s.last_seq, 1);
  EXPECT_EQ(s.created_at, Start());
  EXPECT_EQ(s.updated_at, Start());
  EXPECT_FALSE(s.expires_at.has_value());

  Tick(5s);
  ExpectSameSession(Get(user, s.id), s);
  ExpectSameSession(Must(store().GetSession(s.id)), s);

  const std::vector<Event> events = AllEvents(user, s.id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].seq, 1);
  EXPECT_EQ(events[0].type, "session.created");
  EXPECT_EQ(events[0].created_at, Start());
  EXPECT_EQ(Field(events[0].data, "id"), boost::json::value(s.id));
  EXPECT_EQ(Field(events[0].data, "title"),
            boost::json::value("Trip to Kyoto"));

  EXPECT_FALSE(store().kind().empty());
  MustOk(store().Ping());
}

TEST_P(StoreConformanceTest, MissingSessionsAreNotFound) {
  const std::string user = NewUser();
  const std::string missing = NewSessionId(Now(), true);
  EXPECT_EQ(CodeOf(svc().GetSession(user, missing)), "NotFound");
  EXPECT_EQ(CodeOf(svc().GetSession(user, "not-an-id")), "NotFound");
  EXPECT_EQ(CodeOf(svc().ReadEvents(user, missing, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(svc().AddMessage(user, missing, NewMessage{})), "NotFound");
  EXPECT_EQ(CodeOf(svc().DeleteSession(user, missing)), "NotFound");
  EXPECT_EQ(CodeOf(store().GetSession(missing)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadEvents(missing, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadMessages(missing, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(store().GetMessage(missing, NewId(Now()))), "NotFound");
  EXPECT_EQ(CodeOf(store().DeleteSession(missing)), "NotFound");
}

// ---- Seq assignment under concurrency -------------------------------------

// What a call reported writing, to be found again in the log.
struct Written {
  std::int64_t seq;
  std::string type;
  std::string message_id;  // empty for app events
};

// One writer's share of the load: complete messages, batches of app events
// and streamed messages, all on `session_id`. Runs on its own thread, so it
// reports failures with ADD_FAILURE and stops instead of throwing.
void WriteMix(SessionService& svc, const std::string& user,
              const std::string& session_id, int thread, int first_round,
              int rounds, std::vector<Written>& out,
              std::atomic<std::int64_t>& events,
              std::atomic<std::int64_t>& messages) {
  for (int r = first_round; r < first_round + rounds; ++r) {
    const std::string tag = std::to_string(thread) + "-" + std::to_string(r);
    switch (r % 3) {
      case 0: {
        NewMessage m;
        m.content = "message " + tag;
        Result<Message> added = svc.AddMessage(user, session_id, m);
        if (!added.ok()) {
          ADD_FAILURE() << "AddMessage: " << added.status().ToString();
          return;
        }
        out.push_back({added->seq, "message.created", added->id});
        ++events;
        ++messages;
        break;
      }
      case 1: {
        const int n = 1 + (thread + r) % 3;
        std::vector<AppEvent> batch;
        for (int i = 0; i < n; ++i) {
          batch.push_back({"progress", R"({"tag":")" + tag + R"(","i":)" +
                                           std::to_string(i) + "}"});
        }
        Result<SeqRange> range = svc.AppendEvents(user, session_id, batch);
        if (!range.ok()) {
          ADD_FAILURE() << "AppendEvents: " << range.status().ToString();
          return;
        }
        EXPECT_EQ(range->last_seq - range->first_seq + 1, n);
        for (std::int64_t seq = range->first_seq; seq <= range->last_seq;
             ++seq) {
          out.push_back({seq, "progress", ""});
        }
        events += n;
        break;
      }
      case 2: {
        NewMessage m;
        m.role = Role::kAssistant;
        m.status = MessageStatus::kStreaming;
        Result<Message> opened = svc.AddMessage(user, session_id, m);
        if (!opened.ok()) {
          ADD_FAILURE() << "AddMessage: " << opened.status().ToString();
          return;
        }
        out.push_back({opened->seq, "message.created", opened->id});
        for (const std::string& delta : {std::string("streamed "), tag}) {
          Result<DeltaResult> d =
              svc.AppendDelta(user, session_id, opened->id, delta);
          if (!d.ok()) {
            ADD_FAILURE() << "AppendDelta: " << d.status().ToString();
            return;
          }
          out.push_back({d->seq, "message.delta", opened->id});
        }
        Result<Message> done =
            svc.CompleteMessage(user, session_id, opened->id, std::nullopt);
        if (!done.ok()) {
          ADD_FAILURE() << "CompleteMessage: " << done.status().ToString();
          return;
        }
        EXPECT_EQ(done->content, "streamed " + tag);
        events += 4;  // created, two deltas, completed
        ++messages;
        break;
      }
    }
  }
}

TEST_P(StoreConformanceTest, ConcurrentAppendsToOneSessionAreGapless) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 12;
  const std::string user = NewUser();
  const Session s = Create(user);
  std::vector<std::vector<Written>> written(kThreads);
  std::atomic<std::int64_t> events{1};  // session.created
  std::atomic<std::int64_t> messages{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      WriteMix(svc(), user, s.id, t, 0, kRounds, written[t], events, messages);
    });
  }
  for (std::thread& t : threads) t.join();

  const std::vector<Event> log = ExpectConsistent(user, s.id);
  const Session after = Get(user, s.id);
  EXPECT_EQ(after.last_seq, events.load());
  EXPECT_EQ(after.message_count, messages.load());
  ASSERT_EQ(static_cast<std::int64_t>(log.size()), events.load());

  // Every seq a call was given is its own, and the log holds what that call
  // wrote at that seq.
  std::set<std::int64_t> seen;
  for (const auto& per_thread : written) {
    for (const Written& w : per_thread) {
      EXPECT_TRUE(seen.insert(w.seq).second) << "seq " << w.seq << " twice";
      ASSERT_GE(w.seq, 1);
      ASSERT_LE(w.seq, static_cast<std::int64_t>(log.size()));
      const Event& e = log[static_cast<std::size_t>(w.seq - 1)];
      EXPECT_EQ(e.type, w.type) << "seq " << w.seq;
      if (w.type == "message.created") {
        EXPECT_EQ(Field(e.data, "id"), boost::json::value(w.message_id));
      } else if (w.type == "message.delta") {
        EXPECT_EQ(Field(e.data, "message_id"),
                  boost::json::value(w.message_id));
      }
    }
  }
  for (const Message& m : AllMessages(user, s.id)) {
    EXPECT_EQ(m.status, MessageStatus::kComplete) << m.id;
  }
}

TEST_P(StoreConformanceTest, ConcurrentAppendsToManySessionsAreGapless) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 10;
  const std::string user = NewUser();
  std::vector<Session> sessions;
  for (int i = 0; i < kThreads; ++i) sessions.push_back(Create(user));
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  std::vector<std::atomic<std::int64_t>> events(kThreads);
  std::vector<std::atomic<std::int64_t>> messages(kThreads);
  for (int i = 0; i < kThreads; ++i) events[i] = 1;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      // Each session is written by two threads, each thread writes two
      // sessions: appends contend per session and interleave across them.
      std::vector<Written> ignored;
      for (int r = 0; r < kRounds; ++r) {
        const int target = (t + r % 2) % kThreads;
        WriteMix(svc(), user, sessions[target].id, t, r, 1, ignored,
                 events[target], messages[target]);
        if (r % 2 == 0) {
          Result<SeqRange> range =
              svc().AppendEvents(user, sessions[target].id, {{"tick", "{}"}});
          if (!range.ok()) {
            ADD_FAILURE() << range.status().ToString();
            return;
          }
          ++events[target];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    SCOPED_TRACE("session " + std::to_string(i));
    ExpectConsistent(user, sessions[i].id);
    const Session s = Get(user, sessions[i].id);
    EXPECT_EQ(s.last_seq, events[i].load());
    EXPECT_EQ(s.message_count, messages[i].load());
  }
}

// service.h: listeners are told of every committed change in seq order per
// session. The service publishes from the store's completion callback, so
// this holds only if every backend runs callbacks of one session in commit
// order.
TEST_P(StoreConformanceTest, ListenersSeeEveryCommitInSeqOrder) {
  class Recorder final : public CommitListener {
   public:
    void OnCommit(const Session& session,
                  const std::vector<Event>& events) override {
      std::lock_guard lock(mu_);
      if (events.empty() || session.last_seq != events.back().seq) {
        ++inconsistent_;
      }
      for (const Event& e : events) seqs_[session.id].push_back(e.seq);
    }
    std::map<std::string, std::vector<std::int64_t>> seqs() {
      std::lock_guard lock(mu_);
      return seqs_;
    }
    int inconsistent() {
      std::lock_guard lock(mu_);
      return inconsistent_;
    }

   private:
    std::mutex mu_;
    std::map<std::string, std::vector<std::int64_t>> seqs_;
    int inconsistent_ = 0;
  } recorder;

  constexpr int kThreads = 8;
  svc().AddListener(&recorder);
  const std::string user = NewUser();
  const Session a = Create(user);
  const Session b = Create(user, /*persistent=*/false);
  std::atomic<std::int64_t> events{0};
  std::atomic<std::int64_t> messages{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Written> ignored;
      start.arrive_and_wait();
      WriteMix(svc(), user, t % 2 ? a.id : b.id, t, 0, 6, ignored, events,
               messages);
    });
  }
  for (std::thread& t : threads) t.join();
  svc().RemoveListener(&recorder);

  EXPECT_EQ(recorder.inconsistent(), 0);
  const auto seqs = recorder.seqs();
  for (const Session* s : {&a, &b}) {
    const std::int64_t last = Get(user, s->id).last_seq;
    std::vector<std::int64_t> expected(static_cast<std::size_t>(last));
    for (std::int64_t i = 0; i < last; ++i) expected[i] = i + 1;
    ASSERT_TRUE(seqs.contains(s->id));
    EXPECT_EQ(seqs.at(s->id), expected) << s->id;
  }
}

// ---- Messages and streaming -----------------------------------------------

TEST_P(StoreConformanceTest, MessagesRoundTrip) {
  const std::string user = NewUser();
  const Session s = Create(user);
  Tick();
  NewMessage m;
  m.role = Role::kSystem;
  m.content =
      "Line one\nline \"two\" \\ \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
  m.metadata = R"({"source":"test","n":[1,2]})";
  const Message added = Must(svc().AddMessage(user, s.id, m));
  EXPECT_TRUE(IsValidId(added.id));
  EXPECT_EQ(added.session_id, s.id);
  EXPECT_EQ(added.seq, 2);
  EXPECT_EQ(added.role, Role::kSystem);
  EXPECT_EQ(added.content, m.content);
  EXPECT_EQ(added.status, MessageStatus::kComplete);
  EXPECT_JSON_EQ(added.metadata, m.metadata);
  EXPECT_EQ(added.created_at, Now());
  EXPECT_EQ(added.updated_at, Now());
  Tick();
  const Message assistant = Say(user, s.id, "ok", Role::kAssistant);
  const Message tool = Say(user, s.id, "{}", Role::kTool);

  Tick();
  ExpectSameMessage(Must(store().GetMessage(s.id, added.id)), added);
  const std::vector<Message> all = AllMessages(user, s.id);
  ASSERT_EQ(all.size(), 3u);
  ExpectSameMessage(all[0], added);
  ExpectSameMessage(all[1], assistant);
  ExpectSameMessage(all[2], tool);
  EXPECT_EQ(CodeOf(store().GetMessage(s.id, NewId(Now()))), "NotFound");

  const Session after = Get(user, s.id);
  EXPECT_EQ(after.message_count, 3);
  EXPECT_EQ(after.last_seq, 4);
  EXPECT_EQ(after.updated_at, tool.created_at);
  const std::vector<Event> events = ExpectConsistent(user, s.id);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(Field(events[1].data, "content"), boost::json::value(m.content));
  EXPECT_EQ(Field(events[1].data, "role"), boost::json::value("system"));
  EXPECT_EQ(Field(events[1].data, "seq"), boost::json::value(2));
}

TEST_P(StoreConformanceTest, StreamingMessageLifecycle) {
  const std::string user = NewUser();
  const Session s = Create(user);
  Tick();
  const Message opened = OpenStreaming(user, s.id);
  EXPECT_EQ(opened.status, MessageStatus::kStreaming);
  EXPECT_EQ(opened.content, "");
  EXPECT_FALSE(opened.tokens.has_value());

  // Offsets are byte offsets: the content's length before the delta.
  const std::vector<std::string> deltas = {"Hel", "lo", " w\xc3\xb6rld", "!"};
  std::string content;
  std::vector<std::int64_t> delta_seqs;
  for (const std::string& d : deltas) {
    Tick();
    const DeltaResult r = Must(svc().AppendDelta(user, s.id, opened.id, d));
    EXPECT_EQ(r.offset, static_cast<std::int64_t>(content.size())) << d;
    content += d;
    delta_seqs.push_back(r.seq);
    const Message now = Must(store().GetMessage(s.id, opened.id));
    EXPECT_EQ(now.content, content);
    EXPECT_EQ(now.status, MessageStatus::kStreaming);
  }
  Tick();
  const Message done =
      Must(svc().CompleteMessage(user, s.id, opened.id, std::nullopt));
  EXPECT_EQ(done.status, MessageStatus::kComplete);
  EXPECT_EQ(done.content, "Hello w\xc3\xb6rld!");
  EXPECT_EQ(done.seq, opened.seq);
  EXPECT_EQ(done.created_at, opened.created_at);
  EXPECT_EQ(done.updated_at, Now());
  ExpectSameMessage(Must(store().GetMessage(s.id, opened.id)), done);

  const std::vector<Event> events = ExpectConsistent(user, s.id);
  ASSERT_EQ(events.size(), 1u + 1u + deltas.size() + 1u);
  EXPECT_EQ(events[1].type, "message.created");
  EXPECT_EQ(Field(events[1].data, "status"), boost::json::value("streaming"));
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < deltas.size(); ++i) {
    const Event& e = events[2 + i];
    EXPECT_EQ(e.type, "message.delta");
    EXPECT_EQ(e.seq, delta_seqs[i]);
    EXPECT_EQ(Field(e.data, "message_id"), boost::json::value(opened.id));
    EXPECT_EQ(Field(e.data, "delta"), boost::json::value(deltas[i]));
    EXPECT_EQ(Field(e.data, "offset"), boost::json::value(offset));
    offset += static_cast<std::int64_t>(deltas[i].size());
  }
  const Event& completed = events.back();
  EXPECT_EQ(completed.type, "message.completed");
  EXPECT_EQ(Field(completed.data, "content"),
            boost::json::value("Hello w\xc3\xb6rld!"));
  EXPECT_EQ(Field(completed.data, "status"), boost::json::value("complete"));

  // A closed message takes no more writes, and a refused write leaves the
  // session exactly as it was.
  const Session before = Get(user, s.id);
  Tick();
  EXPECT_EQ(CodeOf(svc().AppendDelta(user, s.id, opened.id, "more")),
            "Conflict");
  EXPECT_EQ(CodeOf(svc().CompleteMessage(user, s.id, opened.id, "again")),
            "Conflict");
  EXPECT_EQ(CodeOf(svc().CompleteMessage(user, s.id, opened.id, std::nullopt)),
            "Conflict");
  ExpectSameSession(Get(user, s.id), before);
  EXPECT_EQ(AllEvents(user, s.id).size(), events.size());
  EXPECT_EQ(Must(store().GetMessage(s.id, opened.id)).content,
            "Hello w\xc3\xb6rld!");
}

TEST_P(StoreConformanceTest, CompleteWithContentReplacesStreamedText) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message opened = OpenStreaming(user, s.id, "Dra");
  // A message opened with content: the first delta starts after it.
  EXPECT_EQ(Must(svc().AppendDelta(user, s.id, opened.id, "ft")).offset, 3);
  const Message done =
      Must(svc().CompleteMessage(user, s.id, opened.id, "Final answer"));
  EXPECT_EQ(done.content, "Final answer");
  EXPECT_EQ(Must(store().GetMessage(s.id, opened.id)).content, "Final answer");
  EXPECT_EQ(AllMessages(user, s.id).at(0).content, "Final answer");
}

TEST_P(StoreConformanceTest, DeltaToUnknownMessageIsNotFound) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Session other = Create(user);
  const Message elsewhere = OpenStreaming(user, other.id);
  const Session before = Get(user, s.id);
  EXPECT_EQ(CodeOf(svc().AppendDelta(user, s.id, NewId(Now()), "x")),
            "NotFound");
  // A message of another session is not reachable through this one.
  EXPECT_EQ(CodeOf(svc().AppendDelta(user, s.id, elsewhere.id, "x")),
            "NotFound");
  EXPECT_EQ(CodeOf(svc().CompleteMessage(user, s.id, elsewhere.id, "x")),
            "NotFound");
  ExpectSameSession(Get(user, s.id), before);
  EXPECT_EQ(Must(store().GetMessage(other.id, elsewhere.id)).status,
            MessageStatus::kStreaming);
}

// types.h: Message::tokens is "set when complete"; API.md: a complete message
// carries its cl100k_base token count, null while streaming.
TEST_P(StoreConformanceTest, CompleteMessagesCarryTokenCounts) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message said = Say(user, s.id, "Hello world");
  EXPECT_TRUE(said.tokens.has_value());
  EXPECT_TRUE(Must(store().GetMessage(s.id, said.id)).tokens.has_value());
  const Message opened = OpenStreaming(user, s.id);
  EXPECT_FALSE(opened.tokens.has_value());
  Must(svc().AppendDelta(user, s.id, opened.id, "Hello there"));
  EXPECT_FALSE(Must(store().GetMessage(s.id, opened.id)).tokens.has_value());
  const Message done =
      Must(svc().CompleteMessage(user, s.id, opened.id, std::nullopt));
  EXPECT_TRUE(done.tokens.has_value());
  EXPECT_TRUE(Must(store().GetMessage(s.id, opened.id)).tokens.has_value());
}

// ---- App events -----------------------------------------------------------

TEST_P(StoreConformanceTest, AppEventTypesAreValidated) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const std::vector<std::string> valid = {
      "progress", "a", "tool.call", "x1_y-z.w", "a" + std::string(63, 'b')};
  for (const std::string& type : valid) {
    const Session before = Get(user, s.id);
    const SeqRange r =
        Must(svc().AppendEvents(user, s.id, {{type, R"({"ok":true})"}}));
    EXPECT_EQ(r.first_seq, before.last_seq + 1) << type;
    EXPECT_EQ(r.last_seq, before.last_seq + 1) << type;
    const std::vector<Event> tail = AllEvents(user, s.id, before.last_seq);
    ASSERT_EQ(tail.size(), 1u);
    EXPECT_EQ(tail[0].type, type);
    EXPECT_JSON_EQ(tail[0].data, R"({"ok":true})");
  }
  // API.md: a bad event type is 422 (Unprocessable).
  const std::vector<std::string> invalid = {"Bad",
                                            "1x",
                                            "",
                                            "a b",
                                            "-x",
                                            "a" + std::string(64, 'b'),
                                            "progress\n",
                                            "caf\xc3\xa9",
                                            "message.created",
                                            "message.delta",
                                            "message.completed",
                                            "session.created",
                                            "session.updated",
                                            "session.deleted",
                                            "state.delta"};
  const Session before = Get(user, s.id);
  Tick();
  for (const std::string& type : invalid) {
    EXPECT_EQ(CodeOf(svc().AppendEvents(user, s.id, {{type, "{}"}})),
              "Unprocessable")
        << "type '" << type << "'";
  }
  ExpectSameSession(Get(user, s.id), before);
}

TEST_P(StoreConformanceTest, EventBatchGetsConsecutiveSeqs) {
  const std::string user = NewUser();
  const Session s = Create(user);
  Say(user, s.id, "hi");
  Tick();
  std::vector<AppEvent> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back({"step", R"({ "i" : )" + std::to_string(i) + " }"});
  }
  const SeqRange r = Must(svc().AppendEvents(user, s.id, batch));
  EXPECT_EQ(r.first_seq, 3);
  EXPECT_EQ(r.last_seq, 7);
  const Session after = Get(user, s.id);
  EXPECT_EQ(after.last_seq, 7);
  EXPECT_EQ(after.updated_at, Now());
  const std::vector<Event> tail = AllEvents(user, s.id, 2);
  ASSERT_EQ(tail.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(tail[i].seq, 3 + i);
    EXPECT_EQ(tail[i].type, "step");
    EXPECT_EQ(tail[i].created_at, Now());
    EXPECT_JSON_EQ(tail[i].data, R"({"i":)" + std::to_string(i) + "}");
    // Event data is one line (it becomes one SSE data: line).
    EXPECT_EQ(tail[i].data.find('\n'), std::string::npos);
  }
}

TEST_P(StoreConformanceTest, EventBatchOverTheLimitWritesNothing) {
  Limits limits;
  limits.max_events_per_batch = 20;
  const std::unique_ptr<SessionService> svc20 = MakeService(limits);
  const std::string user = NewUser();
  const Session s = Create(user);
  const std::vector<AppEvent> twenty(20, AppEvent{"tick", "{}"});
  const SeqRange r = Must(svc20->AppendEvents(user, s.id, twenty));
  EXPECT_EQ(r.last_seq - r.first_seq + 1, 20);

  const Session before = Get(user, s.id);
  Tick();
  const std::vector<AppEvent> too_many(21, AppEvent{"tick", "{}"});
  EXPECT_EQ(CodeOf(svc20->AppendEvents(user, s.id, too_many)), "Unprocessable");
  // An empty batch is refused too (a demanding client expects an error, not
  // a no-op that still reports a seq range).
  EXPECT_FALSE(svc20->AppendEvents(user, s.id, {}).ok());
  ExpectSameSession(Get(user, s.id), before);
  EXPECT_EQ(AllEvents(user, s.id).size(), 21u);
}

TEST_P(StoreConformanceTest, FailedBatchLeavesNothingBehind) {
  const std::string user = NewUser();
  const Session s = Create(user);
  Say(user, s.id, "hello");
  Must(svc().AppendEvents(user, s.id, {{"progress", "{}"}}));
  const Session before = Get(user, s.id);
  const std::vector<Event> log = AllEvents(user, s.id);
  Tick(1s);

  EXPECT_EQ(CodeOf(svc().AppendEvents(
                user, s.id, {{"ok", "{}"}, {"Bad", "{}"}, {"ok2", "{}"}})),
            "Unprocessable");
  // Malformed JSON is InvalidArgument (service.h), in any position.
  EXPECT_EQ(CodeOf(svc().AppendEvents(user, s.id,
                                      {{"ok", "{}"}, {"ok", "{not json"}})),
            "InvalidArgument");
  EXPECT_EQ(CodeOf(svc().AppendEvents(user, s.id, {{"ok", "[1,"}})),
            "InvalidArgument");

  ExpectSameSession(Get(user, s.id), before);
  const std::vector<Event> after = AllEvents(user, s.id);
  ASSERT_EQ(after.size(), log.size());
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(after[i].type, log[i].type);
    EXPECT_EQ(after[i].data, log[i].data);
  }
}

// ---- Listing --------------------------------------------------------------

TEST_P(StoreConformanceTest, ListSessionsPagesByKeyset) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  std::vector<Session> sessions;
  for (int i = 0; i < 25; ++i) {
    sessions.push_back(Create(user, /*persistent=*/i % 4 != 0));
    // Every third pair shares a timestamp, so ties fall back to the id.
    if (i % 3 != 0) Tick();
  }
  Create(other);
  // Writes move sessions to the front.
  Tick();
  Say(user, sessions[3].id, "bump");
  Tick();
  Must(svc().AppendEvents(user, sessions[10].id, {{"bump", "{}"}}));
  SessionPatch patch;
  patch.title = "renamed";
  Must(svc().UpdateSession(user, sessions[17].id, patch));

  std::vector<Session> expected;
  for (const Session& s : sessions) expected.push_back(Get(user, s.id));
  std::sort(expected.begin(), expected.end(), NewerFirst);
  EXPECT_EQ(expected[0].id, sessions[17].id);
  EXPECT_EQ(expected[1].id, sessions[10].id);
  EXPECT_EQ(expected[2].id, sessions[3].id);

  std::vector<std::size_t> sizes;
  std::vector<Session> listed;
  std::optional<SessionCursor> cursor;
  for (int pages = 0; pages < 10; ++pages) {
    const SessionPage page = Must(svc().ListSessions(user, {}, cursor, 7));
    sizes.push_back(page.sessions.size());
    listed.insert(listed.end(), page.sessions.begin(), page.sessions.end());
    if (!page.next) break;
    cursor = page.next;
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{7, 7, 7, 4}));
  EXPECT_EQ(Ids(listed), Ids(expected));
  for (std::size_t i = 0; i < listed.size() && i < expected.size(); ++i) {
    ExpectSameSession(listed[i], expected[i]);
  }

  // limit 0 is the default page size (100 here): everything at once.
  const SessionPage all = Must(svc().ListSessions(user, {}, {}, 0));
  EXPECT_EQ(Ids(all.sessions), Ids(expected));
  EXPECT_FALSE(all.next.has_value());
}

// types.h: SessionPage::next is nullopt when there are no more pages, so a
// last page that happens to be full must not promise another.
TEST_P(StoreConformanceTest, ListSessionsFullLastPageHasNoNext) {
  const std::string user = NewUser();
  for (int i = 0; i < 14; ++i) {
    Create(user);
    Tick();
  }
  const SessionPage first = Must(svc().ListSessions(user, {}, {}, 7));
  ASSERT_TRUE(first.next.has_value());
  const SessionPage second = Must(svc().ListSessions(user, {}, first.next, 7));
  EXPECT_EQ(second.sessions.size(), 7u);
  EXPECT_FALSE(second.next.has_value());
}

TEST_P(StoreConformanceTest, ListSessionsFiltersByStatus) {
  const std::string user = NewUser();
  std::vector<Session> sessions;
  for (int i = 0; i < 7; ++i) {
    sessions.push_back(Create(user));
    Tick();
  }
  const auto set_status = [&](int i, SessionStatus status) {
    SessionPatch patch;
    patch.status = status;
    Must(svc().UpdateSession(user, sessions[i].id, patch));
    Tick();
  };
  set_status(1, SessionStatus::kArchived);
  set_status(4, SessionStatus::kArchived);
  set_status(5, SessionStatus::kCompleted);
  set_status(6, SessionStatus::kArchived);
  set_status(6, SessionStatus::kActive);  // and back

  const std::vector<Session> archived =
      AllSessions(user, 1, SessionStatus::kArchived);
  EXPECT_EQ(Ids(archived),
            (std::vector<std::string>{sessions[4].id, sessions[1].id}));
  for (const Session& s : archived) {
    EXPECT_EQ(s.status, SessionStatus::kArchived);
  }
  EXPECT_EQ(Ids(AllSessions(user, 2, SessionStatus::kCompleted)),
            (std::vector<std::string>{sessions[5].id}));
  EXPECT_EQ(Ids(AllSessions(user, 2, SessionStatus::kActive)),
            (std::vector<std::string>{sessions[6].id, sessions[3].id,
                                      sessions[2].id, sessions[0].id}));
  EXPECT_TRUE(AllSessions(user, 5, SessionStatus::kRunning).empty());
  EXPECT_EQ(AllSessions(user, 3).size(), 7u);
}

TEST_P(StoreConformanceTest, ListSessionsStableUnderConcurrentInserts) {
  const std::string user = NewUser();
  std::vector<Session> existing;
  for (int i = 0; i < 30; ++i) {
    existing.push_back(Create(user));
    if (i % 2 == 0) Tick();
  }
  std::sort(existing.begin(), existing.end(), NewerFirst);
  // Sessions created from now on are newer than every existing one.
  Tick(1s);

  std::mutex mu;
  std::condition_variable cv;
  int pages = 0;
  int created = 0;
  bool stop = false;
  // The writer runs beside the pager but stays at most two sessions ahead
  // of it, so inserts land between (and during) every page fetch.
  std::thread writer([&] {
    for (;;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || created < 2 * pages + 2; });
        if (stop) return;
      }
      CreateSessionRequest request;
      request.title = "concurrent";
      Result<Session> s = svc().CreateSession(user, request);
      if (!s.ok()) ADD_FAILURE() << s.status().ToString();
      {
        std::lock_guard lock(mu);
        ++created;
      }
      cv.notify_all();
    }
  });

  std::vector<Session> listed;
  std::optional<SessionCursor> cursor;
  for (int i = 0; i < 100; ++i) {
    Result<SessionPage> page = svc().ListSessions(user, {}, cursor, 4);
    if (!page.ok()) {
      ADD_FAILURE() << page.status().ToString();
      break;
    }
    listed.insert(listed.end(), page->sessions.begin(), page->sessions.end());
    {
      std::lock_guard lock(mu);
      ++pages;
    }
    cv.notify_all();
    if (!page->next) break;
    cursor = page->next;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return created >= 2 * pages; });
  }
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  writer.join();
  EXPECT_GT(created, 0);

  std::set<std::string> ids;
  for (const Session& s : listed) {
    EXPECT_TRUE(ids.insert(s.id).second) << "listed twice: " << s.id;
  }
  for (std::size_t i = 1; i < listed.size(); ++i) {
    EXPECT_TRUE(NewerFirst(listed[i - 1], listed[i]))
        << "out of order at " << i;
  }
  // Every session that existed before paging began is listed, in order.
  std::vector<std::string> old_listed;
  std::set<std::string> old_ids;
  for (const Session& s : existing) old_ids.insert(s.id);
  for (const Session& s : listed) {
    if (old_ids.contains(s.id)) old_listed.push_back(s.id);
  }
  EXPECT_EQ(old_listed, Ids(existing));
}

// ---- Patching -------------------------------------------------------------

TEST_P(StoreConformanceTest, MergePatchOnMetadataAndState) {
  const std::string user = NewUser();
  CreateSessionRequest request;
  request.title = "plan";
  request.metadata =
      R"({"a":{"b":1,"c":2},"arr":[1,2],"k":"v","keep":true,"gone":{"x":1}})";
  request.state = R"({"phase":"plan","nested":{"x":1,"y":2},"list":[1]})";
  const Session s = Must(svc().CreateSession(user, request));
  Tick(1s);

  SessionPatch patch;
  patch.metadata =
      R"({"a":{"b":null,"d":{"e":3}},"arr":[3],"k":null,"new":{"z":1},"gone":null})";
  patch.state = R"({"nested":{"x":null,"w":[1]},"phase":"run","list":{"o":1}})";
  const Session updated = Must(svc().UpdateSession(user, s.id, patch));
  // RFC 7396: objects merge recursively, null deletes, anything else
  // (arrays included) replaces.
  EXPECT_JSON_EQ(
      updated.metadata,
      R"({"a":{"c":2,"d":{"e":3}},"arr":[3],"keep":true,"new":{"z":1}})");
  EXPECT_JSON_EQ(updated.state,
                 R"({"phase":"run","nested":{"y":2,"w":[1]},"list":{"o":1}})");
  EXPECT_EQ(updated.title, "plan");
  EXPECT_EQ(updated.updated_at, Now());
  EXPECT_EQ(updated.created_at, Start());
  EXPECT_EQ(updated.last_seq, s.last_seq + 2);
  ExpectSameSession(Get(user, s.id), updated);

  const std::vector<Event> tail = AllEvents(user, s.id, s.last_seq);
  ASSERT_EQ(tail.size(), 2u);
  std::map<std::string, Event> by_type;
  for (const Event& e : tail) by_type[e.type] = e;
  ASSERT_TRUE(by_type.contains("state.delta"));
  ASSERT_TRUE(by_type.contains("session.updated"));
  // API.md: state.delta carries {"delta": <the merge patch>}.
  EXPECT_EQ(Json(by_type["state.delta"].data),
            Json(R"({"delta":)" + *patch.state + "}"));
  const std::string& session_json = by_type["session.updated"].data;
  EXPECT_EQ(Field(session_json, "id"), boost::json::value(s.id));
  EXPECT_EQ(Field(session_json, "metadata"), Json(updated.metadata));
  EXPECT_EQ(Field(session_json, "state"), Json(updated.state));

  // Removing every key of a nested object leaves it empty, not absent.
  patch = {};
  patch.metadata = R"({"a":{"c":null,"d":null}})";
  EXPECT_JSON_EQ(Must(svc().UpdateSession(user, s.id, patch)).metadata,
                 R"({"a":{},"arr":[3],"keep":true,"new":{"z":1}})");
}

TEST_P(StoreConformanceTest, PatchTitleAndStatus) {
  const std::string user = NewUser();
  const Session s = Create(user, true, "old title");
  Tick();
  SessionPatch patch;
  patch.title = "new title";
  patch.status = SessionStatus::kRunning;
  const Session updated = Must(svc().UpdateSession(user, s.id, patch));
  EXPECT_EQ(updated.title, "new title");
  EXPECT_EQ(updated.status, SessionStatus::kRunning);
  EXPECT_JSON_EQ(updated.metadata, "{}");
  EXPECT_JSON_EQ(updated.state, "{}");
  EXPECT_EQ(updated.last_seq, s.last_seq + 1);
  ExpectSameSession(Get(user, s.id), updated);
  // Without a state patch there is no state.delta, only session.updated.
  const std::vector<Event> tail = AllEvents(user, s.id, s.last_seq);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].type, "session.updated");
  EXPECT_EQ(Field(tail[0].data, "title"), boost::json::value("new title"));
  EXPECT_EQ(Field(tail[0].data, "status"), boost::json::value("running"));
}

TEST_P(StoreConformanceTest, InvalidPatchChangesNothing) {
  const std::string user = NewUser();
  CreateSessionRequest request;
  request.metadata = R"({"a":1})";
  request.state = R"({"s":1})";
  const Session s = Must(svc().CreateSession(user, request));
  Tick(1s);
  // A merge patch for an object field must itself be an object (a scalar or
  // array patch would replace the object with a non-object).
  for (const char* bad : {"[1]", "3", "\"x\"", "null", "true"}) {
    for (bool on_state : {false, true}) {
      SessionPatch patch;
      patch.title = "must not stick";
      (on_state ? patch.state : patch.metadata) = bad;
      const std::string code = CodeOf(svc().UpdateSession(user, s.id, patch));
      EXPECT_TRUE(code == "Unprocessable" || code == "InvalidArgument")
          << bad << " -> " << code;
    }
  }
  SessionPatch malformed;
  malformed.metadata = R"({"a":)";
  EXPECT_EQ(CodeOf(svc().UpdateSession(user, s.id, malformed)),
            "InvalidArgument");
  ExpectSameSession(Get(user, s.id), s);
  EXPECT_EQ(AllEvents(user, s.id).size(), 1u);
}

// ---- Reads are reads --------------------------------------------------------

TEST_P(StoreConformanceTest, ReadsNeverChangeTheSession) {
  const std::string user = NewUser();
  const Session persistent = Create(user, true, "alpha words");
  const Session ephemeral = Create(user, false, "beta words");
  for (const Session* s : {&persistent, &ephemeral}) {
    Tick();
    Say(user, s->id, "searchable words here");
  }
  Tick();
  const Session p0 = Get(user, persistent.id);
  const Session e0 = Get(user, ephemeral.id);
  const std::string message_id = AllMessages(user, p0.id).at(0).id;
  const std::vector<std::string> order = Ids(AllSessions(user, 10));

  // Advance between every read, so a read that wrote updated_at (or slid an
  // ephemeral session's expiry) would show.
  for (const Session* s : {&p0, &e0}) {
    Tick(1s);
    Must(svc().GetSession(user, s->id));
    Tick(1s);
    Must(svc().ReadEvents(user, s->id, 0, 10));
    Tick(1s);
    Must(svc().ReadMessages(user, s->id, 0, 10));
    Tick(1s);
    Must(store().GetSession(s->id));
    Tick(1s);
    Must(store().ReadEvents(s->id, 0, 10));
    Tick(1s);
    Must(store().ReadMessages(s->id, 0, 10));
  }
  Tick(1s);
  Must(svc().ListSessions(user, {}, {}, 10));
  Tick(1s);
  if (!SearchIsDisabled(user)) Must(svc().Search(user, "searchable", {}, 10));
  Tick(1s);
  Must(store().GetMessage(p0.id, message_id));
  Tick(1s);
  Must(svc().GetPreferences(user));

  ExpectSameSession(Get(user, persistent.id), p0);
  ExpectSameSession(Get(user, ephemeral.id), e0);
  EXPECT_EQ(Ids(AllSessions(user, 10)), order);
}

// ---- Deletion -------------------------------------------------------------

TEST_P(StoreConformanceTest, DeleteSessionCascades) {
  const std::string user = NewUser();
  const Session keep = Create(user);
  Say(user, keep.id, "kept pineapple");
  const Session doomed = Create(user);
  const Message m1 = Say(user, doomed.id, "doomed pineapple");
  const Message m2 = OpenStreaming(user, doomed.id);
  Must(svc().AppendDelta(user, doomed.id, m2.id, "pineapple"));
  Must(svc().AppendEvents(user, doomed.id, {{"x", "{}"}, {"y", "{}"}}));
  if (!SearchIsDisabled(user)) {
    ASSERT_EQ(AllHits(user, "pineapple", 10).size(), 2u);
  }
  const Session before = Get(user, doomed.id);

  const std::int64_t deleted_seq = Must(svc().DeleteSession(user, doomed.id));
  // service.h: the seq of the session.deleted event, which follows the log.
  EXPECT_EQ(deleted_seq, before.last_seq + 1);

  EXPECT_EQ(CodeOf(svc().GetSession(user, doomed.id)), "NotFound");
  EXPECT_EQ(CodeOf(svc().ReadEvents(user, doomed.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(svc().ReadMessages(user, doomed.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(svc().AddMessage(user, doomed.id, NewMessage{})),
            "NotFound");
  EXPECT_EQ(CodeOf(svc().AppendDelta(user, doomed.id, m2.id, "x")), "NotFound");
  EXPECT_EQ(CodeOf(store().GetSession(doomed.id)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadEvents(doomed.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadMessages(doomed.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(store().GetMessage(doomed.id, m1.id)), "NotFound");
  EXPECT_EQ(CodeOf(svc().DeleteSession(user, doomed.id)), "NotFound");
  EXPECT_EQ(CodeOf(store().DeleteSession(doomed.id)), "NotFound");

  if (!SearchIsDisabled(user)) {
    const std::vector<SearchHit> hits = AllHits(user, "pineapple", 10);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].session_id, keep.id);
  }
  EXPECT_EQ(Ids(AllSessions(user, 10)), (std::vector<std::string>{keep.id}));
  ExpectConsistent(user, keep.id);

  const StoreStats stats = Must(store().Stats());
  EXPECT_EQ(stats.sessions, 1);
  EXPECT_EQ(stats.messages, 1);
  EXPECT_EQ(stats.events, 2);
}

TEST_P(StoreConformanceTest, StoreDeleteSessionReportsCounts) {
  const std::string user = NewUser();
  const Session s = Create(user);
  Say(user, s.id, "one");
  Say(user, s.id, "two");
  Must(svc().AppendEvents(user, s.id, {{"x", "{}"}}));
  const EraseCounts counts = Must(store().DeleteSession(s.id));
  EXPECT_EQ(counts.sessions, 1);
  EXPECT_EQ(counts.messages, 2);
  EXPECT_EQ(counts.events, 4);
}

TEST_P(StoreConformanceTest, DeleteRacingAppendsLeavesNothing) {
  const std::string user = NewUser();
  const Session s = Create(user);
  std::mutex mu;
  std::condition_variable cv;
  int appended = 0;
  bool stop = false;
  std::string last_error;
  // Appends until the session vanishes under it.
  std::thread appender([&] {
    for (int i = 0;; ++i) {
      NewMessage m;
      m.content = "racing " + std::to_string(i);
      Result<Message> r = svc().AddMessage(user, s.id, m);
      {
        std::lock_guard lock(mu);
        if (!r.ok()) last_error = CodeOf(r);
        if (!r.ok() || stop) break;
        ++appended;
      }
      cv.notify_all();
    }
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return appended >= 5 || !last_error.empty(); });
  }
  const Result<std::int64_t> deleted = svc().DeleteSession(user, s.id);
  if (!deleted.ok()) {
    ADD_FAILURE() << deleted.status().ToString();
    std::lock_guard lock(mu);
    stop = true;
  }
  appender.join();
  EXPECT_EQ(last_error, "NotFound");
  EXPECT_EQ(CodeOf(store().GetSession(s.id)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadEvents(s.id, 0, 10)), "NotFound");
  if (!SearchIsDisabled(user)) {
    EXPECT_TRUE(Must(svc().Search(user, "racing", {}, 10)).hits.empty());
  }
  // No append that lost the race left rows behind.
  const StoreStats stats = Must(store().Stats());
  EXPECT_EQ(stats.sessions, 0);
  EXPECT_EQ(stats.messages, 0);
  EXPECT_EQ(stats.events, 0);
}

TEST_P(StoreConformanceTest, EraseUserRemovesOnlyThatUser) {
  const std::string alice = NewUser();
  const std::string bob = NewUser();
  const Session a1 = Create(alice);
  Say(alice, a1.id, "alice mango");
  Say(alice, a1.id, "more");
  Say(alice, a1.id, "and more");
  const Session a2 = Create(alice);
  Say(alice, a2.id, "second mango");
  Must(svc().AppendEvents(alice, a2.id, {{"x", "{}"}, {"y", "{}"}}));
  const Session a3 = Create(alice, /*persistent=*/false);
  Say(alice, a3.id, "ephemeral mango");
  MustOk(svc().PutPreferences(alice, Preferences{false}));
  const Session b1 = Create(bob);
  const Message bob_message = Say(bob, b1.id, "bob mango");
  MustOk(svc().PutPreferences(bob, Preferences{false}));

  std::int64_t alice_events = 0;
  for (const Session* s : {&a1, &a2, &a3}) {
    alice_events += Get(alice, s->id).last_seq;
  }
  const Session b_before = Get(bob, b1.id);

  const EraseCounts counts = Must(svc().EraseUser(alice));
  EXPECT_EQ(counts.sessions, 3);
  EXPECT_EQ(counts.messages, 5);
  EXPECT_EQ(counts.events, alice_events);

  for (const Session* s : {&a1, &a2, &a3}) {
    EXPECT_EQ(CodeOf(svc().GetSession(alice, s->id)), "NotFound");
    EXPECT_EQ(CodeOf(store().GetSession(s->id)), "NotFound");
  }
  EXPECT_TRUE(AllSessions(alice, 10).empty());
  if (!SearchIsDisabled(alice)) {
    EXPECT_TRUE(Must(svc().Search(alice, "mango", {}, 10)).hits.empty());
  }
  EXPECT_TRUE(Must(svc().GetPreferences(alice)).persist_history);
  EXPECT_EQ(CodeOf(store().GetPreferences(alice)), "NotFound");

  ExpectSameSession(Get(bob, b1.id), b_before);
  ExpectConsistent(bob, b1.id);
  if (!SearchIsDisabled(bob)) {
    EXPECT_EQ(HitIds(Must(svc().Search(bob, "mango", {}, 10)).hits),
              (std::vector<std::string>{bob_message.id}));
  }
  EXPECT_FALSE(Must(svc().GetPreferences(bob)).persist_history);

  const EraseCounts again = Must(svc().EraseUser(alice));
  EXPECT_EQ(again.sessions, 0);
  EXPECT_EQ(again.messages, 0);
  EXPECT_EQ(again.events, 0);
  const EraseCounts nobody = Must(store().DeleteUser(NewUser()));
  EXPECT_EQ(nobody.sessions, 0);
}

// ---- Isolation ------------------------------------------------------------

TEST_P(StoreConformanceTest, UsersCannotReachEachOthersSessions) {
  const std::string alice = NewUser();
  const std::string bob = NewUser();
  const Session s = Create(alice, true, "alice's");
  const Message said = Say(alice, s.id, "the secret papaya");
  const Message streaming = OpenStreaming(alice, s.id, "partial");
  const Session bobs = Create(bob);
  const Message bob_said = Say(bob, bobs.id, "bob papaya");
  const Session before = Get(alice, s.id);
  Tick();

  // Another user's session answers exactly like a missing one.
  EXPECT_EQ(CodeOf(svc().GetSession(bob, s.id)), "NotFound");
  EXPECT_EQ(CodeOf(svc().ReadEvents(bob, s.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(svc().ReadMessages(bob, s.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(svc().AddMessage(bob, s.id, NewMessage{})), "NotFound");
  EXPECT_EQ(CodeOf(svc().AppendDelta(bob, s.id, streaming.id, "x")),
            "NotFound");
  EXPECT_EQ(CodeOf(svc().CompleteMessage(bob, s.id, streaming.id, "x")),
            "NotFound");
  EXPECT_EQ(CodeOf(svc().AppendEvents(bob, s.id, {{"x", "{}"}})), "NotFound");
  SessionPatch patch;
  patch.title = "pwned";
  EXPECT_EQ(CodeOf(svc().UpdateSession(bob, s.id, patch)), "NotFound");
  EXPECT_EQ(CodeOf(svc().DeleteSession(bob, s.id)), "NotFound");

  EXPECT_EQ(Ids(AllSessions(bob, 10)), (std::vector<std::string>{bobs.id}));
  if (!SearchIsDisabled(bob)) {
    EXPECT_EQ(HitIds(AllHits(bob, "papaya", 10)),
              (std::vector<std::string>{bob_said.id}));
    EXPECT_EQ(HitIds(AllHits(alice, "papaya", 10)),
              (std::vector<std::string>{said.id}));
  }

  ExpectSameSession(Get(alice, s.id), before);
  const Message still = Must(store().GetMessage(s.id, streaming.id));
  EXPECT_EQ(still.content, "partial");
  EXPECT_EQ(still.status, MessageStatus::kStreaming);
}

// ---- TTL ------------------------------------------------------------------

TEST_P(StoreConformanceTest, EphemeralSessionsExpireAndAreSwept) {
  const std::string user = NewUser();
  const Session s = Create(user, /*persistent=*/false);
  const Session kept = Create(user, /*persistent=*/true);
  EXPECT_TRUE(IsEphemeralSessionId(s.id));
  EXPECT_FALSE(s.persistent);
  ASSERT_TRUE(s.expires_at.has_value());
  EXPECT_EQ(*s.expires_at, Start() + kTtl);

  // A write before expiry slides the expiry forward.
  Tick(30s);
  Say(user, s.id, "still here");
  EXPECT_EQ(Get(user, s.id).expires_at, Now() + kTtl);
  Tick(kTtl - 1ms);
  EXPECT_TRUE(svc().GetSession(user, s.id).ok())
      << "expired although written " << kTtl.count() << " s ago";
  const Session last = Get(user, s.id);

  // store.h: a session whose expires_at is at or before now is gone.
  Tick(1ms);
  ASSERT_EQ(Now(), *last.expires_at);
  EXPECT_EQ(CodeOf(svc().GetSession(user, s.id)), "NotFound");
  EXPECT_EQ(CodeOf(svc().ReadEvents(user, s.id, 0, 10)), "NotFound");
  EXPECT_EQ(CodeOf(svc().AddMessage(user, s.id, NewMessage{})), "NotFound");
  EXPECT_EQ(CodeOf(store().GetSession(s.id)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadMessages(s.id, 0, 10)), "NotFound");
  EXPECT_EQ(Ids(AllSessions(user, 10)), (std::vector<std::string>{kept.id}));
  if (!SearchIsDisabled(user)) {
    EXPECT_TRUE(Must(svc().Search(user, "still", {}, 10)).hits.empty());
  }

  Tick(1s);
  const EraseCounts swept =
      Must(store().SweepSessions({SweepRule::kExpired, Now(), 100})).counts;
  EXPECT_EQ(swept.sessions, 1);
  EXPECT_EQ(swept.messages, 1);
  EXPECT_EQ(swept.events, last.last_seq);
  // Swept means deleted, not hidden: turning the clock back finds nothing.
  clock_->Set(Start());
  EXPECT_EQ(CodeOf(store().GetSession(s.id)), "NotFound");
  EXPECT_EQ(CodeOf(store().ReadEvents(s.id, 0, 10)), "NotFound");
  ExpectConsistent(user, kept.id);
  EXPECT_EQ(Must(store().Stats()).sessions, 1);
}

TEST_P(StoreConformanceTest, SweepExpiredHonoursLimitAndSparesLiveSessions) {
  const std::string user = NewUser();
  std::vector<Session> doomed;
  for (int i = 0; i < 5; ++i) doomed.push_back(Create(user, false));
  Tick(kTtl / 2);
  const Session young = Create(user, false);
  const Session persistent = Create(user, true);
  Tick(kTtl / 2);  // the first five are due exactly now

  EXPECT_EQ(Must(store().SweepSessions({SweepRule::kExpired, Now(), 2}))
                .counts.sessions,
            2);
  EXPECT_EQ(Must(store().SweepSessions({SweepRule::kExpired, Now(), 100}))
                .counts.sessions,
            3);
  EXPECT_EQ(Must(store().SweepSessions({SweepRule::kExpired, Now(), 100}))
                .counts.sessions,
            0);
  for (const Session& s : doomed) {
    EXPECT_EQ(CodeOf(store().GetSession(s.id)), "NotFound");
  }
  ExpectConsistent(user, young.id);
  ExpectConsistent(user, persistent.id);
}

// ---- Search ---------------------------------------------------------------

TEST_P(StoreConformanceTest, SearchMatchesWholeWordsNewestFirst) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  const Session s1 = Create(user);
  const Session s2 = Create(user, /*persistent=*/false);
  Tick();
  const Message m1 = Say(user, s1.id, "The quick brown fox jumps");
  Tick();
  const Message m2 = Say(user, s1.id, "A quick, red fox!", Role::kAssistant);
  Tick();
  const Message m3 = Say(user, s1.id, "quick thinking");
  Tick();
  const Message m4 = Say(user, s2.id, "FOX QUICK");
  Tick();
  const Session os = Create(other);
  Say(other, os.id, "quick fox from someone else");

  if (SearchIsDisabled(user)) return;
  // Every word must match, in any order and case; results newest first.
  EXPECT_EQ(HitIds(AllHits(user, "quick fox", 10)),
            (std::vector<std::string>{m4.id, m2.id, m1.id}));
  EXPECT_EQ(HitIds(AllHits(user, "QUICK", 10)),
            (std::vector<std::string>{m4.id, m3.id, m2.id, m1.id}));
  EXPECT_EQ(HitIds(AllHits(user, "fox brown", 10)),
            (std::vector<std::string>{m1.id}));
  EXPECT_TRUE(AllHits(user, "quick zebra", 10).empty());
  // Words, not substrings.
  EXPECT_TRUE(AllHits(user, "qui", 10).empty());
  EXPECT_TRUE(AllHits(user, "thinkin", 10).empty());

  const std::vector<SearchHit> hits = AllHits(user, "brown", 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].session_id, s1.id);
  EXPECT_EQ(hits[0].message_id, m1.id);
  EXPECT_EQ(hits[0].seq, m1.seq);
  EXPECT_EQ(hits[0].created_at, m1.created_at);
  EXPECT_NE(hits[0].snippet.find("[brown]"), std::string::npos)
      << hits[0].snippet;
  const std::vector<SearchHit> upper = AllHits(user, "fox quick", 10);
  ASSERT_FALSE(upper.empty());
  // Snippets keep the text's own case.
  EXPECT_NE(upper[0].snippet.find("[FOX]"), std::string::npos)
      << upper[0].snippet;
  EXPECT_NE(upper[0].snippet.find("[QUICK]"), std::string::npos)
      << upper[0].snippet;
}

TEST_P(StoreConformanceTest, SearchPagesWithCursor) {
  const std::string user = NewUser();
  const Session s = Create(user);
  for (int i = 0; i < 7; ++i) {
    Say(user, s.id, "kiwi number " + std::to_string(i));
    if (i % 3 != 1) Tick();  // some share a timestamp: ties go by id
    Say(user, s.id, "unrelated");
  }
  // Newest first by (created_at, message id).
  std::vector<std::pair<Timestamp, std::string>> keys;
  for (const Message& m : AllMessages(user, s.id)) {
    if (m.content.starts_with("kiwi")) keys.emplace_back(m.created_at, m.id);
  }
  std::sort(keys.rbegin(), keys.rend());
  std::vector<std::string> expected;
  for (const auto& [t, id] : keys) expected.push_back(id);

  if (SearchIsDisabled(user)) return;
  std::vector<std::size_t> sizes;
  std::vector<std::string> got;
  std::optional<SearchCursor> cursor;
  for (int pages = 0; pages < 10; ++pages) {
    const SearchPage page = Must(svc().Search(user, "kiwi", cursor, 3));
    sizes.push_back(page.hits.size());
    for (const SearchHit& h : page.hits) got.push_back(h.message_id);
    if (!page.next) break;
    cursor = page.next;
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 1}));
}

TEST_P(StoreConformanceTest, SearchSkipsStreamingMessagesUntilComplete) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message m = OpenStreaming(user, s.id, "zebra ");
  Must(svc().AppendDelta(user, s.id, m.id, "crossing"));
  if (SearchIsDisabled(user)) return;
  EXPECT_TRUE(AllHits(user, "zebra", 10).empty());
  EXPECT_TRUE(AllHits(user, "crossing", 10).empty());
  Must(svc().CompleteMessage(user, s.id, m.id, std::nullopt));
  EXPECT_EQ(HitIds(AllHits(user, "zebra crossing", 10)),
            (std::vector<std::string>{m.id}));

  // Completion with replacement content indexes the final text only.
  const Message r = OpenStreaming(user, s.id, "draft walrus");
  Must(svc().CompleteMessage(user, s.id, r.id, "final narwhal"));
  EXPECT_TRUE(AllHits(user, "walrus", 10).empty());
  EXPECT_EQ(HitIds(AllHits(user, "narwhal", 10)),
            (std::vector<std::string>{r.id}));
}

TEST_P(StoreConformanceTest, SearchRejectsEmptyQuery) {
  const std::string user = NewUser();
  EXPECT_EQ(CodeOf(svc().Search(user, "", {}, 10)), "InvalidArgument");
  EXPECT_EQ(CodeOf(svc().Search(user, "   ", {}, 10)), "InvalidArgument");
}

// ---- Read paging ----------------------------------------------------------

TEST_P(StoreConformanceTest, ReadEventsPaging) {
  const std::string user = NewUser();
  const Session s = Create(user);
  for (int i = 0; i < 10; ++i) Say(user, s.id, "m" + std::to_string(i));
  const auto seqs = [](const EventPage& p) {
    std::vector<std::int64_t> out;
    for (const Event& e : p.events) out.push_back(e.seq);
    return out;
  };
  EventPage p = Must(svc().ReadEvents(user, s.id, 0, 4));
  EXPECT_EQ(seqs(p), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(p.next_after_seq, 4);
  p = Must(svc().ReadEvents(user, s.id, 4, 4));
  EXPECT_EQ(seqs(p), (std::vector<std::int64_t>{5, 6, 7, 8}));
  EXPECT_EQ(p.next_after_seq, 8);
  p = Must(svc().ReadEvents(user, s.id, 8, 4));
  EXPECT_EQ(seqs(p), (std::vector<std::int64_t>{9, 10, 11}));
  EXPECT_EQ(p.next_after_seq, std::nullopt);
  // A page that ends exactly at the head is caught up.
  p = Must(svc().ReadEvents(user, s.id, 7, 4));
  EXPECT_EQ(seqs(p), (std::vector<std::int64_t>{8, 9, 10, 11}));
  EXPECT_EQ(p.next_after_seq, std::nullopt);
  for (std::int64_t after : {11, 12, 1000}) {
    p = Must(svc().ReadEvents(user, s.id, after, 4));
    EXPECT_TRUE(p.events.empty()) << after;
    EXPECT_EQ(p.next_after_seq, std::nullopt) << after;
  }
  // limit 0 is the default page size.
  EXPECT_EQ(Must(svc().ReadEvents(user, s.id, 0, 0)).events.size(), 11u);
  // The store itself: at most `limit`, ascending, after `after_seq`.
  const std::vector<Event> direct = Must(store().ReadEvents(s.id, 2, 3));
  ASSERT_EQ(direct.size(), 3u);
  EXPECT_EQ(direct[0].seq, 3);
  EXPECT_EQ(direct[2].seq, 5);
}

TEST_P(StoreConformanceTest, ReadMessagesPaging) {
  const std::string user = NewUser();
  const Session s = Create(user);
  std::vector<std::int64_t> seqs;
  for (int i = 0; i < 7; ++i) {
    seqs.push_back(Say(user, s.id, "m" + std::to_string(i)).seq);
    // Events between messages: message seqs are not contiguous.
    if (i % 2 == 0) Must(svc().AppendEvents(user, s.id, {{"gap", "{}"}}));
  }
  const auto page_seqs = [](const MessagePage& p) {
    std::vector<std::int64_t> out;
    for (const Message& m : p.messages) out.push_back(m.seq);
    return out;
  };
  MessagePage p = Must(svc().ReadMessages(user, s.id, 0, 3));
  EXPECT_EQ(page_seqs(p),
            (std::vector<std::int64_t>{seqs[0], seqs[1], seqs[2]}));
  EXPECT_EQ(p.next_after_seq, seqs[2]);
  p = Must(svc().ReadMessages(user, s.id, *p.next_after_seq, 3));
  EXPECT_EQ(page_seqs(p),
            (std::vector<std::int64_t>{seqs[3], seqs[4], seqs[5]}));
  EXPECT_EQ(p.next_after_seq, seqs[5]);
  p = Must(svc().ReadMessages(user, s.id, *p.next_after_seq, 3));
  EXPECT_EQ(page_seqs(p), (std::vector<std::int64_t>{seqs[6]}));
  EXPECT_EQ(p.next_after_seq, std::nullopt);
  // after_seq between two messages' seqs starts at the next message.
  p = Must(svc().ReadMessages(user, s.id, seqs[0] + 1, 2));
  EXPECT_EQ(page_seqs(p), (std::vector<std::int64_t>{seqs[1], seqs[2]}));
  p = Must(svc().ReadMessages(user, s.id, seqs[6], 3));
  EXPECT_TRUE(p.messages.empty());
  EXPECT_EQ(p.next_after_seq, std::nullopt);
}

TEST_P(StoreConformanceTest, ReadMessagesBeforeWalksBackwards) {
  const std::string user = NewUser();
  const Session s = Create(user);
  std::vector<std::int64_t> seqs;
  for (int i = 0; i < 7; ++i) {
    seqs.push_back(Say(user, s.id, "m" + std::to_string(i)).seq);
    if (i % 2 == 0) Must(svc().AppendEvents(user, s.id, {{"gap", "{}"}}));
  }
  const auto seqs_of = [](const std::vector<Message>& rows) {
    std::vector<std::int64_t> out;
    for (const Message& m : rows) out.push_back(m.seq);
    return out;
  };
  EXPECT_EQ(seqs_of(Must(store().ReadMessagesBefore(s.id, INT64_MAX, 3))),
            (std::vector<std::int64_t>{seqs[6], seqs[5], seqs[4]}));
  EXPECT_EQ(seqs_of(Must(store().ReadMessagesBefore(s.id, seqs[4], 3))),
            (std::vector<std::int64_t>{seqs[3], seqs[2], seqs[1]}));
  // A bound between two messages' seqs starts at the one before it.
  EXPECT_EQ(seqs_of(Must(store().ReadMessagesBefore(s.id, seqs[1] + 1, 5))),
            (std::vector<std::int64_t>{seqs[1], seqs[0]}));
  EXPECT_TRUE(Must(store().ReadMessagesBefore(s.id, seqs[0], 5)).empty());
  EXPECT_EQ(CodeOf(store().ReadMessagesBefore(NewId(Now()), INT64_MAX, 5)),
            "NotFound");
}

// ---- Context window -------------------------------------------------------

std::vector<std::string> MessageIds(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(m.id);
  return out;
}

ContextWindow ContextOf(SessionService& svc, const std::string& user,
                        const std::string& session_id, std::int64_t limit) {
  ContextRequest request;
  request.token_limit = limit;
  return Must(svc.GetContext(user, session_id, request));
}

TEST_P(StoreConformanceTest, ContextExactFitAndOneTokenOver) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message u1 = Say(user, s.id, "What is the capital of France?");
  const Message a2 =
      Say(user, s.id, "The capital of France is Paris.", Role::kAssistant);
  const Message u3 = Say(user, s.id, "And of Italy?");
  const Message a4 = Say(user, s.id, "Rome.", Role::kAssistant);
  const std::int64_t all = *u1.tokens + *a2.tokens + *u3.tokens + *a4.tokens;

  ContextWindow w = ContextOf(svc(), user, s.id, all);
  EXPECT_EQ(MessageIds(w.messages),
            (std::vector<std::string>{u1.id, a2.id, u3.id, a4.id}));
  EXPECT_EQ(w.token_count, all);
  EXPECT_EQ(w.token_limit, all);
  EXPECT_FALSE(w.truncated);

  // One token short: u1 no longer fits, and the window may not start on
  // a2 (an answer without its question), so it starts at u3.
  w = ContextOf(svc(), user, s.id, all - 1);
  EXPECT_EQ(MessageIds(w.messages), (std::vector<std::string>{u3.id, a4.id}));
  EXPECT_EQ(w.token_count, *u3.tokens + *a4.tokens);
  EXPECT_TRUE(w.truncated);

  // The default limit (8192) holds this whole conversation.
  w = Must(svc().GetContext(user, s.id, ContextRequest{}));
  EXPECT_EQ(w.messages.size(), 4u);
  EXPECT_EQ(w.token_limit, 8192);
  EXPECT_FALSE(w.truncated);
}

TEST_P(StoreConformanceTest, ContextSingleMessageLargerThanLimit) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message big =
      Say(user, s.id, "a fairly long question with quite a few words in it");
  ASSERT_GT(*big.tokens, 1);
  const ContextWindow w = ContextOf(svc(), user, s.id, *big.tokens - 1);
  EXPECT_TRUE(w.messages.empty());
  EXPECT_EQ(w.token_count, 0);
  EXPECT_TRUE(w.truncated);
  // An empty session: nothing to leave out.
  const Session empty = Create(user);
  const ContextWindow none = ContextOf(svc(), user, empty.id, 10);
  EXPECT_TRUE(none.messages.empty());
  EXPECT_FALSE(none.truncated);
}

TEST_P(StoreConformanceTest, ContextOnlySystemMessages) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message s1 =
      Say(user, s.id, "You are a helpful assistant.", Role::kSystem);
  const Message s2 = Say(user, s.id, "Answer in French.", Role::kSystem);
  ContextWindow w = ContextOf(svc(), user, s.id, *s1.tokens + *s2.tokens);
  EXPECT_EQ(MessageIds(w.messages), (std::vector<std::string>{s1.id, s2.id}));
  EXPECT_FALSE(w.truncated);
  // The leading system messages are kept oldest first while they fit.
  w = ContextOf(svc(), user, s.id, *s1.tokens + *s2.tokens - 1);
  EXPECT_EQ(MessageIds(w.messages), (std::vector<std::string>{s1.id}));
  EXPECT_EQ(w.token_count, *s1.tokens);
  EXPECT_TRUE(w.truncated);
}

// More leading system messages than the forward walk's first page.
TEST_P(StoreConformanceTest, ContextPagesOverALongSystemRun) {
  const std::string user = NewUser();
  const Session s = Create(user);
  std::vector<std::string> expected;
  std::int64_t limit = 0;
  for (int i = 0; i < 11; ++i) {
    const Message m =
        Say(user, s.id, "rule " + std::to_string(i), Role::kSystem);
    expected.push_back(m.id);
    limit += *m.tokens;
  }
  Say(user, s.id, "an older question that will not fit");
  const Message last = Say(user, s.id, "latest");
  expected.push_back(last.id);
  limit += *last.tokens;
  const ContextWindow w = ContextOf(svc(), user, s.id, limit);
  EXPECT_EQ(MessageIds(w.messages), expected);
  EXPECT_EQ(w.token_count, limit);
  EXPECT_TRUE(w.truncated);
}

TEST_P(StoreConformanceTest, ContextKeepsSystemMessagesFirst) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message sys = Say(user, s.id, "You are terse.", Role::kSystem);
  const Message u2 = Say(user, s.id, "Tell me a long story about dragons.");
  const Message a3 =
      Say(user, s.id, "Once upon a time there was a dragon.", Role::kAssistant);
  const Message u4 = Say(user, s.id, "Shorter.");
  const Message a5 = Say(user, s.id, "Dragon.", Role::kAssistant);
  const std::int64_t limit = *sys.tokens + *u4.tokens + *a5.tokens;
  const ContextWindow w = ContextOf(svc(), user, s.id, limit);
  EXPECT_EQ(MessageIds(w.messages),
            (std::vector<std::string>{sys.id, u4.id, a5.id}));
  EXPECT_EQ(w.token_count, limit);
  EXPECT_TRUE(w.truncated);
  (void)u2;
  (void)a3;
}

TEST_P(StoreConformanceTest, ContextNeverStartsOnToolOrAssistantReply) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message u1 = Say(user, s.id, "What is the weather in Paris today?");
  const Message t2 =
      Say(user, s.id, "{\"temp_c\": 21, \"sky\": \"clear\"}", Role::kTool);
  const Message u3 = Say(user, s.id, "And tomorrow?");
  const Message a4 = Say(user, s.id, "Rain.", Role::kAssistant);
  const Message a5 = Say(user, s.id, "Take an umbrella.", Role::kAssistant);
  // Room for t2 and everything after it, not for u1: t2 is dropped.
  ContextWindow w = ContextOf(
      svc(), user, s.id, *t2.tokens + *u3.tokens + *a4.tokens + *a5.tokens);
  EXPECT_EQ(MessageIds(w.messages),
            (std::vector<std::string>{u3.id, a4.id, a5.id}));
  EXPECT_EQ(w.token_count, *u3.tokens + *a4.tokens + *a5.tokens);
  EXPECT_TRUE(w.truncated);
  // Room only for replies: the window is empty rather than start on one.
  w = ContextOf(svc(), user, s.id, *a4.tokens + *a5.tokens);
  EXPECT_TRUE(w.messages.empty());
  EXPECT_EQ(w.token_count, 0);
  EXPECT_TRUE(w.truncated);
  (void)u1;
}

TEST_P(StoreConformanceTest, ContextLeavesOutStreamingMessages) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message u1 = Say(user, s.id, "Hello");
  const Message open = OpenStreaming(user, s.id, "Hi the");
  const ContextWindow w = ContextOf(svc(), user, s.id, 1000);
  EXPECT_EQ(MessageIds(w.messages), (std::vector<std::string>{u1.id}));
  EXPECT_EQ(w.token_count, *u1.tokens);
  EXPECT_FALSE(w.truncated);
  (void)open;
}

TEST_P(StoreConformanceTest, ContextPagesBackOverManyMessages) {
  const std::string user = NewUser();
  const Session s = Create(user);
  const Message sys = Say(user, s.id, "System prompt.", Role::kSystem);
  std::vector<Message> said;
  for (int i = 0; i < 400; ++i) {
    said.push_back(Say(user, s.id, "message number " + std::to_string(i),
                       i % 2 == 0 ? Role::kUser : Role::kAssistant));
  }
  // Budget for the system prompt and the newest 301 messages: the walk
  // reads pages of 32, 64, 128, 256 before it reaches the cut.
  std::int64_t limit = *sys.tokens;
  for (std::size_t i = said.size() - 301; i < said.size(); ++i) {
    limit += *said[i].tokens;
  }
  const ContextWindow w = ContextOf(svc(), user, s.id, limit);
  // said[99] (assistant) fits but may not start the window.
  std::vector<std::string> expected{sys.id};
  for (std::size_t i = said.size() - 300; i < said.size(); ++i) {
    expected.push_back(said[i].id);
  }
  EXPECT_EQ(MessageIds(w.messages), expected);
  EXPECT_TRUE(w.truncated);
  std::int64_t sum = 0;
  for (const Message& m : w.messages) sum += *m.tokens;
  EXPECT_EQ(w.token_count, sum);
  EXPECT_LE(w.token_count, limit);
}

TEST_P(StoreConformanceTest, ContextValidatesItsRequest) {
  const std::string user = NewUser();
  const Session s = Create(user);
  Say(user, s.id, "hello");
  ContextRequest request;
  request.token_limit = 0;
  EXPECT_EQ(CodeOf(svc().GetContext(user, s.id, request)), "Unprocessable");
  request.token_limit = Limits{}.max_context_tokens + 1;
  EXPECT_EQ(CodeOf(svc().GetContext(user, s.id, request)), "Unprocessable");
  request.token_limit = 100;
  request.encoding = "p50k_base";
  EXPECT_EQ(CodeOf(svc().GetContext(user, s.id, request)), "Unprocessable");
  request.encoding = "o200k_base";
  const ContextWindow w = Must(svc().GetContext(user, s.id, request));
  ASSERT_EQ(w.messages.size(), 1u);
  EXPECT_EQ(w.token_count, 1);  // "hello" is one token in o200k_base too
  // Another user's session answers like a missing one.
  EXPECT_EQ(CodeOf(svc().GetContext(NewUser(), s.id, request)), "NotFound");
}

// ---- Preferences ----------------------------------------------------------

TEST_P(StoreConformanceTest, PreferencesDefaultAndRoundTrip) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  EXPECT_TRUE(Must(svc().GetPreferences(user)).persist_history);
  EXPECT_EQ(CodeOf(store().GetPreferences(user)), "NotFound");
  MustOk(svc().PutPreferences(user, Preferences{false}));
  EXPECT_FALSE(Must(svc().GetPreferences(user)).persist_history);
  EXPECT_FALSE(Must(store().GetPreferences(user)).persist_history);
  EXPECT_TRUE(Must(svc().GetPreferences(other)).persist_history);
  MustOk(svc().PutPreferences(user, Preferences{true}));
  EXPECT_TRUE(Must(svc().GetPreferences(user)).persist_history);
  EXPECT_TRUE(Must(store().GetPreferences(user)).persist_history);
}

// ---- Stats ----------------------------------------------------------------

TEST_P(StoreConformanceTest, StatsCountWhatIsStored) {
  const StoreStats empty = Must(store().Stats());
  EXPECT_EQ(empty.sessions, 0);
  EXPECT_EQ(empty.messages, 0);
  EXPECT_EQ(empty.events, 0);
  const std::string user = NewUser();
  const Session a = Create(user);
  const Session b = Create(user, false);
  Say(user, a.id, std::string(1000, 'x'));
  Say(user, a.id, "two");
  Say(user, b.id, "three");
  Must(svc().AppendEvents(user, b.id, {{"e", "{}"}}));
  const StoreStats stats = Must(store().Stats());
  EXPECT_EQ(stats.sessions, 2);
  EXPECT_EQ(stats.messages, 3);
  EXPECT_EQ(stats.events, 6);
  EXPECT_GT(stats.bytes, 1000);
}

// ---- Everything at once ----------------------------------------------------

// Writers, readers, deleters and the sweeper on a few shared sessions. Any
// order of operations is allowed; what must hold is that every call answers
// OK or an expected error, and every surviving session is consistent.
TEST_P(StoreConformanceTest, MixedConcurrentLoadKeepsSessionsConsistent) {
  constexpr int kThreads = 6;
  constexpr int kOps = 40;
  const std::string user = NewUser();
  std::mutex mu;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Create(user, i % 2 == 0).id);
  const auto pick = [&](std::mt19937& rng) {
    std::lock_guard lock(mu);
    return ids[rng() % ids.size()];
  };
  const bool encrypted = GetParam().encrypted;
  const auto expected = [encrypted](const Status& s) {
    return s.ok() || s.IsNotFound() || s.IsConflict() ||
           (encrypted && IsSearchDisabled(s));
  };
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      start.arrive_and_wait();
      for (int op = 0; op < kOps; ++op) {
        const std::string id = pick(rng);
        Status st;
        switch (rng() % 10) {
          case 0: {
            Result<Session> s = svc().CreateSession(user, {});
            st = s.status();
            if (s.ok()) {
              std::lock_guard lock(mu);
              ids.push_back(s->id);
            }
            break;
          }
          case 1:
            st = svc().DeleteSession(user, id).status();
            break;
          case 2:
            st = store()
                     .SweepSessions({SweepRule::kExpired, Now(), 10})
                     .status();
            break;
          case 3:
            st = svc().ListSessions(user, {}, {}, 5).status();
            break;
          case 4:
            st = svc().Search(user, "load words", {}, 5).status();
            break;
          case 5:
            st = svc().ReadEvents(user, id, rng() % 5, 10).status();
            break;
          case 6: {
            NewMessage m;
            m.content = "load words " + std::to_string(op);
            m.status =
                op % 2 ? MessageStatus::kStreaming : MessageStatus::kComplete;
            Result<Message> added = svc().AddMessage(user, id, m);
            st = added.status();
            if (added.ok() && m.status == MessageStatus::kStreaming) {
              st = svc().AppendDelta(user, id, added->id, " more").status();
              if (st.ok()) {
                st = svc()
                         .CompleteMessage(user, id, added->id, std::nullopt)
                         .status();
              }
            }
            break;
          }
          case 7: {
            SessionPatch patch;
            patch.state = R"({"op":)" + std::to_string(op) + "}";
            st = svc().UpdateSession(user, id, patch).status();
            break;
          }
          default:
            st = svc()
                     .AppendEvents(user, id, {{"load", "{}"}, {"load", "{}"}})
                     .status();
            break;
        }
        EXPECT_TRUE(expected(st)) << st.ToString();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Session& s : AllSessions(user, 7)) {
    SCOPED_TRACE(s.id);
    ExpectConsistent(user, s.id);
  }
}

// ---- State scopes (docs/context-and-state.md) -----------------------------

// Patches `state` of a session and returns the session as answered.
Session PatchState(SessionService& svc, const std::string& user,
                   const std::string& sid, std::string state) {
  SessionPatch patch;
  patch.state = std::move(state);
  return Must(svc.UpdateSession(user, sid, patch));
}

TEST_P(StoreConformanceTest, UserKeysAreSharedByTheUsersSessionsOnly) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  const Session a = Create(user);
  const Session b = Create(user, /*persistent=*/false);
  const Session c = Create(other);
  Tick();

  const Session patched = PatchState(
      svc(), user, a.id, R"({"user:theme":"dark","step":1,"user:n":{"x":1}})");
  EXPECT_JSON_EQ(patched.state,
                 R"({"step":1,"user:theme":"dark","user:n":{"x":1}})");
  // Seen through session B of the same user at once, in every read path.
  EXPECT_JSON_EQ(Get(user, b.id).state,
                 R"({"user:theme":"dark","user:n":{"x":1}})");
  for (const Session& listed : AllSessions(user, 10)) {
    EXPECT_EQ(Field(listed.state, "user:theme"), boost::json::value("dark"))
        << listed.id;
  }
  // Never by another user's session.
  EXPECT_JSON_EQ(Get(other, c.id).state, "{}");
  EXPECT_JSON_EQ(Must(store().GetUserState(other)), "{}");
  // The session row holds only its own keys; the user's document the rest.
  EXPECT_JSON_EQ(Must(store().GetSession(a.id)).state, R"({"step":1})");
  EXPECT_JSON_EQ(Must(store().GetUserState(user)),
                 R"({"user:theme":"dark","user:n":{"x":1}})");
  // One state.delta event carries the whole patch (no temp: keys here).
  const std::vector<Event> tail = AllEvents(user, a.id, a.last_seq);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].type, "state.delta");
  EXPECT_JSON_EQ(
      tail[0].data,
      R"({"delta":{"user:theme":"dark","step":1,"user:n":{"x":1}}})");

  // Through B: a merge patch of the user's document (null deletes, objects
  // merge), seen by A.
  Tick();
  PatchState(svc(), user, b.id, R"({"user:theme":null,"user:n":{"y":2}})");
  EXPECT_JSON_EQ(Get(user, a.id).state, R"({"step":1,"user:n":{"x":1,"y":2}})");
  PatchState(svc(), user, a.id, R"({"user:n":null})");
  EXPECT_JSON_EQ(Get(user, b.id).state, "{}");
  EXPECT_JSON_EQ(Must(store().GetUserState(user)), "{}");
  ExpectConsistent(user, a.id);
  ExpectConsistent(user, b.id);
}

TEST_P(StoreConformanceTest, CreateWithUserKeysFillsTheUsersDocument) {
  const std::string user = NewUser();
  CreateSessionRequest request;
  request.state = R"({"step":0,"user:lang":"fr","temp:scratch":1})";
  const Session a = Must(svc().CreateSession(user, request));
  EXPECT_JSON_EQ(a.state, R"({"step":0,"user:lang":"fr"})");
  EXPECT_JSON_EQ(Must(store().GetSession(a.id)).state, R"({"step":0})");
  const Session b = Create(user);
  EXPECT_JSON_EQ(Get(user, b.id).state, R"({"user:lang":"fr"})");
}

TEST_P(StoreConformanceTest, ConcurrentUserPatchesFromManySessionsAllSurvive) {
  constexpr int kThreads = 6;
  constexpr int kPatches = 8;
  const std::string user = NewUser();
  std::vector<Session> sessions;
  for (int t = 0; t < kThreads; ++t) sessions.push_back(Create(user));
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPatches; ++i) {
        SessionPatch patch;
        patch.state = "{\"user:k" + std::to_string(t) + "_" +
                      std::to_string(i) + "\":" + std::to_string(i) +
                      ",\"own\":" + std::to_string(i) + "}";
        if (!svc().UpdateSession(user, sessions[t].id, patch).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  const boost::json::value doc = Json(Must(store().GetUserState(user)));
  ASSERT_TRUE(doc.is_object());
  // No lost update: every key of every session's patches is there.
  EXPECT_EQ(doc.as_object().size(),
            static_cast<std::size_t>(kThreads * kPatches));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPatches; ++i) {
      const std::string key =
          "user:k" + std::to_string(t) + "_" + std::to_string(i);
      EXPECT_TRUE(doc.as_object().contains(key)) << key;
    }
    const Session s = Get(user, sessions[t].id);
    EXPECT_EQ(Field(s.state, "own"), boost::json::value(kPatches - 1));
    EXPECT_EQ(Json(s.state).as_object().size(),
              static_cast<std::size_t>(kThreads * kPatches + 1));
    ExpectConsistent(user, sessions[t].id);
  }
}

TEST_P(StoreConformanceTest, RefusedStatePatchLeavesTheUsersDocument) {
  Limits limits;
  limits.max_state_bytes = 64;
  service_ = MakeService(limits);
  const std::string user = NewUser();
  const Session a = Create(user);
  PatchState(svc(), user, a.id, R"({"user:keep":1,"step":1})");
  const Session before = Get(user, a.id);
  const std::string doc = Must(store().GetUserState(user));
  const std::string big(80, 'x');

  // The user's document over the limit: refused like session state.
  SessionPatch patch;
  patch.state = R"({"user:big":")" + big + R"(","step":2})";
  EXPECT_EQ(CodeOf(svc().UpdateSession(user, a.id, patch)), "Unprocessable");
  // The session part over the limit (a Prepare error): the user part goes
  // nowhere either.
  patch.state = R"({"user:small":1,"step":")" + big + R"("})";
  EXPECT_EQ(CodeOf(svc().UpdateSession(user, a.id, patch)), "Unprocessable");
  // temp: keys count towards neither document.
  patch.state = R"({"temp:big":")" + big + big + R"("})";
  EXPECT_TRUE(svc().UpdateSession(user, a.id, patch).ok());

  EXPECT_JSON_EQ(Must(store().GetUserState(user)), doc);
  const Session after = Get(user, a.id);
  EXPECT_JSON_EQ(after.state, before.state);
  EXPECT_EQ(after.last_seq, before.last_seq + 2);  // only the temp: patch
  ExpectConsistent(user, a.id);
}

TEST_P(StoreConformanceTest, TempKeysReachListenersButAreNeverStored) {
  class Recorder final : public CommitListener {
   public:
    void OnCommit(const Session&, const std::vector<Event>& events) override {
      std::lock_guard lock(mu_);
      for (const Event& e : events) {
        if (e.type == "state.delta") deltas_[e.seq] = e.data;
      }
    }
    std::map<std::int64_t, std::string> deltas() {
      std::lock_guard lock(mu_);
      return deltas_;
    }

   private:
    std::mutex mu_;
    std::map<std::int64_t, std::string> deltas_;
  } recorder;
  const std::string user = NewUser();
  const Session s = Create(user);
  svc().AddListener(&recorder);
  const Session patched =
      PatchState(svc(), user, s.id, R"({"temp:x":{"t":1},"step":2})");
  PatchState(svc(), user, s.id, R"({"temp:only":true})");
  svc().RemoveListener(&recorder);

  EXPECT_JSON_EQ(patched.state, R"({"step":2})");
  const auto live = recorder.deltas();
  ASSERT_EQ(live.size(), 2u);
  EXPECT_JSON_EQ(live.begin()->second,
                 R"({"delta":{"temp:x":{"t":1},"step":2}})");
  EXPECT_JSON_EQ(live.rbegin()->second, R"({"delta":{"temp:only":true}})");
  // The log holds the stored form: same seqs, no temp: keys; a temp:-only
  // patch leaves an empty delta so that seqs stay gapless.
  std::map<std::int64_t, std::string> stored;
  for (const Event& e : AllEvents(user, s.id)) {
    if (e.type == "state.delta") stored[e.seq] = e.data;
  }
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored.begin()->first, live.begin()->first);
  EXPECT_JSON_EQ(stored.begin()->second, R"({"delta":{"step":2}})");
  EXPECT_JSON_EQ(stored.rbegin()->second, R"({"delta":{}})");
  EXPECT_JSON_EQ(Get(user, s.id).state, R"({"step":2})");
  EXPECT_JSON_EQ(Must(store().GetUserState(user)), "{}");
  ExpectConsistent(user, s.id);
}

TEST_P(StoreConformanceTest, EraseUserRemovesTheUsersState) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  PatchState(svc(), user, Create(user).id, R"({"user:a":1})");
  PatchState(svc(), other, Create(other).id, R"({"user:b":2})");
  Must(svc().EraseUser(user));
  EXPECT_JSON_EQ(Must(store().GetUserState(user)), "{}");
  EXPECT_JSON_EQ(Must(store().GetUserState(other)), R"({"user:b":2})");
  // A new session of the erased user starts from nothing.
  EXPECT_JSON_EQ(Create(user).state, "{}");
}

TEST_P(StoreConformanceTest, UserStatesScanAndPutRoundTrip) {
  std::map<std::string, std::string> put;
  for (int i = 0; i < 5; ++i) {
    const std::string user = NewUser() + "-" + std::to_string(i);
    put[user] = R"({"user:i":)" + std::to_string(i) + "}";
    MustOk(store().PutUserState(user, put[user]));
  }
  const std::string cleared = NewUser() + "-cleared";
  MustOk(store().PutUserState(cleared, R"({"user:x":1})"));
  MustOk(store().PutUserState(cleared, "{}"));  // removes it

  std::map<std::string, std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    UserStateScanPage page = Must(store().ScanUserStates(cursor, 2));
    for (UserState& u : page.users) seen[u.user_id] = u.state;
    if (page.next_cursor.empty()) break;
    cursor = page.next_cursor;
  }
  EXPECT_EQ(seen.size(), put.size());
  for (const auto& [user, state] : put) {
    ASSERT_TRUE(seen.contains(user)) << user;
    EXPECT_JSON_EQ(seen[user], state);
    EXPECT_JSON_EQ(Must(store().GetUserState(user)), state);
  }
  EXPECT_FALSE(seen.contains(cleared));
  EXPECT_JSON_EQ(Must(store().GetUserState(cleared)), "{}");
  EXPECT_EQ(CodeOf(store().ScanUserStates("", 0)), "InvalidArgument");
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreConformanceTest, ::testing::ValuesIn(AllBackends()),
    [](const ::testing::TestParamInfo<BackendParam>& info) {
      return info.param.name;
    });
// The same promises hold through the encryption-at-rest decorator, except
// that search answers "disabled" (checked wherever a test searches).
INSTANTIATE_TEST_SUITE_P(
    AtRest, StoreConformanceTest, ::testing::ValuesIn(EncryptedBackends()),
    [](const ::testing::TestParamInfo<BackendParam>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace chatstore::conformance
