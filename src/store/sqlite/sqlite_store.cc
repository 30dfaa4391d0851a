#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "store/sqlite/data_version_notifier.h"
#include "store/sqlite/group_commit.h"
#include "store/sqlite/reader_pool.h"
#include "store/sqlite/row_reader.h"
#include "store/sqlite/row_writer.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_db.h"
#include "store/uri_query.h"

namespace chatstore {
namespace sqlite {
namespace {

// ---- Writer tasks -----------------------------------------------------------

// Store::Apply(): answered through the caller's callback, on the writer
// thread, once the group that carried it has committed.
class ApplyTask final : public WriteTask {
 public:
  ApplyTask(RowWriter& rows, const Clock& clock,
            std::shared_ptr<const Mutation> mutation, Store::ApplyCallback done)
      : rows_(rows),
        clock_(clock),
        mutation_(std::move(mutation)),
        done_(std::move(done)) {}

  Status Run() override {
    result_.emplace(rows_.Apply(*mutation_, clock_.Now()));
    return result_->status();
  }

  void Finish(Status status) override {
    if (!done_) return;
    if (status.ok()) {
      done_(std::move(*result_));
    } else {
      done_(std::move(status));
    }
  }

 private:
  RowWriter& rows_;
  const Clock& clock_;
  std::shared_ptr<const Mutation> mutation_;
  Store::ApplyCallback done_;
  std::optional<Result<WriteBatch>> result_;
};

// Where a blocking caller waits for a CallTask's answer.
template <typename T>
class Answer {
 public:
  void Set(Result<T> r) {
    std::lock_guard lock(mu_);
    value_.emplace(std::move(r));
    cv_.notify_one();
  }
  Result<T> Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return value_.has_value(); });
    return std::move(*value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Result<T>> value_;
};

// Runs `fn` (returning Result<T>) on the writer thread for a caller that
// waits: erasures, preferences, maintenance.
template <typename T, typename F>
class CallTask final : public WriteTask {
 public:
  CallTask(F fn, bool transactional, Answer<T>& answer)
      : fn_(std::move(fn)), transactional_(transactional), answer_(answer) {}

  bool transactional() const override { return transactional_; }

  Status Run() override {
    result_.emplace(fn_());
    return result_->status();
  }

  void Finish(Status status) override {
    // After Set() the caller may return and destroy `answer_`.
    if (status.ok()) {
      answer_.Set(std::move(*result_));
    } else {
      answer_.Set(std::move(status));
    }
  }

 private:
  F fn_;
  const bool transactional_;
  Answer<T>& answer_;
  std::optional<Result<T>> result_;
};

// ---- The store --------------------------------------------------------------

struct SqliteUri {
  std::string path;
  std::optional<bool> synchronous_full;
};

// "path[?synchronous=full|normal]".
Result<SqliteUri> ParseSqliteUri(std::string_view rest) {
  SqliteUri uri;
  const std::size_t q = rest.find('?');
  uri.path = std::string(rest.substr(0, q));
  if (uri.path.empty()) {
    return Status::InvalidArgument(
        "sqlite:// URI has no file path (sqlite:///abs/file.db or "
        "sqlite://relative/file.db)");
  }
  if (uri.path == ":memory:" || uri.path.starts_with("file:")) {
    // Every reader connection would see its own private database.
    return Status::InvalidArgument("sqlite:// needs a file path, not '" +
                                   uri.path + "'");
  }
  std::string_view query =
      q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  for (const UriParam& param : SplitUriQuery(query)) {
    const std::string_view key = param.name;
    const std::string_view value = param.value;
    if (key != "synchronous") {
      return Status::InvalidArgument("unknown sqlite:// URI parameter '" +
                                     std::string(key) +
                                     "' (known: synchronous)");
    }
    if (value == "full" || value == "FULL") {
      uri.synchronous_full = true;
    } else if (value == "normal" || value == "NORMAL") {
      uri.synchronous_full = false;
    } else {
      return Status::InvalidArgument(
          "sqlite:// synchronous must be full or normal, got '" +
          std::string(value) + "'");
    }
  }
  return uri;
}

class SqliteStore final : public Store {
 public:
  static Result<std::shared_ptr<SqliteStore>> Open(const SqliteUri& uri,
                                                   const StoreOptions& options);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  // Members go in reverse: the writer thread first (it drains the queue),
  // then statements, then connections.
  ~SqliteStore() override = default;

  std::string_view kind() const override { return "sqlite"; }

