// The child process of the multi-process cache test: many Sets, Gets and
// Deletes of self-checking values on a cache directory that other
// processes use at the same time.
//
// Usage: cache_hammer_worker DIR WORKER_ID OPS MAX_BYTES
// Exit status 0 when every operation succeeded (a miss is fine) and every
// value read was whole; 1 on an error, 2 on a torn or misplaced value (the
// reason is printed).
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "cache/checked_value.h"
#include "chatstore/cache.h"

int main(int argc, char** argv) {
  using chatstore::testing::CheckedValue;
  using chatstore::testing::CheckValue;
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DIR WORKER_ID OPS MAX_BYTES\n", argv[0]);
    return 1;
  }
  const std::string dir = argv[1];
  const int worker = std::atoi(argv[2]);
  const int ops = std::atoi(argv[3]);
  chatstore::CacheOptions options;
  options.max_bytes = std::strtoull(argv[4], nullptr, 10);
  auto cache = chatstore::OpenCache(dir, options);
  if (!cache.ok()) {
    std::printf("open: %s\n", cache.status().ToString().c_str());
    return 1;
  }
  // Sizes on both sides of the 32 KiB file threshold, and a large one.
  const std::size_t sizes[] = {60, 1000, 32767, 32768, 32769, 100000};
  std::mt19937_64 rng(static_cast<std::uint64_t>(worker) * 7919 + 1);
  std::string value;
  for (int i = 0; i < ops; ++i) {
    const std::string key = "k" + std::to_string(rng() % 48);
    const int op = static_cast<int>(rng() % 10);
    if (op < 4) {
      const std::size_t size = sizes[rng() % std::size(sizes)];
      chatstore::Status s =
          (*cache)->Set("hammer", key, CheckedValue(key, size, rng()));
      if (!s.ok()) {
        std::printf("set %s: %s\n", key.c_str(), s.ToString().c_str());
        return 1;
      }
    } else if (op < 9) {
      chatstore::Status s = (*cache)->Get("hammer", key, &value);
      if (s.IsNotFound()) continue;
      if (!s.ok()) {
        std::printf("get %s: %s\n", key.c_str(), s.ToString().c_str());
        return 1;
      }
      if (std::string why = CheckValue(key, value); !why.empty()) {
        std::printf("get %s: %s\n", key.c_str(), why.c_str());
        return 2;
      }
    } else {
      auto deleted = (*cache)->Delete("hammer", key);
      if (!deleted.ok()) {
        std::printf("delete %s: %s\n", key.c_str(),
                    deleted.status().ToString().c_str());
        return 1;
      }
    }
  }
  return 0;
}
