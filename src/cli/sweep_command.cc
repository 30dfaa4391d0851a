// chatstore sweep: one run of the retention sweeper (what chatstored does
// every --sweep-interval-seconds) on --store, and the counts per rule.
#include <iostream>
#include <memory>
#include <string>

#include "chatstore/retention.h"
#include "cli/cli_common.h"

namespace chatstore::cli {
namespace {

struct SweepArgs {
  int retention_days = 90;
  std::int64_t never_used_grace_seconds = 86400;
  int batch = 500;
  std::int64_t max_sessions = 10000000;
};

int RunSweep(const CommonOptions& common, const SweepArgs& args) {
  // Content access: on a store encrypted at rest the sweep goes through the
  // decorator, which keeps the store's key check (a session that never
  // gets a message) from being swept.
  Result<AuditedStore> opened = OpenAuditedStore(common, StoreAccess::kContent);
  if (!opened.ok()) return Fail("sweep", opened.status());
  Store& store = *opened->store;
  RetentionPolicy policy;
  policy.retention_days = args.retention_days;
  policy.never_used_grace = std::chrono::seconds(args.never_used_grace_seconds);
  const SweepLimits limits{args.batch, args.max_sessions};
  EraseCounts by_rule[3];
  EraseCounts total;
  Status status;
  for (const SweepRequest& rule :
       RetentionRules(policy, SystemClock()->Now())) {
    Result<EraseCounts> swept = SweepInBatches(store, rule, limits, {});
    if (!swept.ok()) {
      status = swept.status();
      break;
    }
    by_rule[static_cast<int>(rule.rule)] = *swept;
    total.sessions += swept->sessions;
    total.messages += swept->messages;
    total.events += swept->events;
  }
  const Status recorded = opened->audit.Record(
      "sweep", RedactStoreUri(common.store_uri), status,
      {{"expired_sessions_deleted", by_rule[0].sessions},
       {"inactive_sessions_deleted", by_rule[1].sessions},
       {"never_used_sessions_deleted", by_rule[2].sessions},
       {"messages_deleted", total.messages},
       {"events_deleted", total.events}});
  if (!status.ok()) return Fail("sweep", status);
  std::cout << "{";
  for (SweepRule rule :
       {SweepRule::kExpired, SweepRule::kInactive, SweepRule::kNeverUsed}) {
    const EraseCounts& c = by_rule[static_cast<int>(rule)];
    if (rule != SweepRule::kExpired) std::cout << ",";
    std::cout << "\"" << ToString(rule) << "\":" << EraseCountsJson(c);
  }
  std::cout << "}" << std::endl;
  if (!recorded.ok()) return Fail("sweep", recorded);
  return kExitOk;
}

}  // namespace

void AddSweepCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep",
      "Apply retention now: delete expired ephemeral sessions, persistent "
      "sessions without activity for --retention-days and sessions that "
      "never received a message within --never-used-grace-seconds (prints "
      "the counts per rule as JSON)");
  cmd->add_option("--retention-days", args->retention_days,
                  "Delete persistent sessions without activity for this "
                  "many days (0 keeps them forever)")
      ->check(CLI::Range(0, 36500))
      ->capture_default_str();
  cmd->add_option("--never-used-grace-seconds", args->never_used_grace_seconds,
                  "Delete sessions that never received a message this many "
                  "seconds after their creation (0: never)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3153600000}))
      ->capture_default_str();
  cmd->add_option("--batch", args->batch,
                  "Sessions deleted per store transaction (writers of a "
                  "live server wait for one batch at most)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--max-sessions", args->max_sessions,
                  "Sessions deleted per rule at most in this run")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000000}))
      ->capture_default_str();
  cmd->callback(
      [&common, args, exit_code] { *exit_code = RunSweep(common, *args); });
}

}  // namespace chatstore::cli
