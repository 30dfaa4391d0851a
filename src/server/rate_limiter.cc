#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace chatstore::server {

RateLimiter::RateLimiter(double per_second, double burst, std::size_t max_keys)
    : per_second_(per_second),
      burst_(std::max(1.0, burst)),
      max_keys_(std::max<std::size_t>(1, max_keys)) {}

int RateLimiter::Acquire(std::string_view key, Clock::time_point now) {
  if (!enabled()) return 0;
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) DropFullBuckets(now);
    if (buckets_.size() >= max_keys_) {
      // Every bucket is in use: evicting one would let its owner reset
      // their limit, so the newcomer waits instead.
      return 1;
    }
    it = buckets_.emplace(std::string(key), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  const double elapsed =
      std::chrono::duration<double>(now - bucket.updated).count();
  bucket.tokens = std::min(burst_, bucket.tokens + elapsed * per_second_);
  bucket.updated = now;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return std::max(
      1, static_cast<int>(std::ceil((1.0 - bucket.tokens) / per_second_)));
}

void RateLimiter::DropFullBuckets(Clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) {
    const double elapsed =
        std::chrono::duration<double>(now - entry.second.updated).count();
    return entry.second.tokens + elapsed * per_second_ >= burst_;
  });
}

}  // namespace chatstore::server
