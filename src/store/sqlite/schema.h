// The sqlite backend's schema: an ordered list of migrations, the version
// recorded in `PRAGMA user_version`. Opening a store brings the file to
// kSchemaVersion; a file from a newer chatstore is refused.
#ifndef CHATSTORE_STORE_SQLITE_SCHEMA_H_
#define CHATSTORE_STORE_SQLITE_SCHEMA_H_

#include "chatstore/status.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {

// The newest schema version this build knows (the last migration's).
inline constexpr int kSchemaVersion = 2;

// Applies the migrations after the file's user_version up to `target`, each
// in its own BEGIN IMMEDIATE transaction that re-reads user_version once it
// holds the write lock, so several processes opening one new file at once
// run each migration exactly once. Does nothing when the file is already at
// or past `target`.
// Returns Corruption when the file's version is newer than kSchemaVersion
// (written by a newer chatstore), Unavailable when the write lock cannot be
// had within db.busy_timeout(), InvalidArgument for a target outside
// [0, kSchemaVersion]. Tests pass an older `target` to build old files.
Status MigrateTo(Db& db, int target);

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_SCHEMA_H_
