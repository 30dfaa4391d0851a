// RAII around the SQLite C API: a connection (Db), a prepared statement
// (Statement), a write transaction (Transaction) and the one place where
// SQLite result codes become chatstore Status values (ErrorStatus).
//
// Internal to the sqlite backend: sqlite3.h never reaches a public header.
#ifndef CHATSTORE_STORE_SQLITE_SQLITE_DB_H_
#define CHATSTORE_STORE_SQLITE_SQLITE_DB_H_

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chatstore/status.h"

namespace chatstore::sqlite {

// Translates a SQLite result code into a Status. `context` says what was
// being done ("insert event"); the message adds SQLite's own text from `db`
// when given. Mapping: BUSY/LOCKED (after the busy timeout), I/O errors, a
// full disk or an unopenable file -> Unavailable (retryable, the storage is
// the problem); CORRUPT/NOTADB -> Corruption; PRIMARY KEY/UNIQUE constraint
// -> AlreadyExists; other constraints -> Conflict; anything else -> Internal.
// REQUIRES: rc is an error code (not SQLITE_OK/ROW/DONE).
Status ErrorStatus(int rc, sqlite3* db, std::string_view context);

// True for SQLITE_BUSY and SQLITE_LOCKED (with any extended code): another
// connection holds a lock we need; retrying later may succeed.
bool IsBusy(int rc);

// A prepared statement. Owns the sqlite3_stmt; finalizes it on destruction.
// Not thread-safe: used by the thread that holds its connection.
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds parameter `index` (1-based). Text is bound without a copy
  // (SQLITE_STATIC): REQUIRES the bytes stay alive until Reset(). A bind
  // error is remembered and returned by the next Step().
  void Bind(int index, std::string_view text);
  // Binds bytes as a BLOB (compared byte by byte, never as text), without a
  // copy like Bind(text).
  void BindBlob(int index, std::string_view bytes);
  void Bind(int index, std::int64_t value);
  void Bind(int index, std::optional<std::int64_t> value);
  void BindNull(int index);

  // Runs one step: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows (INSERT/UPDATE/DELETE, pragmas),
  // then resets the statement.
  Status Run();

  // Column accessors for the current row (0-based). Text views stay valid
  // until the next Step()/Reset().
  std::string_view Text(int col) const;
  std::string_view Blob(int col) const;
  std::int64_t Int(int col) const;
  bool IsNull(int col) const;
  std::optional<std::int64_t> OptionalInt(int col) const;

  // Ends the current execution so the statement holds no read snapshot
  // (an un-reset SELECT would pin the WAL), and forgets bind errors.
  void Reset();

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = SQLITE_OK;
};

// Resets a statement when leaving the scope, so early returns cannot leave
// a read transaction open.
class StatementReset {
 public:
  explicit StatementReset(Statement& stmt) : stmt_(stmt) {}
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;
  ~StatementReset() { stmt_.Reset(); }

 private:
  Statement& stmt_;
};

// One SQLite connection. Owns the sqlite3*; closes it on destruction.
// Opened in multi-thread mode (no SQLite mutex): REQUIRES one thread at a
// time per Db. Waits for locks held by other connections with a busy
// handler bounded by `busy_timeout`.
class Db {
 public:
  // Opens (creating when `create`) the database file at `path`.
  // Unavailable when the file cannot be opened.
  static Result<Db> Open(const std::string& path, bool create,
                         std::chrono::milliseconds busy_timeout);

  Db() = default;
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Prepares one statement, kept for the life of the connection.
  Result<Statement> Prepare(std::string_view sql);
  // Runs one or more statements without results (schema DDL).
  Status Exec(const char* sql);
  // Runs `sql` (which must not be inside a transaction when it takes a
  // lock) and retries while another connection holds the lock, for at
  // most busy_timeout in total. Unavailable when the time runs out.
  Status ExecRetryingBusy(const char* sql);
  // The first column of the first row of `sql` (pragmas, counts).
  // NotFound when there is no row.
  Result<std::int64_t> QueryInt(const char* sql);
  Result<std::string> QueryText(const char* sql);

  // Transaction control for Transaction: BEGIN IMMEDIATE, COMMIT and
  // ROLLBACK, prepared once per connection (parsing them on every group
  // commit would cost more than the rest of a small transaction's
  // bookkeeping), retried while busy like ExecRetryingBusy().
  enum class Control { kBeginImmediate, kCommit, kRollback };
  Status Run(Control control);

  // True when no transaction is open (SQLite rolled back a failed one, or
  // none was begun).
  bool autocommit() const;
  std::int64_t changes() const;
  std::int64_t total_changes() const;
  std::chrono::milliseconds busy_timeout() const { return busy_timeout_; }
  sqlite3* get() const { return db_; }

 private:
  static int BusyHandler(void* self, int count);

  sqlite3* db_ = nullptr;
  Statement control_[3];  // by Control, prepared on first use
  std::chrono::milliseconds busy_timeout_{0};
  // When the current wait for a lock began (the busy handler's count resets
  // to 0 for each new wait).
  std::chrono::steady_clock::time_point busy_since_;
};

// Puts the file in WAL mode (readers run beside the writer; the mode is
// stored in the file) and sets what every writing connection of chatstore
// uses: synchronous FULL (`synchronous_full`: each commit survives power
// loss) or NORMAL (a power cut may lose the latest commits, never corrupts;
// a process crash loses nothing either way), secure_delete (erased data does
// not linger in free pages), and a bound on the WAL's size after
// checkpoints. Unavailable when the file cannot use WAL (a network file
// system).
Status ConfigureWal(Db& db, bool synchronous_full);

// A write transaction taken with BEGIN IMMEDIATE, so the write lock is held
// from the start and no later statement can fail with SQLITE_BUSY_SNAPSHOT.
// Rolls back in its destructor unless committed; the destructor never
// throws.
class Transaction {
 public:
  // Begins, retrying while another connection (or process) writes, for at
  // most db.busy_timeout() in total. Unavailable when the time runs out.
  static Result<Transaction> BeginImmediate(Db& db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits, retrying SQLITE_BUSY within the same bound. On failure the
  // transaction stays open until Rollback() or destruction.
  Status Commit();
  // Ends the transaction without its writes (no-op once ended).
  void Rollback();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // null once committed or moved from
};

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_SQLITE_DB_H_
