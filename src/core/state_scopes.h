// ADK-style state scopes (docs/context-and-state.md): a key of `state`
// without prefix belongs to the session, a `user:` key to every session of
// the session's user, a `temp:` key to the one change that carries it.
#ifndef CHATSTORE_CORE_STATE_SCOPES_H_
#define CHATSTORE_CORE_STATE_SCOPES_H_

#include <boost/json.hpp>
#include <string>
#include <string_view>

namespace chatstore::core {

inline constexpr std::string_view kUserScopePrefix = "user:";
inline constexpr std::string_view kTempScopePrefix = "temp:";

// A state object (or merge patch) split by key prefix. `stored` is the
// input without its `temp:` keys, in the input's key order: what a
// state.delta event stores.
struct ScopedState {
  boost::json::object session;
  boost::json::object user;
  boost::json::object temp;
  boost::json::object stored;
};
ScopedState SplitStateScopes(const boost::json::object& state);

// The merged view a reader sees: the session's own state with the user's
// `user:` keys added (both JSON object texts; the sets cannot collide, since
// a session's own keys never start with `user:`). A malformed text counts as
// {}.
std::string MergedStateView(std::string_view session_state,
                            std::string_view user_state);

}  // namespace chatstore::core

#endif  // CHATSTORE_CORE_STATE_SCOPES_H_
