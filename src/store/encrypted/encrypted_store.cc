#include "store/encrypted/encrypted_store.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/encrypted/sealed_value.h"

namespace chatstore {
namespace encrypted {
namespace {

// The plaintext of the key-check event.
constexpr std::string_view kKeyCheckData = "{\"key_check\":\"chatstore\"}";

Status NoSuchSession(std::string_view session_id) {
  return Status::NotFound("session " + std::string(session_id) + " not found");
}

Status OpenBatch(const EncryptionKeys& keys, WriteBatch& batch) {
  for (MessageWrite& m : batch.messages) {
    CHATSTORE_ASSIGN_OR_RETURN(
        m.row.content,
        OpenContent(keys, m.row.session_id, m.row.id, m.row.content));
  }
  for (Event& e : batch.events) {
    CHATSTORE_ASSIGN_OR_RETURN(
        e.data, OpenEventData(keys, e.session_id, e.seq, e.data));
  }
  return Status::Ok();
}

// Runs the core's mutation on plaintext and seals what it writes.
class SealingMutation final : public Mutation {
 public:
  SealingMutation(std::shared_ptr<const Mutation> inner,
                  std::shared_ptr<const EncryptionKeys> keys)
      : inner_(std::move(inner)), keys_(std::move(keys)) {}

  const std::string& session_id() const override {
    return inner_->session_id();
  }
  const std::string& message_id() const override {
    return inner_->message_id();
  }

  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const override {
    std::optional<Message> plain;
    if (message != nullptr) {
      plain = *message;
      CHATSTORE_ASSIGN_OR_RETURN(
          plain->content, OpenContent(*keys_, message->session_id, message->id,
                                      message->content));
    }
    CHATSTORE_ASSIGN_OR_RETURN(
        WriteBatch batch,
        inner_->Prepare(session, plain ? &*plain : nullptr, now));
    for (MessageWrite& m : batch.messages) {
      m.row.content =
          SealContent(*keys_, m.row.session_id, m.row.id, m.row.content);
    }
    for (Event& e : batch.events) {
      e.data = SealEventData(*keys_, e.session_id, e.seq, e.data);
    }
    return batch;
  }

 private:
  const std::shared_ptr<const Mutation> inner_;
  const std::shared_ptr<const EncryptionKeys> keys_;
};

// The first event of some session other than the key check's, or nullopt
// when the store holds none (within a bounded scan).
Result<std::optional<Event>> FirstEventOfAnySession(Store& store) {
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    CHATSTORE_ASSIGN_OR_RETURN(SessionScanPage page,
                               store.ScanSessions(cursor, 16));
    for (const Session& s : page.sessions) {
      if (s.id == kKeyCheckSessionId) continue;
      Result<std::vector<Event>> events = store.ReadEvents(s.id, 0, 1);
      if (events.ok() && !events->empty())
        return std::optional<Event>(events->front());
      // Deleted or expired since the scan: try the next one.
    }
    if (page.next_cursor.empty()) break;
    cursor = std::move(page.next_cursor);
  }
  return std::optional<Event>();
}

// The key-check event, or nullopt when the store has none.
Result<std::optional<Event>> ReadKeyCheck(Store& store) {
  Result<Session> session = store.GetSession(kKeyCheckSessionId);
  if (session.status().IsNotFound()) return std::optional<Event>();
  CHATSTORE_RETURN_IF_ERROR(session.status());
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Event> events,
                             store.ReadEvents(kKeyCheckSessionId, 0, 1));
  if (events.empty()) return std::optional<Event>();
  return std::optional<Event>(std::move(events.front()));
}

Status WrongKeys(const Store& store, const Status& why) {
  return Status::InvalidArgument(
      "the encryption key file does not fit this " + std::string(store.kind()) +
      " store: " + why.message() +
      ". Give the key file the store was encrypted with (docs/encryption.md)");
}

// `now` is when it is written, unless the caller says otherwise.
Status WriteKeyCheck(Store& store, const EncryptionKeys& keys,
                     std::optional<Timestamp> at = std::nullopt) {
  const std::string id(kKeyCheckSessionId);
  const Timestamp now = at.value_or(SystemClock()->Now());
  Session session;
  session.id = id;
  session.user_id = std::string(kKeyCheckUserId);
  session.title = "encryption key check";
  session.last_seq = 1;
  session.created_at = now;
  session.updated_at = now;
  Event event;
  event.session_id = id;
  event.seq = 1;
  event.type = "chatstore.key_check";
  event.data = SealEventData(keys, id, 1, kKeyCheckData);
  event.created_at = now;
  return store.ImportSession(session, {}, {std::move(event)});
}

// OK when `event` (the key check or the first event found) opens.
Status CheckOpens(Store& store, const EncryptionKeys& keys,
                  const Event& event) {
  Result<std::string> plain =
      OpenEventData(keys, event.session_id, event.seq, event.data);
  if (!plain.ok()) return WrongKeys(store, plain.status());
  return Status::Ok();
}

}  // namespace

