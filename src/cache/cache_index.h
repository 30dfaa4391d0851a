// The cache's index: one SQLite file (WAL) with a row per entry, inline
// values up to the file threshold, the directory's totals, and the
// operations on it, each one transaction. Value files are the caller's
// business (DiskCache): the index only names them and hands back the names
// of the files that its writes orphaned, to delete after the commit.
#ifndef CHATSTORE_CACHE_CACHE_INDEX_H_
#define CHATSTORE_CACHE_CACHE_INDEX_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/status.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::cache {

// What a write removed: the entries' value files to delete once committed,
// and how many live and expired entries went.
struct Removed {
  std::vector<std::string> files;
  std::int64_t live = 0;
  std::int64_t expired = 0;
};

// One entry as Get sees it.
struct Found {
  std::int64_t seq = 0;   // identifies this version of the entry
  std::int64_t size = 0;  // the value's length
  std::optional<std::int64_t> expires_at;  // ms since the epoch
  std::string file;  // the value's file; empty when the value is inline
};

// An entry to store. `value` is empty when it lives in `file`.
struct NewEntry {
  std::string_view ns;
  std::string_view key;
  std::string_view value;
  std::string_view file;
  std::int64_t value_size = 0;
  std::int64_t charge = 0;  // what the entry counts against the size limit
  std::int64_t stored_at = 0;
  std::optional<std::int64_t> expires_at;
};

// One connection to the index with its prepared statements. Not
// thread-safe: one thread at a time (DiskCache leases it from a pool).
class CacheIndex {
 public:
  // Opens (creating) the index at `path`, brings its schema up to date and
  // prepares the statements. `durable`: synchronous=FULL instead of NORMAL.
  static Result<std::unique_ptr<CacheIndex>> Open(
      const std::string& path, bool durable,
      std::chrono::milliseconds busy_timeout);

  // Looks (ns, key) up. Returns nullopt when absent; otherwise the entry,
  // with its inline value copied into *value (untouched when the value is in
  // a file or the entry has expired by `now`).
  Result<std::optional<Found>> Find(std::string_view ns, std::string_view key,
                                    Timestamp now, std::string* value);

  // Stores `entry` in place of any entry of the same (ns, key), then, while
  // the totals exceed `max_bytes`, drops expired entries and then the least
  // recently stored ones (never `entry` itself).
  Result<Removed> Store(const NewEntry& entry, Timestamp now,
                        std::int64_t max_bytes);

  // Removes (ns, key) if present.
  Result<Removed> Remove(std::string_view ns, std::string_view key,
                         Timestamp now);
  // Removes the version `seq` of an entry, if it is still the one holding
  // `file` (a concurrent Set may have replaced it meanwhile).
  Result<Removed> RemoveVersion(std::int64_t seq, std::string_view file,
                                Timestamp now);
  // Removes up to `limit` entries whose namespace starts with `prefix`.
  Result<Removed> RemovePrefix(std::string_view prefix, std::int64_t limit,
                               Timestamp now);
  // Removes up to `limit` entries expired by `now`.
  Result<Removed> RemoveExpired(Timestamp now, std::int64_t limit);

  struct Totals {
    std::int64_t entries = 0;
    std::int64_t bytes = 0;
  };
  Result<Totals> ReadTotals();
  // The value files entries refer to now.
  Result<std::unordered_set<std::string>> ReferencedFiles();

  // The connection (for Checkpointer::Watch).
  sqlite::Db& db() { return db_; }

 private:
  CacheIndex() = default;
  // Deletes the rows `select` (already bound; it returns seq, charge,
  // expires_at, file) yields, stopping once they add up to `max_freed`
  // bytes; adds them to *removed and their bytes to *freed. REQUIRES a
  // write transaction.
  Status RemoveSelected(sqlite::Statement& select, Timestamp now,
                        std::int64_t max_freed, Removed* removed,
                        std::int64_t* freed);
  // Adds to the totals row. REQUIRES a write transaction.
  Status AdjustTotals(std::int64_t entries, std::int64_t bytes);
  // A whole removal in one transaction: RemoveSelected(select) and the
  // totals.
  Result<Removed> RemoveInTransaction(sqlite::Statement& select, Timestamp now);

  sqlite::Db db_;
  sqlite::Statement find_;
  sqlite::Statement insert_;
  sqlite::Statement delete_seq_;
  sqlite::Statement adjust_totals_;
  sqlite::Statement read_totals_;
  sqlite::Statement select_key_;
  sqlite::Statement select_expired_;
  sqlite::Statement select_oldest_;
  sqlite::Statement select_version_;
  sqlite::Statement select_prefix_;
  sqlite::Statement select_prefix_to_end_;
  sqlite::Statement referenced_files_;
};

}  // namespace chatstore::cache

#endif  // CHATSTORE_CACHE_CACHE_INDEX_H_
