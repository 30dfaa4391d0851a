#include "chatstore/types.h"

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace chatstore {
namespace {

constexpr std::array<std::pair<SessionStatus, std::string_view>, 5>
    kSessionStatuses{{{SessionStatus::kActive, "active"},
                      {SessionStatus::kRunning, "running"},
                      {SessionStatus::kCompleted, "completed"},
                      {SessionStatus::kError, "error"},
                      {SessionStatus::kArchived, "archived"}}};
constexpr std::array<std::pair<Role, std::string_view>, 4> kRoles{
    {{Role::kSystem, "system"},
     {Role::kUser, "user"},
     {Role::kAssistant, "assistant"},
     {Role::kTool, "tool"}}};
constexpr std::array<std::pair<MessageStatus, std::string_view>, 2>
    kMessageStatuses{{{MessageStatus::kStreaming, "streaming"},
                      {MessageStatus::kComplete, "complete"}}};

template <typename E, std::size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& t,
                        E v) {
  for (const auto& [e, name] : t) {
    if (e == v) return name;
  }
  return "unknown";
}

template <typename E, std::size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, std::string_view>, N>& t,
                         std::string_view s) {
  for (const auto& [e, name] : t) {
    if (name == s) return e;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(SessionStatus s) {
  return NameOf(kSessionStatuses, s);
}
std::string_view ToString(Role r) { return NameOf(kRoles, r); }
std::string_view ToString(MessageStatus s) {
  return NameOf(kMessageStatuses, s);
}
std::optional<SessionStatus> ParseSessionStatus(std::string_view s) {
  return ValueOf(kSessionStatuses, s);
}
std::optional<Role> ParseRole(std::string_view s) { return ValueOf(kRoles, s); }
std::optional<MessageStatus> ParseMessageStatus(std::string_view s) {
  return ValueOf(kMessageStatuses, s);
}

}  // namespace chatstore
