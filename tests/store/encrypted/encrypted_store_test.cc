// Encryption at rest on every backend: what reaches storage holds no
// plaintext (raw SQLite file bytes with the WAL, every Redis key and value,
// every PostgreSQL row as text), reads give the plaintext back, and a wrong
// key, a tampered value or a value moved to another place is a clear error,
// never garbage. Plus the key file's rules and key rotation.
#include "store/encrypted/encrypted_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "chatstore/encryption.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "conformance/backends.h"
#include "store/sqlite/sqlite_store.h"
#include "support/postgres_server.h"
#include "support/raw_storage.h"
#include "support/redis_inspector.h"
#include "support/redis_server.h"
#include "support/store_tampering.h"
#include "support/temp_dir.h"

namespace chatstore {
namespace {

using conformance::AllBackends;
using conformance::BackendInstance;
using conformance::BackendName;
using conformance::BackendParam;
using testing::OverwriteContent;

constexpr char kKeyA[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr char kKeyB[] =
    "f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100";

template <typename T>
T Must(Result<T> r) {
  if (!r.ok()) throw std::runtime_error(r.status().ToString());
  return std::move(r).value();
}

// Writes a key file (mode 0600 unless `mode`) and loads it.
std::shared_ptr<const EncryptionKeys> Keys(const testing::TempDir& dir,
                                           const std::string& name,
                                           const std::string& text) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0600);
  return Must(LoadEncryptionKeyFile(path));
}

class EncryptedStoreTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    instance_ = GetParam().create();
    inner_ = Must(OpenStore(instance_->uri()));
    keys_a_ = Keys(dir_, "a.keys", std::string("# the first\na ") + kKeyA);
    store_ = Must(EncryptStore(inner_, keys_a_));
    service_ =
        std::make_unique<SessionService>(store_, nullptr, ServiceOptions{});
    user_ = "user-" + NewId(SystemClock()->Now());
  }

  SessionService& svc() { return *service_; }
  const std::string& backend() const { return GetParam().name; }

  std::string NewSession() {
    CreateSessionRequest request;
    request.title = "a session";
    return Must(svc().CreateSession(user_, request)).id;
  }
  Message Say(const std::string& sid, const std::string& content) {
    NewMessage m;
    m.content = content;
    return Must(svc().AddMessage(user_, sid, m));
  }

  // Everything the backend holds, as bytes to search; empty for memory://
  // (checked through the inner store's reads instead).
  std::string RawStorage() {
    return testing::RawStorage(backend(), instance_->uri(), *inner_);
  }

  // How many messages the backend's full-text index holds (0 where it
  // has no index of text: memory, redis).
  int IndexedMessages() {
    if (backend() == "Sqlite") {
      const std::string path =
          instance_->uri().substr(std::string("sqlite://").size());
      sqlite3* db = nullptr;
      EXPECT_EQ(
          sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
          SQLITE_OK);
      sqlite3_stmt* stmt = nullptr;
      EXPECT_EQ(
          sqlite3_prepare_v2(db, "SELECT count(*) FROM messages_fts_docsize",
                             -1, &stmt, nullptr),
          SQLITE_OK)
          << sqlite3_errmsg(db);
      const int n =
          sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
      sqlite3_finalize(stmt);
      sqlite3_close(db);
      return n;
    }
    if (backend() == "Postgres") {
      const std::string& uri = instance_->uri();
      return std::stoi(testing::SharedPostgresServer().Query(
          uri.substr(uri.rfind('/') + 1),
          "SELECT count(*) FROM messages WHERE search_vector IS NOT NULL"));
    }
    return 0;
  }

  // The inner store's view of a session: envelopes only.
  std::string InnerView(const std::string& sid) {
    std::string out;
    for (const Message& m : Must(inner_->ReadMessages(sid, 0, 1000))) {
      out += m.content + "\n";
    }
    for (const Event& e : Must(inner_->ReadEvents(sid, 0, 1000))) {
      out += e.data + "\n";
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<BackendInstance> instance_;
  std::shared_ptr<Store> inner_;
  std::shared_ptr<const EncryptionKeys> keys_a_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<SessionService> service_;
  std::string user_;
};

TEST_P(EncryptedStoreTest, NothingStoredHoldsPlaintextAndReadsGiveItBack) {
  const std::string said = "zebracornflake said hello";
  const std::string streamed_a = "quokkamarmalade ";
  const std::string streamed_b = "wombatjubilee";
  const std::string event_text = "narwhalcustard";
  const std::string sid = NewSession();
  const Message m1 = Say(sid, said);

  NewMessage open;
  open.role = Role::kAssistant;
  open.status = MessageStatus::kStreaming;
  const Message m2 = Must(svc().AddMessage(user_, sid, open));
  Must(svc().AppendDelta(user_, sid, m2.id, streamed_a));
  Must(svc().AppendDelta(user_, sid, m2.id, streamed_b));
  const Message done = Must(svc().CompleteMessage(user_, sid, m2.id, {}));
  EXPECT_EQ(done.content, streamed_a + streamed_b);
  Must(svc().AppendEvents(
      user_, sid, {AppEvent{"app.note", "{\"text\":\"" + event_text + "\"}"}}));

  // Reads give the plaintext back, through every read path.
  const MessagePage page = Must(svc().ReadMessages(user_, sid, 0, 100));
  ASSERT_EQ(page.messages.size(), 2u);
  EXPECT_EQ(page.messages[0].content, said);
  EXPECT_EQ(page.messages[1].content, streamed_a + streamed_b);
  EXPECT_EQ(Must(store_->GetMessage(sid, m1.id)).content, said);
  const EventPage events = Must(svc().ReadEvents(user_, sid, 0, 100));
  std::string all_events;
  for (const Event& e : events.events) all_events += e.data + "\n";
  EXPECT_NE(all_events.find(streamed_b), std::string::npos);  // the delta
  EXPECT_NE(all_events.find(event_text), std::string::npos);
  EXPECT_NE(all_events.find(said), std::string::npos);  // message.created

  // Token counts are the plaintext's: the same text in a plain store.
  SessionService plain(Must(OpenStore("memory://")), nullptr, {});
  CreateSessionRequest request;
  const std::string plain_sid = Must(plain.CreateSession(user_, request)).id;
  NewMessage same;
  same.content = said;
  const Message plain_m = Must(plain.AddMessage(user_, plain_sid, same));
  ASSERT_TRUE(plain_m.tokens.has_value());
  EXPECT_EQ(page.messages[0].tokens, plain_m.tokens);
  const ContextWindow window = Must(svc().GetContext(user_, sid, {}));
  ASSERT_EQ(window.messages.size(), 2u);
  EXPECT_EQ(window.messages[0].content, said);
  EXPECT_EQ(window.token_count,
            *page.messages[0].tokens + *page.messages[1].tokens);

  // What the backend holds: envelopes, no marker anywhere.
  const std::string inner = InnerView(sid);
  EXPECT_NE(inner.find("csenc:v1:a:"), std::string::npos) << inner;
  EXPECT_NE(inner.find("{\"enc\":\"v1:a:"), std::string::npos) << inner;
  const std::string stored = RawStorage();
  const std::string raw = stored + inner;
  for (const std::string& marker :
       {std::string("zebracornflake"), std::string("quokkamarmalade"),
        std::string("wombatjubilee"), event_text}) {
    EXPECT_EQ(raw.find(marker), std::string::npos)
        << marker << " is stored in plaintext on " << backend();
  }
  // The search index holds nothing of sealed content (SQLite's FTS5 table,
  // PostgreSQL's search_vector; Redis's index holds message ids only).
  EXPECT_EQ(IndexedMessages(), 0) << backend();
  if (backend() != "Memory") {
    // The dump did see the rows: the sealed content is in it.
    EXPECT_NE(stored.find(Must(inner_->GetMessage(sid, m1.id)).content),
              std::string::npos);
  }
}

TEST_P(EncryptedStoreTest, SearchIsDisabled) {
  const std::string sid = NewSession();
  Say(sid, "findable words");
  Result<SearchPage> r = svc().Search(user_, "findable", {}, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsSearchDisabled(r.status())) << r.status().ToString();
  EXPECT_EQ(r.status().code(), Status::Code::kUnprocessable);
}

TEST_P(EncryptedStoreTest, AWrongKeyIsRefusedAtOpenAndCannotReadValues) {
  const std::string sid = NewSession();
  Say(sid, "secret text");
  const auto keys_b = Keys(dir_, "b.keys", std::string("b ") + kKeyB);
  Result<std::shared_ptr<Store>> wrong = EncryptStore(inner_, keys_b);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("does not fit"), std::string::npos)
      << wrong.status().message();
  EXPECT_NE(wrong.status().message().find("'a'"), std::string::npos)
      << wrong.status().message();

  // The same key id with other bytes: the key check does not open either.
  const auto same_id = Keys(dir_, "a2.keys", std::string("a ") + kKeyB);
  EXPECT_FALSE(EncryptStore(inner_, same_id).ok());

  // Bypassing the check, every read is a clear error naming the session.
  auto unchecked = std::make_shared<encrypted::EncryptedStore>(inner_, same_id);
  Result<std::vector<Message>> read = unchecked->ReadMessages(sid, 0, 10);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(IsDecryptionFailure(read.status())) << read.status().ToString();
  EXPECT_NE(read.status().message().find(sid), std::string::npos);
  Result<std::vector<Event>> events = unchecked->ReadEvents(sid, 0, 10);
  ASSERT_FALSE(events.ok());
  EXPECT_TRUE(IsDecryptionFailure(events.status()));
  // A write that must open the current message fails without writing.
  SessionService wrong_svc(unchecked, nullptr, {});
  const Message m = Must(svc().ReadMessages(user_, sid, 0, 10)).messages[0];
  const std::int64_t last_seq = Must(store_->GetSession(sid)).last_seq;
  EXPECT_FALSE(wrong_svc.CompleteMessage(user_, sid, m.id, {}).ok());
  EXPECT_EQ(Must(store_->GetSession(sid)).last_seq, last_seq);
}

