// Handlers of the identity, preferences, export/erasure and admin routes.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "chatstore/ids.h"
#include "core/wire_format.h"
#include "server/api.h"
#include "server/request_decoding.h"
#include "server/resource_json.h"

namespace chatstore::server {
namespace json = boost::json;

Reply Api::AnonymousToken(Call& call) {
  // No user yet: the client address is what a flood of new identities has
  // in common.
  const int retry_after = address_limiter_.Acquire(
      call.context.remote_address, std::chrono::steady_clock::now());
  if (retry_after > 0) {
    return Fail(
        call,
        Problem{http::status::too_many_requests,
                "too many anonymous tokens from this address",
                {{http::field::retry_after, std::to_string(retry_after)}}});
  }
  const Timestamp now = service_.options().clock->Now();
  TokenClaims claims;
  claims.subject = "anon:" + NewId(now);
  claims.anonymous = true;
  claims.expires_at =
      now + std::chrono::duration_cast<std::chrono::milliseconds>(
                options_.anonymous_ttl);
  Result<std::string> token = tokens_.Sign(claims, now);
  if (!token.ok()) return Fail(call, token.status());
  call.principal.user_id = claims.subject;
  std::string out = "{\"token\":";
  wire::AppendQuoted(out, *token);
  out += ",\"user_id\":";
  wire::AppendQuoted(out, claims.subject);
  out += ",\"anonymous\":true,\"expires_at\":\"";
  out += FormatTimestamp(claims.expires_at);
  out += "\"}";
  return Json(call, http::status::created, std::move(out));
}

Reply Api::GetPreferences(Call& call) {
  Result<Preferences> prefs = service_.GetPreferences(call.principal.user_id);
  if (!prefs.ok()) return Fail(call, prefs.status());
  return Json(call, http::status::ok, wire::PreferencesJson(*prefs));
}

Reply Api::PutPreferences(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<Preferences> prefs = DecodePreferences(body);
  if (!prefs.ok()) return Fail(call, prefs.status());
  Status stored = service_.PutPreferences(call.principal.user_id, *prefs);
  if (!stored.ok()) return Fail(call, stored);
  return Json(call, http::status::ok, wire::PreferencesJson(*prefs));
}

void Api::Audit(const Call& call, std::string action, std::string target,
                const Status& status,
                std::vector<std::pair<std::string, std::int64_t>> counts) {
  if (options_.audit_log == nullptr) return;
  AuditRecord record;
  const bool admin_route = call.route.access == Access::kAdmin;
  record.actor = (admin_route ? "admin:" : "user:") + call.principal.user_id;
  record.action = std::move(action);
  record.target = std::move(target);
  record.outcome = AuditOutcome(status);
  record.counts = std::move(counts);
  // The answer has been decided; a record that cannot be written is an
  // operator's alarm, not the caller's error.
  if (Status s = options_.audit_log->Record(record); !s.ok()) {
    spdlog::error("audit log: {}", s.ToString());
  }
}

Reply Api::Export(Call& call, const std::string& user_id) {
  Reply reply;
  HttpResponse& head = reply.response;
  head.result(http::status::ok);
  head.version(call.request.version());
  head.set(http::field::content_type, "application/json");
  head.set(http::field::content_disposition,
           "attachment; filename=\"chatstore-export.json\"");
  head.set(http::field::cache_control, "no-store");
  head.set("X-Request-Id", call.context.request_id);
  head.keep_alive(call.request.keep_alive());
  reply.stream = ExportStart{user_id};
  // Recorded when the export is granted; the document follows as a stream.
  Audit(call, "export", user_id, Status::Ok());
  return reply;
}

Reply Api::Erase(Call& call, const std::string& user_id) {
  // The cache first: if it fails the user's sessions are still there and a
  // retry erases everything. (API.md's answer has no field for the cache.)
  Result<std::int64_t> cached =
      cache_.EraseNamespacePrefix(UserCacheNamespacePrefix(user_id));
  if (!cached.ok()) return Fail(call, cached.status());
  Result<EraseCounts> counts = service_.EraseUser(user_id);
  const EraseCounts erased = counts.ok() ? *counts : EraseCounts{};
  Audit(call, "erase", user_id, counts.status(),
        {{"sessions_deleted", erased.sessions},
         {"messages_deleted", erased.messages},
         {"events_deleted", erased.events}});
  if (!counts.ok()) return Fail(call, counts.status());
  // Erasure publishes no session.deleted events: end the streams here.
  hub_.CloseUser(user_id);
  return Json(call, http::status::ok,
              "{\"sessions_deleted\":" + std::to_string(counts->sessions) +
                  ",\"messages_deleted\":" + std::to_string(counts->messages) +
                  ",\"events_deleted\":" + std::to_string(counts->events) +
                  "}");
}

Reply Api::AdminStats(Call& call) {
  json::object out;
  json::array stores;
  auto describe = [&](std::string_view role, Store& store) {
    json::object entry;
    entry["role"] = role;
    entry["kind"] = store.kind();
    const Status ping = store.Ping();
    entry["healthy"] = ping.ok();
    if (!ping.ok()) entry["error"] = ping.ToString();
    Result<StoreStats> stats = store.Stats();
    if (stats.ok()) {
      entry["sessions"] = stats->sessions;
      entry["messages"] = stats->messages;
      entry["events"] = stats->events;
      entry["bytes"] = stats->bytes;
      entry["commits"] = stats->commits;
      entry["committed_changes"] = stats->committed_changes;
    }
    stores.push_back(std::move(entry));
  };
  describe("primary", service_.primary());
  if (Store* ephemeral = service_.ephemeral())
    describe("ephemeral", *ephemeral);
  out["stores"] = std::move(stores);
  Result<CacheStats> cache = cache_.Stats();
  if (cache.ok()) {
    out["cache"] = {
        {"entries", cache->entries},     {"bytes", cache->bytes},
        {"hits", cache->hits},           {"misses", cache->misses},
        {"evictions", cache->evictions}, {"expired", cache->expired}};
  } else {
    out["cache"] = {{"error", cache.status().ToString()}};
  }
  Audit(call, "read.stats", "*", Status::Ok());
  out["open_streams"] = metrics_.open_streams();
  out["idempotency_keys"] = idempotency_.size();
  return Json(call, http::status::ok, json::serialize(out));
}

}  // namespace chatstore::server
