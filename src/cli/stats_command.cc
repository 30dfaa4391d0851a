// chatstore stats: what a store holds, as one JSON object.
#include <iostream>
#include <memory>
#include <string>

#include "cli/cli_common.h"

namespace chatstore::cli {
namespace {

int RunStats(const CommonOptions& common) {
  Result<std::shared_ptr<Store>> store =
      OpenCommandStore(common.store_uri, StoreAccess::kRaw);
  if (!store.ok()) return Fail("stats", store.status());
  Result<StoreStats> stats = (*store)->Stats();
  if (!stats.ok()) return Fail("stats", stats.status());
  std::cout << "{\"kind\":\"" << (*store)->kind()
            << "\",\"sessions\":" << stats->sessions
            << ",\"messages\":" << stats->messages
            << ",\"events\":" << stats->events << ",\"bytes\":" << stats->bytes
            << "}" << std::endl;
  return kExitOk;
}

}  // namespace

void AddStatsCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Print the store's kind and its numbers of sessions, messages, events "
      "and bytes as JSON");
  cmd->callback([&common, exit_code] { *exit_code = RunStats(common); });
}

}  // namespace chatstore::cli
