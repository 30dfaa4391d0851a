// postgresql:// — sessions in a PostgreSQL database that several chatstored
// instances share.
//
// Writes (Apply) run in one transaction that starts with
// `SELECT ... FROM sessions WHERE id = $1 FOR UPDATE`: the row lock
// serialises every writer of one session, in this process or another, so
// Mutation::Prepare sees the rows the batch will replace and the batch's
// seqs (last_seq+1 ...) are still free when it commits. The session row's
// last_seq moves in the same transaction as the events it numbers.
//
// Within this process, Apply also holds one of kApplyStripes mutexes (by
// hash of the session id) from before the transaction until `done` has
// returned: after COMMIT the row lock is gone, and without the stripe a
// second writer could commit and run its `done` before the first one's,
// breaking Store::Apply's "done in seq order" promise. The stripe is always
// taken before a pool connection, and nothing that holds a connection waits
// for a stripe, so the two cannot deadlock.
//
// Every statement is prepared once per connection (PrepareStatements) and
// the SQL is listed, with its EXPLAIN plan, in docs/postgres.md.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "chatstore/store.h"
#include "core/json_util.h"
#include "store/postgres/array_literal.h"
#include "store/postgres/connection_pool.h"
#include "store/postgres/conninfo.h"
#include "store/postgres/error_translation.h"
#include "store/postgres/schema.h"
#include "store/postgres/search_text.h"
#include "store/search_words.h"

