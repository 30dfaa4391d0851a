#include "server/api.h"

#include <boost/url/parse.hpp>
#include <cctype>
#include <chrono>
#include <string>
#include <utility>

#include "chatstore/ids.h"
#include "server/request_decoding.h"
#include "server/static_files.h"

namespace chatstore::server {
namespace {

bool IsWrite(http::verb method) {
  return method == http::verb::post || method == http::verb::put ||
         method == http::verb::patch || method == http::verb::delete_;
}

// Idempotency keys are opaque client strings (usually UUIDs); bounded and
// printable so they are safe in the table and in logs.
bool IsValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (const char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool IsJsonContentType(std::string_view value) {
  const std::size_t semicolon = value.find(';');
  std::string type(value.substr(0, semicolon));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(c));
  return type == "application/json";
}

}  // namespace

Api::Api(SessionService& service, Cache& cache, const TokenAuthority& tokens,
         RateLimiter& user_limiter, RateLimiter& address_limiter,
         IdempotencyTable& idempotency, Hub& hub, Metrics& metrics,
         ApiOptions options)
    : service_(service),
      cache_(cache),
      tokens_(tokens),
      user_limiter_(user_limiter),
      address_limiter_(address_limiter),
      idempotency_(idempotency),
      hub_(hub),
      metrics_(metrics),
      options_(options) {}

Reply Api::Json(const Call& call, http::status status, std::string body) {
  Reply reply;
  HttpResponse& response = reply.response;
  response.result(status);
  response.version(call.request.version());
  response.set("X-Request-Id", call.context.request_id);
  if (status != http::status::no_content) {
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(body);
  }
  response.keep_alive(call.request.keep_alive());
  response.prepare_payload();
  return reply;
}

Reply Api::Fail(const Call& call, Problem problem) {
  Reply reply;
  reply.response =
      RenderProblem(problem, call.context.request_id, call.request.version(),
                    call.request.keep_alive());
  return reply;
}

Reply Api::Fail(const Call& call, const Status& status) {
  return Fail(call, ProblemFromStatus(status));
}

std::optional<Reply> Api::ReadJsonBody(const Call& call,
                                       boost::json::object* body) {
  const std::string_view content = call.request.body();
  if (!content.empty() &&
      !IsJsonContentType(call.request[http::field::content_type])) {
    return Fail(call, Problem{http::status::unsupported_media_type,
                              "the request body must be application/json",
                              {}});
  }
  Result<boost::json::object> parsed =
      ParseJsonObject(content, service_.options().limits);
  if (!parsed.ok()) return Fail(call, parsed.status());
  *body = std::move(*parsed);
  return std::nullopt;
}

std::optional<Reply> Api::RequireIds(const Call& call) {
  // Session routes take UUIDs; a malformed one names no session, so it is
  // answered exactly as a missing one. (Admin routes take user ids.)
  if (!call.route.route_template.starts_with("/v1/sessions/")) {
    return std::nullopt;
  }
  const std::vector<std::string>& params = call.route.params;
  if (!params.empty() && !IsValidId(params[0])) {
    return Fail(call, Status::NotFound("session " + params[0] + " not found"));
  }
  if (params.size() > 1 && !IsValidId(params[1])) {
    return Fail(call, Status::NotFound("message " + params[1] + " not found"));
  }
  return std::nullopt;
}

Reply Api::Handle(const HttpRequest& request, const RequestContext& context) {
  auto url = boost::urls::parse_origin_form(request.target());
  RouteMatch route = url ? MatchRoute(request.method(), url->encoded_path())
                         : RouteMatch{RouteMatch::Outcome::kNotFound};
  Call call{request,
            context,
            route,
            url ? url->params() : boost::urls::params_view(),
            {}};

  Reply reply;
  if (!url) {
    reply = Fail(call, Status::InvalidArgument("request target is malformed"));
  } else if (const EmbeddedFile* file =
                 route.outcome == RouteMatch::Outcome::kNotFound
                     ? FindWebFile(url->encoded_path())
                     : nullptr) {
    reply = ServeWebFileOrRefuse(call, *file);
  } else if (route.outcome == RouteMatch::Outcome::kNotFound) {
    reply =
        Fail(call, Problem{http::status::not_found,
                           "no resource at " + std::string(url->encoded_path()),
                           {}});
  } else if (route.outcome == RouteMatch::Outcome::kMethodNotAllowed) {
    reply = Fail(call, Problem{http::status::method_not_allowed,
                               std::string(request.method_string()) +
                                   " is not allowed here",
                               {{http::field::allow, route.allow}}});
  } else {
    const auto start = std::chrono::steady_clock::now();
    reply = route.access == Access::kPublic ? Dispatch(call) : Authorized(call);
    metrics_.ObserveServiceCall(
        route.route_template,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  if (!route.route_template.empty()) {
    reply.route = std::string(route.route_template);
  }
  reply.user_id = call.principal.user_id;
  return reply;
}

Reply Api::ServeWebFileOrRefuse(const Call& call, const EmbeddedFile& file) {
  Reply reply;
  reply.route = "static";
  const http::verb method = call.request.method();
  if (method != http::verb::get && method != http::verb::head) {
    reply = Fail(call, Problem{http::status::method_not_allowed,
                               std::string(call.request.method_string()) +
                                   " is not allowed here",
                               {{http::field::allow, "GET, HEAD"}}});
    reply.route = "static";
    return reply;
  }
  reply.response = ServeWebFile(file, call.request);
  reply.response.set("X-Request-Id", call.context.request_id);
  return reply;
}

Reply Api::Authorized(Call& call) {
  const std::string token = ExtractBearerToken(
      call.request[http::field::authorization], call.request.target());
  if (token.empty()) {
    return Fail(call, Problem{http::status::unauthorized,
                              "a bearer token is required",
                              {{http::field::www_authenticate,
                                "Bearer realm=\"chatstore\""}}});
  }
  Result<Principal> principal =
      tokens_.Verify(token, service_.options().clock->Now());
  if (!principal.ok()) {
    return Fail(call, Problem{http::status::unauthorized,
                              "the bearer token is invalid: " +
                                  principal.status().message(),
                              {{http::field::www_authenticate,
                                "Bearer realm=\"chatstore\", "
                                "error=\"invalid_token\""}}});
  }
  call.principal = std::move(*principal);
  if (call.route.access == Access::kAdmin && !call.principal.admin) {
    return Fail(call, Problem{http::status::forbidden,
                              "this endpoint needs the admin scope",
                              {}});
  }
  const int retry_after = user_limiter_.Acquire(
      call.principal.user_id, std::chrono::steady_clock::now());
  if (retry_after > 0) {
    return Fail(
        call,
        Problem{http::status::too_many_requests,
                "rate limit exceeded; retry later",
                {{http::field::retry_after, std::to_string(retry_after)}}});
  }
  const std::string_view key = call.request["Idempotency-Key"];
  if (IsWrite(call.request.method()) && !key.empty()) {
    return WithIdempotency(call, key);
  }
  return Dispatch(call);
}

Reply Api::WithIdempotency(Call& call, std::string_view key) {
  if (!IsValidIdempotencyKey(key)) {
    return Fail(call, Status::InvalidArgument(
                          "header 'Idempotency-Key' must be 1-255 printable "
                          "characters"));
  }
  const std::string fingerprint = RequestFingerprint(
      call.request.method_string(), call.request.target(), call.request.body());
  const std::string& user = call.principal.user_id;
  IdempotencyTable::Lookup lookup = idempotency_.Begin(
      user, key, fingerprint, std::chrono::steady_clock::now());
  switch (lookup.outcome) {
    case IdempotencyTable::Outcome::kMismatch:
      return Fail(call,
                  Status::Conflict("Idempotency-Key was already used for a "
                                   "different request"));
    case IdempotencyTable::Outcome::kInProgress:
      return Fail(
          call, Status::Conflict("a request with this Idempotency-Key is still "
                                 "in progress"));
    case IdempotencyTable::Outcome::kReplay: {
      Reply reply;
      HttpResponse& response = reply.response;
      response.result(lookup.answer->status);
      response.version(call.request.version());
      for (const auto& [name, value] : lookup.answer->headers) {
        response.set(name, value);
      }
      response.set("X-Request-Id", call.context.request_id);
      response.set("Idempotent-Replayed", "true");
      response.body() = lookup.answer->body;
      response.keep_alive(call.request.keep_alive());
      response.prepare_payload();
      return reply;
    }
    case IdempotencyTable::Outcome::kFirst:
      break;
  }
  Reply reply = Dispatch(call);
  const unsigned status = reply.response.result_int();
  if (status >= 500 || status == 429) {
    // Not a final answer: a retry must run the request again.
    idempotency_.Abandon(user, key);
    return reply;
  }
  StoredAnswer answer;
  answer.status = status;
  answer.body = reply.response.body();
  for (const http::field field :
       {http::field::content_type, http::field::location}) {
    auto it = reply.response.find(field);
    if (it != reply.response.end()) {
      answer.headers.emplace_back(std::string(it->name_string()),
                                  std::string(it->value()));
    }
  }
  idempotency_.Finish(user, key, std::move(answer));
  return reply;
}

Reply Api::Dispatch(Call& call) {
  if (std::optional<Reply> bad_id = RequireIds(call)) {
    return std::move(*bad_id);
  }
  switch (call.route.id) {
    case RouteId::kAnonymousToken:
      return AnonymousToken(call);
    case RouteId::kCreateSession:
      return CreateSession(call);
    case RouteId::kListSessions:
      return ListSessions(call);
    case RouteId::kGetSession:
      return GetSession(call);
    case RouteId::kPatchSession:
      return PatchSession(call);
    case RouteId::kDeleteSession:
      return DeleteSession(call);
    case RouteId::kAddMessage:
      return AddMessage(call);
    case RouteId::kListMessages:
      return ListMessages(call);
    case RouteId::kAppendDelta:
      return AppendDelta(call);
    case RouteId::kCompleteMessage:
      return CompleteMessage(call);
    case RouteId::kAppendEvents:
      return AppendEvents(call);
    case RouteId::kListEvents:
      return ListEvents(call);
    case RouteId::kStream:
      return OpenStream(call);
    case RouteId::kGetContext:
      return GetContext(call);
    case RouteId::kSearch:
      return Search(call);
    case RouteId::kGetPreferences:
      return GetPreferences(call);
    case RouteId::kPutPreferences:
      return PutPreferences(call);
    case RouteId::kExportMe:
      return Export(call, call.principal.user_id);
    case RouteId::kEraseMe:
      return Erase(call, call.principal.user_id);
    case RouteId::kAdminExportUser:
      return Export(call, call.route.params[0]);
    case RouteId::kAdminEraseUser:
      return Erase(call, call.route.params[0]);
    case RouteId::kAdminStats:
      return AdminStats(call);
    case RouteId::kHealthz:
      return Healthz(call);
    case RouteId::kReadyz:
      return Readyz(call);
    case RouteId::kMetrics:
      return RenderMetrics(call);
    case RouteId::kCachePut:
      return CachePut(call);
    case RouteId::kCacheGet:
      return CacheGet(call);
    case RouteId::kCacheDelete:
      return CacheDelete(call);
  }
  return Fail(call, Status::Internal("unrouted"));
}

}  // namespace chatstore::server
