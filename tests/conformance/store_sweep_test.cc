// The retention sweep (Store::SweepSessions) on every backend of
// AllBackends() and EncryptedBackends(), with an injected clock: each rule
// removes exactly the sessions it names (boundaries at the cutoff and 1 ms
// before), oldest first and at most `limit` at a time, with their messages,
// events and search entries; and a sweep racing appends never removes a
// session that an acknowledged append brought out of the rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <source_location>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/encryption.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "conformance/backend_test.h"
#include "conformance/backends.h"

namespace chatstore::conformance {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::seconds kTtl = 3600s;

std::set<std::string> AsSet(const std::vector<std::string>& ids) {
  return {ids.begin(), ids.end()};
}

class StoreSweepTest : public BackendTest {
 protected:
  StoreSweepTest() : BackendTest(kTtl) {}

  Session Create(const std::string& user, bool persistent = true) {
    CreateSessionRequest request;
    request.title = "a session";
    request.persistent = persistent;
    return Must(service_->CreateSession(user, request));
  }
  Message Say(const std::string& user, const std::string& session_id,
              std::string content = "hello") {
    NewMessage m;
    m.content = std::move(content);
    return Must(service_->AddMessage(user, session_id, m));
  }
  SweepResult Sweep(SweepRule rule, Timestamp cutoff, int limit = 100) {
    return Must(store_->SweepSessions({rule, cutoff, limit}));
  }
  bool Exists(const std::string& id) {
    Result<Session> s = store_->GetSession(id);
    EXPECT_TRUE(s.ok() || s.status().IsNotFound()) << s.status().ToString();
    return s.ok();
  }
  // Gone for good: the rows, not only the reads (turning the clock back
  // must not bring an expired session back either).
  void ExpectErased(const std::string& id) {
    const Timestamp now = Now();
    clock_->Set(Start());
    EXPECT_TRUE(store_->GetSession(id).status().IsNotFound()) << id;
    EXPECT_TRUE(store_->ReadEvents(id, 0, 10).status().IsNotFound()) << id;
    EXPECT_TRUE(store_->ReadMessages(id, 0, 10).status().IsNotFound()) << id;
    clock_->Set(now);
  }
};

TEST_P(StoreSweepTest, ExpiredRuleRemovesEphemeralSessionsAtTheirExpiry) {
  const std::string user = NewUser();
  const Session doomed = Create(user, false);
  Say(user, doomed.id);  // expires kTtl after this write
  const Timestamp expires = *Must(store_->GetSession(doomed.id)).expires_at;
  Tick(1ms);
  const Session later = Create(user, false);
  const Session persistent = Create(user, true);
  clock_->Set(expires + 2ms);

  EXPECT_TRUE(Sweep(SweepRule::kExpired, expires - 1ms).session_ids.empty());
  const SweepResult swept = Sweep(SweepRule::kExpired, expires);
  EXPECT_EQ(swept.session_ids, std::vector<std::string>{doomed.id});
  EXPECT_EQ(swept.counts.sessions, 1);
  EXPECT_EQ(swept.counts.messages, 1);
  EXPECT_EQ(swept.counts.events, 2);  // session.created, message.created
  ExpectErased(doomed.id);
  EXPECT_TRUE(Exists(persistent.id));
  EXPECT_TRUE(Sweep(SweepRule::kExpired, expires).session_ids.empty());
  // The other rules never take an ephemeral session for inactivity.
  clock_->Set(Start());
  EXPECT_TRUE(Exists(later.id));
  const SweepResult inactive = Sweep(SweepRule::kInactive, expires + kTtl);
  EXPECT_EQ(inactive.session_ids, std::vector<std::string>{persistent.id});
  EXPECT_TRUE(Exists(later.id));
}

TEST_P(StoreSweepTest, InactiveRuleRemovesPersistentSessionsIdleBeforeCutoff) {
  const std::string user = NewUser();
  const std::string other = NewUser();
  const Session idle = Create(user);
  Say(user, idle.id, "forgotten words");
  const Timestamp idle_since = Must(store_->GetSession(idle.id)).updated_at;
  Tick(10ms);
  const Session active = Create(user);
  Say(user, active.id, "forgotten words too");
  const Timestamp active_since = Must(store_->GetSession(active.id)).updated_at;
  const Session ephemeral = Create(user, false);
  Tick(1ms);
  const Session others = Create(other);
  Say(other, others.id, "forgotten words of another user");
  Tick(10ms);
  const Session fresh = Create(other);

  // updated_at == cutoff is not "before" it.
  EXPECT_TRUE(Sweep(SweepRule::kInactive, idle_since).session_ids.empty());
  SweepResult swept = Sweep(SweepRule::kInactive, idle_since + 1ms);
  EXPECT_EQ(swept.session_ids, std::vector<std::string>{idle.id});
  EXPECT_EQ(swept.counts.messages, 1);
  ExpectErased(idle.id);

  EXPECT_TRUE(Sweep(SweepRule::kInactive, active_since).session_ids.empty());
  swept = Sweep(SweepRule::kInactive, active_since + 1ms);
  EXPECT_EQ(AsSet(swept.session_ids), (std::set<std::string>{active.id}))
      << "the other user's session was written after the cutoff";
  EXPECT_TRUE(Exists(ephemeral.id));
  EXPECT_TRUE(Exists(others.id));
  EXPECT_TRUE(Exists(fresh.id));
  if (!GetParam().encrypted) {
    // Search entries went with the messages; the other user's stay.
    EXPECT_TRUE(Must(service_->Search(user, "forgotten", {}, 10)).hits.empty());
    EXPECT_EQ(Must(service_->Search(other, "forgotten", {}, 10)).hits.size(),
              1u);
  }
  EXPECT_TRUE(Must(service_->ListSessions(user, {}, {}, 10)).sessions.size() ==
              1u);  // only the ephemeral one
}

TEST_P(StoreSweepTest, NeverUsedRuleRemovesSessionsWithoutMessages) {
  const std::string user = NewUser();
  const Session unused = Create(user);
  const Session unused_ephemeral = Create(user, false);
  const Session used = Create(user);
  const Timestamp created = unused.created_at;
  Tick(5ms);
  Say(user, used.id);
  // Only events, no message: still never used.
  SessionPatch rename;
  rename.title = "renamed";
  Must(service_->UpdateSession(user, unused.id, rename));
  Tick(5ms);
  const Session young = Create(user);

  EXPECT_TRUE(Sweep(SweepRule::kNeverUsed, created).session_ids.empty());
  const SweepResult swept = Sweep(SweepRule::kNeverUsed, created + 1ms);
  EXPECT_EQ(AsSet(swept.session_ids),
            (std::set<std::string>{unused.id, unused_ephemeral.id}));
  EXPECT_EQ(swept.counts.sessions, 2);
  EXPECT_EQ(swept.counts.messages, 0);
  ExpectErased(unused.id);
  ExpectErased(unused_ephemeral.id);
  EXPECT_TRUE(Exists(used.id));
  EXPECT_TRUE(Exists(young.id));
}

TEST_P(StoreSweepTest, LimitTakesOldestFirstAndRepeatedCallsDrain) {
  const std::string user = NewUser();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Create(user).id);
    Tick(1ms);
  }
  const std::string kept = Create(user).id;  // created at the cutoff
  const Timestamp cutoff = Must(store_->GetSession(kept)).created_at;

  EXPECT_TRUE(Sweep(SweepRule::kNeverUsed, cutoff, 0).session_ids.empty());
  SweepResult swept = Sweep(SweepRule::kNeverUsed, cutoff, 2);
  EXPECT_EQ(AsSet(swept.session_ids), (std::set<std::string>{ids[0], ids[1]}));
  EXPECT_EQ(swept.counts.sessions, 2);
  swept = Sweep(SweepRule::kNeverUsed, cutoff, 2);
  EXPECT_EQ(AsSet(swept.session_ids), (std::set<std::string>{ids[2], ids[3]}));
  swept = Sweep(SweepRule::kNeverUsed, cutoff, 2);
  EXPECT_EQ(swept.session_ids, std::vector<std::string>{ids[4]});
  EXPECT_TRUE(Sweep(SweepRule::kNeverUsed, cutoff, 2).session_ids.empty());
  EXPECT_TRUE(Exists(kept));
  EXPECT_EQ(Must(store_->Stats()).sessions, 1);
}