namespace chatstore {
namespace postgres {
namespace {

using Pool = ConnectionPool<pqxx::connection>;

constexpr std::size_t kApplyStripes = 256;
// Serialization failures and deadlocks: the whole transaction runs again
// this many times in all before the caller gets Unavailable.
constexpr int kMaxAttempts = 3;
// How long a call waits for a pooled connection when all are busy.
constexpr std::chrono::milliseconds kAcquireTimeout{5000};
// A keyset position before every row: (updated_at, id) < (max, "").
constexpr std::int64_t kMaxMillis = std::numeric_limits<std::int64_t>::max();

struct StatementSql {
  const char* name;
  const char* sql;
};

#define CHATSTORE_SESSION_COLUMNS                                            \
  "id, user_id, title, status, metadata, state, persistent, message_count, " \
  "last_seq, created_at, updated_at, expires_at"
#define CHATSTORE_MESSAGE_COLUMNS                                        \
  "m.id, m.session_id, m.seq, m.role, m.content, m.status, m.metadata, " \
  "m.tokens, m.created_at, m.updated_at"
#define CHATSTORE_LIVE(alias) \
  "(" alias "expires_at IS NULL OR " alias "expires_at > $2)"

// Every query the store runs. Names are prepared on each connection.
constexpr StatementSql kStatements[] = {
    // Apply: the row lock that serialises writers of one session.
    {"lock_session", "SELECT " CHATSTORE_SESSION_COLUMNS
                     " FROM sessions WHERE id = $1 FOR UPDATE"},
    {"get_message", "SELECT " CHATSTORE_MESSAGE_COLUMNS
                    " FROM messages m WHERE m.session_id = $1 AND m.id = $2"},
    {"insert_session",
     "INSERT INTO sessions (" CHATSTORE_SESSION_COLUMNS
     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"},
    // `last_seq = $10` re-checks what the row lock already guarantees: a
    // batch only ever continues the log it was prepared against.
    {"update_session",
     "UPDATE sessions SET title = $2, status = $3, metadata = $4, state = $5,"
     " message_count = $6, last_seq = $7, updated_at = $8, expires_at = $9"
     " WHERE id = $1 AND last_seq = $10"},
    {"insert_message",
     "INSERT INTO messages (session_id, seq, id, role, content, status,"
     " metadata, tokens, created_at, updated_at)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"},
    {"update_message",
     "UPDATE messages SET content = $3, status = $4, metadata = $5,"
     " tokens = $6, updated_at = $7 WHERE session_id = $1 AND id = $2"},
    // All of a batch's events (up to the service's limit of 1000) in one
    // statement: parallel arrays unnested into rows.
    {"insert_events",
     "INSERT INTO events (session_id, seq, type, data, created_at)"
     " SELECT $1, e.seq, e.type, e.data, e.created_at"
     " FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[])"
     " AS e (seq, type, data, created_at)"},
    // Wakes the other instances' change followers (docs/postgres.md) when
    // sessions are erased: delivered at COMMIT, dropped at ROLLBACK. (Writes
    // announce themselves after their commit instead: AnnounceWrite.)
    {"notify_erased",
     "SELECT pg_notify('cs_changes', id) FROM unnest($1::text[]) AS id"},

    // Reads. $2 is always "now" in ms: expired sessions read as missing.
    {"get_session", "SELECT " CHATSTORE_SESSION_COLUMNS
                    " FROM sessions WHERE id = $1 AND " CHATSTORE_LIVE("")},
    // No row: the session is missing; a row of NULLs: the message is.
    {"get_live_message",
     "SELECT " CHATSTORE_MESSAGE_COLUMNS " FROM sessions s LEFT JOIN messages m"
     " ON m.session_id = s.id AND m.id = $3"
     " WHERE s.id = $1 AND " CHATSTORE_LIVE("s.")},
    // The session check and the page in one statement (one snapshot, one
    // round trip): no row means no session, a row of NULLs an empty page.
    {"read_events",
     "SELECT e.seq, e.type, e.data, e.created_at FROM sessions s"
     " LEFT JOIN LATERAL (SELECT seq, type, data, created_at FROM events"
     "   WHERE session_id = s.id AND seq > $3 ORDER BY seq LIMIT $4) e"
     " ON true WHERE s.id = $1 AND " CHATSTORE_LIVE("s.") " ORDER BY e.seq"},
    {"read_messages",
     "SELECT " CHATSTORE_MESSAGE_COLUMNS " FROM sessions s"
     " LEFT JOIN LATERAL (SELECT id, session_id, seq, role, content, status,"
     "   metadata, tokens, created_at, updated_at FROM messages"
     "   WHERE session_id = s.id AND seq > $3 ORDER BY seq LIMIT $4) m"
     " ON true WHERE s.id = $1 AND " CHATSTORE_LIVE("s.") " ORDER BY m.seq"},
    // Backwards over the (session_id, seq) unique index.
    {"read_messages_before",
     "SELECT " CHATSTORE_MESSAGE_COLUMNS " FROM sessions s"
     " LEFT JOIN LATERAL (SELECT id, session_id, seq, role, content, status,"
     "   metadata, tokens, created_at, updated_at FROM messages"
     "   WHERE session_id = s.id AND seq < $3 ORDER BY seq DESC LIMIT $4) m"
     " ON true WHERE s.id = $1 AND " CHATSTORE_LIVE(
         "s.") " ORDER BY m.seq DESC"},
    // Keyset pages; the row comparison is an index condition.
    {"list_sessions", "SELECT " CHATSTORE_SESSION_COLUMNS
                      " FROM sessions WHERE user_id = $1 AND " CHATSTORE_LIVE(
                          "") " AND (updated_at, id) < ($3, $4)"
                              " ORDER BY updated_at DESC, id DESC LIMIT $5"},
    {"list_sessions_by_status",
     "SELECT " CHATSTORE_SESSION_COLUMNS
     " FROM sessions WHERE user_id = $1 AND " CHATSTORE_LIVE(
         "") " AND status = $6 AND (updated_at, id) < ($3, $4)"
             " ORDER BY updated_at DESC, id DESC LIMIT $5"},
    // Complete messages only: a streaming message's search_vector is NULL.
    {"search",
     "SELECT m.session_id, m.id, m.seq, m.content, m.created_at"
     " FROM messages m JOIN sessions s ON s.id = m.session_id"
     " WHERE s.user_id = $1 AND " CHATSTORE_LIVE(
         "s.") " AND m.search_vector @@ $3::tsquery"
               " AND (m.created_at, m.id) < ($4, $5)"
               " ORDER BY m.created_at DESC, m.id DESC LIMIT $6"},

    // Erasure: lock the sessions, then delete their rows explicitly (the
    // counts come from the deletes; ON DELETE CASCADE is the safety net).
    {"lock_session_expiry",
     "SELECT expires_at FROM sessions WHERE id = $1 FOR UPDATE"},
    // Ordered by id so that two erasures of one user lock in one order.
    {"lock_user_sessions",
     "SELECT id FROM sessions WHERE user_id = $1 ORDER BY id FOR UPDATE"},
    // SKIP LOCKED: the sweeper never waits for a session being written; a
    // busy session is swept next time.
    // The sweeper, one per SweepRule. FOR UPDATE re-evaluates the WHERE
    // clause on the newest row version once it holds the lock, and a
    // writer holds the same row lock (lock_session), so a session an
    // append brought out of the rule is not returned; SKIP LOCKED leaves
    // sessions being written to the next sweep instead of waiting.
    {"sweep_expired",
     "SELECT id FROM sessions WHERE expires_at <= $1"
     " ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED"},
    {"sweep_inactive",
     "SELECT id FROM sessions WHERE expires_at IS NULL AND updated_at < $1"
     " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED"},
    {"sweep_never_used",
     "SELECT id FROM sessions WHERE message_count = 0 AND created_at < $1"
     " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED"},
    {"erase_events", "DELETE FROM events WHERE session_id = ANY ($1::text[])"},
    {"erase_messages",
     "DELETE FROM messages WHERE session_id = ANY ($1::text[])"},
    {"erase_sessions", "DELETE FROM sessions WHERE id = ANY ($1::text[])"},
    {"erase_preferences", "DELETE FROM preferences WHERE user_id = $1"},
    {"erase_user_state", "DELETE FROM user_state WHERE user_id = $1"},
    // The user-state merge: make sure the row exists (a concurrent insert
    // of the same user waits on the unique index), then lock it.
    {"ensure_user_state",
     "INSERT INTO user_state (user_id, state) VALUES ($1, '{}')"
     " ON CONFLICT (user_id) DO NOTHING"},
    {"lock_user_state",
     "SELECT state FROM user_state WHERE user_id = $1 FOR UPDATE"},
    {"get_user_state", "SELECT state FROM user_state WHERE user_id = $1"},
    {"put_user_state",
     "INSERT INTO user_state (user_id, state) VALUES ($1, $2)"
     " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state"},
    {"scan_user_states",
     "SELECT user_id, state FROM user_state WHERE user_id > $1"
     " ORDER BY user_id LIMIT $2"},

    // Whole-store scans page by the primary keys ("C" collation: byte order,
    // the same as the cursor comparison).
    {"scan_sessions", "SELECT " CHATSTORE_SESSION_COLUMNS
                      " FROM sessions WHERE id > $1 AND " CHATSTORE_LIVE(
                          "") " ORDER BY id LIMIT $3"},
    {"scan_preferences",
     "SELECT user_id, persist_history FROM preferences WHERE user_id > $1"
     " ORDER BY user_id LIMIT $2"},

    {"get_preferences",
     "SELECT persist_history FROM preferences WHERE user_id = $1"},
    {"put_preferences",
     "INSERT INTO preferences (user_id, persist_history) VALUES ($1, $2)"
     " ON CONFLICT (user_id) DO UPDATE"
     " SET persist_history = excluded.persist_history"},
    // Logs are gapless and messages are never deleted one by one, so the
    // sums of last_seq and message_count are the exact numbers of events
    // and messages: one scan of the small table instead of the big ones.
    {"stats",
     "SELECT count(*), coalesce(sum(message_count), 0),"
     " coalesce(sum(last_seq), 0), pg_database_size(current_database())"
     " FROM sessions"},
};

#undef CHATSTORE_SESSION_COLUMNS
#undef CHATSTORE_MESSAGE_COLUMNS
#undef CHATSTORE_LIVE

std::unique_ptr<pqxx::connection> Connect(const std::string& conninfo) {
  auto conn = std::make_unique<pqxx::connection>(conninfo);
  for (const StatementSql& s : kStatements) conn->prepare(s.name, s.sql);
  return conn;
}

// ---- Rows -------------------------------------------------------------------

std::string Text(const pqxx::field& f) {
  return std::string(f.c_str(), f.size());
}

std::optional<std::int64_t> OptionalInt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int64_t>();
}

std::optional<Timestamp> OptionalTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromMillis(f.as<std::int64_t>());
}

Status Unreadable(std::string_view what, std::string_view value) {
  return Status::Corruption("postgres: unknown " + std::string(what) + " '" +
                            std::string(value) + "' in the database");
}

// Columns in CHATSTORE_SESSION_COLUMNS order, from `first`.
Result<Session> SessionFromRow(const pqxx::row& r, int first = 0) {
  Session s;
  s.id = Text(r[first + 0]);
  s.user_id = Text(r[first + 1]);
  s.title = Text(r[first + 2]);
  const std::string status = Text(r[first + 3]);
  const std::optional<SessionStatus> parsed = ParseSessionStatus(status);
  if (!parsed) return Unreadable("session status", status);
  s.status = *parsed;
  s.metadata = Text(r[first + 4]);
  s.state = Text(r[first + 5]);
  s.persistent = r[first + 6].as<bool>();
  s.message_count = r[first + 7].as<std::int64_t>();
  s.last_seq = r[first + 8].as<std::int64_t>();
  s.created_at = FromMillis(r[first + 9].as<std::int64_t>());
  s.updated_at = FromMillis(r[first + 10].as<std::int64_t>());
  s.expires_at = OptionalTime(r[first + 11]);
  return s;
}

// Columns in CHATSTORE_MESSAGE_COLUMNS order.
Result<Message> MessageFromRow(const pqxx::row& r) {
  Message m;
  m.id = Text(r[0]);
  m.session_id = Text(r[1]);
  m.seq = r[2].as<std::int64_t>();
  const std::string role = Text(r[3]);
  const std::optional<Role> parsed_role = ParseRole(role);
  if (!parsed_role) return Unreadable("message role", role);
  m.role = *parsed_role;
  m.content = Text(r[4]);
  const std::string status = Text(r[5]);
  const std::optional<MessageStatus> parsed = ParseMessageStatus(status);
  if (!parsed) return Unreadable("message status", status);
  m.status = *parsed;
  m.metadata = Text(r[6]);
  m.tokens = OptionalInt(r[7]);
  m.created_at = FromMillis(r[8].as<std::int64_t>());
  m.updated_at = FromMillis(r[9].as<std::int64_t>());
  return m;
}

bool IsExpired(const Session& s, Timestamp now) {
  return s.expires_at.has_value() && *s.expires_at <= now;
}

std::optional<std::int64_t> Millis(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return ToMillis(*t);
}

Status SessionNotFound(std::string_view id) {
  return Status::NotFound("session " + std::string(id) + " not found");
}

// Checks that a prepared batch continues `current` (or starts a new session
// when null): the same session and owner, gapless seqs from the current
// last_seq, last_seq on the last event. A violation is a bug in the core;
// refusing it keeps the log intact.
Status CheckBatch(const WriteBatch& batch, const std::string& session_id,
                  const Session* current) {
  const auto bug = [&](const std::string& what) {
    return Status::Internal("postgres: batch for session " + session_id + " " +
                            what);
  };
  if (batch.session.id != session_id) {
    return bug("is for session " + batch.session.id);
  }
  if (batch.creates_session == (current != nullptr)) {
    return bug(current ? "creates a session that exists"
                       : "updates a session that does not exist");
  }
  if (current && batch.session.user_id != current->user_id) {
    return bug("changes the session's owner");
  }
  if (batch.events.empty()) return bug("has no events");
  std::int64_t seq = current ? current->last_seq : 0;
  for (const Event& e : batch.events) {
    if (e.seq != ++seq || e.session_id != session_id) {
      return bug("has event seq " + std::to_string(e.seq) + " where " +
                 std::to_string(seq) + " was due");
    }
  }
  if (batch.session.last_seq != seq) {
    return bug("sets last_seq " + std::to_string(batch.session.last_seq) +
               " after event " + std::to_string(seq));
  }
  return Status::Ok();
}

// ---- The store --------------------------------------------------------------

class PostgresStore final : public Store {
 public:
  PostgresStore(const StoreOptions& options, ConnSettings settings)
      : clock_(options.clock ? options.clock : SystemClock()),
        pool_(settings.pool_size, kAcquireTimeout,
              [conninfo = settings.conninfo] { return Connect(conninfo); }) {}

