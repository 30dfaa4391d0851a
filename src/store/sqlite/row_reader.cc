#include "store/sqlite/row_reader.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/sqlite/rows.h"

namespace chatstore::sqlite {
namespace {

// The live-session condition, on parameters ?1 (session id) and ?2 (now).
#define CHATSTORE_SQLITE_SESSION_LIVE                 \
  "EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND " \
  "(expires_at IS NULL OR expires_at > ?2))"

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

Status BadLimit(int limit) {
  return Status::InvalidArgument("limit must be positive, got " +
                                 std::to_string(limit));
}

// Reading a page of `limit` rows asks for one more: its presence says
// whether another page follows, without a second query.
std::int64_t PageProbe(int limit) { return std::int64_t{limit} + 1; }

// A reasonable first allocation for a result of up to `limit` rows: large
// limits are ceilings, not expectations.
std::size_t InitialCapacity(int limit) {
  return static_cast<std::size_t>(std::min(limit, 64));
}

}  // namespace

Result<std::string> FtsMatchExpression(std::string_view words) {
  std::string match;
  std::size_t i = 0;
  while (i < words.size()) {
    while (i < words.size() && IsSpace(words[i])) ++i;
    if (i == words.size()) break;
    if (!match.empty()) match.push_back(' ');  // FTS5: juxtaposition is AND
    match.push_back('"');
    for (; i < words.size() && !IsSpace(words[i]); ++i) {
      if (words[i] == '"') match.push_back('"');
      match.push_back(words[i]);
    }
    match.push_back('"');
  }
  if (match.empty()) {
    return Status::InvalidArgument("search query has no words");
  }
  return match;
}

Result<std::unique_ptr<RowReader>> RowReader::Open(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<RowReader> r(new RowReader());
  CHATSTORE_ASSIGN_OR_RETURN(r->db_,
                             Db::Open(path, /*create=*/false, busy_timeout));
  // A reader never writes: make a bug that tries fail loudly instead of
  // taking the write lock from the writer thread.
  CHATSTORE_RETURN_IF_ERROR(r->db_.Exec("PRAGMA query_only = ON"));

  struct Sql {
    Statement* stmt;
    std::string text;
  };
  std::vector<Sql> statements = {
      {&r->get_session_, "SELECT " CHATSTORE_SQLITE_SESSION_COLUMNS
                         " FROM sessions WHERE id = ?1 AND "
                         "(expires_at IS NULL OR expires_at > ?2)"},
      {&r->get_message_, "SELECT " CHATSTORE_SQLITE_MESSAGE_COLUMNS
                         " FROM messages WHERE id = ?3 AND session_id = ?1 "
                         "AND " CHATSTORE_SQLITE_SESSION_LIVE},
      {&r->session_live_, "SELECT " CHATSTORE_SQLITE_SESSION_LIVE},
      {&r->read_events_,
       "SELECT seq, type, data, created_at FROM events "
       "WHERE session_id = ?1 AND seq > ?3 AND " CHATSTORE_SQLITE_SESSION_LIVE
       " ORDER BY seq LIMIT ?4"},
      {&r->read_messages_,
       "SELECT " CHATSTORE_SQLITE_MESSAGE_COLUMNS
       " FROM messages WHERE session_id = ?1 AND seq > ?3 "
       "AND " CHATSTORE_SQLITE_SESSION_LIVE " ORDER BY seq LIMIT ?4"},
      // Served backwards from the UNIQUE (session_id, seq) index.
      {&r->read_messages_before_,
       "SELECT " CHATSTORE_SQLITE_MESSAGE_COLUMNS
       " FROM messages WHERE session_id = ?1 AND seq < ?3 "
       "AND " CHATSTORE_SQLITE_SESSION_LIVE " ORDER BY seq DESC LIMIT ?4"},
      {&r->get_preferences_,
       "SELECT persist_history FROM preferences WHERE user_id = ?1"},
      // Whole-store scans page by the primary keys.
      {&r->scan_sessions_,
       "SELECT " CHATSTORE_SQLITE_SESSION_COLUMNS
       " FROM sessions WHERE id > ?1 AND "
       "(expires_at IS NULL OR expires_at > ?2) ORDER BY id LIMIT ?3"},
      {&r->scan_preferences_,
       "SELECT user_id, persist_history FROM preferences WHERE user_id > ?1 "
       "ORDER BY user_id LIMIT ?2"},
      {&r->get_user_state_, "SELECT state FROM user_state WHERE user_id = ?1"},
      {&r->scan_user_states_,
       "SELECT user_id, state FROM user_state WHERE user_id > ?1 "
       "ORDER BY user_id LIMIT ?2"},
      {&r->ping_, "SELECT 1"},
      {&r->stats_,
       "SELECT (SELECT count(*) FROM sessions), "
       "(SELECT count(*) FROM messages), (SELECT count(*) FROM events), "
       "(SELECT page_count * page_size "
       "FROM pragma_page_count(), pragma_page_size())"},
  };
  // Keyset paging: (updated_at, id) < cursor, as a row value so the index
  // (user_id, updated_at DESC, id DESC, status, expires_at) serves it as a
  // range; the other conditions are checked on the index entries, and only
  // the rows returned are read from the table.
  for (int with_status = 0; with_status < 2; ++with_status) {
    for (int with_cursor = 0; with_cursor < 2; ++with_cursor) {
      std::string sql = "SELECT " CHATSTORE_SQLITE_SESSION_COLUMNS
                        " FROM sessions WHERE user_id = ?1";
      if (with_status) sql += " AND status = ?2";
      if (with_cursor) sql += " AND (updated_at, id) < (?3, ?4)";
      sql +=
          " AND (expires_at IS NULL OR expires_at > ?5)"
          " ORDER BY updated_at DESC, id DESC LIMIT ?6";
      statements.push_back(
          {&r->list_sessions_[with_status][with_cursor], std::move(sql)});
    }
  }
  // Matches come from the index over every user's messages; the join keeps
  // this user's live sessions. Newest first by (created_at, id), keyset-
  // paged like the session list.
  for (int with_cursor = 0; with_cursor < 2; ++with_cursor) {
    std::string sql =
        "SELECT m.session_id, m.id, m.seq, "
        "snippet(messages_fts, 0, '[', ']', '…', 12), m.created_at "
        "FROM messages_fts "
        "JOIN messages m ON m.mid = messages_fts.rowid "
        "JOIN sessions s ON s.id = m.session_id "
        "WHERE messages_fts MATCH ?1 AND s.user_id = ?2 "
        "AND (s.expires_at IS NULL OR s.expires_at > ?3)";
    if (with_cursor) sql += " AND (m.created_at, m.id) < (?4, ?5)";
    sql += " ORDER BY m.created_at DESC, m.id DESC LIMIT ?6";
    statements.push_back({&r->search_[with_cursor], std::move(sql)});
  }
  for (const Sql& s : statements) {
    CHATSTORE_ASSIGN_OR_RETURN(*s.stmt, r->db_.Prepare(s.text));
  }
  return r;
}

Status RowReader::CheckSessionLive(std::string_view session_id, Timestamp now) {
  StatementReset reset(session_live_);
  session_live_.Bind(1, session_id);
  session_live_.Bind(2, ToMillis(now));
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, session_live_.Step());
  if (row && session_live_.Int(0) != 0) return Status::Ok();
  return Status::NotFound("session " + std::string(session_id) + " not found");
}

