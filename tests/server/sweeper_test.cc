// The retention sweeper of chatstored: the Sweeper class driven directly
// with an injected clock (each rule takes its sessions, the bounds hold, the
// metrics count), and the real server, whose sweeper ends a swept session's
// live stream with session.deleted.
#include "server/sweeper.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "server/metrics.h"
#include "server/server_test_fixture.h"

namespace chatstore::testing {
namespace {

using namespace std::chrono_literals;
using server::Metrics;
using server::Sweeper;
using server::SweeperOptions;
using server::SweepRun;

const Timestamp kStart = FromMillis(1'800'000'000'000);

class SweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<ManualClock>(kStart);
    StoreOptions store_options;
    store_options.clock = clock_;
    primary_ = *OpenStore("memory://", store_options);
    ephemeral_ = *OpenStore("memory://", store_options);
    ServiceOptions options;
    options.clock = clock_;
    options.ephemeral_ttl = std::chrono::days(7);
    service_ = std::make_unique<SessionService>(primary_, ephemeral_, options);
  }

  std::unique_ptr<Sweeper> MakeSweeper(SweeperOptions options = {}) {
    options.clock = clock_;
    options.policy.retention_days = 90;
    options.policy.never_used_grace = std::chrono::days(1);
    return std::make_unique<Sweeper>(
        primary_, ephemeral_, metrics_, options,
        [this](const std::string& id) { removed_.push_back(id); });
  }

  std::string Create(bool persistent, int messages) {
    CreateSessionRequest request;
    request.persistent = persistent;
    Result<Session> s = service_->CreateSession("user", request);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    for (int i = 0; i < messages; ++i) Say(s->id);
    return s->id;
  }
  void Say(const std::string& id) {
    NewMessage m;
    m.content = "hello";
    EXPECT_TRUE(service_->AddMessage("user", id, m).ok());
  }
  bool Exists(const std::string& id) {
    return service_->GetSession("user", id).ok();
  }
  std::string Metric(const std::string& line_start) {
    const std::string text = metrics_.Render({});
    const std::size_t at = text.find("\n" + line_start + " ");
    if (at == std::string::npos) return "";
    const std::size_t begin = at + line_start.size() + 2;
    return text.substr(begin, text.find('\n', begin) - begin);
  }

  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<Store> primary_;
  std::shared_ptr<Store> ephemeral_;
  std::unique_ptr<SessionService> service_;
  Metrics metrics_;
  std::vector<std::string> removed_;
};

TEST_F(SweeperTest, OneRunAppliesEveryRuleAndCountsInTheMetrics) {
  const std::string ephemeral = Create(false, 1);  // TTL 7 days
  const std::string idle = Create(true, 1);
  const std::string unused = Create(true, 0);
  const std::string active = Create(true, 1);
  clock_->Advance(std::chrono::days(89));
  Say(active);
  const std::string recent_unused = Create(true, 0);
  const std::string unused_ephemeral = Create(false, 0);  // not expired yet
  clock_->Advance(std::chrono::days(2));
  const std::string fresh_unused = Create(true, 0);

  std::unique_ptr<Sweeper> sweeper = MakeSweeper();
  const SweepRun run = sweeper->RunOnce();
  EXPECT_FALSE(run.failed);
  EXPECT_EQ(run.by_rule[0].sessions, 1);  // expired
  EXPECT_EQ(run.by_rule[1].sessions, 2);  // inactive (unused is, too)
  EXPECT_EQ(run.by_rule[2].sessions, 2);  // never used, in both stores
  EXPECT_EQ(run.by_rule[1].messages, 1);
  EXPECT_EQ(std::set<std::string>(removed_.begin(), removed_.end()),
            (std::set<std::string>{ephemeral, idle, unused, recent_unused,
                                   unused_ephemeral}));
  EXPECT_TRUE(Exists(active));
  EXPECT_TRUE(Exists(fresh_unused));
  EXPECT_EQ(Metric("chatstore_sweeper_runs_total"), "1");
  EXPECT_EQ(Metric("chatstore_sweeper_errors_total"), "0");
  EXPECT_EQ(Metric("chatstore_swept_sessions_total{rule=\"expired\"}"), "1");
  EXPECT_EQ(Metric("chatstore_swept_sessions_total{rule=\"inactive\"}"), "2");
  EXPECT_EQ(Metric("chatstore_swept_sessions_total{rule=\"never_used\"}"), "2");
  EXPECT_NE(Metric("chatstore_sweeper_last_run_duration_seconds"), "");

  const SweepRun again = sweeper->RunOnce();
  EXPECT_EQ(again.by_rule[0].sessions + again.by_rule[1].sessions +
                again.by_rule[2].sessions,
            0);
  EXPECT_EQ(Metric("chatstore_sweeper_runs_total"), "2");
  EXPECT_EQ(Metric("chatstore_swept_sessions_total{rule=\"inactive\"}"), "2");
}

