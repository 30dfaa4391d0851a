#include "server/router.h"

#include <array>
#include <optional>
#include <string>

namespace chatstore::server {
namespace {

struct Route {
  http::verb method;
  std::string_view path_template;
  RouteId id;
  Access access;
};

// API.md's endpoint table.
constexpr std::array kRoutes{
    Route{http::verb::post, "/v1/auth/anonymous", RouteId::kAnonymousToken,
          Access::kPublic},
    Route{http::verb::post, "/v1/sessions", RouteId::kCreateSession,
          Access::kUser},
    Route{http::verb::get, "/v1/sessions", RouteId::kListSessions,
          Access::kUser},
    Route{http::verb::get, "/v1/sessions/{id}", RouteId::kGetSession,
          Access::kUser},
    Route{http::verb::patch, "/v1/sessions/{id}", RouteId::kPatchSession,
          Access::kUser},
    Route{http::verb::delete_, "/v1/sessions/{id}", RouteId::kDeleteSession,
          Access::kUser},
    Route{http::verb::post, "/v1/sessions/{id}/messages", RouteId::kAddMessage,
          Access::kUser},
    Route{http::verb::get, "/v1/sessions/{id}/messages", RouteId::kListMessages,
          Access::kUser},
    Route{http::verb::post, "/v1/sessions/{id}/messages/{mid}/append",
          RouteId::kAppendDelta, Access::kUser},
    Route{http::verb::post, "/v1/sessions/{id}/messages/{mid}/complete",
          RouteId::kCompleteMessage, Access::kUser},
    Route{http::verb::post, "/v1/sessions/{id}/events", RouteId::kAppendEvents,
          Access::kUser},
    Route{http::verb::get, "/v1/sessions/{id}/events", RouteId::kListEvents,
          Access::kUser},
    Route{http::verb::get, "/v1/sessions/{id}/stream", RouteId::kStream,
          Access::kUser},
    Route{http::verb::get, "/v1/sessions/{id}/context", RouteId::kGetContext,
          Access::kUser},
    Route{http::verb::get, "/v1/search", RouteId::kSearch, Access::kUser},
    Route{http::verb::get, "/v1/me/preferences", RouteId::kGetPreferences,
          Access::kUser},
    Route{http::verb::put, "/v1/me/preferences", RouteId::kPutPreferences,
          Access::kUser},
    Route{http::verb::get, "/v1/me/export", RouteId::kExportMe, Access::kUser},
    Route{http::verb::delete_, "/v1/me", RouteId::kEraseMe, Access::kUser},
    Route{http::verb::get, "/v1/admin/users/{uid}/export",
          RouteId::kAdminExportUser, Access::kAdmin},
    Route{http::verb::delete_, "/v1/admin/users/{uid}",
          RouteId::kAdminEraseUser, Access::kAdmin},
    Route{http::verb::get, "/v1/admin/stats", RouteId::kAdminStats,
          Access::kAdmin},
    Route{http::verb::get, "/healthz", RouteId::kHealthz, Access::kPublic},
    Route{http::verb::get, "/readyz", RouteId::kReadyz, Access::kPublic},
    Route{http::verb::get, "/metrics", RouteId::kMetrics, Access::kPublic},
    Route{http::verb::put, "/v1/cache/{namespace}/{key}", RouteId::kCachePut,
          Access::kUser},
    Route{http::verb::get, "/v1/cache/{namespace}/{key}", RouteId::kCacheGet,
          Access::kUser},
    Route{http::verb::delete_, "/v1/cache/{namespace}/{key}",
          RouteId::kCacheDelete, Access::kUser},
};

// Splits "/a/b/c" into {"a", "b", "c"}; an empty segment (a doubled or
// trailing slash) is kept so "/v1/sessions/" never matches "/v1/sessions".
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Decodes %XX escapes; nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// Matches `path` against `path_template`, filling `params`.
bool MatchTemplate(const std::vector<std::string_view>& path,
                   std::string_view path_template,
                   std::vector<std::string>* params) {
  const std::vector<std::string_view> pattern = Segments(path_template);
  if (pattern.size() != path.size()) return false;
  params->clear();
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i].starts_with('{')) {
      std::optional<std::string> value = PercentDecode(path[i]);
      if (!value || value->empty()) return false;
      params->push_back(std::move(*value));
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

RouteMatch MatchRoute(http::verb method, std::string_view path) {
  const std::vector<std::string_view> segments = Segments(path);
  RouteMatch match{RouteMatch::Outcome::kNotFound};
  std::vector<std::string> params;
  for (const Route& route : kRoutes) {
    if (!MatchTemplate(segments, route.path_template, &params)) continue;
    if (route.method == method) {
      match.outcome = RouteMatch::Outcome::kMatched;
      match.id = route.id;
      match.access = route.access;
      match.route_template = route.path_template;
      match.params = std::move(params);
      return match;
    }
    match.outcome = RouteMatch::Outcome::kMethodNotAllowed;
    match.route_template = route.path_template;
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += std::string(http::to_string(route.method));
  }
  return match;
}

}  // namespace chatstore::server