Result<Session> RowReader::GetSession(std::string_view session_id,
                                      Timestamp now) {
  StatementReset reset(get_session_);
  get_session_.Bind(1, session_id);
  get_session_.Bind(2, ToMillis(now));
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_session_.Step());
  if (!row) {
    return Status::NotFound("session " + std::string(session_id) +
                            " not found");
  }
  Session s;
  CHATSTORE_RETURN_IF_ERROR(ReadSessionRow(get_session_, 0, &s));
  return s;
}

Result<Message> RowReader::GetMessage(std::string_view session_id,
                                      std::string_view message_id,
                                      Timestamp now) {
  {
    StatementReset reset(get_message_);
    get_message_.Bind(1, session_id);
    get_message_.Bind(2, ToMillis(now));
    get_message_.Bind(3, message_id);
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_message_.Step());
    if (row) {
      Message m;
      CHATSTORE_RETURN_IF_ERROR(ReadMessageRow(get_message_, 0, &m));
      return m;
    }
  }
  // Say which one is missing: the caller's error names it.
  CHATSTORE_RETURN_IF_ERROR(CheckSessionLive(session_id, now));
  return Status::NotFound("message " + std::string(message_id) + " not found");
}

Result<SessionPage> RowReader::ListSessions(
    std::string_view user_id, std::optional<SessionStatus> status,
    const std::optional<SessionCursor>& after, int limit, Timestamp now) {
  if (limit <= 0) return BadLimit(limit);
  Statement& stmt = list_sessions_[status ? 1 : 0][after ? 1 : 0];
  StatementReset reset(stmt);
  stmt.Bind(1, user_id);
  if (status) stmt.Bind(2, ToString(*status));
  if (after) {
    stmt.Bind(3, ToMillis(after->updated_at));
    stmt.Bind(4, after->id);
  }
  stmt.Bind(5, ToMillis(now));
  stmt.Bind(6, PageProbe(limit));
  SessionPage page;
  page.sessions.reserve(InitialCapacity(limit));
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    if (page.sessions.size() == static_cast<std::size_t>(limit)) {
      const Session& last = page.sessions.back();
      page.next = SessionCursor{last.updated_at, last.id};
      break;
    }
    CHATSTORE_RETURN_IF_ERROR(
        ReadSessionRow(stmt, 0, &page.sessions.emplace_back()));
  }
  return page;
}

