// chatstored's configuration: flags, CHATSTORE_* environment variables and an
// optional `--config FILE` of `name = value` lines (flag names without the
// dashes). Flags win over the environment, which wins over the file.
#ifndef CHATSTORE_SERVER_CONFIG_H_
#define CHATSTORE_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chatstore/status.h"

namespace chatstore::server {

// Where a new session lives (API.md, "the hybrid policy").
enum class SessionPolicy { kAuth, kPersistAll, kEphemeralAll };

// "auth", "persist-all", "ephemeral-all" and back (nullopt: unknown).
std::string_view PolicyName(SessionPolicy policy);
std::optional<SessionPolicy> ParsePolicy(std::string_view name);

// Whether a new session is persistent under `policy`, for a caller who is
// `anonymous` or not, whose preference is `persist_history`, and whose
// request said `requested` (absent: no opinion).
bool DecidePersistent(SessionPolicy policy, bool anonymous,
                      bool persist_history, std::optional<bool> requested);

// Whether to follow other processes' writes to the primary store
// (change_follower.h): auto follows when the store can be shared (sqlite,
// redis, postgresql), on insists (refusing memory://), off never follows.
enum class NotifyMode { kAuto, kOn, kOff };

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string store_uri = "sqlite://./data/chatstore.db";
  std::string ephemeral_store_uri = "memory://";
  std::string audit_log;  // empty: <data dir>/audit.log
  // Encryption at rest (docs/encryption.md); empty: off.
  std::string encryption_key_file;
  SessionPolicy policy = SessionPolicy::kAuth;
  NotifyMode notify = NotifyMode::kAuto;
  std::string jwt_secret;  // resolved from the env or the secret file
  std::optional<std::string> jwt_issuer;
  std::optional<std::string> jwt_audience;
  std::int64_t anonymous_ttl_seconds = 86400;
  std::int64_t retention_days = 90;
  // The retention sweeper (sweeper.h): 0 grace never reaps unused sessions.
  std::int64_t never_used_grace_seconds = 86400;
  std::int64_t sweep_interval_seconds = 60;
  std::int64_t sweep_batch = 500;
  std::int64_t sweep_max_per_run = 100000;
  std::int64_t keepalive_seconds = 15;
  std::size_t max_body_bytes = 1 << 20;
  bool dev = false;
  // The persistent cache: its directory (empty: "cache" in the data
  // directory) and size limit.
  std::string cache_dir;
  std::uint64_t cache_max_bytes = std::uint64_t{1} << 30;

  // Beyond API.md's table: tuning knobs with safe defaults.
  unsigned io_threads = 0;       // 0: one per hardware thread
  unsigned worker_threads = 32;  // blocking store calls
  std::int64_t sse_retry_ms = 3000;
  std::size_t sse_queue_events = 1024;
  double rate_limit_per_second = 50;  // per user; 0 disables
  double rate_limit_burst = 200;
  std::size_t max_connections = 20000;
  std::int64_t request_timeout_seconds = 30;
  std::int64_t shutdown_grace_seconds = 10;
  std::string log_level = "info";
};

struct CommandLine {
  std::optional<ServerConfig> config;  // nullopt: exit with `exit_code`
  int exit_code = 0;
};

// Parses argv and the environment. Prints --help or the error and returns an
// exit code when the server should not start. The JWT secret is resolved
// here except in dev mode (dev_mode.h creates it), and a missing secret
// without --dev is an error.
CommandLine ParseCommandLine(int argc, const char* const* argv);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_CONFIG_H_
