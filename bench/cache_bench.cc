// The persistent cache (include/chatstore/cache.h), operation by operation,
// with the same workloads as bench/cache_diskcache.py runs on python's
// diskcache; bench/cache_compare.sh runs both in one invocation and prints
// the ratios recorded in bench/README.md.
//
// Every benchmark opens a fresh cache directory (under $CHATSTORE_BENCH_DIR
// when set), does a fixed number of operations and reports p50/p99 counters
// in microseconds.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chatstore/cache.h"
#include "latency.h"

namespace chatstore {
namespace {

constexpr int kSmallOps = 20000;  // small Sets, then as many Gets
constexpr int kLargeOps = 1000;   // large Sets over kLargeKeys keys
constexpr int kLargeKeys = 100;
constexpr std::size_t kSmallBytes = 100;
constexpr std::size_t kLargeBytes = 256 * 1024;

std::string Key(int i) { return "key-" + std::to_string(i); }

std::string Bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + 7);
  return s;
}

// A cache in a new directory, removed with it.
struct ScratchCache {
  ScratchCache() : dir(bench::TempDir()) {
    auto opened = OpenCache(dir, {});
    if (!opened.ok()) std::abort();
    cache = std::move(*opened);
  }
  ~ScratchCache() {
    cache.reset();
    std::filesystem::remove_all(dir);
  }
  std::string dir;
  std::unique_ptr<Cache> cache;
};

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::abort();
  }
}

void Fill(Cache& cache, int n, const std::string& value, int keys) {
  for (int i = 0; i < n; ++i) Check(cache.Set("bench", Key(i % keys), value));
}

// kSmallOps Sets of new keys with 100-byte values.
void BM_CacheSetSmall(benchmark::State& state) {
  ScratchCache s;
  const std::string value = Bytes(kSmallBytes);
  std::vector<std::string> keys;
  for (int i = 0; i < kSmallOps; ++i) keys.push_back(Key(i));
  int i = 0;
  bench::TimeEach(state,
                  [&] { Check(s.cache->Set("bench", keys[i++], value)); });
}
BENCHMARK(BM_CacheSetSmall)
    ->Iterations(kSmallOps)
    ->Unit(benchmark::kMicrosecond);

// kSmallOps Gets (hits) of 100-byte values.
void BM_CacheGetSmall(benchmark::State& state) {
  ScratchCache s;
  Fill(*s.cache, kSmallOps, Bytes(kSmallBytes), kSmallOps);
  std::vector<std::string> keys;
  for (int i = 0; i < kSmallOps; ++i) keys.push_back(Key(i));
  std::string value;
  int i = 0;
  bench::TimeEach(state,
                  [&] { Check(s.cache->Get("bench", keys[i++], &value)); });
}
BENCHMARK(BM_CacheGetSmall)
    ->Iterations(kSmallOps)
    ->Unit(benchmark::kMicrosecond);

// kSmallOps Gets of a key that is not there.
void BM_CacheGetMiss(benchmark::State& state) {
  ScratchCache s;
  Fill(*s.cache, kSmallOps, Bytes(kSmallBytes), kSmallOps);
  std::string value;
  bench::TimeEach(state, [&] {
    if (s.cache->Get("bench", "absent", &value).ok()) std::abort();
  });
}
BENCHMARK(BM_CacheGetMiss)
    ->Iterations(kSmallOps)
    ->Unit(benchmark::kMicrosecond);

// kLargeOps Sets of 256 KiB values (files) over kLargeKeys keys: after the
// first round each Set replaces an entry and deletes its old file.
void BM_CacheSetLarge(benchmark::State& state) {
  ScratchCache s;
  const std::string value = Bytes(kLargeBytes);
  std::vector<std::string> keys;
  for (int i = 0; i < kLargeKeys; ++i) keys.push_back(Key(i));
  int i = 0;
  bench::TimeEach(state, [&] {
    Check(s.cache->Set("bench", keys[i++ % kLargeKeys], value));
  });
}
BENCHMARK(BM_CacheSetLarge)
    ->Iterations(kLargeOps)
    ->Unit(benchmark::kMicrosecond);

// kLargeOps Gets of 256 KiB values.
void BM_CacheGetLarge(benchmark::State& state) {
  ScratchCache s;
  Fill(*s.cache, kLargeKeys, Bytes(kLargeBytes), kLargeKeys);
  std::vector<std::string> keys;
  for (int i = 0; i < kLargeKeys; ++i) keys.push_back(Key(i));
  std::string value;
  int i = 0;
  bench::TimeEach(state, [&] {
    Check(s.cache->Get("bench", keys[i++ % kLargeKeys], &value));
  });
}
BENCHMARK(BM_CacheGetLarge)
    ->Iterations(kLargeOps)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace chatstore

BENCHMARK_MAIN();
