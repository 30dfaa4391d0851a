// The writer connection's prepared statements and the row-level work the
// group commit runs: applying a mutation's batch, erasing sessions and
// users, storing preferences. Every method runs on the writer thread inside
// a write transaction and reads the rows it needs afresh: other processes
// may write the same file, so nothing is cached between calls.
#ifndef CHATSTORE_STORE_SQLITE_ROW_WRITER_H_
#define CHATSTORE_STORE_SQLITE_ROW_WRITER_H_

#include <memory>
#include <string>
#include <string_view>

#include "chatstore/store.h"
#include "chatstore/types.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {

// Erasing text also purges it from the search index. FTS5 keeps a deleted
// row's words (with their positions, enough to rebuild the text) in its
// older index segments, behind a delete marker, until those segments are
// merged; only a merge of every segment drops them. That costs a rewrite of
// the whole index (seconds for a few hundred thousand messages), too long
// to hold the writer for. So an erasure merges inline up to a budget, which
// covers small and medium indexes entirely, and leaves the rest to
// ContinueSearchPurge(), which the writer runs in small steps between
// group commits.
class RowWriter {
 public:
  // FTS5 merge work per step, in index pages (about 4 KB each).
  static constexpr int kPurgeStepPages = 64;
  // Merge work an erasure does before deferring the rest.
  static constexpr int kDefaultInlinePurgePages = 1024;

  // Prepares the statements on `db`. REQUIRES the schema is current and
  // `db` outlives the RowWriter.
  static Result<std::unique_ptr<RowWriter>> Prepare(
      Db& db, int inline_purge_pages = kDefaultInlinePurgePages);

  // Loads the session (expired reads as missing) and, when the mutation
  // names one, the message; runs mutation.Prepare(); writes the batch.
  // Returns Prepare()'s error, Internal for a batch that would break the
  // log (seqs not following last_seq), or the SQL error.
  Result<WriteBatch> Apply(const Mutation& mutation, Timestamp now);

  // Erases the session with its messages, events and search entries.
  // NotFound when missing or expired at `now`.
  Result<EraseCounts> DeleteSession(std::string_view session_id, Timestamp now);
  // Erases every session of the user (expired or not), the user's
  // preferences and `user:` state document.
  Result<EraseCounts> DeleteUser(std::string_view user_id);
  // Erases up to `request.limit` sessions the rule selects, oldest first
  // (Store::SweepSessions).
  Result<SweepResult> SweepSessions(const SweepRequest& request);

  Status PutPreferences(std::string_view user_id, const Preferences& prefs);
  // Replaces the user's `user:` state document; "{}" deletes it.
  Status PutUserState(std::string_view user_id, std::string_view state);

  // True while erased words may remain in the search index: call
  // ContinueSearchPurge() (in a write transaction) until it returns false.
  bool search_purge_owed() const {
    return purge_running_ || purge_again_ || resume_merge_;
  }
  // One step (about kPurgeStepPages pages) of purging erased words from the
  // search index. Returns whether more remains. Also finishes a merge that
  // a killed process left half done, so callers may run it after opening.
  Result<bool> ContinueSearchPurge();
  // Assume a merge may have been interrupted (before the first
  // ContinueSearchPurge() after opening).
  void ResumeSearchPurge() { resume_merge_ = true; }

 private:
  RowWriter() = default;

  Status WriteBatchRows(const WriteBatch& batch, bool replaces_expired);
  // Merges batch.user_state_patch into the user's document (the core's
  // merge; the writer is the only one, so read-modify-write is atomic).
  Status MergeUserState(const WriteBatch& batch);
  // Removes one session's rows (search entries go with them, by trigger)
  // and adds what went to `counts`; `*searchable` becomes true when
  // complete, hence indexed, messages went.
  Status EraseSessionRows(std::string_view session_id, EraseCounts* counts,
                          bool* searchable);
  // Starts purging after an erasure removed indexed messages: merges up
  // to the inline budget and owes the rest.
  Status PurgeErasedSearchTerms();
  // Runs FTS5 'merge' with `pages` (negative: first pull every segment into
  // one merge, as 'optimize' would; positive: continue that merge). Returns
  // whether it did any work, hence whether more may remain.
  Result<bool> MergeSearchIndex(int pages);

  Statement get_session_;
  Statement get_message_;
  Statement insert_session_;
  Statement update_session_;
  Statement insert_message_;
  Statement update_message_;
  Statement insert_event_;
  Statement count_session_rows_;
  Statement delete_session_;
  Statement user_sessions_;
  Statement delete_preferences_;
  Statement sweep_sessions_[3];  // indexed by SweepRule
  Statement put_preferences_;
  Statement get_user_state_;
  Statement put_user_state_;
  Statement delete_user_state_;
  Statement merge_search_;
  Statement flush_search_[2];  // SAVEPOINT, RELEASE
  Db* db_ = nullptr;
  int inline_purge_pages_ = kDefaultInlinePurgePages;
  // A merge that purges erased words is under way.
  bool purge_running_ = false;
  // Erasures happened after it started: their words need another merge.
  bool purge_again_ = false;
  // A merge may have been left half done by another (killed) writer.
  bool resume_merge_ = false;
  // Reused across calls so the hot path allocates little; they hold only
  // the rows of the call in progress.
  Session session_;
  Message message_;
};

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_ROW_WRITER_H_
