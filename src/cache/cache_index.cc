#include "cache/cache_index.h"

#include <sqlite3.h>

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/schema.h"

namespace chatstore::cache {
namespace {

using sqlite::Db;
using sqlite::Statement;
using sqlite::StatementReset;
using sqlite::Transaction;

// Append only, like every schema history (sqlite/schema.h).
constexpr sqlite::Migration kMigrations[] = {
    {1, "entries and totals",
     R"sql(
-- seq is the rowid: a new or replaced entry gets the largest one, so the
-- rowid order is the order of storing, and least-recently-stored eviction
-- deletes from the low end. ns and key are BLOBs: arbitrary bytes,
-- compared byte by byte. Columns read by Get come first; `value` (inline
-- values only) is last, so reading the others never touches its overflow
-- pages. `charge` is what the entry counts against the size limit.
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY,
  ns BLOB NOT NULL,
  key BLOB NOT NULL,
  charge INTEGER NOT NULL,
  value_size INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  expires_at INTEGER,
  file TEXT,
  value BLOB
);
CREATE UNIQUE INDEX entries_by_key ON entries (ns, key);
-- Only entries with a TTL pay for this index.
CREATE INDEX entries_by_expiry ON entries (expires_at)
  WHERE expires_at IS NOT NULL;
-- The directory's totals, kept by the same transaction as every write, so
-- the size limit is checked without a scan and holds across processes.
CREATE TABLE totals (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO totals (id, entries, bytes) VALUES (0, 0, 0);
)sql"},
};

constexpr int kIndexVersion = 1;
// No bound on the bytes RemoveSelected frees.
constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();
// Rows a Set over the size limit selects at a time for removal.
constexpr std::int64_t kEvictionBatch = 64;
static_assert(std::size(kMigrations) == kIndexVersion);

// The columns of every candidate for removal, read by
// CacheIndex::RemoveSelected.
#define CHATSTORE_CACHE_CANDIDATE \
  "SELECT seq, charge, expires_at, file FROM entries "

// The least byte string greater than every string starting with `prefix`,
// or nullopt when there is none (the prefix is all 0xff bytes).
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) {
    end.pop_back();
  }
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace

Result<std::unique_ptr<CacheIndex>> CacheIndex::Open(
    const std::string& path, bool durable,
    std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<CacheIndex> index(new CacheIndex());
  CHATSTORE_ASSIGN_OR_RETURN(index->db_,
                             Db::Open(path, /*create=*/true, busy_timeout));
  Db& db = index->db_;
  CHATSTORE_RETURN_IF_ERROR(sqlite::ConfigureWal(db, durable));
  // Reads of pages already in the database file become memory reads
  // instead of a pread() each (WAL pages are read from the WAL as always).
  CHATSTORE_RETURN_IF_ERROR(db.Exec("PRAGMA mmap_size = 268435456"));
  // Pages read from the WAL are a pread() each unless cached; 32 MiB (as
  // diskcache uses) holds the index of a few hundred thousand small entries.
  CHATSTORE_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size = -32768"));
  CHATSTORE_RETURN_IF_ERROR(sqlite::ApplyMigrations(
      db, kMigrations, kIndexVersion, "the cache index"));
  struct Sql {
    Statement* stmt;
    const char* text;
  };
  // Removals select their rows first and then delete them one by one by
  // seq: a DELETE that can touch several rows (or has RETURNING) needs a
  // statement journal, whose allocation and release cost more than the
  // rest of a small Set.
  const Sql statements[] = {
      {&index->find_,
       "SELECT seq, value_size, expires_at, file, value FROM entries "
       "WHERE ns = ?1 AND key = ?2"},
      {&index->insert_,
       "INSERT INTO entries (ns, key, charge, value_size, stored_at, "
       "expires_at, file, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&index->delete_seq_, "DELETE FROM entries WHERE seq = ?1"},
      {&index->adjust_totals_,
       "UPDATE totals SET entries = entries + ?1, bytes = bytes + ?2 "
       "WHERE id = 0"},
      {&index->read_totals_, "SELECT entries, bytes FROM totals WHERE id = 0"},
      {&index->select_key_,
       CHATSTORE_CACHE_CANDIDATE "WHERE ns = ?1 AND key = ?2"},
      {&index->select_expired_, CHATSTORE_CACHE_CANDIDATE
       "WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"},
      {&index->select_oldest_,
       CHATSTORE_CACHE_CANDIDATE "WHERE seq < ?1 ORDER BY seq LIMIT ?2"},
      {&index->select_version_,
       CHATSTORE_CACHE_CANDIDATE "WHERE seq = ?1 AND file = ?2"},
      {&index->select_prefix_,
       CHATSTORE_CACHE_CANDIDATE "WHERE ns >= ?1 AND ns < ?2 LIMIT ?3"},
      {&index->select_prefix_to_end_,
       CHATSTORE_CACHE_CANDIDATE "WHERE ns >= ?1 LIMIT ?3"},
      {&index->referenced_files_,
       "SELECT file FROM entries WHERE file IS NOT NULL"},
  };
  for (const Sql& s : statements) {
    CHATSTORE_ASSIGN_OR_RETURN(*s.stmt, db.Prepare(s.text));
  }
  return index;
}

Result<std::optional<Found>> CacheIndex::Find(std::string_view ns,
                                              std::string_view key,
                                              Timestamp now,
                                              std::string* value) {
  StatementReset reset(find_);
  find_.BindBlob(1, ns);
  find_.BindBlob(2, key);
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, find_.Step());
  if (!row) return std::optional<Found>();
  Found found;
  found.seq = find_.Int(0);
  found.size = find_.Int(1);
  found.expires_at = find_.OptionalInt(2);
  found.file = std::string(find_.Text(3));
  if (found.file.empty() &&
      (!found.expires_at || *found.expires_at > ToMillis(now))) {
    const std::string_view bytes = find_.Blob(4);
    value->assign(bytes.data(), bytes.size());
  }
  return std::optional<Found>(std::move(found));
}

Status CacheIndex::RemoveSelected(Statement& select, Timestamp now,
                                  std::int64_t max_freed, Removed* removed,
                                  std::int64_t* freed) {
  struct Row {
    std::int64_t seq;
    std::int64_t charge;
  };
  std::vector<Row> rows;
  {
    StatementReset reset(select);
    const std::int64_t now_ms = ToMillis(now);
    std::int64_t selected = 0;
    while (selected < max_freed) {
      CHATSTORE_ASSIGN_OR_RETURN(const bool row, select.Step());
      if (!row) break;
      const std::optional<std::int64_t> expires_at = select.OptionalInt(2);
      if (expires_at && *expires_at <= now_ms) {
        ++removed->expired;
      } else {
        ++removed->live;
      }
      if (!select.IsNull(3)) removed->files.emplace_back(select.Text(3));
      rows.push_back({select.Int(0), select.Int(1)});
      selected += rows.back().charge;
    }
  }
  for (const Row& row : rows) {
    delete_seq_.Bind(1, row.seq);
    CHATSTORE_RETURN_IF_ERROR(delete_seq_.Run());
    *freed += row.charge;
  }
  return Status::Ok();
}

Status CacheIndex::AdjustTotals(std::int64_t entries, std::int64_t bytes) {
  adjust_totals_.Bind(1, entries);
  adjust_totals_.Bind(2, bytes);
  return adjust_totals_.Run();
}

Result<Removed> CacheIndex::Store(const NewEntry& entry, Timestamp now,
                                  std::int64_t max_bytes) {
  CHATSTORE_ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_));
  // The replaced entry (if any) is neither an eviction nor an expiry: only
  // its file is handed back.
  Removed replaced;
  std::int64_t freed = 0;
  select_key_.BindBlob(1, entry.ns);
  select_key_.BindBlob(2, entry.key);
  CHATSTORE_RETURN_IF_ERROR(
      RemoveSelected(select_key_, now, kNoLimit, &replaced, &freed));
  {
    StatementReset reset(insert_);
    insert_.BindBlob(1, entry.ns);
    insert_.BindBlob(2, entry.key);
    insert_.Bind(3, entry.charge);
    insert_.Bind(4, entry.value_size);
    insert_.Bind(5, entry.stored_at);
    insert_.Bind(6, entry.expires_at);
    if (entry.file.empty()) {
      insert_.BindNull(7);
      insert_.BindBlob(8, entry.value);
    } else {
      insert_.Bind(7, entry.file);
      insert_.BindNull(8);
    }
    CHATSTORE_RETURN_IF_ERROR(insert_.Run());
  }
  const std::int64_t seq = sqlite3_last_insert_rowid(db_.get());
  CHATSTORE_RETURN_IF_ERROR(
      AdjustTotals(1 - replaced.live - replaced.expired, entry.charge - freed));
  CHATSTORE_ASSIGN_OR_RETURN(const Totals totals, ReadTotals());

  Removed removed;
  removed.files = std::move(replaced.files);
  if (totals.bytes > max_bytes) {
    // Expired entries go first: they are dead weight. Then the least
    // recently stored, until the new entry fits (it is never one of them:
    // the Set refused entries larger than the limit).
    std::int64_t evicted = 0;
    select_expired_.Bind(1, ToMillis(now));
    select_expired_.Bind(2, kEvictionBatch);
    CHATSTORE_RETURN_IF_ERROR(
        RemoveSelected(select_expired_, now, kNoLimit, &removed, &evicted));
    while (totals.bytes - evicted > max_bytes) {
      const std::int64_t before = evicted;
      select_oldest_.Bind(1, seq);
      select_oldest_.Bind(2, kEvictionBatch);
      CHATSTORE_RETURN_IF_ERROR(RemoveSelected(
          select_oldest_, now, totals.bytes - evicted - max_bytes, &removed,
          &evicted));
      if (evicted == before) break;  // nothing older than the new entry
    }
    CHATSTORE_RETURN_IF_ERROR(
        AdjustTotals(-(removed.live + removed.expired), -evicted));
  }
  CHATSTORE_RETURN_IF_ERROR(tx.Commit());
  return removed;
}

