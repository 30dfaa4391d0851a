// Tests of what is specific to the postgres backend, against a real server
// that the test starts itself: several threads and several store instances
// appending to one session, schema migrations from an older database and
// under concurrent opens, a server outage and recovery, and erasure that
// leaves no row behind. The behaviour every backend shares is the
// conformance suite's.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/ids.h"
#include "chatstore/store.h"
#include "core/mutations.h"
#include "store/postgres/conninfo.h"
#include "store/postgres/schema.h"
#include "support/postgres_server.h"

namespace chatstore {
namespace {

using ::chatstore::testing::PostgresServer;
using ::chatstore::testing::SharedPostgresServer;
using namespace std::chrono_literals;
using Stopwatch = std::chrono::steady_clock;

template <typename T>
std::string Why(const Result<T>& r) {
  return r.status().ToString();
}

std::shared_ptr<Store> Open(const std::string& uri,
                            const StoreOptions& options = {}) {
  Result<std::shared_ptr<Store>> r = OpenStore(uri, options);
  EXPECT_TRUE(r.ok()) << Why(r);
  return r.ok() ? *r : nullptr;
}

core::WriteContext Ctx(const std::string& user) {
  core::WriteContext ctx;
  ctx.user_id = user;
  return ctx;
}

std::string CreateSession(Store& store, const std::string& user,
                          const std::string& title = "t",
                          bool persistent = true) {
  Session row;
  row.id = NewSessionId(SystemClock()->Now(), persistent);
  row.user_id = user;
  row.title = title;
  row.persistent = persistent;
  Result<WriteBatch> r =
      store.ApplySync(core::CreateSession(Ctx(user), std::move(row)));
  EXPECT_TRUE(r.ok()) << Why(r);
  return r.ok() ? r->session.id : "";
}

std::shared_ptr<const Mutation> OneEvent(const std::string& user,
                                         const std::string& session_id,
                                         const std::string& data) {
  Event e;
  e.type = "test.tick";
  e.data = data;
  return core::AppendEvents(Ctx(user), session_id, {e});
}

std::string AddMessage(Store& store, const std::string& user,
                       const std::string& session_id,
                       const std::string& content) {
  Message draft;
  draft.id = NewId(SystemClock()->Now());
  draft.role = Role::kUser;
  draft.content = content;
  draft.status = MessageStatus::kComplete;
  Result<WriteBatch> r =
      store.ApplySync(core::AddMessage(Ctx(user), session_id, draft));
  EXPECT_TRUE(r.ok()) << Why(r);
  return draft.id;
}

// Every event of the session, paging through ReadEvents.
std::vector<Event> AllEvents(Store& store, const std::string& session_id) {
  std::vector<Event> all;
  for (;;) {
    Result<std::vector<Event>> page =
        store.ReadEvents(session_id, all.empty() ? 0 : all.back().seq, 100);
    EXPECT_TRUE(page.ok()) << Why(page);
    if (!page.ok() || page->empty()) return all;
    all.insert(all.end(), page->begin(), page->end());
  }
}

void ExpectGapless(const std::vector<Event>& events, std::int64_t count) {
  ASSERT_EQ(static_cast<std::int64_t>(events.size()), count);
  for (std::int64_t i = 0; i < count; ++i) {
    ASSERT_EQ(events[static_cast<std::size_t>(i)].seq, i + 1);
  }
}

std::string NewUser() { return "user-" + NewId(SystemClock()->Now()); }

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { uri_ = SharedPostgresServer().CreateDatabase(); }
  void TearDown() override { SharedPostgresServer().DropDatabase(uri_); }

  std::string Query(const std::string& sql) {
    return SharedPostgresServer().Query(uri_.substr(uri_.rfind('/') + 1), sql);
  }

