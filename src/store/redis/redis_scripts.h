// The Lua scripts that make each write atomic on the server, and how they
// are run: SCRIPT LOAD once, then EVALSHA; a NOSCRIPT answer (the server
// restarted or its script cache was flushed) loads the script again on that
// connection and repeats the call once.
#ifndef CHATSTORE_STORE_REDIS_REDIS_SCRIPTS_H_
#define CHATSTORE_STORE_REDIS_REDIS_SCRIPTS_H_

#include <string>
#include <vector>

#include "chatstore/status.h"
#include "store/redis/redis_connection.h"

namespace chatstore::redis {

// Compare-and-set write of one prepared WriteBatch.
// KEYS: session, events, messages, message seqs (the session's keys), user
//   sessions index, old-status index, new-status index, user search index,
//   expiry set, stats hash, activity set, never-used set.
// ARGV: expected gen ("" for a create, which requires the session key to be
//   absent), expected last_seq, updated_at ms, session id, expires_at ms ("":
//   none), EXPIRE seconds, sessions created (0/1), number of session field
//   pairs, the pairs; number of messages, then per message: id, seq, encoded
//   row, "1" when created, search score ("" when not searchable); number of
//   events, then per event: seq, member.
// Returns 1 when written, 0 when the session changed since it was read
//   (nothing written; the caller reloads and prepares again). A write also
//   publishes "<session id> <last seq>" on keys::kChangesChannel.
extern const char kApplyScript[];

// Compare-and-set delete of one session and every index entry pointing at it.
// KEYS: the session's 4 keys, user sessions index, user search index, expiry
//   set, stats hash, then the 5 per-status indexes, the activity set and
//   the never-used set (every key from the 9th loses the session id).
// ARGV: expected gen, session id, and optionally the expected last_seq
//   ("" or absent: any).
// Returns {messages, events} removed, or nil when gen (or last_seq) did not
//   match. A
//   delete publishes "<session id>" on keys::kChangesChannel.
extern const char kDeleteScript[];

class Script {
 public:
  explicit Script(const char* source) : source_(source) {}

  // SCRIPT LOAD; remembers the SHA1 (which depends only on the source).
  Status Load(Connection& conn);

  // EVALSHA with `keys` and `args`, loading the script again on NOSCRIPT.
  // An error reply becomes its Status (redis_errors.h).
  // REQUIRES: Load() succeeded once.
  Result<Reply> Eval(Connection& conn, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) const;

 private:
  const char* source_;
  std::string sha_;  // written once by Load() at open, read-only afterwards
};

}  // namespace chatstore::redis

#endif  // CHATSTORE_STORE_REDIS_REDIS_SCRIPTS_H_
