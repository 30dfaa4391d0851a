#include "cli/cli_common.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "chatstore/encryption.h"

namespace chatstore::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return kExitOk;
    case Status::Code::kNotFound:
      return kExitNotFound;
    case Status::Code::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

int Fail(std::string_view command, const Status& status) {
  std::cerr << "chatstore " << command << ": " << status.message() << "\n";
  return ExitCodeFor(status);
}

std::string EraseCountsJson(const EraseCounts& counts) {
  return "{\"sessions_deleted\":" + std::to_string(counts.sessions) +
         ",\"messages_deleted\":" + std::to_string(counts.messages) +
         ",\"events_deleted\":" + std::to_string(counts.events) + "}";
}

Result<std::shared_ptr<Store>> OpenCommandStore(std::string_view uri,
                                                StoreAccess access,
                                                const std::string& key_file,
                                                bool create) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (!create && uri.starts_with(kSqlite)) {
    std::string_view path = uri.substr(kSqlite.size());
    path = path.substr(0, path.find('?'));
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return Status::NotFound("no SQLite store at " + std::string(path));
    }
  }
  std::shared_ptr<const EncryptionKeys> keys;
  if (access == StoreAccess::kContent && !key_file.empty()) {
    Result<std::shared_ptr<const EncryptionKeys>> loaded =
        LoadEncryptionKeyFile(key_file);
    // A missing or unusable key file is a usage error (exit 2), not a
    // missing user or session (exit 4).
    if (!loaded.ok()) return Status::InvalidArgument(loaded.status().message());
    keys = *loaded;
  }
  Result<std::shared_ptr<Store>> store =
      access == StoreAccess::kContent ? OpenStoreAtRest(uri, std::move(keys))
                                      : OpenStore(uri);
  if (!store.ok()) {
    return Status(store.status().code(), "cannot open store " +
                                             RedactStoreUri(uri) + ": " +
                                             store.status().message());
  }
  return store;
}

Result<CommandAudit> CommandAudit::Open(const std::string& path,
                                        std::string_view default_store_uri) {
  const std::string where =
      path.empty() ? DefaultAuditLogPath(default_store_uri) : path;
  CHATSTORE_ASSIGN_OR_RETURN(std::unique_ptr<AuditLog> log,
                             AuditLog::Open(where));
  return CommandAudit(std::move(log));
}

Status CommandAudit::Record(
    std::string action, std::string target, const Status& status,
    std::vector<std::pair<std::string, std::int64_t>> counts) {
  AuditRecord record;
  record.actor = CommandActor();
  record.action = std::move(action);
  record.target = std::move(target);
  record.outcome = AuditOutcome(status);
  record.counts = std::move(counts);
  return log_->Record(record);
}

Result<AuditedStore> OpenAuditedStore(const CommonOptions& common,
                                      StoreAccess access) {
  CHATSTORE_ASSIGN_OR_RETURN(
      CommandAudit audit,
      CommandAudit::Open(common.audit_log, common.store_uri));
  CHATSTORE_ASSIGN_OR_RETURN(
      std::shared_ptr<Store> store,
      OpenCommandStore(common.store_uri, access, common.encryption_key_file));
  return AuditedStore{std::move(audit), std::move(store)};
}

std::string CommandActor() {
  // The effective user, not $USER: sudo keeps the caller's environment.
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) {
    return std::string("cli:") + pw->pw_name;
  }
  return "cli:uid-" + std::to_string(::geteuid());
}

}  // namespace chatstore::cli
