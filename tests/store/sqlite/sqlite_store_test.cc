// Tests of what is specific to the sqlite backend: several processes on one
// file, durability across SIGKILL, schema migrations, group commit, pragmas
// and erasure. The behaviour every backend shares is the conformance suite's.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/store.h"
#include "store/sqlite/row_reader.h"
#include "store/sqlite/row_writer.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/test_mutations.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

namespace chatstore::sqlite_test {
namespace {

using ::chatstore::testing::TempDir;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

template <typename T>
std::string Why(const Result<T>& r) {
  return r.status().ToString();
}

Result<std::shared_ptr<Store>> Open(const std::string& path,
                                    const StoreOptions& options = {},
                                    std::string_view query = "") {
  return OpenStore("sqlite://" + path + std::string(query), options);
}

// Every event of the session, paging through ReadEvents.
Result<std::vector<Event>> ReadAllEvents(Store& store,
                                         const std::string& session_id) {
  std::vector<Event> all;
  for (;;) {
    const std::int64_t after = all.empty() ? 0 : all.back().seq;
    CHATSTORE_ASSIGN_OR_RETURN(auto page,
                               store.ReadEvents(session_id, after, 500));
    if (page.empty()) return all;
    all.insert(all.end(), page.begin(), page.end());
  }
}

// The log is exactly 1..last_seq, in order.
void ExpectGapless(const std::vector<Event>& events, std::int64_t last_seq) {
  ASSERT_EQ(static_cast<std::int64_t>(events.size()), last_seq);
  for (std::size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].seq, static_cast<std::int64_t>(i) + 1)
        << "at index " << i;
  }
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool FileContains(const std::string& path, std::string_view needle) {
  return FileBytes(path).find(needle) != std::string::npos;
}

// A direct connection to the file, for what the Store interface does not
// show (integrity checks, old schemas, user_version).
sqlite::Db RawOpen(const std::string& path) {
  auto db = sqlite::Db::Open(path, /*create=*/true, 10s);
  EXPECT_TRUE(db.ok()) << Why(db);
  return db.ok() ? std::move(*db) : sqlite::Db();
}

// A child process running sqlite_append_worker.
class Worker : public ::chatstore::testing::ChildProcess {
 public:
  explicit Worker(std::vector<std::string> args)
      : ChildProcess(SQLITE_APPEND_WORKER, std::move(args)) {}
};

// A mutation whose Prepare() holds the writer thread until released, so a
// test can line up the next group's tasks deterministically. Prepare() runs
// once: it tells `entered` that the writer is inside.
class GateMutation final : public SessionMutation {
 public:
  GateMutation(std::string session_id, std::promise<void>& entered,
               std::shared_future<void> open)
      : SessionMutation(std::move(session_id)),
        entered_(entered),
        open_(std::move(open)) {}

  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const override {
    entered_.set_value();
    open_.wait();
    return AppendTestEvent(session_id(), -1).Prepare(session, message, now);
  }

 private:
  std::promise<void>& entered_;
  std::shared_future<void> open_;
};

// ---- Several processes, crashes ---------------------------------------------

TEST(SqliteStoreTest, FourProcessesAppendToOneFileAtOnce) {
  TempDir dir;
  // The workers also create the file and run the migrations concurrently.
  const std::string path = dir.File("shared.db");
  constexpr int kWorkers = 4;
  constexpr int kAppends = 300;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.push_back(std::make_unique<Worker>(std::vector<std::string>{
        "append", path, "user-1", "shared", "own-" + std::to_string(w),
        std::to_string(kAppends)}));
  }
  const auto deadline = Clock::now() + 240s;
  for (int w = 0; w < kWorkers; ++w) {
    const int code = workers[w]->Finish(deadline);
    EXPECT_EQ(code, 0) << "worker " << w << ": " << workers[w]->output();
    EXPECT_EQ(workers[w]->output(), "done\n") << "worker " << w;
  }

  auto store = Open(path);
  ASSERT_TRUE(store.ok()) << Why(store);
  auto shared = (*store)->GetSession("shared");
  ASSERT_TRUE(shared.ok()) << Why(shared);
  // One session.created, then every worker's appends: none lost.
  EXPECT_EQ(shared->last_seq, 1 + kWorkers * kAppends);
  auto events = ReadAllEvents(**store, "shared");
  ASSERT_TRUE(events.ok()) << Why(events);
  ExpectGapless(*events, shared->last_seq);
  for (int w = 0; w < kWorkers; ++w) {
    const std::string own = "own-" + std::to_string(w);
    auto own_events = ReadAllEvents(**store, own);
    ASSERT_TRUE(own_events.ok()) << Why(own_events);
    ExpectGapless(*own_events, 1 + kAppends);
    // In order: the worker's own appends carry n = 0, 1, 2, ...
    for (int i = 0; i < kAppends; ++i) {
      ASSERT_EQ((*own_events)[i + 1].data, "{\"n\":" + std::to_string(i) + "}");
    }
  }
}