  void Apply(std::shared_ptr<const Mutation> mutation,
             ApplyCallback done) override {
    if (mutation == nullptr) {
      if (done) done(Status::InvalidArgument("null mutation"));
      return;
    }
    writer_->Enqueue(std::make_unique<ApplyTask>(
        *rows_, *clock_, std::move(mutation), std::move(done)));
  }

  Result<Session> GetSession(std::string_view session_id) override {
    auto reader = readers_->Acquire();
    return reader->GetSession(session_id, clock_->Now());
  }

  Result<Message> GetMessage(std::string_view session_id,
                             std::string_view message_id) override {
    auto reader = readers_->Acquire();
    return reader->GetMessage(session_id, message_id, clock_->Now());
  }

  Result<SessionPage> ListSessions(std::string_view user_id,
                                   std::optional<SessionStatus> status,
                                   const std::optional<SessionCursor>& after,
                                   int limit) override {
    auto reader = readers_->Acquire();
    return reader->ListSessions(user_id, status, after, limit, clock_->Now());
  }

  Result<std::vector<Event>> ReadEvents(std::string_view session_id,
                                        std::int64_t after_seq,
                                        int limit) override {
    auto reader = readers_->Acquire();
    return reader->ReadEvents(session_id, after_seq, limit, clock_->Now());
  }

  Result<std::vector<Message>> ReadMessages(std::string_view session_id,
                                            std::int64_t after_seq,
                                            int limit) override {
    auto reader = readers_->Acquire();
    return reader->ReadMessages(session_id, after_seq, limit, clock_->Now());
  }

  Result<std::vector<Message>> ReadMessagesBefore(std::string_view session_id,
                                                  std::int64_t before_seq,
                                                  int limit) override {
    auto reader = readers_->Acquire();
    return reader->ReadMessagesBefore(session_id, before_seq, limit,
                                      clock_->Now());
  }

  Result<EraseCounts> DeleteSession(std::string_view session_id) override {
    return RunOnWriter<EraseCounts>([this, session_id] {
      return AfterErasure(rows_->DeleteSession(session_id, clock_->Now()));
    });
  }

  Result<EraseCounts> DeleteUser(std::string_view user_id) override {
    return RunOnWriter<EraseCounts>(
        [this, user_id] { return AfterErasure(rows_->DeleteUser(user_id)); });
  }

  Result<SearchPage> Search(std::string_view user_id, std::string_view query,
                            const std::optional<SearchCursor>& after,
                            int limit) override {
    CHATSTORE_ASSIGN_OR_RETURN(const std::string match,
                               FtsMatchExpression(query));
    auto reader = readers_->Acquire();
    return reader->Search(user_id, match, after, limit, clock_->Now());
  }

  Result<Preferences> GetPreferences(std::string_view user_id) override {
    auto reader = readers_->Acquire();
    return reader->GetPreferences(user_id);
  }

  Status PutPreferences(std::string_view user_id,
                        const Preferences& prefs) override {
    return RunOnWriter<bool>([this, user_id, prefs]() -> Result<bool> {
             CHATSTORE_RETURN_IF_ERROR(rows_->PutPreferences(user_id, prefs));
             return true;
           })
        .status();
  }

  Result<std::string> GetUserState(std::string_view user_id) override {
    auto reader = readers_->Acquire();
    return reader->GetUserState(user_id);
  }

  Status PutUserState(std::string_view user_id,
                      std::string_view state) override {
    return RunOnWriter<bool>([this, user_id, state]() -> Result<bool> {
             CHATSTORE_RETURN_IF_ERROR(rows_->PutUserState(user_id, state));
             return true;
           })
        .status();
  }

  Result<UserStateScanPage> ScanUserStates(std::string_view cursor,
                                           int limit) override {
    auto reader = readers_->Acquire();
    return reader->ScanUserStates(cursor, limit);
  }

  Result<SweepResult> SweepSessions(const SweepRequest& request) override {
    return RunOnWriter<SweepResult>([this, request] {
      return AfterErasure(rows_->SweepSessions(request));
    });
  }

  Result<SessionScanPage> ScanSessions(std::string_view cursor,
                                       int limit) override {
    auto reader = readers_->Acquire();
    return reader->ScanSessions(cursor, limit, clock_->Now());
  }

  Result<PreferencesScanPage> ScanPreferences(std::string_view cursor,
                                              int limit) override {
    auto reader = readers_->Acquire();
    return reader->ScanPreferences(cursor, limit);
  }

  Status Ping() override {
    auto reader = readers_->Acquire();
    return reader->Ping();
  }

  Result<StoreStats> Stats() override {
    Result<StoreStats> stats = [&] {
      auto reader = readers_->Acquire();
      return reader->Stats();
    }();
    if (stats.ok()) {
      stats->commits = writer_->commits();
      stats->committed_changes = writer_->committed_changes();
    }
    return stats;
  }

