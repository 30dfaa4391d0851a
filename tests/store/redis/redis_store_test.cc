// What only the Redis store promises, beyond the conformance suite: the
// optimistic compare-and-set keeps seqs gapless when several threads and
// several store objects (as two chatstored instances would) write one
// session; every key carries its session's hash tag; ephemeral sessions'
// keys have a TTL; an outage answers Unavailable quickly and the store
// recovers by itself; deletions leave nothing behind.
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "gtest/gtest.h"
#include "store/redis/redis_connection.h"
#include "support/redis_inspector.h"
#include "support/redis_server.h"

namespace chatstore {
namespace {

using namespace std::chrono_literals;
using Inspector = testing::RedisInspector;
using testing::RedisServer;
using testing::SharedRedisServer;

// Records what a service published, per session, to check that callbacks
// arrive in seq order.
class SeqRecorder final : public CommitListener {
 public:
  void OnCommit(const Session& session,
                const std::vector<Event>& events) override {
    std::lock_guard lock(mu_);
    for (const Event& e : events) seqs_.push_back(e.seq);
  }
  std::vector<std::int64_t> seqs() {
    std::lock_guard lock(mu_);
    return seqs_;
  }

 private:
  std::mutex mu_;
  std::vector<std::int64_t> seqs_;
};

std::shared_ptr<Store> MustOpen(const std::string& uri,
                                std::shared_ptr<Clock> clock) {
  StoreOptions options;
  options.clock = std::move(clock);
  Result<std::shared_ptr<Store>> store = OpenStore(uri, options);
  if (!store.ok()) throw std::runtime_error(store.status().ToString());
  return *store;
}

std::unique_ptr<SessionService> MakeService(std::shared_ptr<Store> store,
                                            std::shared_ptr<Clock> clock) {
  ServiceOptions options;
  options.clock = std::move(clock);
  options.ephemeral_ttl = 60s;
  return std::make_unique<SessionService>(store, store, options);
}

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = &SharedRedisServer();
    server_->FlushAll();
    clock_ = SystemClock();
    store_ = MustOpen(server_->uri(), clock_);
    svc_ = MakeService(store_, clock_);
    inspect_ = std::make_unique<Inspector>(server_->port());
  }

  std::string NewUser() { return "user-" + NewId(clock_->Now()); }

  Session Create(SessionService& svc, const std::string& user,
                 bool persistent = true) {
    CreateSessionRequest request;
    request.title = "t";
    request.persistent = persistent;
    Result<Session> s = svc.CreateSession(user, request);
    if (!s.ok()) throw std::runtime_error(s.status().ToString());
    return *s;
  }

  Message Say(const std::string& user, const std::string& sid,
              const std::string& content,
              MessageStatus status = MessageStatus::kComplete) {
    NewMessage m;
    m.role = Role::kUser;
    m.content = content;
    m.status = status;
    Result<Message> r = svc_->AddMessage(user, sid, m);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return *r;
  }

  // Checks the log is exactly seqs 1..last_seq.
  void ExpectGapless(const std::string& sid, std::int64_t expected_last) {
    Result<Session> s = store_->GetSession(sid);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->last_seq, expected_last);
    Result<std::vector<Event>> events =
        store_->ReadEvents(sid, 0, static_cast<int>(expected_last) + 10);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(static_cast<std::int64_t>(events->size()), expected_last);
    for (std::size_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*events)[i].seq, static_cast<std::int64_t>(i) + 1);
    }
  }

  RedisServer* server_ = nullptr;
  std::shared_ptr<Clock> clock_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<SessionService> svc_;
  std::unique_ptr<Inspector> inspect_;
};

void ExpectIncreasing(const std::vector<std::int64_t>& seqs) {
  for (std::size_t i = 1; i < seqs.size(); ++i) {
    ASSERT_LT(seqs[i - 1], seqs[i]) << "callbacks out of seq order at " << i;
  }
}

