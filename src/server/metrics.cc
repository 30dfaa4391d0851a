#include "server/metrics.h"

#include <cstdio>
#include <string>

namespace chatstore::server {
namespace {

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void AppendLine(std::string& out, std::string_view name,
                std::string_view labels, const std::string& value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void AppendHelp(std::string& out, std::string_view name, std::string_view type,
                std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void Metrics::Histogram::Observe(double seconds) {
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++counts[i];
  }
  ++count;
  sum += seconds;
}

void Metrics::ObserveRequest(std::string_view method, std::string_view route,
                             unsigned status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(method), std::string(route), status}];
  request_latency_[{std::string(method), std::string(route)}].Observe(seconds);
}

void Metrics::SweeperRan(const std::array<std::int64_t, 3>& swept_by_rule,
                         bool failed, double seconds) {
  std::lock_guard lock(mu_);
  ++sweeper_runs_;
  if (failed) ++sweeper_errors_;
  for (std::size_t i = 0; i < swept_by_rule.size(); ++i) {
    swept_by_rule_[i] += swept_by_rule[i];
  }
  sweeper_last_seconds_ = seconds;
}

void Metrics::ObserveServiceCall(std::string_view route, double seconds) {
  std::lock_guard lock(mu_);
  service_latency_[std::string(route)].Observe(seconds);
}

void Metrics::RenderHistogram(std::string& out, std::string_view name,
                              const std::string& labels, const Histogram& h) {
  const std::string prefix = labels.empty() ? "" : labels + ",";
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    AppendLine(out, std::string(name) + "_bucket",
               prefix + "le=\"" + FormatDouble(kBuckets[i]) + "\"",
               std::to_string(h.counts[i]));
  }
  AppendLine(out, std::string(name) + "_bucket", prefix + "le=\"+Inf\"",
             std::to_string(h.count));
  AppendLine(out, std::string(name) + "_sum", labels, FormatDouble(h.sum));
  AppendLine(out, std::string(name) + "_count", labels,
             std::to_string(h.count));
}

