// What only the memory store promises, beyond the conformance suite: the cap
// on sessions held (StoreOptions::memory_max_sessions).
#include <chrono>
#include <memory>
#include <string>

#include "chatstore/clock.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "gtest/gtest.h"

namespace chatstore {
namespace {

using namespace std::chrono_literals;

const Timestamp kStart = FromMillis(1'800'000'000'000);

class MemoryStoreTest : public ::testing::Test {
 protected:
  void Open(std::size_t max_sessions) {
    clock_ = std::make_shared<ManualClock>(kStart);
    StoreOptions options;
    options.clock = clock_;
    options.memory_max_sessions = max_sessions;
    Result<std::shared_ptr<Store>> store = OpenStore("memory://", options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = *store;
    ServiceOptions service_options;
    service_options.clock = clock_;
    service_options.ephemeral_ttl = 60s;
    service_ =
        std::make_unique<SessionService>(store_, store_, service_options);
  }

  Result<Session> Create(bool persistent) {
    CreateSessionRequest request;
    request.persistent = persistent;
    return service_->CreateSession("u", request);
  }

  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<SessionService> service_;
};

TEST_F(MemoryStoreTest, KindIsMemory) {
  Open(10);
  EXPECT_EQ(store_->kind(), "memory");
  EXPECT_TRUE(store_->Ping().ok());
}

TEST_F(MemoryStoreTest, CapAnswersResourceExhaustedWhenNothingExpired) {
  Open(3);
  ASSERT_TRUE(Create(true).ok());
  ASSERT_TRUE(Create(false).ok());
  ASSERT_TRUE(Create(true).ok());
  const Result<Session> fourth = Create(true);
  EXPECT_EQ(fourth.status().code(), Status::Code::kResourceExhausted);
  // The refused session left nothing behind.
  EXPECT_EQ(service_->ListSessions("u", {}, {}, 10)->sessions.size(), 3u);
  EXPECT_EQ(store_->Stats()->sessions, 3);
  // Writes to existing sessions are not limited by the cap.
  const Session s = service_->ListSessions("u", {}, {}, 1)->sessions.at(0);
  EXPECT_TRUE(service_->AddMessage("u", s.id, NewMessage{}).ok());
}

TEST_F(MemoryStoreTest, CapDropsExpiredSessionsFirst) {
  Open(3);
  const Session ephemeral1 = *Create(false);
  const Session ephemeral2 = *Create(false);
  const Session persistent = *Create(true);
  clock_->Advance(60s);  // both ephemeral sessions are due now
  const Result<Session> fourth = Create(true);
  ASSERT_TRUE(fourth.ok()) << fourth.status().ToString();
  EXPECT_EQ(store_->Stats()->sessions, 2);
  EXPECT_TRUE(store_->GetSession(persistent.id).ok());
  EXPECT_TRUE(store_->GetSession(fourth->id).ok());
  // They were dropped, not just hidden.
  clock_->Set(kStart);
  EXPECT_TRUE(store_->GetSession(ephemeral1.id).status().IsNotFound());
  EXPECT_TRUE(store_->GetSession(ephemeral2.id).status().IsNotFound());
  EXPECT_TRUE(Create(true).ok());
  EXPECT_EQ(Create(true).status().code(), Status::Code::kResourceExhausted);
}

TEST_F(MemoryStoreTest, DeletingFreesCapacity) {
  Open(1);
  const Session s = *Create(true);
  EXPECT_EQ(Create(true).status().code(), Status::Code::kResourceExhausted);
  ASSERT_TRUE(service_->DeleteSession("u", s.id).ok());
  EXPECT_TRUE(Create(true).ok());
  ASSERT_TRUE(service_->EraseUser("u").ok());
  EXPECT_EQ(store_->Stats()->sessions, 0);
  EXPECT_TRUE(Create(true).ok());
}

TEST_F(MemoryStoreTest, ForgetsUsersWithNothingLeft) {
  // Not observable through the API except as memory; this checks that an
  // erased user's preferences really are gone and a new session for the
  // same user id works after the user's entry was dropped.
  Open(10);
  ASSERT_TRUE(store_->PutPreferences("u", Preferences{false}).ok());
  const Session s = *Create(true);
  ASSERT_TRUE(store_->DeleteUser("u").ok());
  EXPECT_TRUE(store_->GetPreferences("u").status().IsNotFound());
  EXPECT_TRUE(store_->GetSession(s.id).status().IsNotFound());
  const Session again = *Create(true);
  EXPECT_EQ(service_->ListSessions("u", {}, {}, 10)->sessions.size(), 1u);
  EXPECT_EQ(service_->ListSessions("u", {}, {}, 10)->sessions[0].id, again.id);
}

}  // namespace
}  // namespace chatstore
