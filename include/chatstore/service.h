// SessionService: the one place that decides what a change to a session
// means. Every write becomes events plus a view update (a Mutation) that the
// session's store applies atomically; reads are scoped to the caller.
#ifndef CHATSTORE_SERVICE_H_
#define CHATSTORE_SERVICE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/status.h"
#include "chatstore/store.h"
#include "chatstore/types.h"

namespace chatstore {
namespace core {
struct WriteContext;
}  // namespace core

// Bounds on everything a caller can send. Exceeding one is Unprocessable
// (422) naming the field; malformed JSON is InvalidArgument (400).
struct Limits {
  std::size_t max_title_bytes = 1024;
  std::size_t max_content_bytes = 1 << 20;  // one message
  std::size_t max_json_bytes = 256 * 1024;  // metadata, state, event data
  std::size_t max_json_depth = 32;
  std::size_t max_events_per_batch = 1000;
  std::size_t max_state_bytes = 256 * 1024;  // state after a patch
  std::size_t max_query_bytes = 256;         // search
  // Context window: the largest token_limit accepted, and the most
  // messages one window may hold (bounds the walk when messages are tiny).
  std::int64_t max_context_tokens = 2'000'000;
  std::size_t max_context_messages = 10'000;
  int max_page = 1000;
  int default_page = 100;
};

struct ServiceOptions {
  std::shared_ptr<Clock> clock = SystemClock();
  // Ephemeral sessions expire this long after their last write.
  std::chrono::seconds ephemeral_ttl{86400};
  Limits limits;
};

struct CreateSessionRequest {
  std::string title;
  std::string metadata = "{}";  // JSON object
  std::string state = "{}";     // JSON object
  bool persistent = true;       // which store (the server's policy decides)
};

// Absent fields are left alone. metadata and state are RFC 7396 merge
// patches (JSON objects).
struct SessionPatch {
  std::optional<std::string> title;
  std::optional<SessionStatus> status;
  std::optional<std::string> metadata;
  std::optional<std::string> state;
};

struct NewMessage {
  Role role = Role::kUser;
  std::string content;
  std::string metadata = "{}";
  // kStreaming opens a message that deltas are appended to.
  MessageStatus status = MessageStatus::kComplete;
};

struct DeltaResult {
  std::int64_t seq = 0;     // of the message.delta event
  std::int64_t offset = 0;  // byte offset of the delta in the content
};

struct AppEvent {
  std::string type;  // [a-z][a-z0-9_.-]{0,63}, not a built-in type
  std::string data;  // JSON text
};

struct SeqRange {
  std::int64_t first_seq = 0;
  std::int64_t last_seq = 0;
};

struct EventPage {
  std::vector<Event> events;
  std::optional<std::int64_t> next_after_seq;  // nullopt: caught up
};

struct MessagePage {
  std::vector<Message> messages;
  std::optional<std::int64_t> next_after_seq;
};

// What GetContext() is asked for. docs/context-and-state.md has the rules.
struct ContextRequest {
  std::int64_t token_limit = 8192;  // 1 .. Limits::max_context_tokens
  // "cl100k_base" uses the counts stored with each message; "o200k_base"
  // counts each message it looks at on the fly (CPU proportional to the
  // window's text, not to the session's length).
  std::string encoding = "cl100k_base";
};

struct ContextWindow {
  // The session's leading system messages that fit, then the newest
  // complete messages that fit, in seq order.
  std::vector<Message> messages;
  std::int64_t token_count = 0;  // sum of the returned messages' tokens
  std::int64_t token_limit = 0;
  // True when a complete message of the session was left out.
  bool truncated = false;
};

// Told of every committed change, in seq order per session, after it is
// durable (the server's Hub feeds live SSE subscribers from this).
class CommitListener {
 public:
  virtual ~CommitListener() = default;
  virtual void OnCommit(const Session& session,
                        const std::vector<Event>& events) = 0;
};

// Thread-safe. Every method takes the calling user's id; a session of
// another user answers NotFound exactly like a missing one.
class SessionService {
 public:
  // `ephemeral` may be null (then every session is persistent).
  SessionService(std::shared_ptr<Store> primary,
                 std::shared_ptr<Store> ephemeral, ServiceOptions options);

