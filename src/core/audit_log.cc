#include "chatstore/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "chatstore/store.h"
#include "core/wire_format.h"

namespace chatstore {

std::string AuditOutcome(const Status& status) {
  return status.ok() ? "ok" : std::string(Status::CodeName(status.code()));
}

std::string RedactStoreUri(std::string_view uri) {
  const std::size_t scheme = uri.find("://");
  if (scheme == std::string_view::npos) return std::string(uri);
  const std::size_t authority = scheme + 3;
  const std::size_t end = uri.find_first_of("/?#", authority);
  const std::size_t at = uri.rfind('@', end);
  if (at == std::string_view::npos || at < authority) return std::string(uri);
  const std::size_t colon = uri.find(':', authority);
  if (colon == std::string_view::npos || colon > at) return std::string(uri);
  std::string out(uri.substr(0, colon + 1));
  out += "***";
  out += uri.substr(at);
  return out;
}

std::string DefaultAuditLogPath(std::string_view store_uri) {
  return DataDirectoryOf(store_uri) + "/audit.log";
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path,
                                                 std::shared_ptr<Clock> clock) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Status::Unavailable("cannot create the audit log's directory " +
                                 parent.string() + ": " + ec.message());
    }
  }
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Unavailable("cannot open audit log " + path + ": " +
                               std::strerror(errno));
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(path, fd, clock ? std::move(clock) : SystemClock()));
}

AuditLog::~AuditLog() { ::close(fd_); }

Status AuditLog::Record(const AuditRecord& record) {
  std::string line = "{\"time\":\"";
  line += FormatTimestamp(clock_->Now());
  line += "\",\"actor\":";
  wire::AppendQuoted(line, record.actor);
  line += ",\"action\":";
  wire::AppendQuoted(line, record.action);
  line += ",\"target\":";
  wire::AppendQuoted(line, record.target);
  line += ",\"outcome\":";
  wire::AppendQuoted(line, record.outcome);
  for (const auto& [name, value] : record.counts) {
    line += ',';
    wire::AppendQuoted(line, name);
    line += ':';
    line += std::to_string(value);
  }
  line += "}\n";
  std::lock_guard lock(mu_);
  // One write(2) per record: with O_APPEND the line lands whole at the end
  // even when another process appends at the same time.
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n =
        ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::Unavailable("cannot append to audit log " + path_ + ": " +
                                 std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    return Status::Unavailable("cannot sync audit log " + path_ + ": " +
                               std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace chatstore
