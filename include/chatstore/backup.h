// Online backups. A SQLite store is copied by chatstore itself; Redis and
// PostgreSQL have their own tools for a consistent copy of a live server
// (BGSAVE or AOF, pg_dump or pg_basebackup: docs/operations.md).
#ifndef CHATSTORE_BACKUP_H_
#define CHATSTORE_BACKUP_H_

#include <string>

#include "chatstore/status.h"
#include "chatstore/store.h"

namespace chatstore {

// Writes a consistent copy of `store` to the file `dest_path` while the
// store (and other processes on the same file) keep writing. The copy holds
// every change committed before the call, is compact (no free pages, so no
// erased text), passes integrity_check, and replaces `dest_path` atomically
// (it is written beside it first, so a failed backup leaves the previous
// one in place). It opens as a sqlite:// store. InvalidArgument naming the
// tool to use for a store that is not sqlite://; Unavailable on I/O errors.
Status BackupStore(Store& store, const std::string& dest_path);

}  // namespace chatstore

#endif  // CHATSTORE_BACKUP_H_