  std::string_view kind() const override { return "postgres"; }

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
  Result<SearchPage> Search(std::string_view user_id, std::string_view query,
                            const std::optional<SearchCursor>& after,
                            int limit) override;
  Result<Preferences> GetPreferences(std::string_view user_id) override;
  Result<SessionScanPage> ScanSessions(std::string_view cursor,
                                       int limit) override;
  Result<PreferencesScanPage> ScanPreferences(std::string_view cursor,
                                              int limit) override;
  Status PutPreferences(std::string_view user_id,
                        const Preferences& prefs) override;
  Result<std::string> GetUserState(std::string_view user_id) override;
  Result<UserStateScanPage> ScanUserStates(std::string_view cursor,
                                           int limit) override;
  Status PutUserState(std::string_view user_id,
                      std::string_view state) override;
  Result<SweepResult> SweepSessions(const SweepRequest& request) override;
  Status Ping() override;
  Result<StoreStats> Stats() override;

 private:
  // Runs read_messages / read_messages_before (the seq bound means after
  // or before). NotFound when the session is missing or expired.
  Result<std::vector<Message>> ReadMessageRange(const char* statement,
                                                std::string_view session_id,
                                                std::int64_t seq, int limit);
  // Runs `body(connection)` with a pooled connection, translating libpqxx
  // exceptions (TranslateCurrentException). A connection found broken is
  // dropped with every idle one; when it had been idle (a server restart
  // killed it) the call runs once more on a new connection, so the first
  // call after an outage succeeds. Serialization failures and deadlocks run
  // again up to kMaxAttempts in all. Unavailable when no connection frees up
  // within kAcquireTimeout.
  template <typename T, typename Body>
  Result<T> Run(std::string_view what, const Body& body);
  // Run() in a read-write transaction: committed when `body` returns a
  // value, rolled back when it returns an error or throws.
  template <typename T, typename Body>
  Result<T> Transact(std::string_view what, const Body& body);
  // Run() without BEGIN/COMMIT, for single statements that only read.
  template <typename T, typename Body>
  Result<T> Read(std::string_view what, const Body& body);