TEST_F(RedisStoreTest, EightThreadsAppendingToOneSessionGetGaplessSeqs) {
  SeqRecorder recorder;
  svc_->AddListener(&recorder);
  const std::string user = NewUser();
  const Session s = Create(*svc_, user);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Result<SeqRange> r = svc_->AppendEvents(
            user, s.id, {{"test.x", "{\"t\":" + std::to_string(t) + "}"}});
        if (!r.ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  svc_->RemoveListener(&recorder);
  EXPECT_EQ(failures.load(), 0);
  ExpectGapless(s.id, 1 + kThreads * kPerThread);
  const std::vector<std::int64_t> seqs = recorder.seqs();
  // session.created, then every append.
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(1 + kThreads * kPerThread));
  ExpectIncreasing(seqs);
}

// Two store objects on one server contend only through the Lua CAS, like
// two chatstored processes. Deltas into one streaming message check that a
// retried Prepare sees the message row as the winner left it: the content
// must be every delta, in log order.
TEST_F(RedisStoreTest, TwoStoreObjectsAppendingToOneSessionStayConsistent) {
  std::shared_ptr<Store> other = MustOpen(server_->uri(), clock_);
  std::unique_ptr<SessionService> other_svc = MakeService(other, clock_);
  SeqRecorder rec_a, rec_b;
  svc_->AddListener(&rec_a);
  other_svc->AddListener(&rec_b);
  const std::string user = NewUser();
  const Session s = Create(*svc_, user);
  const Message m = Say(user, s.id, "", MessageStatus::kStreaming);

  constexpr int kThreadsPerStore = 4;
  constexpr int kPerThread = 30;
  const long long evals_before = inspect_->EvalshaCalls();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    SessionService* svc = t % 2 == 0 ? svc_.get() : other_svc.get();
    threads.emplace_back([&, svc, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Status st;
        if (i % 2 == 0) {
          st = svc->AppendDelta(
                      user, s.id, m.id,
                      "<" + std::to_string(t) + "." + std::to_string(i) + ">")
                   .status();
        } else {
          st = svc->AppendEvents(user, s.id, {{"test.x", "{}"}}).status();
        }
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << st.ToString();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  svc_->RemoveListener(&rec_a);
  other_svc->RemoveListener(&rec_b);
  EXPECT_EQ(failures.load(), 0);
  const std::int64_t total = 2 + 2 * kThreadsPerStore * kPerThread;
  ExpectGapless(s.id, total);
  ExpectIncreasing(rec_a.seqs());
  ExpectIncreasing(rec_b.seqs());
  // Each event was published once, by the store object that wrote it.
  EXPECT_EQ(rec_a.seqs().size() + rec_b.seqs().size(),
            static_cast<std::size_t>(total));

  // Every refused compare-and-set is one extra EVALSHA; reported, not
  // asserted, since how often the two stores collide depends on timing.
  const long long conflicts =
      inspect_->EvalshaCalls() - evals_before - (total - 2);
  RecordProperty("cas_conflicts", std::to_string(conflicts));
  std::printf("CAS conflicts retried: %lld\n", conflicts);

  // The message content is the deltas in seq order, each exactly once.
  Result<std::vector<Event>> log = store_->ReadEvents(s.id, 0, 10000);
  ASSERT_TRUE(log.ok());
  std::string expected;
  for (const Event& e : *log) {
    if (e.type != "message.delta") continue;
    const auto at = e.data.find("\"delta\":\"");
    ASSERT_NE(at, std::string::npos) << e.data;
    const auto end = e.data.find('"', at + 9);
    expected += e.data.substr(at + 9, end - at - 9);
  }
  Result<Message> row = store_->GetMessage(s.id, m.id);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->content, expected);
}

TEST_F(RedisStoreTest, EveryKeyOfASessionCarriesItsHashTag) {
  const std::string user = NewUser();
  const Session s = Create(*svc_, user);
  const Session eph = Create(*svc_, user, /*persistent=*/false);
  Say(user, s.id, "hello there");
  Say(user, eph.id, "hello again");
  ASSERT_TRUE(svc_->AppendEvents(user, s.id, {{"test.x", "{}"}}).ok());
  ASSERT_TRUE(store_->PutPreferences(user, Preferences{false}).ok());

  int session_keys = 0;
  for (const std::string& key : inspect_->Keys()) {
    SCOPED_TRACE(key);
    for (const std::string& sid : {s.id, eph.id}) {
      if (key.find(sid) != std::string::npos) {
        EXPECT_TRUE(key.starts_with("cs:{" + sid + "}:"));
        ++session_keys;
      }
    }
    if (key.find(user) != std::string::npos) {
      EXPECT_TRUE(key.starts_with("cs:u:{" + user + "}:"));
    }
    // Nothing outside the documented layout (docs/redis.md).
    EXPECT_TRUE(key.starts_with("cs:{") || key.starts_with("cs:u:{") ||
                key == "cs:expiry" || key == "cs:stats" ||
                key == "cs:activity" || key == "cs:never-used");
  }
  EXPECT_EQ(session_keys, 8);  // s, ev, m, mi for each session
}

// The sweeper's work lists follow every write and deletion: cs:activity
// holds persistent sessions by updated_at, cs:never-used sessions without a
// message by created_at.
TEST_F(RedisStoreTest, SweepSortedSetsFollowWritesAndDeletes) {
  auto score = [&](const char* set, const std::string& id) {
    redis::Reply r = inspect_->Run({"ZSCORE", set, id});
    return r->type == REDIS_REPLY_NIL ? std::string("none")
                                      : std::string(r->str, r->len);
  };
  const std::string user = NewUser();
  const Session s = Create(*svc_, user);
  const Session eph = Create(*svc_, user, /*persistent=*/false);
  const std::string created = std::to_string(ToMillis(s.created_at));
  EXPECT_EQ(score("cs:activity", s.id), created);
  EXPECT_EQ(score("cs:never-used", s.id), created);
  EXPECT_EQ(score("cs:activity", eph.id), "none");
  EXPECT_EQ(score("cs:never-used", eph.id),
            std::to_string(ToMillis(eph.created_at)));
  Say(user, s.id, "used now");
  const Session after = *store_->GetSession(s.id);
  EXPECT_EQ(score("cs:activity", s.id),
            std::to_string(ToMillis(after.updated_at)));
  EXPECT_EQ(score("cs:never-used", s.id), "none");
  ASSERT_TRUE(svc_->DeleteSession(user, eph.id).ok());
  ASSERT_TRUE(svc_->DeleteSession(user, s.id).ok());
  EXPECT_EQ(score("cs:activity", s.id), "none");
  EXPECT_EQ(score("cs:never-used", eph.id), "none");
}

TEST_F(RedisStoreTest, EphemeralSessionKeysExpireAndPersistentOnesDoNot) {
  const std::string user = NewUser();
  const Session eph = Create(*svc_, user, /*persistent=*/false);
  const Session kept = Create(*svc_, user);
  Say(user, eph.id, "bye soon");
  Say(user, kept.id, "stay");
  for (const char* suffix : {"s", "ev", "m", "mi"}) {
    const long long ttl =
        inspect_->Ttl("cs:{" + eph.id + "}:" + std::string(suffix));
    EXPECT_GT(ttl, 60) << suffix;  // past expires_at: the sweeper's margin
    EXPECT_LE(ttl, 60 + 3600) << suffix;
    EXPECT_EQ(inspect_->Ttl("cs:{" + kept.id + "}:" + std::string(suffix)), -1)
        << suffix;
  }
  redis::Reply score = inspect_->Run({"ZSCORE", "cs:expiry", eph.id});
  ASSERT_EQ(score->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::stoll(std::string(score->str, score->len)),
            ToMillis(*store_->GetSession(eph.id)->expires_at));
}

TEST_F(RedisStoreTest, DeleteSessionLeavesNoTrace) {
  const std::string user = NewUser();
  const std::string marker = "zqxmarker" + NewId(clock_->Now()).substr(24);
  const Session keep = Create(*svc_, user);
  const Session s = Create(*svc_, user, /*persistent=*/false);
  Say(user, s.id, "one " + marker);
  Say(user, s.id, "two " + marker);
  Say(user, keep.id, "unrelated");
  ASSERT_TRUE(
      svc_->AppendEvents(user, s.id, {{"test.x", "{\"m\":\"" + marker + "\"}"}})
          .ok());
  ASSERT_EQ(store_->Search(user, marker, std::nullopt, 10)->hits.size(), 2u);

  Result<EraseCounts> counts = store_->DeleteSession(s.id);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->sessions, 1);
  EXPECT_EQ(counts->messages, 2);
  EXPECT_EQ(counts->events, 4);
  const std::string dump = inspect_->DumpAll();
  EXPECT_EQ(dump.find(s.id), std::string::npos) << dump;
  EXPECT_EQ(dump.find(marker), std::string::npos) << dump;
  EXPECT_NE(dump.find(keep.id), std::string::npos);

  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->sessions, 1);
  EXPECT_EQ(stats->messages, 1);
  EXPECT_EQ(stats->events, 2);
  EXPECT_GT(stats->bytes, 0);
}

