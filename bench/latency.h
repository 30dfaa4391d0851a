// Helpers shared by the benchmarks: per-operation latency percentiles and
// scratch directories.
#ifndef CHATSTORE_BENCH_LATENCY_H_
#define CHATSTORE_BENCH_LATENCY_H_

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace chatstore::bench {

// A new empty directory for a benchmark's files: under $CHATSTORE_BENCH_DIR
// when set (to compare with another tool on the same disk), else /tmp.
inline std::string TempDir() {
  const char* parent = std::getenv("CHATSTORE_BENCH_DIR");
  std::string tmpl = std::string(parent != nullptr ? parent : "/tmp") +
                     "/chatstore-bench-XXXXXX";
  const char* dir = mkdtemp(tmpl.data());
  if (dir == nullptr) std::abort();
  return dir;
}

// Per-operation latencies -> p50/p99 counters (microseconds).
class LatencyRecorder {
 public:
  void Add(std::chrono::nanoseconds d) { samples_.push_back(d.count()); }
  void Report(benchmark::State& state) {
    if (samples_.empty()) return;
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double q) {
      return samples_[static_cast<std::size_t>(q * (samples_.size() - 1))] /
             1000.0;
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
  }

 private:
  std::vector<std::int64_t> samples_;
};

// Runs `op` once per benchmark iteration, timing each call.
template <typename F>
void TimeEach(benchmark::State& state, F&& op) {
  LatencyRecorder rec;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    op();
    rec.Add(std::chrono::steady_clock::now() - t0);
  }
  rec.Report(state);
}

}  // namespace chatstore::bench

#endif  // CHATSTORE_BENCH_LATENCY_H_