  std::string uri_;
};

TEST_F(PostgresStoreTest, EightThreadsAppendGaplessInDoneOrder) {
  std::shared_ptr<Store> store = Open(uri_);
  ASSERT_TRUE(store);
  const std::string user = NewUser();
  const std::string id = CreateSession(*store, user);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::mutex mu;
  std::vector<std::int64_t> done_order;  // last seq of each batch, as called
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store->Apply(OneEvent(user, id, "{\"t\":" + std::to_string(t) + "}"),
                     [&](Result<WriteBatch> r) {
                       if (!r.ok()) {
                         ++failures;
                         return;
                       }
                       std::lock_guard lock(mu);
                       done_order.push_back(r->session.last_seq);
                     });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ExpectGapless(AllEvents(*store, id), 1 + kThreads * kPerThread);
  // Store::Apply's promise: callbacks of one session in seq order.
  ASSERT_EQ(done_order.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (std::size_t i = 0; i < done_order.size(); ++i) {
    EXPECT_EQ(done_order[i], static_cast<std::int64_t>(i) + 2);
  }
  Result<Session> s = store->GetSession(id);
  ASSERT_TRUE(s.ok()) << Why(s);
  EXPECT_EQ(s->last_seq, 1 + kThreads * kPerThread);
}

// Two store objects are two chatstored instances: only the row lock in the
// database keeps them apart.
TEST_F(PostgresStoreTest, TwoInstancesAppendGapless) {
  std::shared_ptr<Store> a = Open(uri_);
  std::shared_ptr<Store> b = Open(uri_);
  ASSERT_TRUE(a && b);
  const std::string user = NewUser();
  const std::string id = CreateSession(*a, user);
  constexpr int kThreadsPerStore = 4;
  constexpr int kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    Store& store = t % 2 == 0 ? *a : *b;
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Result<WriteBatch> r = store.ApplySync(
            OneEvent(user, id, "{\"t\":" + std::to_string(t) + "}"));
        if (!r.ok()) {
          ADD_FAILURE() << Why(r);
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ExpectGapless(AllEvents(*b, id), 1 + 2 * kThreadsPerStore * kPerThread);
}

TEST_F(PostgresStoreTest, ConcurrentCreatesOfOneIdFromTwoInstances) {
  std::shared_ptr<Store> a = Open(uri_);
  std::shared_ptr<Store> b = Open(uri_);
  ASSERT_TRUE(a && b);
  const std::string user = NewUser();
  Session row;
  row.id = NewSessionId(SystemClock()->Now(), true);
  row.user_id = user;
  auto create = core::CreateSession(Ctx(user), row);
  Result<WriteBatch> ra = Status::Internal("not run");
  Result<WriteBatch> rb = Status::Internal("not run");
  std::thread ta([&] { ra = a->ApplySync(create); });
  std::thread tb([&] { rb = b->ApplySync(create); });
  ta.join();
  tb.join();
  EXPECT_NE(ra.ok(), rb.ok()) << Why(ra) << " / " << Why(rb);
  const Result<WriteBatch>& loser = ra.ok() ? rb : ra;
  EXPECT_EQ(loser.status().code(), Status::Code::kAlreadyExists) << Why(loser);
  ExpectGapless(AllEvents(*a, row.id), 1);
}

TEST_F(PostgresStoreTest, UpgradesADatabaseAtMigrationOne) {
  Result<postgres::ConnSettings> settings = postgres::ParseUri(uri_);
  ASSERT_TRUE(settings.ok());
  ASSERT_TRUE(postgres::MigrateTo(settings->conninfo, 1).ok());
  EXPECT_EQ(Query("SELECT string_agg(version::text, ',' ORDER BY version)"
                  " FROM schema_migrations"),
            "1");
  // Rows written by a chatstore that knew only migration 1.
  Query(
      "INSERT INTO sessions VALUES ('s-old', 'u-old', 'old', 'active', '{}',"
      " '{}', true, 1, 2, 1000, 2000, NULL);"
      "INSERT INTO messages VALUES ('s-old', 2, 'm-old', 'user',"
      " 'The Zebra crossed', 'complete', '{}', 3, 2000, 2000);"
      "INSERT INTO events VALUES ('s-old', 1, 'session.created', '{}', 1000),"
      " ('s-old', 2, 'message.created', '{}', 2000);");

  std::shared_ptr<Store> store = Open(uri_);
  ASSERT_TRUE(store);
  std::string every_version = "1";
  for (int v = 2; v <= postgres::kSchemaVersion; ++v) {
    every_version += "," + std::to_string(v);
  }
  EXPECT_EQ(Query("SELECT string_agg(version::text, ',' ORDER BY version)"
                  " FROM schema_migrations"),
            every_version);
  // The sweeper's indexes came with the upgrade.
  EXPECT_EQ(Query("SELECT string_agg(indexname, ',' ORDER BY indexname)"
                  " FROM pg_indexes WHERE tablename = 'sessions' AND indexname"
                  " IN ('sessions_by_activity', 'sessions_never_used')"),
            "sessions_by_activity,sessions_never_used");
  Result<SearchPage> hits = store->Search("u-old", "zebra", std::nullopt, 10);
  ASSERT_TRUE(hits.ok()) << Why(hits);
  ASSERT_EQ(hits->hits.size(), 1u);
  EXPECT_EQ(hits->hits[0].message_id, "m-old");
  EXPECT_EQ(hits->hits[0].snippet, "The [Zebra] crossed");
  // And the old session takes new writes after its old ones.
  Result<WriteBatch> r = store->ApplySync(OneEvent("u-old", "s-old", "{}"));
  ASSERT_TRUE(r.ok()) << Why(r);
  EXPECT_EQ(r->events[0].seq, 3);
}

TEST_F(PostgresStoreTest, ConcurrentOpensOfANewDatabaseMigrateOnce) {
  constexpr int kOpeners = 6;
  std::vector<Status> results(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      Result<std::shared_ptr<Store>> r = OpenStore(uri_);
      results[static_cast<std::size_t>(i)] = r.status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(postgres::kSchemaVersion));
}

TEST_F(PostgresStoreTest, RefusesADatabaseFromANewerChatstore) {
  ASSERT_TRUE(Open(uri_));
  Query("INSERT INTO schema_migrations (version) VALUES (999)");
  Result<std::shared_ptr<Store>> r = OpenStore(uri_);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << Why(r);
}

TEST_F(PostgresStoreTest, DeleteSessionAndDeleteUserLeaveNoRow) {
  std::shared_ptr<Store> store = Open(uri_);
  ASSERT_TRUE(store);
  const std::string marker =
      "marker" + std::to_string(getpid()) + "x" +
      std::to_string(Stopwatch::now().time_since_epoch().count());
  const std::string user = NewUser();
  const std::string first = CreateSession(*store, user, marker);
  AddMessage(*store, user, first, "hello " + marker);
  ASSERT_TRUE(
      store->ApplySync(OneEvent(user, first, "{\"m\":\"" + marker + "\"}"))
          .ok());
  const std::string second = CreateSession(*store, user, marker);
  AddMessage(*store, user, second, marker + " one");
  AddMessage(*store, user, second, marker + " two");
  ASSERT_TRUE(store->PutPreferences(user, Preferences{false}).ok());
  const auto rows_with_marker = [&] {
    return Query(
        "SELECT (SELECT count(*) FROM sessions WHERE title LIKE '%" + marker +
        "%') + (SELECT count(*) FROM messages WHERE content LIKE '%" + marker +
        "%') + (SELECT count(*) FROM events WHERE data LIKE '%" + marker +
        "%')");
  };
  ASSERT_NE(rows_with_marker(), "0");

  Result<EraseCounts> one = store->DeleteSession(first);
  ASSERT_TRUE(one.ok()) << Why(one);
  EXPECT_EQ(one->sessions, 1);
  EXPECT_EQ(one->messages, 1);
  EXPECT_EQ(one->events, 3);  // session.created, message.created, test.tick
  EXPECT_EQ(
      Query("SELECT count(*) FROM events WHERE session_id = '" + first + "'"),
      "0");
  EXPECT_TRUE(store->GetSession(first).status().IsNotFound());
  EXPECT_TRUE(store->DeleteSession(first).status().IsNotFound());

  Result<EraseCounts> all = store->DeleteUser(user);
  ASSERT_TRUE(all.ok()) << Why(all);
  EXPECT_EQ(all->sessions, 1);
  EXPECT_EQ(all->messages, 2);
  EXPECT_EQ(all->events, 3);
  EXPECT_EQ(rows_with_marker(), "0");
  EXPECT_EQ(
      Query("SELECT count(*) FROM sessions WHERE user_id = '" + user + "'"),
      "0");
  EXPECT_EQ(
      Query("SELECT count(*) FROM preferences WHERE user_id = '" + user + "'"),
      "0");
  EXPECT_TRUE(store->GetPreferences(user).status().IsNotFound());
}

TEST_F(PostgresStoreTest, SearchMatchesWordsAsEveryBackendSplitsThem) {
  std::shared_ptr<Store> store = Open(uri_);
  ASSERT_TRUE(store);
  const std::string user = NewUser();
  const std::string id = CreateSession(*store, user);
  AddMessage(*store, user, id, "Pi is 3.14, see https://example.com/a_b");
  AddMessage(*store, user, id, "foo-bar and Grüße");
  const auto snippets = [&](const std::string& q) {
    std::vector<std::string> out;
    Result<SearchPage> page = store->Search(user, q, std::nullopt, 10);
    EXPECT_TRUE(page.ok()) << Why(page);
    if (page.ok()) {
      for (const SearchHit& h : page->hits) out.push_back(h.snippet);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(snippets("14"), V{"Pi is 3.[14], see https://example.com/a_b"});
  EXPECT_EQ(snippets("EXAMPLE b"),
            V{"Pi is 3.14, see https://[example].com/a_[b]"});
  EXPECT_EQ(snippets("bar foo"), V{"[foo]-[bar] and Grüße"});
  EXPECT_EQ(snippets("grüße"), V{"foo-bar and [Grüße]"});
  EXPECT_EQ(snippets("foo zebra"), V{});
  EXPECT_EQ(store->Search(user, " -- ", std::nullopt, 10).status().code(),
            Status::Code::kInvalidArgument);
}

// An expired session reads as missing everywhere, its id can be taken
// again (the old rows go first), and the sweeper drops what is left.
TEST_F(PostgresStoreTest, ExpiredSessionsReadAsMissingAndAreSwept) {
  auto clock = std::make_shared<ManualClock>(FromMillis(1'800'000'000'000));
  StoreOptions options;
  options.clock = clock;
  std::shared_ptr<Store> store = Open(uri_, options);
  ASSERT_TRUE(store);
  const std::string user = NewUser();
  core::WriteContext ctx = Ctx(user);
  ctx.ephemeral_ttl = std::chrono::seconds(60);
  Session row;
  row.id = NewSessionId(clock->Now(), /*persistent=*/false);
  row.user_id = user;
  row.persistent = false;
  ASSERT_TRUE(store->ApplySync(core::CreateSession(ctx, row)).ok());
  const std::string kept = CreateSession(*store, user);  // persistent

  clock->Advance(61s);
  EXPECT_TRUE(store->GetSession(row.id).status().IsNotFound());
  EXPECT_TRUE(store->ReadEvents(row.id, 0, 10).status().IsNotFound());
  EXPECT_TRUE(
      store->ApplySync(OneEvent(user, row.id, "{}")).status().IsNotFound());
  Result<SessionPage> page = store->ListSessions(user, std::nullopt, {}, 10);
  ASSERT_TRUE(page.ok()) << Why(page);
  ASSERT_EQ(page->sessions.size(), 1u);
  EXPECT_EQ(page->sessions[0].id, kept);

  // The same id again: a new log from seq 1.
  Result<WriteBatch> again = store->ApplySync(core::CreateSession(ctx, row));
  ASSERT_TRUE(again.ok()) << Why(again);
  ExpectGapless(AllEvents(*store, row.id), 1);

  clock->Advance(61s);
  Result<SweepResult> swept =
      store->SweepSessions({SweepRule::kExpired, clock->Now(), 100});
  ASSERT_TRUE(swept.ok()) << Why(swept);
  EXPECT_EQ(swept->counts.sessions, 1);
  EXPECT_EQ(swept->counts.events, 1);
  EXPECT_EQ(Query("SELECT count(*) FROM sessions"), "1");
  EXPECT_TRUE(store->GetSession(kept).ok());
}

// Events travel as array literals (one INSERT per batch): text with
// quotes, backslashes, braces, commas and "NULL" must come back unchanged.
TEST_F(PostgresStoreTest, BatchOfEventsKeepsExactBytes) {
  std::shared_ptr<Store> store = Open(uri_);
  ASSERT_TRUE(store);
  const std::string user = NewUser();
  const std::string id = CreateSession(*store, user);
  const std::vector<std::string> data = {
      R"({"q":"say \"hi\"","b":"back\\slash"})", R"({"a":[1,2,{"c":null}]})",
      R"("NULL")", R"({"u":"Grüße, 日本語 ✓"})", R"({})"};
  std::vector<Event> events;
  for (const std::string& d : data) {
    Event e;
    e.type = "test.bytes";
    e.data = d;
    events.push_back(e);
  }
  Result<WriteBatch> r =
      store->ApplySync(core::AppendEvents(Ctx(user), id, events));
  ASSERT_TRUE(r.ok()) << Why(r);
  const std::vector<Event> all = AllEvents(*store, id);
  ASSERT_EQ(all.size(), data.size() + 1);
  for (std::size_t i = 0; i < data.size(); ++i) {
    EXPECT_EQ(all[i + 1].data, data[i]);
    EXPECT_EQ(all[i + 1].type, "test.bytes");
  }
}

TEST(PostgresUriTest, AddsBoundedTimeoutsAndReadsPoolSize) {
  Result<postgres::ConnSettings> s =
      postgres::ParseUri("postgresql://u@h:5/db?pool_size=3&connect_timeout=9");
  ASSERT_TRUE(s.ok()) << Why(s);
  EXPECT_EQ(s->pool_size, 3u);
  EXPECT_TRUE(
      s->conninfo.starts_with("postgresql://u@h:5/db?connect_timeout=9&"))
      << s->conninfo;
  EXPECT_EQ(s->conninfo.find("pool_size"), std::string::npos);
  EXPECT_EQ(s->conninfo.find("connect_timeout=2"), std::string::npos);
  EXPECT_NE(s->conninfo.find("statement_timeout%3D5000"), std::string::npos);
  EXPECT_EQ(postgres::ParseUri("postgres://h/db?pool_size=0").status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(postgres::ParseUri("mysql://h/db").status().code(),
            Status::Code::kInvalidArgument);
}

// The outage runs on a server of its own: stopping the shared one would
// fail every other test.
TEST(PostgresOutageTest, AnswersUnavailableQuicklyAndRecovers) {
  PostgresServer server;
  std::shared_ptr<Store> store = Open(server.uri());
  ASSERT_TRUE(store);
  const std::string user = NewUser();
  const std::string id = CreateSession(*store, user);
  ASSERT_TRUE(store->ApplySync(OneEvent(user, id, "{}")).ok());

  server.Stop();
  const auto bounded = [](auto call) {
    const auto start = Stopwatch::now();
    Status s = call();
    const auto took = Stopwatch::now() - start;
    EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
    EXPECT_LT(took, 5s);
  };
  bounded([&] { return store->Ping(); });
  bounded([&] { return store->GetSession(id).status(); });
  bounded([&] { return store->ApplySync(OneEvent(user, id, "{}")).status(); });
  bounded([&] { return store->ReadEvents(id, 0, 10).status(); });

  // Many callers at once: none waits behind another's connect attempt.
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back(
        [&] { bounded([&] { return store->GetSession(id).status(); }); });
  }
  for (std::thread& t : threads) t.join();

  server.Start();
  // No reopen: the pool notices the dead connections and makes new ones.
  EXPECT_TRUE(store->Ping().ok());
  Result<WriteBatch> r = store->ApplySync(OneEvent(user, id, "{}"));
  ASSERT_TRUE(r.ok()) << Why(r);
  EXPECT_EQ(r->events[0].seq, 3);  // the failed append wrote nothing
  ExpectGapless(AllEvents(*store, id), 3);
}

// A restart while the store's connections sit idle: the first call after
// it must not fail on a dead pooled connection.
TEST(PostgresOutageTest, FirstCallAfterRestartSucceeds) {
  PostgresServer server;
  std::shared_ptr<Store> store = Open(server.uri());
  ASSERT_TRUE(store);
  const std::string user = NewUser();
  const std::string id = CreateSession(*store, user);
  server.Restart();
  Result<Session> s = store->GetSession(id);
  EXPECT_TRUE(s.ok()) << Why(s);
  Result<WriteBatch> r = store->ApplySync(OneEvent(user, id, "{}"));
  EXPECT_TRUE(r.ok()) << Why(r);
}

}  // namespace
}  // namespace chatstore
