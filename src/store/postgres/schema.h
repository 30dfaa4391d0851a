// The postgres backend's schema: an ordered list of migrations, each applied
// once and recorded in the `schema_migrations` table. Opening a store brings
// the database to kSchemaVersion; a database from a newer chatstore is
// refused. The tables and the reasons for each index: docs/postgres.md.
#ifndef CHATSTORE_STORE_POSTGRES_SCHEMA_H_
#define CHATSTORE_STORE_POSTGRES_SCHEMA_H_

#include <string_view>

#include "chatstore/status.h"

namespace chatstore::postgres {

// The newest schema version this build knows (the last migration's).
inline constexpr int kSchemaVersion = 5;

// Applies the migrations after the database's newest recorded version up to
// `target`, each in its own transaction that first takes a transaction-level
// advisory lock, so several processes opening one new database at once run
// each migration exactly once (the others wait, then find it recorded).
// `conninfo` is a libpq connection string or URI (see BuildConninfo()).
// Returns Corruption when the database records a version newer than
// kSchemaVersion (written by a newer chatstore), InvalidArgument for a
// `target` outside [1, kSchemaVersion] or a database whose encoding is not
// UTF8, Unavailable when the server cannot be reached. Tests pass an older
// `target` to build old databases.
Status MigrateTo(std::string_view conninfo, int target);

}  // namespace chatstore::postgres

#endif  // CHATSTORE_STORE_POSTGRES_SCHEMA_H_
