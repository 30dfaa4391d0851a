// chatstore backup: a consistent online copy of a SQLite store.
#include <iostream>
#include <memory>
#include <string>

#include "chatstore/backup.h"
#include "cli/cli_common.h"

namespace chatstore::cli {
namespace {

int RunBackup(const CommonOptions& common, const std::string& to) {
  Result<AuditedStore> opened = OpenAuditedStore(common, StoreAccess::kRaw);
  if (!opened.ok()) return Fail("backup", opened.status());
  CommandAudit& audit = opened->audit;
  Store& store = *opened->store;
  const Status copied = BackupStore(store, to);
  const Status recorded =
      audit.Record("backup", RedactStoreUri(common.store_uri), copied);
  if (!copied.ok()) return Fail("backup", copied);
  if (!recorded.ok()) return Fail("backup", recorded);
  std::cout << "backed up " << RedactStoreUri(common.store_uri) << " to " << to
            << std::endl;
  return kExitOk;
}

}  // namespace

void AddBackupCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  auto to = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Write a consistent copy of a SQLite store to FILE while chatstored "
      "keeps writing (VACUUM INTO: compact, checked with integrity_check, "
      "replaces FILE atomically). Redis and PostgreSQL: use their own tools "
      "(docs/operations.md)");
  cmd->add_option("--to", *to, "The backup file")->required();
  cmd->callback(
      [&common, to, exit_code] { *exit_code = RunBackup(common, *to); });
}

}  // namespace chatstore::cli
