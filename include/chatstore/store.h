// The storage interface every backend implements (memory, sqlite, redis,
// postgres). A store knows nothing of what a change *means*: the core
// prepares it (a Mutation) and the store runs that preparation inside its
// atomic section, then writes the resulting WriteBatch all or nothing.
#ifndef CHATSTORE_STORE_H_
#define CHATSTORE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/status.h"
#include "chatstore/types.h"

namespace chatstore {

// A message row to write: inserted when `created`, replaced otherwise.
struct MessageWrite {
  Message row;
  bool created = false;
};

// Everything one change writes, computed by the core against the current
// rows. Event seqs are already numbered last_seq+1, last_seq+2, ... and
// `session.last_seq` equals the last of them, so a backend that applies the
// batch atomically keeps the log gapless.
struct WriteBatch {
  Session session;               // the session row after the change
  bool creates_session = false;  // insert instead of update
  std::vector<MessageWrite> messages;
  std::vector<Event> events;  // never empty
  // The user's `user:` state merge patch (RFC 7396, a JSON object text of
  // `user:` keys only) to apply to session.user_id's state document in the
  // same atomic write, or nullopt. The store merges it into the document as
  // it is inside its atomic section (core json::MergeStateText, or the same
  // merge in a backend's script), so concurrent patches from several
  // sessions of one user all survive. When the merged document would
  // serialize to more than user_state_max_bytes the store writes nothing and
  // answers Unprocessable.
  std::optional<std::string> user_state_patch;
  std::size_t user_state_max_bytes = 0;
  // Event data as delivered live, where it differs from the stored form
  // (state.delta with its `temp:` keys): never written by a store, handed to
  // the listeners of the commit only (docs/context-and-state.md).
  struct LiveData {
    std::int64_t seq = 0;
    std::string data;
  };
  std::vector<LiveData> live_data;
};

// The meaning of one change to one session, decided once for every backend.
// Implementations live in src/core/ and are immutable and thread-safe.
class Mutation {
 public:
  virtual ~Mutation() = default;
  // The session the change applies to.
  virtual const std::string& session_id() const = 0;
  // The message whose current row Prepare() needs, or empty.
  virtual const std::string& message_id() const = 0;
  // Computes the batch from the current rows; `session` is null when the
  // session does not exist (or has expired), `message` when the message does
  // not exist. Returns the error to give the caller when the change is not
  // allowed (NotFound, Conflict, ...): the store then writes nothing.
  // Called by the store inside its atomic section, possibly more than once
  // (optimistic backends retry), so it must be a pure function of its inputs.
  virtual Result<WriteBatch> Prepare(const Session* session,
                                     const Message* message,
                                     Timestamp now) const = 0;
};

struct StoreOptions {
  std::shared_ptr<Clock> clock = SystemClock();
  // memory://: the most sessions held at once; creating one more first drops
  // expired sessions, then answers ResourceExhausted.
  std::size_t memory_max_sessions = 100000;
  // sqlite://: synchronous=FULL (durable on power loss) unless false
  // (NORMAL: a power cut may lose the last commits, never corrupts). The URI
  // query `?synchronous=normal|full` overrides.
  bool sqlite_synchronous_full = true;
  int sqlite_busy_timeout_ms = 10000;
  // sqlite://: the most changes one group commit may carry.
  std::size_t sqlite_max_group = 512;
  // sqlite://: reader connections in the pool.
  std::size_t sqlite_readers = 4;
};

struct StoreStats {
  std::int64_t sessions = 0;
  std::int64_t messages = 0;
  std::int64_t events = 0;
  std::int64_t bytes = 0;  // on disk or in memory, as the backend counts it
  // Group commits (sqlite): how many transactions, carrying how many changes.
  std::int64_t commits = 0;
  std::int64_t committed_changes = 0;
};

// One page of a scan over a whole store (every user). Pass `next_cursor` to
// the next call; it is empty when the scan is complete.
struct SessionScanPage {
  std::vector<Session> sessions;
  std::string next_cursor;
};
struct UserPreferences {
  std::string user_id;
  Preferences preferences;
};
struct PreferencesScanPage {
  std::vector<UserPreferences> users;
  std::string next_cursor;
};
// One user's `user:` state document (a JSON object text).
struct UserState {
  std::string user_id;
  std::string state;
};
struct UserStateScanPage {
  std::vector<UserState> users;
  std::string next_cursor;
};

// What the retention sweeper removes (docs/operations.md, "Retention").
enum class SweepRule {
  // Ephemeral sessions whose expires_at <= cutoff.
  kExpired,
  // Persistent sessions (no expires_at) with updated_at < cutoff: no
  // activity since the cutoff.
  kInactive,
  // Sessions of any kind that never received a message
  // (message_count == 0) and were created before the cutoff.
  kNeverUsed,
};
// "expired", "inactive", "never_used": metric labels and CLI output.
std::string_view ToString(SweepRule rule);

struct SweepRequest {
  SweepRule rule = SweepRule::kExpired;
  Timestamp cutoff;
  int limit = 0;
};
// Whether `request.rule` selects `session` at `request.cutoff` (the limit
// aside): the one definition the backends without SQL check rows against.
bool SweepSelects(const SweepRequest& request, const Session& session);

struct SweepResult {
  EraseCounts counts;
  std::vector<std::string> session_ids;  // the sessions removed
};

// REQUIRES for every method: arguments within the service's limits (the
// service validates before calling). All methods are thread-safe. Sessions
// whose expires_at is at or before clock->Now() read as NotFound.
class Store {
 public:
  virtual ~Store() = default;

