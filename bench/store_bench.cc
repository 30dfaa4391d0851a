// Store and service benchmarks on memory:// and sqlite://, plus the plain
// one-INSERT-per-transaction SQLite loop they are compared against; and on
// redis:// and postgresql:// when CHATSTORE_BENCH_REDIS_URI /
// CHATSTORE_BENCH_POSTGRES_URI name a server (bench/network_stores.sh starts
// them and runs redis-benchmark and pgbench beside).
//
// Latency benchmarks record every operation and report p50/p99 counters in
// microseconds; throughput benchmarks report items_per_second. See
// bench/README.md for the commands and the figures.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chat_text.h"
#include "chatstore/encryption.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "latency.h"

namespace chatstore {
namespace {

const std::string& kContent = bench::kProse500;

// The server a networked backend ("redis", "postgres") runs against, from
// the environment; null when not configured (its benchmarks are skipped).
const char* NetworkStoreUri(const std::string& kind) {
  if (kind == "redis") return std::getenv("CHATSTORE_BENCH_REDIS_URI");
  if (kind == "postgres") return std::getenv("CHATSTORE_BENCH_POSTGRES_URI");
  return nullptr;
}

template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "bench: %s\n", r.status().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}

constexpr std::string_view kEncryptedSuffix = "-encrypted";

// A store and a service over it, created once per backend and kept for the
// process so that benchmarks sharing it do not pay for setup.
struct Backend {
  std::string dir;
  std::shared_ptr<Store> store;
  std::unique_ptr<SessionService> service;
};

Backend& GetBackend(const std::string& kind) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Backend>> backends;
  std::lock_guard lock(mu);
  auto& b = backends[kind];
  if (!b) {
    b = std::make_unique<Backend>();
    // "<kind>-encrypted": the same backend through encryption at rest.
    const bool encrypted = kind.ends_with(kEncryptedSuffix);
    const std::string base =
        encrypted ? kind.substr(0, kind.size() - kEncryptedSuffix.size())
                  : kind;
    std::string uri = "memory://";
    if (base == "sqlite") {
      b->dir = bench::TempDir();
      uri = "sqlite://" + b->dir + "/bench.db";
    } else if (const char* server = NetworkStoreUri(base)) {
      uri = server;
    }
    auto store = OpenStore(uri);
    if (!store.ok()) {
      std::fprintf(stderr, "open %s: %s\n", uri.c_str(),
                   store.status().ToString().c_str());
      std::abort();
    }
    b->store = *store;
    if (encrypted) {
      const std::string key_file = bench::TempDir() + "/keys";
      std::FILE* f = std::fopen(key_file.c_str(), "w");
      std::fputs(
          "bench 000102030405060708090a0b0c0d0e0f"
          "101112131415161718191a1b1c1d1e1f\n",
          f);
      std::fclose(f);
      ::chmod(key_file.c_str(), 0600);
      b->store =
          Check(EncryptStore(b->store, Check(LoadEncryptionKeyFile(key_file))));
    }
    b->service =
        std::make_unique<SessionService>(b->store, nullptr, ServiceOptions{});
  }
  return *b;
}

std::string NewSession(SessionService& service, const std::string& user) {
  return Check(service.CreateSession(user, {.title = "bench"})).id;
}

// Runs `setup` once per (backend, name) for the process and returns its
// result: Google Benchmark calls a benchmark function several times while it
// sizes the run, and the data set must not grow each time.
template <typename F>
std::string SetUpOnce(const std::string& kind, const std::string& name,
                      F&& setup) {
  static std::mutex mu;
  static std::map<std::string, std::string> done;
  std::lock_guard lock(mu);
  auto [it, inserted] = done.try_emplace(kind + "/" + name);
  if (inserted) it->second = setup();
  return it->second;
}

// Append one 500-byte message; each thread appends to its own session.
void BM_AppendMessage(benchmark::State& state, const std::string& kind) {
  Backend& b = GetBackend(kind);
  const std::string user = "append-" + std::to_string(state.thread_index());
  const std::string sid = NewSession(*b.service, user);
  const NewMessage msg{.role = Role::kUser, .content = kContent};
  const StoreStats before = Check(b.store->Stats());
  for (auto _ : state) {
    benchmark::DoNotOptimize(Check(b.service->AddMessage(user, sid, msg)));
  }
  state.SetItemsProcessed(state.iterations());
  // How many changes a group commit carried on average (sqlite): what the
  // concurrent appenders gained from sharing transactions.
  if (state.thread_index() == 0) {
    const StoreStats after = Check(b.store->Stats());
    if (after.commits > before.commits) {
      state.counters["changes_per_commit"] =
          static_cast<double>(after.committed_changes -
                              before.committed_changes) /
          static_cast<double>(after.commits - before.commits);
    }
  }
}

// All threads append to one session: the hot-session case.
void BM_AppendMessageOneSession(benchmark::State& state,
                                const std::string& kind) {
  Backend& b = GetBackend(kind);
  const std::string sid =
      SetUpOnce(kind, "hot", [&] { return NewSession(*b.service, "hot"); });
  const NewMessage msg{.role = Role::kUser, .content = kContent};
  for (auto _ : state) {
    benchmark::DoNotOptimize(Check(b.service->AddMessage("hot", sid, msg)));
  }
  state.SetItemsProcessed(state.iterations());
}

// GET a session and its 20 messages, as GET /v1/sessions/{id} + messages.
void BM_ReadSession20(benchmark::State& state, const std::string& kind) {
  Backend& b = GetBackend(kind);
  const std::string user = "reader";
  const std::string sid = SetUpOnce(kind, "read20", [&] {
    const std::string id = NewSession(*b.service, user);
    for (int i = 0; i < 20; ++i) {
      Check(b.service->AddMessage(user, id, {.content = kContent}));
    }
    return id;
  });
  bench::TimeEach(state, [&] {
    benchmark::DoNotOptimize(Check(b.service->GetSession(user, sid)));
    auto page = Check(b.service->ReadMessages(user, sid, 0, 20));
    if (page.messages.size() != 20) std::abort();
  });
}