TEST(SqliteStoreTest, AcknowledgedAppendsSurviveSigkill) {
  TempDir dir;
  const std::string path = dir.File("crash.db");
  {
    auto store = Open(path);
    ASSERT_TRUE(store.ok()) << Why(store);
    auto r = (*store)->ApplySync(std::make_shared<CreateTestSession>("s", "u"));
    ASSERT_TRUE(r.ok()) << Why(r);
  }
  std::int64_t acked_total = 0;
  for (int cycle = 0; cycle < 4; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    const std::size_t kill_after = 40 + 60 * cycle;
    std::set<std::int64_t> acked;
    {
      Worker worker({"stream", path, "s", "4"});
      const auto deadline = Clock::now() + 60s;
      while (worker.Lines().size() < kill_after && worker.ReadSome(deadline)) {
      }
      ASSERT_GE(worker.Lines().size(), kill_after) << worker.output();
      worker.KillAndDrain(Clock::now() + 30s);
      for (const std::string& line : worker.Lines()) {
        ASSERT_FALSE(line.empty());
        ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(line[0])))
            << "worker said: " << worker.output();
        acked.insert(std::stoll(line));
      }
    }
    acked_total += static_cast<std::int64_t>(acked.size());

    auto store = Open(path);
    ASSERT_TRUE(store.ok()) << Why(store);
    auto session = (*store)->GetSession("s");
    ASSERT_TRUE(session.ok()) << Why(session);
    // Everything acknowledged is there (the log may hold a little more: a
    // commit can land just before the kill, unacknowledged).
    ASSERT_FALSE(acked.empty());
    EXPECT_LE(*acked.rbegin(), session->last_seq);
    auto events = ReadAllEvents(**store, "s");
    ASSERT_TRUE(events.ok()) << Why(events);
    ExpectGapless(*events, session->last_seq);
    EXPECT_GE(session->last_seq, 1 + acked_total);

    sqlite::Db raw = RawOpen(path);
    auto integrity = raw.QueryText("PRAGMA integrity_check");
    ASSERT_TRUE(integrity.ok()) << Why(integrity);
    EXPECT_EQ(*integrity, "ok");
    // The search index agrees with the messages it indexes.
    EXPECT_TRUE(raw.Exec("INSERT INTO messages_fts (messages_fts) "
                         "VALUES ('integrity-check')")
                    .ok());
  }
}

// ---- Schema -----------------------------------------------------------------

