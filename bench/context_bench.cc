// Context-window latency against session length: GetContext with the
// default 8192-token budget on sessions of 100 and 100,000 messages, on
// memory:// and sqlite://. Messages are ~100 tokens, so both windows hold
// the same ~80 messages and the 100-message session is already truncated:
// any difference between the two rows is the cost of the session's length,
// which the backward, index-backed walk should make negligible.
// See bench/README.md for the command and the figures.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "chat_text.h"
#include "chatstore/service.h"
#include "chatstore/store.h"

namespace chatstore {
namespace {

constexpr char kUser[] = "bench-user";

const std::string& kContent = bench::kProse500;

template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}

struct Fixture {
  std::string dir;  // sqlite only; removed at exit
  std::shared_ptr<Store> store;
  std::unique_ptr<SessionService> service;
  std::map<int, std::string> sessions;  // message count -> session id

  ~Fixture() {
    service.reset();
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

Fixture& GetFixture(const std::string& kind) {
  static std::map<std::string, std::unique_ptr<Fixture>> fixtures;
  auto& f = fixtures[kind];
  if (f) return *f;
  f = std::make_unique<Fixture>();
  std::string uri = "memory://";
  StoreOptions options;
  if (kind == "sqlite") {
    char tmpl[] = "/tmp/chatstore-context-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    f->dir = tmpl;
    uri = "sqlite://" + f->dir + "/bench.db";
    // Filling 100,000 messages one commit each: durability is not measured.
    options.sqlite_synchronous_full = false;
  }
  f->store = Check(OpenStore(uri, options));
  f->service =
      std::make_unique<SessionService>(f->store, nullptr, ServiceOptions{});
  return *f;
}

const std::string& SessionWith(Fixture& f, int messages) {
  std::string& id = f.sessions[messages];
  if (!id.empty()) return id;
  CreateSessionRequest create;
  create.title = "context bench";
  id = Check(f.service->CreateSession(kUser, create)).id;
  NewMessage system;
  system.role = Role::kSystem;
  system.content = "You are a helpful travel assistant.";
  Check(f.service->AddMessage(kUser, id, system));
  for (int i = 1; i < messages; ++i) {
    NewMessage m;
    m.role = i % 2 == 1 ? Role::kUser : Role::kAssistant;
    m.content = kContent;
    Check(f.service->AddMessage(kUser, id, m));
  }
  return id;
}

void BM_Context(benchmark::State& state, const std::string& kind) {
  Fixture& f = GetFixture(kind);
  const std::string& id = SessionWith(f, static_cast<int>(state.range(0)));
  const ContextRequest request;  // 8192 tokens, cl100k_base
  std::size_t returned = 0;
  for (auto _ : state) {
    ContextWindow w = Check(f.service->GetContext(kUser, id, request));
    returned = w.messages.size();
    benchmark::DoNotOptimize(w);
  }
  state.counters["window_messages"] = static_cast<double>(returned);
}

BENCHMARK_CAPTURE(BM_Context, memory, std::string("memory"))
    ->Arg(100)
    ->Arg(100000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Context, sqlite, std::string("sqlite"))
    ->Arg(100)
    ->Arg(100000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace chatstore

BENCHMARK_MAIN();
