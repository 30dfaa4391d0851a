// The persistent cache: bytes by (namespace, key) in a directory on disk, the
// job python-diskcache does for LLM apps (memoized embeddings, tool results).
//
//   auto cache = chatstore::OpenCache("./data/cache", {}).value();
//   (void)cache->Set("embeddings", "sha256:ab12...", vector_bytes,
//                    std::chrono::hours(24));
//   std::string value;
//   if (cache->Get("embeddings", "sha256:ab12...", &value).ok()) { ... }
//
// Values of any size up to CacheOptions::max_value_bytes; those over
// file_threshold_bytes live in files beside the index, so the index stays
// small and a big value costs one file read. The directory is shared safely
// by several threads and several processes (each opens its own Cache).
// docs/cache.md explains the layout, the guarantees and the costs.
#ifndef CHATSTORE_CACHE_H_
#define CHATSTORE_CACHE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chatstore/clock.h"
#include "chatstore/status.h"

namespace chatstore {

struct CacheOptions {
  // The size limit: once the entries' sizes (namespace + key + value bytes)
  // add up to more, a Set first drops expired entries, then the
  // least-recently-stored ones, until the total fits again.
  std::uint64_t max_bytes = std::uint64_t{1} << 30;
  // The largest value a Set accepts (ResourceExhausted beyond).
  std::size_t max_value_bytes = std::size_t{64} << 20;
  // Values longer than this are kept in files beside the index.
  std::size_t file_threshold_bytes = 32 * 1024;
  // true: every Set is on disk when it returns (the index syncs each commit,
  // value files and their directory are fsync'd). false (the default, as in
  // diskcache): a power cut may lose the latest Sets, never tears a value
  // nor corrupts the index; a process crash loses nothing either way.
  bool durable = false;
  // How long an operation waits for another process's write lock before it
  // answers Unavailable.
  std::chrono::milliseconds busy_timeout{10000};
  // SQLite connections (at most this many operations run at once in this
  // process; more threads wait for a free one).
  std::size_t connections = 4;
  // Time for TTLs (tests inject a ManualClock). Null: the system clock.
  std::shared_ptr<Clock> clock;
};

// Counters of one open Cache plus the directory's current totals.
struct CacheStats {
  // This Cache object's operations since it was opened (other processes
  // sharing the directory count their own).
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;     // absent, expired or unreadable
  std::uint64_t evictions = 0;  // live entries dropped for the size limit
  std::uint64_t expired = 0;    // expired entries removed (limit or sweep)
  // The whole directory, as every process sees it.
  std::int64_t entries = 0;
  std::int64_t bytes = 0;  // sum of entry sizes, as max_bytes counts them
};

// Thread-safe: any number of threads may call any method at once.
class Cache {
 public:
  // The longest namespace and key, in bytes. Both are arbitrary non-empty
  // byte strings (never used as file names).
  static constexpr std::size_t kMaxNamespaceBytes = 512;
  static constexpr std::size_t kMaxKeyBytes = 1024;

  virtual ~Cache() = default;

  // Stores `value` under (ns, key), replacing any previous value; the entry
  // becomes the most recently stored. `ttl` (positive) makes it expire that
  // long after now; nullopt keeps it until it is evicted or deleted.
  // InvalidArgument for an empty or over-long namespace or key or a
  // non-positive ttl; ResourceExhausted when the value is over
  // max_value_bytes or the entry alone is over max_bytes; Unavailable when
  // the disk fails or the lock stays taken past busy_timeout.
  virtual Status Set(std::string_view ns, std::string_view key,
                     std::string_view value,
                     std::optional<std::chrono::milliseconds> ttl) = 0;
  Status Set(std::string_view ns, std::string_view key,
             std::string_view value) {
    return Set(ns, key, value, std::nullopt);
  }

  // Copies the value of (ns, key) into *value. NotFound when there is none,
  // it has expired, or its file is missing or has the wrong length (such an
  // entry is removed). REQUIRES value != nullptr.
  virtual Status Get(std::string_view ns, std::string_view key,
                     std::string* value) = 0;

  // Removes (ns, key). Returns whether a live (unexpired) entry was there.
  virtual Result<bool> Delete(std::string_view ns, std::string_view key) = 0;

  // Removes every entry whose namespace starts with `prefix` (erasure of a
  // user: see UserCacheNamespacePrefix) and returns how many there were.
  // Works in bounded transactions, so other writers are not stalled.
  // InvalidArgument when `prefix` is empty.
  virtual Result<std::int64_t> EraseNamespacePrefix(
      std::string_view prefix) = 0;

  // Removes up to `limit` expired entries; returns how many.
  virtual Result<std::int64_t> SweepExpired(std::size_t limit) = 0;

  // Deletes value files that no entry refers to and that are older than
  // `grace` by the file system's clock (a process that crashed between
  // writing a file and committing its entry leaves one; younger files may
  // belong to a Set in progress in another process). Returns how many.
  virtual Result<std::int64_t> CollectGarbage(std::chrono::seconds grace) = 0;

  virtual Result<CacheStats> Stats() = 0;
};

// Opens (creating when missing) the cache in `directory`: the index
// `index.db` (SQLite, WAL) and the value files under `values/`. Several
// processes may open the same directory. Unavailable when the directory or
// the index cannot be created or opened, Corruption when the index is not a
// cache index this build understands, InvalidArgument for unusable options.
Result<std::unique_ptr<Cache>> OpenCache(const std::string& directory,
                                         CacheOptions options);

// The namespace that holds `user_ns` for `user_id`: distinct users' (and
// shared) namespaces never collide, whatever bytes the ids contain.
std::string UserCacheNamespace(std::string_view user_id,
                               std::string_view user_ns);
// The prefix of every namespace of `user_id` (for EraseNamespacePrefix).
std::string UserCacheNamespacePrefix(std::string_view user_id);

}  // namespace chatstore

#endif  // CHATSTORE_CACHE_H_
