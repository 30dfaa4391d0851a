#include "store/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace chatstore::sqlite {
namespace {

using Clock = std::chrono::steady_clock;

std::string Describe(int rc, sqlite3* db, std::string_view context) {
  std::string m = "sqlite: ";
  m.append(context);
  m.append(": ");
  // sqlite3_errmsg describes the most recent failure on the connection,
  // which is this one; without a connection only the code's text exists.
  m.append(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  m.append(" (code ");
  m.append(std::to_string(rc));
  m.append(")");
  return m;
}

// Pauses between retries of a statement that met a lock outside the busy
// handler (SQLITE_BUSY_RECOVERY, journal mode changes): short at first, since
// a competing commit takes well under a millisecond.
void BackOff(int attempt) {
  const auto pause =
      std::chrono::microseconds(std::min(2000, 50 << std::min(attempt, 6)));
  std::this_thread::sleep_for(pause);
}

}  // namespace

bool IsBusy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

Status ErrorStatus(int rc, sqlite3* db, std::string_view context) {
  std::string m = Describe(rc, db, context);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(m) +
                                 "; the database stayed locked "
                                 "past the busy timeout");
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return Status::Unavailable(std::move(m));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return Status::Corruption(std::move(m));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY ||
          rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_ROWID) {
        return Status::AlreadyExists(std::move(m));
      }
      return Status::Conflict(std::move(m));
    default:
      return Status::Internal(std::move(m));
  }
}

// ---- Statement --------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(std::exchange(other.bind_rc_, SQLITE_OK)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = std::exchange(other.bind_rc_, SQLITE_OK);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::Bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(),
                                     SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindBlob(int index, std::string_view bytes) {
  // A null pointer would bind NULL: an empty string is a zero-length blob.
  const int rc = bytes.empty()
                     ? sqlite3_bind_zeroblob(stmt_, index, 0)
                     : sqlite3_bind_blob64(stmt_, index, bytes.data(),
                                           bytes.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::Bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::Bind(int index, std::optional<std::int64_t> value) {
  if (value) {
    Bind(index, *value);
  } else {
    BindNull(index);
  }
}

void Statement::BindNull(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return ErrorStatus(bind_rc_, nullptr, "bind parameter");
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorStatus(rc, sqlite3_db_handle(stmt_), sqlite3_sql(stmt_));
}

Status Statement::Run() {
  StatementReset reset(*this);
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return Status::Ok();
  }
}

std::string_view Statement::Text(int col) const {
  const auto* p =
      reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::string_view Statement::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  if (p == nullptr) return {};
  return {static_cast<const char*>(p),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::int64_t Statement::Int(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

bool Statement::IsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::optional<std::int64_t> Statement::OptionalInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

void Statement::Reset() {
  // sqlite3_reset repeats the last step's error code; it was reported then.
  sqlite3_reset(stmt_);
  bind_rc_ = SQLITE_OK;
}

// ---- Db ---------------------------------------------------------------------

Result<Db> Db::Open(const std::string& path, bool create,
                    std::chrono::milliseconds busy_timeout) {
  // NOMUTEX: each connection is used by one thread at a time, so SQLite's
  // per-connection mutex would only cost time. EXRESCODE: constraint kinds
  // (PRIMARY KEY vs FOREIGN KEY) decide the Status code.
  int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (create) flags |= SQLITE_OPEN_CREATE;
  Db db;
  db.busy_timeout_ = busy_timeout;
  const int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    return ErrorStatus(rc, db.db_, "open " + path);
  }
  sqlite3_busy_handler(db.db_, &Db::BusyHandler, &db);
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      control_{std::move(other.control_[0]), std::move(other.control_[1]),
               std::move(other.control_[2])},
      busy_timeout_(other.busy_timeout_) {
  // The busy handler's argument is the Db object: follow the move.
  if (db_ != nullptr) sqlite3_busy_handler(db_, &Db::BusyHandler, this);
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    for (Statement& c : control_) c = Statement();
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    for (int i = 0; i < 3; ++i) control_[i] = std::move(other.control_[i]);
    busy_timeout_ = other.busy_timeout_;
    if (db_ != nullptr) sqlite3_busy_handler(db_, &Db::BusyHandler, this);
  }
  return *this;
}

Db::~Db() {
  // close_v2 defers the close until every statement is finalized, so the
  // order in which owners destroy statements and connections cannot leak.
  sqlite3_close_v2(db_);
}

int Db::BusyHandler(void* self, int count) {
  // SQLite's own busy_timeout sleeps 1, 2, 5, 10... ms between attempts; a
  // competing group commit holds the lock for well under a millisecond, so
  // poll faster to keep several processes' writers flowing.
  auto* db = static_cast<Db*>(self);
  const auto now = Clock::now();
  if (count == 0) db->busy_since_ = now;
  if (now - db->busy_since_ >= db->busy_timeout_) return 0;  // give up
  BackOff(count);
  return 1;
}

Result<Statement> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return ErrorStatus(rc, db_, "prepare " + std::string(sql));
  }
  return Statement(stmt);
}

Status Db::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return ErrorStatus(rc, db_, sql);
  return Status::Ok();
}