TEST(SqliteStoreTest, UpgradesAVersion1FileKeepingItsData) {
  TempDir dir;
  const std::string path = dir.File("old.db");
  {
    sqlite::Db raw = RawOpen(path);
    ASSERT_TRUE(sqlite::MigrateTo(raw, 1).ok());
    auto version = raw.QueryInt("PRAGMA user_version");
    ASSERT_TRUE(version.ok());
    ASSERT_EQ(*version, 1);
    // Written the way a version-1 chatstore wrote rows.
    ASSERT_TRUE(raw.Exec(R"sql(
      INSERT INTO sessions VALUES ('s1', 'u1', 'old', 'active', '{}', '{}', 1,
                                   2, 3, 1000, 3000, NULL);
      INSERT INTO messages (session_id, seq, id, role, content, status,
                            metadata, tokens, created_at, updated_at)
        VALUES ('s1', 2, 'm1', 'user', 'ancient pottery question', 'complete',
                '{}', 4, 2000, 2000),
               ('s1', 3, 'm2', 'assistant', 'unfinished pottery', 'streaming',
                '{}', NULL, 3000, 3000);
      INSERT INTO events VALUES ('s1', 1, 'session.created', '{}', 1000),
                                ('s1', 2, 'message.created', '{}', 2000),
                                ('s1', 3, 'message.created', '{}', 3000);
      INSERT INTO preferences VALUES ('u1', 0);
    )sql")
                    .ok());
  }

  auto store = Open(path);
  ASSERT_TRUE(store.ok()) << Why(store);
  {
    sqlite::Db raw = RawOpen(path);
    auto version = raw.QueryInt("PRAGMA user_version");
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, sqlite::kSchemaVersion);
  }
  auto session = (*store)->GetSession("s1");
  ASSERT_TRUE(session.ok()) << Why(session);
  EXPECT_EQ(session->title, "old");
  EXPECT_EQ(session->last_seq, 3);
  auto messages = (*store)->ReadMessages("s1", 0, 10);
  ASSERT_TRUE(messages.ok()) << Why(messages);
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[0].content, "ancient pottery question");
  auto prefs = (*store)->GetPreferences("u1");
  ASSERT_TRUE(prefs.ok()) << Why(prefs);
  EXPECT_FALSE(prefs->persist_history);
  // The search migration indexed the old complete message, not the
  // streaming one.
  auto hits = (*store)->Search("u1", "pottery", std::nullopt, 10);
  ASSERT_TRUE(hits.ok()) << Why(hits);
  ASSERT_EQ(hits->hits.size(), 1u);
  EXPECT_EQ(hits->hits[0].message_id, "m1");
  EXPECT_EQ(hits->hits[0].snippet, "ancient [pottery] question");
  // The sweeper's indexes came with the upgrade, and its rules see the old
  // rows (updated_at 3000 is not before a cutoff of 3000).
  {
    sqlite::Db raw = RawOpen(path);
    auto indexes = raw.QueryText(
        "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
        "WHERE type = 'index' AND name IN ('sessions_by_activity', "
        "'sessions_never_used') ORDER BY name)");
    ASSERT_TRUE(indexes.ok()) << Why(indexes);
    EXPECT_EQ(*indexes, "sessions_by_activity,sessions_never_used");
  }
  auto idle =
      (*store)->SweepSessions({SweepRule::kInactive, FromMillis(3000), 10});
  ASSERT_TRUE(idle.ok()) << Why(idle);
  EXPECT_TRUE(idle->session_ids.empty());
  // And the upgraded file takes new writes.
  auto r = (*store)->ApplySync(std::make_shared<AppendTestEvent>("s1", 7));
  ASSERT_TRUE(r.ok()) << Why(r);
  EXPECT_EQ(r->events.back().seq, 4);
  idle = (*store)->SweepSessions(
      {SweepRule::kInactive, r->session.updated_at + std::chrono::days(1), 10});
  ASSERT_TRUE(idle.ok()) << Why(idle);
  EXPECT_EQ(idle->session_ids, std::vector<std::string>{"s1"});
  EXPECT_EQ(idle->counts.messages, 2);
  EXPECT_EQ(idle->counts.events, 4);
}

TEST(SqliteStoreTest, RefusesAFileFromANewerSchema) {
  TempDir dir;
  const std::string path = dir.File("future.db");
  {
    auto store = Open(path);
    ASSERT_TRUE(store.ok()) << Why(store);
  }
  {
    sqlite::Db raw = RawOpen(path);
    ASSERT_TRUE(raw.Exec("PRAGMA user_version = 99").ok());
  }
  auto store = Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kCorruption) << Why(store);
  EXPECT_NE(store.status().message().find("99"), std::string::npos)
      << Why(store);
  EXPECT_NE(store.status().message().find("newer"), std::string::npos)
      << Why(store);
}

// ---- Group commit -----------------------------------------------------------

TEST(SqliteStoreTest, ConcurrentAppendsShareCommitsBesideReaders) {
  TempDir dir;
  auto store = Open(dir.File("group.db"));
  ASSERT_TRUE(store.ok()) << Why(store);
  constexpr int kThreads = 16;
  constexpr int kSessions = 4;
  constexpr int kAppends = 200;
  for (int s = 0; s < kSessions; ++s) {
    auto r = (*store)->ApplySync(
        std::make_shared<CreateTestSession>("s" + std::to_string(s), "u"));
    ASSERT_TRUE(r.ok()) << Why(r);
  }
  std::atomic<int> failures{0};
  std::atomic<int> writers_left{kThreads};
  std::atomic<int> bad_reads{0};
  // Readers on the pool's connections while the writer commits: every read
  // sees a committed prefix of the log, never a gap.
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      const std::string session = "s" + std::to_string(r);
      while (writers_left.load() > 0) {
        auto events = (*store)->ReadEvents(session, 0, 100000);
        if (!events.ok()) {
          ++bad_reads;
          continue;
        }
        for (std::size_t i = 0; i < events->size(); ++i) {
          if ((*events)[i].seq != static_cast<std::int64_t>(i) + 1) {
            ++bad_reads;
            break;
          }
        }
      }
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string session = "s" + std::to_string(t % kSessions);
      for (int i = 0; i < kAppends; ++i) {
        auto r =
            (*store)->ApplySync(std::make_shared<AppendTestEvent>(session, i));
        if (!r.ok()) ++failures;
      }
      --writers_left;
    });
  }
  for (auto& t : threads) t.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);

  auto stats = (*store)->Stats();
  ASSERT_TRUE(stats.ok()) << Why(stats);
  EXPECT_EQ(stats->committed_changes, kSessions + kThreads * kAppends);
  EXPECT_LT(stats->commits, stats->committed_changes);
  EXPECT_EQ(stats->events, kSessions + kThreads * kAppends);
  EXPECT_GT(stats->bytes, 0);
  for (int s = 0; s < kSessions; ++s) {
    auto events = ReadAllEvents(**store, "s" + std::to_string(s));
    ASSERT_TRUE(events.ok()) << Why(events);
    ExpectGapless(*events, 1 + kThreads / kSessions * kAppends);
  }
}

