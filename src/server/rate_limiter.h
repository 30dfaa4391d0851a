// Per-key token buckets (a key is a user id, or a client address for the
// unauthenticated anonymous-token route).
#ifndef CHATSTORE_SERVER_RATE_LIMITER_H_
#define CHATSTORE_SERVER_RATE_LIMITER_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatstore::server {

// Thread-safe. Memory is bounded: at most `max_keys` buckets are kept, and
// buckets that have refilled completely are dropped first (forgetting a
// full bucket changes nothing).
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_second` <= 0 disables limiting.
  RateLimiter(double per_second, double burst, std::size_t max_keys = 100000);

  // Takes one token for `key`. Returns 0 when allowed, otherwise the whole
  // seconds (>= 1) until a token is available: the Retry-After value.
  int Acquire(std::string_view key, Clock::time_point now);

  bool enabled() const { return per_second_ > 0; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void DropFullBuckets(Clock::time_point now);

  const double per_second_;
  const double burst_;
  const std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_RATE_LIMITER_H_
