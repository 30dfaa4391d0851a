#include "chatstore/backup.h"

#include <string>

#include "store/sqlite/sqlite_store.h"

namespace chatstore {

Status BackupStore(Store& store, const std::string& dest_path) {
  const std::string_view kind = store.kind();
  if (kind == "sqlite") return BackupSqliteStore(store, dest_path);
  if (kind == "redis") {
    return Status::InvalidArgument(
        "redis stores are backed up by Redis itself: BGSAVE (or AOF) and "
        "copy the RDB file; see docs/operations.md");
  }
  if (kind == "postgres") {
    return Status::InvalidArgument(
        "postgresql stores are backed up with pg_dump or pg_basebackup; see "
        "docs/operations.md");
  }
  return Status::InvalidArgument("a " + std::string(kind) +
                                 " store has nothing durable to back up");
}

}  // namespace chatstore