TEST(SqliteStoreTest, FailedChangeRollsBackAloneWithinItsGroup) {
  TempDir dir;
  auto opened = Open(dir.File("savepoint.db"));
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  for (const char* id : {"a", "b"}) {
    auto r = store.ApplySync(std::make_shared<CreateTestSession>(id, "u"));
    ASSERT_TRUE(r.ok()) << Why(r);
  }
  auto r = store.ApplySync(std::make_shared<AddTestMessage>("a", "dup", "x"));
  ASSERT_TRUE(r.ok()) << Why(r);
  auto before = store.Stats();
  ASSERT_TRUE(before.ok());

  // Hold the writer inside one change while three more queue up behind it:
  // they then share the next transaction.
  std::promise<void> entered, gate;
  std::promise<Result<WriteBatch>> held, first, failing, last;
  store.Apply(
      std::make_shared<GateMutation>("a", entered, gate.get_future().share()),
      [&](Result<WriteBatch> r) { held.set_value(std::move(r)); });
  entered.get_future().wait();
  store.Apply(std::make_shared<AppendTestEvent>("b", 1),
              [&](Result<WriteBatch> r) { first.set_value(std::move(r)); });
  // The message id is taken (in another session): the message insert fails
  // after this change already updated session b's row.
  store.Apply(std::make_shared<AddTestMessage>("b", "dup", "y"),
              [&](Result<WriteBatch> r) { failing.set_value(std::move(r)); });
  store.Apply(std::make_shared<AppendTestEvent>("b", 2),
              [&](Result<WriteBatch> r) { last.set_value(std::move(r)); });
  gate.set_value();

  auto h = held.get_future().get();
  auto f = first.get_future().get();
  auto x = failing.get_future().get();
  auto l = last.get_future().get();
  ASSERT_TRUE(h.ok()) << Why(h);
  ASSERT_TRUE(f.ok()) << Why(f);
  EXPECT_EQ(x.status().code(), Status::Code::kAlreadyExists) << Why(x);
  ASSERT_TRUE(l.ok()) << Why(l);
  EXPECT_EQ(f->events.back().seq, 2);
  EXPECT_EQ(l->events.back().seq, 3);  // the failed change left no trace

  auto b = store.GetSession("b");
  ASSERT_TRUE(b.ok()) << Why(b);
  EXPECT_EQ(b->last_seq, 3);
  EXPECT_EQ(b->message_count, 0);
  auto events = ReadAllEvents(store, "b");
  ASSERT_TRUE(events.ok()) << Why(events);
  ExpectGapless(*events, 3);
  auto after = store.Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->commits - before->commits, 2);
  EXPECT_EQ(after->committed_changes - before->committed_changes, 3);
}

