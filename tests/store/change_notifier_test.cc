// The change notifiers of the shared backends (change_notifier.h), each
// against a real server or file: a write or a deletion made through another
// store object (as another chatstored instance would) wakes the notifier,
// Stop is prompt and final, and, for the networked ones, the notifier
// reconnects by itself after the server restarts and says that anything may
// have changed meanwhile.
#include "chatstore/change_notifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "conformance/backends.h"

namespace chatstore {
namespace {

using namespace std::chrono_literals;
using conformance::BackendParam;

// Every change a notifier reported, with a way to wait for one.
class ChangeLog {
 public:
  ChangeNotifier::Callback Callback() {
    return [this](const LogChange& change) {
      std::lock_guard lock(mu_);
      changes_.push_back(change);
      cv_.notify_all();
    };
  }
  // Waits (up to 20 s) for a change after the first `from` that satisfies
  // `match`; returns its index, or -1.
  int WaitFor(std::size_t from,
              const std::function<bool(const LogChange&)>& match) {
    std::unique_lock lock(mu_);
    int found = -1;
    cv_.wait_for(lock, 20s, [&] {
      for (std::size_t i = from; i < changes_.size(); ++i) {
        if (match(changes_[i])) {
          found = static_cast<int>(i);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return changes_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<LogChange> changes_;
};

bool IsAny(const LogChange& c) { return c.AnySession(); }

class ChangeNotifierTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().create();
    writer_ = Open();
    service_ =
        std::make_unique<SessionService>(writer_, nullptr, ServiceOptions{});
    Result<std::unique_ptr<ChangeNotifier>> notifier =
        OpenChangeNotifier(backend_->uri());
    ASSERT_TRUE(notifier.ok()) << notifier.status().ToString();
    ASSERT_NE(*notifier, nullptr);
    notifier_ = std::move(*notifier);
    notifier_->Start(log_.Callback());
    // Connected: its first report says anything may have changed.
    ASSERT_GE(log_.WaitFor(0, IsAny), 0);
    EXPECT_TRUE(notifier_->connected());
  }
  void TearDown() override {
    if (notifier_) notifier_->Stop();
  }

  std::shared_ptr<Store> Open() {
    Result<std::shared_ptr<Store>> store = OpenStore(backend_->uri());
    if (!store.ok()) throw std::runtime_error(store.status().ToString());
    return *store;
  }
  bool Networked() const { return GetParam().name != "Sqlite"; }

  // Waits for the report of a change to `session_id` that reached
  // `last_seq` (0: a deletion), or, on SQLite (which cannot say which
  // session changed), for any report after `from`.
  bool SawChange(std::size_t from, const std::string& session_id,
                 std::int64_t last_seq) {
    if (!Networked()) return log_.WaitFor(from, IsAny) >= 0;
    return log_.WaitFor(from, [&](const LogChange& c) {
      return c.session_id == session_id && c.last_seq == last_seq;
    }) >= 0;
  }

  std::unique_ptr<conformance::BackendInstance> backend_;
  std::shared_ptr<Store> writer_;
  std::unique_ptr<SessionService> service_;
  ChangeLog log_;
  std::unique_ptr<ChangeNotifier> notifier_;
};

TEST_P(ChangeNotifierTest, ReportsWritesFromAnotherStoreObject) {
  std::size_t from = log_.size();
  Result<Session> s = service_->CreateSession("u1", CreateSessionRequest{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(SawChange(from, s->id, 1));

  from = log_.size();
  Result<SeqRange> r = service_->AppendEvents(
      "u1", s->id, {{"test.a", "{}"}, {"test.b", "{}"}, {"test.c", "{}"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->last_seq, 4);
  EXPECT_TRUE(SawChange(from, s->id, 4));
}

TEST_P(ChangeNotifierTest, ReportsADeletion) {
  Result<Session> s = service_->CreateSession("u1", CreateSessionRequest{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE(SawChange(0, s->id, 1));
  const std::size_t from = log_.size();
  ASSERT_TRUE(writer_->DeleteSession(s->id).ok());
  EXPECT_TRUE(SawChange(from, s->id, 0));
}

TEST_P(ChangeNotifierTest, NoReportAfterStop) {
  const auto start = std::chrono::steady_clock::now();
  notifier_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_FALSE(notifier_->connected());
  const std::size_t before = log_.size();
  Result<Session> s = service_->CreateSession("u1", CreateSessionRequest{});
  ASSERT_TRUE(s.ok());
  // A stopped notifier has no thread left to report with; a second Stop is
  // harmless.
  notifier_->Stop();
  EXPECT_EQ(log_.size(), before);
}

INSTANTIATE_TEST_SUITE_P(Shared, ChangeNotifierTest,
                         ::testing::ValuesIn(conformance::SharedBackends()),
                         conformance::BackendName);

TEST(ChangeNotifierOpenTest, MemoryHasNoneAndUnknownSchemesAreRefused) {
  Result<std::unique_ptr<ChangeNotifier>> memory =
      OpenChangeNotifier("memory://");
  ASSERT_TRUE(memory.ok());
  EXPECT_EQ(*memory, nullptr);
  EXPECT_TRUE(OpenChangeNotifier("mysql://x").status().code() ==
              Status::Code::kInvalidArgument);
  EXPECT_TRUE(OpenChangeNotifier("redis://host:notaport").status().code() ==
              Status::Code::kInvalidArgument);
}

// Reconnection after an outage, for the servers that can have one.
template <typename Server>
void ExpectReconnectAfterRestart(Server& server, const std::string& uri) {
  Result<std::shared_ptr<Store>> store = OpenStore(uri);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SessionService service(*store, nullptr, ServiceOptions{});
  Result<std::unique_ptr<ChangeNotifier>> opened = OpenChangeNotifier(uri);
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<ChangeNotifier> notifier = std::move(*opened);
  ChangeLog log;
  notifier->Start(log.Callback());
  ASSERT_GE(log.WaitFor(0, IsAny), 0);

  server.Stop();
  // It notices the loss by itself (no write needed to find out).
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (notifier->connected() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(notifier->connected());
  const std::size_t before_restart = log.size();
  server.Start();
  // Back without a restart of the notifier, and it says that it may have
  // missed changes.
  ASSERT_GE(log.WaitFor(before_restart, IsAny), 0);
  EXPECT_TRUE(notifier->connected());

  // Retried: the store's first call may meet a connection the restart broke.
  Result<Session> s = service.CreateSession("u1", CreateSessionRequest{});
  if (!s.ok()) s = service.CreateSession("u1", CreateSessionRequest{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GE(log.WaitFor(before_restart,
                        [&](const LogChange& c) {
                          return c.session_id == s->id && c.last_seq == 1;
                        }),
            0);
  notifier->Stop();
}

TEST(ChangeNotifierOutageTest, RedisNotifierReconnects) {
  testing::RedisServer server;
  ExpectReconnectAfterRestart(server, server.uri());
}

TEST(ChangeNotifierOutageTest, PostgresNotifierReconnects) {
  testing::PostgresServer server;
  ExpectReconnectAfterRestart(server, server.uri());
}

}  // namespace
}  // namespace chatstore