  Result<Session> CreateSession(std::string_view user_id,
                                const CreateSessionRequest& request);
  Result<Session> GetSession(std::string_view user_id,
                             std::string_view session_id);
  // limit 0 means the default page size.
  Result<SessionPage> ListSessions(std::string_view user_id,
                                   std::optional<SessionStatus> status,
                                   const std::optional<SessionCursor>& after,
                                   int limit);
  Result<Session> UpdateSession(std::string_view user_id,
                                std::string_view session_id,
                                const SessionPatch& patch);
  // Returns the seq of the session.deleted event that listeners received.
  Result<std::int64_t> DeleteSession(std::string_view user_id,
                                     std::string_view session_id);

  Result<Message> AddMessage(std::string_view user_id,
                             std::string_view session_id,
                             const NewMessage& message);
  // Conflict when the message is complete.
  Result<DeltaResult> AppendDelta(std::string_view user_id,
                                  std::string_view session_id,
                                  std::string_view message_id,
                                  std::string_view delta);
  // Closes a streaming message; `content` replaces what was streamed.
  // Conflict when already complete.
  Result<Message> CompleteMessage(std::string_view user_id,
                                  std::string_view session_id,
                                  std::string_view message_id,
                                  const std::optional<std::string>& content);
  Result<SeqRange> AppendEvents(std::string_view user_id,
                                std::string_view session_id,
                                const std::vector<AppEvent>& events);

  Result<EventPage> ReadEvents(std::string_view user_id,
                               std::string_view session_id,
                               std::int64_t after_seq, int limit);
  Result<MessagePage> ReadMessages(std::string_view user_id,
                                   std::string_view session_id,
                                   std::int64_t after_seq, int limit);
  Result<SearchPage> Search(std::string_view user_id, std::string_view query,
                            const std::optional<SearchCursor>& after,
                            int limit);
  // The messages to send to a model: the session's leading system messages
  // first, then the newest complete messages that fit in the remaining
  // budget, never starting (after a cut) on an assistant or tool reply.
  // Streaming messages are left out. Reads a page at a time backwards from
  // the newest message, so its cost follows the window, not the session.
  // Unprocessable for a token_limit out of range or an unknown encoding.
  Result<ContextWindow> GetContext(std::string_view user_id,
                                   std::string_view session_id,
                                   const ContextRequest& request);

  // Defaults when the user never set them.
  Result<Preferences> GetPreferences(std::string_view user_id);
  Status PutPreferences(std::string_view user_id, const Preferences& prefs);

  // The user's `user:` state document (JSON object text, "{}" when none):
  // the primary store's, with the keys only the ephemeral store holds
  // (docs/context-and-state.md).
  Result<std::string> UserState(std::string_view user_id);

  // Removes all of the user's data from every store.
  Result<EraseCounts> EraseUser(std::string_view user_id);

  // The store a session id lives in (the id records it; see ids.h).
  Store& StoreFor(std::string_view session_id);
  Store& primary() { return *primary_; }
  Store* ephemeral() { return ephemeral_.get(); }
  const ServiceOptions& options() const { return options_; }

  // REQUIRES: `listener` outlives the service or is removed first.
  void AddListener(CommitListener* listener);
  void RemoveListener(CommitListener* listener);

 private:
  Result<Session> LoadOwned(std::string_view user_id,
                            std::string_view session_id);
  // `session` with its state as the merged view: its own keys plus its
  // user's `user:` keys, read from the session's store.
  Result<Session> WithUserState(Session session);
  // Applies the mutation in its session's store and publishes its events.
  Result<WriteBatch> Commit(std::shared_ptr<const Mutation> mutation);
  core::WriteContext Context(std::string_view user_id) const;
  int PageSize(int limit) const;
  // primary, then ephemeral unless it is the same store.
  std::vector<Store*> DistinctStores();
  void Publish(const Session& session, const std::vector<Event>& events);

  std::shared_ptr<Store> primary_;
  std::shared_ptr<Store> ephemeral_;
  ServiceOptions options_;
  std::mutex listeners_mu_;
  std::vector<CommitListener*> listeners_;
};

}  // namespace chatstore

#endif  // CHATSTORE_SERVICE_H_
