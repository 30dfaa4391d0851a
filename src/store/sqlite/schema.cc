#include "store/sqlite/schema.h"

#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {
namespace {

// Append only: a released migration never changes, since files in the field
// have already run it. Migration N must leave the schema at version N.
constexpr Migration kMigrations[] = {
    {1, "sessions, messages, events and preferences",
     R"sql(
CREATE TABLE sessions (
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  status TEXT NOT NULL,
  metadata TEXT NOT NULL,
  state TEXT NOT NULL,
  persistent INTEGER NOT NULL,
  message_count INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER
);
-- A user's session list, newest first, keyset-paged on (updated_at, id).
-- status and expires_at ride along so that the status filter and the
-- expiry check read the index alone: every append rewrites this entry
-- anyway (updated_at changes), and a second index on (user_id, status, ...)
-- would add as much again to each append.
CREATE INDEX sessions_by_user
  ON sessions (user_id, updated_at DESC, id DESC, status, expires_at);
-- The sweeper's scan; persistent sessions (no expiry) stay out of it.
CREATE INDEX sessions_by_expiry ON sessions (expires_at)
  WHERE expires_at IS NOT NULL;

-- `mid` is an explicit INTEGER PRIMARY KEY so that rowids survive VACUUM:
-- an index that refers to messages by rowid stays valid.
CREATE TABLE messages (
  mid INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  status TEXT NOT NULL,
  metadata TEXT NOT NULL,
  tokens INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (session_id, seq)
);

-- The log itself, clustered by (session_id, seq): replay after a reconnect
-- is one range scan.
CREATE TABLE events (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE preferences (
  user_id TEXT PRIMARY KEY NOT NULL,
  persist_history INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},

    {2, "full-text search over complete messages",
     R"sql(
-- External content: the text lives once, in messages; the index refers to
-- it by mid. Triggers keep the index in the same transaction as every
-- message write, including the rows a session's ON DELETE CASCADE removes.
-- Only complete messages are indexed: a streaming message changes with
-- every delta.
CREATE VIRTUAL TABLE messages_fts USING fts5(
  content,
  content = 'messages',
  content_rowid = 'mid',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.status = 'complete' BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.mid, new.content);
END;
-- An external-content delete must repeat the indexed text exactly; the old
-- row still holds it.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.status = 'complete' BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    VALUES ('delete', old.mid, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
WHEN (old.status = 'complete' OR new.status = 'complete')
  AND (old.content IS NOT new.content OR old.status IS NOT new.status) BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    SELECT 'delete', old.mid, old.content WHERE old.status = 'complete';
  INSERT INTO messages_fts (rowid, content)
    SELECT new.mid, new.content WHERE new.status = 'complete';
END;
-- Messages written before this migration become searchable too.
INSERT INTO messages_fts (rowid, content)
  SELECT mid, content FROM messages WHERE status = 'complete';
)sql"},

    {3, "no search index for content sealed at rest",
     R"sql(
-- Content sealed by encryption at rest (docs/encryption.md) starts with
-- 'csenc:' and is ciphertext: indexing it would only cost space, since an
-- encrypted store refuses to search. The same triggers as migration 2 with
-- that one condition (substr, not LIKE: LIKE ignores case). No indexed
-- row needs removing: encryption at rest arrived with this migration.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.status = 'complete' AND substr(new.content, 1, 6) <> 'csenc:' BEGIN
  INSERT INTO messages_fts (rowid, content) VALUES (new.mid, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.status = 'complete' AND substr(old.content, 1, 6) <> 'csenc:' BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    VALUES ('delete', old.mid, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
WHEN (old.status = 'complete' OR new.status = 'complete')
  AND (old.content IS NOT new.content OR old.status IS NOT new.status) BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, content)
    SELECT 'delete', old.mid, old.content
    WHERE old.status = 'complete' AND substr(old.content, 1, 6) <> 'csenc:';
  INSERT INTO messages_fts (rowid, content)
    SELECT new.mid, new.content
    WHERE new.status = 'complete' AND substr(new.content, 1, 6) <> 'csenc:';
END;
)sql"},

    {4, "indexes for the retention sweeper",
     R"sql(
-- The sweeper's inactive rule: persistent sessions by last activity.
CREATE INDEX sessions_by_activity ON sessions (updated_at)
  WHERE expires_at IS NULL;
-- The sweeper's never-used rule: sessions without a message by creation.
-- An append leaves this index (message_count becomes 1), so it holds only
-- the few sessions that were created and never used.
CREATE INDEX sessions_never_used ON sessions (created_at)
  WHERE message_count = 0;
)sql"},

    {5, "user: state scopes",
     R"sql(
-- One `user:` state document per user, shared by all of the user's
-- sessions (docs/context-and-state.md). Merged inside the write that
-- carries the patch, so it is atomic with that session's log.
CREATE TABLE user_state (
  user_id TEXT PRIMARY KEY,
  state TEXT NOT NULL
) WITHOUT ROWID;
)sql"},
};

static_assert(std::size(kMigrations) == kSchemaVersion,
              "kSchemaVersion must name the last migration");

// `what` names the file's owner in messages ("the database", "the cache
// index"); `newest` is the last version this build knows.
Status CheckKnown(std::string_view what, std::int64_t version, int newest) {
  if (version > newest) {
    return Status::Corruption(
        "sqlite: " + std::string(what) + "'s schema version " +
        std::to_string(version) +
        " is newer than this chatstore understands (up to " +
        std::to_string(newest) +
        "); it was written by a newer chatstore: upgrade chatstore to open it");
  }
  if (version < 0) {
    return Status::Corruption("sqlite: invalid schema version " +
                              std::to_string(version) + " in " +
                              std::string(what));
  }
  return Status::Ok();
}

}  // namespace

Status ApplyMigrations(Db& db, std::span<const Migration> migrations,
                       int target, std::string_view what) {
  const int newest = migrations.empty() ? 0 : migrations.back().version;
  if (target < 0 || target > newest) {
    return Status::InvalidArgument("sqlite: no schema version " +
                                   std::to_string(target) + " for " +
                                   std::string(what));
  }
  // Fast path without the write lock: an up-to-date file (every open after
  // the first) costs one read.
  CHATSTORE_ASSIGN_OR_RETURN(std::int64_t current,
                             db.QueryInt("PRAGMA user_version"));
  CHATSTORE_RETURN_IF_ERROR(CheckKnown(what, current, newest));
  for (const Migration& m : migrations) {
    if (m.version > target) break;
    if (m.version <= current) continue;
    CHATSTORE_ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db));
    // Another process may have run this migration while we waited for the
    // lock: only the version read under the lock counts.
    CHATSTORE_ASSIGN_OR_RETURN(current, db.QueryInt("PRAGMA user_version"));
    CHATSTORE_RETURN_IF_ERROR(CheckKnown(what, current, newest));
    if (current >= m.version) continue;  // ~Transaction ends the no-op
    const std::string step =
        "migration " + std::to_string(m.version) + " (" + m.description + ")";
    if (Status s = db.Exec(m.sql); !s.ok()) {
      return Status(s.code(), step + ": " + s.message());
    }
    const std::string set_version =
        "PRAGMA user_version = " + std::to_string(m.version);
    CHATSTORE_RETURN_IF_ERROR(db.Exec(set_version.c_str()));
    if (Status s = tx.Commit(); !s.ok()) {
      return Status(s.code(), step + ": " + s.message());
    }
    current = m.version;
  }
  return Status::Ok();
}

Status MigrateTo(Db& db, int target) {
  return ApplyMigrations(db, kMigrations, target, "the database");
}

}  // namespace chatstore::sqlite
