// Prometheus metrics of the server (text exposition format 0.0.4).
#ifndef CHATSTORE_SERVER_METRICS_H_
#define CHATSTORE_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "chatstore/cache.h"
#include "chatstore/store.h"

namespace chatstore::server {

// Thread-safe. Label sets are bounded: routes are templates, never paths.
class Metrics {
 public:
  void ObserveRequest(std::string_view method, std::string_view route,
                      unsigned status, double seconds);
  // Time spent in one SessionService call chain (store latency as the server
  // sees it, including the wait for a group commit).
  void ObserveServiceCall(std::string_view route, double seconds);
  void StreamOpened() { ++open_streams_; }
  void StreamClosed() { --open_streams_; }
  void SubscriberDropped() { ++subscribers_dropped_; }
  void EventsAppended(std::int64_t n) { events_appended_ += n; }

  // One run of the retention sweeper (sweeper.h): sessions removed per rule
  // ("expired", "inactive", "never_used"), whether a store call failed.
  void SweeperRan(const std::array<std::int64_t, 3>& swept_by_rule, bool failed,
                  double seconds);

  std::int64_t open_streams() const { return open_streams_.load(); }

  // One configured store's state at render time.
  struct StoreSample {
    std::string role;  // "primary" or "ephemeral"
    std::string kind;  // "sqlite", "memory", ...
    bool up = false;
    std::optional<StoreStats> stats;
  };
  std::string Render(const std::vector<StoreSample>& stores);
  // Appends the persistent cache's counters and totals to `out`.
  static void RenderCache(std::string& out, const CacheStats& cache);

 private:
  static constexpr std::array<double, 14> kBuckets{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
    void Observe(double seconds);
  };
  static void RenderHistogram(std::string& out, std::string_view name,
                              const std::string& labels, const Histogram& h);

  std::mutex mu_;
  // (method, route, status) -> count
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t>
      requests_;
  std::map<std::pair<std::string, std::string>, Histogram> request_latency_;
  std::map<std::string, Histogram> service_latency_;
  std::atomic<std::int64_t> open_streams_{0};
  std::atomic<std::int64_t> subscribers_dropped_{0};
  std::atomic<std::int64_t> events_appended_{0};
  // The sweeper's counters, under mu_.
  std::uint64_t sweeper_runs_ = 0;
  std::uint64_t sweeper_errors_ = 0;
  std::array<std::int64_t, 3> swept_by_rule_{};
  double sweeper_last_seconds_ = 0;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_METRICS_H_
