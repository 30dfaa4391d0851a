// The audit log: who read, exported, erased or migrated whose data, and
// when. Append-only JSON lines, one record per operation, never message
// content (a record has no field that could carry it: ids, counts and an
// outcome only). chatstored records its admin reads, exports and erasures
// (DELETE /v1/me included); the chatstore CLI records export, erase,
// migrate and session reads. docs/operations.md describes the format.
#ifndef CHATSTORE_AUDIT_LOG_H_
#define CHATSTORE_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/status.h"

namespace chatstore {

struct AuditRecord {
  // Who: "admin:<subject>", "user:<id>" (acting on their own data),
  // "cli:<os user>".
  std::string actor;
  // What: "export", "erase", "read", "migrate", "backup", ...
  std::string action;
  // Whose data: a user id, a session id, or for a migration the two store
  // URIs (with any password removed, see RedactStoreUri).
  std::string target;
  // "ok", or the failure's Status::CodeName ("NotFound", "Unavailable").
  std::string outcome = "ok";
  // Numbers worth keeping: sessions_deleted, messages_exported, ...
  std::vector<std::pair<std::string, std::int64_t>> counts;
};

// "ok" for an OK status, else Status::CodeName of its code.
std::string AuditOutcome(const Status& status);

// A store URI without its password: "postgresql://u:secret@h/db" becomes
// "postgresql://u:***@h/db"; other URIs are returned unchanged.
std::string RedactStoreUri(std::string_view uri);

// Thread-safe; several processes may append to one file (each record is
// one write(2) to a file opened with O_APPEND, so lines never interleave).
class AuditLog {
 public:
  // Opens (creating it and its directory, mode 0600) the file at `path`
  // for appending. Unavailable when it cannot be opened.
  static Result<std::unique_ptr<AuditLog>> Open(
      const std::string& path, std::shared_ptr<Clock> clock = SystemClock());
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends {"time","actor","action","target","outcome", counts...} as one
  // line and flushes it to disk (fdatasync) before returning, so an
  // operation's record survives a crash right after the operation.
  Status Record(const AuditRecord& record);

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, int fd, std::shared_ptr<Clock> clock)
      : path_(std::move(path)), fd_(fd), clock_(std::move(clock)) {}

  const std::string path_;
  const int fd_;
  const std::shared_ptr<Clock> clock_;
  std::mutex mu_;
};

// `<DataDirectoryOf(store_uri)>/audit.log`: where chatstored and the CLI
// write unless told otherwise (--audit-log).
std::string DefaultAuditLogPath(std::string_view store_uri);

}  // namespace chatstore

#endif  // CHATSTORE_AUDIT_LOG_H_