// The first page of 50 sessions of a user who has 1,000.
void BM_List50Of1000(benchmark::State& state, const std::string& kind) {
  Backend& b = GetBackend(kind);
  const std::string user = "lister";
  SetUpOnce(kind, "list", [&] {
    for (int i = 0; i < 1000; ++i) NewSession(*b.service, user);
    return std::string();
  });
  bench::TimeEach(state, [&] {
    auto page = Check(b.service->ListSessions(user, std::nullopt, {}, 50));
    if (page.sessions.size() != 50) std::abort();
  });
}

// Replay 100 events after a seq (what an SSE reconnect reads).
void BM_Replay100(benchmark::State& state, const std::string& kind) {
  Backend& b = GetBackend(kind);
  const std::string user = "replayer";
  const std::string sid = SetUpOnce(kind, "replay", [&] {
    const std::string id = NewSession(*b.service, user);
    std::vector<AppEvent> batch(100, AppEvent{"progress", R"({"pct":50})"});
    for (int i = 0; i < 10; ++i)
      Check(b.service->AppendEvents(user, id, batch));
    return id;
  });
  bench::TimeEach(state, [&] {
    auto page = Check(b.service->ReadEvents(user, sid, 500, 100));
    if (page.events.size() != 100) std::abort();
  });
}

// Full-text search over a user's 2,000 messages; 1% contain the word (and
// no other user's messages do).
void BM_Search(benchmark::State& state, const std::string& kind) {
  Backend& b = GetBackend(kind);
  const std::string user = "searcher";
  SetUpOnce(kind, "search", [&] {
    for (int s = 0; s < 20; ++s) {
      const std::string sid = NewSession(*b.service, user);
      for (int i = 0; i < 100; ++i) {
        std::string text = "the quick brown fox jumps over the lazy dog " +
                           std::to_string(s * 100 + i);
        if (i % 100 == 7) text += " zanzibar";
        Check(b.service->AddMessage(user, sid, {.content = text}));
      }
    }
    return std::string();
  });
  bench::TimeEach(state, [&] {
    auto page = Check(b.service->Search(user, "zanzibar", {}, 20));
    if (page.hits.size() != 20) std::abort();
  });
}

// The comparison: one INSERT per transaction, the same pragmas as the
// sqlite store (WAL, synchronous=FULL), one connection per thread.
void BM_PlainInsertPerTransaction(benchmark::State& state) {
  static std::string path;
  static std::once_flag once;
  std::call_once(once, [] {
    path = bench::TempDir() + "/plain.db";
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL;"
                 "CREATE TABLE m(session_id TEXT, seq INTEGER, content TEXT,"
                 " PRIMARY KEY(session_id, seq));",
                 nullptr, nullptr, nullptr);
    sqlite3_close(db);
  });
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_busy_timeout(db, 10000);
  sqlite3_exec(db, "PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO m VALUES(?1, ?2, ?3)", -1, &insert,
                     nullptr);
  // Google Benchmark calls this function several times per thread count;
  // one counter across calls keeps every (session_id, seq) key fresh.
  static std::atomic<std::int64_t> next_seq{0};
  const std::string sid = "plain-" + std::to_string(state.thread_index());
  for (auto _ : state) {
    // BEGIN IMMEDIATE as the store does, so writers queue on the lock
    // instead of failing to upgrade.
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_bind_text(insert, 1, sid.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 2, ++next_seq);
    sqlite3_bind_text(insert, 3, kContent.c_str(), -1, SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) std::abort();
    sqlite3_reset(insert);
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      std::abort();
    }
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations());
}

void Register() {
  std::vector<std::string> kinds = {"memory", "sqlite", "memory-encrypted",
                                    "sqlite-encrypted"};
  for (const std::string network : {"redis", "postgres"}) {
    if (NetworkStoreUri(network) != nullptr) kinds.push_back(network);
  }
  for (const std::string& kind : kinds) {
    for (int threads : {1, 16}) {
      benchmark::RegisterBenchmark(("AppendMessage/" + kind).c_str(),
                                   BM_AppendMessage, kind)
          ->Threads(threads)
          ->UseRealTime()
          ->MinTime(1.0);
    }
    benchmark::RegisterBenchmark(("AppendMessageOneSession/" + kind).c_str(),
                                 BM_AppendMessageOneSession, kind)
        ->Threads(16)
        ->UseRealTime()
        ->MinTime(1.0);
    benchmark::RegisterBenchmark(("ReadSession20/" + kind).c_str(),
                                 BM_ReadSession20, kind);
    benchmark::RegisterBenchmark(("List50Of1000/" + kind).c_str(),
                                 BM_List50Of1000, kind);
    benchmark::RegisterBenchmark(("Replay100/" + kind).c_str(), BM_Replay100,
                                 kind);
    // An encrypted store refuses to search.
    if (!kind.ends_with(kEncryptedSuffix)) {
      benchmark::RegisterBenchmark(("Search/" + kind).c_str(), BM_Search, kind);
    }
  }
  for (int threads : {1, 16}) {
    benchmark::RegisterBenchmark("PlainInsertPerTransaction/sqlite",
                                 BM_PlainInsertPerTransaction)
        ->Threads(threads)
        ->UseRealTime()
        ->MinTime(1.0);
  }
}

}  // namespace
}  // namespace chatstore

int main(int argc, char** argv) {
  chatstore::Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