  // "memory", "sqlite", ...
  virtual std::string_view kind() const = 0;

  using ApplyCallback = std::function<void(Result<WriteBatch>)>;
  // Runs mutation->Prepare() against the current rows and writes its batch
  // atomically; `done` receives the batch as written (or the error) after the
  // change is durable, on a store thread or inline. Never blocks on I/O when
  // the backend has its own writer thread.
  // Ordering: for one session, `done` callbacks run one at a time and in seq
  // order (a backend calls `done` before it lets the next change to that
  // session proceed, e.g. under the session's lock, or from its single writer
  // thread in commit order). Listeners rely on this to publish in order, so
  // `done` must be quick and must not call back into the store.
  virtual void Apply(std::shared_ptr<const Mutation> mutation,
                     ApplyCallback done) = 0;
  // Apply() and wait. `on_commit`, when given, runs inside `done` for a
  // successful change, so it sees one session's commits in seq order.
  // REQUIRES: not called from inside an Apply() callback (it would wait for
  // itself on backends with a writer thread).
  Result<WriteBatch> ApplySync(
      std::shared_ptr<const Mutation> mutation,
      const std::function<void(const WriteBatch&)>& on_commit = {});

  // NotFound when missing or expired.
  virtual Result<Session> GetSession(std::string_view session_id) = 0;
  virtual Result<Message> GetMessage(std::string_view session_id,
                                     std::string_view message_id) = 0;

  // The user's sessions ordered by (updated_at, id) descending, starting
  // after `after`; at most `limit`. `next` is set when more may follow.
  virtual Result<SessionPage> ListSessions(
      std::string_view user_id, std::optional<SessionStatus> status,
      const std::optional<SessionCursor>& after, int limit) = 0;

  // Events with seq > after_seq, ascending, at most `limit`.
  virtual Result<std::vector<Event>> ReadEvents(std::string_view session_id,
                                                std::int64_t after_seq,
                                                int limit) = 0;
  // Messages with seq > after_seq, ascending, at most `limit`.
  virtual Result<std::vector<Message>> ReadMessages(std::string_view session_id,
                                                    std::int64_t after_seq,
                                                    int limit) = 0;
  // Messages with seq < before_seq, newest first (descending seq), at most
  // `limit`: the context window walks back from the end with it, one page at
  // a time, so its cost depends on the window, not on the session's length.
  // Every backend serves it from its (session_id, seq) index.
  virtual Result<std::vector<Message>> ReadMessagesBefore(
      std::string_view session_id, std::int64_t before_seq, int limit) = 0;

