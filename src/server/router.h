// Maps a method and path to one of API.md's routes. Paths are matched segment
// by segment against templates such as "/v1/sessions/{id}/messages/{mid}".
#ifndef CHATSTORE_SERVER_ROUTER_H_
#define CHATSTORE_SERVER_ROUTER_H_

#include <string>
#include <string_view>
#include <vector>

#include "server/http_types.h"

namespace chatstore::server {

enum class RouteId {
  kAnonymousToken,
  kCreateSession,
  kListSessions,
  kGetSession,
  kPatchSession,
  kDeleteSession,
  kAddMessage,
  kListMessages,
  kAppendDelta,
  kCompleteMessage,
  kAppendEvents,
  kListEvents,
  kStream,
  kGetContext,
  kSearch,
  kGetPreferences,
  kPutPreferences,
  kExportMe,
  kEraseMe,
  kAdminExportUser,
  kAdminEraseUser,
  kAdminStats,
  kHealthz,
  kReadyz,
  kMetrics,
  kCachePut,
  kCacheGet,
  kCacheDelete,
};

// Who may call a route.
enum class Access { kPublic, kUser, kAdmin };

struct RouteMatch {
  enum class Outcome { kMatched, kNotFound, kMethodNotAllowed } outcome;
  RouteId id{};
  Access access = Access::kPublic;
  // The route template: a bounded label set for metrics and logs.
  std::string_view route_template;
  // The values of the template's {placeholders}, in order.
  std::vector<std::string> params;
  // For kMethodNotAllowed: the methods the path does accept ("GET, POST").
  std::string allow;
};

// `path` is the target without its query string, still percent-encoded.
RouteMatch MatchRoute(http::verb method, std::string_view path);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_ROUTER_H_
