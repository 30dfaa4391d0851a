// Handlers of the persistent cache: PUT/GET/DELETE /v1/cache/{namespace}/{key}
// (bytes in, bytes out; docs/cache.md). A caller's namespaces are their own:
// `{namespace}` is mapped into the user's part of the cache, so users never
// see each other's entries and erasing a user erases their cache. An admin
// may also address `shared:<name>`, one namespace for everybody.
#include <string>
#include <string_view>

#include "chatstore/cache.h"
#include "server/api.h"
#include "server/request_decoding.h"

namespace chatstore::server {
namespace {

constexpr std::string_view kSharedPrefix = "shared:";
constexpr std::size_t kMaxNamespaceName = 64;
constexpr std::size_t kMaxKey = 512;
// Not the key itself: it may hold bytes that are not UTF-8.
constexpr char kNoEntry[] = "no such cache entry";
// The longest TTL: ten years, in seconds.
constexpr std::int64_t kMaxTtlSeconds = 10LL * 365 * 24 * 3600;

// [A-Za-z0-9._-]{1,64}, not "." or "..": safe in logs and URLs, and no
// path segment a proxy would rewrite.
bool IsNamespaceName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNamespaceName || name == "." ||
      name == "..") {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// 1-512 bytes, no control characters, not "." or "..". Keys never become
// file names (values live under random names), so other bytes are safe.
bool IsKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKey || key == "." || key == "..") {
    return false;
  }
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::optional<Reply> Api::ResolveCacheEntry(const Call& call, std::string* ns,
                                            std::string* key) {
  const std::string& name = call.route.params[0];
  const bool shared = name.starts_with(kSharedPrefix);
  if (!IsNamespaceName(shared
                           ? std::string_view(name).substr(kSharedPrefix.size())
                           : std::string_view(name))) {
    return Fail(call, Status::InvalidArgument(
                          "path parameter 'namespace' must be 1-64 of "
                          "A-Z a-z 0-9 . _ - (or shared:<that> for admins)"));
  }
  if (!IsKey(call.route.params[1])) {
    return Fail(call, Status::InvalidArgument(
                          "path parameter 'key' must be 1-512 bytes without "
                          "control characters, and not '.' or '..'"));
  }
  if (shared && !call.principal.admin) {
    return Fail(call, Problem{http::status::forbidden,
                              "shared cache namespaces need the admin scope",
                              {}});
  }
  *ns = shared ? name : UserCacheNamespace(call.principal.user_id, name);
  *key = call.route.params[1];
  return std::nullopt;
}

Reply Api::CachePut(Call& call) {
  std::string ns;
  std::string key;
  if (auto refused = ResolveCacheEntry(call, &ns, &key)) {
    return std::move(*refused);
  }
  std::optional<std::chrono::milliseconds> ttl;
  if (std::optional<std::string> text = QueryString(call.query, "ttl")) {
    const std::optional<std::int64_t> seconds = ParseSeq(*text);
    if (!seconds || *seconds < 1 || *seconds > kMaxTtlSeconds) {
      return Fail(call, Status::InvalidArgument(
                            "query parameter 'ttl' must be a whole number of "
                            "seconds from 1 to " +
                            std::to_string(kMaxTtlSeconds)));
    }
    ttl = std::chrono::seconds(*seconds);
  }
  const Status stored = cache_.Set(ns, key, call.request.body(), ttl);
  if (stored.code() == Status::Code::kResourceExhausted) {
    // The value is larger than the cache may hold: the body is too large.
    return Fail(call,
                Problem{http::status::payload_too_large, stored.message(), {}});
  }
  if (!stored.ok()) return Fail(call, stored);
  return Json(call, http::status::no_content, "");
}

Reply Api::CacheGet(Call& call) {
  std::string ns;
  std::string key;
  if (auto refused = ResolveCacheEntry(call, &ns, &key)) {
    return std::move(*refused);
  }
  std::string value;
  const Status found = cache_.Get(ns, key, &value);
  if (found.IsNotFound()) {
    return Fail(call, Status::NotFound(kNoEntry));
  }
  if (!found.ok()) return Fail(call, found);
  Reply reply = Json(call, http::status::ok, std::move(value));
  reply.response.set(http::field::content_type, "application/octet-stream");
  // A user's cached bytes are theirs alone: no shared HTTP cache keeps them.
  reply.response.set(http::field::cache_control, "private, no-store");
  return reply;
}

Reply Api::CacheDelete(Call& call) {
  std::string ns;
  std::string key;
  if (auto refused = ResolveCacheEntry(call, &ns, &key)) {
    return std::move(*refused);
  }
  const Result<bool> deleted = cache_.Delete(ns, key);
  if (!deleted.ok()) return Fail(call, deleted.status());
  if (!*deleted) {
    return Fail(call, Status::NotFound(kNoEntry));
  }
  return Json(call, http::status::no_content, "");
}

}  // namespace chatstore::server
