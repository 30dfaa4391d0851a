// The fixture the conformance suites share: for each test, a fresh store of
// the parameter's backend (encrypted when the parameter says so), a manual
// clock every time-dependent rule reads, and a SessionService over the
// store (as both primary and ephemeral store).
#ifndef CHATSTORE_TESTS_CONFORMANCE_BACKEND_TEST_H_
#define CHATSTORE_TESTS_CONFORMANCE_BACKEND_TEST_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "chatstore/clock.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "conformance/backends.h"

namespace chatstore::conformance {

class BackendTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  // When every test starts: a fixed instant, so failures reproduce.
  static Timestamp Start() { return FromMillis(1'800'000'000'000); }

  explicit BackendTest(std::chrono::seconds ephemeral_ttl)
      : ephemeral_ttl_(ephemeral_ttl) {}

  void SetUp() override {
    instance_ = GetParam().create();
    clock_ = std::make_shared<ManualClock>(Start());
    Result<std::shared_ptr<Store>> store =
        OpenBackendStore(GetParam(), *instance_, clock_);
    ASSERT_TRUE(store.ok())
        << instance_->uri() << ": " << store.status().ToString();
    store_ = *store;
    service_ = MakeService(Limits{});
  }

  void TearDown() override {
    // The store must close before its files are removed.
    service_.reset();
    store_.reset();
    instance_.reset();
  }

  // A service over the test's store with other limits.
  std::unique_ptr<SessionService> MakeService(const Limits& limits) {
    ServiceOptions options;
    options.clock = clock_;
    options.ephemeral_ttl = ephemeral_ttl_;
    options.limits = limits;
    return std::make_unique<SessionService>(store_, store_, options);
  }

  Timestamp Now() const { return clock_->Now(); }
  void Tick(std::chrono::milliseconds d = std::chrono::milliseconds(1)) {
    clock_->Advance(d);
  }
  // A user no other test (or run, on a shared server) has seen.
  std::string NewUser() { return "user-" + NewId(Now()); }

  const std::chrono::seconds ephemeral_ttl_;
  std::unique_ptr<BackendInstance> instance_;
  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<SessionService> service_;
};

}  // namespace chatstore::conformance

#endif  // CHATSTORE_TESTS_CONFORMANCE_BACKEND_TEST_H_