TEST(SqliteStoreTest, RefusesABatchThatWouldLeaveAGap) {
  TempDir dir;
  auto store = Open(dir.File("gap.db"));
  ASSERT_TRUE(store.ok()) << Why(store);
  ASSERT_TRUE(
      (*store)->ApplySync(std::make_shared<CreateTestSession>("s", "u")).ok());
  auto r = (*store)->ApplySync(std::make_shared<GappyTestEvent>("s"));
  EXPECT_EQ(r.status().code(), Status::Code::kInternal) << Why(r);
  auto s = (*store)->GetSession("s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->last_seq, 1);
}

TEST(SqliteStoreTest, DestructionCommitsAndAnswersEverythingQueued) {
  TempDir dir;
  const std::string path = dir.File("drain.db");
  constexpr int kChanges = 500;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  {
    auto store = Open(path);
    ASSERT_TRUE(store.ok()) << Why(store);
    ASSERT_TRUE((*store)
                    ->ApplySync(std::make_shared<CreateTestSession>("s", "u"))
                    .ok());
    for (int i = 0; i < kChanges; ++i) {
      (*store)->Apply(std::make_shared<AppendTestEvent>("s", i),
                      [&](Result<WriteBatch> r) {
                        if (r.ok()) ++ok;
                        ++answered;
                      });
    }
  }  // the store goes away with the changes still queued
  EXPECT_EQ(answered.load(), kChanges);
  EXPECT_EQ(ok.load(), kChanges);
  auto store = Open(path);
  ASSERT_TRUE(store.ok()) << Why(store);
  auto s = (*store)->GetSession("s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->last_seq, 1 + kChanges);
}

// ---- Pragmas and erasure ----------------------------------------------------

TEST(SqliteStoreTest, PragmasAreInEffect) {
  TempDir dir;
  auto store = Open(dir.File("pragmas.db"));
  ASSERT_TRUE(store.ok()) << Why(store);
  auto pragma = [&](std::string_view name) {
    auto v = ReadSqliteWriterPragma(**store, name);
    EXPECT_TRUE(v.ok()) << Why(v);
    return v.ok() ? *v : std::string();
  };
  EXPECT_EQ(pragma("journal_mode"), "wal");
  EXPECT_EQ(pragma("synchronous"), "2");  // FULL
  EXPECT_EQ(pragma("foreign_keys"), "1");
  EXPECT_EQ(pragma("secure_delete"), "1");
  EXPECT_FALSE(ReadSqliteWriterPragma(**store, "x; DROP TABLE sessions").ok());
}

TEST(SqliteStoreTest, SynchronousComesFromOptionsAndUri) {
  TempDir dir;
  auto synchronous = [&](const StoreOptions& options, std::string_view query) {
    auto store = Open(dir.File("sync.db"), options, query);
    EXPECT_TRUE(store.ok()) << Why(store);
    if (!store.ok()) return std::string();
    auto v = ReadSqliteWriterPragma(**store, "synchronous");
    EXPECT_TRUE(v.ok()) << Why(v);
    return v.ok() ? *v : std::string();
  };
  StoreOptions normal;
  normal.sqlite_synchronous_full = false;
  EXPECT_EQ(synchronous({}, "?synchronous=normal"), "1");
  EXPECT_EQ(synchronous(normal, ""), "1");
  EXPECT_EQ(synchronous(normal, "?synchronous=full"), "2");
}

TEST(SqliteStoreTest, ErasedTextLeavesTheFile) {
  TempDir dir;
  const std::string path = dir.File("erase.db");
  auto opened = Open(path);
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  const std::string marker = "zqxv7marker";
  for (const char* id : {"keep", "gone"}) {
    ASSERT_TRUE(
        store.ApplySync(std::make_shared<CreateTestSession>(id, "u")).ok());
  }
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<AddTestMessage>(
                      "keep", "k1", "ordinary words stay searchable"))
                  .ok());
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<AddTestMessage>(
                      "gone", "g1", "the secret " + marker + " text"))
                  .ok());
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<AddTestMessage>(
                      "keep", "k2", "more ordinary words"))
                  .ok());
  ASSERT_TRUE(CheckpointSqliteStore(store).ok());
  // The check below can see the marker when it is there.
  ASSERT_TRUE(FileContains(path, marker));

  auto counts = store.DeleteSession("gone");
  ASSERT_TRUE(counts.ok()) << Why(counts);
  EXPECT_EQ(counts->sessions, 1);
  EXPECT_EQ(counts->messages, 1);
  EXPECT_EQ(counts->events, 2);
  ASSERT_TRUE(CheckpointSqliteStore(store).ok());

  EXPECT_FALSE(FileContains(path, marker));
  EXPECT_FALSE(FileContains(path + "-wal", marker));
  auto hits = store.Search("u", marker, std::nullopt, 10);
  ASSERT_TRUE(hits.ok()) << Why(hits);
  EXPECT_TRUE(hits->hits.empty());
  hits = store.Search("u", "ordinary", std::nullopt, 10);
  ASSERT_TRUE(hits.ok()) << Why(hits);
  EXPECT_EQ(hits->hits.size(), 2u);
}

