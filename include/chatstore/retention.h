// Retention: which sessions the sweeper removes, and the batched sweep
// that chatstored's Sweeper and `chatstore sweep` share
// (docs/operations.md, "Retention").
#ifndef CHATSTORE_RETENTION_H_
#define CHATSTORE_RETENTION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/status.h"
#include "chatstore/store.h"

namespace chatstore {

struct RetentionPolicy {
  // Persistent sessions without activity for this long are removed; 0
  // keeps them forever.
  int retention_days = 90;
  // Sessions that never received a message are removed this long after
  // their creation; 0 never removes them for that.
  std::chrono::seconds never_used_grace{86400};
};

// Bounds of one sweep of a store.
struct SweepLimits {
  int batch = 500;                  // sessions per store call (transaction)
  std::int64_t max_total = 100000;  // sessions per rule and run, at most
};

// The rules `policy` enables at `now` with their cutoffs, in the order a
// run applies them: expired (cutoff now), inactive (now - retention),
// never-used (now - grace).
std::vector<SweepRequest> RetentionRules(const RetentionPolicy& policy,
                                         Timestamp now);

// Sweeps `rule` (the request's limit is ignored) in batches of
// `limits.batch` until a batch comes back short or `limits.max_total`
// sessions went, calling `on_batch` after each batch that removed
// something, and `between_batches` before each batch after the first: it
// returns false to stop early (shutdown). Returns what was removed; a store
// error ends the sweep with that error (the batches before it stay done and
// were reported to on_batch).
Result<EraseCounts> SweepInBatches(
    Store& store, const SweepRequest& rule, const SweepLimits& limits,
    const std::function<void(const SweepResult&)>& on_batch,
    const std::function<bool()>& between_batches = {});

}  // namespace chatstore

#endif  // CHATSTORE_RETENTION_H_
