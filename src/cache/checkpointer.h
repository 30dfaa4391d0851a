// Copies the index's WAL back into the index file on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the commit that crosses the
// threshold, so one Set in a few hundred would wait for the checkpoint's
// fsyncs (milliseconds: the whole p99 of a Set). The cache's connections turn
// it off and report their commits here instead; this thread runs PASSIVE
// checkpoints, which never block readers or writers.
//
// A PASSIVE checkpoint copies the frames that exist when it starts; under a
// steady stream of Sets new frames keep arriving, the WAL is never wholly
// copied, and SQLite can only restart it from the beginning once it is. So
// the committing connection checkpoints inline once the WAL reaches
// kInlineFrames: by then the thread has copied nearly all of it, the inline
// round is short, and the WAL's size stays bounded.
#ifndef CHATSTORE_CACHE_CHECKPOINTER_H_
#define CHATSTORE_CACHE_CHECKPOINTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "chatstore/status.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::cache {

class Checkpointer {
 public:
  // WAL frames after which the thread checkpoints (SQLite's own default
  // for its automatic checkpoint), and again after each kFrames more.
  static constexpr int kFrames = 1000;
  // WAL frames at which a commit checkpoints inline (about 16 MiB).
  static constexpr int kInlineFrames = 4 * kFrames;

  // Opens its own connection to the index at `path` and starts the thread.
  static Result<std::unique_ptr<Checkpointer>> Start(
      const std::string& path, std::chrono::milliseconds busy_timeout);
  // Stops and joins the thread.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Hands `db`'s commits to this checkpointer (replacing SQLite's automatic
  // checkpoint on that connection). REQUIRES this outlives `db`'s use.
  void Watch(sqlite::Db& db);

 private:
  Checkpointer() = default;
  // sqlite3_wal_hook callback: a commit left `frames` frames in the WAL.
  static int Committed(void* self, sqlite3* db, const char* name, int frames);
  void Run();

  sqlite::Db db_;
  // The WAL size (frames) at which a commit wakes the thread next.
  std::atomic<int> next_wake_{kFrames};
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace chatstore::cache

#endif  // CHATSTORE_CACHE_CHECKPOINTER_H_
