// What every chatstore command shares: the store and audit-log options, the
// one Status -> exit code mapping, error output, and audit records.
#ifndef CHATSTORE_CLI_CLI_COMMON_H_
#define CHATSTORE_CLI_CLI_COMMON_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatstore/audit_log.h"
#include "chatstore/status.h"
#include "chatstore/store.h"

namespace chatstore::cli {

// The exit codes, documented in docs/operations.md and `chatstore --help`.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,      // a store or file error
  kExitUsage = 2,        // bad flags or arguments
  kExitDifferences = 3,  // migrate --verify found differences
  kExitNotFound = 4,     // no such user or session
};

// NotFound -> 4, InvalidArgument -> 2, anything else -> 1.
int ExitCodeFor(const Status& status);

// Prints "chatstore <command>: <message>" on stderr and returns the exit
// code of `status`.
int Fail(std::string_view command, const Status& status);

// `counts` as the JSON object the commands print:
// {"sessions_deleted":N,"messages_deleted":N,"events_deleted":N}.
std::string EraseCountsJson(const EraseCounts& counts);

// Options every command takes (before or after the command's name).
struct CommonOptions {
  std::string store_uri = "sqlite://./data/chatstore.db";
  std::string audit_log;  // empty: DefaultAuditLogPath(store)
  // The store's encryption key file (docs/encryption.md); empty: none.
  std::string encryption_key_file;
};

// Whether a command reads what users wrote (and so needs the store's
// encryption key when it is encrypted) or only the store's bytes and rows
// (backup, stats, erase: they work on an encrypted store without the key).
enum class StoreAccess { kContent, kRaw };

// Opens a store for a command; the error names the URI (without password).
// A sqlite:// file that does not exist is NotFound unless `create` (only a
// migration's destination is created: a typo must not read as an empty
// store). For kContent: with `key_file` the store is opened encrypted (the
// key checked against it), without one an encrypted store is refused.
Result<std::shared_ptr<Store>> OpenCommandStore(
    std::string_view uri, StoreAccess access = StoreAccess::kContent,
    const std::string& key_file = "", bool create = false);

// The audit log of one command run: opened before the command acts (a
// command that cannot be audited does not run), one record per operation.
class CommandAudit {
 public:
  // `path` empty: DefaultAuditLogPath(default_store_uri).
  static Result<CommandAudit> Open(const std::string& path,
                                   std::string_view default_store_uri);

  // Records `action` on `target` with the outcome of `status`. A failure to
  // record is reported on stderr and turns the exit code into a failure.
  Status Record(std::string action, std::string target, const Status& status,
                std::vector<std::pair<std::string, std::int64_t>> counts = {});

 private:
  explicit CommandAudit(std::unique_ptr<AuditLog> log) : log_(std::move(log)) {}
  std::unique_ptr<AuditLog> log_;
};

// What an audited command on --store works with. Its audit log opens
// first: a command that could not record what it does does not run.
struct AuditedStore {
  CommandAudit audit;
  std::shared_ptr<Store> store;
};
Result<AuditedStore> OpenAuditedStore(const CommonOptions& common,
                                      StoreAccess access);

// "cli:<login name>" (the effective user), the audit log's `actor`.
std::string CommandActor();

// Registers one command: its subcommand and the function run when it is
// chosen (the result lands in `*exit_code`).
void AddBackupCommand(CLI::App& app, CommonOptions& common, int* exit_code);
void AddEraseCommand(CLI::App& app, CommonOptions& common, int* exit_code);
void AddExportCommand(CLI::App& app, CommonOptions& common, int* exit_code);
void AddMigrateCommand(CLI::App& app, CommonOptions& common, int* exit_code);
void AddSessionsCommand(CLI::App& app, CommonOptions& common, int* exit_code);
void AddStatsCommand(CLI::App& app, CommonOptions& common, int* exit_code);
void AddSweepCommand(CLI::App& app, CommonOptions& common, int* exit_code);

}  // namespace chatstore::cli

#endif  // CHATSTORE_CLI_CLI_COMMON_H_
