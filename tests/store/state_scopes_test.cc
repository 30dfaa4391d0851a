// `temp:` state never reaches storage, on every backend and through the
// encryption decorator: after a patch carrying a unique `temp:` marker, no
// byte the backend holds (SQLite's files with the WAL, every Redis key and
// value, every PostgreSQL row) contains it, while a listener connected during
// the change did receive it. The `user:` marker of the same patch is found
// in the same dump, which shows the dump sees what the patch stored. The
// conformance suite covers the semantics (docs/context-and-state.md).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chatstore/encryption.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "conformance/backends.h"
#include "store/encrypted/encryption_keys.h"
#include "support/raw_storage.h"

namespace chatstore {
namespace {

using conformance::AllBackends;
using conformance::BackendInstance;
using conformance::BackendName;
using conformance::BackendParam;
using conformance::EncryptedBackends;
using conformance::Must;

// Keeps the data of every state.delta event a commit announced.
class DeltaRecorder final : public CommitListener {
 public:
  void OnCommit(const Session&, const std::vector<Event>& events) override {
    std::lock_guard lock(mu_);
    for (const Event& e : events) {
      if (e.type == "state.delta") data_ += e.data + "\n";
    }
  }
  std::string data() {
    std::lock_guard lock(mu_);
    return data_;
  }

 private:
  std::mutex mu_;
  std::string data_;
};

class TempStateTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    instance_ = GetParam().create();
    inner_ = Must(OpenStore(instance_->uri()));
    store_ = inner_;
    if (GetParam().encrypted) {
      store_ = Must(EncryptStore(
          inner_,
          Must(EncryptionKeys::Parse("k 000102030405060708090a0b0c0d0e0f"
                                     "101112131415161718191a1b1c1d1e1f",
                                     "test keys"))));
    }
    service_ =
        std::make_unique<SessionService>(store_, store_, ServiceOptions{});
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    inner_.reset();
    instance_.reset();
  }

  std::unique_ptr<BackendInstance> instance_;
  std::shared_ptr<Store> inner_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<SessionService> service_;
};

TEST_P(TempStateTest, TempKeysAreDeliveredLiveAndNeverStored) {
  const std::string user = "user-" + NewId(SystemClock()->Now());
  const std::string sid = Must(service_->CreateSession(user, {})).id;
  const std::string temp_marker = "tempmarker-zanzibar-" + sid;
  const std::string user_marker = "usermarker-kilimanjaro-" + sid;
  DeltaRecorder live;
  service_->AddListener(&live);
  SessionPatch patch;
  patch.state = R"({"step":1,"temp:scratch":{"note":")" + temp_marker +
                R"("},"user:pref":")" + user_marker + R"("})";
  const Session answered = Must(service_->UpdateSession(user, sid, patch));
  service_->RemoveListener(&live);

  EXPECT_NE(live.data().find(temp_marker), std::string::npos) << live.data();
  EXPECT_EQ(answered.state.find(temp_marker), std::string::npos);
  EXPECT_NE(answered.state.find(user_marker), std::string::npos);

  // Beneath the service: the inner store's rows (memory has nothing else).
  std::string rows = Must(inner_->GetSession(sid)).state + "\n" +
                     Must(inner_->GetUserState(user)) + "\n";
  for (const Event& e : Must(inner_->ReadEvents(sid, 0, 1000))) {
    rows += e.data + "\n";
  }
  for (const Event& e : Must(store_->ReadEvents(sid, 0, 1000))) {
    rows += e.data + "\n";  // opened, where the store is encrypted
  }
  EXPECT_EQ(rows.find(temp_marker), std::string::npos) << rows;
  EXPECT_NE(rows.find(user_marker), std::string::npos) << rows;

  // The raw bytes of the backend.
  const std::string raw =
      testing::RawStorage(GetParam().name, instance_->uri(), *inner_);
  EXPECT_EQ(raw.find(temp_marker), std::string::npos)
      << "temp: state reached the storage of " << GetParam().name;
  if (GetParam().name.find("Memory") == std::string::npos) {
    // Stored unsealed, like the session row's state (docs/encryption.md).
    EXPECT_NE(raw.find(user_marker), std::string::npos) << GetParam().name;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TempStateTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);
INSTANTIATE_TEST_SUITE_P(AtRest, TempStateTest,
                         ::testing::ValuesIn(EncryptedBackends()), BackendName);

}  // namespace
}  // namespace chatstore