Result<Removed> CacheIndex::RemoveInTransaction(Statement& select,
                                                Timestamp now) {
  CHATSTORE_ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_));
  Removed removed;
  std::int64_t freed = 0;
  CHATSTORE_RETURN_IF_ERROR(
      RemoveSelected(select, now, kNoLimit, &removed, &freed));
  const std::int64_t count = removed.live + removed.expired;
  if (count == 0) return removed;  // ~Transaction ends the no-op
  CHATSTORE_RETURN_IF_ERROR(AdjustTotals(-count, -freed));
  CHATSTORE_RETURN_IF_ERROR(tx.Commit());
  return removed;
}

Result<Removed> CacheIndex::Remove(std::string_view ns, std::string_view key,
                                   Timestamp now) {
  select_key_.BindBlob(1, ns);
  select_key_.BindBlob(2, key);
  return RemoveInTransaction(select_key_, now);
}

Result<Removed> CacheIndex::RemoveVersion(std::int64_t seq,
                                          std::string_view file,
                                          Timestamp now) {
  select_version_.Bind(1, seq);
  select_version_.Bind(2, file);
  return RemoveInTransaction(select_version_, now);
}

Result<Removed> CacheIndex::RemovePrefix(std::string_view prefix,
                                         std::int64_t limit, Timestamp now) {
  const std::optional<std::string> end = PrefixEnd(prefix);
  Statement& select = end ? select_prefix_ : select_prefix_to_end_;
  select.BindBlob(1, prefix);
  if (end) select.BindBlob(2, *end);
  select.Bind(3, limit);
  return RemoveInTransaction(select, now);
}

Result<Removed> CacheIndex::RemoveExpired(Timestamp now, std::int64_t limit) {
  select_expired_.Bind(1, ToMillis(now));
  select_expired_.Bind(2, limit);
  return RemoveInTransaction(select_expired_, now);
}

Result<CacheIndex::Totals> CacheIndex::ReadTotals() {
  StatementReset reset(read_totals_);
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, read_totals_.Step());
  if (!row) return Status::Corruption("cache: the totals row is missing");
  return Totals{read_totals_.Int(0), read_totals_.Int(1)};
}

Result<std::unordered_set<std::string>> CacheIndex::ReferencedFiles() {
  StatementReset reset(referenced_files_);
  std::unordered_set<std::string> files;
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, referenced_files_.Step());
    if (!row) return files;
    files.emplace(referenced_files_.Text(0));
  }
}

}  // namespace chatstore::cache