  Result<WriteBatch> ApplyIn(pqxx::transaction_base& tx,
                             const Mutation& mutation);
  // Deletes the sessions' events, messages and rows; adds the counts.
  static void EraseSessions(pqxx::transaction_base& tx,
                            const std::vector<std::string>& ids,
                            EraseCounts* counts);
  static void WriteEvents(pqxx::transaction_base& tx,
                          const std::string& session_id,
                          const std::vector<Event>& events);

  std::int64_t NowMillis() const { return ToMillis(clock_->Now()); }

  const std::shared_ptr<Clock> clock_;
  Pool pool_;
  std::array<std::mutex, kApplyStripes> stripes_;
};

template <typename T, typename Body>
Result<T> PostgresStore::Run(std::string_view what, const Body& body) {
  for (int attempt = 1;; ++attempt) {
    std::optional<Pool::Lease> lease;
    try {
      lease = pool_.Acquire();
      if (!lease) {
        return Status::Unavailable(
            "postgres: " + std::string(what) + ": all " +
            std::to_string(pool_.capacity()) + " connections stayed busy for " +
            std::to_string(kAcquireTimeout.count()) + " ms");
      }
      return body(**lease);
    } catch (...) {
      const DbError err = TranslateCurrentException(what);
      if (lease &&
          (err.recovery == Recovery::kReconnect || !(*lease)->is_open())) {
        const bool was_idle = !lease->fresh();
        lease->Discard();
        pool_.DiscardIdle();
        if (err.recovery == Recovery::kReconnect && was_idle && attempt == 1) {
          continue;
        }
      }
      if (err.recovery == Recovery::kRetry && attempt < kMaxAttempts) {
        lease.reset();
        // Back off a little so the transactions that collided interleave
        // differently next time.
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
        continue;
      }
      return err.status;
    }
  }
}

template <typename T, typename Body>
Result<T> PostgresStore::Transact(std::string_view what, const Body& body) {
  return Run<T>(what, [&](pqxx::connection& conn) -> Result<T> {
    pqxx::work tx(conn);
    Result<T> r = body(tx);
    if (r.ok()) tx.commit();
    return r;  // an error rolls back in ~work
  });
}

template <typename T, typename Body>
Result<T> PostgresStore::Read(std::string_view what, const Body& body) {
  return Run<T>(what, [&](pqxx::connection& conn) -> Result<T> {
    pqxx::nontransaction tx(conn);
    return body(tx);
  });
}

// Tells the LISTENing instances (the change notifiers) that session `id`
// reached `last_seq`, on the connection that just committed the write.
//
// Not inside the write's transaction: PostgreSQL serialises the commits of
// notifying transactions on one database-wide lock held until their WAL is
// flushed, which took away group commit (16 appenders: 300 instead of 750
// appends/s, bench/README.md). A notification-only transaction with
// synchronous_commit off holds that lock for microseconds. One round trip:
// the payload is a session id (a UUID) and a number, quoted anyway.
// Best effort and never throws: a lost wake-up only delays other instances'
// streams until the next one (their notifier re-checks everything after it
// reconnects), while the write itself is already committed.
void AnnounceWrite(pqxx::connection& conn, const std::string& id,
                   std::int64_t last_seq) noexcept {
  try {
    pqxx::nontransaction tx(conn);
    tx.exec(
        "BEGIN; SET LOCAL synchronous_commit TO off; "
        "SELECT pg_notify('cs_changes', " +
        tx.quote(id + " " + std::to_string(last_seq)) + "); COMMIT");
  } catch (...) {
    try {
      // Leave no transaction block open on the pooled connection.
      pqxx::nontransaction tx(conn);
      tx.exec("ROLLBACK");
    } catch (...) {
      // Broken connection: the pool replaces it on its next use.
    }
  }
}

void PostgresStore::Apply(std::shared_ptr<const Mutation> mutation,
                          ApplyCallback done) {
  const std::string& id = mutation->session_id();
  std::lock_guard stripe(
      stripes_[std::hash<std::string_view>{}(id) % kApplyStripes]);
  Result<WriteBatch> result =
      Run<WriteBatch>("write to session " + id,
                      [&](pqxx::connection& conn) -> Result<WriteBatch> {
                        Result<WriteBatch> written = Status::Internal("unset");
                        {
                          pqxx::work tx(conn);
                          written = ApplyIn(tx, *mutation);
                          if (!written.ok())
                            return written;  // rolled back in ~work
                          tx.commit();
                        }
                        AnnounceWrite(conn, id, written->session.last_seq);
                        return written;
                      });
  // Still under the stripe: the next change to this session waits for it.
  done(std::move(result));
}

Result<WriteBatch> PostgresStore::ApplyIn(pqxx::transaction_base& tx,
                                          const Mutation& mutation) {
  const std::string& id = mutation.session_id();
  const Timestamp now = clock_->Now();
  std::optional<Session> session;
  bool expired = false;
  const pqxx::result locked = tx.exec_prepared("lock_session", id);
  if (!locked.empty()) {
    CHATSTORE_ASSIGN_OR_RETURN(Session s, SessionFromRow(locked[0]));
    if (IsExpired(s, now)) {
      expired = true;
    } else {
      session = std::move(s);
    }
  }
  std::optional<Message> message;
  if (session && !mutation.message_id().empty()) {
    const pqxx::result rows =
        tx.exec_prepared("get_message", id, mutation.message_id());
    if (!rows.empty()) {
      CHATSTORE_ASSIGN_OR_RETURN(message, MessageFromRow(rows[0]));
    }
  }
  const Session* current = session ? &*session : nullptr;
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      mutation.Prepare(current, message ? &*message : nullptr, now));
  CHATSTORE_RETURN_IF_ERROR(CheckBatch(batch, id, current));
  if (batch.user_state_patch) {
    // Merged under the row's lock with the core's merge, in this
    // transaction: atomic with the session's log, and serialised with the
    // user's other sessions' patches (none is lost).
    tx.exec_prepared("ensure_user_state", batch.session.user_id);
    const pqxx::result r =
        tx.exec_prepared("lock_user_state", batch.session.user_id);
    CHATSTORE_ASSIGN_OR_RETURN(
        std::string merged,
        json::MergeStateText(r.empty() ? "{}" : Text(r[0][0]),
                             *batch.user_state_patch, "state (user: keys)",
                             batch.user_state_max_bytes));
    if (merged == "{}") {
      tx.exec_prepared("erase_user_state", batch.session.user_id);
    } else {
      tx.exec_prepared("put_user_state", batch.session.user_id, merged);
    }
  }