// An index too large to purge within an erasure's inline budget is purged
// by later steps; driven here through RowWriter, as the writer thread does.
TEST(SqliteStoreTest, SearchPurgeBeyondTheInlineBudgetFinishesInSteps) {
  TempDir dir;
  const std::string path = dir.File("purge.db");
  const std::string marker = "qqzpurgemarker";
  sqlite::Db db = RawOpen(path);
  ASSERT_TRUE(db.Exec("PRAGMA journal_mode = WAL").ok());
  ASSERT_TRUE(db.Exec("PRAGMA foreign_keys = ON").ok());
  ASSERT_TRUE(db.Exec("PRAGMA secure_delete = ON").ok());
  ASSERT_TRUE(sqlite::MigrateTo(db, sqlite::kSchemaVersion).ok());
  // Thousands of messages of random words: an index of a few hundred
  // pages, several purge steps.
  ASSERT_TRUE(db.Exec(R"sql(
    INSERT INTO sessions VALUES ('big', 'u', '', 'active', '{}', '{}', 1, 0,
                                 0, 1, 1, NULL),
                                ('gone', 'u', '', 'active', '{}', '{}', 1, 0,
                                 0, 1, 1, NULL);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                            WHERE i < 8000)
    INSERT INTO messages (session_id, seq, id, role, content, status,
                          metadata, created_at, updated_at)
      SELECT 'big', i, 'big-' || i, 'user',
             'common ' || hex(randomblob(6)) || ' ' || hex(randomblob(6)) ||
             ' ' || hex(randomblob(6)) || ' ' || hex(randomblob(6)) || ' ' ||
             hex(randomblob(6)) || ' ' || hex(randomblob(6)),
             'complete', '{}', i, i FROM n;
    INSERT INTO messages (session_id, seq, id, role, content, status,
                          metadata, created_at, updated_at)
      VALUES ('gone', 1, 'gone-1', 'user', 'secret qqzpurgemarker words',
              'complete', '{}', 1, 1);
  )sql")
                  .ok());
  ASSERT_EQ(*db.QueryInt("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
  ASSERT_TRUE(FileContains(path, marker));

  auto rows = sqlite::RowWriter::Prepare(
      db, /*inline_purge_pages=*/sqlite::RowWriter::kPurgeStepPages);
  ASSERT_TRUE(rows.ok()) << Why(rows);
  {
    auto tx = sqlite::Transaction::BeginImmediate(db);
    ASSERT_TRUE(tx.ok());
    auto counts = (*rows)->DeleteSession("gone", FromMillis(2));
    ASSERT_TRUE(counts.ok()) << Why(counts);
    EXPECT_EQ(counts->messages, 1);
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_TRUE((*rows)->search_purge_owed());
  // Not yet purged: the merge writes terms in order, and the marker sorts
  // after every random (hex) word.
  ASSERT_EQ(*db.QueryInt("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
  EXPECT_TRUE(FileContains(path, marker));
  int steps = 0;
  while ((*rows)->search_purge_owed() && steps < 10000) {
    auto tx = sqlite::Transaction::BeginImmediate(db);
    ASSERT_TRUE(tx.ok());
    auto more = (*rows)->ContinueSearchPurge();
    ASSERT_TRUE(more.ok()) << Why(more);
    ASSERT_TRUE(tx->Commit().ok());
    ++steps;
  }
  EXPECT_GT(steps, 1);
  EXPECT_FALSE((*rows)->search_purge_owed());
  ASSERT_EQ(*db.QueryInt("PRAGMA wal_checkpoint(TRUNCATE)"), 0);
  EXPECT_FALSE(FileContains(path, marker));
  // The index still answers, and agrees with the messages.
  EXPECT_EQ(*db.QueryInt("SELECT count(*) FROM messages_fts "
                         "WHERE messages_fts MATCH 'common'"),
            8000);
  EXPECT_TRUE(db.Exec("INSERT INTO messages_fts (messages_fts) "
                      "VALUES ('integrity-check')")
                  .ok());
}

// ---- Search, expiry, erasure counts, URIs ----------------------------------

TEST(SqliteStoreTest, SearchTakesWordsLiterally) {
  auto match = sqlite::FtsMatchExpression("  foo\tbar\n");
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(*match, "\"foo\" \"bar\"");
  match = sqlite::FtsMatchExpression("say \"hi\" OR NEAR(x*");
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(*match, "\"say\" \"\"\"hi\"\"\" \"OR\" \"NEAR(x*\"");
  EXPECT_EQ(sqlite::FtsMatchExpression(" \t ").status().code(),
            Status::Code::kInvalidArgument);

  TempDir dir;
  auto opened = Open(dir.File("search.db"));
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  ASSERT_TRUE(
      store.ApplySync(std::make_shared<CreateTestSession>("s", "u")).ok());
  ASSERT_TRUE(
      store.ApplySync(std::make_shared<CreateTestSession>("t", "other")).ok());
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<AddTestMessage>(
                      "s", "m1", "cats OR dogs AND NEAR birds"))
                  .ok());
  ASSERT_TRUE(
      store.ApplySync(std::make_shared<AddTestMessage>("t", "m2", "cats too"))
          .ok());
  // Operators are words here, and no query is a syntax error.
  for (const char* q : {"OR", "cats OR", "NEAR(", "dogs*", "\"", "a:b", "^cats",
                        "-dogs", "cats AND"}) {
    auto r = store.Search("u", q, std::nullopt, 10);
    EXPECT_TRUE(r.ok()) << q << ": " << Why(r);
  }
  auto r = store.Search("u", "or near", std::nullopt, 10);
  ASSERT_TRUE(r.ok()) << Why(r);
  EXPECT_EQ(r->hits.size(), 1u);
  // Scoped to the user.
  r = store.Search("u", "cats", std::nullopt, 10);
  ASSERT_TRUE(r.ok()) << Why(r);
  ASSERT_EQ(r->hits.size(), 1u);
  EXPECT_EQ(r->hits[0].message_id, "m1");
  EXPECT_EQ(r->hits[0].session_id, "s");
  EXPECT_EQ(r->hits[0].seq, 2);
  EXPECT_EQ(r->hits[0].snippet, "[cats] OR dogs AND NEAR birds");
  EXPECT_EQ(store.Search("u", "", std::nullopt, 10).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(SqliteStoreTest, OnlyCompleteMessagesAreSearchable) {
  TempDir dir;
  auto opened = Open(dir.File("complete.db"));
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  ASSERT_TRUE(
      store.ApplySync(std::make_shared<CreateTestSession>("s", "u")).ok());
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<AddTestMessage>(
                      "s", "m", "partial draft", MessageStatus::kStreaming))
                  .ok());
  auto r = store.Search("u", "draft", std::nullopt, 10);
  ASSERT_TRUE(r.ok()) << Why(r);
  EXPECT_TRUE(r->hits.empty());
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<CompleteTestMessage>(
                      "s", "m", "final answer"))
                  .ok());
  r = store.Search("u", "draft", std::nullopt, 10);
  ASSERT_TRUE(r.ok()) << Why(r);
  EXPECT_TRUE(r->hits.empty());
  r = store.Search("u", "final answer", std::nullopt, 10);
  ASSERT_TRUE(r.ok()) << Why(r);
  ASSERT_EQ(r->hits.size(), 1u);
  EXPECT_EQ(r->hits[0].seq, 2);  // the message's seq, not the completion's
  auto m = store.GetMessage("s", "m");
  ASSERT_TRUE(m.ok()) << Why(m);
  EXPECT_EQ(m->status, MessageStatus::kComplete);
  EXPECT_EQ(m->content, "final answer");
  EXPECT_EQ(m->tokens, 5);
}

