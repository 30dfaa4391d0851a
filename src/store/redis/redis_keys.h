// The key layout (docs/redis.md explains it for operators). Every key of one
// session carries the hash tag {<session id>} and every per-user key the tag
// {<user id>}, so each group lives in one Redis Cluster slot.
#ifndef CHATSTORE_STORE_REDIS_REDIS_KEYS_H_
#define CHATSTORE_STORE_REDIS_REDIS_KEYS_H_

#include <array>
#include <string>
#include <string_view>

#include "chatstore/types.h"

namespace chatstore::redis::keys {

inline std::string SessionKey(std::string_view sid, std::string_view suffix) {
  std::string k;
  k.reserve(sid.size() + suffix.size() + 6);
  k.append("cs:{").append(sid).append("}:").append(suffix);
  return k;
}
inline std::string UserKey(std::string_view uid, std::string_view suffix) {
  std::string k;
  k.reserve(uid.size() + suffix.size() + 8);
  k.append("cs:u:{").append(uid).append("}:").append(suffix);
  return k;
}

// Hash: the session row, one field per column, plus `gen`.
inline std::string Session(std::string_view sid) {
  return SessionKey(sid, "s");
}
// Sorted set: the event log; score seq, member "<seq>|<ms>|<type>|<data>".
inline std::string Events(std::string_view sid) {
  return SessionKey(sid, "ev");
}
// Hash: message id -> encoded message row.
inline std::string Messages(std::string_view sid) {
  return SessionKey(sid, "m");
}
// Sorted set: message ids scored by their seq (ReadMessages' order).
inline std::string MessageSeqs(std::string_view sid) {
  return SessionKey(sid, "mi");
}
// The session's keys that the apply and delete scripts touch, in KEYS order.
inline std::array<std::string, 4> SessionKeys(std::string_view sid) {
  return {Session(sid), Events(sid), Messages(sid), MessageSeqs(sid)};
}

// Sorted set: the user's session ids scored by updated_at ms.
inline std::string UserSessions(std::string_view uid) {
  return UserKey(uid, "sessions");
}
// The same, restricted to one status (an exact filtered listing).
inline std::string UserSessionsWithStatus(std::string_view uid,
                                          SessionStatus status) {
  return UserKey(uid, std::string("sessions:") + std::string(ToString(status)));
}
inline constexpr std::array<SessionStatus, 5> kAllStatuses = {
    SessionStatus::kActive, SessionStatus::kRunning, SessionStatus::kCompleted,
    SessionStatus::kError, SessionStatus::kArchived};
// Sorted set: the user's complete messages scored by created_at ms, member
// "<message id>|<session id>" (equal scores order by message id).
inline std::string UserSearch(std::string_view uid) {
  return UserKey(uid, "search");
}
// Hash: the user's preferences.
inline std::string UserPrefs(std::string_view uid) {
  return UserKey(uid, "prefs");
}
// String: the user's `user:` state document (JSON object text); absent
// when empty. The apply script replaces it under a compare-and-set.
inline std::string UserState(std::string_view uid) {
  return UserKey(uid, "state");
}

// Sorted set: ephemeral session ids scored by expires_at ms (the sweeper's
// work list).
inline constexpr std::string_view kExpiry = "cs:expiry";
// Sorted set: persistent session ids scored by updated_at ms (the
// sweeper's inactive rule). Kept by the apply and delete scripts.
inline constexpr std::string_view kActivity = "cs:activity";
// Sorted set: ids of sessions with no message yet, scored by created_at ms
// (the sweeper's never-used rule). Kept by the apply and delete scripts.
inline constexpr std::string_view kNeverUsed = "cs:never-used";
// Hash: store-wide counters (sessions, messages, events) kept by the scripts.
inline constexpr std::string_view kStats = "cs:stats";
// Pub/sub channel: the apply script publishes "<session id> <last seq>"
// after each write, the delete script "<session id>" (literal in
// redis_scripts.cc: scripts cannot take channel names as KEYS).
inline constexpr std::string_view kChangesChannel = "cs:changes";

}  // namespace chatstore::redis::keys

#endif  // CHATSTORE_STORE_REDIS_REDIS_KEYS_H_
