// Idempotency-Key support: the first answer to a (user, key) pair is kept for
// 24 hours and replayed for retries, so a retried write is never applied
// twice. The table lives in this process's memory: with several chatstored
// instances, a retry must reach the same instance to be recognised.
#ifndef CHATSTORE_SERVER_IDEMPOTENCY_H_
#define CHATSTORE_SERVER_IDEMPOTENCY_H_

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatstore::server {

// The parts of a response that a replay repeats.
struct StoredAnswer {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Thread-safe. Bounded: the oldest entries are evicted beyond `max_entries`.
class IdempotencyTable {
 public:
  using Clock = std::chrono::steady_clock;

  explicit IdempotencyTable(std::size_t max_entries = 100000,
                            std::chrono::seconds ttl = std::chrono::hours(24));

  enum class Outcome {
    kFirst,       // run the request, then Finish() or Abandon()
    kReplay,      // `answer` holds the first answer
    kMismatch,    // the key was used for a different request: 409
    kInProgress,  // the first request with this key is still running: 409
  };
  struct Lookup {
    Outcome outcome;
    std::optional<StoredAnswer> answer;
  };

  // `fingerprint` identifies the request (method, target, body hash).
  Lookup Begin(std::string_view user_id, std::string_view key,
               std::string_view fingerprint, Clock::time_point now);
  // Records the answer of a kFirst request.
  void Finish(std::string_view user_id, std::string_view key,
              StoredAnswer answer);
  // Forgets a kFirst request that did not produce a final answer (5xx,
  // 429), so a retry runs it.
  void Abandon(std::string_view user_id, std::string_view key);

  std::size_t size();

 private:
  struct Entry {
    std::string fingerprint;
    Clock::time_point created;
    std::optional<StoredAnswer> answer;  // nullopt while in progress
    std::list<std::string>::iterator order;
  };
  static std::string TableKey(std::string_view user_id, std::string_view key);
  void Expire(Clock::time_point now);

  const std::size_t max_entries_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // oldest first
};

// SHA-256 of the request's method, target and body, hex encoded.
std::string RequestFingerprint(std::string_view method, std::string_view target,
                               std::string_view body);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_IDEMPOTENCY_H_