TEST(SqliteStoreTest, ExpiredSessionsReadAsMissingAndTheirIdCanBeReused) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>(FromMillis(1'700'000'000'000));
  StoreOptions options;
  options.clock = clock;
  auto opened = Open(dir.File("expiry.db"), options);
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  ASSERT_TRUE(store
                  .ApplySync(std::make_shared<CreateTestSession>(
                      "e", "u", clock->Now() + 1000ms))
                  .ok());
  ASSERT_TRUE(store.ApplySync(std::make_shared<AppendTestEvent>("e", 1)).ok());
  ASSERT_TRUE(store.GetSession("e").ok());

  clock->Advance(1000ms);
  EXPECT_TRUE(store.GetSession("e").status().IsNotFound());
  EXPECT_TRUE(store.ReadEvents("e", 0, 10).status().IsNotFound());
  EXPECT_TRUE(store.ReadMessages("e", 0, 10).status().IsNotFound());
  auto list = store.ListSessions("u", std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->sessions.empty());
  // The writer sees it as missing too.
  EXPECT_TRUE(store.ApplySync(std::make_shared<AppendTestEvent>("e", 2))
                  .status()
                  .IsNotFound());
  EXPECT_TRUE(store.DeleteSession("e").status().IsNotFound());
  // Creating it again replaces the expired rows.
  auto again = store.ApplySync(std::make_shared<CreateTestSession>("e", "u"));
  ASSERT_TRUE(again.ok()) << Why(again);
  auto events = store.ReadEvents("e", 0, 10);
  ASSERT_TRUE(events.ok()) << Why(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "session.created");
}