Result<std::vector<Event>> RowReader::ReadEvents(std::string_view session_id,
                                                 std::int64_t after_seq,
                                                 int limit, Timestamp now) {
  if (limit <= 0) return BadLimit(limit);
  std::vector<Event> events;
  {
    StatementReset reset(read_events_);
    read_events_.Bind(1, session_id);
    read_events_.Bind(2, ToMillis(now));
    read_events_.Bind(3, after_seq);
    read_events_.Bind(4, std::int64_t{limit});
    events.reserve(InitialCapacity(limit));
    for (;;) {
      CHATSTORE_ASSIGN_OR_RETURN(const bool row, read_events_.Step());
      if (!row) break;
      Event& e = events.emplace_back();
      e.session_id.assign(session_id);
      e.seq = read_events_.Int(0);
      e.type.assign(read_events_.Text(1));
      e.data.assign(read_events_.Text(2));
      e.created_at = FromMillis(read_events_.Int(3));
    }
  }
  // No rows: either nothing after `after_seq`, or no such session.
  if (events.empty())
    CHATSTORE_RETURN_IF_ERROR(CheckSessionLive(session_id, now));
  return events;
}

Result<std::vector<Message>> RowReader::ReadMessages(
    std::string_view session_id, std::int64_t after_seq, int limit,
    Timestamp now) {
  return RunMessageRead(read_messages_, session_id, after_seq, limit, now);
}

Result<std::vector<Message>> RowReader::ReadMessagesBefore(
    std::string_view session_id, std::int64_t before_seq, int limit,
    Timestamp now) {
  return RunMessageRead(read_messages_before_, session_id, before_seq, limit,
                        now);
}

Result<std::vector<Message>> RowReader::RunMessageRead(
    Statement& stmt, std::string_view session_id, std::int64_t seq, int limit,
    Timestamp now) {
  if (limit <= 0) return BadLimit(limit);
  std::vector<Message> messages;
  {
    StatementReset reset(stmt);
    stmt.Bind(1, session_id);
    stmt.Bind(2, ToMillis(now));
    stmt.Bind(3, seq);
    stmt.Bind(4, std::int64_t{limit});
    messages.reserve(InitialCapacity(limit));
    for (;;) {
      CHATSTORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) break;
      CHATSTORE_RETURN_IF_ERROR(
          ReadMessageRow(stmt, 0, &messages.emplace_back()));
    }
  }
  if (messages.empty()) {
    CHATSTORE_RETURN_IF_ERROR(CheckSessionLive(session_id, now));
  }
  return messages;
}

Result<SearchPage> RowReader::Search(std::string_view user_id,
                                     std::string_view match,
                                     const std::optional<SearchCursor>& after,
                                     int limit, Timestamp now) {
  if (limit <= 0) return BadLimit(limit);
  Statement& stmt = search_[after ? 1 : 0];
  StatementReset reset(stmt);
  stmt.Bind(1, match);
  stmt.Bind(2, user_id);
  stmt.Bind(3, ToMillis(now));
  if (after) {
    stmt.Bind(4, ToMillis(after->created_at));
    stmt.Bind(5, after->message_id);
  }
  stmt.Bind(6, PageProbe(limit));
  SearchPage page;
  page.hits.reserve(InitialCapacity(limit));
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    if (page.hits.size() == static_cast<std::size_t>(limit)) {
      const SearchHit& last = page.hits.back();
      page.next = SearchCursor{last.created_at, last.message_id};
      break;
    }
    SearchHit& hit = page.hits.emplace_back();
    hit.session_id.assign(stmt.Text(0));
    hit.message_id.assign(stmt.Text(1));
    hit.seq = stmt.Int(2);
    hit.snippet.assign(stmt.Text(3));
    hit.created_at = FromMillis(stmt.Int(4));
  }
  return page;
}