Status Db::ExecRetryingBusy(const char* sql) {
  // The busy handler already waits inside most calls; this loop covers the
  // cases where SQLite reports BUSY without calling it (WAL recovery by
  // another connection, a journal-mode change, a deadlock it refuses to
  // wait on), under the same overall bound.
  const auto deadline = Clock::now() + busy_timeout_;
  for (int attempt = 0;; ++attempt) {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return Status::Ok();
    if (!IsBusy(rc) || Clock::now() >= deadline) {
      return ErrorStatus(rc, db_, sql);
    }
    BackOff(attempt);
  }
}

Status Db::Run(Control control) {
  static constexpr const char* kSql[] = {"BEGIN IMMEDIATE", "COMMIT",
                                         "ROLLBACK"};
  const int i = static_cast<int>(control);
  Statement& stmt = control_[i];
  if (stmt.get() == nullptr) {
    CHATSTORE_ASSIGN_OR_RETURN(stmt, Prepare(kSql[i]));
  }
  const auto deadline = Clock::now() + busy_timeout_;
  for (int attempt = 0;; ++attempt) {
    const int rc = sqlite3_step(stmt.get());
    sqlite3_reset(stmt.get());
    if (rc == SQLITE_DONE) return Status::Ok();
    if (!IsBusy(rc) || Clock::now() >= deadline) {
      return ErrorStatus(rc, db_, kSql[i]);
    }
    BackOff(attempt);
  }
}

Result<std::int64_t> Db::QueryInt(const char* sql) {
  CHATSTORE_ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return Status::NotFound(std::string("no row from ") + sql);
  return stmt.Int(0);
}

Result<std::string> Db::QueryText(const char* sql) {
  CHATSTORE_ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return Status::NotFound(std::string("no row from ") + sql);
  return std::string(stmt.Text(0));
}

bool Db::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

std::int64_t Db::changes() const { return sqlite3_changes64(db_); }

std::int64_t Db::total_changes() const { return sqlite3_total_changes64(db_); }

Status ConfigureWal(Db& db, bool synchronous_full) {
  // Switching to WAL needs a moment's exclusive lock, which several
  // processes opening a new file at once contend for.
  CHATSTORE_RETURN_IF_ERROR(db.ExecRetryingBusy("PRAGMA journal_mode = WAL"));
  CHATSTORE_ASSIGN_OR_RETURN(const std::string mode,
                             db.QueryText("PRAGMA journal_mode"));
  if (mode != "wal") {
    return Status::Unavailable(
        "sqlite: cannot use WAL mode on this file (journal_mode is '" + mode +
        "'); is it on a network file system?");
  }
  CHATSTORE_RETURN_IF_ERROR(db.Exec(synchronous_full
                                        ? "PRAGMA synchronous = FULL"
                                        : "PRAGMA synchronous = NORMAL"));
  CHATSTORE_RETURN_IF_ERROR(db.Exec("PRAGMA secure_delete = ON"));
  // A burst can grow the WAL; shrink it back after checkpoints.
  return db.Exec("PRAGMA journal_size_limit = 67108864");
}

// ---- Transaction ------------------------------------------------------------

Result<Transaction> Transaction::BeginImmediate(Db& db) {
  CHATSTORE_RETURN_IF_ERROR(db.Run(Db::Control::kBeginImmediate));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() { Rollback(); }

void Transaction::Rollback() {
  // SQLite may already have rolled back (I/O error, full disk); a second
  // ROLLBACK would only fail. Errors here are unreportable and harmless:
  // the transaction ends either way.
  if (db_ != nullptr && !db_->autocommit()) {
    (void)db_->Run(Db::Control::kRollback);
  }
  db_ = nullptr;
}

Status Transaction::Commit() {
  // In WAL mode COMMIT can meet SQLITE_BUSY only in rare cases (a reader
  // running WAL recovery); the transaction stays open and may be retried.
  Status s = db_->Run(Db::Control::kCommit);
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace chatstore::sqlite
