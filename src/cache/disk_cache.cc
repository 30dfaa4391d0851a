// The Cache of include/chatstore/cache.h: a CacheIndex connection pool for
// the index and ValueFiles for the values over the file threshold.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cache/cache_index.h"
#include "cache/checkpointer.h"
#include "cache/value_files.h"
#include "chatstore/cache.h"
#include "store/sqlite/reader_pool.h"

namespace chatstore {
namespace {

using cache::CacheIndex;
using cache::Removed;
using cache::ValueFiles;

// Longest accepted TTL: a century, far from overflowing int64 milliseconds.
constexpr std::chrono::milliseconds kMaxTtl = std::chrono::hours(24 * 36525);
// Entries removed per transaction by the bulk operations, so another
// process's Set waits for at most one short transaction.
constexpr std::int64_t kBulkBatch = 512;
// A Get that finds its value file gone retries the lookup this many times:
// a concurrent Set replaced the entry (and deleted the old file) between the
// lookup and the read.
constexpr int kFileRaceRetries = 3;

Status CheckName(std::string_view what, std::string_view name,
                 std::size_t max) {
  if (name.empty() || name.size() > max) {
    return Status::InvalidArgument("cache " + std::string(what) +
                                   " must be 1-" + std::to_string(max) +
                                   " bytes");
  }
  return Status::Ok();
}

Status CheckNames(std::string_view ns, std::string_view key) {
  CHATSTORE_RETURN_IF_ERROR(
      CheckName("namespace", ns, Cache::kMaxNamespaceBytes));
  return CheckName("key", key, Cache::kMaxKeyBytes);
}

class DiskCache final : public Cache {
 public:
  DiskCache(CacheOptions options, ValueFiles files,
            std::unique_ptr<cache::Checkpointer> checkpointer,
            std::vector<std::unique_ptr<CacheIndex>> connections)
      : options_(std::move(options)),
        files_(std::move(files)),
        checkpointer_(std::move(checkpointer)),
        pool_(std::move(connections)) {}

  Status Set(std::string_view ns, std::string_view key, std::string_view value,
             std::optional<std::chrono::milliseconds> ttl) override {
    CHATSTORE_RETURN_IF_ERROR(CheckNames(ns, key));
    if (ttl && (ttl->count() <= 0 || *ttl > kMaxTtl)) {
      return Status::InvalidArgument(
          "cache ttl must be positive and at most a century");
    }
    if (value.size() > options_.max_value_bytes) {
      return Status::ResourceExhausted(
          "cache value of " + std::to_string(value.size()) +
          " bytes is over the limit of " +
          std::to_string(options_.max_value_bytes));
    }
    cache::NewEntry entry;
    entry.ns = ns;
    entry.key = key;
    entry.value_size = static_cast<std::int64_t>(value.size());
    entry.charge =
        static_cast<std::int64_t>(ns.size() + key.size() + value.size());
    if (static_cast<std::uint64_t>(entry.charge) > options_.max_bytes) {
      return Status::ResourceExhausted("cache entry of " +
                                       std::to_string(entry.charge) +
                                       " bytes is over the cache's size limit");
    }
    const Timestamp now = options_.clock->Now();
    entry.stored_at = ToMillis(now);
    if (ttl) entry.expires_at = ToMillis(now + *ttl);

    // The file is complete before the index names it; a crash in between
    // leaves an unreferenced file for CollectGarbage.
    std::string file;
    if (value.size() > options_.file_threshold_bytes) {
      CHATSTORE_ASSIGN_OR_RETURN(file, files_.Write(value));
      entry.file = file;
    } else {
      entry.value = value;
    }
    Result<Removed> removed = [&] {
      auto index = pool_.Acquire();
      return index->Store(entry, now,
                          static_cast<std::int64_t>(options_.max_bytes));
    }();
    if (!removed.ok()) {
      if (!file.empty()) files_.Remove(file);
      return removed.status();
    }
    Forget(*removed);
    evictions_.fetch_add(removed->live, std::memory_order_relaxed);
    return Status::Ok();
  }

  Status Get(std::string_view ns, std::string_view key,
             std::string* value) override {
    CHATSTORE_RETURN_IF_ERROR(CheckNames(ns, key));
    auto index = pool_.Acquire();
    for (int attempt = 0;; ++attempt) {
      const Timestamp now = options_.clock->Now();
      CHATSTORE_ASSIGN_OR_RETURN(std::optional<cache::Found> found,
                                 index->Find(ns, key, now, value));
      if (!found ||
          (found->expires_at && *found->expires_at <= ToMillis(now))) {
        return Miss();
      }
      if (found->file.empty()) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return Status::Ok();
      }
      Status read = files_.Read(found->file,
                                static_cast<std::size_t>(found->size), value);
      if (read.ok()) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return Status::Ok();
      }
      if (read.IsUnavailable()) return read;
      if (read.IsNotFound() && attempt + 1 < kFileRaceRetries) continue;
      // The file is damaged, or still gone after the retries: the entry is
      // unusable. Drop this version of it (not a newer one a concurrent Set
      // may have stored meanwhile) and answer a miss.
      Result<Removed> removed =
          index->RemoveVersion(found->seq, found->file, options_.clock->Now());
      if (removed.ok()) Forget(*removed);
      files_.Remove(found->file);
      value->clear();
      return Miss();
    }
  }