TEST_F(RedisStoreTest, DeleteUserLeavesNoTrace) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  const std::string marker = "zqxmarker" + NewId(clock_->Now()).substr(24);
  std::vector<std::string> sids;
  for (bool persistent : {true, false, true}) {
    const Session s = Create(*svc_, user, persistent);
    Say(user, s.id, "hi " + marker);
    sids.push_back(s.id);
  }
  SessionPatch archive;
  archive.status = SessionStatus::kArchived;
  ASSERT_TRUE(svc_->UpdateSession(user, sids[0], archive).ok());
  ASSERT_TRUE(store_->PutPreferences(user, Preferences{false}).ok());
  const Session theirs = Create(*svc_, other);

  Result<EraseCounts> counts = store_->DeleteUser(user);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->sessions, 3);
  EXPECT_EQ(counts->messages, 3);
  EXPECT_EQ(counts->events, 7);  // 3 created + 3 messages + 1 update
  const std::string dump = inspect_->DumpAll();
  EXPECT_EQ(dump.find(user), std::string::npos) << dump;
  EXPECT_EQ(dump.find(marker), std::string::npos) << dump;
  for (const std::string& sid : sids) {
    EXPECT_EQ(dump.find(sid), std::string::npos) << dump;
  }
  EXPECT_NE(dump.find(theirs.id), std::string::npos);
  EXPECT_TRUE(store_->GetPreferences(user).status().IsNotFound());
}

