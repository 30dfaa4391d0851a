#include "cache/checkpointer.h"

#include <sqlite3.h>

#include <utility>

namespace chatstore::cache {

Result<std::unique_ptr<Checkpointer>> Checkpointer::Start(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<Checkpointer> c(new Checkpointer());
  CHATSTORE_ASSIGN_OR_RETURN(
      c->db_, sqlite::Db::Open(path, /*create=*/false, busy_timeout));
  c->thread_ = std::thread([raw = c.get()] { raw->Run(); });
  return c;
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::Watch(sqlite::Db& db) {
  sqlite3_wal_hook(db.get(), &Checkpointer::Committed, this);
}

int Checkpointer::Committed(void* self, sqlite3* db, const char* /*name*/,
                            int frames) {
  auto* c = static_cast<Checkpointer*>(self);
  if (frames >= kInlineFrames) {
    (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                    nullptr, nullptr);
    c->next_wake_ = kFrames;
    return SQLITE_OK;
  }
  const int next = c->next_wake_.load(std::memory_order_relaxed);
  if (frames + kFrames < next) {
    // The WAL restarted from the beginning since the last wake-up.
    c->next_wake_.store(kFrames, std::memory_order_relaxed);
    return SQLITE_OK;
  }
  // Every commit calls this: wake the thread (a system call) only once per
  // kFrames frames, and never while it is busy.
  if (frames >= next && !c->requested_.exchange(true)) {
    c->next_wake_.store(frames + kFrames, std::memory_order_relaxed);
    std::lock_guard lock(c->mu_);
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || requested_.load(); });
    if (stop_) return;
    lock.unlock();
    // PASSIVE copies what no reader still needs and never waits; what it
    // leaves is copied by the next round. Errors (another process is
    // checkpointing, a busy file) are harmless for the same reason.
    (void)sqlite3_wal_checkpoint_v2(
        db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    requested_ = false;
    lock.lock();
  }
}

}  // namespace chatstore::cache
