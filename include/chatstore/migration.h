// Copying a whole store to another backend (`chatstore migrate`), and
// checking a copy against its source (`--verify`). Every session keeps its
// id, seqs, timestamps and message ids, so clients' Last-Event-ID values
// and links stay valid after the move.
#ifndef CHATSTORE_MIGRATION_H_
#define CHATSTORE_MIGRATION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chatstore/status.h"
#include "chatstore/store.h"

namespace chatstore {

struct MigrationProgress {
  std::int64_t sessions_seen = 0;     // scanned at the source so far
  std::int64_t sessions_total = 0;    // the source's Stats() at the start
  std::int64_t sessions_copied = 0;   // written to the destination
  std::int64_t sessions_skipped = 0;  // already complete at the destination
  std::int64_t messages_copied = 0;
  std::int64_t events_copied = 0;
  std::int64_t preferences_copied = 0;
  std::int64_t user_states_copied = 0;  // `user:` state documents
};

struct MigrationOptions {
  // Sessions per scan page, and messages or events per read.
  int page = 500;
  // Stop (successfully) after copying this many sessions; 0: no limit. Lets
  // an operator move a large store in slices; the next run continues.
  std::int64_t max_sessions = 0;
  // Called after each session (copied or skipped) and once at the end.
  std::function<void(const MigrationProgress&)> on_progress;
};

// Copies every live session (with its messages and events), every user's
// preferences and every user's `user:` state document from `from` to `to`.
// Resumable: a session already at the destination with the same last_seq is
// skipped, so running it again after an interruption copies only what is
// missing. Each session is written atomically (Store::ImportSession), so an
// interruption never leaves a half-copied session; a session that changed at
// the source since it was copied (its last_seq differs) is deleted at the
// destination and copied again. Sessions should not be written to at the
// destination while it runs. A session written at the source during its copy is
// re-read until it holds still. Stops at the first error and returns it (what
// was copied stays; run again to continue).
Result<MigrationProgress> MigrateStore(Store& from, Store& to,
                                       const MigrationOptions& options);

struct VerifyReport {
  std::int64_t sessions_checked = 0;
  std::int64_t preferences_checked = 0;
  std::int64_t user_states_checked = 0;
  // Every difference found, one line each ("session <id>: ..."), at most
  // kMaxListed; `differences` counts them all.
  std::vector<std::string> listed;
  std::int64_t differences = 0;
  static constexpr std::size_t kMaxListed = 100;
};

// Compares every live session of `from` with `to`: its message and event
// counts, and a BLAKE2b checksum of its row, messages and events as the
// export renders them; every user's preferences and `user:` state. Reads each
// session a page at a time (memory does not grow with a session's size). An
// error reading either store is returned as the error, not as a difference.
Result<VerifyReport> VerifyMigration(Store& from, Store& to,
                                     const MigrationOptions& options);

}  // namespace chatstore

#endif  // CHATSTORE_MIGRATION_H_