// Sessions right at the cutoff receive appends while a sweeper loops over
// them in small batches. Whatever the interleaving, a session that
// acknowledged an append survives with every acknowledged message; one that
// was swept first refuses the append (NotFound) and stays gone.
TEST_P(StoreSweepTest, SweepRacingAppendsLosesNothingThatShouldStay) {
  for (SweepRule rule : {SweepRule::kInactive, SweepRule::kNeverUsed}) {
    SCOPED_TRACE(std::string(ToString(rule)));
    const std::string user = NewUser();
    constexpr int kSessions = 24;
    std::vector<std::string> ids;
    for (int i = 0; i < kSessions; ++i) {
      ids.push_back(Create(user).id);
      // For the inactive rule the sessions need a message (or the race
      // would be with nothing); their last write is then at the cutoff - 1.
      if (rule == SweepRule::kInactive) Say(user, ids.back());
    }
    Tick(5ms);
    const Timestamp cutoff = Now();
    Tick(5ms);  // appends from now on are after the cutoff

    std::mutex mu;
    std::map<std::string, int> acknowledged;  // session -> appends ok
    std::set<std::string> refused;            // NotFound: swept first
    std::atomic<int> errors{0};
    std::atomic<bool> appenders_done{false};
    std::vector<std::string> swept_ids;

    std::thread sweeper([&] {
      // Until the appenders are done and a pass finds nothing more.
      for (int pass = 0; pass < 100000; ++pass) {
        const bool last = appenders_done.load();
        Result<SweepResult> r = store_->SweepSessions({rule, cutoff, 3});
        if (!r.ok()) {
          ++errors;
          return;
        }
        swept_ids.insert(swept_ids.end(), r->session_ids.begin(),
                         r->session_ids.end());
        if (last && r->session_ids.empty()) return;
        std::this_thread::yield();
      }
      ++errors;  // never drained
    });
    std::vector<std::thread> appenders;
    for (int t = 0; t < 3; ++t) {
      appenders.emplace_back([&, t] {
        // Each appender owns the sessions i % 4 == t; i % 4 == 3 gets none.
        for (int round = 0; round < 3; ++round) {
          for (int i = t; i < kSessions; i += 4) {
            NewMessage m;
            m.content = "kept " + std::to_string(round);
            Result<Message> r = service_->AddMessage(user, ids[i], m);
            std::lock_guard lock(mu);
            if (r.ok()) {
              ++acknowledged[ids[i]];
            } else if (r.status().IsNotFound()) {
              refused.insert(ids[i]);
            } else {
              ++errors;
            }
          }
        }
      });
    }
    for (std::thread& a : appenders) a.join();
    appenders_done = true;
    sweeper.join();
    ASSERT_EQ(errors.load(), 0);

    const std::set<std::string> swept = AsSet(swept_ids);
    EXPECT_EQ(swept.size(), swept_ids.size()) << "a session swept twice";
    for (int i = 0; i < kSessions; ++i) {
      const std::string& id = ids[i];
      auto ack = acknowledged.find(id);
      if (ack != acknowledged.end()) {
        EXPECT_FALSE(swept.contains(id)) << id << " acknowledged an append";
        EXPECT_FALSE(refused.contains(id))
            << id << " refused an append after acknowledging one";
        Result<Session> s = store_->GetSession(id);
        ASSERT_TRUE(s.ok()) << id << ": " << s.status().ToString();
        const int before = rule == SweepRule::kInactive ? 1 : 0;
        EXPECT_EQ(s->message_count, before + ack->second) << id;
        EXPECT_EQ(Must(store_->ReadMessages(id, 0, 100)).size(),
                  static_cast<std::size_t>(before + ack->second))
            << id;
      } else {
        // Never appended to (or refused): the rule holds, so it went.
        EXPECT_TRUE(swept.contains(id)) << id;
        EXPECT_FALSE(Exists(id)) << id;
      }
    }
    for (const std::string& id : refused) EXPECT_FALSE(Exists(id)) << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreSweepTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);
INSTANTIATE_TEST_SUITE_P(AtRest, StoreSweepTest,
                         ::testing::ValuesIn(EncryptedBackends()), BackendName);

}  // namespace
}  // namespace chatstore::conformance