  const Session& s = batch.session;
  if (batch.creates_session) {
    // An expired session reads as missing, so its id may be taken again:
    // drop the old rows first, as the sweeper would have.
    if (expired) {
      EraseCounts ignored;
      EraseSessions(tx, {id}, &ignored);
    }
    // A concurrent create of the same id (another process: no row existed
    // to lock) fails here with a unique violation -> AlreadyExists.
    tx.exec_prepared("insert_session", s.id, s.user_id, s.title,
                     std::string(ToString(s.status)), s.metadata, s.state,
                     s.persistent, s.message_count, s.last_seq,
                     ToMillis(s.created_at), ToMillis(s.updated_at),
                     Millis(s.expires_at));
  } else {
    const pqxx::result r = tx.exec_prepared(
        "update_session", s.id, s.title, std::string(ToString(s.status)),
        s.metadata, s.state, s.message_count, s.last_seq,
        ToMillis(s.updated_at), Millis(s.expires_at), current->last_seq);
    if (r.affected_rows() != 1) {
      return Status::Internal("postgres: session " + id +
                              " changed under its row lock");
    }
  }
  for (const MessageWrite& w : batch.messages) {
    const Message& m = w.row;
    if (m.session_id != id) {
      return Status::Internal("postgres: batch for session " + id +
                              " writes a message of session " + m.session_id);
    }
    if (w.created) {
      tx.exec_prepared("insert_message", id, m.seq, m.id,
                       std::string(ToString(m.role)), m.content,
                       std::string(ToString(m.status)), m.metadata, m.tokens,
                       ToMillis(m.created_at), ToMillis(m.updated_at));
    } else {
      const pqxx::result r =
          tx.exec_prepared("update_message", id, m.id, m.content,
                           std::string(ToString(m.status)), m.metadata,
                           m.tokens, ToMillis(m.updated_at));
      if (r.affected_rows() != 1) {
        return Status::Internal("postgres: batch updates message " + m.id +
                                ", which session " + id + " does not hold");
      }
    }
  }
  WriteEvents(tx, id, batch.events);
  return batch;
}

void PostgresStore::WriteEvents(pqxx::transaction_base& tx,
                                const std::string& session_id,
                                const std::vector<Event>& events) {
  std::vector<std::int64_t> seqs;
  std::vector<std::string_view> types;
  std::vector<std::string_view> data;
  std::vector<std::int64_t> created;
  seqs.reserve(events.size());
  types.reserve(events.size());
  data.reserve(events.size());
  created.reserve(events.size());
  for (const Event& e : events) {
    seqs.push_back(e.seq);
    types.push_back(e.type);
    data.push_back(e.data);
    created.push_back(ToMillis(e.created_at));
  }
  tx.exec_prepared("insert_events", session_id, Int64ArrayLiteral(seqs),
                   TextArrayLiteral(types), TextArrayLiteral(data),
                   Int64ArrayLiteral(created));
}

void PostgresStore::EraseSessions(pqxx::transaction_base& tx,
                                  const std::vector<std::string>& ids,
                                  EraseCounts* counts) {
  if (ids.empty()) return;
  const std::string array =
      TextArrayLiteral(std::vector<std::string_view>(ids.begin(), ids.end()));
  counts->events += static_cast<std::int64_t>(
      tx.exec_prepared("erase_events", array).affected_rows());
  counts->messages += static_cast<std::int64_t>(
      tx.exec_prepared("erase_messages", array).affected_rows());
  counts->sessions += static_cast<std::int64_t>(
      tx.exec_prepared("erase_sessions", array).affected_rows());
  tx.exec_prepared("notify_erased", array);
}

Result<Session> PostgresStore::GetSession(std::string_view session_id) {
  const std::string id(session_id);
  return Read<Session>(
      "read session " + id, [&](pqxx::transaction_base& tx) -> Result<Session> {
        const pqxx::result r = tx.exec_prepared("get_session", id, NowMillis());
        if (r.empty()) return SessionNotFound(id);
        return SessionFromRow(r[0]);
      });
}

Result<Message> PostgresStore::GetMessage(std::string_view session_id,
                                          std::string_view message_id) {
  const std::string id(session_id);
  const std::string mid(message_id);
  return Read<Message>(
      "read message " + mid,
      [&](pqxx::transaction_base& tx) -> Result<Message> {
        const pqxx::result r =
            tx.exec_prepared("get_live_message", id, NowMillis(), mid);
        if (r.empty()) return SessionNotFound(id);
        if (r[0][0].is_null()) {
          return Status::NotFound("message " + mid + " not found");
        }
        return MessageFromRow(r[0]);
      });
}

Result<SessionPage> PostgresStore::ListSessions(
    std::string_view user_id, std::optional<SessionStatus> status,
    const std::optional<SessionCursor>& after, int limit) {
  if (limit <= 0) return SessionPage{};
  const std::string user(user_id);
  const std::int64_t after_ms =
      after ? ToMillis(after->updated_at) : kMaxMillis;
  const std::string after_id = after ? after->id : std::string();
  // One row more than asked tells whether another page follows.
  const std::int64_t fetch = static_cast<std::int64_t>(limit) + 1;
  return Read<SessionPage>(
      "list sessions of user " + user,
      [&](pqxx::transaction_base& tx) -> Result<SessionPage> {
        const pqxx::result r =
            status ? tx.exec_prepared("list_sessions_by_status", user,
                                      NowMillis(), after_ms, after_id, fetch,
                                      std::string(ToString(*status)))
                   : tx.exec_prepared("list_sessions", user, NowMillis(),
                                      after_ms, after_id, fetch);
        SessionPage page;
        for (const pqxx::row& row : r) {
          if (page.sessions.size() == static_cast<std::size_t>(limit)) {
            const Session& last = page.sessions.back();
            page.next = SessionCursor{last.updated_at, last.id};
            break;
          }
          CHATSTORE_ASSIGN_OR_RETURN(Session s, SessionFromRow(row));
          page.sessions.push_back(std::move(s));
        }
        return page;
      });
}

Result<std::vector<Event>> PostgresStore::ReadEvents(
    std::string_view session_id, std::int64_t after_seq, int limit) {
  const std::string id(session_id);
  return Read<std::vector<Event>>(
      "read events of session " + id,
      [&](pqxx::transaction_base& tx) -> Result<std::vector<Event>> {
        const pqxx::result r =
            tx.exec_prepared("read_events", id, NowMillis(), after_seq,
                             static_cast<std::int64_t>(std::max(limit, 0)));
        if (r.empty()) return SessionNotFound(id);
        std::vector<Event> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          if (row[0].is_null()) break;  // the session, without events
          out.push_back(Event{id, row[0].as<std::int64_t>(), Text(row[1]),
                              Text(row[2]),
                              FromMillis(row[3].as<std::int64_t>())});
        }
        return out;
      });
}

