// chatstore migrate: copies a whole store to another backend, resumably,
// and checks the copy with --verify.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "chatstore/migration.h"
#include "cli/cli_common.h"

namespace chatstore::cli {
namespace {

struct MigrateArgs {
  std::string from;
  std::string to;
  bool verify = false;
  bool verify_only = false;
  std::int64_t max_sessions = 0;
  int page = 500;
  // Encryption at rest of each side; unset: the common
  // --encryption-key-file (empty: not encrypted).
  std::optional<std::string> from_key_file;
  std::optional<std::string> to_key_file;
};

// A one-line progress bar on stderr, redrawn at most ten times a second,
// and only when stderr is a terminal (logs and pipes get the summary only).
class ProgressBar {
 public:
  ProgressBar() : enabled_(::isatty(STDERR_FILENO) == 1) {}

  void Show(const MigrationProgress& p, bool force) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    const std::int64_t total = std::max(p.sessions_total, p.sessions_seen);
    const int filled =
        total > 0 ? static_cast<int>(kWidth * p.sessions_seen / total) : 0;
    std::fprintf(stderr,
                 "\r[%-*s] %lld/%lld sessions (%lld copied, %lld "
                 "already there)",
                 kWidth, std::string(filled, '#').c_str(),
                 static_cast<long long>(p.sessions_seen),
                 static_cast<long long>(total),
                 static_cast<long long>(p.sessions_copied),
                 static_cast<long long>(p.sessions_skipped));
    drawn_ = true;
  }
  void Finish() {
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  const bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

int Verify(Store& from, Store& to, const MigrationOptions& options,
           CommandAudit& audit, const std::string& target) {
  Result<VerifyReport> report = VerifyMigration(from, to, options);
  const Status recorded = audit.Record(
      "migrate.verify", target, report.status(),
      report.ok()
          ? std::vector<std::pair<std::string,
                                  std::int64_t>>{{"sessions_checked",
                                                  report->sessions_checked},
                                                 {"differences",
                                                  report->differences}}
          : std::vector<std::pair<std::string, std::int64_t>>{});
  if (!report.ok()) return Fail("migrate", report.status());
  for (const std::string& line : report->listed) {
    std::cout << "difference: " << line << "\n";
  }
  if (report->differences > static_cast<std::int64_t>(report->listed.size())) {
    std::cout << "... and "
              << report->differences -
                     static_cast<std::int64_t>(report->listed.size())
              << " more\n";
  }
  std::cout << "verified " << report->sessions_checked << " sessions and "
            << report->preferences_checked
            << " users' preferences: " << report->differences << " differences"
            << std::endl;
  if (!recorded.ok()) return Fail("migrate", recorded);
  return report->differences == 0 ? kExitOk : kExitDifferences;
}

int RunMigrate(const CommonOptions& common, const MigrateArgs& args) {
  if (args.from == args.to) {
    return Fail("migrate",
                Status::InvalidArgument("--from and --to are the same store"));
  }
  Result<CommandAudit> audit = CommandAudit::Open(common.audit_log, args.from);
  if (!audit.ok()) return Fail("migrate", audit.status());
  const std::string target =
      RedactStoreUri(args.from) + " -> " + RedactStoreUri(args.to);
  Result<std::shared_ptr<Store>> from =
      OpenCommandStore(args.from, StoreAccess::kContent,
                       args.from_key_file.value_or(common.encryption_key_file));
  Result<std::shared_ptr<Store>> to =
      from.ok() ? OpenCommandStore(
                      args.to, StoreAccess::kContent,
                      args.to_key_file.value_or(common.encryption_key_file),
                      /*create=*/true)
                : from;
  if (!to.ok()) {
    // Recorded too: an attempt on everyone's data is worth knowing of.
    const Status failed = to.status();
    if (Status s = audit->Record("migrate", target, failed); !s.ok()) {
      Fail("migrate", s);
    }
    return Fail("migrate", failed);
  }

  MigrationOptions options;
  options.page = args.page;
  options.max_sessions = args.max_sessions;
  if (!args.verify_only) {
    ProgressBar bar;
    options.on_progress = [&bar](const MigrationProgress& p) {
      bar.Show(p, false);
    };
    Result<MigrationProgress> done = MigrateStore(**from, **to, options);
    if (done.ok()) bar.Show(*done, true);
    bar.Finish();
    const MigrationProgress p = done.ok() ? *done : MigrationProgress{};
    const Status recorded =
        audit->Record("migrate", target, done.status(),
                      {{"sessions_copied", p.sessions_copied},
                       {"sessions_skipped", p.sessions_skipped},
                       {"messages_copied", p.messages_copied},
                       {"events_copied", p.events_copied},
                       {"preferences_copied", p.preferences_copied},
                       {"user_states_copied", p.user_states_copied}});
    if (!done.ok()) {
      std::cerr << "chatstore migrate: interrupted; what was copied stays, "
                   "and running the same command again continues\n";
      return Fail("migrate", done.status());
    }
    std::cout << "copied " << p.sessions_copied << " sessions ("
              << p.messages_copied << " messages, " << p.events_copied
              << " events), " << p.sessions_skipped
              << " already at the destination, " << p.preferences_copied
              << " users' preferences" << std::endl;
    if (!recorded.ok()) return Fail("migrate", recorded);
    if (args.max_sessions > 0 && p.sessions_copied >= args.max_sessions) {
      std::cout << "stopped after --max-sessions " << args.max_sessions
                << "; run again to continue" << std::endl;
      return kExitOk;
    }
  }
  options.on_progress = nullptr;
  if (args.verify || args.verify_only) {
    return Verify(**from, **to, options, *audit, target);
  }
  return kExitOk;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<MigrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "migrate",
      "Copy every session, message, event and preference from one store to "
      "another (any two backends), keeping ids, seqs and timestamps. "
      "Resumable: run it again after an interruption and it copies only "
      "what is missing or changed. Stop writers to the source first (or run "
      "it again after they stopped) for an exact copy");
  cmd->add_option("--from", args->from, "Source store URI")->required();
  cmd->add_option("--to", args->to, "Destination store URI")->required();
  cmd->add_option("--from-encryption-key-file", args->from_key_file,
                  "Key file of an encrypted source; \"\" for a source that "
                  "is not encrypted (default: --encryption-key-file)");
  cmd->add_option("--to-encryption-key-file", args->to_key_file,
                  "Key file to encrypt the destination with (it then holds "
                  "only sealed values); \"\" for a destination that is not "
                  "encrypted (default: --encryption-key-file)");
  cmd->add_flag("--verify", args->verify,
                "Afterwards compare every session's message and event counts "
                "and checksum; exit 3 on any difference");
  cmd->add_flag("--verify-only", args->verify_only,
                "Only compare (no copy); exit 3 on any difference");
  cmd->add_option("--max-sessions", args->max_sessions,
                  "Copy at most this many sessions, then stop (move a large "
                  "store in slices); 0: all")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--page", args->page,
                  "Sessions per scan, and messages or events per read")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->callback(
      [&common, args, exit_code] { *exit_code = RunMigrate(common, *args); });
}

}  // namespace chatstore::cli
