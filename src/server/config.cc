#include "server/config.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace chatstore::server {
namespace {

// "HOST:PORT" or "[v6]:PORT".
bool ParseListen(const std::string& text, ServerConfig& config) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return false;
  int port = 0;
  try {
    std::size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (port < 0 || port > 65535) return false;
  config.listen_host = host;
  config.listen_port = static_cast<std::uint16_t>(port);
  return true;
}

std::optional<std::string> ReadSecretFile(const std::string& path,
                                          std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read JWT secret file '" + path + "'";
    return std::nullopt;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string secret = buffer.str();
  // Files written by `echo` end in a newline that is not part of the key.
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  return secret;
}

bool GivenOnCommandLine(int argc, const char* const* argv,
                        std::string_view flag) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == flag || arg.starts_with(std::string(flag) + "=")) return true;
  }
  return false;
}

}  // namespace

std::string_view PolicyName(SessionPolicy policy) {
  switch (policy) {
    case SessionPolicy::kAuth:
      return "auth";
    case SessionPolicy::kPersistAll:
      return "persist-all";
    case SessionPolicy::kEphemeralAll:
      return "ephemeral-all";
  }
  return "auth";
}

std::optional<SessionPolicy> ParsePolicy(std::string_view name) {
  for (SessionPolicy policy : {SessionPolicy::kAuth, SessionPolicy::kPersistAll,
                               SessionPolicy::kEphemeralAll}) {
    if (PolicyName(policy) == name) return policy;
  }
  return std::nullopt;
}

bool DecidePersistent(SessionPolicy policy, bool anonymous,
                      bool persist_history, std::optional<bool> requested) {
  switch (policy) {
    case SessionPolicy::kPersistAll:
      return true;
    case SessionPolicy::kEphemeralAll:
      return false;
    case SessionPolicy::kAuth:
      break;
  }
  if (anonymous) return false;
  return persist_history && requested.value_or(true);
}

