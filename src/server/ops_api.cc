// Handlers of the operational routes: liveness, readiness, metrics.
#include <string>
#include <vector>

#include "server/api.h"

namespace chatstore::server {

Reply Api::Healthz(Call& call) {
  return Json(call, http::status::ok, "{\"status\":\"ok\"}");
}

Reply Api::Readyz(Call& call) {
  std::string down;
  auto check = [&](std::string_view role, Store& store) {
    const Status ping = store.Ping();
    if (ping.ok()) return;
    if (!down.empty()) down += "; ";
    down += std::string(role) + " store (" + std::string(store.kind()) +
            ") is down: " + ping.message();
  };
  check("primary", service_.primary());
  if (Store* ephemeral = service_.ephemeral()) check("ephemeral", *ephemeral);
  if (!down.empty()) {
    return Fail(call, Problem{http::status::service_unavailable, down, {}});
  }
  return Json(call, http::status::ok, "{\"status\":\"ready\"}");
}

Reply Api::RenderMetrics(Call& call) {
  std::vector<Metrics::StoreSample> samples;
  auto sample = [&](std::string role, Store& store) {
    Metrics::StoreSample s;
    s.role = std::move(role);
    s.kind = std::string(store.kind());
    s.up = store.Ping().ok();
    Result<StoreStats> stats = store.Stats();
    if (stats.ok()) s.stats = *stats;
    samples.push_back(std::move(s));
  };
  sample("primary", service_.primary());
  if (Store* ephemeral = service_.ephemeral()) sample("ephemeral", *ephemeral);
  std::string text = metrics_.Render(samples);
  if (Result<CacheStats> cache = cache_.Stats(); cache.ok()) {
    Metrics::RenderCache(text, *cache);
  }
  Reply reply = Json(call, http::status::ok, std::move(text));
  reply.response.set(http::field::content_type,
                     "text/plain; version=0.0.4; charset=utf-8");
  return reply;
}

}  // namespace chatstore::server