TEST_F(SweeperTest, RunsAreBoundedAndRetentionZeroKeepsForever) {
  for (int i = 0; i < 5; ++i) Create(true, 1);
  clock_->Advance(std::chrono::days(100));
  SweeperOptions bounded;
  bounded.limits.batch = 2;
  bounded.limits.max_total = 3;
  std::unique_ptr<Sweeper> sweeper = MakeSweeper(bounded);
  EXPECT_EQ(sweeper->RunOnce().by_rule[1].sessions, 3);
  EXPECT_EQ(sweeper->RunOnce().by_rule[1].sessions, 2);
  EXPECT_EQ(removed_.size(), 5u);

  const std::string kept = Create(true, 1);
  clock_->Advance(std::chrono::days(10000));
  SweeperOptions forever;
  forever.clock = clock_;
  forever.policy.retention_days = 0;
  Sweeper keeper(primary_, ephemeral_, metrics_, forever, {});
  EXPECT_EQ(keeper.RunOnce().by_rule[1].sessions, 0);
  EXPECT_TRUE(Exists(kept));
}

TEST_F(SweeperTest, StopEndsTheThreadWithoutWaitingForTheInterval) {
  SweeperOptions options;
  options.interval = std::chrono::hours(1);
  std::unique_ptr<Sweeper> sweeper = MakeSweeper(options);
  sweeper->Start();
  const auto before = std::chrono::steady_clock::now();
  sweeper->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
  sweeper->Stop();  // idempotent
}

// The real server, with a one-second grace and interval: a session that
// never gets a message is swept, and its open stream ends with
// session.deleted instead of hanging on.
class SweeperServerTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--never-used-grace-seconds", "1", "--sweep-interval-seconds", "1"};
  }
};

TEST_F(SweeperServerTest, SweptSessionEndsItsStreamAndIsCounted) {
  const std::string token = TokenFor("sweepee");
  const std::string id = CreateSessionId(token);
  SseStream stream(server().host(), server().port(),
                   "/v1/sessions/" + id + "/stream", token);
  ASSERT_EQ(stream.status(), 200);
  std::optional<SseEvent> created = stream.Next();
  ASSERT_TRUE(created);
  EXPECT_EQ(created->event, "session.created");
  // Within about two sweeper intervals; the deadline only bounds a failure.
  std::optional<SseEvent> deleted = stream.Next(30s);
  ASSERT_TRUE(deleted) << "no session.deleted; timed out: "
                       << stream.timed_out();
  EXPECT_EQ(deleted->event, "session.deleted");
  EXPECT_FALSE(stream.Next());
  EXPECT_TRUE(stream.ended());
  EXPECT_EQ(client().Get("/v1/sessions/" + id, token).status, 404);
  const HttpResult metrics = client().Get("/metrics", "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(
                "chatstore_swept_sessions_total{rule=\"never_used\"} 1\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("chatstore_sweeper_errors_total 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace chatstore::testing