Result<std::vector<Message>> PostgresStore::ReadMessages(
    std::string_view session_id, std::int64_t after_seq, int limit) {
  return ReadMessageRange("read_messages", session_id, after_seq, limit);
}

Result<std::vector<Message>> PostgresStore::ReadMessagesBefore(
    std::string_view session_id, std::int64_t before_seq, int limit) {
  return ReadMessageRange("read_messages_before", session_id, before_seq,
                          limit);
}

Result<std::vector<Message>> PostgresStore::ReadMessageRange(
    const char* statement, std::string_view session_id, std::int64_t seq,
    int limit) {
  const std::string id(session_id);
  return Read<std::vector<Message>>(
      "read messages of session " + id,
      [&](pqxx::transaction_base& tx) -> Result<std::vector<Message>> {
        const pqxx::result r =
            tx.exec_prepared(statement, id, NowMillis(), seq,
                             static_cast<std::int64_t>(std::max(limit, 0)));
        if (r.empty()) return SessionNotFound(id);
        std::vector<Message> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          if (row[0].is_null()) break;  // the session, without messages
          CHATSTORE_ASSIGN_OR_RETURN(Message m, MessageFromRow(row));
          out.push_back(std::move(m));
        }
        return out;
      });
}

Result<EraseCounts> PostgresStore::DeleteSession(std::string_view session_id) {
  const std::string id(session_id);
  // An expired session is dropped like the sweeper would, but reads as
  // already gone: the transaction commits the drop, the caller gets
  // NotFound.
  bool expired = false;
  Result<EraseCounts> r = Transact<EraseCounts>(
      "delete session " + id,
      [&](pqxx::transaction_base& tx) -> Result<EraseCounts> {
        const pqxx::result locked = tx.exec_prepared("lock_session_expiry", id);
        if (locked.empty()) return SessionNotFound(id);
        const std::optional<std::int64_t> expires = OptionalInt(locked[0][0]);
        expired = expires && *expires <= NowMillis();
        EraseCounts counts;
        EraseSessions(tx, {id}, &counts);
        return counts;
      });
  if (r.ok() && expired) return SessionNotFound(id);
  return r;
}