  // Test and operator hooks (see sqlite_store.h).
  Result<std::string> WriterPragma(std::string_view name) {
    for (const char c : name) {
      if (!(c >= 'a' && c <= 'z') && c != '_') {
        return Status::InvalidArgument("not a pragma name: " +
                                       std::string(name));
      }
    }
    const std::string sql = "PRAGMA " + std::string(name);
    return RunOnWriter<std::string>(
        [this, &sql] { return writer_db_.QueryText(sql.c_str()); },
        /*transactional=*/false);
  }

  // A consistent copy through a connection of its own: VACUUM INTO reads
  // one snapshot (WAL: the writer keeps committing meanwhile) and writes a
  // compact file without free pages, so no erased text travels along.
  Status Backup(const std::string& dest) {
    const std::string partial = dest + ".partial";
    std::error_code ec;
    std::filesystem::remove(partial, ec);  // a previous attempt's leftover
    {
      CHATSTORE_ASSIGN_OR_RETURN(
          Db source, Db::Open(path_, /*create=*/false, busy_timeout_));
      CHATSTORE_ASSIGN_OR_RETURN(Statement vacuum,
                                 source.Prepare("VACUUM INTO ?1"));
      vacuum.Bind(1, partial);
      Result<bool> done = vacuum.Step();
      if (!done.ok()) {
        std::filesystem::remove(partial, ec);
        return done.status();
      }
    }
    {
      // The copy must open and pass integrity_check before it replaces
      // anything: a backup that cannot be restored is worse than none.
      CHATSTORE_ASSIGN_OR_RETURN(
          Db copy, Db::Open(partial, /*create=*/false, busy_timeout_));
      CHATSTORE_ASSIGN_OR_RETURN(const std::string check,
                                 copy.QueryText("PRAGMA integrity_check"));
      if (check != "ok") {
        std::filesystem::remove(partial, ec);
        return Status::Corruption("sqlite: backup failed integrity_check: " +
                                  check);
      }
    }
    CHATSTORE_RETURN_IF_ERROR(SyncPath(partial));
    std::filesystem::rename(partial, dest, ec);
    if (ec) {
      return Status::Unavailable("cannot move the backup to " + dest + ": " +
                                 ec.message());
    }
    const std::filesystem::path dir = std::filesystem::path(dest).parent_path();
    return SyncPath(dir.empty() ? "." : dir.string());
  }

  Status Checkpoint() {
    return RunOnWriter<bool>(
               [this]() -> Result<bool> {
                 CHATSTORE_ASSIGN_OR_RETURN(
                     const std::int64_t busy,
                     writer_db_.QueryInt("PRAGMA wal_checkpoint(TRUNCATE)"));
                 if (busy != 0) {
                   return Status::Unavailable(
                       "sqlite: checkpoint could not finish: readers or "
                       "writers kept the WAL busy");
                 }
                 return true;
               },
               /*transactional=*/false)
        .status();
  }

 private:
  SqliteStore() = default;

  // On the writer thread: hands search-index purge work that the erasure
  // could not finish inline to the writer's background steps.
  template <typename T>
  Result<T> AfterErasure(Result<T> counts) {
    if (rows_->search_purge_owed()) writer_->RequestMaintenance();
    return counts;
  }

  // Runs `fn` on the writer thread (inside a group transaction unless told
  // otherwise) and waits for its answer, which comes after the commit.
  template <typename T, typename F>
  Result<T> RunOnWriter(F fn, bool transactional = true) {
    if (writer_->OnWriterThread()) {
      // Waiting here would wait for ourselves.
      return Status::Internal(
          "sqlite: blocking store call from an Apply callback");
    }
    Answer<T> answer;
    writer_->Enqueue(
        std::make_unique<CallTask<T, F>>(std::move(fn), transactional, answer));
    return answer.Wait();
  }

  // fsync of a file or directory, so a finished backup survives a crash.
  static Status SyncPath(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const std::string error = std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return Status::Unavailable("cannot sync " + path + ": " + error);
    }
    ::close(fd);
    return Status::Ok();
  }

