// The retention sweeper of chatstored: a thread owned by the server that,
// every interval, removes expired ephemeral sessions, persistent sessions
// past their retention and sessions that never received a message
// (chatstore/retention.h), in bounded batches so writers never wait long
// behind it. Started with the server and stopped (joined) before the
// stores close.
#ifndef CHATSTORE_SERVER_SWEEPER_H_
#define CHATSTORE_SERVER_SWEEPER_H_

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "chatstore/clock.h"
#include "chatstore/retention.h"
#include "chatstore/store.h"
#include "server/metrics.h"

namespace chatstore::server {

struct SweeperOptions {
  std::shared_ptr<Clock> clock = SystemClock();
  std::chrono::seconds interval{60};
  RetentionPolicy policy;
  SweepLimits limits;
};

// What one run removed, by rule (indexed by SweepRule).
struct SweepRun {
  std::array<EraseCounts, 3> by_rule{};
  bool failed = false;
};

class Sweeper {
 public:
  // Called for each removed session (from the sweeper's thread), e.g. to end
  // its live streams.
  using RemovedCallback = std::function<void(const std::string& session_id)>;

  // `ephemeral` may be null. The stores and `metrics` must outlive the
  // Sweeper.
  Sweeper(std::shared_ptr<Store> primary, std::shared_ptr<Store> ephemeral,
          Metrics& metrics, SweeperOptions options, RemovedCallback on_removed);
  ~Sweeper();  // Stop()

  // Starts the thread: the first run one interval from now.
  void Start();
  // Ends the thread, waiting for a batch in progress (one bounded store
  // call). Idempotent.
  void Stop();

  // One run of every rule at the clock's now, rule by rule (expired,
  // inactive, never used), on the ephemeral store (but for inactive, which
  // never selects an ephemeral session) and the primary store. Reports to
  // the metrics and the log. Thread-compatible:
  // the thread calls it; tests call it directly without Start().
  SweepRun RunOnce();

 private:
  void Loop();
  bool Stopping();

  const std::shared_ptr<Store> primary_;
  const std::shared_ptr<Store> ephemeral_;
  Metrics& metrics_;
  const SweeperOptions options_;
  const RemovedCallback on_removed_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // under mu_
  std::thread thread_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_SWEEPER_H_
