#include "core/state_scopes.h"

#include "core/json_util.h"

namespace chatstore::core {
namespace {

boost::json::object ObjectOrEmpty(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = json::ParseExact(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

}  // namespace

ScopedState SplitStateScopes(const boost::json::object& state) {
  ScopedState out;
  for (const auto& [key, value] : state) {
    const std::string_view k = key;
    if (k.starts_with(kTempScopePrefix)) {
      out.temp[key] = value;
      continue;
    }
    out.stored[key] = value;
    if (k.starts_with(kUserScopePrefix)) {
      out.user[key] = value;
    } else {
      out.session[key] = value;
    }
  }
  return out;
}

std::string MergedStateView(std::string_view session_state,
                            std::string_view user_state) {
  if (user_state.empty() || user_state == "{}")
    return std::string(session_state);
  boost::json::object merged = ObjectOrEmpty(session_state);
  for (const auto& [key, value] : ObjectOrEmpty(user_state)) {
    merged[key] = value;
  }
  return json::Serialize(merged);
}

}  // namespace chatstore::core
