#include "chatstore/retention.h"

#include <algorithm>

namespace chatstore {

std::vector<SweepRequest> RetentionRules(const RetentionPolicy& policy,
                                         Timestamp now) {
  std::vector<SweepRequest> rules;
  rules.push_back({SweepRule::kExpired, now, 0});
  if (policy.retention_days > 0) {
    rules.push_back({SweepRule::kInactive,
                     now - std::chrono::days(policy.retention_days), 0});
  }
  if (policy.never_used_grace.count() > 0) {
    rules.push_back({SweepRule::kNeverUsed, now - policy.never_used_grace, 0});
  }
  return rules;
}

Result<EraseCounts> SweepInBatches(
    Store& store, const SweepRequest& rule, const SweepLimits& limits,
    const std::function<void(const SweepResult&)>& on_batch,
    const std::function<bool()>& between_batches) {
  EraseCounts total;
  if (limits.batch < 1) {
    return Status::InvalidArgument("the sweep batch must be at least 1");
  }
  for (bool first = true; total.sessions < limits.max_total; first = false) {
    if (!first && between_batches && !between_batches()) break;
    SweepRequest request = rule;
    request.limit = static_cast<int>(std::min<std::int64_t>(
        limits.batch, limits.max_total - total.sessions));
    CHATSTORE_ASSIGN_OR_RETURN(SweepResult swept, store.SweepSessions(request));
    total.sessions += swept.counts.sessions;
    total.messages += swept.counts.messages;
    total.events += swept.counts.events;
    if (!swept.session_ids.empty() && on_batch) on_batch(swept);
    // A short batch: nothing more the rule selects (or only sessions busy
    // with a write, which the next run looks at again).
    if (static_cast<int>(swept.session_ids.size()) < request.limit) break;
  }
  return total;
}

}  // namespace chatstore
