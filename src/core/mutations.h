// The Mutations: what each kind of write means, as events plus the view
// update, computed against the current rows inside the store's atomic
// section (see chatstore::Mutation). Inputs are validated by the service
// before a mutation is built; Prepare() checks only what depends on the
// current rows (existence, ownership, message state, size after the change).
#ifndef CHATSTORE_CORE_MUTATIONS_H_
#define CHATSTORE_CORE_MUTATIONS_H_

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatstore/store.h"
#include "chatstore/types.h"

namespace chatstore::core {

// Who writes, and the rules that depend on configuration.
struct WriteContext {
  std::string user_id;
  // Ephemeral sessions (expires_at set) expire this long after a write.
  std::chrono::seconds ephemeral_ttl{86400};
  std::size_t max_content_bytes = 1 << 20;
  std::size_t max_state_bytes = 256 * 1024;
  std::size_t max_metadata_bytes = 256 * 1024;
};

// Built-in event types (API.md); app events may not use them.
inline constexpr std::string_view kSessionCreated = "session.created";
inline constexpr std::string_view kSessionUpdated = "session.updated";
inline constexpr std::string_view kSessionDeleted = "session.deleted";
inline constexpr std::string_view kMessageCreated = "message.created";
inline constexpr std::string_view kMessageDelta = "message.delta";
inline constexpr std::string_view kMessageCompleted = "message.completed";
inline constexpr std::string_view kStateDelta = "state.delta";
inline constexpr std::string_view kSnapshot = "snapshot";

// True for an app event type: [a-z][a-z0-9_.-]{0,63}, not built in.
bool IsValidAppEventType(std::string_view type);

// `row` is the new session (id, user, title, metadata, state, persistent);
// counters and timestamps are filled in, and expires_at (now + ttl) when the
// session is not persistent. `row.state` holds the session's own keys only;
// `user_state_patch` (a JSON object text of `user:` keys) is merged into the
// user's state document in the same write.
std::shared_ptr<const Mutation> CreateSession(
    const WriteContext& ctx, Session row,
    std::optional<std::string> user_state_patch = std::nullopt);

struct ParsedPatch {
  std::optional<std::string> title;
  std::optional<SessionStatus> status;
  std::optional<boost::json::object> metadata;  // merge patch
  // A merge patch of all three scopes (core/state_scopes.h).
  std::optional<boost::json::object> state;
};
std::shared_ptr<const Mutation> UpdateSession(WriteContext ctx,
                                              std::string session_id,
                                              ParsedPatch patch);

// `draft` carries id, role, content, metadata, status and, when complete,
// tokens.
std::shared_ptr<const Mutation> AddMessage(WriteContext ctx,
                                           std::string session_id,
                                           Message draft);
std::shared_ptr<const Mutation> AppendDelta(WriteContext ctx,
                                            std::string session_id,
                                            std::string message_id,
                                            std::string delta);
// The cl100k_base token count of a message's content, computed before the
// write (outside the store's atomic section: counting a long message takes
// milliseconds) for content of the given byte length.
struct TokenCount {
  std::size_t content_bytes = 0;
  std::int64_t tokens = 0;
};

// Counts `content` the way a complete message's `tokens` are counted.
std::int64_t CountTokens(std::string_view content);

// `precount` is the count of `content` when given, else of the streamed
// content as it was read before the write; Prepare() recounts only when a
// delta landed in between (deltas only append, so equal length means equal
// content).
std::shared_ptr<const Mutation> CompleteMessage(
    WriteContext ctx, std::string session_id, std::string message_id,
    std::optional<std::string> content, std::optional<TokenCount> precount);

// `events` have valid types and compact one-line JSON data.
std::shared_ptr<const Mutation> AppendEvents(WriteContext ctx,
                                             std::string session_id,
                                             std::vector<Event> events);

}  // namespace chatstore::core

#endif  // CHATSTORE_CORE_MUTATIONS_H_