std::string Metrics::Render(const std::vector<StoreSample>& stores) {
  std::string out;
  {
    std::lock_guard lock(mu_);
    AppendHelp(out, "chatstore_http_requests_total", "counter",
               "HTTP requests by method, route template and status.");
    for (const auto& [key, count] : requests_) {
      const auto& [method, route, status] = key;
      AppendLine(out, "chatstore_http_requests_total",
                 "method=\"" + method + "\",route=\"" + route + "\",status=\"" +
                     std::to_string(status) + "\"",
                 std::to_string(count));
    }
    AppendHelp(out, "chatstore_http_request_duration_seconds", "histogram",
               "HTTP request latency (for streams: until the stream starts).");
    for (const auto& [key, histogram] : request_latency_) {
      RenderHistogram(
          out, "chatstore_http_request_duration_seconds",
          "method=\"" + key.first + "\",route=\"" + key.second + "\"",
          histogram);
    }
    AppendHelp(out, "chatstore_service_call_duration_seconds", "histogram",
               "Time spent in store-backed service calls per route.");
    for (const auto& [route, histogram] : service_latency_) {
      RenderHistogram(out, "chatstore_service_call_duration_seconds",
                      "route=\"" + route + "\"", histogram);
    }
  }
  {
    std::lock_guard lock(mu_);
    AppendHelp(out, "chatstore_sweeper_runs_total", "counter",
               "Runs of the retention sweeper.");
    AppendLine(out, "chatstore_sweeper_runs_total", "",
               std::to_string(sweeper_runs_));
    AppendHelp(out, "chatstore_sweeper_errors_total", "counter",
               "Sweeper runs that a store error cut short.");
    AppendLine(out, "chatstore_sweeper_errors_total", "",
               std::to_string(sweeper_errors_));
    AppendHelp(out, "chatstore_swept_sessions_total", "counter",
               "Sessions the sweeper removed, by rule.");
    for (SweepRule rule :
         {SweepRule::kExpired, SweepRule::kInactive, SweepRule::kNeverUsed}) {
      AppendLine(out, "chatstore_swept_sessions_total",
                 "rule=\"" + std::string(ToString(rule)) + "\"",
                 std::to_string(swept_by_rule_[static_cast<int>(rule)]));
    }
    AppendHelp(out, "chatstore_sweeper_last_run_duration_seconds", "gauge",
               "How long the sweeper's last run took.");
    AppendLine(out, "chatstore_sweeper_last_run_duration_seconds", "",
               FormatDouble(sweeper_last_seconds_));
  }
  AppendHelp(out, "chatstore_sse_open_streams", "gauge",
             "SSE streams currently open.");
  AppendLine(out, "chatstore_sse_open_streams", "",
             std::to_string(open_streams_.load()));
  AppendHelp(out, "chatstore_sse_subscribers_dropped_total", "counter",
             "SSE subscribers disconnected because they fell behind.");
  AppendLine(out, "chatstore_sse_subscribers_dropped_total", "",
             std::to_string(subscribers_dropped_.load()));
  AppendHelp(out, "chatstore_events_appended_total", "counter",
             "Events committed by this process.");
  AppendLine(out, "chatstore_events_appended_total", "",
             std::to_string(events_appended_.load()));

  AppendHelp(out, "chatstore_store_up", "gauge",
             "1 when the store answers a ping.");
  for (const StoreSample& s : stores) {
    AppendLine(out, "chatstore_store_up",
               "store=\"" + s.role + "\",kind=\"" + s.kind + "\"",
               s.up ? "1" : "0");
  }
  struct StatField {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    std::int64_t StoreStats::*field;
  };
  static constexpr StatField kStatFields[] = {
      {"chatstore_store_sessions", "gauge", "Sessions held.",
       &StoreStats::sessions},
      {"chatstore_store_messages", "gauge", "Messages held.",
       &StoreStats::messages},
      {"chatstore_store_events", "gauge", "Events held.", &StoreStats::events},
      {"chatstore_store_bytes", "gauge", "Bytes used, as the backend counts.",
       &StoreStats::bytes},
      {"chatstore_store_group_commits_total", "counter",
       "Group commits (transactions) written.", &StoreStats::commits},
      {"chatstore_store_committed_changes_total", "counter",
       "Changes carried by group commits (divide by commits for the mean "
       "batch size).",
       &StoreStats::committed_changes},
  };
  for (const StatField& f : kStatFields) {
    AppendHelp(out, f.name, f.type, f.help);
    for (const StoreSample& s : stores) {
      if (!s.stats) continue;
      AppendLine(out, f.name,
                 "store=\"" + s.role + "\",kind=\"" + s.kind + "\"",
                 std::to_string((*s.stats).*f.field));
    }
  }
  return out;
}

void Metrics::RenderCache(std::string& out, const CacheStats& cache) {
  struct Field {
    std::string_view name;
    std::string_view type;
    std::string_view help;
    std::uint64_t value;
  };
  const Field fields[] = {
      {"chatstore_cache_hits_total", "counter",
       "Cache reads that found a value (this process).", cache.hits},
      {"chatstore_cache_misses_total", "counter",
       "Cache reads that found none (this process).", cache.misses},
      {"chatstore_cache_evictions_total", "counter",
       "Live cache entries dropped for the size limit (this process).",
       cache.evictions},
      {"chatstore_cache_expired_total", "counter",
       "Expired cache entries removed (this process).", cache.expired},
      {"chatstore_cache_entries", "gauge", "Entries in the cache directory.",
       static_cast<std::uint64_t>(cache.entries)},
      {"chatstore_cache_bytes", "gauge",
       "Bytes the cache's entries count against its size limit.",
       static_cast<std::uint64_t>(cache.bytes)},
  };
  for (const Field& f : fields) {
    AppendHelp(out, f.name, f.type, f.help);
    AppendLine(out, f.name, "", std::to_string(f.value));
  }
}

}  // namespace chatstore::server
