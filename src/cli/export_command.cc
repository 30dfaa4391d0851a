// chatstore export: one user's data as the export document
// (docs/export-format.md), written piece by piece to a file or stdout.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "chatstore/export.h"
#include "chatstore/service.h"
#include "cli/cli_common.h"

namespace chatstore::cli {
namespace {

struct ExportArgs {
  std::string user_id;
  std::string output = "-";
};

int RunExport(const CommonOptions& common, const ExportArgs& args) {
  Result<AuditedStore> opened = OpenAuditedStore(common, StoreAccess::kContent);
  if (!opened.ok()) return Fail("export", opened.status());
  CommandAudit& audit = opened->audit;
  SessionService service(opened->store, nullptr, {});

  // A file is written beside its final name and moved there when complete,
  // so a failed export never leaves a truncated document behind.
  const bool to_stdout = args.output == "-";
  const std::string partial = args.output + ".partial";
  std::ofstream file;
  if (!to_stdout) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) {
      return Fail("export", Status::Unavailable("cannot write " + partial));
    }
  }
  std::ostream& out = to_stdout ? std::cout : file;
  UserExportWriter writer(service, args.user_id);
  Status written = WriteUserExport(writer, [&out](std::string_view piece) {
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    return out ? Status::Ok()
               : Status::Unavailable("cannot write the export document");
  });
  if (written.ok()) {
    out.flush();
    if (!out) written = Status::Unavailable("cannot write the export document");
  }
  if (!to_stdout) {
    file.close();
    std::error_code ec;
    if (written.ok()) {
      std::filesystem::rename(partial, args.output, ec);
      if (ec) {
        written = Status::Unavailable("cannot move the export to " +
                                      args.output + ": " + ec.message());
      }
    }
    if (!written.ok()) std::filesystem::remove(partial, ec);
  }
  const Status recorded =
      audit.Record("export", args.user_id, written,
                   {{"sessions", writer.sessions_written()},
                    {"messages", writer.messages_written()}});
  if (!written.ok()) return Fail("export", written);
  if (!recorded.ok()) return Fail("export", recorded);
  if (!to_stdout) {
    std::cerr << "exported " << writer.sessions_written() << " sessions ("
              << writer.messages_written() << " messages) of " << args.user_id
              << " to " << args.output << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddExportCommand(CLI::App& app, CommonOptions& common, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write one user's sessions, messages, events and preferences as one "
      "JSON document (docs/export-format.md); memory stays small however "
      "large the user's history");
  cmd->add_option("--user", args->user_id, "The user id (the JWT subject)")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "File to write (replaced only when the export is "
                  "complete); - for stdout")
      ->capture_default_str();
  cmd->callback(
      [&common, args, exit_code] { *exit_code = RunExport(common, *args); });
}

}  // namespace chatstore::cli
