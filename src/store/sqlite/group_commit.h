// The sqlite backend's single writer: one thread per store drains a queue of
// write tasks into one transaction at a time (group commit), so many
// concurrent changes share one COMMIT and one fsync, and answers each task
// only after its commit is durable.
#ifndef CHATSTORE_STORE_SQLITE_GROUP_COMMIT_H_
#define CHATSTORE_STORE_SQLITE_GROUP_COMMIT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chatstore/status.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {

// One unit of work for the writer thread: a change, an erasure, or a
// maintenance step. Run() and Finish() are called on the writer thread.
class WriteTask {
 public:
  virtual ~WriteTask() = default;

  // False for work that must not run inside a transaction (a WAL
  // checkpoint, reading per-connection pragmas): it runs alone, between
  // groups.
  virtual bool transactional() const { return true; }

  // Does the work. For a transactional task this runs inside the group's
  // BEGIN IMMEDIATE transaction, wrapped in its own SAVEPOINT: a non-OK
  // return rolls back this task's writes only and becomes its answer.
  virtual Status Run() = 0;

  // Answers the task, exactly once: with Run()'s status after the group
  // committed, or with the error that kept the group from committing.
  virtual void Finish(Status status) = 0;
};

// Owns the writer thread. Thread-safe: Enqueue() may be called from any
// thread, including from inside a Finish() callback.
class GroupCommitWriter {
 public:
  // Starts the writer thread on `db`, the writer connection: from now until
  // destruction only that thread uses it. `max_group` bounds the tasks one
  // transaction carries (0 counts as 1). REQUIRES `db` outlives the writer.
  static Result<std::unique_ptr<GroupCommitWriter>> Start(
      Db& db, std::size_t max_group);
  // Runs every task still queued (each is committed and answered), then
  // joins the thread. Pending maintenance is abandoned.
  ~GroupCommitWriter();

  // Background work the writer does by itself between groups, each step in
  // its own transaction, at most one step per `interval`, for as long as the
  // step returns true (more remains) after a RequestMaintenance(): the
  // search-index purge after erasures. A waiting group is delayed by one
  // step at most. REQUIRES called before the first RequestMaintenance().
  using MaintenanceStep = std::function<Result<bool>()>;
  void SetMaintenance(MaintenanceStep step, std::chrono::milliseconds interval);
  // Schedules maintenance steps (no-op without SetMaintenance()).
  // Thread-safe, callable from tasks.
  void RequestMaintenance();

  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  void Enqueue(std::unique_ptr<WriteTask> task);

  // True on the writer thread (a blocking call from there would deadlock).
  bool OnWriterThread() const;

  // Committed transactions and the tasks they carried that succeeded.
  std::int64_t commits() const { return commits_.load(); }
  std::int64_t committed_changes() const { return committed_changes_.load(); }

 private:
  using Group = std::vector<std::unique_ptr<WriteTask>>;

  GroupCommitWriter(Db& db, std::size_t max_group, Statement savepoint,
                    Statement release, Statement rollback_to);

  void Loop();
  void RunAlone(WriteTask& task);
  // One maintenance step in its own transaction; returns whether another
  // is wanted.
  bool RunMaintenanceStep();
  // Runs group[from..] in one transaction and answers them; returns the
  // index of the first task it did not answer (SQLite aborted the
  // transaction midway and the rest need a new one).
  std::size_t RunTransaction(Group& group, std::size_t from);
  Status RunInSavepoint(WriteTask& task);

  Db& db_;
  const std::size_t max_group_;
  Statement savepoint_;
  Statement release_;
  Statement rollback_to_;
  std::vector<Status> statuses_;  // per task of the current group

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<WriteTask>> queue_;  // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  // Set under mu_ before the first request, then only read.
  MaintenanceStep maintenance_;
  std::chrono::milliseconds maintenance_interval_{0};
  bool maintenance_due_ = false;                            // guarded by mu_
  std::chrono::steady_clock::time_point next_maintenance_;  // guarded by mu_

  std::atomic<std::int64_t> commits_{0};
  std::atomic<std::int64_t> committed_changes_{0};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_GROUP_COMMIT_H_