  Result<bool> Delete(std::string_view ns, std::string_view key) override {
    CHATSTORE_RETURN_IF_ERROR(CheckNames(ns, key));
    Result<Removed> removed = [&] {
      auto index = pool_.Acquire();
      return index->Remove(ns, key, options_.clock->Now());
    }();
    if (!removed.ok()) return removed.status();
    Forget(*removed);
    return removed->live > 0;
  }

  Result<std::int64_t> EraseNamespacePrefix(std::string_view prefix) override {
    if (prefix.empty()) {
      return Status::InvalidArgument("cache namespace prefix is empty");
    }
    return RemoveInBatches(std::numeric_limits<std::int64_t>::max(),
                           [&](CacheIndex& index, std::int64_t limit) {
                             return index.RemovePrefix(prefix, limit,
                                                       options_.clock->Now());
                           });
  }

  Result<std::int64_t> SweepExpired(std::size_t limit) override {
    return RemoveInBatches(
        static_cast<std::int64_t>(std::min<std::size_t>(
            limit, std::numeric_limits<std::int64_t>::max())),
        [&](CacheIndex& index, std::int64_t batch) {
          return index.RemoveExpired(options_.clock->Now(), batch);
        });
  }

  Result<std::int64_t> CollectGarbage(std::chrono::seconds grace) override {
    Result<std::unordered_set<std::string>> referenced = [&] {
      auto index = pool_.Acquire();
      return index->ReferencedFiles();
    }();
    if (!referenced.ok()) return referenced.status();
    return files_.RemoveUnreferenced(*referenced, grace);
  }

  Result<CacheStats> Stats() override {
    CacheStats stats;
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.evictions = evictions_.load(std::memory_order_relaxed);
    stats.expired = expired_.load(std::memory_order_relaxed);
    auto index = pool_.Acquire();
    CHATSTORE_ASSIGN_OR_RETURN(const CacheIndex::Totals totals,
                               index->ReadTotals());
    stats.entries = totals.entries;
    stats.bytes = totals.bytes;
    return stats;
  }

 private:
  Status Miss() {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return Status::NotFound("cache miss");
  }

  // Deletes the files of removed entries (after their commit) and counts
  // the expired ones.
  void Forget(const Removed& removed) {
    for (const std::string& file : removed.files) files_.Remove(file);
    expired_.fetch_add(removed.expired, std::memory_order_relaxed);
  }

  // Runs `remove(index, batch)` in transactions of at most kBulkBatch rows
  // until it removes nothing or `limit` rows are gone; returns the count.
  template <typename RemoveBatch>
  Result<std::int64_t> RemoveInBatches(std::int64_t limit, RemoveBatch remove) {
    std::int64_t total = 0;
    while (total < limit) {
      const std::int64_t batch = std::min(kBulkBatch, limit - total);
      Result<Removed> removed = [&] {
        auto index = pool_.Acquire();
        return remove(*index, batch);
      }();
      if (!removed.ok()) return removed.status();
      Forget(*removed);
      const std::int64_t n = removed->live + removed->expired;
      total += n;
      if (n < batch) break;
    }
    return total;
  }

  const CacheOptions options_;
  const ValueFiles files_;
  // Declared before the pool: the connections report to it until they close.
  const std::unique_ptr<cache::Checkpointer> checkpointer_;
  sqlite::ReaderPool<CacheIndex> pool_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> expired_{0};
};

// "<decimal length>:<bytes>": a length prefix makes the concatenation of
// several parts unambiguous whatever bytes they contain.
void AppendLengthPrefixed(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

}  // namespace

std::string UserCacheNamespacePrefix(std::string_view user_id) {
  std::string ns = "user:";
  AppendLengthPrefixed(ns, user_id);
  ns += ':';
  return ns;
}

std::string UserCacheNamespace(std::string_view user_id,
                               std::string_view user_ns) {
  return UserCacheNamespacePrefix(user_id) + std::string(user_ns);
}

Result<std::unique_ptr<Cache>> OpenCache(const std::string& directory,
                                         CacheOptions options) {
  if (options.max_bytes == 0 || options.connections == 0 ||
      options.max_bytes > static_cast<std::uint64_t>(
                              std::numeric_limits<std::int64_t>::max())) {
    return Status::InvalidArgument(
        "cache max_bytes and connections must be positive");
  }
  if (options.clock == nullptr) options.clock = SystemClock();
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    return Status::Unavailable("cache: cannot create directory " + directory +
                               ": " + ec.message());
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      ValueFiles files,
      ValueFiles::Open(directory + "/values", options.durable));
  const std::string index_path = directory + "/index.db";
  std::vector<std::unique_ptr<CacheIndex>> connections;
  for (std::size_t i = 0; i < options.connections; ++i) {
    CHATSTORE_ASSIGN_OR_RETURN(
        std::unique_ptr<CacheIndex> index,
        CacheIndex::Open(index_path, options.durable, options.busy_timeout));
    connections.push_back(std::move(index));
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      std::unique_ptr<cache::Checkpointer> checkpointer,
      cache::Checkpointer::Start(index_path, options.busy_timeout));
  for (auto& index : connections) checkpointer->Watch(index->db());
  return std::unique_ptr<Cache>(std::make_unique<DiskCache>(
      std::move(options), std::move(files), std::move(checkpointer),
      std::move(connections)));
}

}  // namespace chatstore
