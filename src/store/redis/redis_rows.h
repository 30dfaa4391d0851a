// How rows are encoded in Redis values: the session as hash fields, a
// message as one length-prefixed string, an event as a sorted-set member.
// Decoding failures are Corruption (the data was not written by this code).
#ifndef CHATSTORE_STORE_REDIS_REDIS_ROWS_H_
#define CHATSTORE_STORE_REDIS_REDIS_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/status.h"
#include "chatstore/types.h"

struct redisReply;

namespace chatstore::redis {

// A session row as stored, with its incarnation token: `gen` is random per
// creation, so a compare-and-set on (gen, last_seq) cannot be fooled by a
// session deleted and re-created with the same id (ABA).
struct StoredSession {
  Session row;
  std::string gen;
};

// The hash fields (name, value, name, value, ...) that turn `before` into
// `after`; every field when `before` is null. Only changed fields are sent,
// so a delta does not rewrite a large `state`.
std::vector<std::string> SessionFieldsDiff(const Session* before,
                                           const Session& after);

// Decodes an HGETALL reply; nullopt for an empty (missing) hash.
Result<std::optional<StoredSession>> DecodeSession(const redisReply* hgetall);

std::string EncodeMessage(const Message& m);
// `session_id` is implied by the key the row was read from.
Result<Message> DecodeMessage(std::string_view encoded,
                              std::string_view session_id);

// "<seq>|<created ms>|<type>|<data>": types never contain '|', and the seq
// prefix keeps members unique.
std::string EncodeEvent(const Event& e);
Result<Event> DecodeEvent(std::string_view member, std::string_view session_id);

// Strict decimal int64 parsing.
std::optional<std::int64_t> ParseInt64(std::string_view s);

}  // namespace chatstore::redis

#endif  // CHATSTORE_STORE_REDIS_REDIS_ROWS_H_