TEST_P(EncryptedStoreTest, TamperedOrMovedValuesDoNotOpen) {
  const std::string sid = NewSession();
  const std::string other = NewSession();
  const Message m = Say(sid, "original text");
  const Message m_next = Say(sid, "second text");
  const Message o = Say(other, "other session's text");
  const std::string sealed = Must(inner_->GetMessage(sid, m.id)).content;

  // One flipped character of the ciphertext.
  std::string flipped = sealed;
  char& c = flipped[flipped.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  ASSERT_TRUE(inner_
                  ->ApplySync(std::make_shared<OverwriteContent>(sid, m_next.id,
                                                                 flipped))
                  .ok());
  Result<Message> tampered = store_->GetMessage(sid, m_next.id);
  ASSERT_FALSE(tampered.ok());
  EXPECT_TRUE(IsDecryptionFailure(tampered.status()));
  // The event the raw write added is not sealed: an error too.
  Result<std::vector<Event>> log = store_->ReadEvents(sid, 0, 100);
  ASSERT_FALSE(log.ok());
  EXPECT_TRUE(IsDecryptionFailure(log.status()));

  // A sealed value copied intact to another session does not open there
  // (the session id is bound), nor to another message of its own session.
  ASSERT_TRUE(
      inner_->ApplySync(std::make_shared<OverwriteContent>(other, o.id, sealed))
          .ok());
  Result<Message> moved = store_->GetMessage(other, o.id);
  ASSERT_FALSE(moved.ok());
  EXPECT_TRUE(IsDecryptionFailure(moved.status()));
  EXPECT_NE(moved.status().message().find(other), std::string::npos);
  ASSERT_TRUE(inner_
                  ->ApplySync(std::make_shared<OverwriteContent>(sid, m_next.id,
                                                                 sealed))
                  .ok());
  EXPECT_FALSE(store_->GetMessage(sid, m_next.id).ok());
  // Plaintext written behind the decorator's back is refused too.
  ASSERT_TRUE(inner_
                  ->ApplySync(std::make_shared<OverwriteContent>(
                      sid, m_next.id, "injected plaintext"))
                  .ok());
  EXPECT_TRUE(IsDecryptionFailure(store_->GetMessage(sid, m_next.id).status()));
  // The untouched message still opens.
  EXPECT_EQ(Must(store_->GetMessage(sid, m.id)).content, "original text");
}

TEST_P(EncryptedStoreTest, KeyRotationReadsOldValuesAndSealsWithTheNewKey) {
  const std::string sid = NewSession();
  const Message old_m = Say(sid, "sealed with the old key");

  // Rotation step 1: the new key first, the old one kept.
  const auto rotated = Keys(dir_, "rotated.keys",
                            std::string("b ") + kKeyB + "\na " + kKeyA + "\n");
  std::shared_ptr<Store> store = Must(EncryptStore(inner_, rotated));
  SessionService svc2(store, nullptr, {});
  EXPECT_EQ(Must(store->GetMessage(sid, old_m.id)).content,
            "sealed with the old key");
  NewMessage m;
  m.content = "sealed with the new key";
  const Message new_m = Must(svc2.AddMessage(user_, sid, m));
  EXPECT_EQ(Must(store->GetMessage(sid, new_m.id)).content,
            "sealed with the new key");
  EXPECT_TRUE(Must(inner_->GetMessage(sid, old_m.id))
                  .content.starts_with("csenc:v1:a:"));
  EXPECT_TRUE(Must(inner_->GetMessage(sid, new_m.id))
                  .content.starts_with("csenc:v1:b:"));

  // Dropping the old key before re-sealing is refused at open: its data
  // would no longer read.
  const auto only_new = Keys(dir_, "new.keys", std::string("b ") + kKeyB);
  Result<std::shared_ptr<Store>> early = EncryptStore(inner_, only_new);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.status().message().find("'a'"), std::string::npos)
      << early.status().message();

  // Re-sealing: copy to a new store with the rotated keys (migration seals
  // everything with the first key); the copy opens with the new key alone.
  std::shared_ptr<Store> copy =
      Must(EncryptStore(Must(OpenStore("memory://")), rotated));
  const Session session = Must(store->GetSession(sid));
  ASSERT_TRUE(copy->ImportSession(session,
                                  Must(store->ReadMessages(sid, 0, 100)),
                                  Must(store->ReadEvents(sid, 0, 100)))
                  .ok());
  Store& copy_inner = dynamic_cast<encrypted::EncryptedStore&>(*copy).inner();
  for (const Message& row : Must(copy_inner.ReadMessages(sid, 0, 100))) {
    EXPECT_TRUE(row.content.starts_with("csenc:v1:b:")) << row.content;
  }
}

