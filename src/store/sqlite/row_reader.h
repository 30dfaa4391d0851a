// One reader connection with its own prepared statements, and the read
// operations of the Store interface. WAL lets readers run beside the writer
// thread and beside other processes' writers; each read sees one committed
// snapshot.
#ifndef CHATSTORE_STORE_SQLITE_ROW_READER_H_
#define CHATSTORE_STORE_SQLITE_ROW_READER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/store.h"
#include "chatstore/types.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {

// Turns plain words into an FTS5 query that matches rows containing every
// word: each whitespace-separated word becomes an FTS5 string ("word", with
// `"` doubled), so no operator syntax (AND, NEAR, *, :, ^, -) from the user
// is interpreted. InvalidArgument when there is no word.
Result<std::string> FtsMatchExpression(std::string_view words);

// Not thread-safe: one thread at a time (the ReaderPool hands it out).
// Every method treats a session whose expires_at <= `now` as missing.
class RowReader {
 public:
  // Opens a connection to the existing database at `path`, read-only in
  // effect (query_only), and prepares its statements. REQUIRES the schema
  // is current.
  static Result<std::unique_ptr<RowReader>> Open(
      const std::string& path, std::chrono::milliseconds busy_timeout);

  // NotFound when missing or expired.
  Result<Session> GetSession(std::string_view session_id, Timestamp now);
  // NotFound when the session or the message is missing.
  Result<Message> GetMessage(std::string_view session_id,
                             std::string_view message_id, Timestamp now);
  Result<SessionPage> ListSessions(std::string_view user_id,
                                   std::optional<SessionStatus> status,
                                   const std::optional<SessionCursor>& after,
                                   int limit, Timestamp now);
  // NotFound when the session is missing.
  Result<std::vector<Event>> ReadEvents(std::string_view session_id,
                                        std::int64_t after_seq, int limit,
                                        Timestamp now);
  Result<std::vector<Message>> ReadMessages(std::string_view session_id,
                                            std::int64_t after_seq, int limit,
                                            Timestamp now);
  // seq < before_seq, newest first.
  Result<std::vector<Message>> ReadMessagesBefore(std::string_view session_id,
                                                  std::int64_t before_seq,
                                                  int limit, Timestamp now);
  // `match` comes from FtsMatchExpression().
  Result<SearchPage> Search(std::string_view user_id, std::string_view match,
                            const std::optional<SearchCursor>& after, int limit,
                            Timestamp now);
  Result<Preferences> GetPreferences(std::string_view user_id);
  // "{}" when the user has no `user:` state.
  Result<std::string> GetUserState(std::string_view user_id);
  // Every live session with id > after_id, ascending (Store::ScanSessions:
  // the cursor is the last id returned).
  Result<SessionScanPage> ScanSessions(std::string_view after_id, int limit,
                                       Timestamp now);
  Result<PreferencesScanPage> ScanPreferences(std::string_view after_user_id,
                                              int limit);
  Result<UserStateScanPage> ScanUserStates(std::string_view after_user_id,
                                           int limit);
  Status Ping();
  // Row counts and bytes; the group-commit counters are the caller's.
  Result<StoreStats> Stats();

 private:
  RowReader() = default;

  // Runs read_messages_ or read_messages_before_ (same parameters, the
  // bound seq meaning after or before).
  Result<std::vector<Message>> RunMessageRead(Statement& stmt,
                                              std::string_view session_id,
                                              std::int64_t seq, int limit,
                                              Timestamp now);
  // NotFound unless the session exists and has not expired.
  Status CheckSessionLive(std::string_view session_id, Timestamp now);

  Db db_;
  Statement get_session_;
  Statement get_message_;
  Statement session_live_;
  // [has status filter][has cursor]
  Statement list_sessions_[2][2];
  Statement read_events_;
  Statement read_messages_;
  Statement read_messages_before_;
  Statement search_[2];  // [has cursor]
  Statement get_preferences_;
  Statement scan_sessions_;
  Statement scan_preferences_;
  Statement get_user_state_;
  Statement scan_user_states_;
  Statement ping_;
  Statement stats_;
};

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_ROW_READER_H_