  std::shared_ptr<Clock> clock_;
  std::string path_;
  std::chrono::milliseconds busy_timeout_{0};
  Db writer_db_;
  std::unique_ptr<RowWriter> rows_;
  std::unique_ptr<ReaderPool<RowReader>> readers_;
  std::unique_ptr<GroupCommitWriter> writer_;  // last: destroyed first
};

// Between background steps of the search-index purge (RowWriter): each
// step rewrites about 256 KB of index and holds the write lock for a few
// milliseconds, so the purge takes under a tenth of the writer's time and
// still gets through about 5 MB of index a second.
constexpr std::chrono::milliseconds kSearchPurgeInterval{50};

Status ConfigureWriter(Db& db, bool synchronous_full) {
  CHATSTORE_RETURN_IF_ERROR(ConfigureWal(db, synchronous_full));
  return db.Exec("PRAGMA foreign_keys = ON");
}

Result<std::shared_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteUri& uri, const StoreOptions& options) {
  const std::filesystem::path parent =
      std::filesystem::path(uri.path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Status::Unavailable("sqlite: cannot create directory " +
                                 parent.string() + ": " + ec.message());
    }
  }
  const auto busy_timeout =
      std::chrono::milliseconds(std::max(0, options.sqlite_busy_timeout_ms));
  const bool synchronous_full =
      uri.synchronous_full.value_or(options.sqlite_synchronous_full);

  std::shared_ptr<SqliteStore> store(new SqliteStore());
  store->clock_ = options.clock != nullptr ? options.clock : SystemClock();
  store->path_ = uri.path;
  store->busy_timeout_ = busy_timeout;
  CHATSTORE_ASSIGN_OR_RETURN(store->writer_db_,
                             Db::Open(uri.path, /*create=*/true, busy_timeout));
  CHATSTORE_RETURN_IF_ERROR(
      ConfigureWriter(store->writer_db_, synchronous_full));
  CHATSTORE_RETURN_IF_ERROR(MigrateTo(store->writer_db_, kSchemaVersion));
  CHATSTORE_ASSIGN_OR_RETURN(store->rows_,
                             RowWriter::Prepare(store->writer_db_));

  std::vector<std::unique_ptr<RowReader>> readers;
  const std::size_t reader_count =
      std::max<std::size_t>(1, options.sqlite_readers);
  for (std::size_t i = 0; i < reader_count; ++i) {
    CHATSTORE_ASSIGN_OR_RETURN(auto reader,
                               RowReader::Open(uri.path, busy_timeout));
    readers.push_back(std::move(reader));
  }
  store->readers_ = std::make_unique<ReaderPool<RowReader>>(std::move(readers));
  // A process killed mid-purge leaves a merge half done: finish it.
  store->rows_->ResumeSearchPurge();
  CHATSTORE_ASSIGN_OR_RETURN(
      store->writer_,
      GroupCommitWriter::Start(store->writer_db_, options.sqlite_max_group));
  store->writer_->SetMaintenance(
      [rows = store->rows_.get()] { return rows->ContinueSearchPurge(); },
      kSearchPurgeInterval);
  store->writer_->RequestMaintenance();
  return store;
}

SqliteStore* AsSqliteStore(Store& store) {
  return dynamic_cast<SqliteStore*>(&store);
}

}  // namespace
}  // namespace sqlite

Result<std::unique_ptr<ChangeNotifier>> OpenSqliteChangeNotifier(
    std::string_view rest) {
  CHATSTORE_ASSIGN_OR_RETURN(const sqlite::SqliteUri uri,
                             sqlite::ParseSqliteUri(rest));
  return sqlite::NewDataVersionNotifier(uri.path);
}

Result<std::shared_ptr<Store>> OpenSqliteStore(std::string_view rest,
                                               const StoreOptions& options) {
  CHATSTORE_ASSIGN_OR_RETURN(const sqlite::SqliteUri uri,
                             sqlite::ParseSqliteUri(rest));
  CHATSTORE_ASSIGN_OR_RETURN(std::shared_ptr<Store> store,
                             sqlite::SqliteStore::Open(uri, options));
  return store;
}

Result<std::string> ReadSqliteWriterPragma(Store& store,
                                           std::string_view name) {
  sqlite::SqliteStore* s = sqlite::AsSqliteStore(store);
  if (s == nullptr) {
    return Status::InvalidArgument("not a sqlite store: " +
                                   std::string(store.kind()));
  }
  return s->WriterPragma(name);
}

Status CheckpointSqliteStore(Store& store) {
  sqlite::SqliteStore* s = sqlite::AsSqliteStore(store);
  if (s == nullptr) {
    return Status::InvalidArgument("not a sqlite store: " +
                                   std::string(store.kind()));
  }
  return s->Checkpoint();
}

Status BackupSqliteStore(Store& store, const std::string& dest_path) {
  sqlite::SqliteStore* s = sqlite::AsSqliteStore(store);
  if (s == nullptr) {
    return Status::InvalidArgument("not a sqlite store: " +
                                   std::string(store.kind()));
  }
  return s->Backup(dest_path);
}

}  // namespace chatstore
