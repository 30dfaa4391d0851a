// Encryption at rest: a Store decorator that wraps ANY backend (memory,
// sqlite, redis, postgres) and seals what users wrote before the backend
// sees it. docs/encryption.md is the operator's view (threat model, key
// file, rotation); include/chatstore/encryption.h is the public entry.
//
// This folder:
//   encryption_keys.h  the key file and the keys in guarded memory
//   sealed_value.h     one value: XChaCha20-Poly1305, envelope formats
//   encrypted_store.h  this decorator and the store's key check
//
// What is sealed: message content (so every streamed delta, which the core
// folds into the content) and event data (message.delta, message.created
// and every other event's JSON). Mutations run inside the backend's atomic
// section as usual, but through a wrapper that opens the current message
// before the core's Prepare() and seals the batch it returns: the core (and
// its token counts) sees plaintext, the backend only envelopes. Everything
// read back is opened, and a value that does not open is a Corruption
// error naming the session, never garbage.
//
// What is not sealed: session rows (title, status, metadata, state, counts,
// timestamps), message metadata, roles, token counts, event types, ids and
// the sizes and times of writes.
//
// Search is refused (the backend's index only ever sees envelopes).
//
// The key check: a reserved session (kKeyCheckSessionId, owned by
// kKeyCheckUserId) whose one event holds a sealed known value. Opening a
// store with keys that cannot open it fails at start-up; the decorator hides
// that session from every read, scan, write and erasure.
#ifndef CHATSTORE_STORE_ENCRYPTED_ENCRYPTED_STORE_H_
#define CHATSTORE_STORE_ENCRYPTED_ENCRYPTED_STORE_H_

#include <memory>
#include <string_view>

#include "chatstore/encryption.h"
#include "chatstore/store.h"
#include "store/encrypted/encryption_keys.h"

namespace chatstore::encrypted {

inline constexpr std::string_view kKeyCheckSessionId =
    "chatstore-encryption-key-check";
inline constexpr std::string_view kKeyCheckUserId = "chatstore:encryption";

class EncryptedStore final : public Store {
 public:
  // Prefer EncryptStore(), which checks the keys against the store first.
  EncryptedStore(std::shared_ptr<Store> inner,
                 std::shared_ptr<const EncryptionKeys> keys)
      : inner_(std::move(inner)), keys_(std::move(keys)) {}

  // The backend's kind: "sqlite", "redis", ...
  std::string_view kind() const override { return inner_->kind(); }

  void Apply(std::shared_ptr<const Mutation> mutation,
             ApplyCallback done) override;
  Result<Session> GetSession(std::string_view session_id) override;
  Result<Message> GetMessage(std::string_view session_id,
                             std::string_view message_id) override;
  Result<SessionPage> ListSessions(std::string_view user_id,
                                   std::optional<SessionStatus> status,
                                   const std::optional<SessionCursor>& after,
                                   int limit) override;
  Result<std::vector<Event>> ReadEvents(std::string_view session_id,
                                        std::int64_t after_seq,
                                        int limit) override;
  Result<std::vector<Message>> ReadMessages(std::string_view session_id,
                                            std::int64_t after_seq,
                                            int limit) override;
  Result<std::vector<Message>> ReadMessagesBefore(std::string_view session_id,
                                                  std::int64_t before_seq,
                                                  int limit) override;
  Result<EraseCounts> DeleteSession(std::string_view session_id) override;
  Result<EraseCounts> DeleteUser(std::string_view user_id) override;
  // Always Unprocessable(kSearchDisabledMessage).
  Result<SearchPage> Search(std::string_view user_id, std::string_view query,
                            const std::optional<SearchCursor>& after,
                            int limit) override;
  Result<Preferences> GetPreferences(std::string_view user_id) override;
  Status PutPreferences(std::string_view user_id,
                        const Preferences& prefs) override;
  Result<SweepResult> SweepSessions(const SweepRequest& request) override;
  Result<SessionScanPage> ScanSessions(std::string_view cursor,
                                       int limit) override;
  // The `user:` state document is stored as the inner store holds it, not
  // sealed: like the session row's own `state` (docs/encryption.md).
  Result<std::string> GetUserState(std::string_view user_id) override;
  Result<UserStateScanPage> ScanUserStates(std::string_view cursor,
                                           int limit) override;
  Status PutUserState(std::string_view user_id,
                      std::string_view state) override;
  Result<PreferencesScanPage> ScanPreferences(std::string_view cursor,
                                              int limit) override;
  Status Ping() override;
  Result<StoreStats> Stats() override;

  // The wrapped backend (tests look at its raw bytes through it).
  Store& inner() { return *inner_; }

 private:
  Status OpenMessages(std::vector<Message>& messages) const;

  const std::shared_ptr<Store> inner_;
  const std::shared_ptr<const EncryptionKeys> keys_;
};

}  // namespace chatstore::encrypted

#endif  // CHATSTORE_STORE_ENCRYPTED_ENCRYPTED_STORE_H_
