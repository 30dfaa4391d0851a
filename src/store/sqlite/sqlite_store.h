// sqlite:// — the embedded default: WAL, one writer thread with group
// commit, a pool of reader connections, FTS5 search.
#ifndef CHATSTORE_STORE_SQLITE_SQLITE_STORE_H_
#define CHATSTORE_STORE_SQLITE_SQLITE_STORE_H_

#include <memory>
#include <string>
#include <string_view>

#include "chatstore/change_notifier.h"
#include "chatstore/store.h"

namespace chatstore {

// `rest` is the URI after "sqlite://": a path ("/abs/file.db" from
// "sqlite:///abs/file.db", or a relative one), optionally followed by
// "?synchronous=full|normal". Creates missing parent directories and the
// file, and brings its schema up to date. Several processes may open one
// file at once. Returns InvalidArgument for a malformed URI; Unavailable
// when the file or its directory cannot be created or opened, or the file
// system cannot do WAL; Corruption when the file is not a database or was
// written by a newer chatstore.
//
// Erasures (DeleteSession, DeleteUser, SweepSessions) also purge the erased
// words from the full-text index. For an index of up to about 4 MB that is
// done when the call returns; beyond, the writer finishes it in small
// background steps (about 5 MB of index a second), and a store
// opened after a crash resumes it. Search never returns erased messages.
Result<std::shared_ptr<Store>> OpenSqliteStore(std::string_view rest,
                                               const StoreOptions& options);

// The notifier that polls the file's `PRAGMA data_version`
// (data_version_notifier.h). `rest` as for OpenSqliteStore.
Result<std::unique_ptr<ChangeNotifier>> OpenSqliteChangeNotifier(
    std::string_view rest);

// Checkpoints the WAL into the database file and truncates the WAL
// (`PRAGMA wal_checkpoint(TRUNCATE)` on the store's writer connection, run
// between group commits): afterwards the main file alone holds every
// commit, e.g. for a file-level copy or to check that erased text is gone.
// Unavailable when readers (possibly other processes') keep it from
// finishing within the busy timeout; InvalidArgument when `store` is not a
// sqlite store. REQUIRES not called from an Apply callback.
Status CheckpointSqliteStore(Store& store);

// Writes a consistent, compact copy of the store to `dest_path` (VACUUM
// INTO from one snapshot) while the store keeps taking writes: the copy
// holds every commit made before the call and passes integrity_check
// before it atomically replaces `dest_path`. Unavailable on I/O errors;
// Corruption when the copy fails its check; InvalidArgument when `store`
// is not a sqlite store.
Status BackupSqliteStore(Store& store, const std::string& dest_path);

// The value of `PRAGMA <name>` (lowercase letters and '_') on the store's
// writer connection, for per-connection settings such as synchronous or
// secure_delete: a diagnostic and test hook. InvalidArgument when `store`
// is not a sqlite store or `name` is not a pragma name. REQUIRES not called
// from an Apply callback.
Result<std::string> ReadSqliteWriterPragma(Store& store, std::string_view name);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_SQLITE_SQLITE_STORE_H_