TEST(SqliteStoreTest, ErasuresCountWhatTheyRemove) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>(FromMillis(1'700'000'000'000));
  StoreOptions options;
  options.clock = clock;
  auto opened = Open(dir.File("erasure.db"), options);
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  for (const char* id : {"u1-a", "u1-b"}) {
    ASSERT_TRUE(
        store.ApplySync(std::make_shared<CreateTestSession>(id, "u1")).ok());
    ASSERT_TRUE(store
                    .ApplySync(std::make_shared<AddTestMessage>(
                        id, std::string(id) + "-m", "hello there"))
                    .ok());
  }
  ASSERT_TRUE(
      store.ApplySync(std::make_shared<AppendTestEvent>("u1-a", 1)).ok());
  ASSERT_TRUE(store.PutPreferences("u1", {.persist_history = false}).ok());
  ASSERT_TRUE(
      store.ApplySync(std::make_shared<CreateTestSession>("u2-a", "u2")).ok());

  auto counts = store.DeleteUser("u1");
  ASSERT_TRUE(counts.ok()) << Why(counts);
  EXPECT_EQ(counts->sessions, 2);
  EXPECT_EQ(counts->messages, 2);
  EXPECT_EQ(counts->events, 5);
  EXPECT_TRUE(store.GetPreferences("u1").status().IsNotFound());
  auto hits = store.Search("u1", "hello", std::nullopt, 10);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->hits.empty());
  EXPECT_TRUE(store.GetSession("u2-a").ok());
  EXPECT_TRUE(store.DeleteSession("u1-a").status().IsNotFound());

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store
                    .ApplySync(std::make_shared<CreateTestSession>(
                        "eph-" + std::to_string(i), "u3",
                        clock->Now() + std::chrono::milliseconds(10 + i)))
                    .ok());
  }
  const Timestamp later = clock->Now() + 20ms;
  auto swept = store.SweepSessions({SweepRule::kExpired, later, 2});
  ASSERT_TRUE(swept.ok()) << Why(swept);
  EXPECT_EQ(swept->counts.sessions, 2);
  EXPECT_EQ(swept->counts.events, 2);
  swept = store.SweepSessions({SweepRule::kExpired, later, 10});
  ASSERT_TRUE(swept.ok()) << Why(swept);
  EXPECT_EQ(swept->counts.sessions, 1);
  swept = store.SweepSessions({SweepRule::kExpired, later, 10});
  ASSERT_TRUE(swept.ok()) << Why(swept);
  EXPECT_EQ(swept->counts.sessions, 0);
  EXPECT_TRUE(store.GetSession("u2-a").ok());  // persistent: never swept
}

TEST(SqliteStoreTest, UrisCreateDirectoriesAndRejectUnknownParameters) {
  TempDir dir;
  const std::string nested = dir.File("a/b/c/store.db");
  auto store = Open(nested);
  ASSERT_TRUE(store.ok()) << Why(store);
  EXPECT_TRUE(std::ifstream(nested).good());
  EXPECT_EQ((*store)->kind(), "sqlite");
  EXPECT_TRUE((*store)->Ping().ok());

  EXPECT_EQ(Open(dir.File("x.db"), {}, "?journal=off").status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(
      Open(dir.File("x.db"), {}, "?synchronous=sometimes").status().code(),
      Status::Code::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite://").status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite://:memory:").status().code(),
            Status::Code::kInvalidArgument);
}

TEST(SqliteStoreTest, ListSessionsPagesByKeyset) {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>(FromMillis(1'700'000'000'000));
  StoreOptions options;
  options.clock = clock;
  auto opened = Open(dir.File("list.db"), options);
  ASSERT_TRUE(opened.ok()) << Why(opened);
  Store& store = **opened;
  // Five sessions; two share an updated_at, so the id breaks the tie.
  for (const char* id : {"s1", "s2", "s3", "s4", "s5"}) {
    ASSERT_TRUE(
        store.ApplySync(std::make_shared<CreateTestSession>(id, "u")).ok());
    if (std::string_view(id) != "s2") clock->Advance(1ms);
  }
  std::vector<std::string> seen;
  std::optional<SessionCursor> cursor;
  int pages = 0;
  do {
    auto page = store.ListSessions("u", std::nullopt, cursor, 2);
    ASSERT_TRUE(page.ok()) << Why(page);
    for (const Session& s : page->sessions) seen.push_back(s.id);
    cursor = page->next;
    ++pages;
  } while (cursor);
  EXPECT_EQ(seen, (std::vector<std::string>{"s5", "s4", "s3", "s2", "s1"}));
  EXPECT_EQ(pages, 3);
  auto filtered =
      store.ListSessions("u", SessionStatus::kArchived, std::nullopt, 10);
  ASSERT_TRUE(filtered.ok());
  EXPECT_TRUE(filtered->sessions.empty());
  filtered = store.ListSessions("u", SessionStatus::kActive, std::nullopt, 5);
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(filtered->sessions.size(), 5u);
  EXPECT_FALSE(filtered->next.has_value());
}

}  // namespace
}  // namespace chatstore::sqlite_test
