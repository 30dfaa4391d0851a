#include "store/postgres/schema.h"

#include <cstdint>
#include <iterator>
#include <pqxx/pqxx>
#include <string>

#include "store/postgres/error_translation.h"

namespace chatstore::postgres {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append only: a released migration never changes, since databases in the
// field have already run it. Migration N must leave the schema at version N.
//
// Ids and user ids are COLLATE "C": byte order, as every other backend
// orders them (keyset paging compares ids), and cheaper comparisons than a
// linguistic collation. JSON fields are text, not jsonb: the store keeps the
// exact bytes it was given (jsonb would reorder keys and drop duplicates).
// Timestamps are int64 milliseconds since the epoch, like the API's.
constexpr Migration kMigrations[] = {
    {1, "sessions, messages, events and preferences",
     R"sql(
CREATE TABLE sessions (
  id text COLLATE "C" PRIMARY KEY,
  user_id text COLLATE "C" NOT NULL,
  title text NOT NULL,
  status text NOT NULL,
  metadata text NOT NULL,
  state text NOT NULL,
  persistent boolean NOT NULL,
  message_count bigint NOT NULL,
  last_seq bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  expires_at bigint
);
-- A user's session list, newest first, keyset-paged on (updated_at, id).
CREATE INDEX sessions_by_user ON sessions (user_id, updated_at DESC, id DESC);
CREATE INDEX sessions_by_user_status
  ON sessions (user_id, status, updated_at DESC, id DESC);
-- The sweeper's scan; persistent sessions (no expiry) stay out of it.
CREATE INDEX sessions_by_expiry ON sessions (expires_at)
  WHERE expires_at IS NOT NULL;

-- Clustered by (session_id, seq) through the primary key: reading a
-- session's messages in order is one range scan.
CREATE TABLE messages (
  session_id text COLLATE "C" NOT NULL
    REFERENCES sessions (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  id text COLLATE "C" NOT NULL UNIQUE,
  role text NOT NULL,
  content text NOT NULL,
  status text NOT NULL,
  metadata text NOT NULL,
  tokens bigint,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (session_id, seq)
);

-- The log itself: replay after a reconnect is one range scan of the
-- primary key.
CREATE TABLE events (
  session_id text COLLATE "C" NOT NULL
    REFERENCES sessions (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  type text NOT NULL,
  data text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (session_id, seq)
);

CREATE TABLE preferences (
  user_id text COLLATE "C" PRIMARY KEY,
  persist_history boolean NOT NULL
);
)sql"},

    {2, "full-text search over complete messages",
     R"sql(
-- The words of a text, split exactly as the memory and query side split
-- them (src/store/postgres/search_text.h): runs of ASCII letters and digits
-- or of non-ASCII characters, ASCII letters lowercased, no stemming and no
-- stop words. to_tsvector's parser would split "3.14", e-mail addresses and
-- URLs differently, and a word would then match on one backend only. Words
-- of 2 KiB or more cannot be lexemes and are left out.
CREATE FUNCTION chatstore_search_vector(content text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array_to_tsvector(coalesce(array_agg(DISTINCT w), '{}'))
  FROM regexp_split_to_table(
         translate(content, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                   'abcdefghijklmnopqrstuvwxyz'),
         '[^0-9a-z\u0080-\U0010ffff]+') AS w
  WHERE octet_length(w) BETWEEN 1 AND 2046
$$;
-- Only complete messages are searchable: a streaming message changes with
-- every delta, and its vector stays NULL (not indexed) until it completes.
-- A generated column keeps the index in the same transaction as every
-- message write, whoever writes, and fills itself for existing rows.
ALTER TABLE messages ADD COLUMN search_vector tsvector
  GENERATED ALWAYS AS (
    CASE WHEN status = 'complete' THEN chatstore_search_vector(content) END
  ) STORED;
CREATE INDEX messages_search ON messages USING gin (search_vector);
)sql"},

    {3, "no search vector for content sealed at rest",
     R"sql(
-- Content sealed by encryption at rest (docs/encryption.md) starts with
-- 'csenc:' and is ciphertext: its vector is NULL (not indexed), since an
-- encrypted store refuses to search. Same words as migration 2 otherwise.
-- The function keeps its identity, so the generated column uses the new
-- body for every row written from now on. No row needs recomputing:
-- encryption at rest arrived with this migration.
CREATE OR REPLACE FUNCTION chatstore_search_vector(content text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN left(content, 6) = 'csenc:' THEN NULL::tsvector ELSE (
    SELECT array_to_tsvector(coalesce(array_agg(DISTINCT w), '{}'))
    FROM regexp_split_to_table(
           translate(content, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                     'abcdefghijklmnopqrstuvwxyz'),
           '[^0-9a-z\u0080-\U0010ffff]+') AS w
    WHERE octet_length(w) BETWEEN 1 AND 2046) END
$$;
)sql"},

    {4, "indexes for the retention sweeper",
     R"sql(
-- The sweeper's inactive rule: persistent sessions by last activity.
CREATE INDEX sessions_by_activity ON sessions (updated_at)
  WHERE expires_at IS NULL;
-- The sweeper's never-used rule: sessions without a message by creation.
CREATE INDEX sessions_never_used ON sessions (created_at)
  WHERE message_count = 0;
)sql"},

    {5, "user: state scopes",
     R"sql(
-- One `user:` state document per user, shared by all of the user's
-- sessions (docs/context-and-state.md). A write that carries a patch locks
-- the row (SELECT ... FOR UPDATE) and merges in its own transaction, so
-- concurrent patches from several sessions of one user all survive.
CREATE TABLE user_state (
  user_id text COLLATE "C" PRIMARY KEY,
  state text NOT NULL
);
)sql"},
};

static_assert(std::size(kMigrations) == kSchemaVersion,
              "kSchemaVersion must name the last migration");

// Serialises migrations between processes: "chatstor" in ASCII. Taken with
// pg_advisory_xact_lock, it is released by the transaction's end.
constexpr std::int64_t kMigrationLockKey = 0x6368617473746f72;

Status CheckKnown(int version) {
  if (version > kSchemaVersion) {
    return Status::Corruption(
        "postgres: the database's schema version " + std::to_string(version) +
        " is newer than this chatstore understands (up to " +
        std::to_string(kSchemaVersion) +
        "); it was written by a newer chatstore: upgrade chatstore to open it");
  }
  return Status::Ok();
}

// Runs the next pending migration, if any, in one transaction. Sets
// `*current` to the version the database is at afterwards.
Status MigrateOnce(pqxx::connection& conn, int target, int* current) {
  pqxx::work tx(conn);
  // The store's connections bound every statement and lock wait to 5 s
  // (conninfo.h); a migration may rewrite a large table, and a process may
  // wait that long for another one's migration, so neither is bounded here.
  tx.exec("SET LOCAL statement_timeout = 0");
  tx.exec("SET LOCAL lock_timeout = 0");
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
  // Created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can
  // still collide on the catalog's unique index.
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version integer PRIMARY KEY,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  *current =
      tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0]
          .as<int>();
  CHATSTORE_RETURN_IF_ERROR(CheckKnown(*current));
  if (*current >= target) return Status::Ok();  // ~work rolls back a no-op
  const Migration& m = kMigrations[*current];   // version current + 1
  tx.exec(m.sql);
  tx.exec_params("INSERT INTO schema_migrations (version) VALUES ($1)",
                 m.version);
  tx.commit();
  *current = m.version;
  return Status::Ok();
}

}  // namespace

Status MigrateTo(std::string_view conninfo, int target) {
  if (target < 1 || target > kSchemaVersion) {
    return Status::InvalidArgument("postgres: no schema version " +
                                   std::to_string(target));
  }
  int current = 0;
  try {
    pqxx::connection conn{std::string(conninfo)};
    pqxx::nontransaction check(conn);
    const std::string encoding =
        check.exec("SHOW server_encoding")[0][0].as<std::string>();
    check.commit();
    if (encoding != "UTF8") {
      return Status::InvalidArgument(
          "postgres: the database's encoding is " + encoding +
          "; chatstore needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')");
    }
    for (;;) {
      const int before = current;
      if (Status s = MigrateOnce(conn, target, &current); !s.ok()) return s;
      if (current >= target || current == before) return Status::Ok();
    }
  } catch (...) {
    const std::string what =
        current < target ? "migration " + std::to_string(current + 1) + " (" +
                               kMigrations[current].description + ")"
                         : std::string("schema check");
    return TranslateCurrentException(what).status;
  }
}

}  // namespace chatstore::postgres