TEST_P(EncryptedStoreTest, EncryptedAndPlainStoresAreNotMixedUp) {
  const std::string sid = NewSession();
  Say(sid, "sealed");
  // Without the key, the encrypted store is refused, not read as garbage.
  const Status plain_open = CheckStoreNotEncrypted(*inner_);
  EXPECT_EQ(plain_open.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(plain_open.message().find("--encryption-key-file"),
            std::string::npos);
  // The key check session is the decorator's own: hidden from scans and
  // unreachable, while the raw store shows it.
  bool inner_has_check = false;
  for (const Session& s : Must(inner_->ScanSessions("", 1000)).sessions) {
    inner_has_check |= s.id == encrypted::kKeyCheckSessionId;
  }
  EXPECT_TRUE(inner_has_check);
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    const SessionScanPage page = Must(store_->ScanSessions(cursor, 1000));
    for (const Session& s : page.sessions) {
      EXPECT_NE(s.id, encrypted::kKeyCheckSessionId);
    }
    if (page.next_cursor.empty()) break;
    cursor = page.next_cursor;
  }
  EXPECT_TRUE(
      store_->GetSession(encrypted::kKeyCheckSessionId).status().IsNotFound());
  EXPECT_TRUE(store_->DeleteSession(encrypted::kKeyCheckSessionId)
                  .status()
                  .IsNotFound());
  // Reopening with the right key works (the check opens).
  EXPECT_TRUE(EncryptStore(inner_, keys_a_).ok());
}