CommandLine ParseCommandLine(int argc, const char* const* argv) {
  ServerConfig config;
  CLI::App app{
      "chatstored: keeps LLM chat sessions as ordered event logs and streams "
      "them over HTTP + SSE with exact resume (Last-Event-ID).\n"
      "Every option can also be set with the environment variable named "
      "after it, or in the --config file; flags win over the environment, "
      "which wins over the file.",
      "chatstored"};
  app.set_config("--config", "",
                 "Read options from FILE: one `name = value` per line, names "
                 "as the long flags without dashes (e.g. `listen = "
                 "127.0.0.1:9000`)");

  std::string listen = "127.0.0.1:8080";
  std::string policy = "auth";
  std::string notify = "auto";
  std::string secret_file;
  std::string issuer;
  std::string audience;
  app.add_option("--listen", listen,
                 "Address to accept connections on, HOST:PORT; port 0 picks "
                 "a free port (the real one is printed)")
      ->envname("CHATSTORE_LISTEN")
      ->capture_default_str();
  app.add_option("--store", config.store_uri,
                 "Primary (persistent) store URI: sqlite:///abs/path.db, "
                 "sqlite://relative/path.db, redis://host:port/db, "
                 "postgresql://user@host:port/db or memory://")
      ->envname("CHATSTORE_STORE")
      ->capture_default_str();
  app.add_option("--ephemeral-store", config.ephemeral_store_uri,
                 "Store for ephemeral sessions (anonymous users, "
                 "persist:false)")
      ->envname("CHATSTORE_EPHEMERAL_STORE")
      ->capture_default_str();
  app.add_option("--notify", notify,
                 "Follow writes that other chatstored instances (or "
                 "processes) make to the shared primary store, so streams "
                 "here carry them live: auto (on for sqlite, redis and "
                 "postgresql stores; Redis pub/sub, PostgreSQL LISTEN, or "
                 "polling SQLite's data_version every 50 ms), on (refuse "
                 "to start without it), off (one instance per store)")
      ->envname("CHATSTORE_NOTIFY")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_option("--audit-log", config.audit_log,
                 "Audit log of exports, erasures and admin reads (JSON "
                 "lines, appended; no message content); default "
                 "<data dir>/audit.log")
      ->envname("CHATSTORE_AUDIT_LOG");
  app.add_option("--encryption-key-file", config.encryption_key_file,
                 "Encrypt message content and event data at rest with the "
                 "keys in this file (chmod 600; the first key encrypts, all "
                 "decrypt); search is then disabled. See docs/encryption.md")
      ->envname("CHATSTORE_ENCRYPTION_KEY_FILE");
  app.add_option("--policy", policy,
                 "Where new sessions live: auth (users persistent unless "
                 "they opt out, anonymous ephemeral), persist-all, "
                 "ephemeral-all")
      ->envname("CHATSTORE_POLICY")
      ->check(CLI::IsMember({"auth", "persist-all", "ephemeral-all"}))
      ->capture_default_str();
  app.add_option("--jwt-secret-file", secret_file,
                 "File holding the HS256 secret of the application's tokens "
                 "(env CHATSTORE_JWT_SECRET_FILE; or give the secret itself "
                 "in CHATSTORE_JWT_SECRET). Required unless --dev")
      ->envname("CHATSTORE_JWT_SECRET_FILE");
  app.add_option("--jwt-issuer", issuer,
                 "Required `iss` claim (not checked when unset)")
      ->envname("CHATSTORE_JWT_ISSUER");
  app.add_option("--jwt-audience", audience,
                 "Required `aud` claim (not checked when unset)")
      ->envname("CHATSTORE_JWT_AUDIENCE");
  app.add_option("--anonymous-ttl", config.anonymous_ttl_seconds,
                 "Lifetime in seconds of anonymous tokens and of ephemeral "
                 "sessions after their last write")
      ->envname("CHATSTORE_ANONYMOUS_TTL")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--retention-days", config.retention_days,
                 "Delete persistent sessions without activity (no write) "
                 "for this many days (0 keeps forever)")
      ->envname("CHATSTORE_RETENTION_DAYS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{36500}))
      ->capture_default_str();
  app.add_option("--never-used-grace-seconds", config.never_used_grace_seconds,
                 "Delete sessions that never received a message this many "
                 "seconds after their creation (0: never)")
      ->envname("CHATSTORE_NEVER_USED_GRACE_SECONDS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3153600000}))
      ->capture_default_str();
  app.add_option("--sweep-interval-seconds", config.sweep_interval_seconds,
                 "Seconds between runs of the retention sweeper (expired, "
                 "inactive and never-used sessions)")
      ->envname("CHATSTORE_SWEEP_INTERVAL_SECONDS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86400}))
      ->capture_default_str();
  app.add_option("--sweep-batch", config.sweep_batch,
                 "Sessions the sweeper removes per store transaction; "
                 "writers wait at most for one batch")
      ->envname("CHATSTORE_SWEEP_BATCH")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000}))
      ->capture_default_str();
  app.add_option("--sweep-max-per-run", config.sweep_max_per_run,
                 "Sessions the sweeper removes per rule in one run at most; "
                 "the rest waits for the next run")
      ->envname("CHATSTORE_SWEEP_MAX_PER_RUN")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100000000}))
      ->capture_default_str();
  app.add_option("--keepalive-seconds", config.keepalive_seconds,
                 "Send an SSE `: keepalive` comment after this many silent "
                 "seconds")
      ->envname("CHATSTORE_KEEPALIVE_SECONDS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-body-bytes", config.max_body_bytes,
                 "Largest request body accepted (413 beyond)")
      ->envname("CHATSTORE_MAX_BODY_BYTES")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--cache-dir", config.cache_dir,
                 "Directory of the persistent cache (/v1/cache); default: "
                 "'cache' beside the SQLite file (./data/cache otherwise). "
                 "Several chatstored processes may share it")
      ->envname("CHATSTORE_CACHE_DIR");
  app.add_option("--cache-max-bytes", config.cache_max_bytes,
                 "Size limit of the persistent cache (keys + values); beyond "
                 "it the least recently stored entries are evicted")
      ->envname("CHATSTORE_CACHE_MAX_BYTES")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--dev", config.dev,
               "Development mode: create (once) and reuse a random JWT "
               "secret in the data directory and print a ready-to-use token "
               "and curl line")
      ->envname("CHATSTORE_DEV");
  app.add_option("--io-threads", config.io_threads,
                 "Network I/O threads (0: one per hardware thread)")
      ->envname("CHATSTORE_IO_THREADS")
      ->capture_default_str();
  app.add_option("--worker-threads", config.worker_threads,
                 "Threads that run blocking store calls")
      ->envname("CHATSTORE_WORKER_THREADS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sse-retry-ms", config.sse_retry_ms,
                 "The `retry:` reconnection delay sent to SSE clients")
      ->envname("CHATSTORE_SSE_RETRY_MS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--sse-queue-events", config.sse_queue_events,
                 "Live events buffered per SSE client before a slow client "
                 "is disconnected (it resumes with Last-Event-ID)")
      ->envname("CHATSTORE_SSE_QUEUE_EVENTS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rate-limit", config.rate_limit_per_second,
                 "Requests per second per user (token bucket; 0 disables)")
      ->envname("CHATSTORE_RATE_LIMIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--rate-limit-burst", config.rate_limit_burst,
                 "Token bucket size: requests a user may send at once")
      ->envname("CHATSTORE_RATE_LIMIT_BURST")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-connections", config.max_connections,
                 "Open connections (SSE streams included) before new ones "
                 "are refused")
      ->envname("CHATSTORE_MAX_CONNECTIONS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--request-timeout-seconds", config.request_timeout_seconds,
                 "Time allowed to receive one request, and to idle between "
                 "requests on a keep-alive connection")
      ->envname("CHATSTORE_REQUEST_TIMEOUT_SECONDS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--shutdown-grace-seconds", config.shutdown_grace_seconds,
                 "On SIGTERM/SIGINT, time given to in-flight requests")
      ->envname("CHATSTORE_SHUTDOWN_GRACE_SECONDS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--log-level", config.log_level,
                 "trace, debug, info, warn, error or off")
      ->envname("CHATSTORE_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  // CLI11 2.1 lets the config file win over the environment; API.md wants
  // the reverse. So every set variable whose flag is not on the command line
  // is passed as that flag (which beats the file), and the command line
  // still beats the environment.
  std::vector<std::string> args(argv, argv + argc);
  for (const CLI::Option* option : app.get_options()) {
    const std::string& env_name = option->get_envname();
    const char* value =
        env_name.empty() ? nullptr : std::getenv(env_name.c_str());
    if (value == nullptr || option->get_lnames().empty()) continue;
    const std::string flag = "--" + option->get_lnames().front();
    if (GivenOnCommandLine(argc, argv, flag)) continue;
    if (option->get_type_size() == 0) {  // a flag: set when the value is truthy
      const std::string_view v = value;
      if (v == "1" || v == "true" || v == "yes" || v == "on")
        args.push_back(flag);
    } else {
      args.push_back(flag + "=" + value);
    }
  }
  std::vector<const char*> merged;
  for (const std::string& arg : args) merged.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(merged.size()), merged.data());
  } catch (const CLI::ParseError& e) {
    return CommandLine{std::nullopt, app.exit(e)};
  }

  auto fail = [](const std::string& message) {
    std::cerr << "chatstored: " << message << "\n";
    return CommandLine{std::nullopt, 2};
  };
  if (!ParseListen(listen, config)) {
    return fail("--listen must be HOST:PORT, got '" + listen + "'");
  }
  config.policy = *ParsePolicy(policy);  // CLI::IsMember checked it
  config.notify = notify == "on"    ? NotifyMode::kOn
                  : notify == "off" ? NotifyMode::kOff
                                    : NotifyMode::kAuto;
  if (!issuer.empty()) config.jwt_issuer = issuer;
  if (!audience.empty()) config.jwt_audience = audience;

  // The secret: --jwt-secret-file on the command line, then
  // CHATSTORE_JWT_SECRET, then the file named by the environment or config.
  const char* env_secret = std::getenv("CHATSTORE_JWT_SECRET");
  const bool file_flag = GivenOnCommandLine(argc, argv, "--jwt-secret-file");
  if (!file_flag && env_secret != nullptr && *env_secret != '\0') {
    config.jwt_secret = env_secret;
  } else if (!secret_file.empty()) {
    std::string error;
    std::optional<std::string> secret = ReadSecretFile(secret_file, &error);
    if (!secret) return fail(error);
    config.jwt_secret = std::move(*secret);
  }
  if (config.jwt_secret.empty() && !config.dev) {
    return fail(
        "no JWT secret: set CHATSTORE_JWT_SECRET, CHATSTORE_JWT_SECRET_FILE "
        "or --jwt-secret-file (or run with --dev to generate one for local "
        "development)");
  }
  if (config.io_threads == 0) {
    config.io_threads = std::max(1u, std::thread::hardware_concurrency());
  }
  return CommandLine{std::move(config), 0};
}

}  // namespace chatstore::server
