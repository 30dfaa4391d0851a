// chatstore: the operator's tool for a chatstore store — export, erase,
// migrate, backup, stats, sweep, and reading sessions. Each command lives in
// its own file (<name>_command.cc); docs/operations.md explains them.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli_common.h"

int main(int argc, char** argv) {
  using namespace chatstore::cli;
  ::signal(SIGPIPE, SIG_IGN);  // `chatstore export | head` fails cleanly
  CLI::App app{
      "chatstore: the operator's tool for a chatstore store (the one "
      "chatstored serves; it may keep running).",
      "chatstore"};
  app.footer(
      "Exit codes: 0 ok, 1 failure (store or file error), 2 usage error, 3 "
      "migrate --verify found differences, 4 no such user or session.\n"
      "Each command records what it did in the audit log (no message "
      "content). See docs/operations.md.");
  app.require_subcommand(1);
  // Options of the tool may come after the command's name too.
  app.fallthrough();
  CommonOptions common;
  app.add_option("--store", common.store_uri,
                 "Store URI: sqlite:///abs/path.db, sqlite://relative.db, "
                 "redis://host:port/db, postgresql://user@host/db")
      ->envname("CHATSTORE_STORE")
      ->capture_default_str();
  app.add_option("--audit-log", common.audit_log,
                 "Audit log file (JSON lines, appended); default "
                 "<data dir>/audit.log, the data dir being the SQLite "
                 "file's directory or ./data")
      ->envname("CHATSTORE_AUDIT_LOG");
  app.add_option("--encryption-key-file", common.encryption_key_file,
                 "Key file of a store encrypted at rest (docs/encryption.md); "
                 "export, sessions and migrate need it to read the store, "
                 "backup, stats and erase do not; sweep needs it too")
      ->envname("CHATSTORE_ENCRYPTION_KEY_FILE");

  int exit_code = kExitOk;
  AddExportCommand(app, common, &exit_code);
  AddEraseCommand(app, common, &exit_code);
  AddMigrateCommand(app, common, &exit_code);
  AddBackupCommand(app, common, &exit_code);
  AddStatsCommand(app, common, &exit_code);
  AddSessionsCommand(app, common, &exit_code);
  AddSweepCommand(app, common, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int help = app.exit(e);  // prints the help or the error
    return e.get_exit_code() == 0 ? help : kExitUsage;
  }
  return exit_code;
}
