// chatstore sessions list / show: an operator's read of stored sessions,
// one JSON object per line (the API's shapes). Every read is audited.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/cli_common.h"
#include "core/wire_format.h"

namespace chatstore::cli {
namespace {

struct ListArgs {
  std::string user_id;  // empty: every user
  std::string status;
  int limit = 100;
};

struct ShowArgs {
  std::string session_id;
  bool messages = false;
  bool events = false;
};

// Prints up to `limit` sessions: the user's newest first, or (no user)
// every user's in the store's scan order.
Result<std::int64_t> ListSessions(Store& store, const ListArgs& args) {
  std::optional<SessionStatus> status;
  if (!args.status.empty()) status = ParseSessionStatus(args.status);
  std::int64_t printed = 0;
  if (!args.user_id.empty()) {
    std::optional<SessionCursor> after;
    do {
      CHATSTORE_ASSIGN_OR_RETURN(
          SessionPage page,
          store.ListSessions(
              args.user_id, status, after,
              std::min(args.limit - static_cast<int>(printed), 500)));
      for (const Session& s : page.sessions) {
        std::cout << wire::SessionJson(s) << "\n";
        ++printed;
      }
      after = page.next;
    } while (after && printed < args.limit);
    return printed;
  }
  std::string cursor;
  do {
    CHATSTORE_ASSIGN_OR_RETURN(SessionScanPage page,
                               store.ScanSessions(cursor, 500));
    for (const Session& s : page.sessions) {
      if (printed == args.limit) return printed;
      if (status && s.status != *status) continue;
      std::cout << wire::SessionJson(s) << "\n";
      ++printed;
    }
    cursor = page.next_cursor;
  } while (!cursor.empty());
  return printed;
}

int RunList(const CommonOptions& common, const ListArgs& args) {
  if (!args.status.empty() && !ParseSessionStatus(args.status)) {
    return Fail("sessions list",
                Status::InvalidArgument("unknown status '" + args.status +
                                        "' (active, running, completed, "
                                        "error, archived)"));
  }
  Result<AuditedStore> opened = OpenAuditedStore(common, StoreAccess::kContent);
  if (!opened.ok()) return Fail("sessions list", opened.status());
  CommandAudit& audit = opened->audit;
  Store& store = *opened->store;
  Result<std::int64_t> printed = ListSessions(store, args);
  std::cout.flush();
  const Status recorded = audit.Record(
      "read.sessions", args.user_id.empty() ? "*" : args.user_id,
      printed.status(), {{"sessions", printed.ok() ? *printed : 0}});
  if (!printed.ok()) return Fail("sessions list", printed.status());
  if (!recorded.ok()) return Fail("sessions list", recorded);
  return kExitOk;
}

// Prints every row of a paged read by seq (`read(after_seq, limit)`), one
// JSON object per line.
template <typename Read, typename Render>
Status PrintAll(Read read, Render render) {
  constexpr int kPage = 500;
  std::int64_t after = 0;
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(auto page, read(after, kPage));
    for (const auto& row : page) std::cout << render(row) << "\n";
    if (page.size() < kPage) return Status::Ok();
    after = page.back().seq;
  }
}

Status ShowSession(Store& store, const ShowArgs& args) {
  CHATSTORE_ASSIGN_OR_RETURN(const Session s,
                             store.GetSession(args.session_id));
  std::cout << wire::SessionJson(s) << "\n";
  if (args.messages) {
    CHATSTORE_RETURN_IF_ERROR(PrintAll(
        [&](std::int64_t after, int limit) {
          return store.ReadMessages(s.id, after, limit);
        },
        wire::MessageJson));
  }
  if (args.events) {
    CHATSTORE_RETURN_IF_ERROR(PrintAll(
        [&](std::int64_t after, int limit) {
          return store.ReadEvents(s.id, after, limit);
        },
        wire::EventJson));
  }
  return Status::Ok();
}

int RunShow(const CommonOptions& common, const ShowArgs& args) {
  Result<AuditedStore> opened = OpenAuditedStore(common, StoreAccess::kContent);
  if (!opened.ok()) return Fail("sessions show", opened.status());
  CommandAudit& audit = opened->audit;
  Store& store = *opened->store;
  const Status shown = ShowSession(store, args);
  std::cout.flush();
  const Status recorded = audit.Record(
      args.messages || args.events ? "read.session_content" : "read.session",
      args.session_id, shown);
  if (!shown.ok()) return Fail("sessions show", shown);
  if (!recorded.ok()) return Fail("sessions show", recorded);
  return kExitOk;
}

}  // namespace

void AddSessionsCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  CLI::App* sessions =
      app.add_subcommand("sessions", "Read stored sessions (audited)");
  sessions->require_subcommand(1);

  auto list = std::make_shared<ListArgs>();
  CLI::App* list_cmd = sessions->add_subcommand(
      "list",
      "One session per line as JSON: a user's newest first, or every "
      "user's (without --user)");
  list_cmd->add_option("--user", list->user_id,
                       "Only this user's sessions (the JWT subject)");
  list_cmd->add_option("--status", list->status,
                       "Only sessions with this status");
  list_cmd->add_option("--limit", list->limit, "At most this many")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  list_cmd->callback(
      [&common, list, exit_code] { *exit_code = RunList(common, *list); });

  auto show = std::make_shared<ShowArgs>();
  CLI::App* show_cmd = sessions->add_subcommand(
      "show",
      "A session as JSON, then (when asked) its messages and events, one per "
      "line");
  show_cmd->add_option("session_id", show->session_id, "The session id")
      ->required();
  show_cmd->add_flag("--messages", show->messages, "Also print its messages");
  show_cmd->add_flag("--events", show->events, "Also print its events");
  show_cmd->callback(
      [&common, show, exit_code] { *exit_code = RunShow(common, *show); });
}

}  // namespace chatstore::cli
