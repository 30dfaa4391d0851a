// The HTTP API of API.md as a function of the request: authentication, rate
// limits, idempotency, routing and the handlers. Handle() blocks on the
// service, so the server calls it on the worker pool; tests can call it with
// a plain http::request.
#ifndef CHATSTORE_SERVER_API_H_
#define CHATSTORE_SERVER_API_H_

#include <boost/json/object.hpp>
#include <boost/url/params_view.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "chatstore/audit_log.h"
#include "chatstore/cache.h"
#include "chatstore/service.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/http_types.h"
#include "server/hub.h"
#include "server/idempotency.h"
#include "server/metrics.h"
#include "server/problem.h"
#include "server/rate_limiter.h"
#include "server/router.h"
#include "server/static_files.h"

namespace chatstore::server {

struct ApiOptions {
  SessionPolicy policy = SessionPolicy::kAuth;
  std::chrono::seconds anonymous_ttl{86400};
  // Where exports, erasures and admin reads are recorded; null: nowhere.
  // Must outlive the Api.
  AuditLog* audit_log = nullptr;
};

// Thread-safe; every dependency must outlive it.
class Api {
 public:
  Api(SessionService& service, Cache& cache, const TokenAuthority& tokens,
      RateLimiter& user_limiter, RateLimiter& address_limiter,
      IdempotencyTable& idempotency, Hub& hub, Metrics& metrics,
      ApiOptions options);

  Reply Handle(const HttpRequest& request, const RequestContext& context);

 private:
  // One request being handled.
  struct Call {
    const HttpRequest& request;
    const RequestContext& context;
    const RouteMatch& route;
    boost::urls::params_view query;
    Principal principal;
  };

  Reply Dispatch(Call& call);
  Reply Authorized(Call& call);
  Reply WithIdempotency(Call& call, std::string_view key);

  // Building answers.
  Reply Json(const Call& call, http::status status, std::string body);
  Reply Fail(const Call& call, Problem problem);
  Reply Fail(const Call& call, const Status& status);
  // Parses the body as a JSON object (415 when it is not JSON); on failure
  // returns the answer to send.
  std::optional<Reply> ReadJsonBody(const Call& call,
                                    boost::json::object* body);
  // The session browser's `file` for GET/HEAD; 405 for other methods.
  Reply ServeWebFileOrRefuse(const Call& call, const EmbeddedFile& file);
  // A 404 answer when a session or message id in the path is malformed.
  std::optional<Reply> RequireIds(const Call& call);

  // sessions_api.cc
  Reply CreateSession(Call& call);
  Reply ListSessions(Call& call);
  Reply GetSession(Call& call);
  Reply PatchSession(Call& call);
  Reply DeleteSession(Call& call);
  Reply AddMessage(Call& call);
  Reply ListMessages(Call& call);
  Reply GetContext(Call& call);
  Reply AppendDelta(Call& call);
  Reply CompleteMessage(Call& call);
  Reply AppendEvents(Call& call);
  Reply ListEvents(Call& call);
  Reply OpenStream(Call& call);
  Reply Search(Call& call);

  // account_api.cc
  Reply AnonymousToken(Call& call);
  Reply GetPreferences(Call& call);
  Reply PutPreferences(Call& call);
  Reply Export(Call& call, const std::string& user_id);
  Reply Erase(Call& call, const std::string& user_id);
  Reply AdminStats(Call& call);
  // Records `action` on `target` by the caller in the audit log: the actor
  // is "admin:<sub>" on admin routes, "user:<sub>" on the caller's own data.
  void Audit(const Call& call, std::string action, std::string target,
             const Status& status,
             std::vector<std::pair<std::string, std::int64_t>> counts = {});

  // cache_api.cc
  Reply CachePut(Call& call);
  Reply CacheGet(Call& call);
  Reply CacheDelete(Call& call);
  // The cache namespace and key the path names for the caller; on failure
  // the answer to send (400, or 403 for another's shared namespace).
  std::optional<Reply> ResolveCacheEntry(const Call& call, std::string* ns,
                                         std::string* key);

  // ops_api.cc
  Reply Healthz(Call& call);
  Reply Readyz(Call& call);
  Reply RenderMetrics(Call& call);

  SessionService& service_;
  Cache& cache_;
  const TokenAuthority& tokens_;
  RateLimiter& user_limiter_;
  RateLimiter& address_limiter_;
  IdempotencyTable& idempotency_;
  Hub& hub_;
  Metrics& metrics_;
  const ApiOptions options_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_API_H_