void EncryptedStore::Apply(std::shared_ptr<const Mutation> mutation,
                           ApplyCallback done) {
  if (mutation->session_id() == kKeyCheckSessionId) {
    done(NoSuchSession(mutation->session_id()));
    return;
  }
  inner_->Apply(
      std::make_shared<SealingMutation>(std::move(mutation), keys_),
      [keys = keys_, done = std::move(done)](Result<WriteBatch> written) {
        if (written.ok()) {
          // The batch as written holds envelopes; listeners get plaintext.
          if (Status s = OpenBatch(*keys, *written); !s.ok()) {
            done(std::move(s));
            return;
          }
        }
        done(std::move(written));
      });
}

Result<Session> EncryptedStore::GetSession(std::string_view session_id) {
  if (session_id == kKeyCheckSessionId) return NoSuchSession(session_id);
  return inner_->GetSession(session_id);
}

Result<Message> EncryptedStore::GetMessage(std::string_view session_id,
                                           std::string_view message_id) {
  if (session_id == kKeyCheckSessionId) return NoSuchSession(session_id);
  CHATSTORE_ASSIGN_OR_RETURN(Message m,
                             inner_->GetMessage(session_id, message_id));
  CHATSTORE_ASSIGN_OR_RETURN(
      m.content, OpenContent(*keys_, m.session_id, m.id, m.content));
  return m;
}

Result<SessionPage> EncryptedStore::ListSessions(
    std::string_view user_id, std::optional<SessionStatus> status,
    const std::optional<SessionCursor>& after, int limit) {
  if (user_id == kKeyCheckUserId) return SessionPage{};
  return inner_->ListSessions(user_id, status, after, limit);
}

Result<std::vector<Event>> EncryptedStore::ReadEvents(
    std::string_view session_id, std::int64_t after_seq, int limit) {
  if (session_id == kKeyCheckSessionId) return NoSuchSession(session_id);
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Event> events,
                             inner_->ReadEvents(session_id, after_seq, limit));
  for (Event& e : events) {
    CHATSTORE_ASSIGN_OR_RETURN(
        e.data, OpenEventData(*keys_, e.session_id, e.seq, e.data));
  }
  return events;
}

Status EncryptedStore::OpenMessages(std::vector<Message>& messages) const {
  for (Message& m : messages) {
    CHATSTORE_ASSIGN_OR_RETURN(
        m.content, OpenContent(*keys_, m.session_id, m.id, m.content));
  }
  return Status::Ok();
}

Result<std::vector<Message>> EncryptedStore::ReadMessages(
    std::string_view session_id, std::int64_t after_seq, int limit) {
  if (session_id == kKeyCheckSessionId) return NoSuchSession(session_id);
  CHATSTORE_ASSIGN_OR_RETURN(
      std::vector<Message> messages,
      inner_->ReadMessages(session_id, after_seq, limit));
  CHATSTORE_RETURN_IF_ERROR(OpenMessages(messages));
  return messages;
}

Result<std::vector<Message>> EncryptedStore::ReadMessagesBefore(
    std::string_view session_id, std::int64_t before_seq, int limit) {
  if (session_id == kKeyCheckSessionId) return NoSuchSession(session_id);
  CHATSTORE_ASSIGN_OR_RETURN(
      std::vector<Message> messages,
      inner_->ReadMessagesBefore(session_id, before_seq, limit));
  CHATSTORE_RETURN_IF_ERROR(OpenMessages(messages));
  return messages;
}

Result<EraseCounts> EncryptedStore::DeleteSession(std::string_view session_id) {
  if (session_id == kKeyCheckSessionId) return NoSuchSession(session_id);
  return inner_->DeleteSession(session_id);
}

Result<EraseCounts> EncryptedStore::DeleteUser(std::string_view user_id) {
  if (user_id == kKeyCheckUserId) return EraseCounts{};
  return inner_->DeleteUser(user_id);
}

Result<SearchPage> EncryptedStore::Search(std::string_view, std::string_view,
                                          const std::optional<SearchCursor>&,
                                          int) {
  return Status::Unprocessable(std::string(kSearchDisabledMessage));
}

Result<Preferences> EncryptedStore::GetPreferences(std::string_view user_id) {
  return inner_->GetPreferences(user_id);
}

Status EncryptedStore::PutPreferences(std::string_view user_id,
                                      const Preferences& prefs) {
  return inner_->PutPreferences(user_id, prefs);
}

Result<SweepResult> EncryptedStore::SweepSessions(const SweepRequest& request) {
  CHATSTORE_ASSIGN_OR_RETURN(SweepResult result,
                             inner_->SweepSessions(request));
  // The key check is a session that never receives a message, so the
  // inactive and never-used rules select it; it is the store's own record,
  // not a user's, and outlives any retention: write it back at once (a
  // store without it still checks keys against its first sealed event),
  // dated no earlier than the cutoff so that the same rule does not select
  // it again, and sweep one more session in its place.
  auto it = std::find(result.session_ids.begin(), result.session_ids.end(),
                      kKeyCheckSessionId);
  if (it == result.session_ids.end()) return result;
  result.session_ids.erase(it);
  result.counts.sessions -= 1;
  result.counts.events -= 1;
  const Status written = WriteKeyCheck(
      *inner_, *keys_, std::max(SystemClock()->Now(), request.cutoff));
  if (!written.ok() && written.code() != Status::Code::kAlreadyExists) {
    return written;
  }
  SweepRequest one_more = request;
  one_more.limit = 1;
  CHATSTORE_ASSIGN_OR_RETURN(SweepResult more, inner_->SweepSessions(one_more));
  for (std::string& id : more.session_ids) {
    result.session_ids.push_back(std::move(id));
  }
  result.counts.sessions += more.counts.sessions;
  result.counts.messages += more.counts.messages;
  result.counts.events += more.counts.events;
  return result;
}

