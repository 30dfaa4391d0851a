// A child process for sqlite_store_test's multi-process tests: opens one
// database file and appends to it, so several processes write the same file
// at once.
//
//   sqlite_append_worker append <db> <user> <shared_session> <own_session> <n>
//     Creates <shared_session> unless another worker already did, creates
//     <own_session>, then appends n events to each from two threads. Prints
//     "done" and exits 0; on any non-OK status prints it and exits 1.
//
//   sqlite_append_worker stream <db> <session> <threads>
//     Appends to <session> from <threads> threads until killed (every tenth
//     change adds a complete, searchable message). After each change is
//     acknowledged (ApplySync returned OK) writes its seq on its own line to
//     stdout, unbuffered: the parent may rely on every printed seq.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chatstore/store.h"
#include "store/sqlite/test_mutations.h"

namespace chatstore::sqlite_test {
namespace {

[[noreturn]] void Fail(std::string_view what, const Status& s) {
  std::fprintf(stderr, "worker %d: %.*s: %s\n", static_cast<int>(getpid()),
               static_cast<int>(what.size()), what.data(),
               s.ToString().c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

std::shared_ptr<Store> OpenOrDie(const std::string& path) {
  auto store = OpenStore("sqlite://" + path);
  if (!store.ok()) Fail("open " + path, store.status());
  return *store;
}

int Append(const std::string& path, const std::string& user,
           const std::string& shared, const std::string& own, int n) {
  std::shared_ptr<Store> store = OpenOrDie(path);
  auto created =
      store->ApplySync(std::make_shared<CreateTestSession>(shared, user));
  if (!created.ok() &&
      created.status().code() != Status::Code::kAlreadyExists) {
    Fail("create shared session", created.status());
  }
  created = store->ApplySync(std::make_shared<CreateTestSession>(own, user));
  if (!created.ok()) Fail("create own session", created.status());

  auto append_all = [&](const std::string& session) {
    for (int i = 0; i < n; ++i) {
      auto r = store->ApplySync(std::make_shared<AppendTestEvent>(session, i));
      if (!r.ok()) Fail("append to " + session, r.status());
    }
  };
  std::thread shared_appender(append_all, shared);
  append_all(own);
  shared_appender.join();
  store.reset();  // drains and closes before reporting success
  std::printf("done\n");
  return 0;
}

int Stream(const std::string& path, const std::string& session, int threads) {
  std::shared_ptr<Store> store = OpenOrDie(path);
  std::atomic<std::int64_t> counter{0};
  auto loop = [&](int thread) {
    for (;;) {
      const std::int64_t k = counter.fetch_add(1);
      std::shared_ptr<const Mutation> m;
      if (k % 10 == 9) {
        m = std::make_shared<AddTestMessage>(
            session, "m-" + std::to_string(getpid()) + "-" + std::to_string(k),
            "streamed words number " + std::to_string(k));
      } else {
        m = std::make_shared<AppendTestEvent>(session, k);
      }
      auto r = store->ApplySync(std::move(m));
      if (!r.ok()) Fail("append", r.status());
      // One write(2) per line: lines from several threads never interleave
      // on a pipe (writes up to PIPE_BUF are atomic), and nothing waits in
      // a stdio buffer when the parent kills us.
      const std::string line = std::to_string(r->events.back().seq) + "\n";
      if (write(STDOUT_FILENO, line.data(), line.size()) !=
          static_cast<ssize_t>(line.size())) {
        std::_Exit(2);  // parent gone
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(loop, t);
  for (auto& t : pool) t.join();  // never returns: killed by the parent
  return 0;
}

}  // namespace
}  // namespace chatstore::sqlite_test

int main(int argc, char** argv) {
  using namespace chatstore::sqlite_test;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 6 && args[0] == "append") {
    return Append(args[1], args[2], args[3], args[4],
                  std::atoi(args[5].c_str()));
  }
  if (args.size() == 4 && args[0] == "stream") {
    return Stream(args[1], args[2], std::atoi(args[3].c_str()));
  }
  std::fprintf(stderr,
               "usage: %s append <db> <user> <shared> <own> <n>\n"
               "       %s stream <db> <session> <threads>\n",
               argv[0], argv[0]);
  return 64;
}
