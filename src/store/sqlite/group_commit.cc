#include "store/sqlite/group_commit.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>

namespace chatstore::sqlite {
namespace {

// A task that throws (allocation failure, a bug in a mutation) must not take
// the writer thread, and with it every other caller, down.
Status RunGuarded(WriteTask& task) {
  try {
    return task.Run();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("sqlite writer: task threw: ") +
                            e.what());
  } catch (...) {
    return Status::Internal("sqlite writer: task threw");
  }
}

void FinishGuarded(WriteTask& task, Status status) {
  try {
    task.Finish(std::move(status));
  } catch (...) {
    // A caller's callback failed; nobody is left to tell, and the writer
    // must go on answering the others.
  }
}

}  // namespace

Result<std::unique_ptr<GroupCommitWriter>> GroupCommitWriter::Start(
    Db& db, std::size_t max_group) {
  // One savepoint name suffices: savepoints never nest here.
  CHATSTORE_ASSIGN_OR_RETURN(Statement savepoint, db.Prepare("SAVEPOINT task"));
  CHATSTORE_ASSIGN_OR_RETURN(Statement release, db.Prepare("RELEASE task"));
  CHATSTORE_ASSIGN_OR_RETURN(Statement rollback_to,
                             db.Prepare("ROLLBACK TO task"));
  return std::unique_ptr<GroupCommitWriter>(
      new GroupCommitWriter(db, max_group, std::move(savepoint),
                            std::move(release), std::move(rollback_to)));
}

GroupCommitWriter::GroupCommitWriter(Db& db, std::size_t max_group,
                                     Statement savepoint, Statement release,
                                     Statement rollback_to)
    : db_(db),
      max_group_(std::max<std::size_t>(max_group, 1)),
      savepoint_(std::move(savepoint)),
      release_(std::move(release)),
      rollback_to_(std::move(rollback_to)),
      thread_([this] { Loop(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void GroupCommitWriter::SetMaintenance(MaintenanceStep step,
                                       std::chrono::milliseconds interval) {
  std::lock_guard lock(mu_);
  maintenance_ = std::move(step);
  maintenance_interval_ = interval;
}

void GroupCommitWriter::RequestMaintenance() {
  {
    std::lock_guard lock(mu_);
    if (maintenance_due_ || !maintenance_) return;
    maintenance_due_ = true;
    next_maintenance_ =
        std::chrono::steady_clock::now() + maintenance_interval_;
  }
  wake_.notify_one();
}

void GroupCommitWriter::Enqueue(std::unique_ptr<WriteTask> task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
}

bool GroupCommitWriter::OnWriterThread() const {
  return std::this_thread::get_id() == thread_.get_id();
}

void GroupCommitWriter::Loop() {
  Group group;
  group.reserve(max_group_);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      const auto ready = [this] { return !queue_.empty() || stopping_; };
      if (maintenance_due_) {
        wake_.wait_until(lock, next_maintenance_, ready);
      } else {
        wake_.wait(lock, ready);
      }
      // Stop only once drained: every enqueued task gets its answer.
      // Maintenance is left to the next open.
      if (queue_.empty() && stopping_) return;
      if (maintenance_due_ && !stopping_ &&
          std::chrono::steady_clock::now() >= next_maintenance_) {
        maintenance_due_ = false;
        lock.unlock();
        if (RunMaintenanceStep()) RequestMaintenance();
        lock.lock();
      }
      if (queue_.empty()) continue;
      // No waiting for company: whatever queued up while the previous group
      // committed forms the next group, so a lone change pays no delay.
      if (!queue_.front()->transactional()) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        while (!queue_.empty() && group.size() < max_group_ &&
               queue_.front()->transactional()) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    if (!group.front()->transactional()) {
      RunAlone(*group.front());
    } else {
      std::size_t next = 0;
      while (next < group.size()) next = RunTransaction(group, next);
    }
    group.clear();  // destroys the answered tasks outside the lock
  }
}

bool GroupCommitWriter::RunMaintenanceStep() {
  auto tx = Transaction::BeginImmediate(db_);
  if (!tx.ok()) return true;  // another process writes: try next interval
  // maintenance_ was set before the first request and never changes.
  Result<bool> more = Status::Internal("sqlite writer: maintenance threw");
  try {
    more = maintenance_();
  } catch (...) {
  }
  if (!more.ok()) {
    // Nobody to tell; the next erasure asks again.
    tx->Rollback();
    return false;
  }
  if (!tx->Commit().ok()) {
    tx->Rollback();
    return true;
  }
  return *more;
}

void GroupCommitWriter::RunAlone(WriteTask& task) {
  Status s = RunGuarded(task);
  FinishGuarded(task, std::move(s));
}

Status GroupCommitWriter::RunInSavepoint(WriteTask& task) {
  CHATSTORE_RETURN_IF_ERROR(savepoint_.Run());
  Status s = RunGuarded(task);
  if (s.ok()) {
    s = release_.Run();
    if (s.ok()) return s;
  }
  // Undo this task's writes only; the group's other tasks stay. When SQLite
  // has already rolled back the whole transaction there is nothing to undo
  // (the caller sees autocommit and handles it).
  if (!db_.autocommit()) {
    (void)rollback_to_.Run();
    (void)release_.Run();
  }
  return s;
}

std::size_t GroupCommitWriter::RunTransaction(Group& group, std::size_t from) {
  const std::size_t end = group.size();
  auto tx = Transaction::BeginImmediate(db_);
  if (!tx.ok()) {
    for (std::size_t i = from; i < end; ++i)
      FinishGuarded(*group[i], tx.status());
    return end;
  }
  statuses_.assign(end, Status::Ok());
  for (std::size_t i = from; i < end; ++i) {
    statuses_[i] = RunInSavepoint(*group[i]);
    if (!statuses_[i].ok() && db_.autocommit()) {
      // SQLite rolled the whole transaction back (I/O error, full disk): the
      // tasks before this one lost their writes too. Tell them, and run the
      // rest in a new transaction.
      for (std::size_t j = from; j < i; ++j) {
        if (statuses_[j].ok()) {
          statuses_[j] = Status(statuses_[i].code(),
                                "sqlite: the group's transaction was rolled "
                                "back: " +
                                    statuses_[i].message());
        }
      }
      for (std::size_t j = from; j <= i; ++j) {
        FinishGuarded(*group[j], std::move(statuses_[j]));
      }
      return i + 1;
    }
  }
  if (Status c = tx->Commit(); !c.ok()) {
    tx->Rollback();  // nothing of the group was written
    for (std::size_t i = from; i < end; ++i) statuses_[i] = c;
  } else {
    std::int64_t ok = 0;
    for (std::size_t i = from; i < end; ++i) ok += statuses_[i].ok() ? 1 : 0;
    commits_.fetch_add(1, std::memory_order_relaxed);
    committed_changes_.fetch_add(ok, std::memory_order_relaxed);
  }
  // Durable now (or failed as a whole): answer in queue order.
  for (std::size_t i = from; i < end; ++i) {
    FinishGuarded(*group[i], std::move(statuses_[i]));
  }
  return end;
}

}  // namespace chatstore::sqlite