Result<EraseCounts> PostgresStore::DeleteUser(std::string_view user_id) {
  const std::string user(user_id);
  return Transact<EraseCounts>(
      "delete user " + user,
      [&](pqxx::transaction_base& tx) -> Result<EraseCounts> {
        std::vector<std::string> ids;
        for (const pqxx::row& row :
             tx.exec_prepared("lock_user_sessions", user)) {
          ids.push_back(Text(row[0]));
        }
        // Expired sessions are erased and counted too: they are still the
        // user's data until the sweeper drops them.
        EraseCounts counts;
        EraseSessions(tx, ids, &counts);
        tx.exec_prepared("erase_preferences", user);
        tx.exec_prepared("erase_user_state", user);
        return counts;
      });
}

Result<SearchPage> PostgresStore::Search(
    std::string_view user_id, std::string_view query,
    const std::optional<SearchCursor>& after, int limit) {
  const std::vector<std::string> terms = search::QueryTerms(query);
  if (terms.empty()) {
    return Status::InvalidArgument("search query has no words");
  }
  if (limit <= 0) return SearchPage{};
  for (const std::string& t : terms) {
    // Such a word is never indexed (schema.cc), so nothing can match it.
    if (t.size() > kMaxLexemeBytes) return SearchPage{};
  }
  const std::string user(user_id);
  const std::int64_t after_ms =
      after ? ToMillis(after->created_at) : kMaxMillis;
  const std::string after_id = after ? after->message_id : std::string();
  const std::int64_t fetch = static_cast<std::int64_t>(limit) + 1;
  return Read<SearchPage>(
      "search messages of user " + user,
      [&](pqxx::transaction_base& tx) -> Result<SearchPage> {
        const pqxx::result r =
            tx.exec_prepared("search", user, NowMillis(), TsQueryText(terms),
                             after_ms, after_id, fetch);
        SearchPage page;
        for (const pqxx::row& row : r) {
          if (page.hits.size() == static_cast<std::size_t>(limit)) {
            const SearchHit& last = page.hits.back();
            page.next = SearchCursor{last.created_at, last.message_id};
            break;
          }
          SearchHit hit;
          hit.session_id = Text(row[0]);
          hit.message_id = Text(row[1]);
          hit.seq = row[2].as<std::int64_t>();
          // The snippet is cut here rather than by ts_headline, whose
          // parser splits words differently from the index (schema.cc):
          // this way the bracketed words are exactly the matched ones, as
          // on every other backend.
          hit.snippet = search::Snippet(
              std::string_view(row[3].c_str(), row[3].size()), terms);
          hit.created_at = FromMillis(row[4].as<std::int64_t>());
          page.hits.push_back(std::move(hit));
        }
        return page;
      });
}

Result<Preferences> PostgresStore::GetPreferences(std::string_view user_id) {
  const std::string user(user_id);
  return Read<Preferences>(
      "read preferences of user " + user,
      [&](pqxx::transaction_base& tx) -> Result<Preferences> {
        const pqxx::result r = tx.exec_prepared("get_preferences", user);
        if (r.empty()) {
          return Status::NotFound("no preferences stored for user " + user);
        }
        Preferences p;
        p.persist_history = r[0][0].as<bool>();
        return p;
      });
}