// Expiry follows the injected clock, whatever Redis's own clock says: a
// session past expires_at reads as missing while its keys still exist, and
// the sweep removes it with everything that points at it.
TEST_F(RedisStoreTest, ExpiryFollowsTheInjectedClockAndSweepLeavesNoTrace) {
  auto clock = std::make_shared<ManualClock>(FromMillis(1'800'000'000'000));
  std::shared_ptr<Store> store = MustOpen(server_->uri(), clock);
  std::unique_ptr<SessionService> svc = MakeService(store, clock);
  const std::string user = NewUser();
  const Session s = Create(*svc, user, /*persistent=*/false);
  NewMessage m;
  m.content = "ephemeral words";
  ASSERT_TRUE(svc->AddMessage(user, s.id, m).ok());
  clock->Advance(61s);
  EXPECT_TRUE(store->GetSession(s.id).status().IsNotFound());
  EXPECT_TRUE(store->ListSessions(user, std::nullopt, std::nullopt, 10)
                  ->sessions.empty());
  EXPECT_TRUE(store->Search(user, "words", std::nullopt, 10)->hits.empty());
  EXPECT_FALSE(inspect_->Keys("cs:{" + s.id + "}:*").empty());

  Result<SweepResult> swept =
      store->SweepSessions({SweepRule::kExpired, clock->Now(), 100});
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->counts.sessions, 1);
  EXPECT_EQ(swept->counts.messages, 1);
  EXPECT_EQ(swept->counts.events, 2);
  const std::string dump = inspect_->DumpAll();
  EXPECT_EQ(dump.find(s.id), std::string::npos) << dump;
}

