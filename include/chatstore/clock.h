// Time as an injected dependency, so TTL and retention tests never sleep.
#ifndef CHATSTORE_CLOCK_H_
#define CHATSTORE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace chatstore {

// Wall-clock instants with millisecond precision: the API's timestamps are
// RFC 3339 with milliseconds, and every backend stores them as int64 ms.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

inline std::int64_t ToMillis(Timestamp t) {
  return t.time_since_epoch().count();
}
inline Timestamp FromMillis(std::int64_t ms) {
  return Timestamp(std::chrono::milliseconds(ms));
}
// "2026-11-22T01:02:03.456Z"
std::string FormatTimestamp(Timestamp t);

// Thread-safe source of "now".
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

// The real clock (system_clock truncated to milliseconds).
std::shared_ptr<Clock> SystemClock();

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : ms_(ToMillis(start)) {}
  Timestamp Now() const override { return FromMillis(ms_.load()); }
  void Advance(std::chrono::milliseconds d) { ms_ += d.count(); }
  void Set(Timestamp t) { ms_ = ToMillis(t); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace chatstore

#endif  // CHATSTORE_CLOCK_H_
