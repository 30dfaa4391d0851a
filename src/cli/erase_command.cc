// chatstore erase: removes every session, message, event, search entry and
// preference of one user (the GDPR erasure), and prints the counts.
#include <iostream>
#include <memory>
#include <string>

#include "chatstore/service.h"
#include "cli/cli_common.h"

namespace chatstore::cli {
namespace {

struct EraseArgs {
  std::string user_id;
  bool yes = false;
};

int RunErase(const CommonOptions& common, const EraseArgs& args) {
  if (!args.yes) {
    return Fail("erase", Status::InvalidArgument(
                             "erasing " + args.user_id +
                             " cannot be undone; add --yes to confirm"));
  }
  Result<AuditedStore> opened = OpenAuditedStore(common, StoreAccess::kRaw);
  if (!opened.ok()) return Fail("erase", opened.status());
  CommandAudit& audit = opened->audit;
  SessionService service(opened->store, nullptr, {});
  Result<EraseCounts> erased = service.EraseUser(args.user_id);
  const EraseCounts counts = erased.ok() ? *erased : EraseCounts{};
  const Status recorded = audit.Record("erase", args.user_id, erased.status(),
                                       {{"sessions_deleted", counts.sessions},
                                        {"messages_deleted", counts.messages},
                                        {"events_deleted", counts.events}});
  if (!erased.ok()) return Fail("erase", erased.status());
  std::cout << EraseCountsJson(counts) << std::endl;
  if (!recorded.ok()) return Fail("erase", recorded);
  return kExitOk;
}

}  // namespace

void AddEraseCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<EraseArgs>();
  CLI::App* cmd = app.add_subcommand(
      "erase",
      "Erase one user: every session, message, event, search entry and "
      "preference (prints the counts as JSON)");
  cmd->add_option("--user", args->user_id, "The user id (the JWT subject)")
      ->required();
  cmd->add_flag("--yes", args->yes, "Confirm: erasure cannot be undone");
  cmd->callback(
      [&common, args, exit_code] { *exit_code = RunErase(common, *args); });
}

}  // namespace chatstore::cli