Result<Preferences> RowReader::GetPreferences(std::string_view user_id) {
  StatementReset reset(get_preferences_);
  get_preferences_.Bind(1, user_id);
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_preferences_.Step());
  if (!row) {
    return Status::NotFound("no preferences stored for user " +
                            std::string(user_id));
  }
  Preferences p;
  p.persist_history = get_preferences_.Int(0) != 0;
  return p;
}

Result<SessionScanPage> RowReader::ScanSessions(std::string_view after_id,
                                                int limit, Timestamp now) {
  if (limit <= 0) return BadLimit(limit);
  StatementReset reset(scan_sessions_);
  scan_sessions_.Bind(1, after_id);
  scan_sessions_.Bind(2, ToMillis(now));
  scan_sessions_.Bind(3, std::int64_t{limit});
  SessionScanPage page;
  page.sessions.reserve(InitialCapacity(limit));
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, scan_sessions_.Step());
    if (!row) break;
    CHATSTORE_RETURN_IF_ERROR(
        ReadSessionRow(scan_sessions_, 0, &page.sessions.emplace_back()));
  }
  // A full page may have a successor; the next call finds out.
  if (page.sessions.size() == static_cast<std::size_t>(limit)) {
    page.next_cursor = page.sessions.back().id;
  }
  return page;
}

Result<PreferencesScanPage> RowReader::ScanPreferences(
    std::string_view after_user_id, int limit) {
  if (limit <= 0) return BadLimit(limit);
  StatementReset reset(scan_preferences_);
  scan_preferences_.Bind(1, after_user_id);
  scan_preferences_.Bind(2, std::int64_t{limit});
  PreferencesScanPage page;
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, scan_preferences_.Step());
    if (!row) break;
    UserPreferences& u = page.users.emplace_back();
    u.user_id = std::string(scan_preferences_.Text(0));
    u.preferences.persist_history = scan_preferences_.Int(1) != 0;
  }
  if (page.users.size() == static_cast<std::size_t>(limit)) {
    page.next_cursor = page.users.back().user_id;
  }
  return page;
}

Result<std::string> RowReader::GetUserState(std::string_view user_id) {
  StatementReset reset(get_user_state_);
  get_user_state_.Bind(1, user_id);
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, get_user_state_.Step());
  if (!row) return std::string("{}");
  return std::string(get_user_state_.Text(0));
}

Result<UserStateScanPage> RowReader::ScanUserStates(
    std::string_view after_user_id, int limit) {
  if (limit <= 0) return BadLimit(limit);
  StatementReset reset(scan_user_states_);
  scan_user_states_.Bind(1, after_user_id);
  scan_user_states_.Bind(2, std::int64_t{limit});
  UserStateScanPage page;
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(const bool row, scan_user_states_.Step());
    if (!row) break;
    UserState& u = page.users.emplace_back();
    u.user_id = std::string(scan_user_states_.Text(0));
    u.state = std::string(scan_user_states_.Text(1));
  }
  if (page.users.size() == static_cast<std::size_t>(limit)) {
    page.next_cursor = page.users.back().user_id;
  }
  return page;
}

Status RowReader::Ping() {
  StatementReset reset(ping_);
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, ping_.Step());
  if (!row) return Status::Internal("sqlite: SELECT 1 returned no row");
  return Status::Ok();
}

Result<StoreStats> RowReader::Stats() {
  StatementReset reset(stats_);
  CHATSTORE_ASSIGN_OR_RETURN(const bool row, stats_.Step());
  if (!row) return Status::Internal("sqlite: stats query returned no row");
  StoreStats s;
  s.sessions = stats_.Int(0);
  s.messages = stats_.Int(1);
  s.events = stats_.Int(2);
  s.bytes = stats_.Int(3);
  return s;
}

}  // namespace chatstore::sqlite
