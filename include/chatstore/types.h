// The data model: a session is an ordered log of events; its messages and
// fields are a view of that log that the same atomic write keeps current.
//
// JSON-valued fields (metadata, state, event data) hold compact JSON text so
// that this header depends on no JSON library. The service validates them
// before they reach a store.
#ifndef CHATSTORE_TYPES_H_
#define CHATSTORE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/clock.h"

namespace chatstore {

enum class SessionStatus { kActive, kRunning, kCompleted, kError, kArchived };
enum class Role { kSystem, kUser, kAssistant, kTool };
enum class MessageStatus { kStreaming, kComplete };

// Wire names ("active", "assistant", "streaming", ...) and their inverses;
// the parsers return nullopt for an unknown name.
std::string_view ToString(SessionStatus s);
std::string_view ToString(Role r);
std::string_view ToString(MessageStatus s);
std::optional<SessionStatus> ParseSessionStatus(std::string_view s);
std::optional<Role> ParseRole(std::string_view s);
std::optional<MessageStatus> ParseMessageStatus(std::string_view s);

struct Session {
  std::string id;       // UUIDv7
  std::string user_id;  // owner; every read is scoped to it
  std::string title;
  SessionStatus status = SessionStatus::kActive;
  std::string metadata = "{}";  // JSON object
  std::string state = "{}";     // JSON object (session-scoped keys only)
  bool persistent = true;
  std::int64_t message_count = 0;
  std::int64_t last_seq = 0;  // seq of the newest event; 0 before any
  Timestamp created_at;
  Timestamp updated_at;
  std::optional<Timestamp> expires_at;  // ephemeral sessions only
};

struct Message {
  std::string id;  // UUIDv7
  std::string session_id;
  std::int64_t seq = 0;  // seq of its message.created event
  Role role = Role::kUser;
  std::string content;
  MessageStatus status = MessageStatus::kComplete;
  std::string metadata = "{}";         // JSON object
  std::optional<std::int64_t> tokens;  // set when complete
  Timestamp created_at;
  Timestamp updated_at;
};

struct Event {
  std::string session_id;
  std::int64_t seq = 0;  // 1, 2, 3, ... per session, no gaps
  std::string type;      // "message.created", or an app type
  std::string data;      // JSON text, one line
  Timestamp created_at;
};

struct Preferences {
  bool persist_history = true;
};

// Keyset position in a user's session list: (updated_at, id), descending.
struct SessionCursor {
  Timestamp updated_at;
  std::string id;
};

struct SessionPage {
  std::vector<Session> sessions;
  std::optional<SessionCursor> next;  // nullopt: no more pages
};

struct SearchHit {
  std::string session_id;
  std::string message_id;
  std::int64_t seq = 0;
  std::string snippet;  // matched terms wrapped in [ ]
  Timestamp created_at;
};

// Keyset position in search results, newest first: (created_at ms, message id).
struct SearchCursor {
  Timestamp created_at;
  std::string message_id;
};

struct SearchPage {
  std::vector<SearchHit> hits;
  std::optional<SearchCursor> next;
};

// What an erasure removed.
struct EraseCounts {
  std::int64_t sessions = 0;
  std::int64_t messages = 0;
  std::int64_t events = 0;
};

}  // namespace chatstore

#endif  // CHATSTORE_TYPES_H_
