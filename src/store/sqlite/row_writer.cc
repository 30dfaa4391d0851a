#include "store/sqlite/row_writer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_util.h"
#include "store/sqlite/rows.h"

namespace chatstore::sqlite {
namespace {

// Checks what the store relies on to keep the log gapless: the batch is for
// the mutation's session and its events continue the stored log. A batch
// that fails this is a bug in the core; writing it would corrupt the log.
Status CheckBatch(const WriteBatch& batch, const std::string& session_id,
                  std::int64_t stored_last_seq) {
  auto bug = [&](const std::string& what) {
    return Status::Internal("sqlite: refusing a batch for session " +
                            session_id + ": " + what);
  };
  if (batch.session.id != session_id) return bug("it names another session");
  if (batch.events.empty()) return bug("it has no event");
  std::int64_t expected = stored_last_seq;
  for (const Event& e : batch.events) {
    if (e.seq != ++expected) {
      return bug("event seq " + std::to_string(e.seq) + " where " +
                 std::to_string(expected) + " comes next");
    }
    if (e.session_id != session_id)
      return bug("an event names another session");
  }
  if (batch.session.last_seq != expected) {
    return bug("last_seq " + std::to_string(batch.session.last_seq) +
               " is not its last event's seq " + std::to_string(expected));
  }
  for (const MessageWrite& m : batch.messages) {
    if (m.row.session_id != session_id) {
      return bug("a message names another session");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RowWriter>> RowWriter::Prepare(Db& db,
                                                      int inline_purge_pages) {
  std::unique_ptr<RowWriter> w(new RowWriter());
  w->db_ = &db;
  w->inline_purge_pages_ = inline_purge_pages;
  struct Sql {
    Statement* stmt;
    const char* text;
  };
  const Sql statements[] = {
      {&w->get_session_, "SELECT " CHATSTORE_SQLITE_SESSION_COLUMNS
                         " FROM sessions WHERE id = ?1"},
      {&w->get_message_, "SELECT " CHATSTORE_SQLITE_MESSAGE_COLUMNS
                         " FROM messages WHERE id = ?2 AND session_id = ?1"},
      {&w->insert_session_,
       "INSERT INTO sessions (" CHATSTORE_SQLITE_SESSION_COLUMNS
       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
      {&w->update_session_,
       "UPDATE sessions SET user_id = ?2, title = ?3, status = ?4, "
       "metadata = ?5, state = ?6, persistent = ?7, message_count = ?8, "
       "last_seq = ?9, created_at = ?10, updated_at = ?11, expires_at = ?12 "
       "WHERE id = ?1"},
      {&w->insert_message_,
       "INSERT INTO messages (" CHATSTORE_SQLITE_MESSAGE_COLUMNS
       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
      // seq (?3) and created_at (?9) belong to the message.created event and
      // never change; leaving them out spares the (session_id, seq) index.
      // Binding an unused ?N is allowed, so BindMessageRow serves both.
      {&w->update_message_,
       "UPDATE messages SET role = ?4, content = ?5, status = ?6, "
       "metadata = ?7, tokens = ?8, updated_at = ?10 "
       "WHERE id = ?1 AND session_id = ?2"},
      {&w->insert_event_,
       "INSERT INTO events (session_id, seq, type, data, created_at) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&w->count_session_rows_,
       "SELECT (SELECT count(*) FROM messages WHERE session_id = ?1), "
       "(SELECT count(*) FROM messages WHERE session_id = ?1 "
       "AND status = 'complete'), "
       "(SELECT count(*) FROM events WHERE session_id = ?1)"},
      {&w->delete_session_, "DELETE FROM sessions WHERE id = ?1"},
      {&w->user_sessions_, "SELECT id FROM sessions WHERE user_id = ?1"},
      {&w->delete_preferences_, "DELETE FROM preferences WHERE user_id = ?1"},
      // One per SweepRule, each a range scan of its partial index
      // (docs/sqlite.md shows the plans).
      {&w->sweep_sessions_[0],
       "SELECT id FROM sessions WHERE expires_at IS NOT NULL "
       "AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2"},
      {&w->sweep_sessions_[1],
       "SELECT id FROM sessions WHERE expires_at IS NULL "
       "AND updated_at < ?1 ORDER BY updated_at LIMIT ?2"},
      {&w->sweep_sessions_[2],
       "SELECT id FROM sessions WHERE message_count = 0 "
       "AND created_at < ?1 ORDER BY created_at LIMIT ?2"},
      {&w->put_preferences_,
       "INSERT INTO preferences (user_id, persist_history) VALUES (?1, ?2) "
       "ON CONFLICT (user_id) DO UPDATE "
       "SET persist_history = excluded.persist_history"},
      {&w->get_user_state_, "SELECT state FROM user_state WHERE user_id = ?1"},
      {&w->put_user_state_,
       "INSERT INTO user_state (user_id, state) VALUES (?1, ?2) "
       "ON CONFLICT (user_id) DO UPDATE SET state = excluded.state"},
      {&w->delete_user_state_, "DELETE FROM user_state WHERE user_id = ?1"},
      {&w->merge_search_,
       "INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ?1)"},
      {&w->flush_search_[0], "SAVEPOINT search_flush"},
      {&w->flush_search_[1], "RELEASE search_flush"},
  };
  for (const Sql& s : statements) {
    CHATSTORE_ASSIGN_OR_RETURN(*s.stmt, db.Prepare(s.text));
  }
  return w;
}

Result<WriteBatch> RowWriter::Apply(const Mutation& mutation, Timestamp now) {
  const std::string& session_id = mutation.session_id();
  bool have_session = false;
  bool expired_row = false;
  {
    StatementReset reset(get_session_);
    get_session_.Bind(1, session_id);
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_session_.Step());
    if (row) {
      CHATSTORE_RETURN_IF_ERROR(ReadSessionRow(get_session_, 0, &session_));
      expired_row = IsExpired(session_.expires_at, now);
      have_session = !expired_row;
    }
  }
  bool have_message = false;
  if (have_session && !mutation.message_id().empty()) {
    StatementReset reset(get_message_);
    get_message_.Bind(1, session_id);
    get_message_.Bind(2, mutation.message_id());
    CHATSTORE_ASSIGN_OR_RETURN(have_message, get_message_.Step());
    if (have_message) {
      CHATSTORE_RETURN_IF_ERROR(ReadMessageRow(get_message_, 0, &message_));
    }
  }
  Result<WriteBatch> batch =
      mutation.Prepare(have_session ? &session_ : nullptr,
                       have_message ? &message_ : nullptr, now);
  if (!batch.ok()) return batch;
  CHATSTORE_RETURN_IF_ERROR(
      CheckBatch(*batch, session_id, have_session ? session_.last_seq : 0));
  if (batch->user_state_patch) {
    CHATSTORE_RETURN_IF_ERROR(MergeUserState(*batch));
  }
  CHATSTORE_RETURN_IF_ERROR(WriteBatchRows(*batch, expired_row));
  return batch;
}

Status RowWriter::WriteBatchRows(const WriteBatch& batch,
                                 bool replaces_expired) {
  const Session& s = batch.session;
  if (batch.creates_session) {
    if (replaces_expired) {
      // The id is free as far as readers can tell; the expired rows just
      // have not been swept yet.
      EraseCounts ignored;
      bool searchable = false;
      CHATSTORE_RETURN_IF_ERROR(EraseSessionRows(s.id, &ignored, &searchable));
    }
    BindSessionRow(insert_session_, 1, s);
    CHATSTORE_RETURN_IF_ERROR(insert_session_.Run());
  } else {
    BindSessionRow(update_session_, 1, s);
    CHATSTORE_RETURN_IF_ERROR(update_session_.Run());
    if (db_->changes() != 1) {
      return Status::NotFound("session " + s.id + " not found");
    }
  }
  for (const MessageWrite& m : batch.messages) {
    Statement& stmt = m.created ? insert_message_ : update_message_;
    BindMessageRow(stmt, 1, m.row);
    CHATSTORE_RETURN_IF_ERROR(stmt.Run());
    if (!m.created && db_->changes() != 1) {
      return Status::NotFound("message " + m.row.id + " not found");
    }
  }
  for (const Event& e : batch.events) {
    insert_event_.Bind(1, e.session_id);
    insert_event_.Bind(2, e.seq);
    insert_event_.Bind(3, e.type);
    insert_event_.Bind(4, e.data);
    insert_event_.Bind(5, ToMillis(e.created_at));
    CHATSTORE_RETURN_IF_ERROR(insert_event_.Run());
  }
  return Status::Ok();
}

Status RowWriter::MergeUserState(const WriteBatch& batch) {
  std::string current = "{}";
  {
    StatementReset reset(get_user_state_);
    get_user_state_.Bind(1, batch.session.user_id);
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_user_state_.Step());
    if (row) current.assign(get_user_state_.Text(0));
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      std::string merged,
      json::MergeStateText(current, *batch.user_state_patch,
                           "state (user: keys)", batch.user_state_max_bytes));
  return PutUserState(batch.session.user_id, merged);
}

Status RowWriter::PutUserState(std::string_view user_id,
                               std::string_view state) {
  if (state == "{}") {
    delete_user_state_.Bind(1, user_id);
    return delete_user_state_.Run();
  }
  put_user_state_.Bind(1, user_id);
  put_user_state_.Bind(2, state);
  return put_user_state_.Run();
}

Status RowWriter::EraseSessionRows(std::string_view session_id,
                                   EraseCounts* counts, bool* searchable) {
  {
    StatementReset reset(count_session_rows_);
    count_session_rows_.Bind(1, session_id);
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, count_session_rows_.Step());
    if (row) {
      counts->messages += count_session_rows_.Int(0);
      if (count_session_rows_.Int(1) > 0) *searchable = true;
      counts->events += count_session_rows_.Int(2);
    }
  }
  // ON DELETE CASCADE removes messages and events; the messages' delete
  // trigger removes their search entries.
  delete_session_.Bind(1, session_id);
  CHATSTORE_RETURN_IF_ERROR(delete_session_.Run());
  counts->sessions += db_->changes();
  return Status::Ok();
}

Result<bool> RowWriter::MergeSearchIndex(int pages) {
  // FTS5 reports work done through the change counter: a difference of two
  // or more means the merge wrote something (fts5 documentation, 'merge').
  const std::int64_t before = db_->total_changes();
  merge_search_.Bind(1, std::int64_t{pages});
  CHATSTORE_RETURN_IF_ERROR(merge_search_.Run());
  return db_->total_changes() - before >= 2;
}

Status RowWriter::PurgeErasedSearchTerms() {
  if (purge_running_) {
    // Restarting the running merge would throw away its progress; these
    // words get a merge of their own once it ends.
    purge_again_ = true;
    return Status::Ok();
  }
  // A full merge also completes any merge left half done.
  resume_merge_ = false;
  // The erasure's delete markers still sit in FTS5's in-memory buffer,
  // which 'merge' (unlike 'optimize') does not write out first, so the
  // merge would miss them. Opening a savepoint makes FTS5 flush it.
  CHATSTORE_RETURN_IF_ERROR(flush_search_[0].Run());
  CHATSTORE_RETURN_IF_ERROR(flush_search_[1].Run());
  CHATSTORE_ASSIGN_OR_RETURN(bool more, MergeSearchIndex(-kPurgeStepPages));
  for (int done = kPurgeStepPages; more && done < inline_purge_pages_;
       done += kPurgeStepPages) {
    CHATSTORE_ASSIGN_OR_RETURN(more, MergeSearchIndex(kPurgeStepPages));
  }
  purge_running_ = more;
  return Status::Ok();
}

Result<bool> RowWriter::ContinueSearchPurge() {
  if (purge_running_) {
    // Positive: new segments that appends add meanwhile stay out of it.
    CHATSTORE_ASSIGN_OR_RETURN(purge_running_,
                               MergeSearchIndex(kPurgeStepPages));
  } else if (purge_again_) {
    purge_again_ = false;
    CHATSTORE_ASSIGN_OR_RETURN(purge_running_,
                               MergeSearchIndex(-kPurgeStepPages));
  } else if (resume_merge_) {
    // Positive: continues a merge in progress, if any, and otherwise only
    // does the routine merging FTS5 would do anyway.
    CHATSTORE_ASSIGN_OR_RETURN(resume_merge_,
                               MergeSearchIndex(kPurgeStepPages));
  }
  return search_purge_owed();
}

Result<EraseCounts> RowWriter::DeleteSession(std::string_view session_id,
                                             Timestamp now) {
  {
    StatementReset reset(get_session_);
    get_session_.Bind(1, session_id);
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_session_.Step());
    const bool expired = row && !get_session_.IsNull(11) &&
                         IsExpired(FromMillis(get_session_.Int(11)), now);
    if (!row || expired) {
      // An expired session already reads as gone; the sweeper removes it.
      return Status::NotFound("session " + std::string(session_id) +
                              " not found");
    }
  }
  EraseCounts counts;
  bool searchable = false;
  CHATSTORE_RETURN_IF_ERROR(EraseSessionRows(session_id, &counts, &searchable));
  if (searchable) CHATSTORE_RETURN_IF_ERROR(PurgeErasedSearchTerms());
  return counts;
}

Result<EraseCounts> RowWriter::DeleteUser(std::string_view user_id) {
  std::vector<std::string> ids;
  {
    StatementReset reset(user_sessions_);
    user_sessions_.Bind(1, user_id);
    for (;;) {
      CHATSTORE_ASSIGN_OR_RETURN(const bool row, user_sessions_.Step());
      if (!row) break;
      ids.emplace_back(user_sessions_.Text(0));
    }
  }
  EraseCounts counts;
  bool searchable = false;
  for (const std::string& id : ids) {
    CHATSTORE_RETURN_IF_ERROR(EraseSessionRows(id, &counts, &searchable));
  }
  delete_preferences_.Bind(1, user_id);
  CHATSTORE_RETURN_IF_ERROR(delete_preferences_.Run());
  delete_user_state_.Bind(1, user_id);
  CHATSTORE_RETURN_IF_ERROR(delete_user_state_.Run());
  if (searchable) CHATSTORE_RETURN_IF_ERROR(PurgeErasedSearchTerms());
  return counts;
}

Result<SweepResult> RowWriter::SweepSessions(const SweepRequest& request) {
  SweepResult result;
  if (request.limit <= 0) return result;
  // Selected and erased in the same write transaction, so no write can
  // slip in between: the rule holds for every session erased.
  Statement& select = sweep_sessions_[static_cast<int>(request.rule)];
  {
    StatementReset reset(select);
    select.Bind(1, ToMillis(request.cutoff));
    select.Bind(2, std::int64_t{request.limit});
    for (;;) {
      CHATSTORE_ASSIGN_OR_RETURN(const bool row, select.Step());
      if (!row) break;
      result.session_ids.emplace_back(select.Text(0));
    }
  }
  bool searchable = false;
  for (const std::string& id : result.session_ids) {
    CHATSTORE_RETURN_IF_ERROR(
        EraseSessionRows(id, &result.counts, &searchable));
  }
  // Swept sessions' text is erased data too: purge it from the index.
  if (searchable) CHATSTORE_RETURN_IF_ERROR(PurgeErasedSearchTerms());
  return result;
}

Status RowWriter::PutPreferences(std::string_view user_id,
                                 const Preferences& prefs) {
  put_preferences_.Bind(1, user_id);
  put_preferences_.Bind(2, std::int64_t{prefs.persist_history ? 1 : 0});
  return put_preferences_.Run();
}

}  // namespace chatstore::sqlite