Result<SessionScanPage> PostgresStore::ScanSessions(std::string_view cursor,
                                                    int limit) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  const std::string after(cursor);
  return Read<SessionScanPage>(
      "scan sessions",
      [&](pqxx::transaction_base& tx) -> Result<SessionScanPage> {
        const pqxx::result r =
            tx.exec_prepared("scan_sessions", after, NowMillis(), limit);
        SessionScanPage page;
        for (const pqxx::row& row : r) {
          CHATSTORE_ASSIGN_OR_RETURN(Session s, SessionFromRow(row));
          page.sessions.push_back(std::move(s));
        }
        // A full page may have a successor; the next call finds out.
        if (page.sessions.size() == static_cast<std::size_t>(limit)) {
          page.next_cursor = page.sessions.back().id;
        }
        return page;
      });
}

Result<PreferencesScanPage> PostgresStore::ScanPreferences(
    std::string_view cursor, int limit) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  const std::string after(cursor);
  return Read<PreferencesScanPage>(
      "scan preferences",
      [&](pqxx::transaction_base& tx) -> Result<PreferencesScanPage> {
        const pqxx::result r =
            tx.exec_prepared("scan_preferences", after, limit);
        PreferencesScanPage page;
        for (const pqxx::row& row : r) {
          page.users.push_back(
              {row[0].as<std::string>(), Preferences{row[1].as<bool>()}});
        }
        if (page.users.size() == static_cast<std::size_t>(limit)) {
          page.next_cursor = page.users.back().user_id;
        }
        return page;
      });
}

Status PostgresStore::PutPreferences(std::string_view user_id,
                                     const Preferences& prefs) {
  const std::string user(user_id);
  return Read<bool>("store preferences of user " + user,
                    [&](pqxx::transaction_base& tx) -> Result<bool> {
                      tx.exec_prepared("put_preferences", user,
                                       prefs.persist_history);
                      return true;
                    })
      .status();
}

Result<std::string> PostgresStore::GetUserState(std::string_view user_id) {
  const std::string user(user_id);
  return Read<std::string>(
      "read the user: state of user " + user,
      [&](pqxx::transaction_base& tx) -> Result<std::string> {
        const pqxx::result r = tx.exec_prepared("get_user_state", user);
        if (r.empty()) return std::string("{}");
        return Text(r[0][0]);
      });
}

Result<UserStateScanPage> PostgresStore::ScanUserStates(std::string_view cursor,
                                                        int limit) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  const std::string after(cursor);
  return Read<UserStateScanPage>(
      "scan user: states",
      [&](pqxx::transaction_base& tx) -> Result<UserStateScanPage> {
        const pqxx::result r =
            tx.exec_prepared("scan_user_states", after, limit);
        UserStateScanPage page;
        for (const pqxx::row& row : r) {
          page.users.push_back({Text(row[0]), Text(row[1])});
        }
        if (page.users.size() == static_cast<std::size_t>(limit)) {
          page.next_cursor = page.users.back().user_id;
        }
        return page;
      });
}

Status PostgresStore::PutUserState(std::string_view user_id,
                                   std::string_view state) {
  const std::string user(user_id);
  const std::string text(state);
  return Read<bool>("store the user: state of user " + user,
                    [&](pqxx::transaction_base& tx) -> Result<bool> {
                      if (text == "{}") {
                        tx.exec_prepared("erase_user_state", user);
                      } else {
                        tx.exec_prepared("put_user_state", user, text);
                      }
                      return true;
                    })
      .status();
}

Result<SweepResult> PostgresStore::SweepSessions(const SweepRequest& request) {
  if (request.limit <= 0) return SweepResult{};
  static constexpr const char* kStatements[] = {
      "sweep_expired", "sweep_inactive", "sweep_never_used"};
  return Transact<SweepResult>(
      "sweep sessions (" + std::string(ToString(request.rule)) + ")",
      [&](pqxx::transaction_base& tx) -> Result<SweepResult> {
        SweepResult result;
        for (const pqxx::row& row :
             tx.exec_prepared(kStatements[static_cast<int>(request.rule)],
                              ToMillis(request.cutoff),
                              static_cast<std::int64_t>(request.limit))) {
          result.session_ids.push_back(Text(row[0]));
        }
        EraseSessions(tx, result.session_ids, &result.counts);
        return result;
      });
}

Status PostgresStore::Ping() {
  return Read<bool>("ping",
                    [](pqxx::transaction_base& tx) -> Result<bool> {
                      tx.exec("SELECT 1");
                      return true;
                    })
      .status();
}

Result<StoreStats> PostgresStore::Stats() {
  return Read<StoreStats>("stats",
                          [](pqxx::transaction_base& tx) -> Result<StoreStats> {
                            const pqxx::row r = tx.exec_prepared("stats")[0];
                            StoreStats stats;
                            stats.sessions = r[0].as<std::int64_t>();
                            stats.messages = r[1].as<std::int64_t>();
                            stats.events = r[2].as<std::int64_t>();
                            stats.bytes = r[3].as<std::int64_t>();
                            return stats;
                          });
}

}  // namespace
}  // namespace postgres

Result<std::shared_ptr<Store>> OpenPostgresStore(std::string_view uri,
                                                 const StoreOptions& options) {
  CHATSTORE_ASSIGN_OR_RETURN(postgres::ConnSettings settings,
                             postgres::ParseUri(uri));
  CHATSTORE_RETURN_IF_ERROR(
      postgres::MigrateTo(settings.conninfo, postgres::kSchemaVersion));
  return std::shared_ptr<Store>(
      std::make_shared<postgres::PostgresStore>(options, std::move(settings)));
}

}  // namespace chatstore
