// The sqlite backend's schema: an ordered list of migrations, the version
// recorded in `PRAGMA user_version`. Opening a store brings the file to
// kSchemaVersion; a file from a newer chatstore is refused.
#ifndef CHATSTORE_STORE_SQLITE_SCHEMA_H_
#define CHATSTORE_STORE_SQLITE_SCHEMA_H_

#include <span>
#include <string_view>

#include "chatstore/status.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {

// One step of a schema's history. Migration N must leave the schema at
// version N; the list is append-only (files in the field have run the
// released steps).
struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Brings the file from its user_version up to `target` by applying the
// `migrations` (ordered by version, starting at 1) it has not run yet, each
// in its own BEGIN IMMEDIATE transaction that re-reads user_version once it
// holds the write lock, so several processes opening one new file at once
// run each migration exactly once. `what` names the file in messages.
// Returns Corruption when the file's version is newer than the last
// migration (written by a newer chatstore), Unavailable when the write lock
// cannot be had within db.busy_timeout(), InvalidArgument for a target
// outside [0, last version].
Status ApplyMigrations(Db& db, std::span<const Migration> migrations,
                       int target, std::string_view what);

// The newest schema version this build knows (the last migration's).
inline constexpr int kSchemaVersion = 5;

// ApplyMigrations() with the store's migrations: brings a store file to
// `target` (tests pass an older one to build old files).
Status MigrateTo(Db& db, int target);

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_SCHEMA_H_
