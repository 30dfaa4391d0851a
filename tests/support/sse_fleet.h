// Load clients for chatstored's SSE fan-out, shared by the soak test
// (tests/server/soak_test.cc) and the load benchmark (bench/sse_load.cc):
// SseFleet holds many SSE streams on a few threads and checks that each one
// receives its session's events in order, once; EventAppender appends
// timestamped events at a steady rate. Delivery latency is measured from the
// appender's send to the stream's receipt (one machine, CLOCK_MONOTONIC).
#ifndef CHATSTORE_TESTS_SUPPORT_SSE_FLEET_H_
#define CHATSTORE_TESTS_SUPPORT_SSE_FLEET_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace chatstore::testing {

// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the
// new soft limit.
std::uint64_t RaiseOpenFileLimit();

// Latencies in a fixed histogram (10 µs buckets up to 1 s). Thread-safe.
class LatencyHistogram {
 public:
  LatencyHistogram();
  void Record(std::chrono::nanoseconds latency);
  void Reset();
  std::uint64_t count() const;
  // The q-quantile (0 < q <= 1) in microseconds; 0 when empty.
  double PercentileMicros(double q) const;
  double MaxMicros() const;

 private:
  static constexpr int kBucketMicros = 10;
  static constexpr int kBuckets = 100'000;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> max_ns_{0};
};

struct FleetOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string token;
  // Stream i follows sessions[i % sessions.size()] from its first event.
  std::vector<std::string> sessions;
  int streams = 1000;
  int threads = 1;
  // Streams connected at a time while opening (the listen backlog).
  int open_batch = 500;
};

struct FleetStats {
  int established = 0;  // answered 200 and sent their first event
  int ended = 0;        // closed by the server or failed
  std::uint64_t events = 0;
  // Events whose seq was not the previous one + 1 (lost, repeated or out
  // of order), over all streams.
  std::uint64_t order_errors = 0;
};

class SseFleet {
 public:
  explicit SseFleet(FleetOptions options);
  ~SseFleet();  // closes every stream
  SseFleet(const SseFleet&) = delete;
  SseFleet& operator=(const SseFleet&) = delete;

  // Opens every stream, in batches; true when all are established before
  // the deadline.
  bool Open(std::chrono::seconds deadline);
  // Waits until every stream of session s has received event last_seq[s]
  // (and so, with no order error, all before it).
  bool WaitForAll(const std::map<std::string, std::int64_t>& last_seq,
                  std::chrono::seconds deadline) const;
  FleetStats Stats() const;
  // Per stream: the last seq received.
  std::vector<std::int64_t> LastSeqs() const;
  // Delivery latency of events carrying {"t": <steady ns>}.
  LatencyHistogram& latency() { return latency_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  LatencyHistogram latency_;
};

// Creates `n` sessions for the token's user over HTTP; their ids (fewer
// when a request failed).
std::vector<std::string> CreateSessions(const std::string& host,
                                        std::uint16_t port,
                                        const std::string& token, int n);

// Appends {"type":"load.tick","data":{"t":<steady ns>}} round-robin to
// `sessions` at `events_per_second` in total, over `connections` keep-alive
// connections (each with its own thread, so one slow commit does not hold
// the pace back), until Stop().
class EventAppender {
 public:
  EventAppender(std::string host, std::uint16_t port, std::string token,
                std::vector<std::string> sessions, double events_per_second,
                int connections = 4);
  ~EventAppender();  // stops
  void Start();
  void Stop();
  // After Stop(): the last seq answered per session.
  std::map<std::string, std::int64_t> last_seq() const;
  std::uint64_t appended() const { return appended_; }
  std::uint64_t failures() const { return failures_; }
  // Send-to-answer latency of the appends.
  LatencyHistogram& latency() { return latency_; }

 private:
  void Run(int connection);

  const std::string host_;
  const std::uint16_t port_;
  const std::string token_;
  const std::vector<std::string> sessions_;
  const double events_per_second_;
  const int connections_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> appended_{0};
  std::atomic<std::uint64_t> failures_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> last_seq_;  // guarded by mu_
  LatencyHistogram latency_;
  std::vector<std::thread> threads_;
};

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_SSE_FLEET_H_