// An index entry whose session Redis already dropped (EXPIRE reclaimed it
// before the sweeper ran) is skipped by readers and cleaned up.
TEST_F(RedisStoreTest, ReadersSkipSessionsRedisAlreadyDropped) {
  const std::string user = NewUser();
  const Session gone = Create(*svc_, user, /*persistent=*/false);
  const Session live = Create(*svc_, user);
  Say(user, gone.id, "vanishing words");
  Say(user, live.id, "staying words");
  inspect_->Run({"DEL", "cs:{" + gone.id + "}:s", "cs:{" + gone.id + "}:ev",
                 "cs:{" + gone.id + "}:m", "cs:{" + gone.id + "}:mi"});
  Result<SessionPage> page =
      store_->ListSessions(user, std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->sessions.size(), 1u);
  EXPECT_EQ(page->sessions[0].id, live.id);
  Result<SearchPage> hits = store_->Search(user, "words", std::nullopt, 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->hits.size(), 1u);
  EXPECT_EQ(hits->hits[0].session_id, live.id);
  const std::string dump = inspect_->DumpAll();
  EXPECT_EQ(dump.find(gone.id), std::string::npos) << dump;
}

TEST_F(RedisStoreTest, LostScriptCacheIsReloaded) {
  const std::string user = NewUser();
  const Session s = Create(*svc_, user);
  inspect_->Run({"SCRIPT", "FLUSH"});
  ASSERT_TRUE(svc_->AppendEvents(user, s.id, {{"test.x", "{}"}}).ok());
  ASSERT_TRUE(store_->DeleteSession(s.id).ok());
}

// Stop the server: every call answers Unavailable within a bounded time.
// Start it again on the same port: the same store object works again (new
// connections, scripts loaded again on NOSCRIPT) without being reopened.
TEST(RedisOutageTest, UnavailableWhileDownAndRecoversWithoutReopening) {
  RedisServer server;
  std::shared_ptr<Clock> clock = SystemClock();
  std::shared_ptr<Store> store = MustOpen(server.uri(), clock);
  std::unique_ptr<SessionService> svc = MakeService(store, clock);
  const std::string user = "user-" + NewId(clock->Now());
  CreateSessionRequest request;
  Result<Session> s = svc->CreateSession(user, request);
  ASSERT_TRUE(s.ok());

  server.Stop();
  auto timed = [](auto&& call) {
    const auto start = std::chrono::steady_clock::now();
    Status st = call();
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 5s);
    return st;
  };
  EXPECT_TRUE(timed([&] { return store->Ping(); }).IsUnavailable());
  EXPECT_TRUE(
      timed([&] { return store->GetSession(s->id).status(); }).IsUnavailable());
  EXPECT_TRUE(
      timed([&] {
        return svc->AppendEvents(user, s->id, {{"test.x", "{}"}}).status();
      }).IsUnavailable());
  EXPECT_TRUE(timed([&] {
                return store->ListSessions(user, std::nullopt, std::nullopt, 5)
                    .status();
              }).IsUnavailable());
  EXPECT_TRUE(timed([&] {
                return svc->CreateSession(user, request).status();
              }).IsUnavailable());

  server.Start();
  // The server keeps no data (--save ""), so the old session is gone; the
  // store must work again as it is.
  ASSERT_TRUE(store->Ping().ok());
  Result<Session> again = svc->CreateSession(user, request);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Result<SeqRange> r = svc->AppendEvents(user, again->id, {{"test.x", "{}"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->last_seq, 2);
  EXPECT_TRUE(store->DeleteSession(again->id).ok());
}

}  // namespace
}  // namespace chatstore