Result<SessionScanPage> EncryptedStore::ScanSessions(std::string_view cursor,
                                                     int limit) {
  CHATSTORE_ASSIGN_OR_RETURN(SessionScanPage page,
                             inner_->ScanSessions(cursor, limit));
  std::erase_if(page.sessions,
                [](const Session& s) { return s.id == kKeyCheckSessionId; });
  return page;
}

Result<std::string> EncryptedStore::GetUserState(std::string_view user_id) {
  return inner_->GetUserState(user_id);
}

Result<UserStateScanPage> EncryptedStore::ScanUserStates(
    std::string_view cursor, int limit) {
  return inner_->ScanUserStates(cursor, limit);
}

Status EncryptedStore::PutUserState(std::string_view user_id,
                                    std::string_view state) {
  return inner_->PutUserState(user_id, state);
}

Result<PreferencesScanPage> EncryptedStore::ScanPreferences(
    std::string_view cursor, int limit) {
  return inner_->ScanPreferences(cursor, limit);
}

Status EncryptedStore::Ping() { return inner_->Ping(); }

Result<StoreStats> EncryptedStore::Stats() {
  CHATSTORE_ASSIGN_OR_RETURN(StoreStats stats, inner_->Stats());
  // The key check is the decorator's own row, not the users' data.
  if (inner_->GetSession(kKeyCheckSessionId).ok()) {
    stats.sessions -= 1;
    stats.events -= 1;
  }
  return stats;
}

}  // namespace encrypted

Result<std::shared_ptr<Store>> EncryptStore(
    std::shared_ptr<Store> inner, std::shared_ptr<const EncryptionKeys> keys) {
  using namespace encrypted;
  // Two processes opening an empty store at once both try to write the key
  // check; the loser reads the winner's.
  for (int attempt = 0; attempt < 2; ++attempt) {
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<Event> check,
                               ReadKeyCheck(*inner));
    if (check) {
      CHATSTORE_RETURN_IF_ERROR(CheckOpens(*inner, *keys, *check));
      return std::shared_ptr<Store>(
          std::make_shared<EncryptedStore>(std::move(inner), std::move(keys)));
    }
    // No key check (a new store, or one whose check was lost): whatever the
    // store holds must already be sealed with these keys.
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<Event> first,
                               FirstEventOfAnySession(*inner));
    if (first) {
      if (!SealedEventDataKeyId(first->data)) {
        return Status::InvalidArgument(
            "this " + std::string(inner->kind()) +
            " store holds unencrypted data; encrypt it by copying it to a "
            "new store: chatstore migrate --from <this store> --to <new "
            "store> --to-encryption-key-file <file> (docs/encryption.md)");
      }
      CHATSTORE_RETURN_IF_ERROR(CheckOpens(*inner, *keys, *first));
    }
    const Status written = WriteKeyCheck(*inner, *keys);
    if (written.ok()) {
      return std::shared_ptr<Store>(
          std::make_shared<EncryptedStore>(std::move(inner), std::move(keys)));
    }
    if (written.code() != Status::Code::kAlreadyExists) return written;
  }
  return Status::Unavailable("the store's encryption key check keeps changing");
}

Status CheckStoreNotEncrypted(Store& store) {
  using namespace encrypted;
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<Event> check, ReadKeyCheck(store));
  bool sealed = check.has_value();
  if (!sealed) {
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<Event> first,
                               FirstEventOfAnySession(store));
    sealed = first && SealedEventDataKeyId(first->data).has_value();
  }
  if (sealed) {
    return Status::InvalidArgument(
        "this " + std::string(store.kind()) +
        " store is encrypted at rest: give its key file with "
        "--encryption-key-file (or CHATSTORE_ENCRYPTION_KEY_FILE)");
  }
  return Status::Ok();
}

Result<std::shared_ptr<Store>> OpenStoreAtRest(
    std::string_view uri, std::shared_ptr<const EncryptionKeys> keys,
    const StoreOptions& options) {
  CHATSTORE_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                             OpenStore(uri, options));
  if (keys) return EncryptStore(std::move(store), std::move(keys));
  CHATSTORE_RETURN_IF_ERROR(CheckStoreNotEncrypted(*store));
  return store;
}

bool IsSearchDisabled(const Status& status) {
  return status.code() == Status::Code::kUnprocessable &&
         status.message() == kSearchDisabledMessage;
}

bool IsDecryptionFailure(const Status& status) {
  return status.code() == Status::Code::kCorruption &&
         status.message().starts_with(kCannotDecryptMessage);
}

}  // namespace chatstore