TEST_P(EncryptedStoreTest, AStoreWithUnencryptedDataIsNotEncryptedInPlace) {
  auto fresh_instance = GetParam().create();
  if (backend() == "Redis" || backend() == "Memory") {
    // One redis server (flushed per instance) and memory:// are not two
    // stores side by side: use a new memory store for the plain side.
    fresh_instance = std::make_unique<conformance::FixedUri>("memory://");
  }
  std::shared_ptr<Store> plain = Must(OpenStore(fresh_instance->uri()));
  EXPECT_TRUE(CheckStoreNotEncrypted(*plain).ok());
  SessionService plain_svc(plain, nullptr, {});
  CreateSessionRequest request;
  Must(plain_svc.CreateSession(user_, request));
  Result<std::shared_ptr<Store>> r = EncryptStore(plain, keys_a_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unencrypted data"), std::string::npos)
      << r.status().message();
}

INSTANTIATE_TEST_SUITE_P(Backends, EncryptedStoreTest,
                         ::testing::ValuesIn(AllBackends()), BackendName);

// ---- The key file ----------------------------------------------------------

TEST(EncryptionKeyFileTest, LoadsSeveralKeysFirstOneSeals) {
  testing::TempDir dir;
  const auto keys = Keys(
      dir, "k",
      std::string("# comment\n\nnew ") + kKeyB + "\r\nold\t" + kKeyA + "\n");
  EXPECT_EQ(keys->ids(), (std::vector<std::string>{"new", "old"}));
  EXPECT_EQ(keys->sealing_key_id(), "new");
  EXPECT_NE(keys->Find("old"), nullptr);
  EXPECT_EQ(keys->Find("other"), nullptr);
}

TEST(EncryptionKeyFileTest, RefusesAFileOthersMayRead) {
  testing::TempDir dir;
  const std::string path = dir.File("k");
  std::ofstream(path) << "a " << kKeyA << "\n";
  for (mode_t mode : {0640, 0604, 0620, 0666}) {
    ::chmod(path.c_str(), mode);
    Result<std::shared_ptr<const EncryptionKeys>> r =
        LoadEncryptionKeyFile(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("chmod 600 " + path), std::string::npos)
        << r.status().message();
  }
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(LoadEncryptionKeyFile(path).ok());
}

TEST(EncryptionKeyFileTest, RefusesMalformedFiles) {
  testing::TempDir dir;
  const std::string path = dir.File("k");
  const std::string hex = kKeyA;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "holds no key"},
      {"# only a comment\n", "holds no key"},
      {hex + "\n", "expected"},
      {"a " + hex.substr(0, 62) + "\n", "64 hex digits"},
      {"a " + hex.substr(0, 63) + "g\n", "64 hex digits"},
      {"bad/id " + hex + "\n", "key id"},
      {"a " + hex + "\na " + std::string(kKeyB) + "\n", "repeats"},
  };
  for (const auto& [text, expected] : cases) {
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), 0600);
    Result<std::shared_ptr<const EncryptionKeys>> r =
        LoadEncryptionKeyFile(path);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(expected), std::string::npos)
        << r.status().message();
    // An error never quotes key material.
    EXPECT_EQ(r.status().message().find(hex.substr(0, 16)), std::string::npos);
  }
  EXPECT_TRUE(LoadEncryptionKeyFile(dir.File("missing")).status().IsNotFound());
}

}  // namespace
}  // namespace chatstore