  // Removes the session with its messages, events and search entries.
  // NotFound when missing. Returns what was removed.
  virtual Result<EraseCounts> DeleteSession(std::string_view session_id) = 0;
  // Removes every session of the user, their preferences and their `user:`
  // state document.
  virtual Result<EraseCounts> DeleteUser(std::string_view user_id) = 0;

  // Full-text search over the user's complete messages, newest first.
  // `query` is plain words (no operators): every word must match.
  virtual Result<SearchPage> Search(std::string_view user_id,
                                    std::string_view query,
                                    const std::optional<SearchCursor>& after,
                                    int limit) = 0;

  // NotFound when the user never stored preferences.
  virtual Result<Preferences> GetPreferences(std::string_view user_id) = 0;
  virtual Status PutPreferences(std::string_view user_id,
                                const Preferences& prefs) = 0;

  // The user's `user:` state document, a JSON object text: "{}" when the
  // user has none. Written by batches (WriteBatch::user_state_patch).
  virtual Result<std::string> GetUserState(std::string_view user_id) = 0;

  // Removes up to `request.limit` sessions that `request.rule` selects,
  // oldest first, each exactly as DeleteSession() would (messages, events,
  // search entries). The rule is checked again atomically with each delete:
  // a session that a write brought back out of the rule (an append to an
  // inactive or never-used session) between the selection and its delete
  // stays. Sessions the rule selects but that are busy with a write may be
  // left for the next call. A limit below 1 removes nothing.
  virtual Result<SweepResult> SweepSessions(const SweepRequest& request) = 0;

  // ---- Whole-store scans and imports (migration, the chatstore CLI) ----

  // Every live session of every user, a page at a time: start with an empty
  // `cursor`, then pass the previous page's next_cursor. A session that
  // exists for the whole scan is returned at least once; one created or
  // deleted during the scan may or may not be. The order is the backend's
  // (id order on memory, sqlite and postgres; SCAN order on redis, which may
  // return a session twice). A page holds at most about `limit` sessions and
  // may be empty before the end. InvalidArgument for a malformed cursor or
  // a limit below 1.
  virtual Result<SessionScanPage> ScanSessions(std::string_view cursor,
                                               int limit) = 0;
  // Every user's stored preferences, paged like ScanSessions.
  virtual Result<PreferencesScanPage> ScanPreferences(std::string_view cursor,
                                                      int limit) = 0;
  // Every user's non-empty `user:` state document, paged like ScanSessions.
  virtual Result<UserStateScanPage> ScanUserStates(std::string_view cursor,
                                                   int limit) = 0;
  // Replaces the user's state document with `state` (a JSON object text of
  // `user:` keys, as another store held it); "{}" removes it. For import
  // and migration: live writes go through WriteBatch::user_state_patch.
  virtual Status PutUserState(std::string_view user_id,
                              std::string_view state) = 0;
  // Writes a whole session as another store held it — the same id, seqs,
  // timestamps and message ids — all or nothing, through Apply(): a reader
  // sees either no session or all of it, and it is indexed for search like
  // any write. `events` must be the full log (seqs 1..session.last_seq) and
  // `messages` every message of the session. AlreadyExists when a live
  // session has the id; InvalidArgument when the rows are inconsistent.
  // The whole session is held in memory while it is written.
  Status ImportSession(const Session& session, std::vector<Message> messages,
                       std::vector<Event> events);

  // OK when the backend answers (readiness).
  virtual Status Ping() = 0;
  virtual Result<StoreStats> Stats() = 0;
};

// Opens a store by URI: "memory://", "sqlite:///abs/path.db",
// "sqlite://relative/path.db" (directories are created). InvalidArgument for
// an unknown scheme; Unavailable when the backend cannot be reached.
Result<std::shared_ptr<Store>> OpenStore(std::string_view uri,
                                         const StoreOptions& options = {});

// The directory for a store's local companions (chatstored's dev secret,
// the audit log): the SQLite file's directory, else "./data".
std::string DataDirectoryOf(std::string_view store_uri);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_H_
