// How the model's rows map to the sqlite tables: the column lists every
// statement selects, and decoding a selected row into a Session, Message or
// Event. Shared by the writer (which reads the rows a mutation needs) and
// the readers.
#ifndef CHATSTORE_STORE_SQLITE_ROWS_H_
#define CHATSTORE_STORE_SQLITE_ROWS_H_

#include <string_view>

#include "chatstore/status.h"
#include "chatstore/types.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {

// Column lists are macros so that they concatenate with the SQL literals
// around them at compile time.
// Twelve columns of `sessions`, in the order ReadSessionRow expects.
#define CHATSTORE_SQLITE_SESSION_COLUMNS                                     \
  "id, user_id, title, status, metadata, state, persistent, message_count, " \
  "last_seq, created_at, updated_at, expires_at"
inline constexpr int kSessionColumnCount = 12;

// Ten columns of `messages`, in the order ReadMessageRow expects.
#define CHATSTORE_SQLITE_MESSAGE_COLUMNS                           \
  "id, session_id, seq, role, content, status, metadata, tokens, " \
  "created_at, updated_at"
inline constexpr int kMessageColumnCount = 10;

// Decodes the current row of `stmt`, whose columns from `first` on are the
// session (or message) columns above. Corruption when a stored enum name
// is unknown.
Status ReadSessionRow(const Statement& stmt, int first, Session* out);
Status ReadMessageRow(const Statement& stmt, int first, Message* out);

// Binds the session columns, in the order above, to parameters
// first..first+11 (the message columns to first..first+9). REQUIRES the
// row outlives the statement's execution (text is bound without a copy).
void BindSessionRow(Statement& stmt, int first, const Session& s);
void BindMessageRow(Statement& stmt, int first, const Message& m);

// True when a session with this expiry reads as missing at `now`.
inline bool IsExpired(const std::optional<Timestamp>& expires_at,
                      Timestamp now) {
  return expires_at.has_value() && *expires_at <= now;
}

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_ROWS_H_
